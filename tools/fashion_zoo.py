"""The Fashion-MNIST zoo: train a preset with the CLI, score it, export it, and write the table.

Protocol: 10,000 generated samples (seed 1000 + run seed; a class-conditional model gets every
class 1,000 times, labels `arange(10000) % 10`; a model on k-means clusters draws each sample's
cluster from the clusters' shares) against the 10,000 Fashion-MNIST test images (held
out from the GANs and from the classifier), through ganzoo's Fashion-MNIST classifier:
fashion_fd (a Frechet distance on that classifier's 128-d features, NOT Inception FID), KID,
fashion score (Inception-Score analogue), precision/recall (k = 5), classes covered, class KL;
conditional models also conditional accuracy and mean per-class fashion_fd.

Usage:
    python tools/fashion_zoo.py train dcgan_fashion_mnist --seed 0      # `python -m ganzoo train` + score
    python tools/fashion_zoo.py train PRESET --seed 0 -- --epochs 32    # flags over the preset: row "PRESET --epochs 32"
    python tools/fashion_zoo.py score RUN_DIR                           # score a `train` run again (its
                                                                        # zoo_budget.json: e.g. scoring failed)
    python tools/fashion_zoo.py score RUN_DIR --time-log LOG --train-command CMD  # score a run trained by hand
                                                                        # under `/usr/bin/time -v` (LOG)
    python tools/fashion_zoo.py export dcgan_fashion_mnist --seed 0     # -> exported_models/<preset>_pretrained
                                        # (--replace-model when the preset's networks changed)
    python tools/fashion_zoo.py rescore [ROW ...]                        # score runs again with this code
    python tools/fashion_zoo.py table                                   # markdown from the JSON
    python tools/fashion_zoo.py table --skip "--epochs 10"              # rows whose label does not match
    python tools/fashion_zoo.py table --match "--epochs 10"             # only the rows whose label matches
    python tools/fashion_zoo.py confidence                              # how class-typical samples are

CPU time is the training process's user + system time (all its threads; TF_NUM_INTRAOP_THREADS
and TF_NUM_INTEROP_THREADS, when set, are recorded in the row's command); steps per CPU-second
divide generator steps by it. Results: tools/fashion_zoo_results.json (one entry per preset,
with its flags, and seed, merged as runs finish).
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from ganzoo.labels import balanced_labels  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "tools", "fashion_zoo_results.json")
EVAL_SAMPLES = 10000
BUDGET_FILE = "zoo_budget.json"  # in a run dir: its training's label, CPU and wall seconds, command
KEY = "fashion_mnist"


def score_run(run_dir):
    """(model, config, scores) of a finished run: the protocol in the module docstring."""
    from ganzoo.data import load_real_samples
    from ganzoo.metrics import classifier_conditional_metrics, evaluate_samples
    from ganzoo.runs.record import load_run

    config, model = load_run(run_dir)
    labels = balanced_labels(model.num_classes, EVAL_SAMPLES, model.label_prior)
    fake = model.generate(EVAL_SAMPLES, seed=1000 + config.seed, labels=labels)
    real, real_labels = load_real_samples(config.dataset, None, split="test", data_dir=config.data_dir,
                                          with_labels=True)
    scores = evaluate_samples(fake, real, feature_extractor=KEY, seed=config.seed)
    if labels is not None:
        conditional = classifier_conditional_metrics(fake, labels, real, real_labels, classifier=KEY)
        scores["conditional_accuracy"] = conditional["conditional_accuracy"]
        scores["mean_per_class_fashion_fd"] = conditional["mean_per_class_fashion_fd"]
    return model, config, scores


def _row(run_dir, cpu_seconds, wall_seconds, command):
    from ganzoo.runs.callbacks.steps import steps_done

    model, config, scores = score_run(run_dir)
    steps = int(steps_done(model))
    return dict(scores, preset=config.preset, seed=config.seed, run_dir=run_dir, command=command,
                generator_steps=steps, epochs=config.epochs, batch_size=config.batch_size, width=config.width,
                d_steps=config.d_steps or 1, ema=config.ema, cpu_seconds=round(cpu_seconds, 1),
                wall_seconds=round(wall_seconds, 1) if wall_seconds else None,
                steps_per_cpu_second=round(steps / cpu_seconds, 2),
                generator_parameters=int(model.generator.count_params()), commit=_commit(),
                machine=f"{os.cpu_count()}-core CPU VM ({_cpu()}), shared (load average {os.getloadavg()[0]:.1f} "
                        "at scoring)")


def _cpu():
    """The CPU's model name and whether it computes in bfloat16 (the zoo's CPU time depends on both)."""
    from ganzoo.runs.backend import cpuinfo_field, native_bfloat16

    name = cpuinfo_field(("model name",)) or "unknown CPU"
    native, why = native_bfloat16()
    return f"{name}, {why}" if native is not None else name


def _commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _time_log_seconds(path):
    """(CPU seconds, wall seconds) from a `/usr/bin/time -v` log."""
    text = open(path).read()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    return user + system, sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def _save(row, results_path=RESULTS):
    from quality_tables import merge_json  # tools/, this script's directory

    # Several trainings (or rescores) finish at once: each merges its row under the file's lock.
    def merge(results):
        results[f"{row['preset']}_s{row['seed']}"] = row  # a row per preset (with its flags) and seed

    merge_json(results_path, merge, indent=2)
    print(json.dumps({k: v for k, v in row.items() if not isinstance(v, (list, dict))}), flush=True)


# Thread settings that change a run's CPU time per step; recorded in its command when set.
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def cmd_train(args):
    # A run with flags over its preset is its own row: "<preset> <flags>" (its run dir a slug of it).
    label = " ".join([args.preset, *args.extra])
    slug = re.sub(r"[^A-Za-z0-9._]+", "_", label.replace("--", "")).strip("_")
    run_dir = os.path.join(args.root, f"{slug}_s{args.seed}")
    command = [sys.executable, "-m", "ganzoo", "train", args.preset, "--seed", str(args.seed), "--run-dir", run_dir,
               "--quiet", *args.extra]
    start = time.time()
    subprocess.run(command, check=True, cwd=ROOT)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = [f"{k}={os.environ[k]}" for k in THREAD_VARIABLES if k in os.environ]
    shown = " ".join([*env, "python3", "-m", *command[2:]])
    budget = dict(label=label, cpu_seconds=usage.ru_utime + usage.ru_stime, wall_seconds=time.time() - start,
                  command=shown)
    # Kept before scoring: the training's CPU time is measured once, and a scoring that fails
    # (a changed loader, a missing test set) must not lose it. `score RUN_DIR` reads it back.
    with open(os.path.join(run_dir, BUDGET_FILE), "w") as f:
        json.dump(budget, f, indent=2)
    row = _row(run_dir, budget["cpu_seconds"], budget["wall_seconds"], shown)
    _save(dict(row, preset=label), args.results)


def cmd_score(args):
    if args.time_log:
        if not args.train_command:
            raise SystemExit("fashion_zoo.py score: --time-log needs --train-command (the command it timed, for "
                             "the record).")
        # A run resumed once has one log per part: their times add up.
        cpu, wall = (sum(part) for part in zip(*(_time_log_seconds(log) for log in args.time_log)))
        _save(_row(args.run_dir, cpu, wall, args.train_command), args.results)
        return
    path = os.path.join(args.run_dir, BUDGET_FILE)
    if not os.path.isfile(path):
        raise SystemExit(f"fashion_zoo.py score: {path} does not exist (`fashion_zoo.py train` writes it when the "
                         "training ends). For a run trained by hand give --time-log and --train-command.")
    budget = json.load(open(path))
    row = _row(args.run_dir, budget["cpu_seconds"], budget["wall_seconds"], budget["command"])
    _save(dict(row, preset=budget["label"]), args.results)


def cmd_rescore(args):
    """Score finished runs again with the current code (a change to sampling moves every score):
    the rows' metrics are replaced, their training budget kept; `scored_commit` records the code."""
    from ganzoo.runs.callbacks.steps import steps_done

    results = json.load(open(RESULTS))
    for key in args.rows or sorted(results):
        row = results[key]
        if not os.path.isdir(row["run_dir"]):
            print(f"{key}: run dir {row['run_dir']} is gone; row left as it is", flush=True)
            continue
        model, _, scores = score_run(row["run_dir"])
        found = (int(steps_done(model)), int(model.generator.count_params()))
        if found != (row["generator_steps"], row["generator_parameters"]):
            print(f"{key}: run dir {row['run_dir']} now holds another run (steps, G parameters {found}); "
                  "row left as it is", flush=True)
            continue
        before = row["fashion_fd"]
        _save(dict(row, **scores, scored_commit=_commit()))
        print(f"{key}: fashion_fd {before:.4f} -> {scores['fashion_fd']:.4f}", flush=True)


def cmd_export(args):
    from ganzoo.images import sample_picture, write_png
    from ganzoo.export import export_generator
    from ganzoo.runs.finish import card_fields, class_names
    from ganzoo.runs.record import load_run

    row = json.load(open(RESULTS))[f"{args.preset}_s{args.seed}"]
    config, model = load_run(row["run_dir"])
    card = card_fields(config, model, run_dir=row["run_dir"])
    card["metrics"] = {k: v for k, v in row.items() if isinstance(v, float) and k not in (
        "cpu_seconds", "wall_seconds", "steps_per_cpu_second")}
    card["training_budget"] = {k: row[k] for k in ("cpu_seconds", "wall_seconds", "generator_steps", "epochs",
                                                   "batch_size", "width", "seed", "steps_per_cpu_second",
                                                   "command", "commit", "machine")}
    card["evaluation"] = ("tools/fashion_zoo.py: 10,000 samples (seed 1000 + training seed; conditional on classes: "
                          "labels arange(10000) % 10; on k-means clusters: each drawn from the clusters' shares) "
                          "vs the 10,000 Fashion-MNIST test images through ganzoo's "
                          "Fashion-MNIST classifier (fashion_fd is not Inception FID; precision/recall k=5)")
    name = f"{args.preset}_pretrained"
    path = export_generator(model, os.path.join(args.export_dir, name), version=1, overwrite=True, card=card,
                            class_names=class_names(config, model), replace_model=args.replace_model)
    if model.num_classes and model.label_prior is None:  # one row of 8 per class
        labels = np.repeat(np.arange(model.num_classes), 8)
        picture = sample_picture(model.generate(len(labels), seed=0, labels=labels), columns=8)
    else:  # on k-means clusters: 64 samples, each drawing its cluster from the clusters' shares
        picture = sample_picture(model.generate(64, seed=0))
    png = os.path.join(args.export_dir, f"{name}_samples.png")
    write_png(picture, png)
    print(f"exported {path}; picture {png}")


COLUMNS = (("fashion_fd", "fashion_fd ↓", "{:.3f}"), ("kid_mean", "KID ↓", "{:.4f}"),
           ("fashion_score", "score ↑", "{:.2f}"), ("precision", "precision ↑", "{:.3f}"),
           ("recall", "recall ↑", "{:.3f}"), ("classes_covered", "classes", "{:.0f}"),
           ("class_kl", "class KL ↓", "{:.4f}"), ("conditional_accuracy", "cond. acc. ↑", "{:.3f}"))


def _mean_std(values):
    values = np.asarray(values, float)
    return values.mean(), (values.std(ddof=1) if len(values) > 1 else float("nan"))


def cmd_table(args):
    from ganzoo.metrics import classifier_info

    results = json.load(open(RESULTS))
    by_preset = {}
    for row in results.values():
        if args.match is not None and not re.search(args.match, row["preset"]):
            continue
        if args.skip is not None and re.search(args.skip, row["preset"]):
            continue
        by_preset.setdefault(row["preset"], []).append(row)
    header = ("| model (preset) | seeds | steps | batch | width | CPU-min | steps/CPU-s | "
              + " | ".join(c[1] for c in COLUMNS) + " |")
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(COLUMNS)]
    for preset, rows in sorted(by_preset.items()):
        cells = []
        for name, _, fmt in COLUMNS:
            values = [r[name] for r in rows if name in r]
            if not values:
                cells.append("")
                continue
            mean, std = _mean_std(values)
            cells.append(fmt.format(mean) + ("" if np.isnan(std) else f" ± {fmt.format(std)}"))
        steps = "/".join(sorted({str(r["generator_steps"]) for r in rows}))
        cpu = _mean_std([r["cpu_seconds"] / 60 for r in rows])
        rate = _mean_std([r["steps_per_cpu_second"] for r in rows])
        lines.append(f"| {preset} | {','.join(str(r['seed']) for r in sorted(rows, key=lambda r: r['seed']))} | "
                     f"{steps} | {rows[0]['batch_size']} | {rows[0]['width']} | {cpu[0]:.1f} | {rate[0]:.1f} | "
                     + " | ".join(cells) + " |")
    info = classifier_info(KEY)
    ref = info["reference"]["vs_test_10k"]["real_train_10k"]
    lines.append("| real training images (floor) | | | | | | | " + " | ".join(
        fmt.format(ref[name]) if name in ref else "" for name, _, fmt in COLUMNS) + " |")
    print("\n".join(lines))
    print(f"\nclassifier test accuracy (the ceiling of conditional accuracy): {info['training']['test_accuracy']:.4f}")


def class_confidence(images, key=KEY):
    """The classifier's largest class probability for each image (numpy, (N,))."""
    import keras

    from ganzoo.metrics.features import load_classifier

    classifier = load_classifier(key)
    probs = [keras.ops.convert_to_numpy(classifier(images[i: i + 1000], training=False))
             for i in range(0, len(images), 1000)]
    return np.concatenate(probs).max(axis=1)


def cmd_confidence(args):
    """How class-typical the shipped generators' samples are: the share of 10,000 samples (the
    card protocol's draw) whose most likely class the classifier gives less than 0.5 and 0.9,
    beside the test images'. Between-class samples sit between the feature clusters, which is
    what fashion_fd punishes most."""
    import ganzoo
    from ganzoo.data import load_real_samples
    from ganzoo.export import shipped_pretrained

    rows = [("real test images", load_real_samples(KEY, None, split="test"))]
    for name in sorted(n for n in shipped_pretrained() if n.endswith("_" + KEY)):
        gen = ganzoo.pretrained(name)
        labels = balanced_labels(gen.num_classes, EVAL_SAMPLES, gen.label_prior)
        rows.append((name, gen.generate(EVAL_SAMPLES, seed=1000 + gen.card["seed"], labels=labels)))
    print("| samples | max class probability < 0.5 | < 0.9 | mean |\n|---|---:|---:|---:|")
    for name, images in rows:
        top = class_confidence(images)
        print(f"| {name} | {np.mean(top < 0.5):.3f} | {np.mean(top < 0.9):.3f} | {top.mean():.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    t = sub.add_parser("train")
    t.add_argument("preset")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--root", default=os.path.join(ROOT, "runs", "fashion"))
    t.add_argument("--results", default=RESULTS, help="the JSON file the row is merged into")
    t.add_argument("extra", nargs="*", help="more `ganzoo train` flags (after --)")
    s = sub.add_parser("score", help="score a finished run: one `train` trained (its zoo_budget.json), or one "
                                     "trained by hand under `/usr/bin/time -v` (--time-log, --train-command)")
    s.add_argument("run_dir")
    s.add_argument("--time-log", action="append",
                   help="the `/usr/bin/time -v` output of the training command (repeat for a resumed run)")
    s.add_argument("--train-command", help="the training command, for the record")
    s.add_argument("--results", default=RESULTS, help="the JSON file the row is merged into")
    e = sub.add_parser("export")
    e.add_argument("preset")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--export-dir", default=os.path.join(ROOT, "exported_models"))
    e.add_argument("--replace-model", action="store_true",
                   help="the preset's networks changed (e.g. its number of clusters): replace the shipped model")
    r = sub.add_parser("rescore", help="score finished runs again with the current code")
    r.add_argument("rows", nargs="*", help="row keys (default: every row)")
    t = sub.add_parser("table")
    t.add_argument("--match", metavar="REGEX", help="only the rows whose label (preset and flags) matches")
    t.add_argument("--skip", metavar="REGEX", help="leave out the rows whose label matches")
    sub.add_parser("confidence", help="how class-typical the shipped generators' samples are")
    args, unknown = parser.parse_known_args()
    if unknown and args.action != "train":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.action == "train":  # `ganzoo train` flags, after `--` or not
        args.extra = [a for a in args.extra + unknown if a != "--"]
    {"train": cmd_train, "score": cmd_score, "rescore": cmd_rescore, "export": cmd_export, "table": cmd_table,
     "confidence": cmd_confidence}[args.action](args)


if __name__ == "__main__":
    main()
