"""`--lr-decay F`: both learning rates held, then falling linearly to zero over the run's last F.

Set once per epoch, at its start, from the step in the middle of the epoch: a staircase that
follows the line (assigned between compiled calls, it reaches the JAX trainer's state too,
which is read from the variables at each epoch's first step).
"""

import keras

from ganzoo.models.optimizers import _inner


def decay_factor(step, total_steps, fraction):
    """The learning rate over its base at `step` of `total_steps`: 1 until the last `fraction` of
    the run, then down linearly to 0 at `total_steps` (CycleGAN holds half its run, then decays:
    fraction 0.5; SN-GAN's ResNets decay over the whole run: fraction 1)."""
    start = total_steps * (1.0 - fraction)
    if step <= start:
        return 1.0
    return max(0.0, (total_steps - step) / (total_steps - start))


class LinearDecay(keras.callbacks.Callback):
    """Sets D's and G's learning rates to `base_rates` x `decay_factor` at each epoch's start;
    `total_steps` = the run's epochs x steps per epoch (a resumed run keeps its schedule; one
    resumed with more epochs stretches it from then on)."""

    def __init__(self, base_rates, steps_per_epoch, total_steps, fraction):
        super().__init__()
        self.base_rates, self.steps_per_epoch = base_rates, steps_per_epoch
        self.total_steps, self.fraction = total_steps, fraction

    def rates(self, epoch):
        middle = (epoch + 0.5) * self.steps_per_epoch
        factor = decay_factor(middle, self.total_steps, self.fraction)
        return [base * factor for base in self.base_rates]

    def on_epoch_begin(self, epoch, logs=None):
        for optimizer, rate in zip((self.model.d_optimizer, self.model.g_optimizer), self.rates(epoch)):
            _inner(optimizer).learning_rate.assign(rate)
