"""`train(config)`: one resumable, watched training run; the CLI is a thin shell over it.

A run directory holds:
    config.json      the fully resolved config (a resumed run must match it)
    logs/            TensorBoard event files (scalars, learning rates, sample grids, config)
    checkpoints/     ckpt-<step>.keras + latest.json (networks, both optimizers, generator EMA,
                     noise seed state, epoch/step counters), written atomically
    samples/         epoch_NNNN.png, the fixed latent batch after each epoch
    history.json     the Keras history of the finished run
"""

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ganzoo.callbacks import (
    Checkpointer,
    NaNGuard,
    TensorBoardLogger,
    TrainingDiverged,
    _write_json_atomic,
    read_latest,
    save_checkpoint,
)


class ConfigError(ValueError):
    """A user mistake in the training configuration."""


@dataclass
class TrainConfig:
    """Everything that defines a training run. `None` means the model's/preset's default.

    Fields mirror `ganzoo train` flags. `resolve_config` fills a config from a preset.
    """

    model: str = "dcgan"
    dataset: str = "mnist_sample"
    preset: Optional[str] = None
    epochs: int = 5
    steps_per_epoch: Optional[int] = None
    batch_size: int = 64
    seed: int = 0
    run_dir: str = "runs/default"
    jit_compile: str = "auto"  # auto | on | off
    mixed_precision: str = "off"  # off | float16 | bfloat16
    strategy: str = "default"  # default | mirrored | multi_worker
    ema: Optional[float] = None
    latent_dim: Optional[int] = None
    width: Optional[int] = None
    d_lr: Optional[float] = None
    g_lr: Optional[float] = None
    beta_1: Optional[float] = None
    beta_2: Optional[float] = None
    d_steps: Optional[int] = None  # n_critic for WGAN-GP
    gp_weight: Optional[float] = None
    generator_loss: Optional[str] = None
    pack: Optional[int] = None  # PacGAN: samples per discriminator input
    image_size: Optional[int] = None
    data_dir: Optional[str] = None
    steps_per_execution: int = 1
    checkpoint_every: Optional[int] = None
    log_every: int = 10
    eval_every: Optional[int] = None  # epochs between sample-quality metrics (None: off)
    eval_samples: int = 2000
    num_samples: int = 64
    deterministic: bool = False
    export_dir: Optional[str] = None
    quiet: bool = False

    # Fields that may differ when a run is resumed: they do not change what is trained.
    RESUMABLE = ("epochs", "run_dir", "quiet", "export_dir", "checkpoint_every", "log_every", "eval_every",
                 "eval_samples")

    def to_dict(self):
        return dataclasses.asdict(self)


def _valid_choice(value, choices, name):
    if value not in choices:
        raise ConfigError(f"--{name.replace('_', '-')} must be one of {', '.join(choices)}; got {value!r}.")


def resolve_config(model_or_preset="dcgan", **overrides):
    """A validated `TrainConfig` from a model name or preset plus overrides (None = unset)."""
    from ganzoo.models.registry import MODELS, PRESETS

    overrides = {k: v for k, v in overrides.items() if v is not None}
    if model_or_preset in PRESETS:
        values = dict(PRESETS[model_or_preset], preset=model_or_preset)
    elif model_or_preset in MODELS:
        values = {"model": model_or_preset}
    else:
        raise ConfigError(
            f"Unknown model or preset {model_or_preset!r}. Models: {', '.join(MODELS)}. "
            f"Presets: {', '.join(PRESETS)}."
        )
    values.update(overrides)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"Unknown config fields {unknown}; valid fields: {sorted(known)}.")
    config = TrainConfig(**values)
    validate_config(config)
    return config


def validate_config(config):
    from ganzoo.models.registry import MODELS

    if config.model not in MODELS:
        raise ConfigError(f"Unknown model {config.model!r}; choose one of {', '.join(MODELS)}.")
    for name in ("epochs", "batch_size", "steps_per_execution", "log_every", "num_samples", "eval_samples"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer; got {value!r}.")
    for name in ("steps_per_epoch", "latent_dim", "width", "d_steps", "pack", "image_size", "checkpoint_every",
                 "eval_every"):
        value = getattr(config, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer; got {value!r}.")
    for name in ("d_lr", "g_lr"):
        value = getattr(config, name)
        if value is not None and not value > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be > 0; got {value!r}.")
    for name in ("beta_1", "beta_2"):
        value = getattr(config, name)
        if value is not None and not 0 <= value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be in [0, 1); got {value!r}.")
    if config.ema is not None and not 0 < config.ema < 1:
        raise ConfigError(f"--ema must be in (0, 1), e.g. 0.999; got {config.ema!r}.")
    if config.gp_weight is not None and config.gp_weight < 0:
        raise ConfigError(f"--gp-weight must be >= 0; got {config.gp_weight!r}.")
    _valid_choice(config.jit_compile, ("auto", "on", "off"), "jit_compile")
    _valid_choice(config.mixed_precision, ("off", "float16", "bfloat16"), "mixed_precision")
    _valid_choice(config.strategy, ("default", "mirrored", "multi_worker"), "strategy")
    if config.generator_loss is not None:
        if config.model == "wgan_gp":
            raise ConfigError("--generator-loss applies to gan and dcgan; WGAN-GP uses the Wasserstein loss.")
        _valid_choice(config.generator_loss, ("non_saturating", "minimax"), "generator_loss")
    if config.gp_weight is not None and config.model != "wgan_gp":
        raise ConfigError("--gp-weight applies to wgan_gp only.")
    if config.pack is not None and config.batch_size % config.pack:
        raise ConfigError(f"--pack {config.pack} joins {config.pack} samples per discriminator input: --batch-size "
                          f"must be a multiple of it; got {config.batch_size}.")


def _make_strategy(name):
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


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0
                                            and "chief" not in resolver.cluster_spec().as_dict())


def build_model(config):
    """A compiled ganzoo model for `config` (inside the current strategy scope)."""
    import keras

    from ganzoo.data import dataset_info
    from ganzoo.models.registry import MODELS

    cls = MODELS[config.model]
    info = dataset_info(config.dataset, image_size=config.image_size, data_dir=config.data_dir)
    kwargs = dict(data_shape=tuple(info["shape"]), latent_dim=config.latent_dim, width=config.width,
                  seed=config.seed, pack=config.pack or 1)
    if config.model == "wgan_gp":
        if config.d_steps is not None:
            kwargs["n_critic"] = config.d_steps
        if config.gp_weight is not None:
            kwargs["gp_weight"] = config.gp_weight
    else:
        if config.d_steps is not None:
            kwargs["d_steps"] = config.d_steps
        if config.generator_loss is not None:
            kwargs["generator_loss"] = config.generator_loss
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


def _prepare_run_dir(run_dir):
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ConfigError(f"--run-dir {run_dir!r} is a file; give a directory (it is created if missing).")
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(f"--run-dir {run_dir!r} is not writable: {e.strerror}.") from e
    for sub in ("logs", "checkpoints", "samples"):
        os.makedirs(os.path.join(run_dir, sub), exist_ok=True)


def config_difference(saved, current):
    """Lines describing the fields that differ, ignoring the ones a resume may change."""
    lines = []
    for key in sorted(set(saved) | set(current)):
        if key in TrainConfig.RESUMABLE:
            continue
        if saved.get(key) != current.get(key):
            lines.append(f"  {key}: run has {saved.get(key)!r}, now {current.get(key)!r}")
    return lines


def _check_resume(run_dir, config):
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        saved = json.load(f)
    diff = config_difference(saved, config.to_dict())
    if diff:
        raise ConfigError(
            f"{run_dir} holds a run with a different config, so it cannot be resumed:\n" + "\n".join(diff)
            + "\nUse a new --run-dir, or repeat the run's settings (see its config.json)."
        )


def _set_policy(mixed_precision):
    import keras

    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[mixed_precision]
    if mixed_precision == "float16":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            warnings.warn(
                "--mixed-precision float16 on a machine without a GPU: CPUs emulate float16 and "
                "training will be much slower than float32.", stacklevel=3)
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


def train(config, callbacks=()):
    """Run (or resume) the training run `config` describes; returns the Keras history dict.

    Raises:
        ConfigError: a user mistake (unknown names, bad values, changed config on resume).
        TrainingDiverged: a loss became non-finite; the last good checkpoint is kept.
        KeyboardInterrupt: after saving a checkpoint of the interrupted step.
    """
    import keras
    import tensorflow as tf

    from ganzoo.data import dataset_info, load_dataset, load_real_samples

    if isinstance(config, dict):
        config = TrainConfig(**config)
    validate_config(config)
    run_dir = config.run_dir
    _prepare_run_dir(run_dir)
    _check_resume(run_dir, config)
    previous_policy = _set_policy(config.mixed_precision)
    try:
        if config.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        strategy = _make_strategy(config.strategy)
        chief = _is_chief(strategy)
        info = dataset_info(config.dataset, image_size=config.image_size, data_dir=config.data_dir)
        ckpt_dir = os.path.join(run_dir, "checkpoints")
        log_dir = os.path.join(run_dir, "logs")
        if not chief:
            # Every worker runs the same saves (tf.distribute expects it); the others write
            # into a scratch directory of their own so only the chief's files are the run's.
            scratch = os.path.join(run_dir, f".worker-{strategy.cluster_resolver.task_id}")
            ckpt_dir, log_dir = os.path.join(scratch, "checkpoints"), os.path.join(scratch, "logs")
        latest = read_latest(os.path.join(run_dir, "checkpoints"))
        with strategy.scope():
            if latest:
                model = keras.models.load_model(latest["path"])
            else:
                model = build_model(config)
        initial_step = latest["step"] if latest else 0
        spe = _steps_per_epoch(config, info, model.d_steps)
        if chief:
            _write_json_atomic(os.path.join(run_dir, "config.json"), config.to_dict())

        def dataset():
            # A new pipeline per fit call: a second iterator over the same seeded shuffle
            # would draw another order (its seed generator is shared between iterators).
            return load_dataset(config.dataset, batch_size=config.batch_size, image_size=config.image_size,
                                seed=config.seed, data_dir=config.data_dir, repeat=True)

        fixed_z = np.random.default_rng(config.seed + 1).standard_normal(
            (config.num_samples, model.latent_dim)).astype("float32")
        reference = None
        if info["kind"] == "toy":
            reference = load_real_samples(config.dataset, 2000, seed=config.seed)
        guard = NaNGuard(spe)
        logger = TensorBoardLogger(log_dir, spe, fixed_z,
                                   samples_dir=os.path.join(run_dir, "samples") if chief else None,
                                   log_every=config.log_every, reference=reference, guard=guard)
        checkpointer = Checkpointer(ckpt_dir, spe, initial_step=initial_step,
                                    every_steps=config.checkpoint_every, guard=guard)
        if chief and not latest:
            _log_config(logger.writer, config)
        all_callbacks = [guard, logger, checkpointer]
        if config.eval_every and chief:
            from ganzoo.callbacks import SampleQualityLogger
            from ganzoo.data import toy_distribution

            toy = toy_distribution(config.dataset) if info["kind"] == "toy" else None
            real = load_real_samples(config.dataset, 2500 if toy else min(info.get("num_examples") or 5000, 5000),
                                     image_size=config.image_size, seed=config.seed, data_dir=config.data_dir)
            all_callbacks.append(SampleQualityLogger(logger.writer, spe, real, every=config.eval_every,
                                                     num_samples=config.eval_samples, toy=toy, seed=config.seed))
        all_callbacks += list(callbacks)
        verbose = 0 if config.quiet else (1 if chief else 0)
        history = {}
        try:
            epoch, done = divmod(initial_step, spe)
            if done:  # finish the interrupted epoch first
                _fit(model, dataset, initial_step, all_callbacks, epoch, epoch + 1, spe - done, verbose,
                     history, epoch_step_offset=done)
                epoch += 1
            if epoch < config.epochs and not guard.failure:
                _fit(model, dataset, epoch * spe, all_callbacks, epoch, config.epochs, spe, verbose, history)
        except KeyboardInterrupt:
            step = checkpointer.last_step_seen
            if step and not guard.failure and chief:
                save_checkpoint(model, ckpt_dir, step, spe)
                print(f"\nInterrupted: saved a checkpoint at step {step} in {ckpt_dir}; run the same "
                      "command to resume.", flush=True)
            raise
        if guard.failure:
            raise TrainingDiverged(guard.failure)
        if chief:
            _write_json_atomic(os.path.join(run_dir, "history.json"), history)
            if config.export_dir:
                from ganzoo.export import export_generator

                path = export_generator(model, config.export_dir, card=card_fields(config, model))
                print(f"Exported the generator to {path}", flush=True)
        return history
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _fit(model, dataset, start_step, callbacks, initial_epoch, epochs, steps, verbose, history,
         epoch_step_offset=0):
    # The data stream is a pure function of the seed: each fit call skips the batches the
    # run consumed before `start_step` (k per step with k discriminator steps).
    dataset = dataset()
    if start_step:
        dataset = dataset.skip(start_step * model.d_steps)
    for cb in callbacks:
        if hasattr(cb, "epoch_step_offset"):
            cb.epoch_step_offset = epoch_step_offset
    h = model.fit(dataset, initial_epoch=initial_epoch, epochs=epochs, steps_per_epoch=steps,
                  callbacks=list(callbacks), verbose=verbose, shuffle=False)
    for key, values in h.history.items():
        history.setdefault(key, []).extend(float(v) for v in values)


def card_fields(config, model):
    """Model-card fields of a run, for exports."""
    from ganzoo.data import dataset_info

    return {"dataset": config.dataset, "preset": config.preset, "seed": config.seed,
            "data_shape": list(model.data_shape), "config": config.to_dict(),
            "kind": dataset_info(config.dataset, image_size=config.image_size,
                                 data_dir=config.data_dir)["kind"]}


def _log_config(writer, config):
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    values = {k: v for k, v in config.to_dict().items() if k not in TrainConfig.RESUMABLE}
    text = "\n".join(f"    {k}: {v!r}" for k, v in sorted(values.items()))
    with writer.as_default(step=0):
        tf.summary.text("config", text)
        hp.hparams({k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in values.items()})
    writer.flush()


def load_run(run_dir):
    """(config, model) of a run directory's latest checkpoint."""
    import keras

    latest = read_latest(os.path.join(run_dir, "checkpoints"))
    if latest is None:
        raise ConfigError(f"{run_dir} has no checkpoint (checkpoints/latest.json); train it first.")
    with open(os.path.join(run_dir, "config.json")) as f:
        config = TrainConfig(**json.load(f))
    return config, keras.models.load_model(latest["path"])
