"""The two players' optimizers: Keras' EMA of the generator with a warm-up, float16 loss scaling."""

import keras
from keras import ops

from ganzoo.models.keras_internals import ema_averages, replace_ema_update

LossScaleOptimizer = keras.optimizers.LossScaleOptimizer


def _warm_up_ema(optimizer):
    """Make `optimizer`'s EMA (Keras' `use_ema`) ramp its decay up from 0.

    Keras updates average = m * average + (1 - m) * w with m = ema_momentum from the second
    step on, so the first weights keep a share of m^t. Here m_t = min(ema_momentum,
    (1 + t) / (10 + t)) at step t (0 at t = 0), as TensorFlow's ExponentialMovingAverage with
    `num_updates`: the average spans about the last 10% of the steps until it reaches its decay.
    The average stays in the optimizer's own variables, so checkpoints and tf.distribute keep
    working unchanged.
    """
    decay = float(optimizer.ema_momentum)

    def update_moving_average(trainable_variables):
        step = ops.cast(optimizer.iterations, "float32")
        momentum = ops.minimum(decay, (1.0 + step) / (10.0 + step))
        momentum = momentum * ops.cast(ops.not_equal(optimizer.iterations, 0), "float32")
        for var, average in zip(trainable_variables, ema_averages(optimizer)):
            if average is not None:
                m = ops.cast(momentum, var.dtype)
                average.assign(m * average + (1.0 - m) * var)

    replace_ema_update(optimizer, update_moving_average)


def _inner(optimizer):
    return optimizer.inner_optimizer if isinstance(optimizer, LossScaleOptimizer) else optimizer


def _use_ema(g_optimizer, ema_decay, ema_warmup):
    """Turn on Keras' EMA of the generator's weights (`ema_decay`), warmed up unless told not to."""
    inner = _inner(g_optimizer)
    if ema_decay is not None:
        if not 0.0 < float(ema_decay) < 1.0:
            raise ValueError(f"`ema_decay` must be in (0, 1), e.g. 0.999; got {ema_decay!r}.")
        inner.use_ema = True
        inner.ema_momentum = float(ema_decay)
        inner.ema_overwrite_frequency = None
    if ema_warmup and getattr(inner, "use_ema", False):
        _warm_up_ema(inner)


def _loss_scaled(optimizer, name):
    return optimizer if isinstance(optimizer, LossScaleOptimizer) else LossScaleOptimizer(optimizer, name=name)
