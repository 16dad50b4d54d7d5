"""What the discriminator says about the distance between data and generator, and what reaches
the generator: the bounds against exact divergences on constructed cases (a discriminator equal
to D* for two known densities), the generator's gradient against its closed form, the logs in
TensorBoard for every model, and the ground truth beside them on the 2-D toys."""

import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from scipy import integrate, special, stats

import ganzoo
from ganzoo import losses

MU = np.array([1.2, 1.6], "float32")  # |MU| = 2: p = N(0, I), q = N(MU, I)
DIST = float(np.linalg.norm(MU))


def _gaussian_js(d):
    """JS(N(0, 1) || N(d, 1)) in nats, by quadrature."""
    p, q = stats.norm(0, 1).pdf, stats.norm(d, 1).pdf

    def integrand(x):
        m = (p(x) + q(x)) / 2
        return 0.5 * p(x) * math.log(p(x) / m) + 0.5 * q(x) * math.log(q(x) / m)

    return integrate.quad(integrand, -12, 12 + d, limit=200)[0]


def _gaussian_tv(d):
    """TV(N(0, 1), N(d, 1)) = 2 Phi(d / 2) - 1."""
    return 2 * stats.norm.cdf(d / 2) - 1


def _quantiles(n, loc=0.0):
    """n points whose empirical mean of any smooth f approximates E f under N(loc, 1) closely."""
    return (loc + stats.norm.ppf((np.arange(n) + 0.5) / n)).astype("float32")


# ------------------------------------------------------------- the bounds as functions
@pytest.mark.both_backends
def test_js_lower_bound_is_the_js_divergence_at_the_optimal_discriminator_and_below_it_elsewhere():
    d = 1.5
    x_p, x_q = _quantiles(200_000), _quantiles(200_000, loc=d)
    optimal_logit = lambda x: -d * x + d * d / 2  # log p(x) - log q(x): D* = p / (p + q)
    exact = _gaussian_js(d)
    bound = float(losses.js_lower_bound(optimal_logit(x_p), optimal_logit(x_q)))
    assert bound == pytest.approx(exact, abs=2e-4)
    # ganzoo's sign convention: d_loss = -V, so the bound is (log 4 - d_loss) / 2.
    d_loss = float(losses.minimax_discriminator_loss(optimal_logit(x_p), optimal_logit(x_q)))
    assert bound == pytest.approx((math.log(4) - d_loss) / 2, abs=1e-6)
    for worse in (lambda x: 0.5 * optimal_logit(x), lambda x: optimal_logit(x) + 1.0, lambda x: 0 * x):
        assert float(losses.js_lower_bound(worse(x_p), worse(x_q))) < exact - 1e-3
    assert float(losses.js_lower_bound(np.zeros(4), np.zeros(4))) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.both_backends
def test_tv_lower_bound_is_the_total_variation_at_the_hinge_optimum_and_below_it_elsewhere():
    d = 1.5
    x_p, x_q = _quantiles(200_000), _quantiles(200_000, loc=d)
    optimal = lambda x: np.sign(d / 2 - x)  # sign(p - q)
    exact = _gaussian_tv(d)
    assert float(losses.tv_lower_bound(optimal(x_p), optimal(x_q))) == pytest.approx(exact, abs=2e-4)
    for worse in (lambda x: 0.5 * optimal(x), lambda x: np.tanh(d / 2 - x), lambda x: 3 * optimal(x) + 0.5):
        assert float(losses.tv_lower_bound(worse(x_p), worse(x_q))) < exact - 1e-3
    # Uniform[0, 1] vs Uniform[0.5, 1.5]: TV = 1/2; D* = 1, anything in [-1, 1], -1 on the three thirds.
    u_p, u_q = (np.arange(1000) + 0.5) / 1000, 0.5 + (np.arange(1000) + 0.5) / 1000
    d_star = lambda x: np.where(x < 0.5, 1.0, np.where(x > 1.0, -1.0, 0.3))
    assert float(losses.tv_lower_bound(d_star(u_p), d_star(u_q))) == pytest.approx(0.5, abs=1e-6)
    assert float(losses.tv_lower_bound(np.zeros(4), np.zeros(4))) == pytest.approx(0.0, abs=1e-6)


def test_saturated_fraction_counts_fakes_below_one_percent():
    probabilities = np.array([0.001, 0.0099, 0.0101, 0.5, 0.999])
    logits = np.log(probabilities / (1 - probabilities)).astype("float32")
    assert float(losses.saturated_fraction(logits)) == pytest.approx(2 / 5)


def test_binned_total_variation_of_known_histograms():
    from ganzoo.metrics.toy import binned_total_variation

    grid = ((0, 2), (0, 1))
    left, right = np.full((10, 2), 0.5), np.array([[1.5, 0.5]] * 10)
    assert binned_total_variation(left, right, bins=2, value_range=grid) == pytest.approx(1.0)
    assert binned_total_variation(left, left, bins=2, value_range=grid) == pytest.approx(0.0)
    half = np.concatenate([left[:5], right[:5]])
    assert binned_total_variation(left, half, bins=2, value_range=grid) == pytest.approx(0.5)


# ------------------------------------------------- the bounds inside a training step
def _gaussian_pair_model(cls, discriminator_layer, generator_loss=None, pack=1, **kwargs):
    """`cls` with G(z) = z + MU (z ~ N(0, I), so p_g = N(MU, I)) and D the given Dense layer on
    2 * pack inputs, both optimizers at learning rate 0: every step measures the same game."""
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="shift")])
    generator.layers[-1].set_weights([np.eye(2, dtype="float32"), MU])
    discriminator = keras.Sequential([keras.Input((2 * pack,)), discriminator_layer])
    extra = {"generator_loss": generator_loss} if generator_loss else {}
    model = cls(generator=generator, discriminator=discriminator, latent_dim=2, seed=3, pack=pack, **extra, **kwargs)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    return model


def _dense(kernel, bias, activation=None):
    layer = keras.layers.Dense(1, activation=activation)
    layer.build((None, len(kernel)))
    layer.set_weights([np.asarray(kernel, "float32").reshape(-1, 1), np.asarray([bias], "float32")])
    return layer


def _fit_real_normal(model, n=16384, batch=4096):
    x = np.random.default_rng(0).standard_normal((n, 2)).astype("float32")  # p_data = N(0, I)
    history = model.fit(x, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return {k: v[-1] for k, v in history.history.items()}


@pytest.mark.both_backends
@pytest.mark.parametrize("generator_loss", ["non_saturating", "minimax"])
def test_gan_step_logs_the_exact_js_saturation_and_generator_gradient_at_d_star(generator_loss):
    """D = D* (its logit log p - log q = -MU.x + |MU|^2 / 2 is linear): js_lower_bound is the JS
    divergence; the fakes' logits are N(-|MU|^2 / 2, |MU|^2), which gives d_saturation and the
    per-sample gradient norm |l'(s)| |MU| in closed form (minimax: sigmoid(s), non-saturating:
    sigmoid(-s))."""
    model = _gaussian_pair_model(ganzoo.GAN, _dense(-MU, DIST ** 2 / 2), generator_loss)
    logs = _fit_real_normal(model)
    assert logs["js_lower_bound"] == pytest.approx(_gaussian_js(DIST), abs=0.015)
    s = stats.norm(-DIST ** 2 / 2, DIST)
    assert logs["d_saturation"] == pytest.approx(s.cdf(math.log(1 / 99)), abs=0.01)
    sign = 1 if generator_loss == "minimax" else -1
    expected = DIST * s.expect(lambda v: special.expit(sign * v))
    assert logs["g_grad_norm"] == pytest.approx(expected, rel=0.03)


@pytest.mark.both_backends
def test_sngan_step_logs_the_exact_total_variation_at_the_hinge_optimum():
    """D = tanh(K (log p - log q)) with K large is the hinge optimum sign(p - q) but on a band of
    width ~1/K: tv_lower_bound is TV(N(0, I), N(MU, I)) = 2 Phi(|MU| / 2) - 1."""
    model = _gaussian_pair_model(ganzoo.SNGAN, _dense(-1000 * MU, 1000 * DIST ** 2 / 2, "tanh"), n_dis=1)
    logs = _fit_real_normal(model)
    assert logs["tv_lower_bound"] == pytest.approx(_gaussian_tv(DIST), abs=0.02)
    assert logs["g_grad_norm"] < 1.0  # tanh is flat away from the boundary: little gradient


@pytest.mark.both_backends
@pytest.mark.parametrize("pack", [1, 2])
def test_wgan_gp_critic_at_the_optimum_estimates_w1_and_passes_a_unit_gradient(pack):
    """f(x) = -u.x with u = MU / |MU| is 1-Lipschitz and optimal: the estimate is W1 = |MU| (of
    the packed pair too: W1(p^2, q^2) = |(MU, MU)| ... for f summed over the pack, E_p f - E_q f =
    pack |MU|), and each fake's gradient of -f is u, norm 1 exactly (per sample, also in packs)."""
    u = -MU / DIST
    model = _gaussian_pair_model(ganzoo.WGANGP, _dense(np.tile(u, pack), 0.0), pack=pack, n_critic=1)
    logs = _fit_real_normal(model)
    assert logs["wasserstein"] == pytest.approx(pack * DIST, abs=0.05 * pack)
    assert logs["g_grad_norm"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.both_backends
def test_generator_gradient_norm_is_unscaled_under_float16_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = _gaussian_pair_model(ganzoo.WGANGP, _dense(-MU / DIST, 0.0), n_critic=1)
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    logs = _fit_real_normal(model)
    assert logs["g_grad_norm"] == pytest.approx(1.0, abs=2e-3)


def test_finite_mean_leaves_out_non_finite_values():
    from ganzoo.models.trackers import FiniteMean

    mean = FiniteMean()
    for value in (1.0, float("inf"), 3.0, float("nan")):
        mean.update_state(value)
    assert float(mean.result()) == pytest.approx(2.0)


# ------------------------------------------------------------- TensorBoard, every model
SIGNALS = {"gan": ("js_lower_bound", "d_saturation", "g_grad_norm"), "dcgan": ("js_lower_bound", "d_saturation", "g_grad_norm"),
           "wgan_gp": ("wasserstein", "g_grad_norm"), "sngan": ("tv_lower_bound", "g_grad_norm")}


@pytest.mark.both_backends
@pytest.mark.parametrize("name", ["gan", "dcgan", "wgan_gp", "sngan"])
def test_every_model_logs_its_bound_and_signal_beside_the_toy_ground_truth(name, tmp_path, read_events):
    """`ganzoo train` on the ring: the step and epoch scalars of the model's bound and generator
    signal, and the exact W1 and binned JS / TV of its samples, read back from the event files."""
    from ganzoo.cli.main import main

    run = tmp_path / "run"
    pack = ["--pack", "2"] if name == "gan" else []
    assert main(["train", name, "--dataset", "gaussian_ring", "--run-dir", str(run), "--epochs", "1",
                 "--batch-size", "16", "--width", "4", "--latent-dim", "4", "--steps-per-epoch", "2",
                 "--d-steps", "1", "--log-every", "1", "--quiet", *pack]) == 0
    values, _ = read_events(str(run / "logs" / "run"))
    for key in SIGNALS[name]:
        assert [s for s, _ in values[f"step/{key}"]] == [1, 2], key
        ((step, epoch_value),) = values[f"epoch/{key}"]
        assert step == 2 and np.isfinite(epoch_value), key
        np.testing.assert_allclose(np.mean([v for _, v in values[f"step/{key}"]]), epoch_value, rtol=1e-5, atol=1e-6)
    truth = {key: values[f"epoch/true_{key}"][0][1] for key in ("wasserstein", "js", "tv")}
    assert 0 < truth["js"] <= math.log(2) + 1e-6 and 0 < truth["tv"] <= 1 + 1e-6 and truth["wasserstein"] > 0, truth
    assert ("epoch/true_wasserstein_packed" in values) == (name == "gan")


def test_ground_truth_of_the_true_mixture_is_near_zero_and_of_a_shifted_one_is_exact():
    """ToyGroundTruth on a 'model' whose samples are the callback's own true points (W1, JS, TV
    0), then those points moved by (0.5, 0): W1 is exactly 0.5 (no matching moves the mean by
    less, the identity moves every point by that), disjoint bins give JS log 2 and TV 1."""
    from ganzoo.data import toy_distribution
    from ganzoo.runs.callbacks.ground_truth import ToyGroundTruth

    ring = toy_distribution("gaussian_ring")

    class Sampler:
        num_classes, pack, shift = None, 1, np.zeros(2)

        def generate(self, n, seed=None, labels=None):
            return ring.sample(n, seed=0) + self.shift  # the callback's true points (seed 0)

    truth = ToyGroundTruth(writer=None, toy=ring, num_samples=5000, w1_samples=500, seed=0)
    model = Sampler()
    same = truth.measure(model)
    assert same == {"epoch/true_wasserstein": 0.0, "epoch/true_js": 0.0, "epoch/true_tv": 0.0}
    model.shift = np.array([0.5, 0.0])
    moved = truth.measure(model)
    assert moved["epoch/true_wasserstein"] == pytest.approx(0.5, abs=1e-6)
    assert moved["epoch/true_js"] == pytest.approx(math.log(2), abs=1e-3)
    assert moved["epoch/true_tv"] == pytest.approx(1.0, abs=1e-3)


# --------------------------------------------------------------------- tf.distribute
MIRRORED_SIGNALS = textwrap.dedent("""
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    tf.config.experimental.enable_op_determinism()
    import ganzoo
    worst = {}
    cases = {"gan_pack": (ganzoo.GAN, {"pack": 2}), "sngan": (ganzoo.SNGAN, {"n_dis": 1})}
    for name in sys.argv[1:]:  # one model per process (see test_models.py's MIRRORED_SCRIPT)
        cls, kw = cases[name]
        x = np.random.default_rng(0).uniform(-1, 1, (64, 2)).astype("float32")
        ds = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True)
        init, logs = None, []
        for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"),
                         tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
            with strategy.scope():
                m = cls(data_shape=(2,), latent_dim=4, width=8, seed=3, **kw)
                m.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
            if init is None:
                init = m.get_weights()
            else:
                m.set_weights(init)
            logs.append({k: v[-1] for k, v in m.fit(ds, epochs=1, verbose=0, shuffle=False).history.items()})
        keys = [k for k in m.signal_names]
        worst[name] = {k: abs(logs[0][k] - logs[1][k]) / max(1e-3, abs(logs[0][k])) for k in keys}
        worst[name]["values"] = {k: logs[1][k] for k in keys}
    print("SIGNALS", worst)
""")


@pytest.mark.tensorflow_only  # tf.distribute
@pytest.mark.parametrize("name", ["gan_pack", pytest.param("sngan", marks=pytest.mark.slow)])
def test_signals_under_mirrored_strategy_equal_the_single_device_values(name):
    """Two replicas of half the batch each log the same bounds and generator gradient norm as
    one device on the whole batch (the per-replica means are combined as Keras combines losses,
    the replica's loss scaling of 1/2 is undone for the gradient)."""
    out = subprocess.run([sys.executable, "-c", MIRRORED_SIGNALS, name], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    line = [l for l in out.stdout.splitlines() if l.startswith("SIGNALS")]
    assert line, out.stderr[-3000:]
    worst = eval(line[0][len("SIGNALS"):])
    for name, diffs in worst.items():
        values = diffs.pop("values")
        assert all(np.isfinite(v) for v in values.values()), (name, values)
        assert max(diffs.values()) < 1e-4, (name, diffs)


# ------------------------------------------------- the vanishing gradient, reproduced
def _tool(repo_root, name):
    import importlib.util

    sys.path.insert(0, os.path.join(repo_root, "tools"))  # the tools import their siblings as scripts
    spec = importlib.util.spec_from_file_location(name, os.path.join(repo_root, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_minimax_generator_gradient_vanishes_as_d_approaches_d_star_and_non_saturating_does_not(repo_root):
    """Arjovsky & Bottou 2017, Fig. 2, tiny: a frozen G whose samples lie inside the ring (disjoint
    supports), a fresh D trained 1,000 steps: the JS bound reaches log 2, every fake is saturated,
    the minimax signal falls by more than two orders of magnitude, the non-saturating one grows."""
    tool = _tool(repo_root, "theory_vanishing_gradient")
    start, end = tool.run(steps=[0, 1000], g_steps=0, width=32, batch=64, eval_points=512, d_learning_rate=1e-2)
    assert end["minimax"] < 1e-2 * start["minimax"], (start, end)
    assert end["non_saturating"] > 10 * start["non_saturating"], (start, end)
    assert end["js_lower_bound"] > 0.68 and end["d_saturation"] > 0.99, end
    assert abs(start["js_lower_bound"]) < 0.05  # a fresh D says about nothing


@pytest.mark.slow  # a benchmark, ~30 CPU-s
def test_signal_overhead_tool_runs(repo_root, subprocess_env):
    out = subprocess.run([sys.executable, os.path.join(repo_root, "tools", "signal_overhead.py"), "--quick",
                          "--cases", "gan_ring"], capture_output=True, text=True, timeout=600, env=subprocess_env())
    assert out.returncode == 0, out.stderr[-3000:]
    assert "| gan_ring |" in out.stdout
