"""tools/quality.py's results JSON: loading, merging from parallel processes, and its Markdown
tables beside the papers' anchors and real data.

`print_tables(results)` prints every table; each `*_table(results)` returns one as a string.
"""

import json
import math
import os

import numpy as np

TOY_DATASETS = ("gaussian_ring", "gaussian_grid")
MNIST_REFERENCE_KEY = "test_500_vs_train_4500"

# Published anchors: (modes captured, % high-quality samples), 2,500 samples, VEEGAN protocol.
# VEEGAN (Srivastava et al. 2017) Table 1 for GAN; the WGAN-GP and GDPP rows as quoted by the GDPP
# paper (Elfeki et al. 2019); PacGAN4 from Lin et al. 2018, Table 1. The PacGAN rows' own setup
# (the authors' code, synthetic_data_experiments/*/config.py): G 4 x 400 ReLU with batch norm, D 3 x
# 200 maxout units of 5 pieces, z of 2, Adam(1e-4, beta_1=0.8), 100 packs per step, 400 epochs of
# 100,000 points = 400,000 steps. The VEEGAN/GDPP rows' networks and budgets are those papers' own
# (not restated here); all train far longer than ganzoo's rows.
PAPER_ANCHORS = {
    "gaussian_ring": [("GAN (VEEGAN Table 1)", 1.0, 99.3), ("WGAN-GP (GDPP paper)", 6.8, 59.6),
                      ("GDPP-GAN (GDPP paper)", 8.0, 71.7)],
    "gaussian_grid": [("GAN (VEEGAN Table 1)", 3.3, 0.5), ("WGAN-GP (GDPP paper)", 24.2, 28.7),
                      ("PacGAN4 (400k steps, 4x400 BN G, 3x200 maxout D)", 24.8, 93.6),
                      ("GDPP-GAN (GDPP paper)", 24.8, 68.5)],
}


def load_results(path):
    """The results JSON at `path` (empty parts when it does not exist yet)."""
    if os.path.exists(path):
        with open(path) as f:
            return {"quickstart": {}, **json.load(f)}
    return {"toys": {}, "mnist": {}, "quickstart": {}}


def merge_json(path, merge, indent=1):
    """Re-read the JSON at `path` ({} when absent), apply `merge(current)` to it in place and write
    it back atomically, all under `path`.lock: parallel tool processes share the file, and the lock
    makes read-merge-write one step (two unlocked writers could each re-read before the other's
    write, and the later drop a run). Returns the merged dict."""
    import fcntl

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = {}
        if os.path.exists(path):
            with open(path) as f:
                current = json.load(f)
        merge(current)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(current, f, indent=indent, sort_keys=True)
        os.replace(tmp, path)
    return current


def save_results(path, results):
    """Merge `results` into the JSON at `path`, keeping every run other processes merged meanwhile."""
    def merge(current):
        for part in ("toys", "mnist", "quickstart"):
            current.setdefault(part, {}).update(results.get(part, {}))

    results.update(merge_json(path, merge))


def mean_std(values):
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=0))


def toy_table(results):
    """Markdown table of the toy runs (mean +- std over seeds) and the paper anchors."""
    lines = ["| data | model | seeds | steps | modes | % high quality | reverse KL | W1 | s/run | steps/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for dataset in TOY_DATASETS:
        total = _toy_modes(dataset)
        for (config, steps), runs in _toy_groups(results, dataset).items():
            modes = mean_std([r["modes"] for r in runs])
            hq = mean_std([100 * r["high_quality"] for r in runs])
            finite_kl = [r["reverse_kl"] for r in runs if math.isfinite(r["reverse_kl"])]
            # Reverse KL is infinite for a run with no high-quality sample: average the others.
            kl_text = "inf" if not finite_kl else "{:.2f} ± {:.2f}".format(*mean_std(finite_kl))
            if finite_kl and len(finite_kl) < len(runs):
                kl_text += f" ({len(runs) - len(finite_kl)} run(s) inf)"
            w1 = mean_std([r["w1"] for r in runs])
            secs = mean_std([r["seconds"] for r in runs])[0]
            lines.append(f"| {dataset} | ganzoo {config} | {len(runs)} | {steps} | {modes[0]:.1f} ± {modes[1]:.1f} "
                         f"/ {total} | {hq[0]:.1f} ± {hq[1]:.1f} | {kl_text} | {w1[0]:.3f} "
                         f"| {secs:.0f} | {steps / secs:.0f} |")
        for name, modes, hq in PAPER_ANCHORS[dataset]:
            lines.append(f"| {dataset} | paper: {name} | | | {modes} / {total} | {hq} | | | | |")
    return "\n".join(lines)


def mnist_table(results):
    """Markdown table of the MNIST runs and the real-data reference."""
    reference = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ganzoo", "weights",
                                            "mnist_classifier.json")))["reference"][MNIST_REFERENCE_KEY]
    lines = ["| model | width | budget | G steps (epochs) | MNIST FD ↓ | MNIST score ↑ | digits covered | digit KL "
             "| KID | precision | recall |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results.get("mnist", {}).values(), key=lambda r: (r["model"], r["width"])):
        budget = (f"{r['cpu_seconds'] / 60:.1f} CPU-min ({r['seconds'] / 60:.1f} min wall)" if "cpu_seconds" in r
                  else f"{r['seconds'] / 60:.1f} min wall")
        lines.append(f"| {r['model']} | {r['width']} | {budget} | {r['generator_steps']} "
                     f"({r['epochs']}) | {r['mnist_fd']:.2f} | {r['mnist_score']:.2f} | {r['digits_covered']:.0f} "
                     f"| {r['digit_kl']:.3f} | {r['kid_mean']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} |")
    for r in sorted(results.get("mnist", {}).values(), key=lambda r: (r["model"], r["width"])):
        if "conditional_accuracy" in r:
            lines.append(f"| {r['model']}: conditional accuracy {r['conditional_accuracy']:.3f}, mean per-class "
                         f"MNIST FD {r['mean_per_class_mnist_fd']:.2f} | | | | | | | | | | |")
    ref = reference
    lines.append(f"| real test digits (reference) | | | | {ref['mnist_fd']:.2f} | {ref['mnist_score']:.2f} "
                 f"| {ref['digits_covered']:.0f} | {ref['digit_kl']:.3f} | {ref['kid_mean']:.3f} "
                 f"| {ref['precision']:.3f} | {ref['recall']:.3f} |")
    return "\n".join(lines)


def quickstart_table(results):
    """Mean ± std (range) over seeds of the quick-start runs, one column per recipe (clusters and
    steps): the preset on k-means clusters of the digits, and the runs from before it had them
    (no `cluster_labels`)."""
    runs = list(results.get("quickstart", {}).values())
    if not runs:
        return "(no quick-start runs)"
    recipes = {}
    for r in runs:
        recipes.setdefault((r.get("cluster_labels") or 0, r["generator_steps"]), []).append(r)
    order = sorted(recipes, key=lambda key: (-key[0], key[1]))
    names = [f"{k} clusters, {steps:,} steps" if k else f"no clusters, {steps:,} steps" for k, steps in order]
    seeds = {k: f"{len(recipes[k])} seed{'s' if len(recipes[k]) > 1 else ''}" for k in order}
    lines = ["| metric | " + " | ".join(f"{n} ({seeds[k]})" for n, k in zip(names, order)) + " |",
             "|---|" + "---|" * len(order)]
    for key, label in [("mnist_fd", "MNIST FD ↓"), ("mnist_score", "MNIST score ↑"), ("digits_covered", "digits covered"),
                       ("digit_kl", "digit KL ↓"), ("precision", "precision"), ("recall", "recall"),
                       ("cpu_seconds", "CPU seconds")]:
        cells = []
        for k in order:
            values = [r[key] for r in recipes[k]]
            mean, std = mean_std(values)
            cells.append(f"{mean:.2f} ± {std:.2f} ({min(values):.2f} to {max(values):.2f})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _toy_modes(dataset):
    from ganzoo.metrics.toy import GRID_CENTERS, RING_CENTERS

    return len({"gaussian_ring": RING_CENTERS, "gaussian_grid": GRID_CENTERS}[dataset])


def _toy_groups(results, dataset, key=None):
    """{(config, steps): [runs]} of one toy dataset (runs holding `key` only, when given), sorted."""
    groups = {}
    for r in results.get("toys", {}).values():
        if r["dataset"] == dataset and (key is None or key in r):
            groups.setdefault((r["config"], r["steps"]), []).append(r)
    return dict(sorted(groups.items()))


def toy_conditional_table(results):
    """Markdown table of the conditional toy runs: do samples land in the mode they were asked for?"""
    lines = ["| data | model | seeds | steps | % in requested mode | % nearest mode is requested "
             "| worst mode's % in it |", "|---|---|---|---|---|---|---|"]
    for dataset in TOY_DATASETS:
        for (config, steps), runs in _toy_groups(results, dataset, "in_requested_mode").items():
            landed = mean_std([100 * r["in_requested_mode"] for r in runs])
            nearest = mean_std([100 * r["nearest_is_requested"] for r in runs])
            worst = [100 * np.nanmin(r["per_class_in_requested_mode"]) for r in runs]
            lines.append(f"| {dataset} | ganzoo {config} | {len(runs)} | {steps} | {landed[0]:.1f} ± {landed[1]:.1f} "
                         f"| {nearest[0]:.1f} ± {nearest[1]:.1f} | {min(worst):.1f} (lowest of any seed) |")
    return "\n".join(lines) if len(lines) > 2 else "(no conditional toy runs)"


def print_tables(results):
    """Print every table of the README's Results section."""
    print("\n## 2-D mixtures (2,500 samples per run; mean ± std over seeds)\n")
    print(toy_table(results))
    print("\n## Conditional 2-D mixtures (labels drawn uniformly; mean ± std over seeds)\n")
    print(toy_conditional_table(results))
    print("\n## mnist_sample (5,000 samples vs 500 held-out real digits, ganzoo's MNIST classifier)\n")
    print(mnist_table(results))
    print("\n## Quick start: the dcgan_mnist_sample preset as the README runs it (over --seeds)\n")
    print(quickstart_table(results))
