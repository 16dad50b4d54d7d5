"""SN-GAN: the spectral normalization layer against the paper, the model's paper defaults,
presets and the CLI. The model also runs through every parametrized test of test_models.py
(fit, user networks, save/load, XLA, mixed precision, MirroredStrategy, bad input)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo.layers import SpectralNorm


def largest_singular_value(kernel):
    kernel = np.asarray(keras.ops.convert_to_numpy(kernel))
    return float(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])


@pytest.mark.both_backends
@pytest.mark.parametrize("make", [lambda: keras.layers.Dense(5), lambda: keras.layers.Conv2D(4, 3)])
def test_power_iteration_normalizes_the_kernel_to_unit_spectral_norm(make):
    layer = SpectralNorm(make())
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3) if "Conv" in type(layer.layer).__name__ else (2, 6))
    x = x.astype("float32")
    layer(x, training=True)
    layer.kernel.assign(layer.kernel.numpy() * 3.0)  # sigma far from 1, so the test can fail
    raw = layer.kernel.numpy().copy()
    assert largest_singular_value(raw) > 2.0
    for _ in range(20):  # one power-iteration step per training call, as in the paper
        layer(x, training=True)
    assert largest_singular_value(layer.normalized_kernel()) == pytest.approx(1.0, abs=2e-3)
    np.testing.assert_array_equal(layer.kernel.numpy(), raw)  # the variable keeps W; only u moves
    # The forward pass is the wrapped layer with W / sigma(W).
    sigma = largest_singular_value(raw)
    with keras.StatelessScope([(layer.kernel, raw / sigma)]):
        expected = keras.ops.convert_to_numpy(layer.layer(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=2e-3, atol=1e-5)


def _gradients(layer, x, kernel):
    """d sum(sin(layer(x))) / dW through the layer, and through W / sigma_exact(W) (SVD)."""
    layer.kernel.assign(kernel)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.sin(layer(x, training=True)))
    through_layer = tape.gradient(loss, layer.trainable_variables[0]).numpy()
    w = tf.Variable(kernel)
    with tf.GradientTape() as tape:
        y = x @ (w / tf.linalg.svd(w, compute_uv=False)[0]) + layer.layer.bias
        loss = tf.reduce_sum(tf.sin(y))
    return through_layer, tape.gradient(loss, w).numpy()


@pytest.mark.tensorflow_only  # tapes on the layer's variables (the JAX step: test_backends equivalence)
def test_gradient_flows_through_sigma_as_in_the_paper():
    """Miyato et al. 2018, Eq. 12: dV/dW carries the term -lambda u1 v1^T from sigma's
    dependence on W. Keras' own SpectralNormalization drops it (it steps on W / sigma as if
    sigma were a constant), which is why ganzoo wraps its own call."""
    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    for cls, close in ((SpectralNorm, True), (keras.layers.SpectralNormalization, False)):
        keras.utils.set_random_seed(0)
        layer = cls(keras.layers.Dense(5))
        layer.build((None, 6))
        for _ in range(10):  # converge u
            layer(x, training=True)
        w = layer.kernel.numpy() / largest_singular_value(layer.kernel.numpy())  # sigma = 1: same point
        got, paper = _gradients(layer, x, w)
        error = np.abs(got - paper).max() / np.abs(paper).max()
        assert (error < 2e-3) if close else (error > 0.05), (cls.__name__, error)


@pytest.mark.both_backends
def test_spectral_norm_layer_saves_and_loads(tmp_path):
    model = keras.Sequential([keras.Input((3,)), SpectralNorm(keras.layers.Dense(2))])
    x = np.ones((2, 3), "float32")
    model(x, training=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[0], SpectralNorm)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6)


def test_sngan_defaults_follow_the_paper():
    model = ganzoo.SNGAN(data_shape=(32, 32, 3))
    model.compile()
    for opt in (model.d_optimizer, model.g_optimizer):
        cfg = opt.get_config()
        assert (cfg["learning_rate"], cfg["beta_1"], cfg["beta_2"]) == pytest.approx((2e-4, 0.0, 0.9))
    assert (model.n_dis, model.latent_dim) == (5, 128)
    d = model.discriminator
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in d.layers)
    weighted = [layer for layer in d.layers if layer.weights]
    assert all(isinstance(layer, SpectralNorm) for layer in weighted)
    # Table 3 of the paper for 32x32: 64, 64, 128, 128, 256, 256, 512 channels, then Dense(1).
    convs = [layer.layer for layer in weighted if isinstance(layer.layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256, 512]
    assert [c.kernel_size for c in convs] == [(3, 3)] + [(4, 4), (3, 3)] * 3
    assert [c.strides for c in convs] == [(1, 1)] + [(2, 2), (1, 1)] * 3
    vector = ganzoo.SNGAN(data_shape=(2,))
    assert vector.latent_dim == 2
    assert all(isinstance(layer, SpectralNorm) for layer in vector.discriminator.layers if layer.weights)


@pytest.mark.both_backends
def test_sngan_hinge_metrics_and_n_dis_steps(tiny_model, image_dataset):
    model = tiny_model(ganzoo.SNGAN, (2,), n_dis=3)
    model.compile()
    history = model.fit(image_dataset(n=96, shape=(2,)), epochs=1, verbose=0)  # 12 batches -> 4 G steps
    assert (int(model.d_optimizer.iterations), int(model.g_optimizer.iterations)) == (12, 4)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake", "tv_lower_bound", "g_grad_norm"}
    scores = np.array([[-2.0], [0.5]], "float32")
    assert float(model.score_summary(scores)) == pytest.approx(-0.75)  # raw scores, no sigmoid
    assert ganzoo.SNGAN.from_config(model.get_config()).n_dis == 3
    with pytest.raises(TypeError, match="n_dis"):
        ganzoo.SNGAN(data_shape=(2,), d_steps=2)


def test_sngan_presets_build_the_class_defaults():
    from ganzoo.errors import ConfigError
    from ganzoo.runs.setup import build_model
    from ganzoo.config import resolve_config

    for preset, shape in (("sngan_gaussian_ring", (2,)), ("sngan_mnist_sample", (28, 28, 1))):
        built = build_model(resolve_config(preset, run_dir="unused"))
        default = ganzoo.SNGAN(data_shape=shape)
        default.compile()
        assert type(built) is ganzoo.SNGAN and built.n_dis == default.n_dis == 5
        assert built.latent_dim == default.latent_dim
        assert built.discriminator.count_params() == default.discriminator.count_params()
        for a, b in ((built.d_optimizer, default.d_optimizer), (built.g_optimizer, default.g_optimizer)):
            assert {k: a.get_config()[k] for k in ("learning_rate", "beta_1", "beta_2")} == \
                   {k: b.get_config()[k] for k in ("learning_rate", "beta_1", "beta_2")}
    with pytest.raises(ConfigError, match="gp-weight"):
        resolve_config("sngan", gp_weight=1.0)
    with pytest.raises(ConfigError, match="hinge"):
        resolve_config("sngan", generator_loss="minimax")


def test_cli_trains_resumes_and_exports_sngan(tmp_path, run_main):
    run = tmp_path / "run"
    args = ["train", "sngan", "--dataset", "gaussian_ring", "--run-dir", run, "--n-dis", "2", "--batch-size", "16",
            "--width", "8", "--steps-per-epoch", "2", "--quiet"]
    code, _, err = run_main([*args, "--epochs", "1"])
    assert code == 0, err
    code, _, err = run_main([*args, "--epochs", "2"])  # resumes
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["model"] == "sngan"
    from ganzoo.runs.record import load_run

    _, model = load_run(str(run))
    assert type(model) is ganzoo.SNGAN and model.n_dis == 2 and int(model.g_optimizer.iterations.numpy()) == 4
    code, _, err = run_main(["export", run, "--out", tmp_path / "export", "--format", "onnx"])
    assert code == 0, err
    exported = ganzoo.load_exported(str(tmp_path / "export"))
    z = np.random.default_rng(0).standard_normal((4, model.latent_dim)).astype("float32")
    np.testing.assert_allclose(exported.generate(z), model.generate(z), atol=1e-5)
