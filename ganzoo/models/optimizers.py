"""The two players' optimizers: Keras' EMA of the generator with a warm-up, float16 loss scaling,
Adam's update fused on TensorFlow."""

import keras
from keras import ops

from ganzoo.models.keras_internals import (adam_slots, ema_averages, replace_ema_update, replace_update_step,
                                          update_step)

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
        momenta = {}  # the decay's cast and 1 - m once per dtype, not once per variable
        for var, average in zip(trainable_variables, ema_averages(optimizer)):
            if average is not None:
                if var.dtype not in momenta:
                    m = ops.cast(momentum, var.dtype)
                    momenta[var.dtype] = (m, 1.0 - m)
                m, rest = momenta[var.dtype]
                average.assign(m * average + rest * var)

    replace_ema_update(optimizer, update_moving_average)


def fuse_adam(optimizer):
    """On TensorFlow, make a Keras `Adam` apply its update with one fused kernel per variable
    (`tf.raw_ops.ResourceApplyAdam`) instead of Keras' ~11 tensor ops and ~10 scalar ops per
    variable; the bias corrections and casts are computed once per step for all variables.

    The update is Keras' Adam.update_step's (Kingma & Ba 2015, Algorithm 1 with the bias
    corrections folded into the step size, epsilon outside the square root): m <- b1 m +
    (1 - b1) g, v <- b2 v + (1 - b2) g^2, w <- w - lr sqrt(1 - b2^t) / (1 - b1^t) m /
    (sqrt(v) + eps), equal to Keras' to float32 rounding. Left to Keras (unchanged): other
    backends (JAX fuses the update itself under XLA), subclasses (AdamW, ...), `amsgrad`,
    variables other than float32, embeddings' sparse gradients (IndexedSlices: Keras squares
    each lookup's gradient into the second moment, not their sum, and that is kept), and steps
    under a `tf.distribute` strategy. Returns whether the update is fused. Nothing is saved
    differently: the optimizer stays an `Adam`.
    """
    if keras.backend.backend() != "tensorflow" or type(optimizer) is not keras.optimizers.Adam or optimizer.amsgrad:
        return False
    if is_fused_adam(optimizer):
        return True
    import tensorflow as tf

    def update(grads, trainable_variables, learning_rate):
        if tf.distribute.has_strategy() or any(v.dtype != "float32" for v in trainable_variables):
            return keras_update(grads, trainable_variables, learning_rate)
        step = ops.cast(optimizer.iterations + 1, "float32")
        beta_1 = ops.cast(optimizer.beta_1, "float32")
        beta_2 = ops.cast(optimizer.beta_2, "float32")
        constants = dict(beta1_power=ops.power(beta_1, step), beta2_power=ops.power(beta_2, step),
                         lr=ops.cast(learning_rate, "float32"), beta1=beta_1, beta2=beta_2,
                         epsilon=ops.cast(optimizer.epsilon, "float32"))
        for grad, variable in zip(grads, trainable_variables):
            if isinstance(grad, tf.IndexedSlices):
                # An embedding's gradient: Keras' own update, which squares each lookup's
                # gradient before summing a row's lookups into Adam's second moment (a dense
                # gradient would square their sum; where a label's real and fake lookups cancel,
                # as in the projection discriminator, the two differ widely).
                optimizer.update_step(grad, variable, learning_rate)
                continue
            m, v = adam_slots(optimizer, variable)
            tf.raw_ops.ResourceApplyAdam(var=variable.handle, m=m.handle, v=v.handle,
                                         grad=tf.cast(grad, "float32"), **constants)

    keras_update = update_step(optimizer)
    update.fused_adam = True
    replace_update_step(optimizer, update)
    return True


def is_fused_adam(optimizer):
    """Whether `fuse_adam` fused `optimizer`'s update."""
    return getattr(update_step(optimizer), "fused_adam", False)


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
