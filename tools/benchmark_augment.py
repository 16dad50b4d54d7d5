"""Per-step cost of the augmentation and regularizer options against the plain model, in one process.

Usage:
    python tools/benchmark_augment.py                    # TensorFlow, the quick start's DCGAN
    KERAS_BACKEND=jax python tools/benchmark_augment.py
    python tools/benchmark_augment.py --quick            # checks the script in seconds

The model is the `dcgan_mnist_sample` preset's DCGAN (28x28x1, width 32, z of 100, batch 64),
trained with `fit` on random images in [-1, 1] (the step's cost does not depend on the pixels)
with `steps_per_execution` 10 and no callbacks but a timer. Each configuration is a fresh model;
the first call (tracing, compiling) is left out. Configurations run interleaved, `--repeats`
times; the table gives the median images per wall second and per process CPU second (the
steadier measure on a shared machine) with the min..max over repeats, and the ratios of medians
to the plain model's.
"""

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONFIGS = {
    "plain": {},
    "diffaugment": {"augment": "diffaugment"},
    "ada": {"augment": "ada"},
    "r1": {"r1_gamma": 1.0},
    "r1 lazy 16": {"r1_gamma": 1.0, "r1_every": 16},
    "lecam": {"lecam_weight": 0.3},
    "diffaugment+lecam": {"augment": "diffaugment", "lecam_weight": 0.3},
}
BATCH, PER_CALL = 64, 10


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per run (a multiple of 10)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20 steps, 1 repeat, two configurations")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 20, 1
    import keras

    import ganzoo
    from _timing import spread, step_timer

    configs = {k: CONFIGS[k] for k in (("plain", "diffaugment") if args.quick else CONFIGS)}
    x = np.random.default_rng(0).uniform(-1, 1, ((args.steps + PER_CALL) * BATCH, 28, 28, 1)).astype("float32")
    rates = {name: [] for name in configs}
    cpu_rates = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, kwargs in configs.items():
            model = ganzoo.DCGAN(data_shape=(28, 28, 1), width=32, seed=0, **kwargs)
            model.compile(steps_per_execution=PER_CALL)
            model.fit(x[: PER_CALL * BATCH], batch_size=BATCH, epochs=1, verbose=0, shuffle=False)  # compile
            timer = step_timer()
            model.fit(x[PER_CALL * BATCH:], batch_size=BATCH, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
            wall, cpu = timer.seconds()
            rates[name].append(args.steps * BATCH / wall)
            cpu_rates[name].append(args.steps * BATCH / cpu)
    plain, plain_cpu = statistics.median(rates["plain"]), statistics.median(cpu_rates["plain"])
    print(f"backend {keras.backend.backend()}, {args.steps} steps x {args.repeats} repeats, batch {BATCH}")
    print(f"{'configuration':<20} {'images / wall s':>22} {'vs plain':>9} {'images / CPU s':>22} {'vs plain':>9}")
    for name in configs:
        print(f"{name:<20} {spread(rates[name]):>22} {statistics.median(rates[name]) / plain:>9.2f} "
              f"{spread(cpu_rates[name]):>22} {statistics.median(cpu_rates[name]) / plain_cpu:>9.2f}")


if __name__ == "__main__":
    main()
