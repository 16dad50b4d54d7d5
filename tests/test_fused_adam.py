"""Adam's update fused on TensorFlow (`ganzoo.models.optimizers.fuse_adam`): the same weights as
Keras' Adam, and left to Keras where it does not apply. (Under tf.distribute, Keras' own update:
test_models.py::test_mirrored_strategy_steps_equal_single_device_steps[dcgan_adam].)"""

import keras
import numpy as np
import pytest

from ganzoo.models import keras_internals
from ganzoo.models.optimizers import fuse_adam, is_fused_adam

pytestmark = pytest.mark.tensorflow_only


def _start():
    """The three variables' starting values: a dense matrix, a vector and a 6-row embedding table."""
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=5).astype("float32"),
            rng.normal(size=(6, 2)).astype("float32")]


def _trained(fused, steps=6, rows=(1, 4, 2), **adam):
    """Weights of a dense matrix, a vector and an embedding table (its gradient IndexedSlices of
    `rows`) after `steps` Adam steps inside a tf.function, from fixed gradients; and the dense
    gradients of those steps."""
    import tensorflow as tf

    variables = [keras.Variable(value) for value in _start()]
    optimizer = keras.optimizers.Adam(1e-2, beta_1=0.5, **adam)
    optimizer.build(variables)
    if fused:
        assert fuse_adam(optimizer)
    assert is_fused_adam(optimizer) == fused

    @tf.function
    def step(dense, vector, rows, values):
        table = tf.IndexedSlices(values, rows, dense_shape=tf.constant([6, 2], "int64"))
        optimizer.apply([dense, vector, table], variables)

    draws, grads = np.random.default_rng(1), []
    for _ in range(steps):
        dense, vector = draws.normal(size=(3, 4)).astype("float32"), draws.normal(size=5).astype("float32")
        values = draws.normal(size=(len(rows), 2)).astype("float32")
        table = np.zeros((6, 2), "float32")
        np.add.at(table, list(rows), values)
        grads.append([dense, vector, table])
        step(dense, vector, np.array(rows, "int64"), values)
    assert int(optimizer.iterations.numpy()) == steps
    return [v.numpy() for v in variables], grads


def _adam_reference(grads, lr=1e-2, beta_1=0.5, beta_2=0.999, epsilon=1e-7):
    """Kingma & Ba's Adam in float64 on the dense gradients (Keras' epsilon placement)."""
    weights = [w.astype(np.float64) for w in _start()]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for t, step in enumerate(grads, 1):
        for i, g in enumerate(step):
            m[i] = beta_1 * m[i] + (1 - beta_1) * g
            v[i] = beta_2 * v[i] + (1 - beta_2) * g.astype(np.float64) ** 2
            alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
            weights[i] = weights[i] - alpha * m[i] / (np.sqrt(v[i]) + epsilon)
    return weights


def test_fused_adam_updates_the_weights_as_keras_adam():
    (keras_weights, _), (fused_weights, grads) = _trained(False), _trained(True)
    for ours, theirs, reference in zip(fused_weights, keras_weights, _adam_reference(grads)):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6)
        np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-6)
    # The rows the embedding's gradient never touched stay where they started.
    table = _start()[2]
    np.testing.assert_array_equal(fused_weights[2][[0, 3, 5]], table[[0, 3, 5]])
    assert not np.allclose(fused_weights[2][[1, 2, 4]], table[[1, 2, 4]])


def test_an_embeddings_repeated_rows_keep_keras_second_moment():
    """An embedding row looked up twice in a batch: Keras' Adam on TensorFlow squares each
    lookup's gradient before summing them into the second moment (the dense gradient would
    square their sum); the fused update leaves IndexedSlices to Keras, so both agree."""
    (keras_weights, _), (fused_weights, grads) = _trained(False, rows=(1, 4, 1)), _trained(True, rows=(1, 4, 1))
    for ours, theirs in zip(fused_weights, keras_weights):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6)
    # Keras' rule differs from the dense gradient's Adam on the repeated row only.
    reference = _adam_reference(grads)
    assert np.abs(fused_weights[2][1] - reference[2][1]).max() > 1e-3
    np.testing.assert_allclose(fused_weights[2][4], reference[2][4], rtol=0, atol=2e-6)


def test_fuse_adam_leaves_other_optimizers_and_amsgrad_to_keras():
    assert not fuse_adam(keras.optimizers.AdamW(1e-3))
    assert not fuse_adam(keras.optimizers.SGD(0.1))
    assert not fuse_adam(keras.optimizers.Adam(1e-3, amsgrad=True))


def test_fusing_twice_keeps_one_fused_update():
    optimizer = keras.optimizers.Adam(1e-3)
    assert fuse_adam(optimizer) and is_fused_adam(optimizer)
    first = keras_internals.update_step(optimizer)
    assert fuse_adam(optimizer)
    assert keras_internals.update_step(optimizer) is first


def test_a_compiled_gan_fuses_both_adams_and_steps_as_keras(tiny_model, image_dataset):
    import ganzoo

    class KerasAdam(keras.optimizers.Adam):
        """Keras' Adam, unfused: fuse_adam leaves subclasses to Keras."""

    weights, start = [], None
    for fused in (True, False):
        model = tiny_model(ganzoo.DCGAN)
        start = start or model.get_weights()
        model.set_weights(start)
        if fused:
            model.compile()  # the paper's Adam(2e-4, 0.5) for both players
        else:
            model.compile(d_optimizer=KerasAdam(2e-4, beta_1=0.5), g_optimizer=KerasAdam(2e-4, beta_1=0.5))
        for optimizer in (model.d_optimizer, model.g_optimizer):
            assert is_fused_adam(optimizer) == fused
        model.fit(image_dataset(), epochs=1, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for ours, theirs in zip(*weights):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
