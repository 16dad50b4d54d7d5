"""The private Keras names of `ganzoo.models.keras_internals` still mean what ganzoo takes them
to mean (pinned: keras>=3.15,<3.16). Each test names the private name it checks, so a Keras
release that moves one fails here with that name before anything else breaks obscurely."""

import inspect

import keras
import numpy as np
import pytest

from ganzoo.models import keras_internals

pytestmark = pytest.mark.both_backends  # the JAX trainer's test runs in the JAX pass


def _changed(name, what):
    return f"Keras {keras.__version__}: the private {name} changed ({what}); see ganzoo/models/keras_internals.py"


def _ema_optimizer():
    optimizer = keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=0.5)
    variables = [keras.Variable(np.ones(3, "float32")), keras.Variable(np.zeros(2, "float32"))]
    optimizer.build(variables)
    return optimizer, variables


def test_model_variables_moving_average_holds_one_average_per_variable():
    name = "BaseOptimizer._model_variables_moving_average"
    optimizer, variables = _ema_optimizer()
    assert hasattr(optimizer, "_model_variables_moving_average"), _changed(name, "gone")
    averages = keras_internals.ema_averages(optimizer)
    assert len(averages) == len(variables), _changed(name, f"{len(averages)} averages for {len(variables)} variables")
    for average, variable in zip(averages, variables):
        assert tuple(average.shape) == tuple(variable.shape), _changed(name, "shapes differ from the variables'")
        assert isinstance(average, keras.Variable), _changed(name, f"holds {type(average).__name__}, not variables")


def test_update_model_variables_moving_average_is_called_after_each_step():
    name = "BaseOptimizer._update_model_variables_moving_average"
    base = keras.optimizers.Optimizer
    assert hasattr(base, "_update_model_variables_moving_average"), _changed(name, "gone")
    parameters = list(inspect.signature(base._update_model_variables_moving_average).parameters)
    assert parameters == ["self", "trainable_variables"], _changed(name, f"signature {parameters}")
    optimizer, variables = _ema_optimizer()
    calls = []
    keras_internals.replace_ema_update(optimizer, lambda trainable: calls.append(len(trainable)))
    optimizer.apply([keras.ops.ones(3), keras.ops.ones(2)], variables)
    assert calls == [2], _changed(name, "the optimizer's step no longer calls the instance's replacement")


def test_backend_update_step_updates_the_variables_and_adam_keeps_two_slots():
    name = "BaseOptimizer._backend_update_step"
    parameters = list(inspect.signature(keras.optimizers.Optimizer._backend_update_step).parameters)
    assert parameters == ["self", "grads", "trainable_variables", "learning_rate"], _changed(name, f"{parameters}")
    optimizer, variables = _ema_optimizer()
    keras_update = keras_internals.update_step(optimizer)
    calls = []

    def update(grads, trainable_variables, learning_rate):
        calls.append(len(trainable_variables))
        keras_update(grads, trainable_variables, learning_rate)

    keras_internals.replace_update_step(optimizer, update)
    optimizer.apply([keras.ops.ones(3), keras.ops.ones(2)], variables)
    assert calls == [2], _changed(name, "the optimizer's step no longer calls the instance's replacement")
    assert np.allclose(keras.ops.convert_to_numpy(variables[0]), 0.9), _changed(name, "Keras' update did not step")
    name = "Adam._momentums / _velocities / _get_variable_index"
    m, v = keras_internals.adam_slots(optimizer, variables[1])
    assert tuple(m.shape) == tuple(v.shape) == (2,), _changed(name, "not the variable's shape")
    # After one step from m = v = 0 with g = 1: m = 1 - beta_1, v = 1 - beta_2.
    assert np.allclose(keras.ops.convert_to_numpy(m), 0.1), _changed(name, "m is not the first moment")
    assert np.allclose(keras.ops.convert_to_numpy(v), 0.001), _changed(name, "v is not the second moment")


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="Keras' JAX trainer (the JAX pass of the tests)")
def test_the_jax_trainer_threads_model_optimizer_variables_as_the_state():
    import ganzoo
    from keras.src.backend.jax.trainer import JAXTrainer

    name = "JAXTrainer._get_jax_state"
    source = inspect.getsource(JAXTrainer._get_jax_state)
    assert "self.optimizer.variables" in source, _changed(name, "no longer reads model.optimizer.variables")
    for method in ("jax_state_sync", "_purge_model_variables"):
        source = inspect.getsource(getattr(JAXTrainer, method))
        assert "self.optimizer.variables" in source, _changed(f"JAXTrainer.{method}", "no optimizer.variables")
    model = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=4)
    model.compile()
    ours = keras_internals.jax_train_state(model)
    theirs = model._get_jax_state(trainable_variables=True, non_trainable_variables=True, optimizer_variables=True,
                                  metrics_variables=True)
    assert [len(part) for part in ours] == [len(part) for part in theirs], _changed(name, "another state layout")
    assert len(ours[2]) == len(model.d_optimizer.variables) + len(model.g_optimizer.variables)


def test_callback_list_async_train_and_is_default():
    name = "CallbackList._async_train"
    assert isinstance(keras_internals.callbacks_run_async([keras.callbacks.Callback()]), bool), _changed(name, "gone")
    name = "keras.src.utils.python_utils.is_default"
    assert keras_internals.is_default(keras.callbacks.Callback.on_train_batch_end), _changed(name, "default hook")

    class Overrides(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    assert not keras_internals.is_default(Overrides.on_train_batch_end), _changed(name, "an override")


def test_no_private_keras_name_outside_keras_internals(repo_root):
    """The names this file checks appear nowhere else in ganzoo/ (nor any `keras.src` import)."""
    import os
    import re

    private = re.compile(r"keras\.src|_model_variables_moving_average|_update_model_variables_moving_average|"
                         r"_get_jax_state|_purge_model_variables|jax_state_sync|_should_torch_compile|\b_async_train\b|"
                         r"\._value\b|_backend_update_step|_momentums|_velocities|_get_variable_index")
    found = []
    for folder, _, files in os.walk(os.path.join(repo_root, "ganzoo")):
        for file in files:
            path = os.path.join(folder, file)
            if file.endswith(".py") and not path.endswith(os.path.join("models", "keras_internals.py")):
                with open(path, encoding="utf-8") as f:
                    found += [f"{os.path.relpath(path, repo_root)}:{i}" for i, line in enumerate(f, 1)
                              if private.search(line)]
    assert not found, found
