"""DCGAN on a fraction of a dataset's training images, plain vs with augmentation, at equal steps.

Usage:
    python tools/quality_augment.py --steps 600 --fractions 0.1,1 --configs plain,diffaugment --seeds 0
    python tools/quality_augment.py --dataset fashion_mnist --steps 4000 --fractions 0.1,1 --seeds 0,1,2
    python tools/quality_augment.py --dataset fashion_mnist --steps 4000 --fractions 1 --clusters 0,10,30
    python tools/quality_augment.py --dataset fashion_mnist --score-runs runs/fashion/dcgan_fashion_mnist_s*
    python tools/quality_augment.py --quick          # checks the script in seconds

`--dataset fashion_mnist` (the `dcgan_fashion_mnist` preset's model and optimizers, the same
as below) trains on the first `fraction` of a fixed shuffle of the 60,000 training images and
scores 5,000 samples of the EMA generator against the 10,000 test images with ganzoo's
Fashion-MNIST classifier (fashion_fd, fashion score, precision/recall k = 5, classes covered,
class KL); the 10% and 100% rows at equal steps give the gap the augmentation should close.
Every row also says how much D memorized its training images (`memorization`). `--clusters K`
conditions G and D on K k-means clusters of the subset (`--cluster-labels K` of `ganzoo train`)
and reports the clusters' purity and G's diversity within a cluster (`cluster_diversity`).

Each run is the `dcgan_mnist_sample` preset's model and optimizers (DCGAN width 32, z of 100,
Adam(5e-4, 0.5) for both players, batch 64, EMA of G 0.999 warmed up) trained for `--steps`
generator steps on the first `fraction` of a fixed shuffle of the 4,500 training digits (0.1:
450 digits, repeated), then scored as tools/quality.py scores its MNIST rows: 5,000 samples of
the EMA generator against 500 held-out digits with ganzoo's MNIST classifier (MNIST FD, MNIST
score, digits covered). Prints one line per run and a JSON summary (`--out`).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log level is set)

CONFIGS = {
    "plain": {},
    "diffaugment": {"augment": "diffaugment"},  # color,translation,cutout
    "diffaugment_tc": {"augment": "diffaugment", "augment_policy": "translation,cutout"},
    "ada": {"augment": "ada", "ada_kimg": 100},
    "lecam": {"lecam_weight": 0.3},
    "r1": {"r1_gamma": 1.0, "r1_every": 4},
}
BATCH, EVAL_SAMPLES = 64, 5000


def run(config_name, fraction, seed, steps, dataset="mnist_sample", clusters=0):
    import keras

    import ganzoo
    from ganzoo.data import load_real_samples
    from ganzoo.data.clusters import fit_clusters

    keras.utils.set_random_seed(seed)
    train, train_labels = load_real_samples(dataset, None, split="train", with_labels=True)
    order = np.random.default_rng(1234).permutation(len(train))  # one subset for every config and seed
    subset = order[: max(BATCH, int(round(fraction * len(train))))]
    train, train_labels = train[subset], train_labels[subset]
    repeats = -(-steps * BATCH // len(train))
    rows = np.concatenate([np.random.default_rng(seed + r).permutation(len(train)) for r in range(repeats)])
    rows = rows[: steps * BATCH]
    # With clusters: conditioned on k-means clusters of the subset (as `--cluster-labels K`).
    found = fit_clusters(train, clusters, seed=seed) if clusters else None
    cluster_of = found.assign(train) if clusters else None
    model = ganzoo.DCGAN(data_shape=(28, 28, 1), width=32, latent_dim=100, seed=seed,
                         num_classes=clusters or None, label_prior=found.prior if clusters else None,
                         **CONFIGS[config_name])
    model.compile(d_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5), ema_decay=0.999, steps_per_execution=10)
    t0, c0 = time.perf_counter(), time.process_time()
    history = model.fit(Batches(train, cluster_of, rows), epochs=1, shuffle=False, verbose=0).history
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    fake = model.generate(EVAL_SAMPLES, seed=1000 + seed)  # a model on clusters draws them from their shares
    real, scores = score(fake, dataset, seed)
    result = dict(dataset=dataset, config=config_name, fraction=fraction, images=len(train), seed=seed, steps=steps,
                  clusters=clusters,
                  seconds=round(seconds, 1), cpu_seconds=round(cpu, 1),
                  **{k: float(v) for k, v in scores.items() if np.ndim(v) == 0})
    if "ada_p" in history:
        result["ada_p"] = float(history["ada_p"][-1])
    result.update(memorization(model, train, real, found))
    if clusters:
        result.update(cluster_diversity(found, cluster_of, train, train_labels, fake, seed))
    return result


class Batches(keras.utils.PyDataset):
    """The batches of `rows` (indices into the training images), gathered one at a time: the
    whole sequence of a long run as one array would take steps x 64 images of memory."""

    def __init__(self, images, labels, rows):
        super().__init__()
        self.images, self.labels, self.rows = images, labels, rows

    def __len__(self):
        return len(self.rows) // BATCH

    def __getitem__(self, i):
        rows = self.rows[i * BATCH: (i + 1) * BATCH]
        return self.images[rows] if self.labels is None else (self.images[rows], self.labels[rows])


def cluster_diversity(found, cluster_of, train, train_labels, fake, seed, per_cluster=100):
    """How well the clusters follow the classes (purity: the share of images whose cluster's most
    common class is theirs) and how diverse G is within a cluster: the mean pixel distance between
    two samples drawn for the same cluster over that of two training images of the cluster,
    averaged over clusters (1: as diverse as the data; near 0: G collapsed within clusters)."""
    from cluster_purity import purity as cluster_purity  # tools/, this script's directory
    from ganzoo.labels import prior_labels

    purity = cluster_purity(cluster_of, train_labels, found.k)
    fake_clusters = prior_labels(found.prior, len(fake), 1000 + seed)  # as `generate` drew them

    def spread(images):
        if len(images) < 2:  # a small cluster may draw no sample, or one, of the EVAL_SAMPLES
            return np.nan
        flat = images[:per_cluster].reshape(min(len(images), per_cluster), -1).astype(np.float64)
        d = np.sqrt(np.maximum(((flat[:, None] - flat[None]) ** 2).sum(-1), 0))
        return d[np.triu_indices(len(flat), 1)].mean()

    ratios = [spread(fake[fake_clusters == c]) / spread(train[cluster_of == c]) for c in range(found.k)]
    return {"cluster_purity": float(purity), "within_cluster_diversity": float(np.nanmean(ratios))}


def score(fake, dataset, seed):
    """(the held-out real images, scores) of `EVAL_SAMPLES` generated ones, as every row is scored."""
    from ganzoo.data import load_real_samples
    from ganzoo.metrics import evaluate_samples

    if dataset == "fashion_mnist":
        real = load_real_samples(dataset, None, split="test")
        return real, evaluate_samples(fake, real, feature_extractor=dataset, metrics=("fd", "is", "pr", "coverage"),
                                      seed=seed)
    real = load_real_samples(dataset, 500, split="test", seed=seed)
    return real, evaluate_samples(fake, real, feature_extractor="mnist", metrics=("fd", "is", "coverage"))


def score_run(run_dir):
    """A `ganzoo train` run of the same model scored as the rows are (say, a preset trained on all
    the data): its EMA generator's samples, seed 1000 + the run's seed."""
    from ganzoo.runs.record import load_run

    config, model = load_run(run_dir)
    _, scores = score(model.generate(EVAL_SAMPLES, seed=1000 + config.seed), config.dataset, config.seed)
    steps = int(model.g_optimizer.iterations.numpy())
    return dict(run_dir=run_dir, dataset=config.dataset, preset=config.preset, seed=config.seed, steps=steps,
                **{k: float(v) for k, v in scores.items() if np.ndim(v) == 0})


def memorization(model, train, held_out, clusters=None, n=500):
    """How much D memorized its training images: the ADA heuristic r = E[sign(D(x))] and the mean
    D(x) = sigmoid(logit) on `n` of them and on `n` held-out real images (un-augmented). A D that
    generalizes scores both alike; the gap grows as it memorizes (Karras et al. 2020, Fig. 1)."""
    import keras

    out = {}
    for name, images in (("train", train[:n]), ("held_out", held_out[:n])):
        inputs = images if clusters is None else [images, clusters.assign(images)]  # D(x, its cluster)
        logits = keras.ops.convert_to_numpy(model.discriminator(inputs, training=False)).reshape(-1)
        out[f"d_rt_{name}"] = float(np.mean(np.sign(logits)))
        out[f"d_prob_{name}"] = float(np.mean(1 / (1 + np.exp(-logits))))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="generator steps per run (a multiple of 10)")
    parser.add_argument("--dataset", default="mnist_sample", choices=("mnist_sample", "fashion_mnist"))
    parser.add_argument("--fractions", default="0.1,1")
    parser.add_argument("--configs", default="plain,diffaugment", help=f"from {', '.join(CONFIGS)}")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--clusters", default="0", help="K k-means clusters of the images as labels (0: none), "
                                                         "comma-separated to compare, e.g. 0,10,30")
    parser.add_argument("--out", default="runs/quality_augment.json")
    parser.add_argument("--quick", action="store_true", help="20 steps, one run per config")
    parser.add_argument("--score-runs", nargs="+", metavar="RUN_DIR",
                        help="only score these `ganzoo train` run directories the same way")
    args = parser.parse_args(argv)
    if args.score_runs:
        for run_dir in args.score_runs:
            print(json.dumps(score_run(run_dir)), flush=True)
        return
    fractions = [float(f) for f in args.fractions.split(",")]
    configs, seeds = args.configs.split(","), [int(s) for s in args.seeds.split(",")]
    if args.quick:
        args.steps, fractions, seeds = 20, fractions[:1], seeds[:1]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; choose from {', '.join(CONFIGS)}")
    results = []
    cluster_counts = [int(k) for k in args.clusters.split(",")]
    for seed in seeds:
        for fraction in fractions:
            for name in configs:
                for k in cluster_counts:
                    result = run(name, fraction, seed, args.steps, args.dataset, clusters=k)
                    results.append(result)
                    print(json.dumps(result), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
