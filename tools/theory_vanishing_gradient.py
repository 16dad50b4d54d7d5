"""The vanishing gradient of the minimax GAN, reproduced (Arjovsky & Bottou 2017, Figure 2).

Usage:
    python tools/theory_vanishing_gradient.py                       # the picture and table of tools/BENCHMARKS.md
    python tools/theory_vanishing_gradient.py --quick               # a small run in seconds

A generator is trained briefly on the 2-D ring (`--g-steps` ordinary GAN steps: imperfect;
0: as initialized, its samples well inside the ring), then frozen. A fresh discriminator is trained against it toward the optimal D* = p_data /
(p_data + p_g) for N steps (Adam, the minimax discriminator loss, new real and fake batches each
step). At N = 0, 1, 3, 10, ... the script measures on fixed held-out batches (`--eval` points of
the ring and of G):

  js_lower_bound   (V(D, G) + log 4) / 2 = (log 4 - d_loss) / 2 <= JS(p_data || p_g), nats
                   (Goodfellow et al. 2014), which rises toward JS as D approaches D*;
  minimax          mean_i ||d log(1 - D(x_i)) / d x_i|| at the fakes x_i = G(z_i): the signal the
                   minimax generator loss sends G, sigmoid(s) ||grad_x s|| for D's logit s;
  non_saturating   mean_i ||d (-log D(x_i)) / d x_i|| = sigmoid(-s) ||grad_x s||;
  d_saturation     the share of fakes with D(x) < 0.01.

As D improves, sigmoid(s) -> 0 on the fakes and the minimax gradient vanishes (Arjovsky &
Bottou 2017, Theorem 2.4: with disjoint supports ||grad|| -> 0 as ||D - D*|| -> 0), while the
non-saturating gradient does not. Their Figure 2 plots the norm of the gradient with respect
to G's weights for a DCGAN; here it is the gradient with respect to each sample, the signal
before it enters G (the weight gradient is its product with G's Jacobian), on the 2-D ring
where the supports are known to be nearly disjoint (sigma 0.01).

The gradients are taken with `ganzoo.losses.input_gradients`, so the script runs on any Keras
backend (KERAS_BACKEND). It writes a PNG (matplotlib) and prints the table.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_STEPS = (0, 1, 3, 10, 30, 100, 300, 1000, 3000)


def measure(discriminator, real, fake):
    """{js_lower_bound, minimax, non_saturating, d_saturation} of `discriminator` on `real` and `fake`."""
    import keras
    from keras import ops

    from ganzoo import losses

    real_logits = ops.reshape(ops.cast(discriminator(real, training=False), "float32"), (-1,))
    fake_logits = ops.reshape(ops.cast(discriminator(fake, training=False), "float32"), (-1,))
    grads = losses.input_gradients(discriminator, ops.convert_to_tensor(fake), training=False)  # grad_x s(x)
    grad_norm = ops.sqrt(ops.sum(ops.square(ops.reshape(ops.cast(grads, "float32"), (len(fake), -1))), axis=1))
    values = {
        "js_lower_bound": losses.js_lower_bound(real_logits, fake_logits),
        # d l / d x = l'(s) grad_x s: l = log(1 - sigmoid(s)) has |l'| = sigmoid(s),
        # l = -log sigmoid(s) has |l'| = sigmoid(-s).
        "minimax": ops.mean(ops.sigmoid(fake_logits) * grad_norm),
        "non_saturating": ops.mean(ops.sigmoid(-fake_logits) * grad_norm),
        "d_saturation": losses.saturated_fraction(fake_logits),
    }
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in values.items()}


def run(steps=DEFAULT_STEPS, g_steps=300, width=128, batch=256, eval_points=4096, d_learning_rate=1e-3, seed=0):
    """[{"steps": N, **measure(...)}] for D trained N steps against a G frozen after `g_steps`."""
    import keras

    import ganzoo
    from ganzoo.data import load_dataset, toy_distribution

    keras.utils.set_random_seed(seed)
    data = load_dataset("gaussian_ring", batch_size=batch, seed=seed, repeat=True)
    trained = ganzoo.GAN(data_shape=(2,), width=width, seed=seed)
    trained.compile()
    if g_steps:
        trained.fit(data, steps_per_epoch=g_steps, epochs=1, verbose=0)
    generator = keras.models.clone_model(trained.generator)
    generator.set_weights(trained.generator.get_weights())
    # A fresh discriminator against the frozen generator (G's learning rate 0: its weights stay).
    model = ganzoo.GAN(generator=generator, data_shape=(2,), width=width, seed=seed + 1)
    model.compile(d_optimizer=keras.optimizers.Adam(d_learning_rate, beta_1=0.5),
                  g_optimizer=keras.optimizers.SGD(0.0))
    real = toy_distribution("gaussian_ring").sample(eval_points, seed=seed + 2)
    fake = np.asarray(model.generate(eval_points, seed=seed + 3), "float32")
    rows, done = [], 0
    for n in sorted(set(steps)):
        if n > done:
            model.fit(data, steps_per_epoch=n - done, epochs=1, verbose=0)
            done = n
        rows.append({"steps": n, **measure(model.discriminator, real, fake)})
    return rows


def plot(runs, path, title):
    """`runs`: {generator steps: rows of `run`}; one colour per generator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (g_steps, rows) in enumerate(runs.items()):
        x = np.maximum(np.array([r["steps"] for r in rows], float), 0.5)  # N = 0 drawn at 0.5
        color, who = f"C{i}", f"G after {g_steps} steps"
        right.plot(x, [r["minimax"] for r in rows], "o-", color=color, label=f"minimax, {who}")
        right.plot(x, [r["non_saturating"] for r in rows], "s--", color=color, label=f"non-saturating, {who}")
        left.plot(x, [r["js_lower_bound"] for r in rows], "o-", color=color, label=f"JS bound, {who}")
        left.plot(x, [r["d_saturation"] * np.log(2) for r in rows], ":", color=color,
                  label=f"share of fakes with D < 0.01 (x log 2), {who}")
    right.set(xscale="log", yscale="log", xlabel="discriminator steps N (0 drawn at 0.5)",
              ylabel="mean ||dl_G / dx|| at x = G(z)", title="signal reaching the generator")
    right.legend(fontsize=7)
    left.axhline(np.log(2), color="gray", lw=0.8, ls="--", label="log 2 (disjoint supports)")
    left.set(xscale="log", xlabel="discriminator steps N (0 drawn at 0.5)", ylabel="nats",
             title="(V(D, G) + log 4) / 2 <= JS(p_data || p_g)")
    left.legend(loc="upper left", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=list(DEFAULT_STEPS))
    parser.add_argument("--g-steps", type=int, nargs="+", default=[0, 300],
                        help="GAN steps that make each imperfect generator (0: G as initialized)")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--eval", type=int, default=4096, dest="eval_points")
    parser.add_argument("--d-lr", type=float, default=1e-3, help="the discriminator's Adam learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "theory_vanishing_gradient.png"))
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--quick", action="store_true", help="N up to 100, width 32, one generator")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.width, args.g_steps = [0, 1, 10, 100], 32, [0]
    import keras

    runs = {}
    print(f"backend {keras.backend.backend()}, width {args.width}, batch {args.batch}, D Adam({args.d_lr}, 0.5), "
          f"{args.eval_points} held-out points, seed {args.seed}")
    print("| G after (steps) | D steps N | js_lower_bound (nats) | d_saturation | mean grad norm, minimax "
          "| mean grad norm, non-saturating |")
    print("|---|---|---|---|---|---|")
    for g_steps in args.g_steps:
        runs[g_steps] = run(args.steps, g_steps, args.width, args.batch, args.eval_points, args.d_lr, args.seed)
        for r in runs[g_steps]:
            print(f"| {g_steps} | {r['steps']} | {r['js_lower_bound']:.4f} | {r['d_saturation']:.3f} "
                  f"| {r['minimax']:.3g} | {r['non_saturating']:.3g} |", flush=True)
    plot(runs, args.out, "Arjovsky & Bottou 2017, Fig. 2, on the 2-D ring: G frozen, D trained from scratch toward "
                         f"D* (ganzoo GAN MLPs, width {args.width}, {keras.backend.backend()})")
    print("wrote", args.out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(k): v for k, v in runs.items()}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
