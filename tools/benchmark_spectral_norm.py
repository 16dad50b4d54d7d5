"""Cost of spectral normalization per discriminator training step, in one process.

Times a compiled (tf.function) D step, forward + backward + Adam, of the SN-GAN paper's
standard-CNN discriminator on (batch, 28, 28, 1) with three kinds of weight layers:
ganzoo's `SpectralNorm` (W / sigma(W) differentiated through sigma), Keras'
`SpectralNormalization` (overwrites the kernel with W / sigma), and no normalization. Prints
the median step time of each over interleaved repeats, its spread (min-max) and the ratio to
the unnormalized baseline.

Usage:
    python tools/benchmark_spectral_norm.py              # ~1 minute on 2 CPU cores
    python tools/benchmark_spectral_norm.py --steps 20 --repeats 3 --batch 32
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def build(kind, filters, shape=(28, 28, 1)):
    import keras

    from ganzoo.layers import SpectralNorm
    from ganzoo.models import networks

    wrap = {"ganzoo": SpectralNorm, "keras": keras.layers.SpectralNormalization, "none": None}[kind]
    original = networks.SpectralNorm
    # The paper's network with the chosen wrapper (none: the bare layer).
    networks.SpectralNorm = (lambda layer, **kw: layer) if wrap is None else (
        lambda layer, **kw: wrap(layer, **{k: v for k, v in kw.items() if k != "dtype"}))
    try:
        return networks.build_sn_conv_discriminator(shape, filters=filters)
    finally:
        networks.SpectralNorm = original


def step_function(model):
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.relu(1.0 - model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, 28, 28, 1)).astype("float32")
    steps = {}
    for kind in ("none", "ganzoo", "keras"):
        steps[kind] = step_function(build(kind, args.filters))
        steps[kind](x)  # trace
    times = {kind: [] for kind in steps}
    for _ in range(args.repeats):  # interleaved, so machine load hits every kind alike
        for kind, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                loss = step(x)
            float(loss)
            times[kind].append((time.perf_counter() - start) / args.steps * 1e3)
    base = float(np.median(times["none"]))
    print(f"D step, batch {args.batch}, filters {args.filters}, {args.repeats} x {args.steps} steps")
    for kind, values in times.items():
        median = float(np.median(values))
        print(f"  {kind:7s} {median:7.2f} ms/step (min {min(values):.2f}, max {max(values):.2f})  "
              f"ratio to none {median / base:.2f}")


if __name__ == "__main__":
    main()
