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


def torch_nets(torch, model, shape, wgan):
    """PyTorch copies of ganzoo's default conv networks (same layers, channels and kernels)."""
    from ganzoo.models.networks import conv_plan

    nn = torch.nn
    h, w, c = shape
    bh, bw, strides = conv_plan(shape)
    n, f, z = len(strides), model.width or 64, model.latent_dim
    ch = [f * 2 ** (n - 1 - i) for i in range(n)]
    g_layers = [nn.Linear(z, bh * bw * ch[0], bias=False), nn.BatchNorm1d(bh * bw * ch[0]), nn.ReLU(),
                nn.Unflatten(1, (ch[0], bh, bw))]
    for i in range(n - 1):
        g_layers += [nn.ConvTranspose2d(ch[i], ch[i + 1], 4, 2, 1, bias=False), nn.BatchNorm2d(ch[i + 1]), nn.ReLU()]
    g_layers += [nn.ConvTranspose2d(ch[-1], c, 4, 2, 1), nn.Tanh()]
    d_layers, c_in = [], c
    for i in range(n):
        bn = not wgan and i > 0
        d_layers += [nn.Conv2d(c_in, f * 2 ** i, 4, 2, 1, bias=not bn)]
        d_layers += [nn.BatchNorm2d(f * 2 ** i)] if bn else []
        d_layers += [nn.LeakyReLU(0.2)]
        c_in = f * 2 ** i
    d_layers += [nn.Flatten(), nn.Linear(c_in * (h >> n) * (w >> n), 1)]
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers)


def torch_step(torch, G, D, d_opt, g_opt, latent, k, gp_weight):
    """One iteration of ganzoo's algorithm in PyTorch: k D steps (each on its own real batch),
    then the G step (on the last D step's fake batch when k = 1, else on a fresh one)."""
    F = torch.nn.functional

    def step(reals):
        fake = None
        for real in reals:
            z = torch.randn(real.shape[0], latent, device=real.device)
            fake = G(z)
            if gp_weight is None:
                d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            else:
                alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
                x_hat = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
                grad, = torch.autograd.grad(D(x_hat).float().sum(), x_hat, create_graph=True)
                norm = torch.sqrt(grad.float().flatten(1).pow(2).sum(1) + 1e-12)
                d_loss = D(fake.detach()).float().mean() - D(real).float().mean() + gp_weight * ((norm - 1) ** 2).mean()
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_opt.step()
        if k > 1:
            fake = G(torch.randn(reals[0].shape[0], latent, device=reals[0].device))
        scores = D(fake).float()
        g_loss = F.softplus(-scores).mean() if gp_weight is None else -scores.mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        return g_loss

    return step


def run_torch(case, model, x, steps, compiled, device):
    import torch

    G, D = (net.to(device).to(memory_format=torch.channels_last) for net in torch_nets(torch, model, case["shape"],
                                                                                       case["wgan"]))
    betas = (0.0, 0.9) if case["wgan"] else (0.5, 0.999)
    lr = 1e-4 if case["wgan"] else 2e-4
    d_opt, g_opt = (torch.optim.Adam(n.parameters(), lr, betas=betas) for n in (D, G))
    step = torch_step(torch, G, D, d_opt, g_opt, model.latent_dim, case["k"], case["gp"])
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


def step_flops(case, model, x):
    """FLOPs of one ganzoo train step, as XLA's cost analysis of the compiled step counts them."""
    import jax

    from ganzoo.models.keras_internals import jax_train_state

    state = jax_train_state(model)
    batch = x[:case["batch"] * case["k"]]
    if case["k"] > 1:  # (batch, k, ...): what fit feeds a step with k critic steps
        batch = batch.reshape((case["k"], case["batch"]) + case["shape"]).swapaxes(0, 1)
    cost = jax.jit(model.train_step).lower(state, batch).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])


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


def matmul_rate(n, repeats=10):
    """The device's bfloat16 matmul rate in TFLOP/s (best of a few timed batches)."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((n, n), jnp.bfloat16)
    mm = jax.jit(lambda a: a @ a)
    mm(a).block_until_ready()
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            out = mm(a)
        out.block_until_ready()
        best = max(best, 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e12)
    return best


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
    flops = step_flops(case, model, x)
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
    rate = matmul_rate(256 if args.smoke else 8192)
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
