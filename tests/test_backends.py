"""The JAX and PyTorch backends: the same training as on TensorFlow, and no TensorFlow needed to train.

Backends are per process, so the JAX and PyTorch side of each test runs in a subprocess."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("jax")


def _helper(repo_root):
    spec = importlib.util.spec_from_file_location("backend_equivalence",
                                                  os.path.join(repo_root, "tests", "backend_equivalence.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_backend(backend, args, subprocess_env, timeout=300, **env):
    """`python ARGS` on `backend` (KERAS_BACKEND=backend unless `env` overrides it)."""
    out = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                         env=subprocess_env(**{"KERAS_BACKEND": backend, **env}))
    assert out.returncode == 0, out.stderr[-4000:]
    return out


def _run_jax(args, subprocess_env, timeout=300, **env):
    return _run_backend("jax", args, subprocess_env, timeout, **env)


def _needs_torch(backend):
    if backend == "torch":
        pytest.importorskip("torch")


# The tests marked `both_backends` (all of test_losses.py; the training, k-step, save/load, EMA,
# precision and bad-input tests of test_models.py; conditional training and round trips; spectral
# norm and SN-GAN's n_dis steps; the CLI's train, resume, export/sample/evaluate and in-step NaN
# check) run a second time on JAX in the project's test command (README, .ci/run):
#     KERAS_BACKEND=jax python3 -m pytest -q -m "both_backends and not slow"
# and on PyTorch with KERAS_BACKEND=torch (about 65 CPU-seconds more). The rest is backend-neutral
# construction/validation or TensorFlow-specific (`tensorflow_only`, skipped on the other backends).


@pytest.mark.tensorflow_only  # the reference run is this process, on TensorFlow
def test_jax_and_torch_steps_equal_tensorflow_steps(repo_root, subprocess_env, tmp_path):
    """Same initial weights, data and injected noise: 3 steps of GAN, DCGAN (with EMA), WGAN-GP
    (2 critic steps, PacGAN packs of 2), their conditional forms and SN-GAN give the same weights
    and optimizer state on JAX and on PyTorch as on TensorFlow (the TensorFlow run here, then the
    other two in concurrent subprocesses, which also check that TensorFlow was never imported)."""
    helper = _helper(repo_root)
    tf_results = helper.run()  # this process runs TensorFlow
    helper.save(tmp_path / "tf.npz", tf_results)
    script = os.path.join(repo_root, "tests", "backend_equivalence.py")
    backends = ["jax"] + (["torch"] if importlib.util.find_spec("torch") else [])
    runs = {backend: subprocess.Popen([sys.executable, script, tmp_path / "tf.npz", tmp_path / f"{backend}.npz"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=subprocess_env(KERAS_BACKEND=backend)) for backend in backends}
    try:
        errors = {backend: run.communicate(timeout=300)[1] for backend, run in runs.items()}
    finally:
        for run in runs.values():
            run.kill()
    for backend in backends:
        assert runs[backend].returncode == 0, f"{backend}: {errors[backend][-4000:]}"
        other = helper.load(tmp_path / f"{backend}.npz")
        for name in helper.CASES:
            ours, theirs, init = tf_results[name], other[name], tf_results[f"{name}/init"]
            assert len(ours) == len(theirs), (backend, name)
            moved = max(float(np.abs(a - b).max()) for a, b in zip(ours, init))
            assert moved > 1e-3, f"{name}: training did not change the weights"
            for i, (a, b) in enumerate(zip(ours, theirs)):
                np.testing.assert_allclose(b, a, atol=1e-5, rtol=0, err_msg=f"{backend}, {name}: variable {i}")


#: Run with `without_tensorflow` (conftest): TensorFlow cannot be imported.
TRAINING = textwrap.dedent("""
    import os
    import numpy as np
    import keras
    import ganzoo
    backend = keras.backend.backend()
    assert backend in ("jax", "torch"), backend
    x = np.random.default_rng(0).uniform(-1, 1, (64, 8, 8, 1)).astype("float32")
    # (bfloat16, DCGAN and the conditional models run on JAX in the JAX pass of the test command,
    # with TensorFlow installed: tests/test_models.py, test_conditional_models.py)
    for cls, kwargs in ((ganzoo.WGANGP, {"n_critic": 2}),):
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = cls(data_shape=(8, 8, 1), latent_dim=4, width=8, seed=1, **kwargs)
        # XLA on JAX; on torch jit_compile is torch.compile, minutes to compile a GAN step (README).
        model.compile(ema_decay=0.9, steps_per_execution=2, jit_compile=backend == "jax")
        history = model.fit(x, batch_size=8, epochs=2, verbose=0)
        assert all(np.isfinite(v).all() for v in history.history.values()), history.history
        steps = int(model.g_optimizer.iterations)
        assert steps == 2 * 8 // model.d_steps and int(model.d_optimizer.iterations) == 16, steps
        path = os.path.join(sys.argv[1], cls.__name__ + ".keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        np.testing.assert_array_equal(loaded.generate(4, seed=0), model.generate(4, seed=0))
        for a, b in zip(loaded.g_optimizer.variables, model.g_optimizer.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        loaded.fit(x, batch_size=8, epochs=1, verbose=0)  # resumes: the optimizers carry on
        assert int(loaded.g_optimizer.iterations) == steps + 8 // model.d_steps
    if backend == "torch":  # bfloat16 on JAX: test_models.py in the JAX pass of the test command
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        model = ganzoo.DCGAN(data_shape=(8, 8, 1), latent_dim=4, width=8, seed=1)
        model.compile()
        history = model.fit(x, batch_size=8, epochs=1, verbose=0)
        assert all(np.isfinite(v).all() for v in history.history.values()), history.history
        assert model.generate(2, seed=0).dtype == np.float32
    batches = (x[i:i + 8] for i in range(0, 64, 8))  # a Python iterator of batches, k = 2
    keras.mixed_precision.set_global_policy("float32")
    model = ganzoo.WGANGP(data_shape=(8, 8, 1), latent_dim=4, width=8, n_critic=2)
    model.compile()
    model.fit(batches, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == 8 and int(model.g_optimizer.iterations) == 4
    try:
        ganzoo.export_generator(model, os.path.join(sys.argv[1], "export"))
    except Exception as e:
        assert "TensorFlow" in str(e) and "pip install" in str(e), e
    else:
        raise AssertionError("export without TensorFlow did not fail")
    from ganzoo import losses  # the penalty's input gradient on a plain Keras critic: jax.grad
    critic = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    critic.layers[-1].kernel.assign(np.full((4, 1), 1.5, "float32"))  # grad f = w, ||w|| = 3
    real, fake = np.ones((3, 4), "float32"), np.zeros((3, 4), "float32")
    gp = losses.gradient_penalty(critic, real, fake, np.array([0.1, 0.5, 0.9], "float32"))
    assert abs(float(keras.ops.convert_to_numpy(gp)) - 4.0) < 1e-5, gp
    assert abs(float(losses.minimax_discriminator_loss(np.zeros(4), np.zeros(4))) - np.log(4)) < 1e-6
    from ganzoo.runs.callbacks.nan_guard import NaNGuard  # the divergence check runs inside the JAX step too
    model = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=4)
    model.compile(steps_per_execution=4)
    points = np.random.default_rng(0).uniform(-1, 1, (96, 2)).astype("float32")
    points[5 * 8] = np.nan
    guard = NaNGuard(12)
    model.fit(points, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    assert "diverged at step 6 (epoch 1)" in guard.failure, guard.failure
    from ganzoo.runs.callbacks.tensorboard import TensorBoardLogger  # TensorBoard events without TensorFlow
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    model = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=4)
    model.compile(steps_per_execution=4)
    log_dir = os.path.join(sys.argv[1], "logs")
    logger = TensorBoardLogger(log_dir, 10, np.zeros((4, 2), "float32"), log_every=4)
    clean = np.random.default_rng(1).uniform(-1, 1, (80, 2)).astype("float32")  # a last call of 2 steps
    model.fit(clean, batch_size=8, epochs=2, verbose=0, callbacks=[logger])
    logger.writer.close()
    events = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    events.Reload()
    assert [e.step for e in events.Tensors("step/d_loss")] == [4, 8, 10, 14, 18, 20], events.Tensors("step/d_loss")
    assert [e.step for e in events.Tensors("epoch/d_loss")] == [10, 20] and "samples" in events.Tags()["tensors"]
    assert "tensorflow" not in sys.modules
    print("OK")
""")


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_trains_saves_and_resumes_without_tensorflow(backend, subprocess_env, tmp_path, without_tensorflow):
    """WGAN-GP (k = 2, mixed_float16: loss scaling) with EMA, steps_per_execution and XLA on JAX
    (eager on torch), .keras save/load/resume, a Python iterator of batches, the penalty's input
    gradient, the NaN guard and a clear export error (and on torch a bfloat16 DCGAN), in a
    process where TensorFlow cannot be imported (the data sources without TensorFlow:
    tests/test_data_without_tensorflow.py)."""
    _needs_torch(backend)
    script = without_tensorflow(TRAINING)
    if backend == "torch":
        # Keras' torch backend imports torch._dynamo, whose trace rules probe find_spec("tensorflow");
        # the test's blocker answers with ImportError, not the None of a machine without TensorFlow.
        script = "import torch._dynamo\n" + script
    out = _run_backend(backend, ["-c", script, tmp_path], subprocess_env)
    assert "OK" in out.stdout


def test_import_ganzoo_under_jax_does_not_import_tensorflow(subprocess_env):
    # (on torch: the equivalence subprocess checks it after training, where TensorFlow is installed)
    code = "import sys, ganzoo, keras; ganzoo.DCGAN; assert 'tensorflow' not in sys.modules, 'tensorflow'"
    _run_jax(["-c", code], subprocess_env)


@pytest.mark.parametrize("setting, enabled", [(None, "True"), ("0", "False")])
def test_import_ganzoo_turns_on_tensorflows_onednn_kernels_unless_the_user_set_them(subprocess_env, setting,
                                                                                       enabled):
    # TensorFlow's own default is off on CPUs without AVX512 VNNI / BF16 or AMX (the 2-core CI VM).
    code = ("import ganzoo, tensorflow; from tensorflow.python.util import _pywrap_util_port as port; "
            "print(port.IsMklEnabled())")
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env(TF_ENABLE_ONEDNN_OPTS=setting),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == enabled


EXPORT_FROM_JAX = textwrap.dedent("""
    import sys
    import numpy as np
    import ganzoo
    model = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=8, seed=0)
    model.compile()
    model.fit(np.random.default_rng(0).normal(size=(16, 2)).astype("float32"), batch_size=8, epochs=1, verbose=0)
    path = ganzoo.export_generator(model, sys.argv[1], formats=("onnx",))
    exported = ganzoo.load_exported(sys.argv[1])
    np.testing.assert_allclose(exported.generate(5, seed=0), model.generate(5, seed=0), atol=1e-5)
    print("EXPORTED", path)
""")


@pytest.mark.slow  # ~30 s idle: a JAX process that starts a TensorFlow export process
def test_export_from_jax_runs_in_a_tensorflow_subprocess(subprocess_env, tmp_path):
    out = _run_jax(["-c", EXPORT_FROM_JAX, tmp_path / "exported"], subprocess_env)
    assert "EXPORTED" in out.stdout and (tmp_path / "exported" / "1" / "generator.onnx").exists()


def test_cli_backend_is_recorded_and_a_resume_keeps_it(subprocess_env, tmp_path, without_tensorflow):
    """`ganzoo train --backend jax` records the backend; resuming on TensorFlow is refused before
    TensorFlow loads; KERAS_BACKEND=jax names the recorded backend as well as --backend does (the
    resume itself under JAX: tests/test_train.py's resume test in the JAX pass of the test command)."""
    import json

    from ganzoo.runs.record import check_resume_backend

    run = ["-m", "ganzoo", "train", "wgan_gp", "--dataset", "gaussian_ring", "--batch-size", "16", "--width", "4",
           "--latent-dim", "8", "--steps-per-epoch", "2", "--d-steps", "2", "--ema", "0.9", "--quiet",
           "--run-dir", tmp_path / "run"]
    _run_jax([*run, "--epochs", "1", "--backend", "jax"], subprocess_env, KERAS_BACKEND=None)
    with open(tmp_path / "run" / "config.json") as f:
        assert json.load(f)["backend"] == "jax"
    # Where TensorFlow cannot be imported, the refusal still comes: it is made before TensorFlow loads.
    refuse = without_tensorflow("import sys; from ganzoo.cli.main import main; sys.exit(main(sys.argv[1:]))")
    for how in (["--backend", "tensorflow"], []):
        refused = subprocess.run([sys.executable, "-c", refuse, *map(str, run[2:]), "--epochs", "2", *how],
                                 capture_output=True, text=True, timeout=300,
                                 env=subprocess_env(KERAS_BACKEND=None if how else "tensorflow"))
        assert refused.returncode == 2 and "trained on the jax backend" in refused.stderr, refused.stderr[-2000:]
        assert "--backend jax" in refused.stderr
    check_resume_backend(str(tmp_path / "run"), "jax")  # the recorded backend is accepted


CLI_TRAIN_AND_RESUME = textwrap.dedent("""
    import sys
    from ganzoo.cli.main import main
    run = ["train", "wgan_gp", "--dataset", "gaussian_ring", "--batch-size", "16", "--width", "4", "--latent-dim",
           "8", "--steps-per-epoch", "2", "--d-steps", "2", "--ema", "0.9", "--quiet", "--run-dir", sys.argv[1]]
    assert main([*run, "--epochs", "1", "--backend", "torch"]) == 0
    assert main([*run, "--epochs", "2"]) == 0  # resumes from the checkpoint, on the recorded backend
""")


def test_cli_trains_and_resumes_on_torch(subprocess_env, tmp_path):
    """`ganzoo train --backend torch` records the backend and a resume carries on from the
    checkpoint (one process: ganzoo's CLI twice); a resume on another backend is refused (the
    check that the CLI makes before importing a backend; the refusal itself: the JAX test above)."""
    import json

    from ganzoo.errors import ConfigError
    from ganzoo.runs.record import check_resume_backend

    pytest.importorskip("torch")
    run = tmp_path / "run"
    _run_backend("torch", ["-c", CLI_TRAIN_AND_RESUME, run], subprocess_env, KERAS_BACKEND=None)
    with open(run / "config.json") as f:
        assert json.load(f)["backend"] == "torch"
    with open(run / "checkpoints" / "latest.json") as f:
        assert json.load(f)["step"] == 4  # 2 generator steps per epoch, 2 epochs
    with pytest.raises(ConfigError, match="trained on the torch backend.*--backend torch"):
        check_resume_backend(str(run), "jax")
    check_resume_backend(str(run), "torch")
