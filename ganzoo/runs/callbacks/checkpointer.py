"""`Checkpointer`: the whole training state, saved atomically at epoch ends and every N steps,
with the run's history."""

import os
import shutil

from ganzoo.runs.callbacks.steps import StepAware, steps_done
from ganzoo.runs.checkpoints import save_checkpoint
from ganzoo.runs.files import write_history
from ganzoo.runs.signals import signals_deferred


class Checkpointer(StepAware):
    """Saves the whole training state atomically at epoch ends (and every N steps), and the
    run's history with it.

    A checkpoint is a `.keras` file (both networks, both optimizers with the generator EMA,
    the noise seed state) plus `latest.json` naming it with the epoch and step counters. Each
    file is written under a temporary name and renamed, so a crash mid-save leaves the last
    good checkpoint intact. The newest `keep` checkpoints are kept. At each epoch end the
    epoch's logs are appended to `history` (with the step) and written to `history_dir`'s
    history.json, just before the checkpoint, so a resumed run finds every epoch its checkpoint
    holds (and drops the entries beyond it).
    """

    def __init__(self, directory, steps_per_epoch, initial_step=0, every_steps=None, keep=3, guard=None,
                 history_dir=None, history=None):
        super().__init__(steps_per_epoch)
        self.directory = directory
        self.every_steps = every_steps
        self.keep = keep
        self.guard = guard
        self.last_saved_step = initial_step
        self.initial_step = initial_step
        self.history_dir = history_dir
        self.history = history if history is not None else {}
        os.makedirs(directory, exist_ok=True)

    def steps_finished(self, step):
        if self.every_steps and step // self.every_steps > self.last_saved_step // self.every_steps:
            self.save(step)

    def on_epoch_end(self, epoch, logs=None):
        with signals_deferred():  # the history entry and its checkpoint: both, or neither
            step = steps_done(self.model)  # not (epoch + 1) * steps_per_epoch: an epoch may end early
            # The entry first: after a kill -9 between the two, the resumed run drops an entry
            # beyond its checkpoint, but could not recover an entry that was never written.
            self._record(step, logs)
            self.save(step)

    def save_interrupted(self):
        """Checkpoint the steps that ran before an interrupt; returns the step (0: none ran).

        The step is the optimizer's count, not the callbacks': an interrupt can land after a
        compiled call ran its steps but before Keras reported them to any callback. One landing
        between an epoch's last step and its end records that epoch too, from the metrics
        Keras would have logged.
        """
        step = steps_done(self.model)
        if step:
            self.save(step)
            if step % self.steps_per_epoch == 0 and step > self.initial_step:
                self._record(step, {name: m.result() for name, m in self.model._trackers.items()})
        return step

    def _record(self, step, logs):
        recorded = self.history.get("step") or [0]
        if (self.guard is not None and self.guard.failure) or recorded[-1] >= step:
            return
        self.history.setdefault("step", []).append(step)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.history_dir:
            write_history(self.history_dir, self.history)

    def save(self, step):
        if self.guard is not None and self.guard.check():
            return  # never overwrite the last good checkpoint with a diverged state
        if step == self.last_saved_step and os.path.exists(os.path.join(self.directory, "latest.json")):
            return
        save_checkpoint(self.model, self.directory, step, self.steps_per_epoch, keep=self.keep)
        self.last_saved_step = step


def remove_tree_quietly(path):
    shutil.rmtree(path, ignore_errors=True)
