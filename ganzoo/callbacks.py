"""Training callbacks: checkpoints and a NaN guard, on the step bookkeeping they share (the
TensorBoard ones: `ganzoo.tensorboard_logging`)."""

import os
import shutil

import keras
import numpy as np

from ganzoo.checkpoints import load_newest_checkpoint, save_checkpoint  # noqa: F401
from ganzoo.images import image_grid, sample_picture, scatter_picture, write_png  # noqa: F401
from ganzoo.run_dir import (
    reraise_dropped_interrupt,
    signals_deferred,
    write_history,
)


# ------------------------------------------------------------------- callbacks
class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


def steps_done(model):
    """The generator updates `model` has made: the step a checkpoint of it holds.

    The optimizer counts the updates that really ran, also when Keras leaves an epoch early
    (EarlyStopping, a time budget) or Ctrl-C lands inside a compiled call of several steps.
    """
    return int(np.asarray(model.g_optimizer.iterations))


def device_copy(value):
    """A copy of a device value that a later read finds computed, without waiting for it now.

    JAX runs steps asynchronously and hands the step's buffers to the next call, so a callback
    that wants a value without stalling the device copies it (queued behind the steps) and
    reads the copy at its next interval. TensorFlow's calls return when done: its value is read
    to the host at once (one op; a copy and a later read are two, each ~40 us of host time).
    """
    if keras.backend.backend() == "tensorflow":
        return keras.ops.convert_to_numpy(value)
    return keras.ops.copy(value)


class StepAware(keras.callbacks.Callback):
    """Knows the run's global step (one step = one generator update) between compiled calls.

    Its periodic work runs in `on_train_batch_begin`, when the steps before the batch are done,
    never in `on_train_batch_end`: a callback that overrides that makes Keras convert every
    call's logs to Python numbers, a device-to-host sync per call. `steps_finished(step)` is
    called with the last finished step; the epoch's last steps are the epoch end's.

    `epoch_step_offset` is set by `ganzoo.train()` when a resumed run finishes an interrupted
    epoch: Keras then counts batches from 0 though the epoch is partly done.
    """

    def __init__(self, steps_per_epoch):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0
        self.epoch_step_offset = 0
        self.last_step_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def global_step(self, batch):
        """The global step of batch `batch` (0-based, as Keras counts) of the current epoch."""
        return self.epoch * self.steps_per_epoch + self.epoch_step_offset + batch + 1

    def on_train_batch_begin(self, batch, logs=None):
        reraise_dropped_interrupt()
        if batch:
            self.last_step_seen = self.global_step(batch - 1)
            self.steps_finished(self.last_step_seen)

    def steps_finished(self, step):
        """Called between compiled calls with the last finished step (override)."""


class NaNGuard(StepAware):
    """Stops training at the first non-finite loss, naming the step, before any save.

    The step checks its losses on the device (`GANBase.first_nonfinite_step`); the guard reads
    that one number every `check_every` steps, before a checkpoint is written (`check()`) and at
    each epoch end, so no step waits for the host and the message still names the exact step.
    """

    def __init__(self, steps_per_epoch, check_every=10):
        super().__init__(steps_per_epoch)
        self.check_every = max(1, int(check_every))
        self.failure = None
        self._checked_at = 0
        self._pending = None

    def steps_finished(self, step):
        if step - self._checked_at >= self.check_every:
            # Read the flag copied at the last interval (computed by now) and copy it again:
            # reading it at once would wait for the steps still running on the device.
            self._checked_at = step
            self._resolve(self._pending)
            self._pending = (self.epoch, self.epoch_step_offset, device_copy(self.model._nonfinite.result()))

    def on_epoch_end(self, epoch, logs=None):
        self.check()

    def check(self):
        """Read the model's divergence flag now; on a non-finite loss, record the failure and stop."""
        self._checked_at = self.last_step_seen
        self._pending = None
        if self.failure is None:
            self._resolve((self.epoch, self.epoch_step_offset, self.model._nonfinite.result()))
        return self.failure

    def _resolve(self, pending):
        if pending is None or self.failure is not None:
            return
        epoch, offset, first = pending
        first = int(np.asarray(keras.ops.convert_to_numpy(first)))
        if first:
            model = self.model
            step = epoch * self.steps_per_epoch + offset + first
            values = {name: float(np.asarray(m.result())) for name, m in model._trackers.items()}
            bad = {k: v for k, v in values.items() if not np.isfinite(v)}
            self.failure = (
                f"Training diverged at step {step} (epoch {epoch + 1}): non-finite "
                + ", ".join(f"{k}={v}" for k, v in bad.items())
                + ". The last good checkpoint is kept; lower the learning rates, or check the data "
                "for NaNs, then resume."
            )
            model.stop_training = True


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


def __getattr__(name):
    """The TensorBoard callbacks and helpers moved to `ganzoo.tensorboard_logging`; old imports work."""
    if name in _MOVED:
        from ganzoo import tensorboard_logging

        return getattr(tensorboard_logging, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_MOVED = ("TensorBoardLogger", "SampleQualityLogger", "scalar_summary", "log_hparams", "log_run_status")
