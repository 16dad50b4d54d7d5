"""The three models through `model.fit`: defaults, user networks, saving, XLA, mixed
precision, tf.distribute and bad input. Tiny shapes throughout."""

import os
import re
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo

MODELS = [ganzoo.GAN, ganzoo.DCGAN, ganzoo.WGANGP, ganzoo.SNGAN]
_TF = pytest.mark.tensorflow_only
#: MODELS for the per-model tests that also run on JAX, SN-GAN there skipped: its JAX step is
#: checked against TensorFlow's (tests/test_backends.py), trains and round-trips conditionally
#: (test_conditional_models.py), runs its n_dis steps (test_sngan.py) and trains without TensorFlow.
MODELS_SNGAN_ON_TF = [*MODELS[:3], pytest.param(ganzoo.SNGAN, marks=_TF, id="SNGAN")]
#: Two discriminator steps for the models whose default is five.
FEW_D_STEPS = {ganzoo.WGANGP: {"n_critic": 2}, ganzoo.SNGAN: {"n_dis": 2}}
BASE_KEYS = {"d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm"}


def expected_keys(model):
    if isinstance(model, ganzoo.WGANGP):
        return BASE_KEYS | {"gp", "wasserstein"}
    if isinstance(model, ganzoo.SNGAN):
        return BASE_KEYS | {"tv_lower_bound"}
    return BASE_KEYS | {"js_lower_bound", "d_saturation"}


@pytest.mark.both_backends
@pytest.mark.parametrize("cls", MODELS_SNGAN_ON_TF)
@pytest.mark.parametrize("shape", [(8, 8, 1), (2,)])
def test_fit_on_default_networks_gives_finite_losses_and_history_keys(cls, shape, tiny_model, image_dataset):
    model = tiny_model(cls, shape)
    model.compile()
    history = model.fit(image_dataset(shape=shape), epochs=2, verbose=0)
    assert set(history.history) == expected_keys(model)
    for key, values in history.history.items():
        assert len(values) == 2 and np.all(np.isfinite(values)), key
    samples = model.generate(5, seed=0)
    assert samples.shape == (5,) + shape
    np.testing.assert_array_equal(model.generate(5, seed=0), samples)  # a seed names its samples
    assert not np.array_equal(model.generate(5, seed=1), samples)


def test_vector_data_gets_mlp_defaults_and_images_get_convolutions(tiny_model):
    for cls in MODELS:
        layers = {type(layer).__name__ for layer in tiny_model(cls, (2,)).generator.layers}
        assert "Conv2DTranspose" not in layers and "Dense" in layers
    conv = {type(layer).__name__ for layer in tiny_model(ganzoo.DCGAN).generator.layers}
    assert "Conv2DTranspose" in conv and "UpSampling2D" not in conv


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3), (7, 14, 2), (4, 4, 1)])
def test_dcgan_default_builders_reach_power_of_two_multiples_of_4_and_7(shape):
    model = ganzoo.DCGAN(data_shape=shape, latent_dim=4, width=4)
    assert model.generator.output_shape[1:] == shape
    layer_types = {type(layer).__name__ for layer in model.discriminator.layers}
    assert "MaxPooling2D" not in layer_types and "LeakyReLU" in layer_types
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in ganzoo.WGANGP(
        data_shape=shape, latent_dim=4, width=4).discriminator.layers)


def test_dcgan_defaults_follow_the_paper():
    model = ganzoo.DCGAN(data_shape=(16, 16, 3))
    model.compile()
    d_cfg = model.d_optimizer.get_config()
    assert type(model.d_optimizer).__name__ == "Adam"
    assert d_cfg["learning_rate"] == pytest.approx(2e-4) and d_cfg["beta_1"] == pytest.approx(0.5)
    wgan = ganzoo.WGANGP(data_shape=(16, 16, 3))
    wgan.compile()
    w_cfg = wgan.g_optimizer.get_config()
    assert (w_cfg["learning_rate"], w_cfg["beta_1"], w_cfg["beta_2"]) == pytest.approx((1e-4, 0.0, 0.9))
    assert wgan.n_critic == 5 and wgan.gp_weight == 10.0


class SubclassedGenerator(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8 * 8)
        self.reshape = keras.layers.Reshape((8, 8, 1))

    def call(self, z, training=False):
        return keras.ops.tanh(self.reshape(self.dense(z)))


@pytest.mark.parametrize("cls", MODELS)
def test_fit_on_user_networks(cls, image_dataset):
    generator = SubclassedGenerator()
    discriminator = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model = cls(generator=generator, discriminator=discriminator, latent_dim=3, **FEW_D_STEPS.get(cls, {}))
    assert model.data_shape == (8, 8, 1)
    model.compile(d_optimizer="adam", g_optimizer=keras.optimizers.SGD(0.01))
    d_before = [w.numpy().copy() for w in discriminator.weights]
    history = model.fit(image_dataset(), epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["d_loss"]))
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(d_before, discriminator.weights))


def test_minimax_and_non_saturating_generator_losses_are_selectable(tiny_model, image_dataset):
    logits = np.array([[-2.0], [1.0]], "float32")
    mm = tiny_model(ganzoo.GAN, (2,), generator_loss="minimax")
    ns = tiny_model(ganzoo.GAN, (2,))
    assert float(mm.generator_loss(logits)) < 0 < float(ns.generator_loss(logits))
    mm.compile()
    assert np.all(np.isfinite(mm.fit(image_dataset(shape=(2,)), epochs=1, verbose=0).history["g_loss"]))


def test_dcgan_without_batch_norm_scores_each_example_on_its_own(tiny_model, tmp_path):
    # Training-mode batch norm makes D's score of an example depend on the rest of its batch;
    # d_norm="none" (for per-example penalties such as R1) must not.
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 1)).astype("float32")  # 16x16: two convs

    def first_score(model, others):
        batch = np.concatenate([x[:1], others])
        return keras.ops.convert_to_numpy(model.discriminator(batch, training=True))[0, 0]

    for d_norm, depends in (("batch", True), ("none", False)):
        model = tiny_model(ganzoo.DCGAN, (16, 16, 1), d_norm=d_norm)
        gap = abs(first_score(model, x[1:2]) - first_score(model, x[2:3] * 3.0))
        assert bool(gap > 1e-3) is depends, (d_norm, gap)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.discriminator.layers)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.generator.layers)
    model.compile()
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").d_norm == "none"
    with pytest.raises(ValueError, match="`d_norm` must be one of"):
        tiny_model(ganzoo.DCGAN, (16, 16, 1), d_norm="spectral")


def _minibatch_std_reference(x, group):
    """The authors' layer in numpy: sample i in group i mod (batch / group); per group the std over
    its samples at every feature and position (+1e-8 under the root), averaged, appended."""
    out = np.concatenate([x, np.zeros(x.shape[:-1] + (1,), x.dtype)], axis=-1)
    groups = len(x) // group
    for i in range(groups):
        members = np.arange(len(x)) % groups == i
        out[members, ..., -1] = np.sqrt(x[members].var(axis=0) + 1e-8).mean()
    return out


@pytest.mark.both_backends
def test_minibatch_std_appends_each_groups_spread_as_the_authors_layer():
    from ganzoo.layers import MinibatchStdDev

    x = np.random.default_rng(0).standard_normal((8, 3, 3, 2)).astype("float32")
    x[1::2] *= 0.01  # group 1 (samples 1, 3, 5, 7) nearly collapsed
    got = keras.ops.convert_to_numpy(MinibatchStdDev(4)(x))
    np.testing.assert_allclose(got, _minibatch_std_reference(x, 4), rtol=1e-5, atol=1e-6)
    assert got[1, 0, 0, -1] < 0.05 * got[0, 0, 0, -1]  # the collapsed group reads as one
    # A batch smaller than the group is one group; a batch not a multiple of it is refused by name.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(MinibatchStdDev(4)(x[:2])),
                               _minibatch_std_reference(x[:2], 2), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=re.escape("the batch (6) must be a multiple of it")):
        MinibatchStdDev(4)(x[:6])
    with pytest.raises(ValueError, match="group_size must be an int >= 2"):
        MinibatchStdDev(1)
    with pytest.raises(ValueError, match=re.escape("takes (batch, H, W, C) feature maps; got shape (8, 18)")):
        MinibatchStdDev(4)(x.reshape(8, 18))


def test_dcgan_minibatch_std_lets_d_see_a_groups_spread_and_survives_saving(tiny_model, image_dataset, tmp_path):
    # 16x16: D's last conv block is 4x4; the minibatch_std channel comes after its batch norm.
    model = tiny_model(ganzoo.DCGAN, (16, 16, 1), minibatch_std=4)
    names = [layer.name for layer in model.discriminator.layers]
    assert names.index("minibatch_std") == names.index("flatten") - 1
    assert names.index("minibatch_std") > max(i for i, n in enumerate(names) if n.startswith("bn_"))
    x = np.random.default_rng(1).uniform(-1, 1, (8, 16, 16, 1)).astype("float32")
    varied = keras.ops.convert_to_numpy(model.discriminator(x, training=True))
    collapsed = keras.ops.convert_to_numpy(model.discriminator(np.repeat(x[:1], 8, axis=0), training=True))
    plain = tiny_model(ganzoo.DCGAN, (16, 16, 1))
    assert model.discriminator.get_layer("score").kernel.shape[0] == plain.discriminator.get_layer(
        "score").kernel.shape[0] + 4 * 4  # one more channel at each of the 4x4 positions
    assert not np.allclose(varied[0], collapsed[0])
    model.compile()
    history = model.fit(image_dataset(n=32, shape=(16, 16, 1), batch=8), epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["d_loss"]))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.minibatch_std == 4
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.discriminator(x, training=False)),
                               keras.ops.convert_to_numpy(model.discriminator(x, training=False)), rtol=1e-5)
    with pytest.raises(ValueError, match="`minibatch_std` must be a group size"):
        tiny_model(ganzoo.DCGAN, (16, 16, 1), minibatch_std=1)
    with pytest.raises(ValueError, match=re.escape("data_shape (2,) is vector data. Leave out minibatch_std")):
        tiny_model(ganzoo.DCGAN, (2,), minibatch_std=4)


@pytest.mark.both_backends
def test_k_discriminator_steps_per_generator_step_each_on_its_own_batch(tiny_model, image_dataset):
    model = tiny_model(ganzoo.GAN, (2,), d_steps=3)
    model.compile()
    model.fit(image_dataset(n=96, shape=(2,)), epochs=1, verbose=0)  # 12 batches -> 4 G steps
    assert int(model.d_optimizer.iterations) == 12
    assert int(model.g_optimizer.iterations) == 4


def test_wgan_gp_critic_steps_and_logged_estimate(tiny_model, image_dataset):
    model = tiny_model(ganzoo.WGANGP, n_critic=2)
    model.compile()
    history = model.fit(image_dataset(n=64), epochs=1, verbose=0)  # 8 batches -> 4 G steps
    assert int(model.d_optimizer.iterations) == 8 and int(model.g_optimizer.iterations) == 4
    h = {k: v[-1] for k, v in history.history.items()}
    assert h["wasserstein"] == pytest.approx(h["d_real"] - h["d_fake"], abs=1e-5)
    assert h["gp"] >= 0


@pytest.mark.both_backends
@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # how these epochs end, by design
def test_data_of_unknown_length_counts_only_the_steps_run(tiny_model):
    """A Python iterator and a filtered tf.data dataset end each epoch by running out. The
    optimizers' and the seed generator's counters then hold exactly the steps run: Keras 3.15's
    TensorFlow trainer ran the ops that read no batch (those counters) once more, in the step
    whose batch fetch failed, until ganzoo's step made every op wait for its batch."""
    x = np.random.default_rng(0).uniform(-1, 1, (40, 8, 8, 1)).astype("float32")  # 5 batches of 8
    for make, epochs in (((x[i:i + 8] for i in range(0, 40, 8)), 1),
                         (tf.data.Dataset.from_tensor_slices(x).batch(8).filter(lambda b: True), 2)):
        assert not hasattr(make, "cardinality") or int(make.cardinality()) == tf.data.UNKNOWN_CARDINALITY
        model = tiny_model(ganzoo.WGANGP)  # k = 2: 2 steps per epoch, the fifth batch left over
        model.compile()
        before = np.asarray(keras.ops.convert_to_numpy(model.seed_generator.state))
        model.fit(make, epochs=epochs, verbose=0)
        assert int(model.g_optimizer.iterations) == 2 * epochs and int(model.d_optimizer.iterations) == 4 * epochs
        drawn = np.asarray(keras.ops.convert_to_numpy(model.seed_generator.state)) - before
        assert drawn[1] == 5 * 2 * epochs, drawn  # per step: z and alpha for each critic step, z for G


@pytest.mark.both_backends
def test_wgan_gp_interpolation_weight_is_uniform_once_per_example(tiny_model):
    model = tiny_model(ganzoo.WGANGP)
    u = np.asarray(model._uniform(20000))
    assert u.shape == (20000,)
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert np.all(np.abs(counts - 2000) < 5 * 2000 ** 0.5), counts  # uniform, not a clipped normal
    assert np.std(u) == pytest.approx(12 ** -0.5, abs=0.01)


def test_same_seed_same_losses_run_to_run(image_dataset):
    def run():
        keras.utils.set_random_seed(42)
        model = ganzoo.DCGAN(data_shape=(8, 8, 1), latent_dim=4, width=8)
        model.compile()
        return model.fit(image_dataset(), epochs=2, verbose=0).history

    assert run() == run()


@pytest.mark.both_backends
@pytest.mark.parametrize("cls", MODELS_SNGAN_ON_TF)
def test_save_load_round_trip_restores_networks_optimizers_and_noise(cls, tmp_path, tiny_model, image_dataset):
    model = tiny_model(cls)
    model.compile(ema_decay=0.9)
    data = image_dataset(n=64)
    model.fit(data, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is cls
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for opt in ("d_optimizer", "g_optimizer"):
        for a, b in zip(getattr(model, opt).variables, getattr(loaded, opt).variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), loaded.seed_generator.state.numpy())
    # Continued training from the file equals continued training in memory.
    model.fit(data, epochs=1, verbose=0)
    loaded.fit(data, epochs=1, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    np.testing.assert_allclose(model.generate(3, seed=1), loaded.generate(3, seed=1), atol=1e-6)


def test_load_model_after_import_ganzoo_then_keras(tmp_path, tiny_model):
    """`import ganzoo` stays TensorFlow-free, yet a later `import keras` registers the models."""
    model = tiny_model(ganzoo.GAN, (2,))
    model.compile()
    model.save(tmp_path / "m.keras")
    script = ("import sys, ganzoo; assert 'tensorflow' not in sys.modules; import keras; "
              f"print(type(keras.models.load_model({str(tmp_path / 'm.keras')!r})).__name__)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0 and out.stdout.strip() == "GAN", out.stderr[-2000:]


def test_get_config_round_trip(tiny_model):
    model = tiny_model(ganzoo.WGANGP, n_critic=3, gp_weight=0.1)
    clone = ganzoo.WGANGP.from_config(model.get_config())
    assert (clone.n_critic, clone.gp_weight, clone.latent_dim, clone.data_shape) == (3, 0.1, 4, (8, 8, 1))


def test_ema_generator_tracks_the_moving_average(tiny_model, image_dataset):
    model = tiny_model(ganzoo.DCGAN)
    model.compile(ema_decay=0.5, ema_warmup=False)  # Keras' fixed decay
    model.fit(image_dataset(n=8), epochs=1, verbose=0)  # step 1: the average starts at G
    first = [w.numpy().copy() for w in model.generator.trainable_weights]
    for live, avg in zip(first, model.ema_generator.trainable_weights):
        np.testing.assert_allclose(avg.numpy(), live, atol=1e-7)
    model.fit(image_dataset(n=8, seed=1), epochs=1, verbose=0)  # step 2: 0.5 old + 0.5 new
    ema = model.ema_generator
    for old, live, avg in zip(first, model.generator.trainable_weights, ema.trainable_weights):
        np.testing.assert_allclose(avg.numpy(), 0.5 * old + 0.5 * live.numpy(), atol=1e-6)
    assert model.sampling_generator() is ema
    z = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    np.testing.assert_allclose(model.generate(z), np.asarray(ema(z, training=False)), atol=1e-6)
    assert not np.allclose(model.generate(z), np.asarray(model.generator(z, training=False)), atol=1e-6)


@pytest.mark.both_backends
def test_ema_generator_normalizes_with_its_own_batchnorm_statistics(tiny_model, image_dataset):
    """The EMA generator's first BatchNorm layer holds the mean and variance of its own input
    (the EMA weights' projection of z), not the live G's moving statistics; a later step
    recomputes them."""
    from ganzoo.models import sampling

    model = tiny_model(ganzoo.DCGAN)
    model.compile(d_optimizer=keras.optimizers.Adam(0.05), g_optimizer=keras.optimizers.Adam(0.05),
                  ema_decay=0.5, ema_warmup=False)
    model.fit(image_dataset(n=32), epochs=2, verbose=0)  # 8 steps at a high rate: G and its EMA differ

    def first_bn_stats(net):
        bn = next(layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization))
        z = np.random.default_rng(1).standard_normal((20000, model.latent_dim)).astype("float32")
        inputs = np.asarray(keras.Model(net.inputs, bn.input)(z)).reshape(20000, -1, bn.moving_mean.shape[0])
        own = inputs.mean(axis=(0, 1)), inputs.var(axis=(0, 1))
        return own, (np.asarray(bn.moving_mean), np.asarray(bn.moving_variance))

    def assert_own(stats):
        (own_mean, own_var), (mean, var) = stats
        # within 5 standard errors of two estimates (the standing samples' and 20,000)
        n = sampling.STANDING_BATCHES * sampling.STANDING_BATCH_SIZE
        assert np.all(np.abs(mean - own_mean) <= 5 * np.sqrt(own_var * (1 / n + 1 / 20000)))
        np.testing.assert_allclose(var, own_var, rtol=5 * (np.sqrt(2 / n) + np.sqrt(2 / 20000)))
        return own_var

    own_var = assert_own(first_bn_stats(model.ema_generator))
    live = np.asarray(next(layer for layer in model.generator.layers
                           if isinstance(layer, keras.layers.BatchNormalization)).moving_variance)
    assert np.median(np.abs(live / own_var - 1)) > 0.5  # what the EMA generator held before: far off
    model.fit(image_dataset(n=32, seed=1), epochs=1, verbose=0)
    assert_own(first_bn_stats(model.ema_generator))
    # Fewer standing batches (each epoch's picture takes 8): the same statistics, estimated from
    # fewer samples; generate's default count takes them over again from its 40.
    few = model.sampling_generator(standing_batches=2)
    (_, own_var_few), (_, var_few) = first_bn_stats(few)
    assert not np.allclose(var_few, first_bn_stats(model.ema_generator)[1][1], rtol=1e-4)
    np.testing.assert_allclose(var_few, own_var_few, rtol=5 * (np.sqrt(2 / 512) + np.sqrt(2 / 20000)))
    assert_own(first_bn_stats(model.sampling_generator()))
    with pytest.raises(ValueError, match="standing_batches"):
        model.generate(4, standing_batches=0)


@pytest.mark.both_backends
def test_ema_warmup_ramps_the_decay_and_survives_save_load(tmp_path, tiny_model):
    """With warm-up the decay at step t is min(decay, (1 + t) / (10 + t)): step 1 copies G,
    step 2 keeps 2/11 of the average, so the initial weights are forgotten early."""
    model = tiny_model(ganzoo.GAN, (2,))
    model.compile(ema_decay=0.999)
    x = np.random.default_rng(0).standard_normal((16, 2)).astype("float32")
    model.fit(x, batch_size=8, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0)
    first = [w.numpy().copy() for w in model.generator.trainable_weights]
    model.fit(x, batch_size=8, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0)
    momentum = 2 / 11  # t = 1
    for old, live, avg in zip(first, model.generator.trainable_weights, model.ema_generator.trainable_weights):
        np.testing.assert_allclose(avg.numpy(), momentum * old + (1 - momentum) * live.numpy(), atol=1e-6)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_compile_config()["ema_warmup"] is True
    ema_before = [w.numpy().copy() for w in loaded.ema_generator.trainable_weights]
    loaded.fit(x, batch_size=8, epochs=1, steps_per_epoch=1, shuffle=False, verbose=0)
    momentum = 3 / 12  # t = 2: the reloaded optimizer keeps the warm-up
    for old, live, avg in zip(ema_before, loaded.generator.trainable_weights, loaded.ema_generator.trainable_weights):
        np.testing.assert_allclose(avg.numpy(), momentum * old + (1 - momentum) * live.numpy(), atol=1e-6)


def test_vector_defaults_are_the_toy_papers_and_match_the_presets():
    gan = ganzoo.GAN(data_shape=(2,))
    assert gan.latent_dim == 2
    dense = [layer for layer in gan.generator.layers if type(layer).__name__ == "Dense"]
    assert [layer.units for layer in dense] == [128, 128, 128, 2]
    d_opt, _ = gan.default_optimizers()
    assert (float(d_opt.learning_rate), d_opt.beta_1) == (pytest.approx(1e-4), 0.5)
    assert ganzoo.DCGAN(data_shape=(2,)).get_config()["latent_dim"] == 2
    wgan = ganzoo.WGANGP(data_shape=(2,))
    assert (wgan.latent_dim, wgan.gp_weight, wgan.n_critic) == (2, 0.1, 5)
    assert [layer.units for layer in wgan.generator.layers if type(layer).__name__ == "Dense"] == [512] * 3 + [2]
    d_opt, _ = wgan.default_optimizers()
    assert (float(d_opt.learning_rate), d_opt.beta_1, d_opt.beta_2) == (pytest.approx(1e-4), 0.5, 0.9)
    images = ganzoo.WGANGP(data_shape=(8, 8, 1), width=8)
    assert (images.latent_dim, images.gp_weight, images.default_optimizers()[0].beta_1) == (128, 10.0, 0.0)
    # The paper-baseline presets build exactly the class defaults.
    from ganzoo.runs.setup import build_model
    from ganzoo.config import resolve_config
    for preset, cls in [("gan_gaussian_grid", ganzoo.GAN), ("wgan_gp_gaussian_ring", ganzoo.WGANGP)]:
        built = build_model(resolve_config(preset, run_dir=str(preset)))
        default = cls(data_shape=(2,))
        default.compile()
        assert built.get_config()["latent_dim"] == default.latent_dim
        assert built.generator.count_params() == default.generator.count_params()
        assert built.discriminator.count_params() == default.discriminator.count_params()
        for a, b in [(built.d_optimizer, default.d_optimizer), (built.g_optimizer, default.g_optimizer)]:
            assert {k: a.get_config()[k] for k in ("learning_rate", "beta_1", "beta_2")} == \
                   {k: b.get_config()[k] for k in ("learning_rate", "beta_1", "beta_2")}
        if cls is ganzoo.WGANGP:
            assert built.gp_weight == default.gp_weight


def test_pacgan_paper_networks_build_and_train(image_dataset):
    """PacGAN's own 2-D networks: G with batch norm, D of maxout units judging packs of 2."""
    from ganzoo.models.networks import build_mlp_discriminator, build_mlp_generator

    g = build_mlp_generator(2, (2,), hidden_units=8, depth=4, batch_norm=True)
    d = build_mlp_discriminator((4,), hidden_units=6, depth=3, maxout=5)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in g.layers) == 4
    assert d.get_layer("dense_0").units == 30 and d.get_layer("maxout_0").output.shape == (None, 6)
    x = np.random.default_rng(0).standard_normal((3, 30)).astype("float32")
    np.testing.assert_array_equal(d.get_layer("maxout_0")(x), x.reshape(3, 6, 5).max(-1))
    model = ganzoo.GAN(generator=g, discriminator=d, latent_dim=2, pack=2)
    model.compile()
    history = model.fit(image_dataset(shape=(2,)), epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["d_loss"]))


# ------------------------------------------------------------------ packing
def test_pack_joins_consecutive_samples_along_features_or_channels():
    vectors = ganzoo.GAN(data_shape=(2,), width=8, pack=3)
    assert vectors.discriminator.input_shape == (None, 6)
    x = np.arange(12, dtype="float32").reshape(6, 2)
    np.testing.assert_array_equal(vectors._pack(x), x.reshape(2, 6))
    images = ganzoo.DCGAN(data_shape=(4, 4, 2), width=8, pack=2)
    assert images.discriminator.input_shape == (None, 4, 4, 4)
    x = np.random.default_rng(0).standard_normal((4, 4, 4, 2)).astype("float32")
    packed = np.asarray(images._pack(x))
    assert packed.shape == (2, 4, 4, 4)
    for pack in range(2):
        for j in range(2):  # sample pack * 2 + j sits in channels [2 j, 2 j + 2)
            np.testing.assert_array_equal(packed[pack, :, :, 2 * j:2 * j + 2], x[pack * 2 + j])


@pytest.mark.both_backends
def test_packed_penalty_is_taken_on_packed_interpolates():
    """A linear critic on packs of 2: grad f = w everywhere, so the penalty is (||w|| - 1)^2,
    which only runs if interpolates are packs (one alpha per pack, inputs of 2 * d)."""
    critic = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    critic.layers[-1].kernel.assign(np.full((4, 1), 1.5, "float32"))  # ||w|| = 3
    model = ganzoo.WGANGP(data_shape=(2,), latent_dim=2, width=8, discriminator=critic, pack=2, n_critic=1)
    real = model._pack(np.random.default_rng(0).standard_normal((8, 2)).astype("float32"))
    fake = model._pack(np.random.default_rng(1).standard_normal((8, 2)).astype("float32"))
    _, extra = model.discriminator_loss(real, fake, critic(real), critic(fake))
    assert float(extra["gp"]) == pytest.approx(4.0, rel=1e-5)


def test_pack_contract_errors_are_clear(tiny_model, image_dataset):
    with pytest.raises(ValueError, match=r"discriminator's input must be \(4,\) \(pack=2"):
        ganzoo.GAN(data_shape=(2,), discriminator=keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                   pack=2)
    model = tiny_model(ganzoo.GAN, (2,), pack=3)
    model.compile()
    with pytest.raises(ValueError, match="multiple of 3"):
        model.fit(image_dataset(shape=(2,)), epochs=1, verbose=0)  # batches of 8
    with pytest.raises(ValueError, match="pack"):
        ganzoo.GAN(data_shape=(2,), pack=0)


def test_packed_model_saves_loads_and_exports_an_unchanged_generator(tmp_path, tiny_model, image_dataset):
    from ganzoo.export import export_generator, load_exported

    model = tiny_model(ganzoo.GAN, (2,), pack=2)
    model.compile()
    model.fit(image_dataset(shape=(2,)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.pack == 2 and loaded.discriminator.input_shape == (None, 4)
    np.testing.assert_array_equal(loaded.generate(4, seed=1), model.generate(4, seed=1))
    path = export_generator(model, tmp_path / "export", formats=("onnx",))
    z = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    np.testing.assert_allclose(load_exported(path).generate(z), model.generate(z), atol=1e-5)


@pytest.mark.both_backends
def test_generate_accepts_z_and_seeds(tiny_model):
    model = tiny_model(ganzoo.GAN, (2,))
    np.testing.assert_array_equal(model.generate(4, seed=3), model.generate(4, seed=3))
    assert not np.array_equal(model.generate(4, seed=3), model.generate(4, seed=4))
    z = np.zeros((3, 4), "float32")
    assert model.generate(z).shape == (3, 2)
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        model.generate(np.zeros((3, 5)))


# `jit_compile=True` on TensorFlow for each kind of step (k = 1 and k = 2 real batches) and each
# packing layout (PacGAN packs along features and along channels, unpacked), the generator kept
# unpacked. On JAX every test above compiles its step with XLA. SN-GAN (~50 s on a loaded
# machine) is slow-only here: the JAX run compiles it on every step.
@pytest.mark.parametrize("cls,shape,pack", [(ganzoo.GAN, (2,), 2), (ganzoo.DCGAN, (8, 8, 1), 1),
                                            (ganzoo.WGANGP, (8, 8, 1), 2),
                                            pytest.param(ganzoo.SNGAN, (8, 8, 1), 2, marks=pytest.mark.slow)],
                         ids=["GAN-packed-features", "DCGAN", "WGANGP-packed-channels", "SNGAN-packed-channels"])
def test_xla_path(cls, shape, pack, tiny_model, image_dataset):
    model = tiny_model(cls, shape, pack=pack)
    model.compile(jit_compile=True)
    assert model.jit_compile is True
    history = model.fit(image_dataset(shape=shape), epochs=1, verbose=0)
    assert all(np.all(np.isfinite(v)) for v in history.history.values())
    assert model.generator.input_shape == (None, 4) and model.generator.output_shape == (None,) + shape
    assert model.generate(3, seed=0).shape == (3,) + shape


@pytest.mark.both_backends
def test_jit_compile_auto_is_off_on_a_tensorflow_cpu_and_on_under_jax(tiny_model):
    model = tiny_model(ganzoo.GAN, (2,))
    model.compile(jit_compile="auto")
    # TensorFlow: no GPU here, and "auto" turns XLA on only with one. JAX: every step is XLA.
    assert model.jit_compile is (keras.backend.backend() == "jax")


@pytest.mark.both_backends
# float16 loss scaling (policy-generic: both optimizers wrapped) for DCGAN and WGAN-GP (k = 2, the
# penalty's double backprop); on JAX in tests/test_backends.py's TensorFlow-free WGAN-GP run.
# bfloat16, the GPU policy, on both backends; SN-GAN's on TensorFlow (see MODELS_SNGAN_ON_TF).
@pytest.mark.parametrize("cls,policy", [pytest.param(ganzoo.DCGAN, "mixed_float16", marks=_TF),
                                        (ganzoo.DCGAN, "mixed_bfloat16"),
                                        pytest.param(ganzoo.WGANGP, "mixed_float16", marks=_TF),
                                        (ganzoo.WGANGP, "mixed_bfloat16"),
                                        pytest.param(ganzoo.SNGAN, "mixed_bfloat16", marks=_TF)],
                         ids=lambda v: getattr(v, "__name__", v))
def test_mixed_precision_step_is_finite(cls, policy, tiny_model, image_dataset):
    keras.mixed_precision.set_global_policy(policy)
    model = tiny_model(cls)
    model.compile()
    wrapped = isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert wrapped == (policy == "mixed_float16")
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer) == wrapped
    assert model.generator.layers[-1].compute_dtype == "float32"
    history = model.fit(image_dataset(), epochs=1, verbose=0)
    for values in history.history.values():
        assert np.all(np.isfinite(values))
    assert model.generate(2, seed=0).dtype == np.float32


MIRRORED_SCRIPT = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    # Deterministic kernels: the replicas' ops share one thread pool, and on a loaded machine a
    # scheduling-dependent reduction order once moved an SN-GAN weight by 1.1e-5 (typically 2e-7).
    tf.config.experimental.enable_op_determinism()
    import ganzoo
    keras.utils.set_random_seed(0)  # the same initial weights every run
    worst = {}
    cases = {"gan": (ganzoo.GAN, (2,), {}), "dcgan": (ganzoo.DCGAN, (8, 8, 1), {}),
             "wgan_gp": (ganzoo.WGANGP, (8, 8, 1), {"n_critic": 2}),
             "gan_pack": (ganzoo.GAN, (2,), {"pack": 4}),
             "wgan_gp_pack": (ganzoo.WGANGP, (8, 8, 1), {"n_critic": 2, "pack": 2}),
             "sngan": (ganzoo.SNGAN, (8, 8, 1), {"n_dis": 2}),
             # T's draws sliced per replica; ADA's sign counts, LeCam's anchors summed across replicas;
             # R1 inside a cond every 2nd D step.
             "dcgan_augment": (ganzoo.DCGAN, (8, 8, 1), {"augment": "ada", "ada_kimg": 1, "lecam_weight": 0.3,
                                                         "r1_gamma": 1.0, "r1_every": 2}),
             # Adam: fused (one ResourceApplyAdam a variable) without a strategy; Keras' own
             # update under the mirrored one.
             "dcgan_adam": (ganzoo.DCGAN, (8, 8, 1), {})}
    # One model per process: collective ops of synchronized batch norm from several
    # strategies in one process were seen to pair up out of order.
    for name in sys.argv[1:]:
        cls, shape, kw = cases[name]
        x = np.random.default_rng(0).uniform(-1, 1, (64,) + shape).astype("float32")
        ds = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True)
        init, models = None, []
        adam = name.endswith("_adam")
        single = tf.distribute.get_strategy() if adam else tf.distribute.OneDeviceStrategy("/cpu:0")
        for strategy in (single, tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
            with strategy.scope():
                m = cls(data_shape=shape, latent_dim=4, width=8, seed=3, **kw)
                if "ada_p" in m._game_variables:
                    m._game_variables["ada_p"].assign(0.5)
                optimizer = (lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)) if adam else (
                    lambda: keras.optimizers.SGD(0.1))
                m.compile(d_optimizer=optimizer(), g_optimizer=optimizer())
            if init is None:
                init = m.get_weights()
            else:
                m.set_weights(init)
            m.fit(ds, epochs=1, verbose=0, shuffle=False)
            models.append(m)
        diffs = sorted(((float(np.abs(a.numpy() - b.numpy()).max()), a.path)
                        for a, b in zip(models[0].weights, models[1].weights)), reverse=True)
        worst[name] = diffs[0][0]
        print("LARGEST", name, diffs[:5])
    print("MAXDIFF", worst)
""")


@pytest.mark.tensorflow_only  # tf.distribute
# gan, gan_pack and wgan_gp are slow-marked: dcgan (synchronized batch norm), wgan_gp_pack (k = 2
# and packs) and sngan (power iteration) cover their paths in the default run.
@pytest.mark.parametrize("name", [pytest.param("gan", marks=pytest.mark.slow), "dcgan",
                                  pytest.param("wgan_gp", marks=pytest.mark.slow),
                                  pytest.param("gan_pack", marks=pytest.mark.slow), "wgan_gp_pack", "sngan",
                                  "dcgan_adam",
                                  # ADA, LeCam and lazy R1 under two replicas (~3 CPU-minutes)
                                  pytest.param("dcgan_augment", marks=pytest.mark.slow)])
def test_mirrored_strategy_steps_equal_single_device_steps(name):
    """Two steps on two replicas (global batch 16) equal the one-device steps within 1e-5.

    A second run is allowed once: in about one clean-clone run of the suite in ten, SN-GAN's
    replicas ended ~1e-3 from the one-device weights (8.7e-4 and 1.1e-3 seen; never alone,
    nor in 50 runs of the script with up to 8 at once on 2 cores). A wrong scaling or a missed
    reduction differs on every run, so it still fails; the first run's largest differences are
    reported as a warning, for whoever finds the cause.
    """
    first = None
    for attempt in range(2):
        out = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, name], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        line = [l for l in out.stdout.splitlines() if l.startswith("MAXDIFF")]
        assert line, out.stderr[-3000:]
        worst = eval(line[0][len("MAXDIFF"):])
        largest = [l for l in out.stdout.splitlines() if l.startswith("LARGEST")]
        if worst[name] < 1e-5:
            break
        first = first or largest
    else:
        pytest.fail(f"two runs differ from one device by more than 1e-5: {first} then {largest}")
    if first:
        warnings.warn(f"mirrored {name}: the first run differed by more than 1e-5, the second did not: {first}")


# ------------------------------------------------------------------- bad input
def test_unreachable_image_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"4 \* 2\^k or 7 \* 2\^k.*30x30"):
        ganzoo.DCGAN(data_shape=(30, 30, 3))


def test_generator_discriminator_mismatch_is_a_clear_error():
    g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16), keras.layers.Reshape((4, 4, 1))])
    d = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="discriminator"):
        ganzoo.GAN(generator=g, discriminator=d, latent_dim=4)
    with pytest.raises(ValueError, match=r"generator makes samples of shape \(4, 4, 1\)"):
        ganzoo.GAN(generator=g, latent_dim=4, data_shape=(8, 8, 1))
    d_many = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="one score per example"):
        ganzoo.GAN(generator=g, discriminator=d_many, latent_dim=4)


@pytest.mark.parametrize("kwargs,match", [
    (dict(latent_dim=0), "latent_dim"), (dict(latent_dim=-3), "latent_dim"),
    (dict(n_critic=0), "n_critic"), (dict(gp_weight=-1.0), "gp_weight"),
])
def test_non_positive_hyper_parameters_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ganzoo.WGANGP(data_shape=(2,), **kwargs)


def test_missing_data_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="data_shape"):
        ganzoo.DCGAN()


def test_compile_with_single_optimizer_is_a_clear_error(tiny_model):
    model = tiny_model(ganzoo.GAN, (2,))
    with pytest.raises(ValueError, match="d_optimizer=.*g_optimizer="):
        model.compile(optimizer="adam")


@pytest.mark.both_backends
@pytest.mark.parametrize("cls", MODELS_SNGAN_ON_TF)
def test_dataset_of_wrong_dtype_or_shape_is_a_clear_error(cls, tiny_model, image_dataset):
    model = tiny_model(cls)
    model.compile()
    ints = tf.data.Dataset.from_tensor_slices(np.zeros((32, 8, 8, 1), "uint8")).batch(8)
    with pytest.raises(ValueError, match="float samples"):
        model.fit(ints, epochs=1, verbose=0)
    wrong = image_dataset(shape=(16, 16, 1))
    with pytest.raises(ValueError, match=r"built for samples of shape \(8, 8, 1\)"):
        model.fit(wrong, epochs=1, verbose=0)


@pytest.mark.both_backends
def test_too_few_batches_for_the_critic_steps_is_a_clear_error(tiny_model, image_dataset):
    model = tiny_model(ganzoo.WGANGP, n_critic=5)
    model.compile()
    with pytest.raises(ValueError, match="5 batches per generator step"):
        model.fit(image_dataset(n=16), epochs=1, verbose=0)
