"""The model names and the paper-faithful presets, named `<model>_<dataset>` (pure dicts).

A preset is a dict of `ganzoo.TrainConfig` fields; command-line flags override it. Pure
Python: the CLI validates a request from these before it imports Keras or TensorFlow. The
classes behind the names are in `ganzoo.models.registry.MODELS`.
"""

#: The models `ganzoo train` knows, in the order `ganzoo list` shows them.
MODEL_NAMES = ("gan", "dcgan", "wgan_gp", "sngan")

#: Discriminator (critic) steps per generator step when the config leaves d_steps unset: each
#: model class's `default_d_steps` (tests/test_trust_boundaries.py checks they agree), here so
#: that a run's size is checked before Keras is imported.
MODEL_DEFAULT_D_STEPS = {"gan": 1, "dcgan": 1, "wgan_gp": 5, "sngan": 5}

#: One line per model (its class docstring's first line; tests/test_trust_boundaries.py checks
#: they agree), so that `ganzoo list` answers without importing Keras.
MODEL_SUMMARIES = {
    "gan": "The original GAN (Goodfellow et al. 2014) with MLP networks.",
    "dcgan": "DCGAN (Radford et al. 2015): the GAN game with convolutional networks.",
    "wgan_gp": "WGAN with gradient penalty (Gulrajani et al. 2017, Algorithm 1).",
    "sngan": "The spectrally normalized GAN with the hinge loss (Miyato et al. 2018).",
}

#: Config fields only some models take: {field: (the models that take it, {model: why not})}.
#: Each model class maps the fields it takes to its constructor keywords (`config_keywords`).
MODEL_ONLY_FIELDS = {
    "gp_weight": (("wgan_gp",), {"sngan": "SN-GAN bounds D by spectral normalization"}),
    "generator_loss": (("gan", "dcgan"), {"wgan_gp": "WGAN-GP uses the Wasserstein loss",
                                          "sngan": "SN-GAN uses the hinge loss"}),
    "d_norm": (("dcgan",), {"gan": "GAN's MLP discriminator has no normalization to choose",
                            "wgan_gp": "the WGAN-GP critic has no batch norm (its penalty is per example)",
                            "sngan": "SN-GAN normalizes D spectrally"}),
    "minibatch_std": (("dcgan",), {"gan": "GAN's MLP discriminator has no feature maps to add it to",
                                   "wgan_gp": "the WGAN-GP critic's penalty is per example",
                                   "sngan": "SN-GAN's discriminator is the paper's standard CNN"}),
}


def model_field_problem(model, config):
    """Why `config` sets a field that `model` does not take, in the CLI's words, or None."""
    for field, (takers, why) in MODEL_ONLY_FIELDS.items():
        if getattr(config, field) is not None and model not in takers:
            flag = "--" + field.replace("_", "-")
            scope = f"{takers[0]} only" if len(takers) == 1 else " and ".join(takers)
            return f"{flag} applies to {scope}" + (f"; {why[model]}." if model in why else ".")
    return None


# Radford et al. 2015: Adam(2e-4, beta_1=0.5), batch 128, z of 100.
_DCGAN = dict(model="dcgan", batch_size=128, latent_dim=100, d_lr=2e-4, g_lr=2e-4, beta_1=0.5, beta_2=0.999)
# Gulrajani et al. 2017 (images): lambda 10, Adam(1e-4, 0, 0.9), 5 critic steps, batch 64.
_WGAN_GP = dict(model="wgan_gp", batch_size=64, latent_dim=128, d_lr=1e-4, g_lr=1e-4, beta_1=0.0, beta_2=0.9,
                d_steps=5, gp_weight=10.0)
# Miyato et al. 2018 (the authors' chainer-gan-lib defaults for the standard CNN): hinge loss,
# Adam(2e-4, 0, 0.9), n_dis = 5, z of 128; batch 64 as the WGAN-GP presets it is compared with.
_SNGAN = dict(model="sngan", batch_size=64, latent_dim=128, d_lr=2e-4, g_lr=2e-4, beta_1=0.0, beta_2=0.9, d_steps=5)
# Vector data: the model classes' own vector defaults (networks, z of 2, optimizers, and for
# WGAN-GP lambda 0.1 and 5 critic steps: the authors' 2-D toy code), so `GAN(data_shape=(2,))` +
# `compile()` trains exactly the `gan_gaussian_*` preset. 20 steps per compiled call: the same
# algorithm with less per-step overhead (the toys' steps are tiny); epochs of 1,000 steps, a
# multiple of it (Keras runs whole calls).
_TOY = dict(batch_size=256, steps_per_execution=20, steps_per_epoch=1000)
_WGAN_GP_TOY = dict(_TOY, model="wgan_gp", epochs=4)
_SNGAN_TOY = dict(_TOY, model="sngan", epochs=4)  # SNGAN's vector defaults; 4,000 G steps as WGAN-GP
_GAN_TOY = dict(_TOY, model="gan", generator_loss="non_saturating", epochs=10)
# ganzoo's 2-D recipe: the same GAN and networks with Adam(1e-3, beta_1=0.5) for both players and
# samples from a warmed-up EMA of G (decay 0.999); 20 epochs of 1,000 steps. Measured in README
# Results: every mode of both toys, >= 93% high-quality samples.
_GAN_EMA_TOY = dict(_GAN_TOY, d_lr=1e-3, g_lr=1e-3, ema=0.999, epochs=20)

PRESETS = {
    # The quick start: ~2 minutes of 2 idle cores. Levers over the paper's settings, measured in
    # README Results: width 32 (half the paper's 64, a quarter of the arithmetic per step), batch
    # 64, Adam(5e-4, 0.5) for both players (2.5x the paper's rate), an EMA of G (0.999, warmed
    # up) and G and D conditioned on 30 k-means clusters of the digits (no labels used; samples
    # draw the cluster from its share). The conditional networks cost about 15% more per step, so
    # the run is 24 epochs of 70 steps = 1,680 generator steps, the plain DCGAN's 29 epochs' wall
    # time; measured in exported_models/README.md.
    "dcgan_mnist_sample": dict(_DCGAN, dataset="mnist_sample", width=32, batch_size=64, d_lr=5e-4, g_lr=5e-4,
                               ema=0.999, epochs=24, cluster_labels=30),
    # Class-conditional (labels from the dataset, Mirza & Osindero 2014 G, projection D): the quick
    # start's settings with --conditional.
    "cdcgan_mnist_sample": dict(_DCGAN, dataset="mnist_sample", width=32, batch_size=64, d_lr=5e-4, g_lr=5e-4,
                                ema=0.999, epochs=29, conditional=True),
    "dcgan_mnist": dict(_DCGAN, dataset="mnist", epochs=25),
    # Fashion-MNIST (60,000 training images) within a CPU budget: the quick start's levers
    # (width 32, batch 64, Adam(5e-4, 0.5) for both players, an EMA of G) for
    # 20 epochs of 937 steps (18,740 generator steps). Measured in exported_models/README.md.
    "dcgan_fashion_mnist": dict(_DCGAN, dataset="fashion_mnist", width=32, batch_size=64, d_lr=5e-4, g_lr=5e-4,
                                ema=0.999, epochs=20),
    # The same DCGAN on 50 k-means clusters of the training images (no labels used; samples draw
    # the cluster from its share), with a lazy R1 penalty on D (every 4th step). Without R1, 30
    # clusters collapsed G within each cluster (recall 0.00 at 4,000 steps); with it, 30 and 50
    # clusters halve the fashion_fd of 10 clusters (2.1 and 2.0 vs 4.3 at 4,000 steps); 75 and 100
    # lose recall at gamma 0.1. R1's gamma 0.1: at 18,750 steps gamma 1 scored 1.16, 0.1 0.88, 0.01
    # collapsed (recall 0.00); over 59,840 steps 0.1 scored 0.49 +- 0.08, 0.2 0.50 +- 0.04, 0.05
    # 0.55 +- 0.15 and 1 0.72 +- 0.04 (3 seeds). The clusters are fit on histograms of gradient
    # orientation beside the pixels (`hog_pixels`), whose clusters follow the classes more closely
    # than the pixels' (75.7% of images share their cluster's majority class, against 70.4%): over
    # 20 epochs 0.452 +- 0.025 against 0.561 +- 0.028 (3 seeds, paired, every seed better). Batch
    # 32, 10 steps per compiled call, in mixed bfloat16 where it is native (`auto`: oneDNN's bf16
    # kernels on a CPU with AMX or AVX512_BF16; on an AVX2-only CPU bf16 is emulated, 8.6x a float32
    # step, so there it trains in float32), for 23 epochs = 43,010 steps: what 30 CPU-minutes buy
    # in float32 on a 2-core AVX2 CPU with one thread per TensorFlow pool (TF_NUM_INTRAOP_THREADS=1
    # TF_NUM_INTEROP_THREADS=1) and TensorFlow's oneDNN kernels, which `import ganzoo` turns on
    # (27 steps per CPU-second against Eigen's 23): 0.429 +- 0.020 in 29.6 CPU-minutes (3 seeds,
    # 24.2 steps per CPU-second over the whole run). Measured in exported_models/README.md and
    # tools/BENCHMARKS.md.
    "dcgan_clusters_fashion_mnist": dict(_DCGAN, dataset="fashion_mnist", width=32, batch_size=32, d_lr=5e-4,
                                         g_lr=5e-4, ema=0.999, epochs=23, cluster_labels=50,
                                         cluster_features="hog_pixels", r1=0.1, r1_every=4,
                                         mixed_precision="auto", steps_per_execution=10),
    "cdcgan_fashion_mnist": dict(_DCGAN, dataset="fashion_mnist", width=32, batch_size=64, d_lr=5e-4,
                                 g_lr=5e-4, ema=0.999, epochs=20, conditional=True),
    # WGAN-GP and SN-GAN: the papers' optimizers and 5 critic steps, width 32 for the CPU budget
    # (each generator step costs 5 critic steps: 187 generator steps an epoch), with the EMA of G
    # the DCGAN rows use, within about 25 CPU-minutes each: WGAN-GP 25 epochs = 4,675 generator
    # steps. SN-GAN with Miyato et al.'s setting C (Adam(2e-4, 0.5, 0.999), n_dis = 1; their
    # Table 1, where SN-GAN did about as well as with n_dis = 5): at n_dis = 5 and 10 epochs
    # (1,870 generator steps, 22 CPU-minutes) its samples were still mostly tops (class KL 0.53).
    # 5 epochs = 4,685 generator steps. Measured in exported_models/README.md.
    "wgan_gp_fashion_mnist": dict(_WGAN_GP, dataset="fashion_mnist", width=32, ema=0.999, epochs=25),
    "sngan_fashion_mnist": dict(_SNGAN, dataset="fashion_mnist", width=32, ema=0.999, d_steps=1, beta_1=0.5,
                                beta_2=0.999, epochs=5),
    "dcgan_cifar10": dict(_DCGAN, dataset="cifar10", epochs=50),
    "dcgan_celeb_a": dict(_DCGAN, dataset="celeb_a", image_size=64, epochs=10),
    "wgan_gp_mnist_sample": dict(_WGAN_GP, dataset="mnist_sample", epochs=50),
    "wgan_gp_mnist": dict(_WGAN_GP, dataset="mnist", epochs=50),
    "wgan_gp_cifar10": dict(_WGAN_GP, dataset="cifar10", epochs=100),
    "wgan_gp_celeb_a": dict(_WGAN_GP, dataset="celeb_a", image_size=64, epochs=20),
    "wgan_gp_gaussian_ring": dict(_WGAN_GP_TOY, dataset="gaussian_ring"),
    "wgan_gp_gaussian_grid": dict(_WGAN_GP_TOY, dataset="gaussian_grid"),
    "sngan_mnist_sample": dict(_SNGAN, dataset="mnist_sample", epochs=50),
    "sngan_gaussian_ring": dict(_SNGAN_TOY, dataset="gaussian_ring"),
    "sngan_gaussian_grid": dict(_SNGAN_TOY, dataset="gaussian_grid"),
    "gan_gaussian_ring": dict(_GAN_TOY, dataset="gaussian_ring"),
    "gan_gaussian_grid": dict(_GAN_TOY, dataset="gaussian_grid"),
    "gan_ema_gaussian_ring": dict(_GAN_EMA_TOY, dataset="gaussian_ring"),
    "gan_ema_gaussian_grid": dict(_GAN_EMA_TOY, dataset="gaussian_grid"),
    # Conditional toys: the label is the mode index; the same recipe as gan_ema_gaussian_*.
    "cgan_ema_gaussian_ring": dict(_GAN_EMA_TOY, dataset="gaussian_ring", conditional=True),
    "cgan_ema_gaussian_grid": dict(_GAN_EMA_TOY, dataset="gaussian_grid", conditional=True),
    "gan_mnist_sample": dict(model="gan", dataset="mnist_sample", batch_size=100, latent_dim=100, width=512,
                             d_lr=2e-4, g_lr=2e-4, beta_1=0.5, beta_2=0.999, epochs=50),
}
