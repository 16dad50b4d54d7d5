import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

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


@pytest.fixture(autouse=True)
def _float32_policy_and_seed():
    """Every test starts from the float32 policy and a fixed seed, whatever the last one did."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")


def image_dataset(n=32, shape=(8, 8, 1), batch=8, seed=0, labels=False):
    import tensorflow as tf

    x = np.random.default_rng(seed).uniform(-1, 1, (n,) + tuple(shape)).astype("float32")
    if labels:
        return tf.data.Dataset.from_tensor_slices((x, np.zeros(n, "int64"))).batch(batch, drop_remainder=True)
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True)
