"""The models' augmentation (DiffAugment, ADA) and regularizer (R1, LeCam) options: what D sees, the
state they keep, their terms in D's loss, and training, saving and resuming with them."""

import numpy as np
import pytest
import keras
from keras import ops

import ganzoo
from ganzoo import augment as augmentation
from ganzoo import losses

_TF = pytest.mark.tensorflow_only
ALL_ON = dict(augment="diffaugment", r1_gamma=1.0, r1_every=2, lecam_weight=0.3)


def values(state):
    return {k: float(ops.convert_to_numpy(v)) for k, v in state.items()}


# ---------------------------------------------------------------- options
def test_options_off_add_no_state_no_metrics_and_no_draws(tiny_model):
    model = tiny_model(ganzoo.DCGAN)
    assert model._game_variables == {} and model.augment is None
    assert list(model._trackers) == list(ganzoo.DCGAN.metric_names) + list(ganzoo.DCGAN.signal_names)
    assert set(model.discriminator_noise(4)) == {"z"} and model.generator_noise(4) == {}


def test_options_are_in_get_config_and_survive_a_round_trip(tiny_model):
    model = tiny_model(ganzoo.SNGAN, augment="ada", augment_policy="cutout,color", ada_target=0.7, ada_kimg=100,
                       r1_gamma=0.5, r1_every=4, lecam_weight=0.3)
    config = model.get_config()
    for key, value in dict(augment="ada", augment_policy="cutout,color", ada_target=0.7, ada_kimg=100,
                           r1_gamma=0.5, r1_every=4, lecam_weight=0.3).items():
        assert config[key] == value
    again = ganzoo.SNGAN.from_config(config)
    assert again.get_config()["augment_policy"] == "cutout,color"
    assert sorted(again._game_variables) == sorted(model._game_variables)
    assert {"r1", "lecam", "ada_p", "ada_rt"} <= set(model._trackers)


@pytest.mark.parametrize("kwargs, words", [
    (dict(augment="mixup"), "must be None, 'diffaugment' or 'ada'"),
    (dict(augment_policy="color"), "needs `augment='diffaugment'`"),
    (dict(augment="diffaugment", augment_policy="color,zoom"), "Unknown augmentation 'zoom'"),
    (dict(augment="ada", ada_target=1.5), "ada_target"),
    (dict(r1_gamma=-1.0), "r1_gamma"),
    (dict(r1_gamma=1.0, r1_every=0), "r1_every"),
    (dict(lecam_weight="a lot"), "lecam_weight"),
])
def test_bad_options_are_named(kwargs, words, tiny_model):
    with pytest.raises(ValueError, match=words):
        tiny_model(ganzoo.DCGAN, **kwargs)


def test_augmentation_needs_images_and_ada_a_discriminator_with_a_sign(tiny_model):
    with pytest.raises(ValueError, match="vector data"):
        tiny_model(ganzoo.GAN, shape=(2,), augment="diffaugment")
    with pytest.raises(ValueError, match="Use augment='diffaugment' with WGAN-GP"):
        tiny_model(ganzoo.WGANGP, augment="ada")


# -------------------------------------------------- what D sees in each step
class Recorder:
    """Every call of `ganzoo.augment.augment` in a step: (samples, draws) in order."""

    def __init__(self, monkeypatch):
        self.calls = []
        original = augmentation.augment

        def spy(images, uniforms, policy=augmentation.DEFAULT_POLICY, p=None):
            self.calls.append((np.asarray(ops.convert_to_numpy(images)), np.asarray(ops.convert_to_numpy(uniforms))))
            return original(images, uniforms, policy, p)

        monkeypatch.setattr(augmentation, "augment", spy)


@_TF  # run_eagerly, to see the tensors
def test_d_sees_t_of_real_and_fake_and_g_is_scored_on_t_of_its_samples(monkeypatch, tiny_model):
    recorder = Recorder(monkeypatch)
    model = tiny_model(ganzoo.DCGAN, augment="diffaugment")
    model.compile(run_eagerly=True)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    model.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert len(recorder.calls) == 3  # D step: real, fake; G step: the fake batch again, a fresh draw of T
    (real, real_draws), (fake, fake_draws), (g_fake, g_draws) = recorder.calls
    np.testing.assert_array_equal(real, x)
    np.testing.assert_array_equal(g_fake, fake)  # k = 1: the G step reuses the D step's fake batch
    assert real_draws.shape == (8, 7) and not np.array_equal(real_draws, fake_draws)
    assert not np.array_equal(g_draws, fake_draws)


@_TF
def test_wgan_gp_penalty_is_taken_between_augmented_real_and_fake(monkeypatch, tiny_model):
    """As the DiffAugment authors' compare_gan code: x_hat interpolates T(x) and T(G(z))."""
    recorder = Recorder(monkeypatch)
    interpolated = []
    original = losses.interpolate
    monkeypatch.setattr(losses, "interpolate", lambda r, f, a: interpolated.append(
        (np.asarray(r), np.asarray(f))) or original(r, f, a))
    model = tiny_model(ganzoo.WGANGP, augment="diffaugment", augment_policy="translation", n_critic=1)
    model.compile(run_eagerly=True)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    model.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)
    (real, real_draws), (fake, fake_draws) = recorder.calls[:2]
    (penalty_real, penalty_fake), = interpolated
    np.testing.assert_allclose(penalty_real, ops.convert_to_numpy(augmentation.augment(real, real_draws, "translation")))
    np.testing.assert_allclose(penalty_fake, ops.convert_to_numpy(augmentation.augment(fake, fake_draws, "translation")))
    assert not np.allclose(penalty_real, real)


# -------------------------------------------------------- D's loss terms
class Handle:
    """A stand-in for a step's discriminator handle with known input gradients."""

    def __init__(self, grads):
        self.grads, self.calls = grads, 0

    def input_gradients(self, x):
        self.calls += 1
        return self.grads

    @staticmethod
    def cond(pred, fn):
        return fn() if bool(ops.convert_to_numpy(pred)) else ops.zeros(())


def test_lazy_r1_is_added_every_nth_step_scaled_by_n(tiny_model):
    model = tiny_model(ganzoo.DCGAN, r1_gamma=2.0, r1_every=3)
    grads = np.array([[3.0, 4.0], [0.0, 1.0]], "float32")  # E||g||^2 = 13
    handle, state, added = Handle(grads), model.game_state(), []
    scores = np.zeros((2, 1), "float32")
    for _ in range(6):
        loss, logs, state = model._regularized(handle, 0.0, None, scores, scores, state)
        added.append(float(loss))
    # gamma / 2 * N * R1 = 1 * 3 * 13 on steps 0 and 3, nothing between, and no gradient taken then.
    assert added == [39.0, 0.0, 0.0, 39.0, 0.0, 0.0] and handle.calls == 2
    value, weight = logs["r1"]
    assert float(weight) == 0.0  # the logged mean counts the steps where R1 was computed only
    eager = tiny_model(ganzoo.DCGAN, r1_gamma=2.0)
    loss, logs, _ = eager._regularized(Handle(grads), 0.0, None, scores, scores, eager.game_state())
    assert float(loss) == 13.0 and float(logs["r1"]) == 13.0


def test_lecam_term_and_anchors_follow_the_authors_code(tiny_model):
    model = tiny_model(ganzoo.SNGAN, lecam_weight=0.5)
    real, fake = np.array([2.0, -1.0, 0.0, 0.5], "float32"), np.array([-3.0, 1.0, 0.0, -0.5], "float32")
    loss, logs, state = model._regularized(None, 1.0, None, real, fake, model.game_state())
    # Step 1 of a zero-debiased average: the anchors are this batch's means (0.375 and -0.625).
    expected = float(losses.lecam_regularization(real, fake, 0.375, -0.625))
    assert float(logs["lecam"]) == pytest.approx(expected, rel=1e-6)
    assert float(loss) == pytest.approx(1.0 + 0.5 * expected, rel=1e-6)
    got = values(state)
    assert got["lecam_steps"] == 1 and got["lecam_real"] == pytest.approx(0.01 * 0.375)
    assert got["lecam_fake"] == pytest.approx(0.01 * -0.625)


def test_ada_p_moves_every_four_d_steps_by_the_papers_rate(tiny_model):
    model = tiny_model(ganzoo.DCGAN, augment="ada", ada_kimg=1)
    state = model.game_state()
    confident = np.array([[3.0], [2.0], [1.0], [-1.0]], "float32")  # r_t = (1 + 1 + 1 - 1) / 4 = 0.5
    for step in range(1, 9):
        real = confident if step <= 4 else np.abs(confident)  # then r_t = 1
        _, logs, state = model._regularized(None, 0.0, None, real, real, state)
        got = values(state)
        if step < 4:
            assert got["ada_p"] == 0.0 and got["ada_steps"] == step and got["ada_scores"] == 4 * step
    # Step 4: r_t = 0.5 < 0.6, p would go down from 0: stays 0. Step 8: r_t = 1, up by 16 / 1000.
    got = values(state)
    assert got["ada_rt"] == 1.0 and got["ada_p"] == pytest.approx(16 / 1000)
    assert got["ada_signs"] == 0 and got["ada_scores"] == 0 and got["ada_steps"] == 0
    assert float(logs["ada_p"]) == got["ada_p"]


# --------------------------------------------------------------- training
@pytest.mark.both_backends
@pytest.mark.parametrize("cls, kwargs", [
    (ganzoo.DCGAN, dict(ALL_ON)),
    (ganzoo.DCGAN, dict(augment="ada", ada_kimg=1, num_classes=3)),
    (ganzoo.WGANGP, dict(augment="diffaugment", pack=2, r1_gamma=1.0)),
    (ganzoo.SNGAN, dict(augment="ada", ada_kimg=1, lecam_weight=0.3, r1_gamma=0.5, r1_every=2)),
], ids=["dcgan_all", "cdcgan_ada", "wgan_gp_pack", "sngan_ada"])
def test_training_with_the_options_logs_finite_metrics(cls, kwargs, tiny_model, image_dataset):
    model = tiny_model(cls, **kwargs)
    model.compile(jit_compile=keras.backend.backend() != "torch")
    data = image_dataset(n=64, labels=model.num_classes is not None)
    history = model.fit(data, epochs=1, verbose=0).history
    expected = set(model.metric_names) | set(model.regularizer_metric_names()) | set(model.signal_names)
    assert set(history) == expected
    assert all(np.isfinite(v).all() for v in history.values()), history


def _overfit(tiny_model, d_lr, real):
    """p after 20 D steps of a tiny DCGAN with ADA (p moves 0.032 per 4 steps), G frozen."""
    model = tiny_model(ganzoo.DCGAN, augment="ada", ada_kimg=1)
    model.compile(d_optimizer=keras.optimizers.Adam(d_lr, beta_1=0.5), g_optimizer=keras.optimizers.SGD(0.0))
    model._game_variables["ada_p"].assign(0.5)
    history = model.fit(real, batch_size=8, epochs=20, verbose=0, shuffle=False).history
    return float(model._game_variables["ada_p"].numpy()), history


@pytest.mark.both_backends
def test_ada_p_rises_when_d_overfits_a_tiny_set_and_falls_when_it_cannot(tiny_model):
    real = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    p, history = _overfit(tiny_model, 1e-2, real)  # D memorizes 8 images against a frozen G
    assert history["ada_rt"][-1] > 0.6 and p > 0.55, (p, history["ada_rt"])
    p, history = _overfit(tiny_model, 0.0, real)  # a D that does not learn: r_t far below the target
    assert history["ada_rt"][-1] < 0.6 and p < 0.45, (p, history["ada_rt"])


@pytest.mark.both_backends
def test_ada_state_is_saved_and_resumed_bit_exact(tmp_path, tiny_model, image_dataset):
    model = tiny_model(ganzoo.DCGAN, augment="ada", ada_kimg=1, lecam_weight=0.3, r1_gamma=1.0, r1_every=2)
    model.compile()
    model._game_variables["ada_p"].assign(0.25)  # p > 0: T in use
    data = image_dataset(n=48)
    model.fit(data, epochs=1, verbose=0)  # 6 steps: mid-interval accumulators, a lazy-R1 counter at 6
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for name, variable in model._game_variables.items():
        assert float(loaded._game_variables[name].numpy()) == float(variable.numpy()), name
    assert float(model._game_variables["ada_p"].numpy()) != 0.25  # adjusted once, at step 4
    model.fit(data, epochs=1, verbose=0)
    loaded.fit(data, epochs=1, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


@pytest.mark.both_backends
def test_mixed_precision_with_augmentation_is_finite(tiny_model, image_dataset):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = tiny_model(ganzoo.DCGAN, **ALL_ON)
    model.compile()
    history = model.fit(image_dataset(), epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())


@_TF
def test_float16_loss_scaling_with_augmentation_is_finite(tiny_model, image_dataset):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = tiny_model(ganzoo.WGANGP, augment="diffaugment", r1_gamma=1.0)
    model.compile()
    history = model.fit(image_dataset(), epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
