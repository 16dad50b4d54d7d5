"""Training throughput of ganzoo's `fit` against hand-written loops, like for like.

Usage:
    python tools/benchmark.py                       # default TensorFlow plan (18 min on 2 loaded CPU cores)
    python tools/benchmark.py --quick               # tiny sizes: checks the script (~1.5 min loaded)
    python tools/benchmark.py --configs mnist_tutorial,toy_mlp --jit off --spe 1,8 --precision float32
    python tools/benchmark.py --backend jax [--torch]   # tools/like_for_like.py under KERAS_BACKEND=jax
    python tools/benchmark.py --torch               # ... then like_for_like.py --torch (PyTorch row)
    python tools/benchmark.py --inference [EXPORT]  # SavedModel vs ONNX Runtime, batch 1 and 64

Backends: this script's TensorFlow loops cover all four configurations (toy MLPs, the TF
tutorial's MNIST DCGAN, ganzoo's DCGAN 64x64x3 and WGAN-GP 32x32x3); `--backend jax` and
`--torch` run tools/like_for_like.py (the toy MLPs, 16 steps per call) in a child process; the
conv nets under JAX and PyTorch: tools/gpu_benchmark.py. Per configuration and `steps_per_execution`
(spe), on the same networks, batch, cached `tf.data` pipeline and `jit_compile` setting:

  ganzoo      `model.fit` at that spe with the callbacks `ganzoo train` installs (NaN guard,
              checkpointer, TensorBoard step scalars every 10 steps); epoch-end work not timed.
  hand-alt    ganzoo's alternating algorithm written by hand; tutorial: the TF DCGAN tutorial's
              simultaneous step (GAN/DCGAN only). Both: tools/reference_loops.py's HandRunner.

Ratios are only between runners at the same spe. Runs are interleaved (every runner once, then
again, `--repeats` times); cells give the median and min..max over repeats, a ratio's spread is
that of the per-repeat ratios. Every timed run makes the same number of steps (a multiple of
every spe, at least `--min-time` seconds' worth) after a warm-up, each run's generator updates
are counted against the steps it claims, and timers run from the first step's call to the last
step's results on the host. "(CPU)": the ganzoo / hand-alt ratio of median process CPU time per
step, less disturbed by other processes than wall time.

Throughput is real images consumed per second: batch * k per step for k critic steps.

FLOPs and "% peak": tools/reference_loops.py.
"""

import argparse
import gc
import json
import math
import os
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

import ganzoo  # noqa: E402
from _timing import spread, step_timer, train_callbacks  # noqa: E402  (tools/, this script's directory)
from reference_loops import (  # noqa: E402
    HandRunner, adam_for, cpu_has_bf16, layer_macs, machine_info, make_dataset, matmul_gflops, step_flops,
    tutorial_discriminator, tutorial_generator,
)

# fit's "shuffle=True is ignored for a tf.data.Dataset" notice, once per timed run.
warnings.filterwarnings("ignore", message=".*shuffle=True.*")

def ganzoo_networks(model_cls, data_shape, latent_dim, width):
    """Fresh default networks of a ganzoo class (the builders the class itself uses)."""
    model = model_cls(data_shape=data_shape, latent_dim=latent_dim, width=width)
    return model.generator, model.discriminator


# One entry per benchmark configuration. `networks()` builds a fresh (G, D) pair each call,
# so every runner trains its own copy of identical architectures.
def make_configs(quick):
    def tutorial_nets():
        return tutorial_generator(100), tutorial_discriminator()

    if quick:
        return {
            "toy_mlp": dict(model="GAN", data_shape=(2,), latent_dim=8, batch=64,
                            networks=lambda: ganzoo_networks(ganzoo.GAN, (2,), 8, 32)),
            "mnist_tutorial": dict(model="DCGAN", data_shape=(28, 28, 1), latent_dim=100, batch=8,
                                   networks=tutorial_nets),
            "dcgan_default": dict(model="DCGAN", data_shape=(16, 16, 3), latent_dim=32, batch=8,
                                  networks=lambda: ganzoo_networks(ganzoo.DCGAN, (16, 16, 3), 32, 8)),
            "wgan_gp": dict(model="WGANGP", data_shape=(16, 16, 1), latent_dim=32, batch=8, n_critic=5,
                            networks=lambda: ganzoo_networks(ganzoo.WGANGP, (16, 16, 1), 32, 8)),
        }
    return {
        # Tiny MLPs on 2-D points: per-step overhead dominates, so Keras/Python machinery shows.
        "toy_mlp": dict(model="GAN", data_shape=(2,), latent_dim=2, batch=256,
                        networks=lambda: ganzoo_networks(ganzoo.GAN, (2,), 2, 128)),
        "mnist_tutorial": dict(model="DCGAN", data_shape=(28, 28, 1), latent_dim=100, batch=256,
                               networks=tutorial_nets),
        "dcgan_default": dict(model="DCGAN", data_shape=(64, 64, 3), latent_dim=100, batch=16,
                              networks=lambda: ganzoo_networks(ganzoo.DCGAN, (64, 64, 3), 100, None)),
        "wgan_gp": dict(model="WGANGP", data_shape=(32, 32, 3), latent_dim=128, batch=16, n_critic=5,
                        networks=lambda: ganzoo_networks(ganzoo.WGANGP, (32, 32, 3), 128, None)),
    }


# (config, precision, jit_compile, steps_per_execution values): the default run covers jit on
# and off, steps_per_execution 1 and more, and mixed precision, without the whole cross
# product (which --configs/--jit/--spe/--precision can ask for) to stay under 10 minutes here.
# XLA for dcgan_default and wgan_gp is left to `--configs dcgan_default,wgan_gp --jit on`:
# compiling WGAN-GP's five unrolled double-backprop critic steps takes minutes here.
DEFAULT_PLAN = [
    ("toy_mlp", "float32", False, (1, 16)),
    ("toy_mlp", "float32", True, (1, 16)),
    ("mnist_tutorial", "float32", False, (1, 4)),
    ("mnist_tutorial", "float32", True, (1,)),
    ("mnist_tutorial", "mixed_bfloat16", False, (1,)),
    ("dcgan_default", "float32", False, (1, 4)),
    ("wgan_gp", "float32", False, (1,)),
]
QUICK_PLAN = [  # tiny wgan_gp also runs with --quick --configs wgan_gp (its tracing takes ~30 s)
    ("toy_mlp", "float32", False, (1, 8)),
    ("dcgan_default", "float32", False, (1,)),
]


def make_plan(args, bf16):
    """The (config, precision, jit, spes) groups to run: the default (or quick) plan's entries
    for the chosen configs; --precision / --jit replace that config's settings by their cross
    product and --spe the steps_per_execution values of every group."""
    plan = QUICK_PLAN if args.quick else DEFAULT_PLAN
    names = args.configs or list(dict.fromkeys(c for c, *_ in plan))
    groups = []
    for name in names:
        entries = [e[1:] for e in plan if e[0] == name] or [("float32", False, (1,))]
        if args.precision is not None or args.jit is not None:
            precisions = args.precision or list(dict.fromkeys(p for p, _, _ in entries))
            jits = args.jit if args.jit is not None else list(dict.fromkeys(j for _, j, _ in entries))
            planned = {(p, j): spes for p, j, spes in entries}
            entries = [(p, j, planned.get((p, j), (1,))) for p in precisions for j in jits]
        for precision, jit, spes in entries:
            if precision != "float32" and args.precision is None and not bf16:
                continue  # no bf16 instructions: mixed precision would only be emulated
            groups.append((name, precision, jit, tuple(args.spe or spes)))
    return groups


class GanzooRunner:
    """`model.fit` of a ganzoo model on fresh copies of the configuration's networks, with the
    callbacks `ganzoo train` installs writing under `directory` (None: a bare `fit`)."""

    def __init__(self, cfg, dataset, jit, spe, directory=None):
        self.label = f"ganzoo spe={spe}"
        self.k = cfg.get("n_critic", 1)
        self.batch = cfg["batch"]
        self.spe = spe
        self.dataset = dataset
        self.directory = tempfile.mkdtemp(prefix="ganzoo-", dir=directory) if directory else None
        G, D = cfg["networks"]()
        cls = getattr(ganzoo, cfg["model"])
        kwargs = {"n_critic": self.k} if cfg["model"] == "WGANGP" else {}
        self.model = cls(generator=G, discriminator=D, latent_dim=cfg["latent_dim"], seed=0, **kwargs)
        self.model.compile(d_optimizer=adam_for(cfg["model"]), g_optimizer=adam_for(cfg["model"]),
                           jit_compile=jit, steps_per_execution=spe)
        self.fixed_z = np.random.default_rng(1).standard_normal((16, cfg["latent_dim"])).astype("float32")
        self.g_optimizer = self.model.g_optimizer

    def run(self, steps):
        steps = max(self.spe, int(math.ceil(steps / self.spe)) * self.spe)
        timer = step_timer()  # first: the checkpoint and sample picture at epoch end are not timed
        callbacks = [timer, *(train_callbacks(self.directory, steps, self.fixed_z) if self.directory else [])]
        self.model.fit(self.dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=callbacks)
        wall, cpu = timer.seconds()
        return steps, steps * self.batch * self.k / wall, cpu / steps


def make_runners(cfg, precision, jit, spes, directory):
    """Per steps_per_execution value: ganzoo, hand-alt and (k = 1) the tutorial loop, all at that
    spe, on one cached dataset, built under the group's dtype policy."""
    keras.mixed_precision.set_global_policy(precision)
    try:
        dataset = make_dataset(cfg["data_shape"], cfg["batch"], n_batches=2 * cfg.get("n_critic", 1) + 2)
        runners = []
        for spe in spes:
            runners.append(GanzooRunner(cfg, dataset, jit, spe, directory))
            runners.append(HandRunner(cfg, dataset, jit, simultaneous=False, spe=spe))
            if cfg["model"] != "WGANGP":
                runners.append(HandRunner(cfg, dataset, jit, simultaneous=True, spe=spe))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return runners


def measure(runners, steps, repeats, peak):
    """Every runner `repeats` times, interleaved: ({label: [img/s]}, {label: [CPU s/step]}). Checks
    that each run made the generator updates it was asked for (the loops really ran spe steps)."""
    rates = {r.label: [] for r in runners}
    cpu_seconds = {r.label: [] for r in runners}
    for _ in range(repeats):
        peak.append(matmul_gflops(min_time=0.3))  # the machine's own rate, interleaved too
        for r in runners:
            before = int(r.g_optimizer.iterations.numpy())
            done, rate, cpu = r.run(steps)
            updates = int(r.g_optimizer.iterations.numpy()) - before
            if updates != done:
                raise RuntimeError(f"{r.label}: {updates} generator updates in a run of {done} steps")
            rates[r.label].append(rate)
            cpu_seconds[r.label].append(cpu)
    return rates, cpu_seconds


def bench_group(name, cfg, precision, jit, spes, args, peak, directory):
    """Rows of one (config, precision, jit) group, one per spe: every runner measured interleaved;
    the ratios are between runners at the same spe, of the medians over repeats, with the spread
    of the per-repeat ratios (each repeat's runs are neighbours in time).

    `peak` is a list that collects this process's float32 matmul rates (see `matmul_gflops`).
    """
    runners = make_runners(cfg, precision, jit, spes, directory)
    # Warm-up: the first run of each runner traces/compiles; a second hand-alt call times the
    # group's step, which sizes every timed run to about `min_time` seconds.
    for r in runners:
        r.run(r.spe)
    hand = runners[1]
    _, rate, _ = hand.run(hand.spe)
    steps = max(max(spes), math.ceil(args.min_time * rate / (cfg["batch"] * hand.k)))
    rates, cpu_seconds = measure(runners, steps, args.repeats, peak)
    G, D = cfg["networks"]()
    g_macs, d_macs = layer_macs(G), layer_macs(D)
    k = cfg.get("n_critic", 1)
    flops_alt = step_flops("alternating", g_macs, d_macs, cfg["batch"], k)
    flops_sim = step_flops("simultaneous", g_macs, d_macs, cfg["batch"]) if k == 1 else None
    med = {label: float(np.median(v)) for label, v in rates.items()}
    med_cpu = {label: float(np.median(v)) for label, v in cpu_seconds.items()}
    rows = []
    for spe in spes:
        g, h, t = f"ganzoo spe={spe}", f"hand-alt spe={spe}", f"tutorial spe={spe}"
        rows.append({
            "config": name, "model": cfg["model"], "batch": cfg["batch"], "n_critic": k,
            "precision": precision, "jit": jit, "spe": spe, "repeats": args.repeats, "steps_per_run": steps,
            "ganzoo": med[g], "hand_alt": med[h], "ratio_alt": med[g] / med[h],
            "ratio_alt_runs": [a / b for a, b in zip(rates[g], rates[h])],
            # By process CPU time per step, which other processes disturb less than wall time.
            "ratio_alt_cpu": med_cpu[h] / med_cpu[g],
            "tutorial": med.get(t), "ratio_tutorial": med[g] / med[t] if t in med else None,
            "ratio_tutorial_runs": [a / b for a, b in zip(rates[g], rates[t])] if t in med else None,
            "ratio_tutorial_cpu": med_cpu[t] / med_cpu[g] if t in med else None,
            "gflop_step": flops_alt / 1e9, "tutorial_gflop_step": flops_sim / 1e9 if flops_sim else None,
            "gflops": flops_alt * med[g] / (cfg["batch"] * k) / 1e9,
            "gflop_per_cpu_s": flops_alt / med_cpu[g] / 1e9,
            "cpu_ms_step": {label: round(1e3 * med_cpu[label], 3) for label in (g, h, t) if label in med_cpu},
            "all_runs": {label: [round(x, 1) for x in rates[label]] for label in (g, h, t) if label in rates},
        })
    del runners
    keras.backend.clear_session()
    gc.collect()
    return rows


def format_table(rows, peak, peak_cpu):
    """The results as a markdown table: img/s and ratios as "median (min..max)" over the repeats
    (a ratio's spread is over the per-repeat ratios); the CPU ratio is of the median CPU time per
    step. "% peak" is the median ganzoo rate against the best matmul rates: `peak` GFLOP per wall
    second, `peak_cpu` GFLOP per CPU second."""
    head = ("| config | precision | jit | spe | ganzoo img/s | hand-alt img/s | ganzoo / hand-alt | (CPU) "
            "| tutorial-sim img/s | ganzoo / tutorial | GFLOP/step | % f32 matmul peak (wall, CPU) |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        k = f", k={r['n_critic']}" if r["n_critic"] > 1 else ""
        runs = r["all_runs"]
        g, h, t = (runs.get(f"{n} spe={r['spe']}") for n in ("ganzoo", "hand-alt", "tutorial"))
        tutorial = ("n/a", "n/a") if t is None else (spread(t), spread(r["ratio_tutorial_runs"], "{:.2f}"))
        lines.append(
            f"| {r['config']} (batch {r['batch']}{k}) | {r['precision']} | {'on' if r['jit'] else 'off'} "
            f"| {r['spe']} | {spread(g)} | {spread(h)} | {spread(r['ratio_alt_runs'], '{:.2f}')} "
            f"| {r['ratio_alt_cpu']:.2f} | {tutorial[0]} | {tutorial[1]} | {r['gflop_step']:.3g} "
            f"| {100 * r['gflops'] / peak:.1f}, {100 * r['gflop_per_cpu_s'] / peak_cpu:.1f} |"
        )
    return "\n".join(lines)


def _csv(value, cast, name, choices=None):
    try:
        items = [cast(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} takes comma-separated values; got {value!r}")
    if not items or (choices and any(i not in choices for i in items)):
        raise argparse.ArgumentTypeError(f"{name} takes comma-separated values from {choices}; got {value!r}")
    return items


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Without --configs/--jit/--spe/--precision the default plan runs: "
                                            + "; ".join(f"{c} {p} jit={'on' if j else 'off'} spe={list(s)}"
                                                        for c, p, j, s in DEFAULT_PLAN))
    configs = ("toy_mlp", "mnist_tutorial", "dcgan_default", "wgan_gp")
    parser.add_argument("--quick", action="store_true", help="tiny networks and batches: runs in about a minute")
    parser.add_argument("--configs", type=lambda v: _csv(v, str, "--configs", configs),
                        help=f"comma-separated subset of {', '.join(configs)}")
    parser.add_argument("--jit", choices=("off", "on", "both"), help="jit_compile setting(s) for every config")
    parser.add_argument("--spe", type=lambda v: _csv(v, int, "--spe"),
                        help="comma-separated steps_per_execution values of ganzoo's runs, e.g. 1,4")
    parser.add_argument("--precision", type=lambda v: _csv(v, str, "--precision",
                                                           ("float32", "mixed_bfloat16", "mixed_float16")),
                        help="comma-separated dtype policies, e.g. float32,mixed_bfloat16")
    parser.add_argument("--min-time", type=float, default=None, help="seconds per timed run (default 1; quick 0.2)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved timed runs per runner (default 3)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--backend", choices=("tensorflow", "jax"), default="tensorflow",
                        help="jax: run tools/like_for_like.py's comparison under KERAS_BACKEND=jax instead "
                             "(the toy MLPs; see the module docstring)")
    parser.add_argument("--torch", action="store_true",
                        help="also run tools/like_for_like.py --torch on this backend: the PyTorch row "
                             "(toy MLPs; needs torch installed)")
    parser.add_argument("--inference", nargs="?", const="exported_models/dcgan_mnist_sample_pretrained",
                        default=None, metavar="EXPORT",
                        help="time an export's SavedModel vs ONNX Runtime at batch 1 and 64 instead of training "
                             "(default export: %(const)s)")
    args = parser.parse_args(argv)
    if args.backend == "jax":
        tf_only = [o for o, v in (("--configs", args.configs), ("--jit", args.jit), ("--spe", args.spe),
                                  ("--precision", args.precision), ("--min-time", args.min_time),
                                  ("--json", args.json), ("--inference", args.inference)) if v is not None]
        if tf_only:
            parser.error(f"--backend jax runs tools/like_for_like.py's comparison (the toy MLPs), which has no "
                         f"{', '.join(tf_only)}; drop them, or leave --backend at tensorflow")
    args.min_time = args.min_time or (0.2 if args.quick else 1.0)
    args.repeats = args.repeats or (2 if args.quick else 3)
    if args.min_time <= 0 or args.repeats <= 0:
        parser.error("--min-time and --repeats must be positive")
    if args.spe and any(s <= 0 for s in args.spe):
        parser.error(f"--spe values must be positive integers; got {args.spe}")
    if args.jit is not None:
        args.jit = {"off": [False], "on": [True], "both": [False, True]}[args.jit]
    return args


def report_group(name, precision, jit, rows, t0):
    for r in rows:
        print(f"{name:15s} {precision:15s} jit={'on ' if jit else 'off'} spe={r['spe']:<3d} "
              f"ganzoo {r['ganzoo']:9.0f}  hand-alt {r['hand_alt']:9.0f}  ratio {r['ratio_alt']:.2f}  "
              f"(cpu {r['ratio_alt_cpu']:.2f})  tutorial {r['tutorial'] or float('nan'):9.0f}  "
              f"ratio {r['ratio_tutorial'] or float('nan'):.2f}  img/s runs {r['all_runs']}  "
              f"cpu ms/step {r['cpu_ms_step']}  [{time.perf_counter() - t0:.0f}s]", flush=True)


def like_for_like(backend, quick, torch, repeats):
    """Runs tools/like_for_like.py under KERAS_BACKEND=`backend` in a child process (the backend
    is fixed per process; this one has imported TensorFlow's). Returns its exit status."""
    import subprocess

    command = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "like_for_like.py"),
               "--repeats", str(repeats)] + (["--quick"] if quick else []) + (["--torch"] if torch else [])
    print(f"$ KERAS_BACKEND={backend} {' '.join(command[1:])}", flush=True)
    return subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}).returncode


def main(argv=None):
    args = parse_args(argv)
    if args.backend == "jax":
        return like_for_like("jax", args.quick, args.torch, args.repeats)
    if args.inference:
        info = machine_info()
        print(f"# {info['cpu']} x {info['nproc']} | TF {info['tensorflow']} | Keras {info['keras']}")
        from benchmark_inference import bench_inference, format_inference

        version_dir, rows, diff = bench_inference(args.inference, min_time=0.5 if args.quick else 2.0)
        print(format_inference(version_dir, rows, diff))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": info, "export": version_dir, "max_abs_diff": diff, "inference": rows}, f,
                          indent=1)
        return 0
    configs = make_configs(args.quick)
    keras.utils.set_random_seed(0)
    info = machine_info()
    started = time.perf_counter()
    bf16 = cpu_has_bf16()
    peak = [matmul_gflops(min_time=0.5 if args.quick else 1.5)]
    peak_bf16 = matmul_gflops(min_time=0.5 if args.quick else 1.5, dtype=tf.bfloat16) if bf16 else None
    print(f"# {info['cpu']} x {info['nproc']} | TF {info['tensorflow']} | Keras {info['keras']}")
    print(f"# matmul 2048^3: float32 {peak[0][0]:.1f} GFLOP/s ({peak[0][1]:.1f} per CPU second)"
          + (f", bfloat16 {peak_bf16[0]:.1f} GFLOP/s ({peak_bf16[1]:.1f} per CPU second)" if peak_bf16
             else "; no bf16 instructions"), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ganzoo-benchmark-") as directory:
        for name, precision, jit, spes in make_plan(args, bf16):
            t0 = time.perf_counter()
            new = bench_group(name, configs[name], precision, jit, spes, args, peak, directory)
            rows += new
            report_group(name, precision, jit, new, t0)
    best_peak, best_peak_cpu = max(p[0] for p in peak), max(p[1] for p in peak)
    print()
    print(format_table(rows, best_peak, best_peak_cpu))
    print(f"\nfloat32 matmul (2048^3, best of {len(peak)} interleaved measurements): {best_peak:.1f} GFLOP/s "
          f"(lowest {min(p[0] for p in peak):.1f}), {best_peak_cpu:.1f} GFLOP per CPU second; "
          f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "matmul_gflops": peak, "matmul_bf16_gflops": peak_bf16,
                       "args": {k: v for k, v in vars(args).items()}, "rows": rows}, f, indent=1)
    return like_for_like("tensorflow", args.quick, True, args.repeats) if args.torch else 0


if __name__ == "__main__":
    sys.exit(main())
