"""`NaNGuard`: stops training at the first non-finite loss and names the step."""

import math

import numpy as np

from ganzoo.runs.callbacks.steps import StepAware, host_means


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
