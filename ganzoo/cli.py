"""`ganzoo train|sample|export|evaluate|list`: parse the command line, call the library.

Exit codes: 0 done, 1 training diverged or failed, 2 usage error (a user mistake, printed as
one line, never a traceback, with nothing written), 130 interrupted by Ctrl-C and 143 by
SIGTERM (a training run saves a checkpoint first).

Parsing imports nothing heavy: `--help` and usage errors answer without loading TensorFlow,
whose start-up log lines are held back unless `--verbose`.
"""

import argparse
import json
import math
import os
import re
import signal
import sys
import warnings


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


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and absl's log lines (held back by default)")
    parser = _Parser(
        prog="ganzoo", description="Train, sample, export and evaluate GANs (GAN, DCGAN, WGAN-GP) with Keras.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train (or resume) a model; MODEL is a model name or a preset", parents=[common],
                       description="Train a model. MODEL is gan, dcgan, wgan_gp or a preset such as dcgan_mnist "
                                   "(see `ganzoo list`); flags override the preset. Running it again on the "
                                   "same --run-dir resumes the run.")
    t.add_argument("model", metavar="MODEL")
    add_config_flags(t)

    s = sub.add_parser("sample", help="write a PNG grid of samples from a run dir or an export", parents=[common])
    s.add_argument("source", metavar="RUN_DIR_OR_EXPORT")
    s.add_argument("--n", type=_positive_int, default=64)
    s.add_argument("--seed", type=_seed, default=0)
    s.add_argument("--out", default="samples.png", help="PNG file to write (default samples.png)")

    e = sub.add_parser("export", help="export a run's generator as SavedModel + ONNX", parents=[common])
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--out", required=True, help="base directory, e.g. exported_models/dcgan_mnist")
    e.add_argument("--version", type=_positive_int)
    e.add_argument("--format", default="saved_model,onnx")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --version")

    v = sub.add_parser("evaluate", help="sample-quality metrics of a run or an export, offline", parents=[common])
    v.add_argument("source", metavar="RUN_DIR_OR_EXPORT")
    v.add_argument("--dataset", help="real data to compare with (default: the run's / the export card's)")
    v.add_argument("--data-dir", help="tensorflow-datasets directory (default: the run's / the export card's)")
    v.add_argument("--metrics", help="comma-separated: fid (Frechet distance), kid, is, pr, coverage, "
                                     "diversity, modes, js, w1 (default: all that fit the data)")
    v.add_argument("--num-samples", type=_sample_count, default=10000)
    v.add_argument("--num-real", type=_positive_int, metavar="N",
                   help="real examples to compare with: at most 10,000 by default (a random subset of a "
                        "larger split); the 2-D toys draw max(--num-samples, 2,500) points")
    v.add_argument("--skip-corrupt", action="store_true", default=None,
                   help="image folders: skip files that cannot be decoded (default: as the run did)")
    v.add_argument("--feature-extractor", choices=("auto", "mnist", "inception", "none"), default="auto")
    v.add_argument("--seed", type=_seed, default=0)
    v.add_argument("--out", help="metrics.json path (default: RUN_DIR/metrics.json or ./metrics.json)")

    sub.add_parser("list", help="show models, presets and datasets", parents=[common])
    return parser


# The library's errors name keyword arguments; where a flag does the same, say the flag.
_FLAG_FOR_KEYWORD = {
    "overwrite=True": "--overwrite",
    "skip_corrupt=True": "--skip-corrupt",
    "feature_extractor=None": "--feature-extractor none",
    "feature_extractor='mnist'": "--feature-extractor mnist",
    "feature_extractor='inception'": "--feature-extractor inception",
}


def in_cli_words(message):
    """`message` with the library's keyword arguments replaced by the flags that set them."""
    for keyword, flag in _FLAG_FOR_KEYWORD.items():
        message = message.replace(keyword, flag)
    return message


def _check_output(path, kind, flag):
    """UsageError unless a `kind` ("file" or "directory") can be written at `path`."""
    from ganzoo.run_dir import unwritable_reason

    reason = unwritable_reason(path, kind)
    if reason:
        raise UsageError(f"{flag} {path} {reason}.")


def _default_run_dir(name, dataset):
    from ganzoo.models.registry import PRESETS

    if name in PRESETS and (dataset is None or dataset == PRESETS[name]["dataset"]):
        return os.path.join("runs", name)
    base = os.path.basename(os.path.normpath(dataset or "mnist_sample")).replace(":", "_")
    return os.path.join("runs", f"{name}_{base}")


def cmd_train(args):
    from ganzoo.config import resolve_config
    from ganzoo.training import train

    fields = {k: v for k, v in vars(args).items() if k not in ("command", "model", "verbose")}
    if fields.get("run_dir") is None:
        fields["run_dir"] = _default_run_dir(args.model, args.dataset)
    config = resolve_config(args.model, **fields)
    print(f"Run directory: {config.run_dir}  (TensorBoard: tensorboard --logdir {config.run_dir}/logs)",
          flush=True)
    history = train(config)
    if history:
        last = {k: round(v[-1], 4) for k, v in sorted(history.items(), key=lambda item: item[0] != "step")}
        print(f"Done: {json.dumps(last)}", flush=True)
    return 0


def _is_run_dir(source):
    return os.path.isdir(os.path.join(source, "checkpoints"))


def _load_sampler(source):
    """(generate(n, seed) -> samples, the data settings it was trained on) for a run dir or an
    export: {"dataset", "image_size", "data_dir", "skip_corrupt"}, from the run's config or the
    export's model card (empty when an export has no card)."""
    if not os.path.exists(source):
        raise UsageError(f"{source} does not exist: give a run directory or an export directory/.onnx file.")
    if _is_run_dir(source):
        from ganzoo.training import load_run

        config, model = load_run(source)
        return (lambda n, seed: model.generate(n, seed=seed)), config.to_dict()
    from ganzoo.export import load_exported

    exported = load_exported(source)
    card = exported.card or {}
    data = dict(card.get("config") or {})
    data.setdefault("dataset", card.get("dataset"))
    return (lambda n, seed: exported.generate(n, seed=seed)), data


def cmd_sample(args):
    from ganzoo.callbacks import sample_picture, write_png

    _check_output(args.out, "file", "--out")
    generate, data = _load_sampler(args.source)
    samples = generate(args.n, args.seed)
    reference = None
    if samples.ndim == 2 and data.get("dataset"):
        from ganzoo.data import load_real_samples

        try:
            reference = load_real_samples(data["dataset"], 2000, seed=0)
        except Exception:
            reference = None  # the grey reference points are a nicety; the samples are the point
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_png(sample_picture(samples, reference), args.out)
    print(f"Wrote {args.n} samples to {args.out}", flush=True)
    return 0


METRIC_ALIASES = {"fid": "fd", "fd": "fd"}
TOY_METRICS = {"modes", "js", "w1"}
DEFAULT_NUM_REAL = 10000


def _real_samples(args, data, fake):
    """The real samples to compare `fake` with: the run's data settings, at most --num-real."""
    from ganzoo.data import dataset_info, load_real_samples, toy_distribution

    dataset, image_size = data["dataset"], data.get("image_size")
    data_dir = args.data_dir or data.get("data_dir")
    skip_corrupt = bool(args.skip_corrupt if args.skip_corrupt is not None else data.get("skip_corrupt"))
    info = dataset_info(dataset, image_size=image_size, data_dir=data_dir)
    if info["kind"] == "toy" and fake.shape[1:] == (2,):
        return load_real_samples(dataset, args.num_real or max(len(fake), 2500), seed=args.seed), \
            toy_distribution(dataset)
    if tuple(info["shape"]) != fake.shape[1:]:
        raise UsageError(f"The generator makes samples of shape {fake.shape[1:]} but {dataset} holds "
                         f"{tuple(info['shape'])}; give the --dataset it was trained on.")
    available = info.get("num_examples")
    n = args.num_real or DEFAULT_NUM_REAL
    # The whole split in its stored order when it fits, else a seeded random subset.
    n = None if available is not None and n >= available else n
    return load_real_samples(dataset, n, image_size=image_size, seed=args.seed, data_dir=data_dir,
                             skip_corrupt=skip_corrupt), None


def cmd_evaluate(args):
    from ganzoo.metrics import evaluate_samples

    out = args.out or (os.path.join(args.source, "metrics.json") if _is_run_dir(args.source) else "metrics.json")
    if args.out:
        _check_output(args.out, "file", "--out")  # the default is tried after the table is printed
    metrics = None
    if args.metrics:
        metrics = [METRIC_ALIASES.get(m.strip(), m.strip()) for m in args.metrics.split(",") if m.strip()]
    generate, data = _load_sampler(args.source)
    data["dataset"] = args.dataset or data.get("dataset")
    if not data["dataset"]:
        raise UsageError("The export's model card names no dataset: pass --dataset.")
    fake = generate(args.num_samples, args.seed)
    real, toy = _real_samples(args, data, fake)
    toy_metrics = sorted(set(metrics or ()) & TOY_METRICS)
    if toy is None and toy_metrics:
        raise UsageError(f"--metrics {','.join(toy_metrics)} measure the 2-D toy mixtures (gaussian_ring, "
                         f"gaussian_grid); {data['dataset']} is not one.")
    extractor = None if args.feature_extractor == "none" else args.feature_extractor
    try:
        scores = evaluate_samples(fake, real, metrics=metrics, feature_extractor=extractor, seed=args.seed, toy=toy)
    except ValueError as e:
        raise UsageError(str(e)) from e
    print(f"{args.source} vs {data['dataset']} ({len(fake)} generated, {len(real)} real):")
    for key, value in scores.items():
        print(f"  {key:16s} {value:.4f}" if isinstance(value, float) else f"  {key:16s} {value}")
    _write_metrics(out, {"source": args.source, "dataset": data["dataset"], "num_samples": len(fake),
                         "num_real": len(real), "metrics": scores})
    return 0


def _write_metrics(path, report):
    from ganzoo.run_dir import atomic_write

    def dump(tmp):
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2, default=float)

    try:
        atomic_write(path, dump)
    except OSError as e:
        raise UsageError(f"could not write {path} ({e.strerror or e}); the scores are above. Pass --out FILE to "
                         "write them elsewhere.") from e
    print(f"Wrote {path}")


def cmd_export(args):
    from ganzoo.export import export_generator
    from ganzoo.export import _sha256
    from ganzoo.training import card_fields, open_run

    _check_output(args.out, "directory", "--out")
    if args.version and os.path.exists(os.path.join(args.out, str(args.version))) and not args.overwrite:
        raise UsageError(f"{os.path.join(args.out, str(args.version))} already exists. Pick another --version, "
                         "leave it out to take the next one, or pass --overwrite.")
    config, model, ckpt_path = open_run(args.run_dir)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    checkpoint = {"file": os.path.basename(ckpt_path), "sha256": _sha256(ckpt_path)}
    path = export_generator(model, args.out, version=args.version, formats=formats, overwrite=args.overwrite,
                            card=card_fields(config, model, checkpoint=checkpoint))
    print(f"Exported to {path}", flush=True)
    return 0


def cmd_list(args):
    from ganzoo.data import DATASETS
    from ganzoo.models.registry import MODELS, PRESETS

    print("Models:")
    for name, cls in MODELS.items():
        print(f"  {name:10s} {cls.__doc__.strip().splitlines()[0]}")
    print("Presets (flags override them):")
    for name, preset in PRESETS.items():
        extras = ", ".join(f"{k}={v}" for k, v in preset.items() if k not in ("model", "dataset"))
        print(f"  {name:24s} {preset['model']} on {preset['dataset']}: {extras}")
    print("Datasets:")
    names = DATASETS if isinstance(DATASETS, (list, tuple)) else list(DATASETS)
    for name in names:
        desc = DATASETS[name] if isinstance(DATASETS, dict) else ""
        if isinstance(desc, dict):
            desc = desc.get("description", "")
        print(f"  {name:16s} {desc}")
    print("  any other tensorflow-datasets name with an 'image' feature (prepared in --data-dir), or an")
    print("  image folder: path/to/folder or dir:path/to/folder")
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "export": cmd_export, "evaluate": cmd_evaluate,
            "list": cmd_list}

# TensorFlow's start-up lines on stderr: absl's banner and INFO records (with their
# continuation lines), e.g. "I0000 00:00:17.. port.cc:153] oneDNN custom operations are on".
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_LOG_RECORD = re.compile(r"^[IWEF]\d{4} ")


def without_startup_noise(text):
    """`text` (captured stderr) without TensorFlow's start-up banner and INFO records; warnings
    and errors stay."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if line.rstrip("\n") == _BANNER:
            continue
        if _LOG_RECORD.match(line):
            dropping = line.startswith("I")
        if not dropping:
            kept.append(line)
    return "".join(kept)


def _import_tensorflow_quietly():
    # TF 2.21 logs from its C++ libraries while they load, before TF_CPP_MIN_LOG_LEVEL is
    # read, so the only way to hold those lines back is to catch file descriptor 2 meanwhile.
    import tempfile

    import importlib.util

    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return  # the JAX backend trains without TensorFlow (tf.data and TensorBoard use it where installed)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(without_startup_noise(captured.read().decode(errors="replace")))


def _quiet_logs(verbose):
    """Hold back TensorFlow's and absl's log lines unless --verbose; set before TF loads."""
    import logging

    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("absl", "tensorflow", "tf2onnx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    _import_tensorflow_quietly()


def _select_backend(backend):
    """--backend sets KERAS_BACKEND, which Keras reads once, when it is first imported."""
    if backend is None:
        return
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != backend:
        raise UsageError(f"--backend {backend}: Keras is already imported with the {keras.backend.backend()} "
                         f"backend in this process; set KERAS_BACKEND={backend} before importing it.")
    os.environ["KERAS_BACKEND"] = backend


def _show_warning(command):
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, UserWarning):
            print(f"ganzoo {command}: warning: {in_cli_words(str(message))}", file=sys.stderr, flush=True)
        else:
            default(message, category, filename, lineno, file, line)

    return show


def _user_errors():
    """The exception classes that are user mistakes, from the modules that are loaded (one that
    is not loaded cannot have raised)."""
    from ganzoo.export import ExportError
    from ganzoo.run_dir import RunDirError
    from ganzoo.config import ConfigError

    errors = [UsageError, ConfigError, RunDirError, ExportError]
    if "ganzoo.data" in sys.modules:
        errors.append(sys.modules["ganzoo.data"].DatasetError)
    return tuple(errors)


def main(argv=None):
    from ganzoo.run_dir import sigterm_as_interrupt

    args = build_parser().parse_args(argv)  # exits 2 on usage errors
    command = args.command
    try:
        with sigterm_as_interrupt(), warnings.catch_warnings():
            warnings.simplefilter("default", UserWarning)  # each call shows its warnings (once each)
            warnings.showwarning = _show_warning(command)
            _select_backend(getattr(args, "backend", None))
            _quiet_logs(args.verbose)
            return COMMANDS[command](args)
    except _user_errors() as e:
        print(f"ganzoo {command}: error: {in_cli_words(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"ganzoo {command}: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    except Exception as e:
        diverged = sys.modules.get("ganzoo.callbacks")
        if diverged is not None and isinstance(e, diverged.TrainingDiverged):
            print(f"ganzoo {command}: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
