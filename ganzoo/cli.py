"""`ganzoo train|sample|export|evaluate|list`: parse the command line, call the library.

Exit codes: 0 done, 1 training diverged or failed, 2 usage error (a user mistake, printed as
one message, never a traceback), 130 interrupted (after saving a checkpoint).
"""

import argparse
import json
import os
import sys


class UsageError(Exception):
    pass


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ganzoo", description="Train, sample, export and evaluate GANs (GAN, DCGAN, WGAN-GP) with Keras.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train (or resume) a model; MODEL is a model name or a preset",
                       description="Train a model. MODEL is gan, dcgan, wgan_gp or a preset such as dcgan_mnist "
                                   "(see `ganzoo list`); flags override the preset. Running it again on the "
                                   "same --run-dir resumes the run.")
    t.add_argument("model", metavar="MODEL")
    t.add_argument("--dataset", help="dataset name or image folder (default: the preset's, else mnist_sample)")
    t.add_argument("--epochs", type=_positive_int)
    t.add_argument("--steps-per-epoch", type=_positive_int, help="generator steps per epoch")
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--seed", type=int)
    t.add_argument("--run-dir", help="run directory (default runs/<preset or model>_<dataset>)")
    t.add_argument("--jit-compile", choices=("auto", "on", "off"))
    t.add_argument("--mixed-precision", choices=("off", "float16", "bfloat16"))
    t.add_argument("--strategy", choices=("default", "mirrored", "multi_worker"))
    t.add_argument("--ema", type=_float, metavar="DECAY", help="EMA of generator weights, e.g. 0.999")
    t.add_argument("--latent-dim", type=_positive_int)
    t.add_argument("--width", type=_positive_int, help="width of the default networks")
    t.add_argument("--d-lr", type=_float)
    t.add_argument("--g-lr", type=_float)
    t.add_argument("--beta-1", type=_float)
    t.add_argument("--beta-2", type=_float)
    t.add_argument("--d-steps", "--n-critic", dest="d_steps", type=_positive_int,
                   help="discriminator (critic) steps per generator step")
    t.add_argument("--gp-weight", type=_float)
    t.add_argument("--generator-loss", choices=("non_saturating", "minimax"))
    t.add_argument("--pack", type=_positive_int, metavar="M",
                   help="PacGAN packing: the discriminator judges M samples at once (batch size a multiple of M)")
    t.add_argument("--image-size", type=_positive_int)
    t.add_argument("--data-dir", help="tensorflow-datasets directory with prepared data")
    t.add_argument("--steps-per-execution", type=_positive_int)
    t.add_argument("--checkpoint-every", type=_positive_int, metavar="N", help="also checkpoint every N steps")
    t.add_argument("--log-every", type=_positive_int, metavar="N", help="TensorBoard step scalars every N steps")
    t.add_argument("--eval-every", type=_positive_int, metavar="EPOCHS",
                   help="log sample-quality metrics and the mode-collapse alarm every N epochs")
    t.add_argument("--eval-samples", type=_positive_int, metavar="N", help="samples per evaluation (2000)")
    t.add_argument("--deterministic", action="store_true", default=None,
                   help="enable TensorFlow op determinism (bitwise-repeatable runs, slower)")
    t.add_argument("--export", dest="export_dir", metavar="DIR",
                   help="after training, export the generator to DIR/<version> (SavedModel + ONNX)")
    t.add_argument("--quiet", action="store_true", default=None, help="no progress bars, logs only")

    s = sub.add_parser("sample", help="write a PNG grid of samples from a run dir or an export")
    s.add_argument("source", metavar="RUN_DIR_OR_EXPORT")
    s.add_argument("--n", type=_positive_int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default="samples.png")

    e = sub.add_parser("export", help="export a run's generator as SavedModel + ONNX")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--out", required=True, help="base directory, e.g. exported_models/dcgan_mnist")
    e.add_argument("--version", type=_positive_int)
    e.add_argument("--format", default="saved_model,onnx")
    e.add_argument("--overwrite", action="store_true")

    v = sub.add_parser("evaluate", help="sample-quality metrics of a run or an export, offline")
    v.add_argument("source", metavar="RUN_DIR_OR_EXPORT")
    v.add_argument("--dataset", help="real data to compare with (default: the run's / the export card's)")
    v.add_argument("--metrics", help="comma-separated: fid (Frechet distance), kid, is, pr, coverage, "
                                     "diversity, modes, js, w1 (default: all that fit the data)")
    v.add_argument("--num-samples", type=_positive_int, default=10000)
    v.add_argument("--feature-extractor", choices=("auto", "mnist", "inception", "none"), default="auto")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--out", help="metrics.json path (default: RUN_DIR/metrics.json or ./metrics.json)")

    sub.add_parser("list", help="show models, presets and datasets")
    return parser


def _default_run_dir(name, dataset):
    from ganzoo.models.registry import PRESETS

    if name in PRESETS and (dataset is None or dataset == PRESETS[name]["dataset"]):
        return os.path.join("runs", name)
    base = os.path.basename(os.path.normpath(dataset or "mnist_sample")).replace(":", "_")
    return os.path.join("runs", f"{name}_{base}")


def cmd_train(args):
    from ganzoo.train import resolve_config, train

    fields = {k: v for k, v in vars(args).items() if k not in ("command", "model")}
    if fields.get("run_dir") is None:
        fields["run_dir"] = _default_run_dir(args.model, args.dataset)
    config = resolve_config(args.model, **fields)
    print(f"Run directory: {config.run_dir}  (TensorBoard: tensorboard --logdir {config.run_dir}/logs)",
          flush=True)
    history = train(config)
    if history:
        last = {k: round(v[-1], 4) for k, v in history.items()}
        print(f"Done: {json.dumps(last)}", flush=True)
    return 0


def _load_sampler(source):
    """(generate(n, seed) -> samples, reference-or-None) for a run dir or an export."""
    from ganzoo.train import load_run

    if os.path.isdir(os.path.join(source, "checkpoints")):
        config, model = load_run(source)
        return (lambda n, seed: model.generate(n, seed=seed)), config.dataset
    from ganzoo.export import load_exported

    exported = load_exported(source)
    dataset = (exported.card or {}).get("dataset")
    return (lambda n, seed: exported.generate(n, seed=seed)), dataset


def cmd_sample(args):
    from ganzoo.callbacks import sample_picture, write_png

    if not os.path.exists(args.source):
        raise UsageError(f"{args.source} does not exist: give a run directory or an export directory/.onnx file.")
    generate, dataset = _load_sampler(args.source)
    samples = generate(args.n, args.seed)
    reference = None
    if samples.ndim == 2 and dataset:
        from ganzoo.data import load_real_samples

        try:
            reference = load_real_samples(dataset, 2000, seed=0)
        except Exception:
            reference = None
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    write_png(sample_picture(samples, reference), args.out)
    print(f"Wrote {args.n} samples to {args.out}", flush=True)
    return 0


METRIC_ALIASES = {"fid": "fd", "fd": "fd"}


def cmd_evaluate(args):
    from ganzoo.data import load_real_samples, toy_distribution, dataset_info
    from ganzoo.metrics import evaluate_samples

    if not os.path.exists(args.source):
        raise UsageError(f"{args.source} does not exist: give a run directory or an export.")
    generate, dataset = _load_sampler(args.source)
    dataset = args.dataset or dataset
    if not dataset:
        raise UsageError("The export's model card names no dataset: pass --dataset.")
    fake = generate(args.num_samples, args.seed)
    info = dataset_info(dataset)
    toy = toy_distribution(dataset) if info["kind"] == "toy" else None
    real = load_real_samples(dataset, None if toy is None else max(args.num_samples, 2500),
                             seed=args.seed) if toy is not None else load_real_samples(dataset, None)
    metrics = None
    if args.metrics:
        metrics = [METRIC_ALIASES.get(m.strip(), m.strip()) for m in args.metrics.split(",") if m.strip()]
    extractor = None if args.feature_extractor == "none" else args.feature_extractor
    try:
        scores = evaluate_samples(fake, real, metrics=metrics, feature_extractor=extractor, seed=args.seed, toy=toy)
    except ValueError as e:
        raise UsageError(str(e)) from e
    print(f"{args.source} vs {dataset} ({len(fake)} generated, {len(real)} real):")
    for key, value in scores.items():
        print(f"  {key:16s} {value:.4f}" if isinstance(value, float) else f"  {key:16s} {value}")
    out = args.out or (os.path.join(args.source, "metrics.json")
                       if os.path.isdir(os.path.join(args.source, "checkpoints")) else "metrics.json")
    with open(out, "w") as f:
        json.dump({"source": args.source, "dataset": dataset, "num_samples": len(fake), "metrics": scores},
                  f, indent=2, default=float)
    print(f"Wrote {out}")
    return 0


def cmd_export(args):
    from ganzoo.export import export_generator
    from ganzoo.train import card_fields, load_run

    config, model = load_run(args.run_dir)
    formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
    path = export_generator(model, args.out, version=args.version, formats=formats, overwrite=args.overwrite,
                            card=card_fields(config, model))
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


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ganzoo.callbacks import TrainingDiverged
    from ganzoo.train import ConfigError

    user_errors = (UsageError, ConfigError)
    try:
        from ganzoo.data import DatasetError

        user_errors += (DatasetError,)
    except ImportError:
        pass
    try:
        from ganzoo.export import ExportError

        user_errors += (ExportError,)
    except ImportError:
        pass
    try:
        return COMMANDS[args.command](args)
    except user_errors as e:
        print(f"ganzoo {args.command}: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"ganzoo {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ganzoo {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
