"""Where a training step's time goes: TensorFlow's profiler, per op type, ganzoo vs hand loop.

Usage:
    python tools/profile_step.py                                  # mnist_tutorial, ganzoo and hand-alt
    python tools/profile_step.py --config dcgan_default --steps 3
    python tools/profile_step.py --config toy_mlp --runners ganzoo,hand-alt --spe 16

For each runner of `tools/benchmark.py` (same networks, batch and data), it warms up, records
`--steps` training steps with `tf.profiler.experimental`, converts the trace with TensorFlow's
own `framework_op_stats` tool and prints the self time per op type, summed over the
executor's threads (so it can exceed wall time), without the threads' idle time. It answers
"is the time in the arithmetic, or around it?": the share of busy time in the convolution and
matmul kernels, the elementwise remainder, and the op count per step.
"""

import argparse
import collections
import glob
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import benchmark  # noqa: E402  (same configurations as the throughput benchmark)
from reference_loops import HandRunner, make_dataset  # noqa: E402
import tensorflow as tf  # noqa: E402

# Op types that are the networks' arithmetic (oneDNN and Eigen convolutions and matmuls).
KERNEL_PREFIXES = ("Conv2D", "_FusedConv2D", "_MklConv2D", "_MklNativeConv2D", "_MklFusedConv2D",
                   "_MklNativeFusedConv2D", "MatMul", "BatchMatMul", "_FusedMatMul", "_MklMatMul",
                   "_MklFusedMatMul", "_MklNativeFusedMatMul")  # prefixes: Backprop* variants included


def op_stats(xplane_path):
    """{op type: (self microseconds, occurrences)} from one profile, idle time left out."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    out = plugin.xspace_to_tools_data([xplane_path], "framework_op_stats", {})
    raw = out[0] if isinstance(out, tuple) else out
    table = json.loads(raw)[0]
    cols = [c["id"] for c in table["cols"]]
    stats = collections.defaultdict(lambda: [0.0, 0])
    for row in table["rows"]:
        v = dict(zip(cols, [c.get("v") if isinstance(c, dict) else c for c in row["c"]]))
        if v["type"] == "IDLE":
            continue
        stats[v["type"]][0] += float(v["total_self_time"])
        stats[v["type"]][1] += int(v["occurrences"])
    return dict(stats)


def profile(runner, steps, logdir):
    runner.run(max(2, runner.spe))  # warm-up: tracing, grappler, oneDNN primitive caches
    tf.profiler.experimental.start(logdir)
    try:
        runner.run(steps)
    finally:
        tf.profiler.experimental.stop()
    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise SystemExit(f"The profiler wrote no .xplane.pb under {logdir}.")
    return op_stats(paths[0])


def summarize(name, stats, steps, top):
    busy = sum(us for us, _ in stats.values())
    kernels = sum(us for t, (us, _) in stats.items() if t.startswith(KERNEL_PREFIXES))
    ops = sum(n for _, n in stats.values())
    lines = [f"{name}: busy thread time {busy / 1e3 / steps:.1f} ms per step, {ops / steps:.0f} ops per step; "
             f"convolution/matmul kernels {100 * kernels / max(busy, 1e-9):.1f}% of it"]
    for t, (us, n) in sorted(stats.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"  {t:40s} {us / 1e3 / steps:9.1f} ms/step  {100 * us / busy:5.1f}%  x{n / steps:.0f}")
    return "\n".join(lines), {"busy_ms_per_step": busy / 1e3 / steps, "kernel_share": kernels / max(busy, 1e-9),
                              "ops_per_step": ops / steps}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="mnist_tutorial",
                        choices=("toy_mlp", "mnist_tutorial", "dcgan_default", "wgan_gp"))
    parser.add_argument("--runners", default="ganzoo,hand-alt", help="comma-separated: ganzoo, hand-alt, tutorial")
    parser.add_argument("--steps", type=int, default=5, help="profiled training steps per runner")
    parser.add_argument("--spe", type=int, default=1, help="ganzoo's steps_per_execution")
    parser.add_argument("--jit", action="store_true", help="jit_compile=True for every runner")
    parser.add_argument("--top", type=int, default=12, help="op types to list per runner")
    parser.add_argument("--json", default=None, help="also write the summaries to this JSON file")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.spe < 1:
        parser.error("--steps and --spe must be positive")
    runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    bad = [r for r in runners if r not in ("ganzoo", "hand-alt", "tutorial")]
    if bad or not runners:
        parser.error(f"--runners: unknown {bad or 'empty list'}; choose from ganzoo, hand-alt, tutorial")

    cfg = benchmark.make_configs(False)[args.config]
    dataset = make_dataset(cfg["data_shape"], cfg["batch"], 8)
    steps = -(-args.steps // args.spe) * args.spe
    summaries = {}
    root = tempfile.mkdtemp(prefix="ganzoo-profile-")
    try:
        for name in runners:
            if name == "ganzoo":
                runner = benchmark.GanzooRunner(cfg, dataset, args.jit, args.spe)
            else:
                runner = HandRunner(cfg, dataset, args.jit, simultaneous=name == "tutorial")
            stats = profile(runner, steps, os.path.join(root, name))
            text, summaries[name] = summarize(f"{args.config} {name}", stats, steps, args.top)
            print(text, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": args.config, "steps": steps, "jit": args.jit, "spe": args.spe,
                       "summaries": summaries}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
