"""What the `ganzoo` subcommands share: usage errors, argparse types, the flags generated from
`TrainConfig`, output checks, and loading a run dir or an export to sample from. Imports
nothing heavy (TensorFlow loads only when a command runs)."""

import argparse
import math
import os
import re


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse with negative numbers such as `--d-lr -1e-4` taken as values, and usage errors
    on one line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse only takes -5 and -.5 for numbers; -1e-4 and -inf would read as options.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$", re.I)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")


def _positive_int(text):
    return _checked_int((lambda value: value > 0, "a positive integer"))(text)


#: The most samples `ganzoo sample` draws into its one PNG grid (the SavedModel's `sample`
#: signature takes as many per request).
SAMPLE_LIMIT = 4096


def _sample_grid_count(text):
    value = _positive_int(text)
    if value > SAMPLE_LIMIT:
        raise argparse.ArgumentTypeError(f"must be at most {SAMPLE_LIMIT} (one PNG grid); got {value}. For more "
                                         "samples call generate() from Python in batches")
    return value


def add_trust_flag(parser):
    parser.add_argument("--trust-saved-model", action="store_true",
                        help="run an export's SavedModel that its model card does not vouch for (a SavedModel is a "
                             "program: only for exports from a source you trust)")


def _sample_count(text):
    value = _int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (the metrics compare sample statistics), got {value}")
    return value


def _checked_int(valid):
    """An argparse type: an int for which `valid` = (predicate, words) holds."""
    def parse(text):
        value = _int(text)
        if not valid[0](value):
            raise argparse.ArgumentTypeError(f"must be {valid[1]}, got {value}")
        return value

    return parse


def _seed(text):
    from ganzoo.config import TrainConfig

    return _checked_int(TrainConfig.__dataclass_fields__["seed"].metadata["valid"])(text)


def _float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_config_flags(parser):
    """One flag per `ganzoo.TrainConfig` field, generated from its declaration. Every default is
    None: a flag that is not given leaves the preset's (or the model's) value."""
    import dataclasses

    from ganzoo.config import TrainConfig, flags_of

    for field in dataclasses.fields(TrainConfig):
        meta = field.metadata
        if not meta["cli"]:
            continue
        kwargs = dict(dest=field.name, help=meta["help"])
        if meta["kind"] == "bool":
            kwargs.update(action="store_true", default=None)
        elif meta["choices"]:
            kwargs.update(choices=meta["choices"])
        elif meta["kind"] == "int":
            kwargs.update(type=_checked_int(meta["valid"]))
        elif meta["kind"] == "float":
            kwargs.update(type=_float)  # ranges are checked with the config, in the same words
        if meta["metavar"]:
            kwargs.update(metavar=meta["metavar"])
        parser.add_argument(*flags_of(field), **kwargs)


# The library's errors name keyword arguments; where a flag does the same, say the flag.
_FLAG_FOR_KEYWORD = {
    "overwrite=True": "--overwrite",
    "skip_corrupt=True": "--skip-corrupt",
    "feature_extractor=None": "--feature-extractor none",
    "feature_extractor='mnist'": "--feature-extractor mnist",
    "feature_extractor='fashion_mnist'": "--feature-extractor fashion_mnist",
    "feature_extractor='inception'": "--feature-extractor inception",
    "trust_saved_model=True": "--trust-saved-model",
    "replace_model=True": "--replace-model",
}


def in_cli_words(message):
    """`message` with the library's keyword arguments replaced by the flags that set them."""
    for keyword, flag in _FLAG_FOR_KEYWORD.items():
        message = message.replace(keyword, flag)
    return message


def _check_output(path, kind, flag):
    """UsageError unless a `kind` ("file" or "directory") can be written at `path`."""
    from ganzoo.fileio import unwritable_reason

    reason = unwritable_reason(path, kind)
    if reason:
        raise UsageError(f"{flag} {path} {reason}.")


def _is_run_dir(source):
    """A training run directory: its config.json or checkpoints/ (a run without a checkpoint yet
    is still a run, and is told so, not that it holds no export)."""
    return os.path.isdir(source) and (os.path.isfile(os.path.join(source, "config.json"))
                                      or os.path.isdir(os.path.join(source, "checkpoints")))


def _run_class_names(config, model):
    """A run's class names (conditional models), from its dataset; None when unconditional."""
    if model.num_classes is None:
        return None
    from ganzoo.runs.finish import class_names

    return class_names(config, model) or [str(i) for i in range(model.num_classes)]


def _load_sampler(source, trust_saved_model=False):
    """(generate(n, seed, labels=None) -> samples, the data settings it was trained on, class
    names or None) for a run dir, an export or a shipped pretrained generator's name: {"dataset", "image_size", "data_dir",
    "skip_corrupt"}, from the run's config or the export's model card (empty when an export
    has no card). Class names are those of a class-conditional generator; None for an
    unconditional one and for one that draws its label from a prior (trained on clusters), whose
    `generate` draws the labels left out."""
    if not os.path.exists(source):
        from ganzoo.export.pretrained import shipped_pretrained

        shipped = shipped_pretrained()
        if source not in shipped:
            raise UsageError(f"{source} does not exist: give a run directory, an export directory/.onnx file or "
                             f"the name of a shipped pretrained generator ({', '.join(shipped) or 'none found'}).")
        source = str(shipped[source])
    if _is_run_dir(source):
        from ganzoo.labels import balanced_labels
        from ganzoo.runs.record import load_run

        config, model = load_run(source)
        def generate(n, seed, labels=None):  # as an export's: every class equally often by default
            if labels is None:
                labels = balanced_labels(model.num_classes, n, model.label_prior)
            return model.generate(n, seed=seed, labels=labels)

        return generate, config.to_dict(), None if model.label_prior is not None else _run_class_names(config, model)
    from ganzoo.export import load_exported

    exported = load_exported(source, trust_saved_model=trust_saved_model)
    card = exported.card or {}
    data = dict(card.get("config") or {})
    data.setdefault("dataset", card.get("dataset"))
    names = exported.class_names or ([] if exported.conditional else None)
    if exported.label_prior is not None:
        names = None  # sampled as one generator: the label drawn from its prior
    return (lambda n, seed, labels=None: exported.generate(n, seed=seed, labels=labels)), data, names
