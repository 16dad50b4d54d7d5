"""What the game's signals (the divergence bound, d_saturation, g_grad_norm) cost a train step.

Usage:
    python tools/signal_overhead.py                          # KERAS_BACKEND's backend (TensorFlow)
    KERAS_BACKEND=jax python tools/signal_overhead.py
    python tools/signal_overhead.py --quick                  # checks the script in seconds

One model in one process, two variants with the same networks, data and weights: the model as
shipped, and a subclass that computes and logs none of the signals (`signal_names = ()`; its
`discriminator_signals` and `generator_signals` return nothing). Runs alternate (which goes first alternates too), `--repeats`
times; each is `fit` for `--steps` steps in one epoch, `steps_per_execution` 16, no callbacks
but the step timer of `tools/_timing.py` (wall and process CPU time from the first batch's begin
to the last step's results on the host). The overhead is each pair's ratio minus 1; the table
gives the median and the spread (min..max) over the pairs. Process CPU time leaves out what
other work on the machine takes from the process; on a shared machine the wall-time pairs vary
far more.

The pairs cannot resolve a cost of a few percent on a shared machine, so the last column
measures the signals directly (TensorFlow): their ops, tracker updates and non-finite check
alone, on tensors of the step's shapes that change every iteration, thousands of times in one
`tf.function` loop minus the same loop without them, as a share of the step's CPU time without
them (like the callbacks' hooks in `tools/callback_overhead.py`).

Both variants ask the generator's backward pass for the gradient at the fakes (the signal
variant uses it; the gradient exists in that pass either way), so the difference is the signals'
own arithmetic and their metric trackers.
"""

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CASES = {
    # The toy MLPs (the worst case: the smallest step, so fixed per-op costs weigh most).
    "gan_ring": dict(preset="gan_gaussian_ring", batch=256),
    "sngan_ring": dict(preset="sngan_gaussian_ring", batch=256),
    "wgan_gp_ring": dict(preset="wgan_gp_gaussian_ring", batch=256),
    # DCGAN at MNIST size.
    "dcgan_mnist": dict(preset="dcgan_mnist", batch=64),  # random images: the step, not the data
}


def _without_signals(cls):
    class NoSignals(cls):
        signal_names = ()

        def discriminator_signals(self, real_scores, fake_scores):
            return {}

        def generator_signals(self, fake_grads, loss_scale=1.0):
            return {}

    NoSignals.__name__ = f"{cls.__name__}NoSignals"
    return NoSignals


def measure(case, steps, repeats):
    """{"signals": [(wall, CPU)], "bare": [(wall, CPU)]} seconds per run."""
    import keras
    import numpy as np

    import ganzoo
    from _timing import step_timer

    from ganzoo.runs.setup import build_model

    from ganzoo.models import registry

    spec = CASES[case]
    config = ganzoo.resolve_config(spec["preset"], batch_size=spec["batch"], steps_per_execution=16)
    models, shipped = {}, registry.MODELS[config.model]
    for name in ("signals", "bare"):
        keras.utils.set_random_seed(0)  # the same weights and noise in both
        registry.MODELS[config.model] = shipped if name == "signals" else _without_signals(shipped)
        try:
            models[name] = build_model(config)
        finally:
            registry.MODELS[config.model] = shipped
    if config.dataset == "mnist":
        x = np.random.default_rng(0).uniform(-1, 1, (spec["batch"] * 8,) + tuple(models["bare"].data_shape))
        import tensorflow as tf

        data = tf.data.Dataset.from_tensor_slices(x.astype("float32")).repeat().batch(spec["batch"], drop_remainder=True)
    else:
        data = ganzoo.load_dataset(config.dataset, batch_size=spec["batch"], seed=0, repeat=True)
    for model in models.values():  # compile and warm up
        model.fit(data, steps_per_epoch=32, epochs=1, verbose=0)
    rows = {"signals": [], "bare": []}
    for repeat in range(repeats):
        for name in (("signals", "bare") if repeat % 2 == 0 else ("bare", "signals")):  # no order bias
            timer = step_timer()
            models[name].fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer])
            rows[name].append(timer.seconds())
    return rows


def _signal_loop(model, scores, fake_grads, with_signals):
    """`direct`'s `tf.function` loop: n iterations moving the inputs, with or without the signals."""
    import keras
    import tensorflow as tf

    from ganzoo.models.trackers import FiniteMean, FirstNonFinite

    k = model.d_steps
    trackers = {name: (FiniteMean if name == "g_grad_norm" else keras.metrics.Mean)(name=name)
                for name in model.signal_names}
    check = FirstNonFinite()

    @tf.function
    def loop(n):
        total = tf.constant(0.0)
        for _ in tf.range(n):
            moved = scores.assign_add(tf.fill(scores.shape, 1e-7))  # new values every iteration
            grads = fake_grads.assign_add(tf.fill(fake_grads.shape, 1e-9))
            total += moved[0, 0, 0] + grads[(0,) * len(grads.shape)]
            if not with_signals:
                continue
            for i in range(k):  # the discriminator signals come with each of the k discriminator steps
                for key, value in model.discriminator_signals(moved[0] + i, moved[1] - i).items():
                    trackers[key].update_state(value)
            for key, value in model.generator_signals(grads, tf.constant(1.0)).items():
                trackers[key].update_state(value)
            results = [t.result() for t in trackers.values()]
            check.update_state(results)
            total += tf.add_n(results)
        return total

    return loop


def direct(case, steps, repeats):
    """Process CPU seconds per step of the signals alone (TensorFlow): the model's
    `discriminator_signals` (once per discriminator step) and `generator_signals` on the step's
    shapes, their tracker updates and results and the non-finite check of them, `steps` times in
    one `tf.function` loop, minus the same loop without the signals; (median, min, max) of the
    difference over `repeats` pairs.

    The inputs are variables moved by every iteration and each discriminator step's scores differ,
    so Grappler can neither hoist the signals out of the loop nor merge the k steps' copies (with
    constant inputs it does both, and the loop measures little more than the tracker updates).
    """
    import time

    import tensorflow as tf

    import ganzoo
    from ganzoo.runs.setup import build_model

    spec = CASES[case]
    config = ganzoo.resolve_config(spec["preset"], batch_size=spec["batch"], steps_per_execution=16)
    model = build_model(config)
    batch = spec["batch"]
    inputs = batch // model.pack
    rng = np.random.default_rng(0)
    scores = tf.Variable(rng.standard_normal((2, inputs, 1)), dtype=tf.float32)
    fake_grads = tf.Variable(rng.standard_normal((batch,) + tuple(model.data_shape)) / inputs, dtype=tf.float32)
    loops = {with_signals: _signal_loop(model, scores, fake_grads, with_signals) for with_signals in (True, False)}
    for loop in loops.values():
        loop(tf.constant(16))
    seconds = []
    for _ in range(repeats):
        pair = {}
        for with_signals in (True, False):
            start = time.process_time()
            loops[with_signals](tf.constant(steps)).numpy()
            pair[with_signals] = time.process_time() - start
        seconds.append((pair[True] - pair[False]) / steps)
    return statistics.median(seconds), min(seconds), max(seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", default=["gan_ring", "sngan_ring", "wgan_gp_ring"], choices=sorted(CASES))
    parser.add_argument("--steps", type=int, default=800, help="steps per timed run (a multiple of 16)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="64 steps, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 64, 2
    import keras

    print(f"backend {keras.backend.backend()}, {args.steps} steps x {args.repeats} interleaved repeats, "
          "steps_per_execution 16")
    print("| case | without signals, CPU ms/step | with signals, CPU ms/step | overhead by process CPU time "
          "(median of pairs, min..max) | by wall time | the signals alone, CPU per step (median, min..max) |")
    print("|---|---|---|---|---|---|")
    for case in args.cases:
        rows = measure(case, args.steps, args.repeats)
        cells = []
        for i in (1, 0):  # CPU, wall
            overhead = [s[i] / b[i] - 1 for s, b in zip(rows["signals"], rows["bare"])]
            cells.append(f"{statistics.median(overhead):+.1%} ({min(overhead):+.1%}..{max(overhead):+.1%})")
        ms = 1000 / args.steps
        bare = statistics.median(b[1] for b in rows["bare"]) / args.steps
        cell = "n/a (TensorFlow only)"
        if keras.backend.backend() == "tensorflow":
            alone = direct(case, args.steps * 4, args.repeats)
            cell = (f"{alone[0] * 1e3:.4f} ms ({alone[1] * 1e3:.4f}..{alone[2] * 1e3:.4f}), "
                    f"{alone[0] / bare:.2%} of the step without them")
        print(f"| {case} | {bare * 1e3:.3f} | {statistics.median(s[1] for s in rows['signals']) * ms:.3f} "
              f"| {cells[0]} | {cells[1]} | {cell} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
