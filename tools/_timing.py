"""Timing pieces shared by the benchmark tools (they run as scripts: `from _timing import ...`).

Keras is imported inside the functions, so a tool can choose its backend and dtype policy first.
"""

import os
import statistics
import time


def step_timer():
    """A Keras callback recording `(wall, process CPU)` seconds at the first batch's begin
    (`.start`) and at the epoch's end (`.end`), once per `fit` call.

    Put it FIRST in `callbacks`: its `on_epoch_end` then runs after `fit` has brought the last
    step's logs to the host and before the other callbacks' epoch-end work (checkpoint, sample
    picture), which is paid once per epoch and left out. It has no `on_train_batch_end` on
    purpose: a callback that has one makes `fit` convert every call's logs to Python floats.
    """
    import keras

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = self.end = None

        def on_train_batch_begin(self, batch, logs=None):
            if self.start is None:
                self.start = (time.perf_counter(), time.process_time())

        def on_epoch_end(self, epoch, logs=None):
            self.end = (time.perf_counter(), time.process_time())

        def seconds(self):
            """(wall, CPU) seconds between the two marks."""
            return self.end[0] - self.start[0], self.end[1] - self.start[1]

    return StepTimer()


def train_callbacks(directory, steps_per_epoch, fixed_z, log_every=10, history_dir=None):
    """The callbacks `ganzoo train` installs, writing under `directory`: the NaN guard, the
    checkpointer (at epoch end; the run's history.json in `history_dir` when given) and the
    TensorBoard logger (step scalars every `log_every` steps, the sample picture at epoch end),
    all sharing the guard as `ganzoo train` wires them."""
    from ganzoo.runs.callbacks.checkpointer import Checkpointer
    from ganzoo.runs.callbacks.nan_guard import NaNGuard
    from ganzoo.runs.callbacks.tensorboard import TensorBoardLogger

    guard = NaNGuard(steps_per_epoch)
    return [guard, Checkpointer(os.path.join(directory, "checkpoints"), steps_per_epoch, guard=guard,
                                history_dir=history_dir),
            TensorBoardLogger(os.path.join(directory, "logs"), steps_per_epoch, fixed_z, log_every=log_every,
                              guard=guard)]


def spread(values, fmt="{:,.0f}"):
    """'median (min..max)' of a list of numbers, each formatted with `fmt`."""
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}..{fmt.format(max(values))})"
