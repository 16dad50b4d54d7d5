"""The Keras backend of a training run: which one runs, its distribution strategy, its devices.

TensorFlow runs take a `tf.distribute` strategy; JAX and PyTorch runs train on one device (the
default device the backend picks: a GPU where there is one).
"""

import os

from ganzoo.errors import ConfigError


def with_backend(config):
    """`config` with the Keras backend this process runs (the one `backend` asks for)."""
    import dataclasses

    import keras

    backend = keras.backend.backend()
    if config.backend not in (None, backend):
        raise ConfigError(f"--backend {config.backend}: this process runs Keras on the {backend} backend, "
                          f"chosen when Keras was imported; set KERAS_BACKEND={config.backend} before importing it "
                          "(the ganzoo command does this for --backend).")
    if backend != "tensorflow" and config.strategy != "default":
        raise ConfigError(f"--strategy {config.strategy} is tf.distribute: it needs --backend tensorflow.")
    return dataclasses.replace(config, backend=backend)


def planned_backend():
    """The Keras backend this process runs or will run, read without importing Keras: the one
    Keras runs when it is imported, else $KERAS_BACKEND, else Keras' config file, else tensorflow."""
    import json
    import sys

    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    path = os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME") or "~/.keras"), "keras.json")
    try:
        with open(path) as f:
            backend = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    return backend if isinstance(backend, str) and backend else "tensorflow"


class _NoStrategy:
    """The strategy of a backend without tf.distribute: one device, nothing to scope."""

    def scope(self):
        import contextlib

        return contextlib.nullcontext()


def make_strategy(name):
    import keras

    if keras.backend.backend() != "tensorflow":
        return _NoStrategy()
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "--strategy multi_worker reads the cluster from the TF_CONFIG environment variable, "
                'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", '
                '"index": 0}}; it is not set.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                            and "chief" not in resolver.cluster_spec().as_dict())


def has_gpu():
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.is_available()
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
