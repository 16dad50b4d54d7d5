"""Step bookkeeping the training callbacks share: the steps a model has run, and `StepAware`,
which hands each compiled call's logs to its subclasses in call order."""

import collections
import math
import threading

import keras
import numpy as np

from ganzoo.runs.signals import reraise_dropped_interrupt


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
