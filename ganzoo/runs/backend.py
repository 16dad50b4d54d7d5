"""The Keras backend of a training run: which one runs, its distribution strategy, its devices.

TensorFlow runs take a `tf.distribute` strategy (mirrored, multi_worker); JAX runs take
`keras.distribution.DataParallel` (data_parallel: every device of every process); otherwise a
run trains on one device (the default device the backend picks: a GPU where there is one).
"""

import importlib.util
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
    refusal = strategy_refusal(config.strategy, backend)
    if refusal:
        raise ConfigError(refusal)
    return dataclasses.replace(config, backend=backend)


#: The backend each strategy runs on, and the strategy of each backend that runs on several devices.
STRATEGY_BACKEND = {"mirrored": "tensorflow", "multi_worker": "tensorflow", "data_parallel": "jax"}
BACKEND_STRATEGY = {"tensorflow": "mirrored", "jax": "data_parallel"}


def strategy_refusal(strategy, backend):
    """The one-line reason `strategy` cannot run on `backend` (naming the strategy that can), or None."""
    needs = STRATEGY_BACKEND.get(strategy)
    if needs is None or needs == backend:
        return None
    what = "tf.distribute" if needs == "tensorflow" else "keras.distribution on JAX"
    instead = (f"on {backend} use --strategy {BACKEND_STRATEGY[backend]}" if backend in BACKEND_STRATEGY
               else f"the {backend} backend trains on one device (--strategy default)")
    return f"--strategy {strategy} is {what}: it needs --backend {needs}; {instead}."


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


#: What `keras.distribution.initialize` reads to join several processes into one run.
PROCESS_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")


class DataParallelStrategy:
    """--strategy data_parallel on JAX: `keras.distribution.DataParallel` over every device of
    every process (several processes once `keras.distribution.initialize` has joined them, which
    this does when $KERAS_DISTRIBUTION_* is set). Variables are replicated and each batch is split
    along its first axis; the step is one global-array program, so it computes (and draws the
    noise) as on one device. Process 0 is the chief."""

    def __init__(self, batch_size=None):
        import jax
        import keras

        if any(os.environ.get(name) for name in PROCESS_ENV) and not jax.distributed.is_initialized():
            keras.distribution.initialize()  # before any JAX computation
        self.distribution = keras.distribution.DataParallel()
        self.num_replicas_in_sync = self.distribution.device_mesh.devices.size
        self.process_id, self.num_processes = jax.process_index(), jax.process_count()
        if batch_size is not None and batch_size % self.num_replicas_in_sync:
            n = self.num_replicas_in_sync
            raise ConfigError(f"--batch-size {batch_size} does not split evenly across the {n} devices of --strategy "
                              f"data_parallel: use a multiple of {n}, such as {max(1, round(batch_size / n)) * n}.")
        if self.num_processes > 1 and importlib.util.find_spec("tensorflow") is None:
            raise ConfigError("--strategy data_parallel across several processes shards the data per process with "
                              "tf.data: install TensorFlow (pip install tensorflow-cpu) on every host.")

    def scope(self):
        return self.distribution.scope()


def make_strategy(name, batch_size=None):
    """The run's strategy: a `tf.distribute` one on TensorFlow, `DataParallelStrategy` for
    data_parallel on JAX, else one device. `batch_size` (the global batch) must split evenly
    across the devices."""
    import keras

    if name == "data_parallel":
        return DataParallelStrategy(batch_size)
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


def run_scope(strategy):
    """What the whole run (building, fitting, saving, sampling) runs inside: the distribution of a
    `DataParallelStrategy` (Keras' JAX trainer reads it in `fit`); nothing for the others (a
    tf.distribute model keeps the strategy it was built in)."""
    import contextlib

    return strategy.scope() if isinstance(strategy, DataParallelStrategy) else contextlib.nullcontext()


def worker_index(strategy):
    """This process's index in a multi-process run (0 alone)."""
    if isinstance(strategy, DataParallelStrategy):
        return strategy.process_id
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver.task_id if resolver is not None and getattr(resolver, "task_type", None) else 0


def is_chief(strategy):
    if isinstance(strategy, DataParallelStrategy):
        return strategy.process_id == 0
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


#: /proc/cpuinfo flags of CPUs with bfloat16 arithmetic (x86: AVX512_BF16, AMX; Arm: BF16), which
#: oneDNN's bf16 kernels use; without them it converts to float32 around every op.
CPU_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


def cpuinfo_field(keys, cpuinfo="/proc/cpuinfo"):
    """The value of the first of `keys` in `cpuinfo` (Linux's /proc/cpuinfo, first processor), or
    None where it has none of them or cannot be read (another OS)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in keys:
                    return value.strip()
    except OSError:
        return None
    return None


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags from `cpuinfo` (Linux: "flags" on x86, "Features" on Arm), or None
    where they cannot be read (another OS)."""
    flags = cpuinfo_field(("flags", "Features"), cpuinfo)
    return None if flags is None else set(flags.split())


def gpu_compute_capability():
    """The first GPU's CUDA compute capability as (major, minor), or None where it cannot be read."""
    import keras

    try:
        if keras.backend.backend() == "jax":
            import jax

            gpu = next(d for d in jax.devices() if d.platform == "gpu")
            return tuple(int(p) for p in str(gpu.compute_capability).split(".")[:2])
        if keras.backend.backend() == "torch":
            import torch

            return tuple(torch.cuda.get_device_capability())
        import tensorflow as tf

        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return tuple(details["compute_capability"])
    except (AttributeError, KeyError, IndexError, StopIteration, TypeError, ValueError, RuntimeError):
        return None


def native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether the device training runs on computes in bfloat16 natively: (True, False or None
    when it cannot tell, the reason in words)."""
    if has_gpu():
        capability = gpu_compute_capability()
        if capability is None:
            return None, "the GPU's compute capability could not be read"
        native = tuple(capability) >= (8, 0)
        return native, (f"a GPU of compute capability {capability[0]}.{capability[1]}"
                        + ("" if native else " (bfloat16 is native from 8.0)"))
    flags = cpu_flags(cpuinfo)
    if flags is None:
        return None, "this CPU's instruction set could not be read"
    found = [flag for flag in CPU_BFLOAT16_FLAGS if flag in flags]
    if found:
        return True, f"a CPU with {found[0].upper()}"
    return False, "a CPU without AVX512_BF16, AMX or Arm BF16"
