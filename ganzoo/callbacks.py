"""Training callbacks: checkpoints and a NaN guard, on the step bookkeeping they share (the
TensorBoard ones: `ganzoo.tensorboard_logging`)."""

import collections
import math
import os
import shutil
import threading

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


def steps_in_epoch(model):
    """The steps `model` ran since Keras reset its metrics at the epoch's start (one device read)."""
    return int(np.asarray(keras.ops.convert_to_numpy(model._nonfinite.steps.value)))


class StepAware(keras.callbacks.Callback):
    """Knows the run's global step (one step = one generator update) between compiled calls.

    Periodic work that needs no logs runs in `on_train_batch_begin`, when the steps before the
    batch are done: `steps_finished(step)` is called with the last finished step; the epoch's
    last steps are the epoch end's. After each compiled call, `step_logs` receives its last
    step, the steps since Keras reset the metrics at the epoch's start, and the call's logs as
    Keras converted them to Python numbers: the running means of the epoch so far.

    Reading those logs costs no device sync. On TensorFlow Keras converts every call's logs on
    the main thread whatever the callbacks (the backend is not marked thread-safe; a `fit`
    without callbacks pays the same). On JAX and torch these callbacks are `async_safe`, so
    Keras converts and hands over the logs on a worker thread, as it does without callbacks,
    and no call waits for the device; there `step_logs` may see calls out of order, never after
    the epoch's end (Keras waits for them first); `on_train_batch_end` puts them back in order.
    `step_logs` must not read `self.model` (on JAX that copies the whole training state from
    the trainer: the main thread's job).

    `epoch_step_offset` is set by `ganzoo.train()` when a resumed run finishes an interrupted
    epoch: Keras then counts batches from 0 though the epoch is partly done.
    """

    async_safe = True

    def __init__(self, steps_per_epoch):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0
        self.epoch_step_offset = 0
        self.last_step_seen = 0
        self._lock = threading.Lock()  # Keras' worker threads: step_logs runs under it, one call at a time
        self._begun, self._arrived = collections.deque(), {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        with self._lock:
            self._begun = collections.deque()  # the first batch of each call not yet handed to step_logs
            self._arrived = {}  # last batch -> logs of calls that came before an earlier one

    def global_step(self, batch):
        """The global step of batch `batch` (0-based, as Keras counts) of the current epoch."""
        return self.epoch * self.steps_per_epoch + self.epoch_step_offset + batch + 1

    def on_train_batch_begin(self, batch, logs=None):
        reraise_dropped_interrupt()
        with self._lock:
            self._begun.append(batch)
        if batch:
            self.last_step_seen = self.global_step(batch - 1)
            self.steps_finished(self.last_step_seen)

    def steps_finished(self, step):
        """Called between compiled calls with the last finished step (override)."""

    def on_train_batch_end(self, batch, logs=None):
        # Keras' worker threads (JAX, torch) may hand calls over out of order: hold a call until
        # every earlier one has come, so step_logs sees them in order. A call's last batch lies
        # between its first and the next call's first (the main thread records those in order).
        with self._lock:
            self._arrived[batch] = logs or {}
            while self._begun:
                first = self._begun[0]
                limit = self._begun[1] if len(self._begun) > 1 else math.inf
                last = next((end for end in self._arrived if first <= end < limit), None)
                if last is None:
                    break
                self._begun.popleft()
                self.step_logs(self.global_step(last), last + 1, self._arrived.pop(last))

    def step_logs(self, step, steps_in_epoch, logs):
        """After each compiled call (see the class): its last step, the steps of the epoch so far
        (counted as whole calls: exact but for a last call that ran out of data) and its logs
        (override)."""


def host_means(model, logs):
    """{tracker name: float} from a call's logs as Keras hands them to `on_train_batch_end`:
    each running mean of the epoch so far."""
    means = {}
    for key in model._trackers:
        value = logs.get(key)
        if value is not None:
            # Python floats; a length-1 array under MultiWorkerMirroredStrategy.
            means[key] = value if isinstance(value, float) else float(np.asarray(value, "float64").reshape(-1)[0])
    return means


class NaNGuard(StepAware):
    """Stops training at the first non-finite loss, naming the step, before any save.

    The step checks its losses on the device (`GANBase.first_nonfinite_step`). The guard looks
    at each call's logs, on the host already (a few Python comparisons a call): a non-finite
    running mean stops `fit`, and at the epoch's end, on the main thread, the guard reads the
    device's first bad step for the message. It also reads it before a checkpoint is written
    (`check()`). No step waits for the host and the message names the exact step.
    """

    def __init__(self, steps_per_epoch):
        super().__init__(steps_per_epoch)
        self.failure = None
        self._suspect = None  # the first call whose logs held a non-finite mean: (step, epoch)

    def step_logs(self, step, steps_in_epoch, logs):
        if self._suspect is None and not all(map(math.isfinite, host_means(self._model, logs).values())):
            self._suspect = (step, self.epoch)
            self._model.stop_training = True  # Keras stops after the current call

    def on_epoch_end(self, epoch, logs=None):
        self.check()

    def check(self):
        """Read the model's divergence flag now; on a non-finite loss, record the failure and stop."""
        if self.failure is None:
            self._resolve(self.model.first_nonfinite_step())
        return self.failure

    def _resolve(self, first):
        if not first and self._suspect is None:
            return
        model = self.model
        values = {name: float(np.asarray(m.result())) for name, m in model._trackers.items()}
        bad = ", ".join(f"{k}={v}" for k, v in values.items() if not np.isfinite(v))
        if first:
            step = self.epoch * self.steps_per_epoch + self.epoch_step_offset + first
            where = f"at step {step} (epoch {self.epoch + 1})"
        else:  # the flag was reset before it was read: the call's last step bounds it
            where = f"by step {self._suspect[0]} (epoch {self._suspect[1] + 1})"
        self.failure = (
            f"Training diverged {where}: non-finite {bad or 'losses'}. The last good checkpoint is kept; "
            "lower the learning rates, or check the data for NaNs, then resume.")
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
