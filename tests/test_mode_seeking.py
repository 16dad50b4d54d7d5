"""Mode-seeking regularization (Mao et al. 2019): the generator's loss gains lambda / ratio, the
ratio the distance between fakes of the same label per unit distance of their latent codes."""

import numpy as np
import pytest
import keras
from keras import ops

import ganzoo
from ganzoo import losses
from ganzoo.cli.main import build_parser
from ganzoo.config import resolve_config
from ganzoo.errors import ConfigError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(6, 4, 4, 1)).astype("float32")
Z = RNG.normal(size=(6, 5)).astype("float32")
LABELS = np.array([0, 1, 0, 2, 1, 0], "int32")


def numpy(x):
    return ops.convert_to_numpy(x)


def reference_ratio(x, z, labels):
    """A transcription of the definition: sum of RMS image distances over the pairs i < j of
    equal label, divided by the sum of their RMS latent distances."""
    image = latent = 0.0
    pairs = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if labels is None or labels[i] == labels[j]:
                image += np.sqrt(np.mean((x[i] - x[j]) ** 2))
                latent += np.sqrt(np.mean((z[i] - z[j]) ** 2))
                pairs += 1
    return image / latent, pairs


@pytest.mark.both_backends
@pytest.mark.parametrize("labels", [LABELS, None], ids=["same-label pairs", "unconditional: all pairs"])
def test_the_ratio_is_taken_over_the_pairs_of_equal_label(labels):
    ratio, pairs = losses.mode_seeking_ratio(X, Z, labels)
    want, count = reference_ratio(X, Z, labels)
    assert float(numpy(pairs)) == count == (4 if labels is not None else 15)
    assert float(numpy(ratio)) == pytest.approx(want, rel=1e-5)


@pytest.mark.both_backends
def test_a_batch_without_a_pair_adds_nothing():
    ratio, pairs = losses.mode_seeking_ratio(X, Z, np.arange(6))
    assert (float(numpy(ratio)), float(numpy(pairs))) == (0.0, 0.0)
    assert float(numpy(losses.mode_seeking_loss(ratio, pairs))) == 0.0


def _loss_and_gradient(x, z, labels):
    """(1 / ratio, its gradient with respect to the samples) on TensorFlow."""
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = losses.mode_seeking_loss(*losses.mode_seeking_ratio(x, Z, labels))
    return float(loss), tape.gradient(loss, x).numpy()


def test_its_gradient_pushes_same_label_samples_apart_and_leaves_the_rest():
    loss, grad = _loss_and_gradient(X, Z, LABELS)
    assert loss == pytest.approx(1.0 / (reference_ratio(X, Z, LABELS)[0] + 1e-5), rel=1e-5)
    # Sample 3 is the only one of label 2: no pair, no gradient.
    np.testing.assert_array_equal(grad[3], 0.0)
    assert np.abs(grad[[0, 1, 2, 4, 5]]).reshape(5, -1).sum(axis=1).min() > 0
    # A small step down the gradient spreads the pairs: the ratio grows.
    moved = X - 0.01 * grad / np.abs(grad).max()
    assert reference_ratio(moved, Z, LABELS)[0] > reference_ratio(X, Z, LABELS)[0]


def test_a_collapsed_pair_has_a_large_finite_loss_and_gradient():
    x = X.copy()
    x[2] = x[0]  # two samples of label 0 are one image
    labels = np.array([0, 1, 0, 2, 3, 4], "int32")  # ... and the only pair
    loss, grad = _loss_and_gradient(x, Z, labels)
    assert loss > 1e3 and np.isfinite(loss) and np.isfinite(grad).all()


@pytest.mark.parametrize("cls", [ganzoo.DCGAN, ganzoo.WGANGP, ganzoo.SNGAN])
def test_the_generator_loss_gains_lambda_over_the_ratio(cls, tiny_model):
    scores = np.linspace(-1.0, 2.0, len(X)).astype("float32")[:, None]

    def d(x):  # a stand-in discriminator with known scores
        return ops.convert_to_tensor(scores) + 0.0 * ops.sum(x, axis=tuple(range(1, len(x.shape))))[:, None]

    model = tiny_model(cls, mode_seeking=2.0)
    loss, logs = model.generator_objective(d, X, Z, LABELS)
    adversarial = float(numpy(model.generator_loss(scores)))
    ratio = reference_ratio(X, Z, LABELS)[0]
    assert float(numpy(loss)) == pytest.approx(adversarial + 2.0 / (ratio + 1e-5), rel=1e-5)
    assert float(numpy(logs["mode_seeking"][0])) == pytest.approx(ratio, rel=1e-5)
    off = tiny_model(cls)
    loss, logs = off.generator_objective(d, X, Z, LABELS)
    assert float(numpy(loss)) == pytest.approx(adversarial, rel=1e-6) and logs == {}
    assert "mode_seeking" not in off.regularizer_metric_names()


@pytest.mark.both_backends
def test_training_with_it_logs_the_ratio_and_spreads_the_samples(tmp_path, tiny_model, image_dataset):
    z = np.random.default_rng(3).normal(size=(16, 4)).astype("float32")

    def trained(weight):
        model = tiny_model(ganzoo.DCGAN, mode_seeking=weight)
        model.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(image_dataset(n=64), epochs=2, verbose=0).history
        return model, history

    plain, _ = trained(None)
    model, history = trained(5.0)
    assert len(history["mode_seeking"]) == 2 and np.isfinite(history["mode_seeking"]).all()
    assert all(np.isfinite(v).all() for v in history.values())
    # Same networks, seed and data: the weighted run's samples (in training mode, as the loss saw
    # them) are further apart per unit z.
    spread = [float(numpy(losses.mode_seeking_ratio(m.generator(z, training=True), z)[0])) for m in (plain, model)]
    assert spread[1] > 1.2 * spread[0], spread  # 0.058 vs 0.080 on TensorFlow
    path = tmp_path / "model.keras"
    model.save(path)
    assert keras.models.load_model(path).mode_seeking == 5.0


def test_the_flag_reaches_the_model_and_bad_values_are_named(tiny_model):
    args = build_parser().parse_args(["train", "dcgan", "--mode-seeking", "1"])
    fields = {k: v for k, v in vars(args).items() if k not in ("command", "model", "verbose")}
    assert ganzoo.DCGAN.config_kwargs(resolve_config("dcgan", **fields))["mode_seeking"] == 1.0
    with pytest.raises(ConfigError, match="--mode-seeking must be >= 0"):
        resolve_config("dcgan", mode_seeking=-1.0)
    with pytest.raises(ValueError, match="mode_seeking"):
        tiny_model(ganzoo.DCGAN, mode_seeking=-1.0)
    model = tiny_model(ganzoo.DCGAN, mode_seeking=0.5)
    assert ganzoo.DCGAN.from_config(model.get_config()).mode_seeking == 0.5
    assert "mode_seeking" in model.regularizer_metric_names()
