"""`ganzoo.layers.FusedBatchNormalization`: TensorFlow's fused batch norm in training mode, the
same function as Keras' BatchNormalization (outputs, moving statistics, first and second order
gradients), in float32 and mixed bfloat16, on images and feature vectors."""

import keras
import numpy as np
import pytest

from ganzoo.layers import FusedBatchNormalization

pytestmark = pytest.mark.tensorflow_only


def _pair(shape, dtype, **kwargs):
    """(Keras' layer, the fused one) built on `shape` with the same random gamma and beta."""
    layers = (keras.layers.BatchNormalization(dtype=dtype, **kwargs), FusedBatchNormalization(dtype=dtype, **kwargs))
    rng = np.random.default_rng(0)
    gamma, beta = rng.normal(1.0, 0.3, shape[-1]), rng.normal(0.0, 0.3, shape[-1])
    for layer in layers:
        layer.build(shape)
        layer.gamma.assign(gamma.astype("float32"))
        layer.beta.assign(beta.astype("float32"))
    return layers


def _step(layer, x, weights):
    """(outputs, d sum(y w)/dx, its gradient wrt gamma and beta, d ||d sum(y w)/dx||^2 / dgamma)
    of one training-mode call: the first order gradients of a loss, and the second order one R1
    takes through D's batch norms."""
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as outer:
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") * weights)
        grad_x = tape.gradient(loss, x)
        grad_gamma, grad_beta = tape.gradient(loss, [layer.gamma, layer.beta])
        penalty = tf.reduce_sum(tf.square(tf.cast(grad_x, "float32")))
    second = outer.gradient(penalty, layer.gamma)
    return [v.numpy().astype("float32") for v in (y, grad_x, grad_gamma, grad_beta, second)]


@pytest.mark.parametrize("shape", [(8, 5, 5, 3), (16, 6)], ids=["images", "vectors"])
@pytest.mark.parametrize("dtype,tol", [("float32", 2e-5), ("mixed_bfloat16", 5e-2)])
def test_fused_training_step_equals_keras_batch_norm(shape, dtype, tol):
    rng = np.random.default_rng(1)
    x = rng.normal(0.5, 2.0, shape).astype("float32")
    weights = rng.normal(size=shape).astype("float32")
    theirs, ours = _pair(shape, dtype, momentum=0.8)
    names = ("outputs", "input gradient", "gamma gradient", "beta gradient", "second-order gamma gradient")
    for _ in range(2):  # the moving statistics after two steps
        for name, a, b in zip(names, _step(ours, x, weights), _step(theirs, x, weights)):
            scale = max(1.0, float(np.abs(b).max()))
            np.testing.assert_allclose(a, b, rtol=0, atol=tol * scale, err_msg=name)
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
    # The moving variance is the biased batch variance's average, not the kernel's unbiased one.
    assert not np.allclose(ours.moving_variance.numpy(), 0.8 ** 2 + (1 - 0.8 ** 2) * x.reshape(-1, shape[-1]).var(
        axis=0, ddof=1), rtol=1e-3)
    assert ours(x[:2], training=True).dtype == theirs(x[:2], training=True).dtype


def test_inference_masks_and_small_epsilon_run_keras_call():
    x = np.random.default_rng(2).normal(size=(4, 3, 3, 2)).astype("float32")
    theirs, ours = _pair(x.shape, "float32", epsilon=1e-6)
    assert not ours._fused(x, True, None)  # epsilon below the fused kernel's minimum
    np.testing.assert_allclose(ours(x, training=True).numpy(), theirs(x, training=True).numpy(), atol=1e-6)
    theirs, ours = _pair(x.shape, "float32")
    assert ours._fused(x, True, None)
    assert not ours._fused(x, False, None) and not ours._fused(x, True, np.ones((4, 3, 3), bool))
    np.testing.assert_allclose(ours(x, training=False).numpy(), theirs(x, training=False).numpy(), atol=1e-6)


def test_a_model_with_fused_batch_norm_saves_and_loads(tmp_path):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, FusedBatchNormalization(name="bn")(inputs))
    x = np.random.default_rng(3).normal(size=(8, 4, 4, 2)).astype("float32")
    model(x, training=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("bn"), FusedBatchNormalization)
    np.testing.assert_allclose(loaded(x, training=False).numpy(), model(x, training=False).numpy(), atol=1e-6)
