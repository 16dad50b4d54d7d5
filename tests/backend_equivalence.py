"""N training steps of GAN, DCGAN and WGAN-GP (and conditional DCGAN and WGAN-GP; DCGAN and SN-GAN with augmentation
and regularizers) with given initial weights, data and injected noise,
on whatever backend this process runs (KERAS_BACKEND). `test_backends.py` runs it on TensorFlow
in-process and on JAX and PyTorch in subprocesses and compares the weights.

    KERAS_BACKEND=jax python tests/backend_equivalence.py INIT.npz OUT.npz
    KERAS_BACKEND=torch python tests/backend_equivalence.py INIT.npz OUT.npz
"""

import sys

import numpy as np

STEPS, BATCH = 3, 8
CASES = {
    "gan": ("GAN", (2,), {}, {}),
    "dcgan": ("DCGAN", (8, 8, 1), {}, {"ema_decay": 0.9}),
    "wgan_gp": ("WGANGP", (8, 8, 1), {"n_critic": 2, "pack": 2}, {}),
    # Conditional: labels reach G and D, WGAN-GP's penalty holds them fixed, k = 2 labelled batches.
    "cdcgan": ("DCGAN", (8, 8, 1), {"num_classes": 3}, {"ema_decay": 0.9}),
    "cwgan_gp": ("WGANGP", (8, 8, 1), {"n_critic": 2, "num_classes": 3}, {}),
    # Spectral norm: the power iteration's u and the gradient through sigma(W) (Miyato Eq. 12).
    "sngan": ("SNGAN", (8, 8, 1), {"n_dis": 2}, {}),
    # DiffAugment's T on real and fake in both steps, R1 every 2nd D step (a cond around a double
    # backprop), LeCam's anchors; ADA with p moving at the 4th D step (kimg 1), packs of 2. Not
    # cutout with DCGAN: a zeroed square makes a first conv's pre-activation exactly 0 (zero bias
    # at init), where TensorFlow's LeakyReLU gradient is alpha and JAX's is 1 (a subgradient choice,
    # measured: 5e-3 apart after 3 steps, identical for the same pure augmentation).
    "dcgan_augment": ("DCGAN", (8, 8, 1), {"augment": "diffaugment", "augment_policy": "color,translation",
                                           "r1_gamma": 1.0, "r1_every": 2, "lecam_weight": 0.3}, {}),
    "sngan_ada": ("SNGAN", (8, 8, 1), {"n_dis": 2, "pack": 2, "augment": "ada", "ada_kimg": 1, "r1_gamma": 0.5}, {}),
    # The recipe of dcgan_clusters_fashion_mnist: a conditional D (on clusters) with lazy R1, the
    # gradient of D(x, label) with respect to x only.
    "cdcgan_r1": ("DCGAN", (8, 8, 1), {"num_classes": 3, "r1_gamma": 1.0, "r1_every": 2}, {"ema_decay": 0.9}),
    # Mode seeking over the same-label pairs of the fake batch: G's loss on the D step's fake and
    # z (one critic step), and on a fresh z after k = 2 critic steps. A small lambda: at init the
    # ratio is ~0.05, so the term's gradient scales float32 rounding by 1 / ratio^2 (~400); at
    # lambda 1 the backends drifted 4e-5 apart in 3 steps (in weights of size ~7).
    "cdcgan_mode_seeking": ("DCGAN", (8, 8, 1), {"num_classes": 3, "mode_seeking": 0.05}, {}),
    "wgan_gp_mode_seeking": ("WGANGP", (8, 8, 1), {"n_critic": 2, "mode_seeking": 0.05}, {}),
}


def _injected(cls):
    """`cls` with its noise replaced by a smooth function of the seed generator's counter: the
    same numbers on every backend (keras.random differs between backends), drawn in the model's
    own order and with its own seed state, which the JAX step must thread."""
    from keras import ops

    class Injected(cls):
        def _wave(self, n, width):
            counter = ops.cast(self.seed_generator.next()[1], "float32")
            i = ops.cast(ops.arange(n * width), "float32")
            return ops.reshape(ops.sin(0.37 * i + 1.3 * counter + 0.2), (n, width))

        def _latent(self, batch_size):
            return 1.5 * self._wave(batch_size, self.latent_dim)

        def _uniform(self, batch_size):
            return 0.5 + 0.5 * ops.reshape(self._wave(batch_size, 1), (-1,))

        def _uniform_table(self, batch_size, columns):
            return 0.5 + 0.499 * self._wave(batch_size, columns)

    return Injected


def run(init=None):
    """{name: [weights..., optimizer variables...]} after STEPS steps; `init`: {name: initial
    weights} (None: the models' own, which are returned under "<name>/init")."""
    import keras

    import ganzoo

    out = {}
    for name, (cls_name, shape, kwargs, compile_kwargs) in CASES.items():
        if init is not None and name not in init:
            continue
        model = _injected(getattr(ganzoo, cls_name))(data_shape=shape, latent_dim=4, width=8, seed=5, **kwargs)
        model.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                      g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), **compile_kwargs)
        if init is None and "ada_p" in model._game_variables:
            model._game_variables["ada_p"].assign(0.5)  # T applied to about half the samples from the start
        if init is None:
            out[f"{name}/init"] = [np.asarray(w) for w in model.get_weights()]
        else:
            model.set_weights(init[name])
        k = model.d_steps
        x = np.random.default_rng(1).uniform(-1, 1, (STEPS * k * BATCH,) + shape).astype("float32")
        y = None if model.num_classes is None else np.random.default_rng(2).integers(0, 3, len(x))
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
        variables = model.weights + model.d_optimizer.variables + model.g_optimizer.variables
        out[name] = [np.asarray(keras.ops.convert_to_numpy(v.value)) for v in variables]
    return out


def save(path, results):
    np.savez(path, **{f"{name}:{i}": a for name, arrays in results.items() for i, a in enumerate(arrays)})


def load(path):
    with np.load(path) as f:
        results = {}
        for key in sorted(f.files, key=lambda k: (k.split(":")[0], int(k.split(":")[1]))):
            results.setdefault(key.split(":")[0], []).append(f[key])
    return results


if __name__ == "__main__":
    init = {k[: -len("/init")]: v for k, v in load(sys.argv[1]).items() if k.endswith("/init")}
    save(sys.argv[2], run(init))
    # Training on arrays on another backend never loads TensorFlow (though it is installed here).
    assert "tensorflow" not in sys.modules, "ganzoo imported TensorFlow on a non-TensorFlow backend"
