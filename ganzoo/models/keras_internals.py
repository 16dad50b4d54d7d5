"""Every private Keras name ganzoo relies on, in one place.

Pinned: keras>=3.15,<3.16 (setup.cfg, install_requires). Keras has no public API for these;
tests/test_keras_internals.py checks each against the installed Keras and its failure message
names the private name that changed. Before raising the pin, run that file on the new version.

    ema_averages(optimizer)              BaseOptimizer._model_variables_moving_average: the EMA of
                                         the weights that `use_ema=True` keeps (read for sampling)
    replace_ema_update(optimizer, fn)    BaseOptimizer._update_model_variables_moving_average: the
                                         per-step EMA update (replaced by the warmed-up decay)
    update_step(optimizer)               BaseOptimizer._backend_update_step: the per-step update of
    replace_update_step(optimizer, fn)   every variable (after clipping and weight decay), and
                                         replacing it
    adam_slots(optimizer, variable)      Adam._momentums / _velocities at
                                         BaseOptimizer._get_variable_index(variable)
    jax_train_state(model)               the state JAXTrainer._get_jax_state hands `train_step`
                                         (trainable, non-trainable, optimizer, metric values)
    callbacks_run_async(callbacks)       CallbackList._async_train (the tests: callbacks on a
                                         worker thread on JAX and torch)
    is_default(method)                   keras.src.utils.python_utils.is_default (the tests)

Not private, but Keras behaviour the JAX step depends on (checked there too): the JAX trainer
threads `model.optimizer.variables` through each compiled call as the optimizer state, so on JAX
a GAN's `optimizer` is both players' optimizers (`ganzoo.models.backends.jax.TwoOptimizers`).
"""


def ema_averages(optimizer):
    """The moving averages of `optimizer`'s EMA (`use_ema=True`), one per trainable variable it
    was built on (None where a variable is not averaged)."""
    return optimizer._model_variables_moving_average


def replace_ema_update(optimizer, update):
    """Make `optimizer` call `update(trainable_variables)` instead of Keras' EMA update after
    each step (Keras calls it from `apply` when `use_ema` is on)."""
    optimizer._update_model_variables_moving_average = update


def update_step(optimizer):
    """The function `optimizer` calls as `update(grads, trainable_variables, learning_rate)` to
    update its variables (after unscaling, clipping and weight decay; before the EMA and the
    iteration count): Keras' own (a bound method) unless replaced."""
    return optimizer._backend_update_step


def replace_update_step(optimizer, update):
    """Make `optimizer` call `update(grads, trainable_variables, learning_rate)` (see
    `update_step`) instead of its current update."""
    optimizer._backend_update_step = update


def adam_slots(optimizer, variable):
    """(first moment m, second moment v): the slots a built Keras Adam keeps for `variable`."""
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index], optimizer._velocities[index]


def jax_train_state(model):
    """(trainable, non-trainable, optimizer, metric values): the `state` argument Keras' JAX
    trainer passes `model.train_step` (JAXTrainer._get_jax_state with every part)."""
    return tuple([v.value for v in variables] for variables in (
        model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
        model.metrics_variables))


def callbacks_run_async(callbacks):
    """Whether Keras runs these callbacks' batch hooks on a worker thread (CallbackList._async_train)."""
    import keras

    return keras.callbacks.CallbackList(callbacks)._async_train


def is_default(method):
    """Whether `method` is Keras' own default implementation (a callback hook not overridden)."""
    from keras.src.utils.python_utils import is_default as keras_is_default

    return keras_is_default(method)
