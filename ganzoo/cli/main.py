"""`ganzoo train|sample|export|evaluate|verify|list`: parse the command line, call the library.

Exit codes: 0 done, 1 training diverged or failed, 2 usage error (a user mistake, printed as
one line, never a traceback, with nothing written), 130 interrupted by Ctrl-C and 143 by
SIGTERM (a training run saves a checkpoint first).

Parsing imports nothing heavy: `--help` and usage errors answer without loading TensorFlow,
whose start-up log lines are held back unless `--verbose`.
"""

import argparse
import json
import os
import signal
import sys
import warnings

from ganzoo.cli.common import (
    SAMPLE_LIMIT,
    UsageError,
    _check_output,
    _sample_grid_count,
    add_trust_flag,
    _load_sampler,
    _Parser,
    _positive_int,
    _seed,
    add_config_flags,
    in_cli_words,
)
from ganzoo.cli.evaluate import add_evaluate_parser, cmd_evaluate
from ganzoo.cli.optional_parts import check_optional_parts
from ganzoo.cli.quiet import _quiet_logs, _remove_quiet_import
from ganzoo.cli.verify import add_verify_parser, cmd_verify


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and absl's log lines (held back by default)")
    # The package root is loaded (it is this module's parent); its version is read from it, not
    # imported (nothing in the package imports its root).
    __version__ = sys.modules["ganzoo"].__version__
    parser = _Parser(
        prog="ganzoo", description="Train, sample, export and evaluate GANs (GAN, DCGAN, WGAN-GP, SN-GAN) with Keras.")
    parser.add_argument("--version", action="version", version=f"ganzoo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_train_parser, _add_sample_parser, _add_export_parser, add_evaluate_parser, add_verify_parser):
        add(sub, common)
    sub.add_parser("list", help="show models, presets and datasets", parents=[common])
    return parser


def _add_train_parser(sub, common):
    t = sub.add_parser("train", help="train (or resume) a model; MODEL is a model name or a preset", parents=[common],
                       description="Train a model. MODEL is gan, dcgan, wgan_gp, sngan or a preset such as dcgan_mnist "
                                   "(see `ganzoo list`); flags override the preset. Running it again on the "
                                   "same --run-dir resumes the run.")
    t.add_argument("model", metavar="MODEL")
    add_config_flags(t)


def _add_sample_parser(sub, common):
    s = sub.add_parser("sample", help="write a PNG grid of samples from a run dir, an export or a shipped "
                       "pretrained generator (by name: see `ganzoo list`)", parents=[common])
    s.add_argument("source", metavar="RUN_DIR_OR_EXPORT_OR_NAME")
    s.add_argument("--n", type=_sample_grid_count, default=64,
                   help=f"samples (default 64, at most {SAMPLE_LIMIT}: one PNG grid)")
    s.add_argument("--seed", type=_seed, default=0)
    s.add_argument("--out", default="samples.png", help="PNG file to write (default samples.png)")
    s.add_argument("--label", metavar="LABEL",
                   help="conditional generators: --n samples of this class (its index or name); default: "
                        "a grid with one row of --per-class samples per class")
    s.add_argument("--per-class", type=_positive_int, default=8, metavar="K",
                   help="conditional generators: samples per class in the default grid (default 8)")
    add_trust_flag(s)


def _add_export_parser(sub, common):
    e = sub.add_parser("export", help="export a run's generator as SavedModel + ONNX", parents=[common])
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--out", required=True, help="base directory, e.g. exported_models/dcgan_mnist")
    e.add_argument("--version", type=_positive_int)
    e.add_argument("--format", default="saved_model,onnx")
    e.add_argument("--overwrite", action="store_true", help="replace an existing --version")
    e.add_argument("--replace-model", action="store_true",
                   help="export into a base directory whose versions hold another model (TF Serving then serves "
                        "the new one)")


def _default_run_dir(name, dataset):
    from ganzoo.presets import PRESETS

    if name in PRESETS and (dataset is None or dataset == PRESETS[name]["dataset"]):
        return os.path.join("runs", name)
    base = os.path.basename(os.path.normpath(dataset or "mnist_sample")).replace(":", "_")
    return os.path.join("runs", f"{name}_{base}")


def _run_dir_of(args):
    """The train command's run directory: --run-dir, else the default for its model and data."""
    return args.run_dir if args.run_dir is not None else _default_run_dir(args.model, args.dataset)


def cmd_train(args):
    from ganzoo.config import resolve_config
    from ganzoo.runs.train import train

    fields = {k: v for k, v in vars(args).items() if k not in ("command", "model", "verbose")}
    fields["run_dir"] = _run_dir_of(args)
    config = resolve_config(args.model, **fields)
    print(f"Run directory: {config.run_dir}  (TensorBoard: tensorboard --logdir {config.run_dir}/logs)",
          flush=True)
    history = train(config)
    if history:
        last = {k: round(v[-1], 4) for k, v in sorted(history.items(), key=lambda item: item[0] != "step")}
        print(f"Done: {json.dumps(last)}", flush=True)
    return 0


def _sample_labels(args, class_names):
    """(labels for the samples, grid columns): --n of the --label class, a per-class grid for a
    conditional generator, (None, None) for an unconditional one."""
    import numpy as np

    if class_names is None:
        if args.label is not None:
            raise UsageError(f"{args.source} takes no --label: it is an unconditional generator, or one that draws "
                             "its label from the cluster shares it was trained on (--cluster-labels). --label "
                             "applies to class-conditional ones.")
        return None, None
    if args.label is None:
        if not class_names:
            raise UsageError(f"{args.source} has no model card naming its classes: pass --label.")
        return np.repeat(np.arange(len(class_names), dtype=np.int32), args.per_class), args.per_class
    label = class_names.index(args.label) if args.label in class_names else None
    if label is None:
        try:
            label = int(args.label)
        except ValueError:
            label = -1
    if label < 0 or (class_names and label >= len(class_names)):
        known = f": {', '.join(class_names)}" if class_names else ""
        raise UsageError(f"--label {args.label} is not a class of {args.source} (give an index from 0 to "
                         f"{len(class_names) - 1} or a name{known}).")
    return np.full(args.n, label, np.int32), None


def cmd_sample(args):
    from ganzoo.images import sample_picture, write_png

    _check_output(args.out, "file", "--out")
    generate, data, class_names = _load_sampler(args.source, args.trust_saved_model)
    labels, columns = _sample_labels(args, class_names)
    if labels is not None and len(labels) > SAMPLE_LIMIT:
        raise UsageError(f"--per-class {args.per_class} for {len(class_names)} classes is {len(labels)} samples; one "
                         f"grid holds at most {SAMPLE_LIMIT}. Lower --per-class, or pass --label.")
    samples = generate(args.n if labels is None else len(labels), args.seed, labels=labels)
    reference = None
    if samples.ndim == 2 and data.get("dataset"):
        from ganzoo.data import load_real_samples

        try:
            reference = load_real_samples(data["dataset"], 2000, seed=0)
        except Exception:
            reference = None  # the grey reference points are a nicety; the samples are the point
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_png(sample_picture(samples, reference, columns=columns), args.out)
    what = f"{len(samples)} samples" + (f", one row per class ({', '.join(class_names)})" if columns else "")
    print(f"Wrote {what} to {args.out}", flush=True)
    return 0


def cmd_export(args):
    from ganzoo.export.layout import check_base_dir

    _check_output(args.out, "directory", "--out")
    check_base_dir(args.out)
    if args.version and os.path.exists(os.path.join(args.out, str(args.version))) and not args.overwrite:
        raise UsageError(f"{os.path.join(args.out, str(args.version))} already exists. Pick another --version, "
                         "leave it out to take the next one, or pass --overwrite.")
    from ganzoo.export import export_generator
    from ganzoo.runs.finish import card_fields, class_names
    from ganzoo.runs.record import open_run

    config, model, ckpt_path, sha256 = open_run(args.run_dir)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    checkpoint = {"file": os.path.basename(ckpt_path), "sha256": sha256}
    path = export_generator(model, args.out, version=args.version, formats=formats, overwrite=args.overwrite,
                            card=card_fields(config, model, checkpoint=checkpoint, run_dir=args.run_dir),
                            class_names=class_names(config, model), replace_model=args.replace_model)
    print(f"Exported to {path}", flush=True)
    return 0


def cmd_list(args):
    from ganzoo.data import DATASETS
    from ganzoo.presets import MODEL_SUMMARIES, PRESETS

    print("Models:")
    for name, summary in MODEL_SUMMARIES.items():
        print(f"  {name:10s} {summary}")
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
    _list_pretrained()
    return 0


def _list_pretrained():
    import json

    from ganzoo.export.pretrained import shipped_pretrained

    print("Pretrained generators (ganzoo.pretrained(NAME), ganzoo sample NAME, ganzoo evaluate NAME):")
    for name, base in shipped_pretrained().items():
        card = json.loads(max(base.glob("*/model.json"), key=lambda p: int(p.parent.name)
                              if p.parent.name.isdigit() else -1).read_text())
        kind = f"conditional on {card['num_classes']} classes" if card.get("num_classes") else "unconditional"
        if card.get("label_prior"):
            kind = f"conditioned on {card['num_classes']} k-means clusters of its images"
        print(f"  {name:24s} {card.get('model')} on {card.get('dataset')}, {kind}, "
              f"{card.get('training_steps')} steps")


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "export": cmd_export, "evaluate": cmd_evaluate,
            "verify": cmd_verify, "list": cmd_list}

def _select_backend(backend):
    """--backend sets KERAS_BACKEND, which Keras reads once, when it is first imported."""
    if backend is None:
        return
    keras = sys.modules.get("keras")
    if keras is not None and keras.backend.backend() != backend:
        raise UsageError(f"--backend {backend}: Keras is already imported with the {keras.backend.backend()} "
                         f"backend in this process; set KERAS_BACKEND={backend} before importing it.")
    os.environ["KERAS_BACKEND"] = backend


def _check_before_importing_a_backend(args):
    """A resume on another backend than the run's is refused before TensorFlow or JAX loads (an
    answer in a second, not after their start-up), where the backend is named: by --backend or
    KERAS_BACKEND (Keras' own config file is read only when Keras is imported)."""
    backend = os.environ.get("KERAS_BACKEND")
    if args.command != "train" or not backend:
        return
    from ganzoo.runs.record import check_resume_backend

    check_resume_backend(_run_dir_of(args), backend)


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
    from ganzoo.errors import ConfigError, RunDirError

    errors = [UsageError, ConfigError, RunDirError, ExportError]
    if "ganzoo.data" in sys.modules:
        errors.append(sys.modules["ganzoo.data"].DatasetError)
    if "ganzoo.metrics.features" in sys.modules:  # a missing optional part: the message says where it goes
        errors.append(sys.modules["ganzoo.metrics.features"].InceptionWeightsNotFoundError)
    return tuple(errors)


def main(argv=None):
    from ganzoo.runs.signals import sigterm_as_interrupt

    args = build_parser().parse_args(argv)  # exits 2 on usage errors
    command = args.command
    try:
        with sigterm_as_interrupt(), warnings.catch_warnings():
            warnings.simplefilter("default", UserWarning)  # each call shows its warnings (once each)
            warnings.showwarning = _show_warning(command)
            _quiet_logs(args.verbose)  # TensorFlow's start-up lines, when (and if) it is imported
            _select_backend(getattr(args, "backend", None))
            # A resume on the wrong backend first: "use --backend jax" helps more than "install tensorflow".
            _check_before_importing_a_backend(args)
            check_optional_parts(args)
            return COMMANDS[command](args)
    except _user_errors() as e:
        print(f"ganzoo {command}: error: {in_cli_words(str(e))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped reading (`ganzoo list | head`): not a failure; stop quietly, and keep
        # Python from reporting the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"ganzoo {command}: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    except Exception as e:
        if isinstance(e, _run_failures()):
            print(f"ganzoo {command}: {e}", file=sys.stderr)
            return 1
        full = _disk_full(e)
        if full:
            print(f"ganzoo {command}: error: {full}", file=sys.stderr)
            return 1
        raise
    finally:
        _remove_quiet_import()


def _disk_full(error):
    """The one-line message for a full disk (or quota) met while writing, else None. Every
    file is written whole or not at all, so the files written before are intact."""
    import errno

    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" writing {error.filename}" if error.filename else ""
            return (f"no space left on the device{where} ({error.strerror}). Nothing was half-written: the files "
                    "written before are intact. Free some space and run the command again.")
        text = str(error)
        if "No space left on device" in text or "RESOURCE_EXHAUSTED: " in text and "space" in text:
            return ("no space left on the device (TensorFlow: No space left on device). Nothing was half-written: "
                    "the files written before are intact. Free some space and run the command again.")
        error = error.__cause__ or error.__context__
    return None


def _run_failures():
    """Exceptions that end a run with exit 1 and their one-line message: a diverged loss, a lost
    worker."""
    from ganzoo.errors import TrainingDiverged, WorkerLost

    return TrainingDiverged, WorkerLost


if __name__ == "__main__":
    sys.exit(main())
