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
