"""CPU time per training step of the Fashion-MNIST zoo's DCGAN on 50 clusters, under settings
that change it: TensorFlow's thread pools, the batch size, how often the lazy R1 runs.

Usage:
    python tools/zoo_step_cost.py                                   # the default variants, 3 repeats
    python tools/zoo_step_cost.py --profile threads=1,batch=32,bf16=1,spe=10 --steps 100   # op types
    python tools/zoo_step_cost.py --variants threads=1,batch=32 threads=0 --steps 400 --repeats 5

A variant is comma-separated `threads=N` (TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS;
0: TensorFlow's default, one per core), `batch=B`, `r1_every=N`, `spe=N` (steps per compiled
call), `bf16=1` (Keras' mixed_bfloat16 policy, `--mixed-precision bfloat16`). Each timed run is its own process (thread pools are fixed when TensorFlow starts): the
networks, optimizers, EMA and R1 of `dcgan_clusters_fashion_mnist` (width 32, Adam(5e-4, 0.5),
EMA 0.999, R1 gamma 1) on the 60,000 Fashion-MNIST training images with random cluster labels
(the cost does not depend on them), `fit` on in-memory arrays without ganzoo train's callbacks;
the process CPU time and wall time from step 100 to the last. Runs are interleaved (every
variant once, then again); cells give the median and min..max over repeats.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import spread  # noqa: E402  (tools/, this script's directory)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VARIANTS = ("threads=0,batch=64", "threads=1,batch=64", "threads=1,batch=64,r1_every=16", "threads=1,batch=32",
                    "threads=1,batch=64,bf16=1", "threads=1,batch=32,bf16=1")
WARMUP = 100
ONE = "{:.1f}"  # one decimal in the table


def parse_variant(text):
    values = dict(threads=0, batch=64, r1_every=4, spe=1, bf16=0)
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key not in values or not value.isdigit():
            raise SystemExit(f"bad variant part {part!r}: use threads=N, batch=B, r1_every=N, spe=N, bf16=0|1")
        values[key] = int(value)
    return values


def build(variant):
    """(model, images, labels, rng, parsed variant) of one variant: the preset's networks on the training images."""
    import numpy as np
    import keras

    sys.path.insert(0, ROOT)
    import ganzoo
    from ganzoo.data import load_real_samples

    v = parse_variant(variant)
    if v["bf16"]:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    images = load_real_samples("fashion_mnist", None, split="train")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 50, len(images)).astype("int32")
    model = ganzoo.DCGAN(data_shape=(28, 28, 1), width=32, latent_dim=100, seed=0, num_classes=50,
                         label_prior=[1 / 50] * 50, r1_gamma=1.0, r1_every=v["r1_every"])
    model.compile(d_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5),
                  g_optimizer=keras.optimizers.Adam(5e-4, beta_1=0.5), ema_decay=0.999,
                  steps_per_execution=v["spe"], jit_compile=False)
    return model, images, labels, rng, v


def child(variant, steps):
    """One timed run in this process: prints a JSON line."""
    import keras

    model, images, labels, rng, v = build(variant)

    class Timer(keras.callbacks.Callback):
        start = None

        def on_train_batch_begin(self, batch, logs=None):
            if batch >= WARMUP and self.start is None:
                self.start = (time.perf_counter(), time.process_time(), batch)

        def on_epoch_end(self, epoch, logs=None):
            self.end = (time.perf_counter(), time.process_time())

    timer = Timer()
    rows = rng.integers(0, len(images), (steps + WARMUP) * v["batch"])
    model.fit(images[rows], labels[rows], batch_size=v["batch"], epochs=1, shuffle=False, verbose=0,
              callbacks=[timer])
    timed = steps + WARMUP - timer.start[2]
    print(json.dumps(dict(variant=variant, steps=timed, cpu_ms=1000 * (timer.end[1] - timer.start[1]) / timed,
                          wall_ms=1000 * (timer.end[0] - timer.start[0]) / timed)), flush=True)


def profile_child(variant, steps, top=25):
    """Where one variant's step time goes: TensorFlow's profiler over `steps` steps after the
    warm-up, busy thread time per op type (tools/profile_step.py's `profile` and summary)."""
    import tempfile

    from profile_step import profile, summarize

    model, images, labels, rng, v = build(variant)

    class Runner:  # what profile_step.profile drives: run(n) trains n steps
        spe = v["spe"]

        @staticmethod
        def run(n):
            rows = rng.integers(0, len(images), n * v["batch"])
            model.fit(images[rows], labels[rows], batch_size=v["batch"], epochs=1, shuffle=False, verbose=0)

    Runner.run(WARMUP)
    with tempfile.TemporaryDirectory() as logdir:
        print(summarize(variant, profile(Runner, steps, logdir), steps, top)[0])


def _set_threads(env, threads):
    """TensorFlow's two thread pools in `env`: `threads` each, or TensorFlow's default for 0."""
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        env.pop(name, None)
        if threads:
            env[name] = str(threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS))
    parser.add_argument("--steps", type=int, default=400, help="timed steps per run (after 100 warm-up steps)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", metavar="VARIANT",
                        help="instead of timing: profile --steps steps of VARIANT in this process and list the op "
                             "types (its threads=N sets both TensorFlow pools, as in a timed run)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        _set_threads(os.environ, parse_variant(args.profile)["threads"])  # before TensorFlow is imported
        return profile_child(args.profile, args.steps)
    if args.child:
        return child(args.child, args.steps)
    results = {v: [] for v in args.variants}
    for _ in range(args.repeats):
        for variant in args.variants:
            threads = parse_variant(variant)["threads"]
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            _set_threads(env, threads)
            out = subprocess.run([sys.executable, __file__, "--child", variant, "--steps", str(args.steps)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            results[variant].append(json.loads(out.strip().splitlines()[-1]))
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
    print("| variant | CPU ms / step | steps / CPU-s | wall ms / step |\n|---|---:|---:|---:|")
    for variant, rows in results.items():
        cpu = [r["cpu_ms"] for r in rows]
        print(f"| {variant} | {spread(cpu, ONE)} | {spread([1000 / c for c in cpu], ONE)} | "
              f"{spread([r['wall_ms'] for r in rows], ONE)} |")


if __name__ == "__main__":
    main()
