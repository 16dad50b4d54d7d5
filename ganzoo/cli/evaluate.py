"""`ganzoo evaluate`: sample-quality metrics of a run or an export against a stated reference set."""

import json
import os

from ganzoo.cli.common import UsageError, _check_output, _is_run_dir, _load_sampler


def add_evaluate_parser(sub, common):
    from ganzoo.cli.common import _positive_int, _sample_count, _seed, add_trust_flag

    v = sub.add_parser("evaluate", help="sample-quality metrics of a run or an export, offline", parents=[common])
    v.add_argument("source", metavar="RUN_DIR_OR_EXPORT")
    v.add_argument("--dataset", help="real data to compare with (default: the run's / the export card's)")
    v.add_argument("--split", help="the split of it to compare with (default: the held-out 'test' split of "
                                   "mnist_sample (500 digits) and fashion_mnist (10,000 images); 'train' for "
                                   "other datasets)")
    v.add_argument("--data-dir", help="tensorflow-datasets directory, or fashion_mnist's idx folder (default: the "
                                      "run's / the export card's)")
    v.add_argument("--metrics", help="comma-separated: fid (Frechet distance), kid, is, pr, coverage, "
                                     "diversity, modes, js, w1 (default: all that fit the data)")
    v.add_argument("--num-samples", type=_sample_count, default=10000)
    v.add_argument("--num-real", type=_positive_int, metavar="N",
                   help="real examples to compare with: at most 10,000 by default (a random subset of a "
                        "larger split); the 2-D toys draw max(--num-samples, 2,500) points")
    v.add_argument("--skip-corrupt", action="store_true", default=None,
                   help="image folders: skip files that cannot be decoded (default: as the run did)")
    v.add_argument("--feature-extractor", choices=("auto", "mnist", "fashion_mnist", "inception", "none"),
                   default="auto", help="auto: the classifier of the run's dataset (mnist_sample and mnist: "
                   "'mnist'; fashion_mnist: 'fashion_mnist'), else 'mnist' for 28x28x1 images, else 'inception'")
    v.add_argument("--seed", type=_seed, default=0)
    v.add_argument("--out", help="metrics.json path (default: RUN_DIR/metrics.json or ./metrics.json)")
    add_trust_flag(v)


METRIC_ALIASES = {"fid": "fd", "fd": "fd"}
TOY_METRICS = {"modes", "js", "w1"}
DEFAULT_NUM_REAL = 10000


#: Datasets whose held-out split is the default reference (it exists for this: ganzoo's MNIST
#: classifier and README Results use it); others are compared with their training split.
HELD_OUT_SPLITS = {"mnist_sample": "test", "fashion_mnist": "test"}


def reference_split(dataset, split=None):
    """The split `ganzoo evaluate` compares with: `split`, else the dataset's held-out split."""
    return split or HELD_OUT_SPLITS.get(dataset, "train")


def _real_samples(args, data, fake):
    """(real samples, toy spec or None, split or None): what `fake` is compared with, from the run's
    data settings, at most --num-real examples of the reference split (toys: a fresh draw)."""
    from ganzoo.data import dataset_info, load_real_samples, toy_distribution

    dataset, image_size = data["dataset"], data.get("image_size")
    data_dir = args.data_dir or data.get("data_dir")
    skip_corrupt = bool(args.skip_corrupt if args.skip_corrupt is not None else data.get("skip_corrupt"))
    split = reference_split(dataset, args.split)
    info = dataset_info(dataset, image_size=image_size, data_dir=data_dir, split=split)
    if info["kind"] == "toy" and fake.shape[1:] == (2,):
        return load_real_samples(dataset, args.num_real or max(len(fake), 2500), seed=args.seed), \
            toy_distribution(dataset), None
    if tuple(info["shape"]) != fake.shape[1:]:
        raise UsageError(f"The generator makes samples of shape {fake.shape[1:]} but {dataset} holds "
                         f"{tuple(info['shape'])}; give the --dataset it was trained on.")
    available = info.get("num_examples")
    n = args.num_real or DEFAULT_NUM_REAL
    # The whole split in its stored order when it fits, else a seeded random subset.
    n = None if available is not None and n >= available else n
    return load_real_samples(dataset, n, image_size=image_size, seed=args.seed, data_dir=data_dir,
                             skip_corrupt=skip_corrupt, split=split), None, split


def describe_reference(dataset, split, num_real):
    """One line naming the real set the scores compare with."""
    if split is None:
        return f"{num_real} points drawn from {dataset}"
    held_out = " (held out from training)" if split != "train" else " (the training split)"
    return f"{num_real} real examples of {dataset} split {split!r}{held_out}"


def cmd_evaluate(args):
    from ganzoo.metrics import evaluate_samples

    out = args.out or (os.path.join(args.source, "metrics.json") if _is_run_dir(args.source) else "metrics.json")
    if args.out:
        _check_output(args.out, "file", "--out")  # the default is tried after the table is printed
    metrics = None
    if args.metrics:
        metrics = [METRIC_ALIASES.get(m.strip(), m.strip()) for m in args.metrics.split(",") if m.strip()]
    generate, data, class_names = _load_sampler(args.source, args.trust_saved_model)
    data["dataset"] = args.dataset or data.get("dataset")
    if not data["dataset"]:
        raise UsageError("The export's model card names no dataset: pass --dataset.")
    from ganzoo.labels import balanced_labels

    # A class-conditional generator: every class equally often (labels 0, 1, ..., K - 1, 0, ...).
    labels = balanced_labels(len(class_names) if class_names else None, args.num_samples)
    fake = generate(args.num_samples, args.seed, labels=labels)
    real, toy, split = _real_samples(args, data, fake)
    toy_metrics = sorted(set(metrics or ()) & TOY_METRICS)
    if toy is None and toy_metrics:
        raise UsageError(f"--metrics {','.join(toy_metrics)} measure the 2-D toy mixtures (gaussian_ring, "
                         f"gaussian_grid); {data['dataset']} is not one.")
    extractor = _extractor(args.feature_extractor, data["dataset"], fake)
    try:
        scores = evaluate_samples(fake, real, metrics=metrics, feature_extractor=extractor, seed=args.seed, toy=toy)
    except ValueError as e:
        raise UsageError(str(e)) from e
    try:
        scores.update(_conditional_scores(args, data, fake, labels, toy, split, len(real)))
    except ValueError as e:  # e.g. too few real examples of a class for its per-class FD
        raise UsageError(str(e)) from e
    reference = describe_reference(data["dataset"], split, len(real))
    print(f"{args.source}: {len(fake)} generated samples vs {reference}:")
    for key, value in scores.items():
        print(f"  {key:16s} {value:.4f}" if isinstance(value, float) else f"  {key:16s} {value}")
    _write_metrics(out, {"source": args.source, "dataset": data["dataset"], "split": split,
                         "num_samples": len(fake), "num_real": len(real), "reference": reference,
                         "metrics": scores})
    return 0


def _extractor(choice, dataset, fake):
    """The feature extractor: --feature-extractor, with "auto" picking the classifier of the dataset."""
    from ganzoo.metrics.features import classifier_for_dataset

    if choice == "none":
        return None
    if choice == "auto" and fake.shape[1:] == (28, 28, 1):
        return classifier_for_dataset(dataset) or "auto"
    return choice


def _conditional_scores(args, data, fake, labels, toy, split, num_real):
    """A conditional generator's scores: the share of samples in the requested mode (toys), or
    conditional accuracy and per-class FD through the dataset's classifier (MNIST, Fashion-MNIST); {} otherwise."""
    import numpy as np

    from ganzoo.data import load_real_samples
    from ganzoo.metrics.conditional import classifier_conditional_metrics, toy_conditional_metrics
    from ganzoo.metrics.features import classifier_for_dataset

    if labels is None:
        return {}
    labels = np.asarray(labels)
    if toy is not None:
        return toy_conditional_metrics(fake, labels, toy.centers, toy.sigma)
    classifier = classifier_for_dataset(data["dataset"])
    if classifier is None or fake.shape[1:] != (28, 28, 1):
        return {}
    real, real_labels = load_real_samples(data["dataset"], num_real, seed=args.seed, split=split,
                                          data_dir=args.data_dir or data.get("data_dir"), with_labels=True)
    return classifier_conditional_metrics(fake, labels, real, real_labels, classifier)


def _write_metrics(path, report):
    from ganzoo.fileio import atomic_write

    def dump(tmp):
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2, default=float)

    try:
        atomic_write(path, dump)
    except OSError as e:
        raise UsageError(f"could not write {path} ({e.strerror or e}); the scores are above. Pass --out FILE to "
                         "write them elsewhere.") from e
    print(f"Wrote {path}")
