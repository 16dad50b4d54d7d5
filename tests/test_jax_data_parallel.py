"""Data parallelism on JAX: `keras.distribution.DataParallel` and `ganzoo train --strategy data_parallel`.

The two-device runs need XLA_FLAGS set before JAX is imported, so they run in subprocesses with
two CPU host devices (the test command's first pass runs them)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

TWO_DEVICES = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}

EQUIVALENCE_SCRIPT = textwrap.dedent("""
    import contextlib, json, sys
    import jax, keras, numpy as np
    import ganzoo
    assert len(jax.devices()) == 2, jax.devices()
    cases = {"gan": (ganzoo.GAN, (2,), {}), "dcgan": (ganzoo.DCGAN, (8, 8, 1), {}),
             "wgan_gp": (ganzoo.WGANGP, (8, 8, 1), {"n_critic": 2}), "sngan": (ganzoo.SNGAN, (8, 8, 1), {"n_dis": 1})}
    worst = {}
    for case in sys.argv[1:]:
        name, *forms = case.split("/")
        cls, shape, kw = cases[name]
        conditional = "conditional" in forms
        kw = dict(kw, num_classes=3) if conditional else kw
        kw = dict(kw, n_dis=2) if "n_dis2" in forms else kw
        if "augment" in forms:  # ADA's p and LeCam's anchors (game variables), lazy R1 in a cond
            kw = dict(kw, augment="ada", ada_kimg=1, lecam_weight=0.3, r1_gamma=1.0, r1_every=2)
        per_call = 2 if "spe2" in forms else 1  # steps per compiled call
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, (64,) + shape).astype("float32")
        y = rng.integers(0, 3, 64).astype("int32") if conditional else None
        init, states = None, []
        for distribution in (None, keras.distribution.DataParallel()):
            with distribution.scope() if distribution else contextlib.nullcontext():
                m = cls(data_shape=shape, latent_dim=4, width=4, seed=3, **kw)
                m.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1), ema_decay=0.9,
                          steps_per_execution=per_call)
                if init is None:
                    init = m.get_weights()
                else:
                    m.set_weights(init)
                if "ada_p" in m._game_variables:
                    m._game_variables["ada_p"].assign(0.5)
                m.fit(x, y, batch_size=8, epochs=1, steps_per_epoch=2 * per_call, verbose=0, shuffle=False)
            variables = m.weights + m.d_optimizer.variables + m.g_optimizer.variables  # G, D, seed, EMA, slots
            if distribution:
                # Every variable replicated on both devices: the seed state, batch-norm statistics, EMA.
                bad = [v.path for v in variables if v.value.sharding.spec != jax.sharding.PartitionSpec(*[None] * v.ndim)]
                assert not bad and len(variables[0].value.sharding.device_set) == 2, bad
                try:
                    with distribution.scope():
                        m.fit(x, y, batch_size=7, epochs=1, verbose=0)
                    raise AssertionError("a batch of 7 on 2 devices was not refused")
                except ValueError as e:
                    assert "batches of 7 do not split evenly across the 2 devices" in str(e), e
            states.append([np.asarray(v.value) for v in variables])
        worst[case] = max(float(np.abs(a - b).max()) for a, b in zip(*states))
    print("MAXDIFF", json.dumps(worst))
""")

# Each model, conditional in two of the four, WGAN-GP with k = 2 critic batches, DCGAN at 2 steps
# per compiled call: two subprocesses of ~25 CPU-seconds each (compiling dominates), which
# pytest-xdist runs side by side. The other forms, SN-GAN's n_dis = 2 and DCGAN with ADA, LeCam and
# lazy R1 among them, are slow-marked (~60 CPU-seconds).
FAST_CASES = [("gan/conditional", "sngan"), ("dcgan/spe2", "wgan_gp/conditional")]
SLOW_CASES = ["gan", "dcgan/conditional", "wgan_gp", "sngan/conditional/n_dis2", "dcgan/augment"]


def _equivalence(cases, subprocess_env):
    out = subprocess.run([sys.executable, "-c", EQUIVALENCE_SCRIPT, *cases], capture_output=True, text=True,
                         timeout=600, env=subprocess_env(**TWO_DEVICES))
    line = [line for line in out.stdout.splitlines() if line.startswith("MAXDIFF")]
    assert line, out.stderr[-4000:]
    worst = json.loads(line[0][len("MAXDIFF"):])
    assert set(worst) == set(cases) and max(worst.values()) < 1e-5, worst


@pytest.mark.parametrize("cases", FAST_CASES, ids="+".join)
def test_data_parallel_steps_equal_single_device_steps(cases, subprocess_env):
    """2 steps (SGD, EMA of G; 4 at 2 per compiled call for DCGAN) on a DataParallel mesh of two
    devices, global batch 8, give the weights, EMA and optimizer state of the same steps on one
    device within 1e-5: the noise, batch-norm statistics and gradients are the global batch's. A
    batch the devices cannot split is refused."""
    _equivalence(cases, subprocess_env)


@pytest.mark.slow
def test_data_parallel_steps_equal_single_device_steps_other_forms(subprocess_env):
    _equivalence(SLOW_CASES, subprocess_env)


CLI_SCRIPT = textwrap.dedent("""
    import sys
    from ganzoo.cli.main import main
    run_dir, export_dir = sys.argv[1:3]
    run = ["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "8", "--batch-size", "8", "--width", "4",
           "--latent-dim", "4", "--steps-per-epoch", "2", "--ema", "0.9", "--quiet", "--conditional",
           "--run-dir", run_dir, "--backend", "jax"]
    # Refused, one line each, before anything is written: tf.distribute on JAX; a batch of 7 on 2 devices.
    assert main([*run, "--epochs", "1", "--strategy", "mirrored"]) == 2
    assert main([*run, "--epochs", "1", "--strategy", "data_parallel", "--batch-size", "7"]) == 2
    assert main([*run, "--epochs", "1", "--strategy", "data_parallel"]) == 0
    assert main([*run, "--epochs", "2", "--strategy", "data_parallel", "--export", export_dir]) == 0  # resumes
""")


def test_cli_trains_data_parallel_resumes_and_exports(subprocess_env, tmp_path):
    """`ganzoo train --backend jax --strategy data_parallel` on two devices: a conditional DCGAN
    with EMA trains an epoch, resumes for a second from its checkpoint and exports; tf.distribute's
    strategy is refused naming data_parallel, and a batch the devices cannot split is refused."""
    run_dir, export_dir = tmp_path / "run", tmp_path / "export"
    out = subprocess.run([sys.executable, "-c", CLI_SCRIPT, run_dir, export_dir], capture_output=True, text=True,
                         timeout=600, env=subprocess_env(**TWO_DEVICES))
    assert out.returncode == 0, out.stderr[-4000:]
    refusals = [line for line in out.stderr.splitlines() if line.startswith("Error") or "--strategy" in line]
    assert any("--strategy mirrored is tf.distribute" in line and "use --strategy data_parallel" in line
               for line in refusals), out.stderr[-4000:]
    assert any("--batch-size 7" in line and "the 2 devices" in line for line in refusals), out.stderr[-4000:]
    with open(run_dir / "config.json") as f:
        assert json.load(f)["strategy"] == "data_parallel"
    with open(run_dir / "checkpoints" / "latest.json") as f:
        assert json.load(f)["step"] == 4  # 2 steps per epoch, the second epoch resumed
    assert (export_dir / "1" / "generator.onnx").exists()
    assert os.listdir(run_dir / "logs")  # TensorBoard events


def test_a_strategy_of_another_backend_is_refused_naming_the_one_that_fits():
    from ganzoo.runs.backend import strategy_refusal

    assert strategy_refusal("data_parallel", "tensorflow") == (
        "--strategy data_parallel is keras.distribution on JAX: it needs --backend jax; on tensorflow use "
        "--strategy mirrored.")
    assert strategy_refusal("mirrored", "jax") == (
        "--strategy mirrored is tf.distribute: it needs --backend tensorflow; on jax use --strategy data_parallel.")
    assert "needs --backend tensorflow; on jax use --strategy data_parallel" in strategy_refusal("multi_worker", "jax")
    assert "torch backend trains on one device" in strategy_refusal("data_parallel", "torch")
    for strategy, backend in (("default", "jax"), ("data_parallel", "jax"), ("mirrored", "tensorflow")):
        assert strategy_refusal(strategy, backend) is None


def test_data_parallel_is_refused_off_jax(tmp_path):
    """In this process's backend (TensorFlow in the test command's first pass)."""
    import keras

    from ganzoo import TrainConfig
    from ganzoo.errors import ConfigError
    from ganzoo.runs.backend import with_backend

    if keras.backend.backend() == "jax":
        pytest.skip("data_parallel is JAX's")
    config = TrainConfig(model="gan", dataset="gaussian_ring", strategy="data_parallel", run_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="needs --backend jax; on tensorflow use --strategy mirrored"):
        with_backend(config)
