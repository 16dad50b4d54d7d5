"""Throughput of ganzoo's data pipelines, against the training step they feed.

Prints examples/s for each pipeline (first epoch, which decodes and fills the cache, and the
steady state; iterated eagerly from Python, which model.fit does not pay), then the examples/s
of training steps measured in the same process (DCGAN on 28x28x1 batches for the images, the
MLP GAN on the 2-D ring for the toys), and the ratio: a ratio well above 1 means the pipeline
is never what training waits for (tf.data also prefetches, overlapping the two).

Usage:
    python tools/benchmark_data.py            # ~1 minute on 2 CPU cores
    python tools/benchmark_data.py --quick    # fewer epochs and images, no training baseline
"""

import argparse
import os
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import ganzoo  # noqa: E402
from ganzoo import data  # noqa: E402


def examples_per_second(dataset, epochs):
    """(first-epoch rate, steady-state rate) of iterating `dataset`, in examples/s."""
    rates = []
    for _ in range(epochs):
        start, count = time.perf_counter(), 0
        for batch in dataset:
            x = batch[0] if isinstance(batch, tuple) else batch
            count += int(x.shape[0])
        rates.append(count / (time.perf_counter() - start))
    return rates[0], float(np.median(rates[1:])) if len(rates) > 1 else rates[0]


def write_pngs(folder, n, side, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        # Smooth images compress like photos; pure noise would make decoding unrealistically slow.
        base = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
        image = Image.fromarray(base).resize((side, side), Image.BILINEAR)
        image.save(os.path.join(folder, f"{i:05d}.png"))


def training_rate(model, dataset_name, batch_size, steps):
    """Examples/s of `model`'s train steps on `dataset_name` batches (compile time excluded)."""
    model.compile()
    dataset = ganzoo.load_dataset(dataset_name, batch_size=batch_size, seed=0, repeat=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: "shuffle=True was passed" for a tf.data input
        model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # trace and compile
        start = time.perf_counter()
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and images; skip the training baseline")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    epochs = 3 if args.quick else 6
    n_pngs = 500 if args.quick else 3000
    batch = args.batch_size

    rows = []

    def bench(label, make_dataset):
        start = time.perf_counter()
        dataset = make_dataset()
        setup = time.perf_counter() - start
        first, steady = examples_per_second(dataset, epochs)
        rows.append((label, setup, first, steady))
        print(f"{label:<44} setup {setup:6.2f} s   first epoch {first:10,.0f}/s   steady {steady:10,.0f}/s", flush=True)

    print(f"batch size {batch}, {epochs} epochs each; examples/s\n")
    bench("mnist_sample 28x28x1", lambda: data.load_dataset("mnist_sample", batch_size=batch, seed=0))
    bench(
        "mnist_sample resized 64x64x3",
        lambda: data.load_dataset("mnist_sample", batch_size=batch, seed=0, image_size=64, channels=3),
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        write_pngs(folder, n_pngs, 64)
        print(f"(wrote {n_pngs} PNGs of 64x64x3 in {time.perf_counter() - start:.1f} s)")
        bench(f"folder {n_pngs} PNGs 64x64x3, in memory", lambda: data.load_dataset(folder, batch_size=batch, seed=0))
        bench(
            f"folder {n_pngs} PNGs 64x64x3, decoded every epoch",
            lambda: data.load_dataset(folder, batch_size=batch, seed=0, cache=False),
        )
        bench(
            f"folder {n_pngs} PNGs resized to 32x32x3, in memory",
            lambda: data.load_dataset(folder, batch_size=batch, seed=0, image_size=32),
        )
    bench("gaussian_ring (100k points)", lambda: data.load_dataset("gaussian_ring", batch_size=512, seed=0))
    bench("gaussian_grid (100k points)", lambda: data.load_dataset("gaussian_grid", batch_size=512, seed=0))

    if args.quick:
        return
    print("\nbaselines: training steps in this process (default networks) ...", flush=True)
    dcgan = training_rate(ganzoo.DCGAN(data_shape=(28, 28, 1), seed=0), "mnist_sample", batch, steps=10)
    print(f"  DCGAN on mnist_sample 28x28x1, batch {batch}: {dcgan:10,.0f} examples/s")
    gan = training_rate(ganzoo.GAN(data_shape=(2,), seed=0), "gaussian_ring", 512, steps=50)
    print(f"  GAN (MLP) on gaussian_ring, batch 512:     {gan:10,.0f} examples/s\n")
    print("pipeline steady-state throughput / training throughput (images vs DCGAN, toys vs GAN):")
    for label, _, _, steady in rows:
        baseline = gan if label.startswith("gaussian") else dcgan
        print(f"  {label:<44} {steady / baseline:8.1f}x")


if __name__ == "__main__":
    main()
