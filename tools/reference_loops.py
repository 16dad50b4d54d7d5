"""Hand-written reference GAN loops, FLOP counts and matmul peaks, shared by the benchmarks
(tools/benchmark.py, tools/profile_step.py, tools/like_for_like.py, tools/gpu_benchmark.py).

Reference loops:
  HandRunner (TensorFlow, `tf.function` + `GradientTape`, spe steps per call):
    hand-alt    a hand-written `tf.function` + `GradientTape` loop doing the same algorithm as
                ganzoo's `train_step`: a discriminator (critic) update on a real batch and a
                fake batch G(z), then a generator update against the *updated* discriminator,
                reusing that fake batch (k critic steps with their own real batches, then a
                fresh G(z), for WGAN-GP); same losses, same Adam optimizers. Each call runs spe
                steps in a `tf.while_loop` taking every step's batch from the dataset iterator,
                as `fit`'s steps_per_execution loop does.
    tutorial    the TensorFlow DCGAN tutorial's own step: one G(z), D on real and fake, both
                tapes, both updates applied at once (simultaneous updates), spe steps per call
                likewise. It skips the generator step's second D forward, so it does about one D
                forward less work per step than any alternating loop. GAN/DCGAN only.
  torch_gan_step (PyTorch): ganzoo's algorithm, k D steps then the G step, with or without the
      gradient penalty; torch_conv_nets: PyTorch copies of ganzoo's default conv networks.
  tutorial_generator / tutorial_discriminator: the TensorFlow DCGAN tutorial's MNIST networks.

FLOPs are counted analytically from the layer shapes (Dense, Conv2D, Conv2DTranspose;
2 FLOPs per multiply-add; batch norm, activations, losses and optimizer updates are not
counted). Per network pass and per layer: 1x the forward cost, +1x for the gradient with
respect to the layer's input when backprop passes through it (not for the network's first
layer unless the gradient must reach the network's input), +1x for the weight gradient when
that network is being updated. The gradient penalty's pass is forward + input gradient +
2x for differentiating that input gradient with respect to the weights (LeakyReLU's second
derivative is zero, so nothing flows back through the forward activations). "% peak" is the
median achieved FLOP rate of ganzoo's run divided by the best float32 `tf.matmul` (2048^3)
rate measured in the same process (once per repeat, interleaved with the runs): per
wall second, and per second of process CPU time (the per-core efficiency, whatever share of
the cores other processes leave).
"""

import math
import os
import platform
import time

import keras
import numpy as np

# TensorFlow is imported where a TensorFlow loop or peak needs it (gpu_benchmark.py runs without it).


def tutorial_generator(latent_dim=100):
    """The TensorFlow DCGAN tutorial's MNIST generator (functional form; tanh kept in float32)."""
    L = keras.layers
    z = keras.Input((latent_dim,))
    x = L.Dense(7 * 7 * 256, use_bias=False)(z)
    x = L.LeakyReLU()(L.BatchNormalization()(x))
    x = L.Reshape((7, 7, 256))(x)
    x = L.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False)(x)
    x = L.LeakyReLU()(L.BatchNormalization()(x))
    x = L.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False)(x)
    x = L.LeakyReLU()(L.BatchNormalization()(x))
    x = L.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False)(x)
    x = L.Activation("tanh", dtype="float32")(x)
    return keras.Model(z, x, name="tutorial_generator")


def tutorial_discriminator():
    """The TensorFlow DCGAN tutorial's MNIST discriminator (logits, float32 output)."""
    L = keras.layers
    x_in = keras.Input((28, 28, 1))
    x = L.Dropout(0.3)(L.LeakyReLU()(L.Conv2D(64, 5, strides=2, padding="same")(x_in)))
    x = L.Dropout(0.3)(L.LeakyReLU()(L.Conv2D(128, 5, strides=2, padding="same")(x)))
    x = L.Dense(1, dtype="float32")(L.Flatten()(x))
    return keras.Model(x_in, x, name="tutorial_discriminator")



# -------------------------------------------------------------------------------- FLOPs


def layer_macs(model):
    """Multiply-adds per example of each Dense / Conv2D / Conv2DTranspose layer, in call order."""
    macs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            inp = layer.input.shape
            kh, kw = layer.kernel_size
            macs.append(inp[1] * inp[2] * inp[3] * kh * kw * layer.filters)
        elif isinstance(layer, keras.layers.Conv2D):
            out = layer.output.shape
            kh, kw = layer.kernel_size
            macs.append(out[1] * out[2] * out[3] * kh * kw * layer.input.shape[3] // layer.groups)
        elif isinstance(layer, keras.layers.Dense):
            inp = layer.input.shape
            macs.append(math.prod(inp[1:]) * layer.units)
    return macs


def pass_flops(macs, update_weights, grad_to_input, penalty=False):
    """FLOPs per example of one pass through a network (see the module docstring)."""
    total = 0
    for i, m in enumerate(macs):
        if penalty:
            factor = 4
        else:
            factor = 1 + (1 if update_weights else 0)
            # The gradient must pass below layer i to reach earlier weights or the input.
            if grad_to_input or (update_weights and i > 0):
                factor += 1
        total += 2 * m * factor
    return total


def step_flops(loop, g_macs, d_macs, batch, k=1):
    """FLOPs of one training step (one generator update) at `batch` examples per batch.

    loop: "alternating" (ganzoo and hand-alt) or "simultaneous" (the tutorial's loop).
    """
    g_train = pass_flops(g_macs, update_weights=True, grad_to_input=False)
    d_train = pass_flops(d_macs, update_weights=True, grad_to_input=False)
    d_to_input = pass_flops(d_macs, update_weights=False, grad_to_input=True)
    if loop == "simultaneous":
        # D on the fake batch: forward, weight grads and the D loss's input grads, plus the
        # generator loss's own backprop to the input (a second tape, not shared).
        d_fake = d_train + (d_to_input - pass_flops(d_macs, False, False))
        per_example = g_train + d_train + d_fake
    elif k == 1:
        per_example = g_train + 2 * d_train + d_to_input
    else:
        g_forward = pass_flops(g_macs, update_weights=False, grad_to_input=False)
        gp = pass_flops(d_macs, True, True, penalty=True)
        per_example = k * (g_forward + 2 * d_train + gp) + g_train + d_to_input
    return per_example * batch


def xla_step_flops(model, batch):
    """FLOPs of one ganzoo train step on JAX, as XLA's cost analysis of the compiled step counts
    them; `batch` is what `fit` feeds one step ((batch, k, ...) for k critic steps)."""
    import jax

    from ganzoo.models.keras_internals import jax_train_state

    state = jax_train_state(model)
    cost = jax.jit(model.train_step).lower(state, batch).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"])


# ------------------------------------------------------------------------- matmul peaks


def matmul_gflops(n=2048, min_time=1.0, dtype="float32"):
    """Best-of-3 rates of an n x n x n `tf.matmul` in this process: (GFLOP per wall second,
    GFLOP per second of process CPU time). The second is the per-core rate whatever share of
    the cores other processes leave us."""
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.random.normal((n, n)), dtype)
    mm = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
    mm(a, b).numpy()
    best_wall = best_cpu = 0.0
    for _ in range(3):
        count, start, cpu_start = 0, time.perf_counter(), time.process_time()
        while count < 1 or time.perf_counter() - start < min_time / 3:
            mm(a, b).numpy()
            count += 1
        best_wall = max(best_wall, 2 * n**3 * count / (time.perf_counter() - start) / 1e9)
        best_cpu = max(best_cpu, 2 * n**3 * count / max(time.process_time() - cpu_start, 1e-9) / 1e9)
    return best_wall, best_cpu


def jax_matmul_peak(n, repeats=10):
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


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import tensorflow as tf

    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__}


def cpu_has_bf16():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


# ----------------------------------------------------------------- TensorFlow hand loops


def make_dataset(data_shape, batch, n_batches, seed=0):
    """Random samples in [-1, 1], batched, cached in memory, repeated, prefetched."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(batch * n_batches,) + tuple(data_shape)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True).cache()
    return ds.repeat().prefetch(tf.data.AUTOTUNE)


def adam_for(model_name):
    if model_name == "WGANGP":
        return keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


class HandRunner:
    """A hand-written `tf.function` + `GradientTape` loop running `spe` steps per call (a
    `tf.while_loop` taking each step's batch from the dataset iterator, as `fit` does)."""

    def __init__(self, cfg, dataset, jit, simultaneous, spe=1):
        import tensorflow as tf

        self.label = f"{'tutorial' if simultaneous else 'hand-alt'} spe={spe}"
        self.k = cfg.get("n_critic", 1)
        self.batch = cfg["batch"]
        self.spe = spe
        G, D = cfg["networks"]()
        d_opt, g_opt = adam_for(cfg["model"]), adam_for(cfg["model"])
        d_opt.build(D.trainable_variables)  # no variable creation inside the loop's trace
        g_opt.build(G.trainable_variables)
        self.g_optimizer = g_opt
        latent_dim, batch, k = cfg["latent_dim"], cfg["batch"], self.k
        bce = keras.losses.BinaryCrossentropy(from_logits=True)
        # k critic steps per call take k real batches: group them (k, batch, ...) like fit does.
        self.dataset = dataset.batch(k, drop_remainder=True).prefetch(tf.data.AUTOTUNE) if k > 1 else dataset

        def simultaneous_step(images):  # the TensorFlow DCGAN tutorial's train_step
            noise = tf.random.normal([batch, latent_dim])
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                generated = G(noise, training=True)
                real_output = D(images, training=True)
                fake_output = D(generated, training=True)
                gen_loss = bce(tf.ones_like(fake_output), fake_output)
                disc_loss = bce(tf.ones_like(real_output), real_output) + bce(tf.zeros_like(fake_output),
                                                                              fake_output)
            g_grads = gen_tape.gradient(gen_loss, G.trainable_variables)
            d_grads = disc_tape.gradient(disc_loss, D.trainable_variables)
            g_opt.apply_gradients(zip(g_grads, G.trainable_variables))
            d_opt.apply_gradients(zip(d_grads, D.trainable_variables))
            return gen_loss, disc_loss

        def alternating_step(images):  # ganzoo's algorithm, written by hand
            noise = tf.random.normal([batch, latent_dim])
            with tf.GradientTape() as gen_tape:
                generated = G(noise, training=True)
                with tf.GradientTape() as disc_tape:
                    real_output = D(images, training=True)
                    fake_output = D(generated, training=True)
                    disc_loss = bce(tf.ones_like(real_output), real_output) + bce(
                        tf.zeros_like(fake_output), fake_output)
                d_grads = disc_tape.gradient(disc_loss, D.trainable_variables)
                d_opt.apply_gradients(zip(d_grads, D.trainable_variables))
                fake_output = D(generated, training=True)  # against the updated D
                gen_loss = bce(tf.ones_like(fake_output), fake_output)
            g_grads = gen_tape.gradient(gen_loss, G.trainable_variables)
            g_opt.apply_gradients(zip(g_grads, G.trainable_variables))
            return gen_loss, disc_loss

        def wgan_gp_step(image_groups):  # k critic steps, then a generator step
            for i in range(k):
                real = image_groups[i]
                generated = G(tf.random.normal([batch, latent_dim]), training=True)
                alpha = tf.random.uniform([batch, 1, 1, 1])
                with tf.GradientTape() as disc_tape:
                    real_output = D(real, training=True)
                    fake_output = D(generated, training=True)
                    x_hat = alpha * real + (1.0 - alpha) * generated
                    with tf.GradientTape() as gp_tape:
                        gp_tape.watch(x_hat)
                        scores = tf.reduce_sum(D(x_hat, training=True))
                    g = tf.reshape(gp_tape.gradient(scores, x_hat), [batch, -1])
                    gp = tf.reduce_mean(tf.square(tf.sqrt(tf.reduce_sum(tf.square(g), axis=1) + 1e-12) - 1.0))
                    disc_loss = tf.reduce_mean(fake_output) - tf.reduce_mean(real_output) + 10.0 * gp
                d_grads = disc_tape.gradient(disc_loss, D.trainable_variables)
                d_opt.apply_gradients(zip(d_grads, D.trainable_variables))
            with tf.GradientTape() as gen_tape:
                generated = G(tf.random.normal([batch, latent_dim]), training=True)
                gen_loss = -tf.reduce_mean(D(generated, training=True))
            g_grads = gen_tape.gradient(gen_loss, G.trainable_variables)
            g_opt.apply_gradients(zip(g_grads, G.trainable_variables))
            return gen_loss, disc_loss

        step = wgan_gp_step if k > 1 else (simultaneous_step if simultaneous else alternating_step)

        # As Keras does: the step is compiled with XLA when `jit`; the loop around it, which
        # reads the iterator (no XLA kernel for that), is a plain graph function.
        step = tf.function(step, jit_compile=jit, autograph=False)

        def call(iterator):  # `spe` steps per call, like fit's steps_per_execution loop
            out = step(next(iterator))
            if spe > 1:
                out = tf.while_loop(lambda i, *_: i < spe - 1, lambda i, *_: (i + 1, *step(next(iterator))),
                                    (tf.constant(0), *out))[1:]
            return out

        # No tensor-dependent control flow but the explicit loop: autograph has nothing to convert.
        self.call = tf.function(call, autograph=False)

    def run(self, steps):
        calls = max(1, int(math.ceil(steps / self.spe)))
        iterator = iter(self.dataset)  # before the timer, as fit makes its iterator first
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(calls):
            out = self.call(iterator)
        float(out[0])  # the last step's results on the host
        steps = calls * self.spe
        cpu = (time.process_time() - cpu_start) / steps
        return steps, steps * self.batch * self.k / (time.perf_counter() - start), cpu


# ---------------------------------------------------------------------- PyTorch loops


def torch_conv_nets(torch, model, shape, wgan):
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


def torch_gan_step(torch, G, D, d_opt, g_opt, latent, k, gp_weight):
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
