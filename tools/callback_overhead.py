"""What `ganzoo train`'s callbacks cost over a bare `fit` on the same steps, on one backend.

Usage:
    python tools/callback_overhead.py                     # KERAS_BACKEND's backend (TensorFlow)
    KERAS_BACKEND=jax python tools/callback_overhead.py
    python tools/callback_overhead.py --quick             # checks the script in seconds

One model (the `gan_gaussian_ring` preset's MLPs, batch 256, `steps_per_execution` 16) on the
run's own data pipeline, in one process. Runs alternate: `fit` with no callbacks, then `fit`
with the callbacks `ganzoo train` installs (NaN guard, checkpointer, TensorBoard logger with
its step scalars every 10 steps), `--repeats` times; each run is `--steps` steps in one epoch.
Two numbers per run:

  steps      time from the first batch's begin to the last batch's end: what the per-step
             hooks cost (the NaN check, step scalars, bookkeeping between compiled calls)
  epoch end  the time `on_epoch_end` takes in the callbacks run (checkpoint, history, the
             sample picture), reported in ms per epoch: it is paid once per epoch

The table gives the median over repeats and the spread (min-max) of the overhead.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _timer():
    import keras

    class Timer(keras.callbacks.Callback):
        # No on_train_batch_end override: it would make Keras sync every call's logs.
        def on_train_begin(self, logs=None):
            self.start = self.steps_end = self.end = None

        def on_train_batch_begin(self, batch, logs=None):
            if self.start is None:
                self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.end = time.perf_counter()

    return Timer()


class _StepsEnd:
    """Marks the moment the last step finished: the first callback's on_epoch_end."""

    def __new__(cls, timer):
        import keras

        class StepsEnd(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                timer.steps_end = time.perf_counter()

        return StepsEnd()


def measure(steps, repeats, batch):
    import keras
    import numpy as np

    import ganzoo
    from _timing import train_callbacks

    from ganzoo.training import build_model

    keras.utils.set_random_seed(0)
    config = ganzoo.resolve_config("gan_gaussian_ring", batch_size=batch, steps_per_execution=16)
    model = build_model(config)
    data = ganzoo.load_dataset("gaussian_ring", batch_size=batch, seed=0, repeat=True)
    fixed_z = np.random.default_rng(1).standard_normal((64, model.latent_dim)).astype("float32")
    model.fit(data, steps_per_epoch=32, epochs=1, verbose=0)  # compile
    rows = {"bare": [], "callbacks": [], "epoch_end": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for name in ("bare", "callbacks"):
                timer = _timer()
                extra = train_callbacks(tmp, steps, fixed_z, history_dir=tmp) if name == "callbacks" else []
                mark = _StepsEnd(timer)
                model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[mark, *extra, timer])
                rows[name].append(timer.steps_end - timer.start)
                if name == "callbacks":
                    rows["epoch_end"].append(timer.end - timer.steps_end)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1600, help="steps per timed run (a multiple of 16)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="64 steps, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 64, 2
    import keras

    rows = measure(args.steps, args.repeats, args.batch)
    overhead = [c / b - 1 for b, c in zip(rows["bare"], rows["callbacks"])]
    ms = 1000 / args.steps
    print(f"backend {keras.backend.backend()}, {args.steps} steps x {args.repeats} repeats, batch {args.batch}, "
          "steps_per_execution 16")
    print("| backend | bare fit ms/step | with callbacks ms/step | overhead (median, min..max) | epoch end ms |")
    print("|---|---|---|---|---|")
    print(f"| {keras.backend.backend()} | {statistics.median(rows['bare']) * ms:.3f} "
          f"| {statistics.median(rows['callbacks']) * ms:.3f} "
          f"| {statistics.median(overhead):+.1%} ({min(overhead):+.1%}..{max(overhead):+.1%}) "
          f"| {statistics.median(rows['epoch_end']) * 1000:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
