"""The step's trackers: Keras metrics that the train step updates on the device, so logging
them needs no host sync (the running means, the NaN guard's first bad step, ADA's and top-k's
latest values)."""

import keras
from keras import ops


class FiniteMean(keras.metrics.Mean):
    """A running mean that leaves out non-finite values: the tracker of `g_grad_norm`, whose
    float16-scaled gradient overflows on the steps the loss scale then skips (not a divergence:
    the NaN guard reads the losses)."""

    def update_state(self, values, sample_weight=None):
        values = ops.cast(values, "float32")
        finite = ops.isfinite(values)
        weight = ops.cast(finite, "float32")
        if sample_weight is not None:
            weight = weight * ops.cast(sample_weight, "float32")
        return super().update_state(ops.where(finite, values, ops.zeros_like(values)), sample_weight=weight)


class FirstNonFinite(keras.metrics.Metric):
    """The first step since the last reset (1-based; 0: none) after which a logged loss was not
    finite. It lives on the device and is updated inside the step, so no step waits for the host;
    the NaN guard reads it at its check interval and still names the exact step. Keras resets it
    with the other metrics at each epoch start. Not logged."""

    def __init__(self, name="first_nonfinite_step", **kwargs):
        super().__init__(name=name, **kwargs)
        self.steps = self.add_variable((), "zeros", dtype="int32", aggregation="only_first_replica", name="steps")
        self.first = self.add_variable((), "zeros", dtype="int32", aggregation="only_first_replica", name="first")

    def update_state(self, values):
        # Running means stay non-finite once a loss was: checking them after each step finds the
        # first bad step exactly, one check per step.
        finite = ops.all(ops.stack([ops.all(ops.isfinite(ops.cast(v, "float32"))) for v in values]))
        steps, first = self.steps.value + 1, self.first.value
        self.steps.assign(steps)
        first_bad = ops.logical_and(ops.equal(first, 0), ops.logical_not(finite))
        self.first.assign(ops.where(first_bad, steps, first))

    def result(self):
        return ops.convert_to_tensor(self.first.value)

    def reset_state(self):
        self.steps.assign(0)
        self.first.assign(0)


class Latest(keras.metrics.Metric):
    """The value of the last update (ADA's p and r_t: state, not a running mean). Updated inside the
    step from device values, so logging it needs no host sync."""

    def __init__(self, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.latest = self.add_variable((), "zeros", dtype="float32", aggregation="only_first_replica", name="latest")

    def update_state(self, value):
        self.latest.assign(ops.cast(value, "float32"))

    def result(self):
        return ops.convert_to_tensor(self.latest.value)

    def reset_state(self):
        self.latest.assign(0.0)


def tracker_update(value):
    """(args, kwargs) of a tracker's `update_state` for a logged value: a tensor, or a
    (value, sample_weight) pair for a term computed on some steps only (lazy R1)."""
    if isinstance(value, tuple):
        return (value[0],), {"sample_weight": value[1]}
    return (value,), {}
