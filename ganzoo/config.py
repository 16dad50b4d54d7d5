"""`TrainConfig`: the one schema of a training run.

Each field is declared once, with its type, default, valid range or choices and help; the
`ganzoo train` flags (`ganzoo.cli`) and `validate_config` are generated from these
declarations. Pure Python: importing it loads neither Keras nor TensorFlow.
"""

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Optional

from ganzoo.errors import ConfigError
from ganzoo.presets import MODEL_NAMES, PRESETS, model_field_problem

#: Seeds are integers in [0, SEED_LIMIT): `keras.utils.set_random_seed` also seeds numpy's
#: legacy generator, which takes no more.
SEED_LIMIT = 2**32


def _positive(value):
    return value > 0


def setting(default, kind, help=None, *, valid=None, choices=None, flags=None, metavar=None, cli=True):
    """One TrainConfig field: its default and what a valid value is.

    Args:
        kind: "int", "float", "str" or "bool".
        valid: (predicate, words) for numbers: a value must satisfy `predicate`; `words`
            complete "--flag must be ...". Ints are positive unless said otherwise.
        choices: the valid strings.
        flags: the command-line flags (default: --field-name); `cli=False`: no flag.
    """
    if kind == "int" and valid is None:
        valid = (_positive, "a positive integer")
    return dataclasses.field(default=default, metadata=dict(
        kind=kind, help=help, valid=valid, choices=choices, flags=flags, metavar=metavar, cli=cli))


_LR = (_positive, "> 0")
_BETA = (lambda v: 0 <= v < 1, "in [0, 1)")


@dataclass
class TrainConfig:
    """Everything that defines a training run. `None` means the model's/preset's default.

    Fields are the `ganzoo train` flags. `resolve_config` fills a config from a preset.
    """

    model: str = setting("dcgan", "str", cli=False)  # the CLI's positional MODEL
    dataset: str = setting("mnist_sample", "str",
                           "dataset name or image folder (default: the preset's, else mnist_sample)")
    preset: Optional[str] = setting(None, "str", cli=False)
    epochs: int = setting(5, "int", "epochs to train to (a resumed run continues up to it)")
    steps_per_epoch: Optional[int] = setting(None, "int", "generator steps per epoch")
    batch_size: int = setting(64, "int", "examples per batch (one batch per discriminator step)")
    seed: int = setting(0, "int", "seed of the weights, the noise and the data order",
                         valid=(lambda v: 0 <= v < SEED_LIMIT, f"an integer from 0 to {SEED_LIMIT - 1}"))
    run_dir: str = setting("runs/default", "str", "run directory (default runs/<preset or model>_<dataset>)")
    jit_compile: str = setting("auto", "str", "XLA: auto (where a GPU is present; never on torch, where on "
                                              "means torch.compile), on or off",
                               choices=("auto", "on", "off"))
    mixed_precision: str = setting("off", "str", "mixed-precision compute dtype; auto: bfloat16 where the "
                                                 "hardware runs it natively (a GPU of compute capability 8.0 or "
                                                 "newer, a CPU with AVX512_BF16, AMX or Arm BF16), float32 "
                                                 "elsewhere",
                                   choices=("off", "float16", "bfloat16", "auto"))
    strategy: str = setting("default", "str", "several devices: mirrored or multi_worker (tf.distribute, TensorFlow; "
                                              "multi_worker reads TF_CONFIG), data_parallel (keras.distribution, "
                                              "JAX: every device of every process)",
                            choices=("default", "mirrored", "multi_worker", "data_parallel"))
    ema: Optional[float] = setting(None, "float", "EMA of generator weights, e.g. 0.999", metavar="DECAY",
                                   valid=(lambda v: 0 < v < 1, "in (0, 1), e.g. 0.999"))
    latent_dim: Optional[int] = setting(None, "int", "size of z")
    width: Optional[int] = setting(None, "int", "width of the default networks")
    d_lr: Optional[float] = setting(None, "float", "discriminator (critic) Adam learning rate", valid=_LR)
    g_lr: Optional[float] = setting(None, "float", "generator Adam learning rate", valid=_LR)
    beta_1: Optional[float] = setting(None, "float", "Adam beta_1 of both players", valid=_BETA)
    beta_2: Optional[float] = setting(None, "float", "Adam beta_2 of both players", valid=_BETA)
    d_steps: Optional[int] = setting(None, "int", "discriminator (critic) steps per generator step",
                                     flags=("--d-steps", "--n-critic", "--n-dis"))
    gp_weight: Optional[float] = setting(None, "float", "WGAN-GP penalty weight lambda",
                                         valid=(lambda v: v >= 0, ">= 0"))
    generator_loss: Optional[str] = setting(None, "str", "gan and dcgan: the generator's loss",
                                            choices=("non_saturating", "minimax"))
    d_norm: Optional[str] = setting(None, "str", "dcgan: the discriminator's normalization on image data: batch (batch "
                                                 "norm on every conv but the first, the paper's) or none (each "
                                                 "example scored on its own, as the R1 penalty assumes)",
                                    choices=("batch", "none"))
    minibatch_std: Optional[int] = setting(None, "int", "dcgan: a minibatch standard deviation channel in the "
                                                        "discriminator (Karras et al. 2018) over groups of N samples "
                                                        "(4 in their code); batch size a multiple of N",
                                           metavar="N", valid=(lambda v: v >= 2, ">= 2"))
    pack: Optional[int] = setting(None, "int", "PacGAN packing: the discriminator judges M samples at once "
                                               "(batch size a multiple of M)", metavar="M")
    augment: Optional[str] = setting(None, "str", "augment what D sees, real and generated, in both players' steps: "
                                                  "diffaugment (every transform) or ada (each with an adapted "
                                                  "probability p); images only", choices=("diffaugment", "ada"))
    augment_policy: Optional[str] = setting(None, "str", "the transforms, comma-separated from color, translation, "
                                                         "cutout, flip (default color,translation,cutout; flip only "
                                                         "for mirror-symmetric data)", metavar="LIST")
    ada_target: Optional[float] = setting(None, "float", "ADA's target for r_t = E[sign(D(x_real))] (0.6)",
                                          valid=(lambda v: 0 < v < 1, "in (0, 1), e.g. 0.6"))
    ada_kimg: Optional[int] = setting(None, "int", "ADA's speed: p can go from 0 to 1 in N thousand real images (500)",
                                      metavar="N")
    r1: Optional[float] = setting(None, "float", "R1 penalty gamma: gamma/2 E||grad D(x_real)||^2 added to D's loss",
                                  valid=(lambda v: v >= 0, ">= 0"), metavar="GAMMA")
    r1_every: Optional[int] = setting(None, "int", "lazy R1: the penalty every N discriminator steps, scaled by N",
                                      metavar="N")
    lecam: Optional[float] = setting(None, "float", "LeCam regularization weight (0.3 in its authors' BigGAN runs)",
                                     valid=(lambda v: v >= 0, ">= 0"), metavar="WEIGHT")
    top_k: Optional[float] = setting(None, "float", "top-k training (Sinha et al. 2020): G learns from the share of "
                                                    "each fake batch D scores highest, from 1 down by --top-k-decay "
                                                    "per epoch to NU (0.5 in the paper)",
                                     valid=(lambda v: 0 < v <= 1, "in (0, 1], e.g. 0.5"), metavar="NU")
    top_k_decay: Optional[float] = setting(None, "float", "top-k's per-epoch factor on the kept share (0.99)",
                                           valid=(lambda v: 0 < v <= 1, "in (0, 1], e.g. 0.99"), metavar="GAMMA")
    mode_seeking: Optional[float] = setting(None, "float", "mode-seeking regularization (Mao et al. 2019) weight: "
                                                           "G's loss gains LAMBDA / (image distance per latent "
                                                           "distance of the batch's same-label fakes)",
                                            valid=(lambda v: v >= 0, ">= 0, e.g. 1"), metavar="LAMBDA")
    lr_decay: Optional[float] = setting(None, "float", "hold both learning rates, then decay them linearly to 0 "
                                                       "over the last F of the run's steps (0.5: the second half)",
                                        valid=(lambda v: 0 < v <= 1, "in (0, 1], e.g. 0.5"), metavar="F")
    conditional: bool = setting(False, "bool", "class-conditional: train on the dataset's labels (p(x | y)); the "
                                               "classes and their names come from the dataset")
    cluster_labels: Optional[int] = setting(
        None, "int", "no labels needed: condition G and D on K k-means clusters of the training images (30 for "
                     "28x28 digits); samples draw the cluster from its share of the images; 0: off",
        valid=(lambda v: v == 0 or v >= 2, "0 (off) or an integer of at least 2, e.g. 30"), metavar="K")
    cluster_features: str = setting(
        "pixels", "str", "the space --cluster-labels clusters in: pixels, or hog_pixels (gradient-orientation "
                         "histograms beside the pixels: clusters that follow texture and edges too)",
        choices=("pixels", "hog_pixels"))
    image_size: Optional[int] = setting(None, "int", "resize (and center-crop) images to N x N")
    data_dir: Optional[str] = setting(None, "str", "tensorflow-datasets directory with prepared data; for "
                                      "fashion_mnist a folder holding its four idx files")
    steps_per_execution: int = setting(1, "int", "train steps per compiled call")
    checkpoint_every: Optional[int] = setting(None, "int", "also checkpoint every N steps", metavar="N")
    keep_checkpoints: int = setting(3, "int", "checkpoints kept in RUN_DIR/checkpoints, newest first (3); older "
                                              "ones are deleted", metavar="N")
    log_every: int = setting(10, "int", "TensorBoard step scalars every N steps", metavar="N")
    eval_every: Optional[int] = setting(None, "int", "log sample-quality metrics and the mode-collapse alarm "
                                                     "every N epochs", metavar="EPOCHS")
    eval_samples: int = setting(2000, "int", "samples per evaluation (2000)", metavar="N",
                                valid=(lambda v: v >= 2, "at least 2 (the metrics compare sample statistics)"))
    num_samples: int = setting(64, "int", cli=False)  # the fixed latent batch drawn after each epoch
    backend: Optional[str] = setting(None, "str", "Keras backend (default: $KERAS_BACKEND, else tensorflow); "
                                                  "recorded in config.json, a resumed run keeps it",
                                     choices=("jax", "tensorflow", "torch"))
    deterministic: bool = setting(False, "bool", "enable TensorFlow op determinism (bitwise-repeatable runs, "
                                                 "slower)")
    export_dir: Optional[str] = setting(None, "str", "after training, export the generator to DIR/<version> "
                                                     "(SavedModel + ONNX)", flags=("--export",), metavar="DIR")
    quiet: bool = setting(False, "bool", "no progress bars, logs only")
    skip_corrupt: bool = setting(False, "bool", "image folders: skip files that cannot be decoded (with a "
                                                "warning)")

    # Fields that may differ when a run is resumed: they do not change what is trained, or (the
    # learning rates, which the NaN guard advises lowering) change it from the resumed step on,
    # recorded in config.json's "changes".
    RESUMABLE = ("epochs", "run_dir", "quiet", "export_dir", "checkpoint_every", "keep_checkpoints", "log_every",
                 "eval_every", "eval_samples", "d_lr", "g_lr")

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values, source=None):
        """A TrainConfig from a dict of its fields.

        Raises:
            ConfigError: not a dict, or unknown fields (named, with the closest valid ones).
        """
        where = f" in {source}" if source else ""
        if not isinstance(values, dict):
            raise ConfigError(f"A config{where} must be a dict of TrainConfig fields; got {type(values).__name__}.")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            close = sorted({m for name in unknown for m in difflib.get_close_matches(name, known, n=2)})
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"Unknown config field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
                              f"{where}{hint}; valid fields: {', '.join(known)}.")
        return cls(**values)


def flags_of(field):
    """The command-line flags of a TrainConfig field."""
    return field.metadata["flags"] or (f"--{field.name.replace('_', '-')}",)


def _number_problem(field, value):
    """Why `value` is not valid for the int or float `field`, in the CLI's words, or None."""
    kind, valid = field.metadata["kind"], field.metadata["valid"]
    flag = flags_of(field)[0]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not valid[0](value):
            return f"{flag} must be {valid[1]}; got {value!r}."
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{flag} must be a finite number; got {value!r}."
    if valid and not valid[0](value):
        return f"{flag} must be {valid[1]}; got {value!r}."
    return None


def field_problem(field, value):
    """Why `value` is not valid for `field` on its own, or None."""
    if value is None and field.default is None:
        return None
    kind, choices = field.metadata["kind"], field.metadata["choices"]
    if kind in ("int", "float"):
        import numpy as np

        if isinstance(value, np.generic):  # numpy scalars from user code count as numbers
            value = value.item()
        return _number_problem(field, value)
    if kind == "bool" and not isinstance(value, bool):
        return f"{field.name} must be True or False; got {value!r}."
    if choices and value not in choices:
        return f"{flags_of(field)[0]} must be one of {', '.join(choices)}; got {value!r}."
    return None


def validate_config(config):
    """Raise ConfigError, in the CLI's words, for the first field of `config` that is invalid."""
    if config.model not in MODEL_NAMES:
        raise ConfigError(f"Unknown model {config.model!r}; choose one of {', '.join(MODEL_NAMES)}.")
    for field in dataclasses.fields(TrainConfig):
        problem = field_problem(field, getattr(config, field.name))
        if problem:
            raise ConfigError(problem)
    problem = model_field_problem(config.model, config)
    if problem:
        raise ConfigError(problem)
    pack = config.pack or 1
    if config.conditional and pack > 1:
        raise ConfigError("--conditional and --pack do not combine: a pack of M samples has M labels and the "
                          "projection discriminator scores one. Leave out --pack.")
    if config.cluster_labels and (config.conditional or pack > 1):
        other = "--conditional (the dataset's labels)" if config.conditional else "--pack"
        raise ConfigError(f"--cluster-labels {config.cluster_labels} conditions on k-means clusters and does not "
                          f"combine with {other}. Use one of them (--cluster-labels 0 turns a preset's clusters off).")
    if config.cluster_features != "pixels" and not config.cluster_labels:
        raise ConfigError(f"--cluster-features {config.cluster_features} chooses the space of --cluster-labels' "
                          "k-means clusters; add --cluster-labels K (e.g. 50), or leave --cluster-features out.")
    for flag, path in (("--run-dir", config.run_dir), ("--export", config.export_dir)):
        if path is not None and (not isinstance(path, str) or not path.strip()):
            raise ConfigError(f"{flag} must name a directory; got {path!r}.")
    if config.checkpoint_every and config.checkpoint_every % config.steps_per_execution:
        per_call = config.steps_per_execution
        rounded = max(per_call, round(config.checkpoint_every / per_call) * per_call)
        raise ConfigError(
            f"--checkpoint-every {config.checkpoint_every} must be a multiple of --steps-per-execution {per_call}: "
            f"a checkpoint is saved between compiled calls of {per_call} steps. Use --checkpoint-every {rounded}.")
    _check_regularizers(config)
    if config.pack is not None and config.batch_size % config.pack:
        raise ConfigError(f"--pack {config.pack} joins {config.pack} samples per discriminator input: --batch-size "
                          f"must be a multiple of it; got {config.batch_size}.")
    inputs = config.batch_size // pack
    if config.minibatch_std is not None and inputs % config.minibatch_std:
        packed = f" ({inputs} packs of {pack})" if pack > 1 else ""
        raise ConfigError(f"--minibatch-std {config.minibatch_std} groups the discriminator's inputs by "
                          f"{config.minibatch_std}: their number per batch{packed} must be a multiple of it; got "
                          f"--batch-size {config.batch_size}.")


#: The transforms an augmentation policy may name (`ganzoo.augment` implements them).
AUGMENT_TRANSFORMS = ("color", "translation", "cutout", "flip")


def parse_augment_policy(policy):
    """An augmentation policy as a tuple of names: "color,translation" or a sequence; each name once.

    Raises:
        ValueError: an unknown or repeated name, or an empty policy.
    """
    if isinstance(policy, str):
        names = tuple(n.strip() for n in policy.split(",") if n.strip())
    else:
        try:
            names = tuple(policy)
        except TypeError:
            names = None
    if not names or any(not isinstance(n, str) for n in names):
        raise ValueError(f"An augmentation policy is a comma-separated list of {', '.join(AUGMENT_TRANSFORMS)} "
                         f"(e.g. 'color,translation,cutout'); got {policy!r}.")
    unknown = [n for n in names if n not in AUGMENT_TRANSFORMS]
    if unknown:
        raise ValueError(f"Unknown augmentation {', '.join(map(repr, unknown))} in policy {policy!r}; "
                         f"choose from {', '.join(AUGMENT_TRANSFORMS)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"Augmentation policy {policy!r} names a transform twice.")
    return names


def _check_regularizers(config):
    if config.augment is None:
        given = [flags_of(TrainConfig.__dataclass_fields__[f])[0] for f in ("augment_policy", "ada_target", "ada_kimg")
                 if getattr(config, f) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} set{'s' if len(given) == 1 else ''} up augmentation: add "
                              "--augment diffaugment or --augment ada.")
    elif config.augment != "ada" and (config.ada_target is not None or config.ada_kimg is not None):
        raise ConfigError("--ada-target and --ada-kimg apply to --augment ada.")
    if config.augment == "ada" and config.model == "wgan_gp":
        raise ConfigError("--augment ada reads r_t from the sign of D's outputs on real data, which a Wasserstein "
                          "critic does not have: use --augment diffaugment with wgan_gp.")
    if config.augment_policy is not None:
        try:
            parse_augment_policy(config.augment_policy)
        except ValueError as e:
            raise ConfigError(f"--augment-policy: {e}") from None
    if config.r1_every is not None and config.r1 is None:  # --r1 0 turns a preset's R1 off, with its interval
        raise ConfigError("--r1-every sets how often the R1 penalty is taken: add --r1 GAMMA.")
    if config.top_k_decay is not None and config.top_k is None:
        raise ConfigError("--top-k-decay sets how fast top-k training's kept share falls: add --top-k NU.")


def resolve_config(model_or_preset="dcgan", **overrides):
    """A validated `TrainConfig` from a model name or preset plus overrides (None = unset)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if model_or_preset in PRESETS:
        values = dict(PRESETS[model_or_preset], preset=model_or_preset)
    elif model_or_preset in MODEL_NAMES:
        values = {"model": model_or_preset}
    else:
        raise ConfigError(
            f"Unknown model or preset {model_or_preset!r}. Models: {', '.join(MODEL_NAMES)}. "
            f"Presets: {', '.join(PRESETS)}."
        )
    values.update(overrides)
    if not values.get("cluster_labels") and "cluster_features" not in overrides:
        values.pop("cluster_features", None)  # --cluster-labels 0 turns a preset's clusters off, with their space
    config = TrainConfig.from_dict(values)
    validate_config(config)
    return config


def config_difference(saved, current):
    """Lines describing the fields that differ, ignoring the ones a resume may change.

    A field missing from `saved` (a run dir written before the field existed) has its default.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    lines = []
    for key in sorted(set(saved) | set(current)):
        if key in TrainConfig.RESUMABLE:
            continue
        was, now = saved.get(key, defaults.get(key)), current.get(key, defaults.get(key))
        if was != now:
            lines.append(f"  {key}: run has {was!r}, now {now!r}")
    return lines
