"""What `ganzoo train`'s callbacks cost over a bare `fit` on the same steps, on one backend.

Usage:
    python tools/callback_overhead.py                     # KERAS_BACKEND's backend (TensorFlow)
    KERAS_BACKEND=jax python tools/callback_overhead.py
    python tools/callback_overhead.py --quick             # checks the script in seconds

One model (the `gan_gaussian_ring` preset's MLPs, batch 256, `steps_per_execution` 16) on the
run's own data pipeline, in one process. Runs alternate: `fit` with no callbacks, then `fit`
with the callbacks `ganzoo train` installs (NaN guard, checkpointer, TensorBoard logger with
its step scalars every 10 steps), `--repeats` times; each run is `--steps` steps in one epoch.
Three numbers per run:

  steps      wall and process CPU time from the first batch's begin to the last step's results
             on the host: what the per-step hooks cost (the NaN check, step scalars, bookkeeping
             between compiled calls). CPU time leaves out what the machine's other work and
             the hypervisor take from the process, which makes wall-time pairs vary by 20-40%
             on a shared 2-core virtual machine
  hooks      the wall and CPU time of the callbacks' per-step hooks themselves (between two
             marker callbacks around them: main-thread CPU, plus the CPU of the TensorBoard
             event writer's background thread, also shown apart), as a share of the bare
             steps' time: the direct measure, which machine noise moves far less than the pairs
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


def _epoch_end_timer():
    """The last callback: the moment every other callback's `on_epoch_end` finished."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.end = time.perf_counter()

    return EpochEnd()


def _hook_timers():
    """(before, after): put `before` just ahead of the measured callbacks and `after` just behind
    them; `after.wall` and `after.cpu` add up the seconds the measured callbacks' per-call hooks
    (`on_train_batch_begin`, `on_train_batch_end`) took, on the thread that ran them (CPU: that
    thread's, so a wait for the device is not counted). Both are `async_safe` like the
    callbacks: on JAX Keras runs the batch-end hooks on worker threads, several at a time."""
    import threading

    import keras

    marks = threading.local()
    lock = threading.Lock()

    class Before(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_begin(self, batch, logs=None):
            marks.start = (time.perf_counter(), time.thread_time())

        on_train_batch_end = on_train_batch_begin

    class After(keras.callbacks.Callback):
        async_safe = True
        wall = cpu = 0.0

        def on_train_batch_begin(self, batch, logs=None):
            wall, cpu = time.perf_counter() - marks.start[0], time.thread_time() - marks.start[1]
            with lock:
                self.wall += wall
                self.cpu += cpu

        on_train_batch_end = on_train_batch_begin

    return Before(), After()


def _writer_clock(writer):
    """A callback (second, behind the step timer) adding up the CPU seconds the TensorBoard event
    writer's background thread used between the first batch's begin and the epoch's end."""
    import keras

    class WriterClock(keras.callbacks.Callback):
        cpu = 0.0
        start = None

        def on_train_batch_begin(self, batch, logs=None):
            if writer is not None and self.start is None:
                self.start = writer.background_cpu_seconds()

        def on_epoch_end(self, epoch, logs=None):
            if writer is not None:
                self.cpu = writer.background_cpu_seconds() - self.start

    return WriterClock()


def measure(steps, repeats, batch, log_every=10):
    """{"bare": [(wall, CPU) s], "callbacks": [(wall, CPU) s], "hooks": [(wall, CPU) s], "writer": [CPU s],
    "epoch_end": [s]}, one entry a repeat; the hooks' CPU includes the event writer's thread."""
    import keras
    import numpy as np

    import ganzoo
    from _timing import step_timer, train_callbacks

    from ganzoo.runs.setup import build_model

    keras.utils.set_random_seed(0)
    config = ganzoo.resolve_config("gan_gaussian_ring", batch_size=batch, steps_per_execution=16)
    model = build_model(config)
    data = ganzoo.load_dataset("gaussian_ring", batch_size=batch, seed=0, repeat=True)
    fixed_z = np.random.default_rng(1).standard_normal((64, model.latent_dim)).astype("float32")
    model.fit(data, steps_per_epoch=32, epochs=1, verbose=0)  # compile
    rows = {"bare": [], "callbacks": [], "hooks": [], "writer": [], "epoch_end": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for name in ("bare", "callbacks"):
                timer, last = step_timer(), _epoch_end_timer()
                before, after = _hook_timers()  # in both runs: the bare run pays for them too
                extra = (train_callbacks(tmp, steps, fixed_z, log_every=log_every, history_dir=tmp)
                         if name == "callbacks" else [])
                clock = _writer_clock(extra[-1].writer if extra else None)
                model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0,
                          callbacks=[timer, clock, before, *extra, after, last])
                rows[name].append(timer.seconds())
                if name == "callbacks":
                    rows["hooks"].append((after.wall, after.cpu + clock.cpu))
                    rows["writer"].append(clock.cpu)
                    rows["epoch_end"].append(last.end - timer.end[0])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1600, help="steps per timed run (a multiple of 16)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--log-every", type=int, default=10, help="the step scalars' interval "
                        "(ganzoo train's default: 10; with 16 steps per call, one point per call)")
    parser.add_argument("--quick", action="store_true", help="64 steps, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 64, 2
    import keras

    rows = measure(args.steps, args.repeats, args.batch, args.log_every)
    ms = 1000 / args.steps
    print(f"backend {keras.backend.backend()}, {args.steps} steps x {args.repeats} repeats, batch {args.batch}, "
          f"steps_per_execution 16, log every {args.log_every} steps")
    print("| backend | bare fit ms/step | with callbacks ms/step | overhead by wall time (median of pairs, min..max) "
          "| by process CPU time | callbacks' step hooks, wall / CPU (% of bare) | of which the event writer's "
          "thread, CPU | epoch end ms |")
    print("|---|---|---|---|---|---|---|---|")
    cells = []
    for i in (0, 1):  # wall, CPU
        overhead = [c[i] / b[i] - 1 for b, c in zip(rows["bare"], rows["callbacks"])]
        cells.append(f"{statistics.median(overhead):+.1%} ({min(overhead):+.1%}..{max(overhead):+.1%})")
    bare = statistics.median(b[0] for b in rows["bare"])
    hooks = " / ".join(f"{statistics.median(h[i] for h in rows['hooks']) * ms:.3f} ms "
                       f"({statistics.median(h[i] for h in rows['hooks']) / bare:.1%})" for i in (0, 1))
    print(f"| {keras.backend.backend()} | {bare * ms:.3f} | {statistics.median(c[0] for c in rows['callbacks']) * ms:.3f} "
          f"| {cells[0]} | {cells[1]} | {hooks} | {statistics.median(rows['writer']) * ms:.3f} ms "
          f"({statistics.median(rows['writer']) / bare:.1%}) | {statistics.median(rows['epoch_end']) * 1000:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
