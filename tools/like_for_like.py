"""ganzoo's `fit` against a hand-written loop that runs the same steps per compiled call, on the
backend this process runs (KERAS_BACKEND), and optionally a PyTorch loop of the same algorithm.

Usage:
    python tools/like_for_like.py                       # TensorFlow
    KERAS_BACKEND=jax python tools/like_for_like.py
    KERAS_BACKEND=jax python tools/like_for_like.py --model dcgan   # conv nets: ganzoo's two JAX paths
    KERAS_BACKEND=jax python tools/like_for_like.py --model dcgan --force-scan --steps 32   # the scan on CPU convs
    python tools/like_for_like.py --torch               # add the PyTorch row (pip install torch)
    python tools/like_for_like.py --quick               # checks the script in seconds

Networks and algorithm: the `gan_gaussian_ring` preset (3 x 128 MLPs, z of 2, batch 256,
Adam(1e-4, 0.5)), one discriminator step on a real batch and G(z), then the generator step on
the same fake batch against the updated D (ganzoo's Algorithm 1 with k = 1). `--model dcgan`:
DCGAN on 28x28x1 images, width 32, batch 64 (uniform noise images in [-1, 1]), ganzoo's rows only.

  ganzoo     `model.fit` with `steps_per_execution` 16 and the callbacks `ganzoo train`
             installs (NaN guard, checkpointer, TensorBoard logger; epoch-end writes excluded).
             On JAX the 16 steps run as one `jax.jit` call (`lax.scan`,
             `ganzoo.models.backends.jax_multistep`), except for convolutions on the CPU, which
             it dispatches per step (`--force-scan`: the scan there too)
  ganzoo per-step  JAX only: the same `fit` with Keras' own JAX train function, one jitted step
             dispatched per step (16 per call from a Python loop), what ganzoo ran before the scan
  hand       TensorFlow: one `tf.function` running 16 steps in a `tf.range` loop per call, as
             Keras' own 16-step call. JAX: one `jax.jit` step per call, 16 calls per Python
             loop iteration, as Keras' JAX trainer runs `steps_per_execution`
  hand-scan  JAX only: 16 steps inside one `jax.jit` call (`lax.scan`), as ganzoo's JAX `fit`
  torch      PyTorch eager, the same networks (nn.Linear, ReLU / LeakyReLU(0.2)) and step

Every runner consumes the same host numpy batches; timers start at the first step's call and
stop when the last step's results are on the host. Runs are interleaved, `--repeats` times;
the table shows the median images/s with the min..max over repeats, the ratio of medians, and
the median (min..max) of the per-repeat ratios (each repeat's runs are neighbours in time),
and the process CPU time per step (all threads; ganzoo's from the same marks as its wall time),
which other jobs on the machine disturb less than the wall time.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BATCH, PER_CALL = 256, 16
CONV_BATCH = 64


def _data(steps):
    import ganzoo.metrics.toy as toy

    return toy.TOY_DISTRIBUTIONS["gaussian_ring"].sample(steps * BATCH, seed=0).astype("float32")


def _models(name):
    """(model, a second model with the same weights) of `name`, compiled for 16 steps per call."""
    import keras

    import ganzoo

    models = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        if name == "gan":
            model = ganzoo.GAN(data_shape=(2,), seed=0)  # the gan_gaussian_ring preset's networks
        else:
            model = ganzoo.DCGAN(data_shape=(28, 28, 1), width=32, seed=0)
        model.compile(steps_per_execution=PER_CALL)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


def per_step_dispatch(model):
    """`model` with Keras' own JAX train function: one jitted step dispatched per step, the path
    `ganzoo.models.backends.jax_multistep` replaces with one `lax.scan` call per 16 steps."""
    from ganzoo.models.backends.jax_multistep import MultiStep

    model.make_train_function = super(MultiStep, model).make_train_function
    return model


def _with_cpu(run):
    """A runner returning (wall, process CPU) seconds from one returning wall seconds."""
    def timed():
        start = time.process_time()
        wall = run()
        return wall, time.process_time() - start

    return timed


def ganzoo_runner(model, x, steps, tmp, batch=BATCH):
    from _timing import step_timer, train_callbacks

    def run():
        z = np.zeros((4, model.latent_dim), "float32")
        timer = step_timer()
        model.fit(x, batch_size=batch, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0,
                  callbacks=[timer, *train_callbacks(tmp, steps, z)])
        return timer.seconds()

    return run


def _copies(model):
    import keras

    nets = []
    for net in (model.generator, model.discriminator):
        clone = keras.models.clone_model(net)
        clone.set_weights(net.get_weights())
        nets.append(clone)
    opts = [keras.optimizers.Adam(1e-4, beta_1=0.5) for _ in range(2)]
    opts[0].build(nets[1].trainable_variables)
    opts[1].build(nets[0].trainable_variables)
    return nets, opts


def tf_hand_runner(model, x, steps):
    import keras
    import tensorflow as tf

    (G, D), (d_opt, g_opt) = _copies(model)
    seed = keras.random.SeedGenerator(0)

    @tf.function
    def call(batches):
        d_loss = g_loss = tf.constant(0.0)
        for i in tf.range(PER_CALL):
            real = batches[i]
            z = keras.random.normal((BATCH, model.latent_dim), seed=seed)
            with tf.GradientTape() as g_tape:
                fake = G(z, training=True)
                with tf.GradientTape() as d_tape:
                    d_loss = (tf.reduce_mean(tf.nn.softplus(-D(real, training=True)))
                              + tf.reduce_mean(tf.nn.softplus(D(fake, training=True))))
                d_opt.apply_gradients(zip(d_tape.gradient(d_loss, D.trainable_variables), D.trainable_variables))
                g_loss = tf.reduce_mean(tf.nn.softplus(-D(fake, training=True)))
            g_opt.apply_gradients(zip(g_tape.gradient(g_loss, G.trainable_variables), G.trainable_variables))
        return d_loss, g_loss

    def run():
        start = time.perf_counter()
        for c in range(steps // PER_CALL):
            out = call(tf.constant(x[c * PER_CALL * BATCH:(c + 1) * PER_CALL * BATCH].reshape(PER_CALL, BATCH, 2)))
        float(out[0])
        return time.perf_counter() - start

    call(tf.constant(x[:PER_CALL * BATCH].reshape(PER_CALL, BATCH, 2)))  # trace
    return run


def jax_hand_runners(model, x, steps):
    import jax
    import jax.numpy as jnp

    (G, D), (d_opt, g_opt) = _copies(model)

    def step(state, real, key):
        g_tv, g_nt, d_tv, d_nt, g_ov, d_ov = state
        z = jax.random.normal(key, (BATCH, model.latent_dim))
        fake, pullback, g_nt = jax.vjp(lambda tv: G.stateless_call(tv, g_nt, z, training=True), g_tv, has_aux=True)

        def d_loss_fn(tv):
            r, nt = D.stateless_call(tv, d_nt, real, training=True)
            f, nt = D.stateless_call(tv, nt, fake, training=True)
            return jnp.mean(jax.nn.softplus(-r)) + jnp.mean(jax.nn.softplus(f)), nt

        (d_loss, d_nt), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_tv)
        d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)

        def g_loss_fn(f):
            s, nt = D.stateless_call(d_tv, d_nt, f, training=True)
            return jnp.mean(jax.nn.softplus(-s)), nt

        (g_loss, d_nt), fake_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
        g_tv, g_ov = g_opt.stateless_apply(g_ov, pullback(fake_grads)[0], g_tv)
        return (g_tv, g_nt, d_tv, d_nt, g_ov, d_ov), (d_loss, g_loss)

    one = jax.jit(step, donate_argnums=0)

    @jax.jit
    def scan16(state, batches, key):
        def body(state, inputs):
            return step(state, *inputs)
        return jax.lax.scan(body, state, (batches, jax.random.split(key, PER_CALL)))

    def initial():
        values = [[v.value for v in vs] for vs in (G.trainable_variables, G.non_trainable_variables,
                                                   D.trainable_variables, D.non_trainable_variables,
                                                   g_opt.variables, d_opt.variables)]
        return tuple(jax.tree_util.tree_map(jnp.array, values))

    def per_step():
        state, key = initial(), jax.random.PRNGKey(0)
        start = time.perf_counter()
        for c in range(steps // PER_CALL):
            batches = x[c * PER_CALL * BATCH:(c + 1) * PER_CALL * BATCH].reshape(PER_CALL, BATCH, 2)
            for i in range(PER_CALL):
                key, sub = jax.random.split(key)
                state, out = one(state, batches[i], sub)
        float(out[0])
        return time.perf_counter() - start

    def scanned():
        state, key = initial(), jax.random.PRNGKey(0)
        start = time.perf_counter()
        for c in range(steps // PER_CALL):
            key, sub = jax.random.split(key)
            state, out = scan16(state, x[c * PER_CALL * BATCH:(c + 1) * PER_CALL * BATCH].reshape(
                PER_CALL, BATCH, 2), sub)
        float(out[0][-1])
        return time.perf_counter() - start

    return {"hand": per_step, "hand-scan": scanned}


def torch_runner(model, x, steps):
    import torch
    from reference_loops import torch_gan_step

    torch.set_num_threads(os.cpu_count())
    units, latent = 128, model.latent_dim

    def mlp(n_in, n_out, act):
        return torch.nn.Sequential(torch.nn.Linear(n_in, units), act(), torch.nn.Linear(units, units), act(),
                                   torch.nn.Linear(units, units), act(), torch.nn.Linear(units, n_out))

    G = mlp(latent, 2, torch.nn.ReLU)
    D = mlp(2, 1, lambda: torch.nn.LeakyReLU(0.2))
    d_opt = torch.optim.Adam(D.parameters(), 1e-4, betas=(0.5, 0.999))
    g_opt = torch.optim.Adam(G.parameters(), 1e-4, betas=(0.5, 0.999))
    step = torch_gan_step(torch, G, D, d_opt, g_opt, latent, k=1, gp_weight=None)

    def run():
        start = time.perf_counter()
        for s in range(steps):
            g_loss = step([torch.from_numpy(x[s * BATCH:(s + 1) * BATCH])])
        float(g_loss.detach())
        return time.perf_counter() - start

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("gan", "dcgan"), default="gan",
                        help="gan: the toy MLPs, every row; dcgan: 28x28 conv nets, ganzoo's rows only")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per timed run, a multiple of 16 (default 1600; dcgan 320)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--torch", action="store_true", help="add the PyTorch eager row")
    parser.add_argument("--quick", action="store_true", help="64 steps, 2 repeats")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size (default 256; dcgan 64): smaller batches show the dispatch cost")
    parser.add_argument("--force-scan", action="store_true",
                        help="JAX: the scan also where ganzoo dispatches per step (convolutions on the CPU)")
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = 1600 if args.model == "gan" else 320
    if args.quick:
        args.steps, args.repeats = 64, 2
    global BATCH
    if args.model == "gan" and args.batch:
        BATCH = args.batch  # the hand loops read it
    import keras

    backend = keras.backend.backend()
    if args.force_scan:
        from ganzoo.models.backends import jax_multistep

        jax_multistep._scan_pays = lambda *_: True
    model, twin = _models(args.model)
    batch = BATCH if args.model == "gan" else args.batch or CONV_BATCH
    if args.model == "gan":
        x = _data(args.steps)
    else:
        x = np.random.default_rng(0).uniform(-1, 1, (args.steps * batch, 28, 28, 1)).astype("float32")
    with tempfile.TemporaryDirectory() as tmp:
        runners = {"ganzoo": ganzoo_runner(model, x, args.steps, os.path.join(tmp, "a"), batch)}
        if backend == "jax":
            runners["ganzoo per-step"] = ganzoo_runner(per_step_dispatch(twin), x, args.steps,
                                                       os.path.join(tmp, "b"), batch)
        if args.model == "gan":
            if backend == "tensorflow":
                runners["hand"] = _with_cpu(tf_hand_runner(model, x, args.steps))
            elif backend == "jax":
                runners.update({name: _with_cpu(run) for name, run in jax_hand_runners(model, x, args.steps).items()})
            if args.torch:
                runners["torch"] = _with_cpu(torch_runner(model, x, args.steps))
        for run in runners.values():
            run()  # warm-up: compilation, first-call costs
        times = {name: [] for name in runners}
        for _ in range(args.repeats):
            for name, run in runners.items():
                times[name].append(run())
    _report(backend, args, times, batch)
    return 0


def _report(backend, args, times, batch):
    from _timing import spread

    rate = {name: [args.steps * batch / wall for wall, _ in ts] for name, ts in times.items()}
    cpu = {name: [1e3 * c / args.steps for _, c in ts] for name, ts in times.items()}
    base = statistics.median(rate["ganzoo"])
    print(f"backend {backend}, {args.model}{' (scan forced)' if args.force_scan else ''}: {args.steps} steps x {args.repeats} interleaved repeats, "
          f"batch {batch}, {PER_CALL} steps per call; load average {os.getloadavg()[0]:.2f} at the end")
    print("| runner | images/s, median (min..max) | ganzoo / runner, of medians | per repeat, median (min..max) "
          "| process CPU ms per step |")
    print("|---|---|---|---|---|")
    for name, r in rate.items():
        pairs = [a / b for a, b in zip(rate["ganzoo"], r)]
        print(f"| {backend} {name} | {spread(r)} | {base / statistics.median(r):.2f} | {spread(pairs, '{:.2f}')} "
              f"| {spread(cpu[name], '{:.3f}')} |")


if __name__ == "__main__":
    sys.exit(main())
