"""One-command GPU benchmark: ganzoo on Keras' JAX backend (XLA) against PyTorch eager and
`torch.compile` on the same networks and algorithm, in one process. Needs keras, jax and torch
only (no TensorFlow).

Usage (on the GPU machine, from the repository root):
    python tools/gpu_benchmark.py                 # the full table (DCGAN 64x64x3, WGAN-GP 32x32x3)
    python tools/gpu_benchmark.py --smoke         # tiny sizes on any device: checks the script
    python tools/gpu_benchmark.py --json out.json

Rows: DCGAN 64x64x3 (width 64) at batch 128 and 256 in float32 and bfloat16 (Keras
`mixed_bfloat16`; PyTorch autocast to bfloat16), and WGAN-GP 32x32x3 (5 critic steps, gradient
penalty) at batch 256. For each: ganzoo `model.fit` (jit_compile=True, steps_per_execution 8,
the data a host numpy array), PyTorch eager and `torch.compile` of the same step, both fed from
the same host array. Reported: images/s (real images consumed: batch * k per step), ganzoo's
ratio to each PyTorch row, and the share of the device's measured bfloat16 matmul rate that the
step's FLOPs (XLA's cost analysis of ganzoo's compiled step) reach. Timers start after
warm-up and stop when the last step's results are on the host. Targets: ganzoo >=
1.0x torch.compile and >= 1.3x PyTorch eager at batch 256 bfloat16.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from reference_loops import jax_matmul_peak, torch_conv_nets, torch_gan_step, xla_step_flops  # noqa: E402


def run_torch(case, model, x, steps, compiled, device):
    import torch

    G, D = (net.to(device).to(memory_format=torch.channels_last) for net in torch_conv_nets(torch, model, case["shape"],
                                                                                       case["wgan"]))
    betas = (0.0, 0.9) if case["wgan"] else (0.5, 0.999)
    lr = 1e-4 if case["wgan"] else 2e-4
    d_opt, g_opt = (torch.optim.Adam(n.parameters(), lr, betas=betas) for n in (D, G))
    step = torch_gan_step(torch, G, D, d_opt, g_opt, model.latent_dim, case["k"], case["gp"])
    if compiled:
        step = torch.compile(step)
    host = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    host = host.pin_memory() if device == "cuda" else host
    batch, k, n = case["batch"], case["k"], len(x) // case["batch"]
    dtype = torch.bfloat16 if case["bf16"] else None

    def go(count):
        out = None
        for s in range(count):
            reals = [host[((s * k + j) % n) * batch:((s * k + j) % n + 1) * batch].to(device, non_blocking=True)
                     .contiguous(memory_format=torch.channels_last) for j in range(k)]
            with torch.autocast(device_type=device, dtype=dtype, enabled=dtype is not None):
                out = step(reals)
        return float(out.detach())

    go(3)  # warm-up (compilation)
    start = time.perf_counter()
    go(steps)
    return time.perf_counter() - start, (G, D, step, host)


def run_ganzoo(case, x, steps, per_call):
    import keras
    from _timing import step_timer

    import ganzoo

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if case["bf16"] else "float32")
    cls = ganzoo.WGANGP if case["wgan"] else ganzoo.DCGAN
    kwargs = {"n_critic": case["k"]} if case["wgan"] else {}
    model = cls(data_shape=case["shape"], width=case["width"], seed=0, **kwargs)
    model.compile(jit_compile=True, steps_per_execution=per_call)
    timer = step_timer()
    fit = dict(x=x, batch_size=case["batch"], shuffle=False, verbose=0, epochs=1)
    model.fit(steps_per_epoch=per_call, **fit)  # warm-up (compilation)
    model.fit(steps_per_epoch=steps, callbacks=[timer], **fit)
    keras.mixed_precision.set_global_policy("float32")
    return timer.seconds()[0], model


def cases(smoke):
    if smoke:
        return [dict(name="DCGAN 16x16x3 (smoke)", shape=(16, 16, 3), width=8, batch=8, k=1, gp=None, wgan=False,
                     bf16=bf16) for bf16 in (False, True)] + [
            dict(name="WGAN-GP 16x16x3 (smoke)", shape=(16, 16, 3), width=8, batch=8, k=2, gp=10.0, wgan=True,
                 bf16=False)]
    rows = [dict(name=f"DCGAN 64x64x3, batch {b}", shape=(64, 64, 3), width=64, batch=b, k=1, gp=None, wgan=False,
                 bf16=bf16) for b in (128, 256) for bf16 in (False, True)]
    return rows + [dict(name="WGAN-GP 32x32x3, n_critic 5, batch 256", shape=(32, 32, 3), width=64, batch=256, k=5,
                        gp=10.0, wgan=True, bf16=bf16) for bf16 in (False, True)]


def measure(case, steps, per_call, device, rate):
    n_batches = 8 * case["k"]
    x = np.random.default_rng(0).uniform(-1, 1, (n_batches * case["batch"],) + case["shape"]).astype("float32")
    row = {"case": case["name"], "precision": "bfloat16" if case["bf16"] else "float32"}
    t, model = run_ganzoo(case, np.tile(x, (max(1, steps * case["k"] // n_batches + 1), 1, 1, 1)), steps, per_call)
    images = steps * case["batch"] * case["k"]
    row["ganzoo"] = images / t
    batch = x[:case["batch"] * case["k"]]
    if case["k"] > 1:  # (batch, k, ...): what fit feeds a step with k critic steps
        batch = batch.reshape((case["k"], case["batch"]) + case["shape"]).swapaxes(0, 1)
    flops = xla_step_flops(model, batch)
    row["tflops_per_step"] = flops / 1e12
    row["pct_bf16_matmul"] = 100 * flops * steps / t / 1e12 / rate
    for name, compiled in (("torch_eager", False), ("torch_compile", True)):
        try:
            t, _ = run_torch(case, model, x, steps, compiled, device)
            row[name] = images / t
            row[f"ganzoo_over_{name}"] = row["ganzoo"] / row[name]
        except Exception as e:  # torch.compile needs a working compiler toolchain
            row[name] = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:100]}"
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps: checks the script anywhere")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per run (default 200; smoke 4)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    import jax
    import keras
    import torch

    if keras.backend.backend() != "jax":
        parser.error("run it with KERAS_BACKEND=jax (the default of this script)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    steps, per_call = (args.steps or 4, 2) if args.smoke else (args.steps or 200, 8)
    rate = jax_matmul_peak(256 if args.smoke else 8192)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"device: {name} (JAX {jax.devices()[0].device_kind}); measured bf16 matmul {rate:.1f} TFLOP/s; "
          f"jax {jax.__version__}, keras {keras.__version__}, torch {torch.__version__}", flush=True)
    rows = []
    print("| case | precision | ganzoo img/s | torch eager img/s | torch.compile img/s | ganzoo / eager | "
          "ganzoo / compile | % of bf16 matmul rate |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases(args.smoke):
        row = measure(case, steps, per_call, device, rate)
        rows.append(row)
        fmt = [f"{v:,.0f}" if isinstance(v, float) else v for v in (row["ganzoo"], row["torch_eager"],
                                                                      row["torch_compile"])]
        ratios = [f"{row.get(f'ganzoo_over_{n}', float('nan')):.2f}" for n in ("torch_eager", "torch_compile")]
        print(f"| {row['case']} | {row['precision']} | {' | '.join(fmt)} | {' | '.join(ratios)} | "
              f"{row['pct_bf16_matmul']:.0f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "bf16_matmul_tflops": rate, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
