"""What a training run is built from: its strategy, mixed-precision policy, model and epoch
length, each checked before anything is written (used by `ganzoo.runs.train`)."""

import os
import warnings

from ganzoo.runs.backend import has_gpu, native_bfloat16
from ganzoo.errors import ConfigError


def build_model(config, clusters=None):
    """A compiled ganzoo model for `config` (inside the current strategy scope); `clusters`: the
    run's `ImageClusters` when it trains on cluster labels (`config.cluster_labels`)."""
    import keras

    from ganzoo.data import dataset_info
    from ganzoo.models.registry import MODELS

    cls = MODELS[config.model]
    info = dataset_info(config.dataset, image_size=config.image_size, data_dir=config.data_dir)
    kwargs = dict(cls.config_kwargs(config), data_shape=tuple(info["shape"]))
    if config.conditional:
        kwargs["num_classes"] = info["num_classes"]
    if clusters is not None:
        kwargs.update(num_classes=clusters.k, label_prior=clusters.prior)
    model = cls(**kwargs)
    d_default, g_default = model.default_optimizers()

    def adam(default, lr):
        cfg = default.get_config()
        return keras.optimizers.Adam(
            learning_rate=lr if lr is not None else cfg["learning_rate"],
            beta_1=config.beta_1 if config.beta_1 is not None else cfg["beta_1"],
            beta_2=config.beta_2 if config.beta_2 is not None else cfg["beta_2"],
            name=cfg["name"],
        )

    jit = {"on": True, "off": False, "auto": "auto"}[config.jit_compile]
    model.compile(d_optimizer=adam(d_default, config.d_lr), g_optimizer=adam(g_default, config.g_lr),
                  ema_decay=config.ema, jit_compile=jit, steps_per_execution=config.steps_per_execution)
    return model


def run_clusters(config):
    """The run's k-means clusters (`--cluster-labels K`), or None without that flag: the ones in
    the run dir when it has them (a resumed run labels its data as before), else fit on the
    training images (all of them, or a seeded subset of `MAX_CLUSTER_IMAGES`)."""
    if not config.cluster_labels:
        return None
    from ganzoo.data import dataset_info, load_real_samples
    from ganzoo.data.clusters import MAX_CLUSTER_IMAGES, ImageClusters, cluster_file, fit_clusters

    path = cluster_file(config.run_dir)
    if os.path.exists(path):
        clusters = ImageClusters.load(path)
        if clusters.k != config.cluster_labels:
            raise ConfigError(f"{path} holds {clusters.k} clusters, but --cluster-labels is {config.cluster_labels}. "
                              f"Resume with --cluster-labels {clusters.k}, or train a new run (a new --run-dir).")
        if clusters.features != config.cluster_features:
            raise ConfigError(f"{path} holds clusters of {clusters.features}, but --cluster-features is "
                              f"{config.cluster_features}. Resume with --cluster-features {clusters.features}, "
                              "or train a new run (a new --run-dir).")
        return clusters
    info = dataset_info(config.dataset, image_size=config.image_size, data_dir=config.data_dir)
    n = info.get("num_examples")
    n = None if n is not None and n <= MAX_CLUSTER_IMAGES else MAX_CLUSTER_IMAGES
    images = load_real_samples(config.dataset, n, image_size=config.image_size, seed=config.seed, split="train",
                               data_dir=config.data_dir, skip_corrupt=config.skip_corrupt)
    return fit_clusters(images, config.cluster_labels, seed=config.seed, features=config.cluster_features)


def resolve_mixed_precision(mixed_precision, cpuinfo="/proc/cpuinfo"):
    """The precision a run computes in, warning where the device emulates it: `auto` becomes
    bfloat16 where the device runs it natively and off elsewhere (said on stdout); bfloat16 where
    it is not native, and float16 without a GPU, are kept and warned about."""
    if mixed_precision == "float16" and not has_gpu():
        warnings.warn(
            "--mixed-precision float16 on a machine without a GPU: CPUs emulate float16 and "
            "training will be much slower than float32.", stacklevel=4)
    if mixed_precision not in ("auto", "bfloat16"):
        return mixed_precision
    native, why = native_bfloat16(cpuinfo)
    if mixed_precision == "auto":
        if native:
            said = f"mixed bfloat16 on {why}"
        else:
            said = f"float32 on {why}" if native is False else f"float32 ({why})"
        print(f"--mixed-precision auto: {said}.", flush=True)
        return "bfloat16" if native else "off"
    if native is False:
        warnings.warn(
            f"--mixed-precision bfloat16 on {why}: bfloat16 is emulated there, and a step can take several "
            "times as long as in float32 (8.6x for dcgan_clusters_fashion_mnist on an AVX2 AMD EPYC). Use "
            "--mixed-precision auto (bfloat16 only where it is native) or off.", stacklevel=4)
    return mixed_precision


def _set_policy(mixed_precision):
    import keras

    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[
        resolve_mixed_precision(mixed_precision)]
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(policy)
    return previous


def _steps_per_epoch(config, info, d_steps):
    """Generator steps per epoch: a multiple of --steps-per-execution, because Keras runs whole
    compiled calls (20 steps asked at 16 per call would silently run 32)."""
    per_call = config.steps_per_execution
    if config.steps_per_epoch:
        if config.steps_per_epoch % per_call:
            raise ConfigError(
                f"--steps-per-epoch {config.steps_per_epoch} must be a multiple of --steps-per-execution "
                f"{per_call}: Keras runs whole calls, so an epoch would run "
                f"{-(-config.steps_per_epoch // per_call) * per_call} steps.")
        return config.steps_per_epoch
    n = info.get("num_examples")
    if not n:
        raise ConfigError(f"The size of dataset {config.dataset!r} is unknown: pass --steps-per-epoch.")
    steps = n // config.batch_size // d_steps // per_call * per_call  # whole calls: one epoch at most
    if steps < 1:
        raise ConfigError(
            f"--batch-size {config.batch_size} with {d_steps} discriminator batches per step and "
            f"--steps-per-execution {per_call} needs {config.batch_size * d_steps * per_call} examples per "
            f"epoch; {config.dataset!r} has {n}. Lower --batch-size or --steps-per-execution."
        )
    return steps


#: The share of the machine's memory one batch of real and generated samples may take: the
#: networks' activations take several times more, so a batch past it cannot train.
BATCH_MEMORY_SHARE = 0.25


def _check_batch_memory(config, info, d_steps):
    """Refuse a batch whose real and generated samples alone (float32) outgrow the machine's
    memory, before any work: TensorFlow would fail deep inside its first step."""
    import math
    import os

    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return  # a platform that does not say; the first step will
    need = config.batch_size * d_steps * 2 * math.prod(info["shape"]) * 4
    if need > BATCH_MEMORY_SHARE * memory:
        fits = max(1, int(BATCH_MEMORY_SHARE * memory // (d_steps * 2 * math.prod(info["shape"]) * 4)))
        raise ConfigError(
            f"--batch-size {config.batch_size} of {tuple(info['shape'])} samples needs {need / 2**30:.3g} GiB for one "
            f"step's real and generated samples alone; this machine has {memory / 2**30:.3g} GiB of memory. Use "
            f"--batch-size {min(fits, 4096)} or less.")


def _d_steps(config):
    """Discriminator batches per generator step: the config's, else the model class's default."""
    from ganzoo.presets import MODEL_DEFAULT_D_STEPS

    return config.d_steps or MODEL_DEFAULT_D_STEPS[config.model]


def _check_image_shape(config, info):
    """The default conv networks take sides of 4 * 2^k or 7 * 2^k: say so before building them."""
    from ganzoo.models.networks import conv_plan

    shape = tuple(info["shape"])
    if config.model == "gan" or len(shape) != 3:
        return  # MLPs take any shape
    try:
        conv_plan(shape)
    except ValueError:
        sides = sorted({base * 2**k for base in (4, 7) for k in range(8)})
        nearest = min(sides, key=lambda side: (abs(side - max(shape[:2])), -side))
        at = f"--image-size {config.image_size}" if config.image_size else "its own size"
        raise ConfigError(
            f"{config.model}'s networks take images with sides of 4 or 7 times a power of 2 (... 16, 28, 32, 56, "
            f"64, 112, 128 ...); {config.dataset} at {at} is {shape[0]}x{shape[1]}. Pass --image-size "
            f"{nearest}, or train the gan model (MLPs take any size)."
        ) from None
