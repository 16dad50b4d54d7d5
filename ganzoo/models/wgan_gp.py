"""WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"."""

import keras

from ganzoo import losses
from ganzoo.models.base import GANBase
from ganzoo.models.networks import (build_conv_discriminator, build_conv_generator, build_mlp_discriminator,
                                    build_mlp_generator)


@keras.saving.register_keras_serializable(package="ganzoo")
class WGANGP(GANBase):
    """WGAN with gradient penalty (Gulrajani et al. 2017, Algorithm 1).

    The critic f estimates the Wasserstein-1 distance through the Kantorovich-Rubinstein
    duality, W1 = sup_{||f||_L <= 1} E[f(x)] - E[f(G(z))]; instead of clipping weights, the
    1-Lipschitz constraint is enforced softly by penalizing (||grad f(x_hat)||_2 - 1)^2 on
    x_hat = eps x + (1 - eps) G(z), with eps ~ U[0, 1] drawn once per example. Unlike the JS
    divergence of the original GAN, W1 stays informative when the supports of p_data and p_g
    are disjoint, so the critic can be trained to optimality (`n_critic` steps per generator
    step) and `wasserstein` = E[f(x)] - E[f(G(z))] tracks sample quality.

    With `augment`, the critic sees T(x) and T(G(z)) and the penalty is taken on interpolates
    of those augmented batches, as in the DiffAugment authors' code (compare_gan's
    `create_loss` augments real and fake images before the loss and `wgangp_penalty`); ADA is
    not offered (its r_t reads the sign of D's output, which a critic does not have).

    Logged: `d_loss` (critic loss incl. penalty), `g_loss`, `gp` (the unweighted penalty),
    `wasserstein` (the critic's W1 estimate), `d_real` = E[f(x)], `d_fake` = E[f(G(z))],
    `g_grad_norm` (see `Game.generator_signals`; for this loss, the mean norm of the critic's
    input gradient at the fakes, about 1 when the penalty holds).

    When is `wasserstein` a bound? By the Kantorovich-Rubinstein duality, E_p[f] - E_q[f] <=
    W1(p, q) for every f that is 1-Lipschitz on the union of the two supports (Euclidean norm
    of the flattened sample: of the pack, with packing), and ||grad f|| <= 1 on the convex hull
    of the supports suffices (it bounds f's slope along every segment between two points). For a
    K-Lipschitz f the estimate is at most K W1. The penalty only pulls ||grad f|| towards 1 at
    the sampled interpolates, so a trained critic is about, not exactly, 1-Lipschitz: read the
    estimate as W1 up to that factor (`gp` near 0 says the gradient norm is near 1 where it was
    measured, not everywhere). On a batch it is an unbiased estimate for the current critic.

    Args:
        generator, discriminator, latent_dim, data_shape, seed, width: see `GANBase`; the
            default critic has no batch norm (it would couple the per-example penalty).
        n_critic: critic steps per generator step; each takes a new real batch, so an epoch
            of N batches makes N / n_critic generator steps.
        gp_weight: lambda. None: 10 for images (the paper), 0.1 for vector data (the
            authors' 2-D toy code; 10 stalls training on the sigma-0.01 ring).

    Defaults for vector data such as the 2-D toys are the WGAN-GP authors' toy code
    (gan_toy.py): z of 2, 3 x 512 ReLU MLPs for G and the critic, lambda 0.1, Adam(1e-4,
    beta_1=0.5, beta_2=0.9), 5 critic steps (batch 256 in the `wgan_gp_gaussian_*` presets).
    Images: the paper's conv nets, z of 128, lambda 10, Adam(1e-4, 0.0, 0.9).

    Example:
        >>> model = ganzoo.WGANGP(data_shape=(28, 28, 1))
        >>> model.compile()                      # Adam(1e-4, beta_1=0.0, beta_2=0.9)
        >>> model.fit(ganzoo.load_dataset("mnist_sample", batch_size=64), epochs=5)
    """

    default_latent_dim = 128
    image_gp_weight, vector_gp_weight = 10.0, 0.1
    default_mlp_width = 512
    default_conv_width = 64
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake", "gp", "wasserstein")
    default_d_steps = 5
    config_keywords = {"d_steps": "n_critic", "gp_weight": "gp_weight"}
    ada_supported = False  # a critic's scores have no sign to read r_t from

    def __init__(self, generator=None, discriminator=None, latent_dim=None, data_shape=None,
                 n_critic=default_d_steps, gp_weight=None, **kwargs):
        if "d_steps" in kwargs:
            raise TypeError(f"WGANGP counts critic steps with n_critic, not d_steps: use "
                            f"WGANGP(n_critic={kwargs['d_steps']!r}).")
        if gp_weight is not None and not float(gp_weight) >= 0:
            raise ValueError(f"`gp_weight` must be >= 0 (10 in the paper); got {gp_weight!r}.")
        super().__init__(generator, discriminator, latent_dim, data_shape, d_steps=n_critic, **kwargs)
        if gp_weight is None:
            gp_weight = self.vector_gp_weight if self.vector_data else self.image_gp_weight
        self.gp_weight = float(gp_weight)

    @property
    def n_critic(self):
        return self.d_steps

    def score_summary(self, scores):
        """The critic's mean value, E[f(x)]: the two terms of the W1 estimate."""
        return keras.ops.mean(keras.ops.cast(scores, "float32"))

    def default_optimizers(self):
        # The paper's images: Adam(1e-4, 0, 0.9); the authors' toy code: Adam(1e-4, 0.5, 0.9).
        beta_1 = 0.5 if self.vector_data else 0.0
        return (
            keras.optimizers.Adam(1e-4, beta_1=beta_1, beta_2=0.9, name="d_adam"),
            keras.optimizers.Adam(1e-4, beta_1=beta_1, beta_2=0.9, name="g_adam"),
        )

    def build_generator(self, latent_dim, data_shape):
        if len(data_shape) == 1:
            return build_mlp_generator(latent_dim, data_shape, hidden_units=self.width or self.default_mlp_width, num_classes=self.num_classes)
        return build_conv_generator(latent_dim, data_shape, filters=self.width or self.default_conv_width, num_classes=self.num_classes)

    def build_discriminator(self, data_shape):
        if len(data_shape) == 1:
            return build_mlp_discriminator(data_shape, hidden_units=self.width or self.default_mlp_width,
                                           activation="relu", name="critic", num_classes=self.num_classes)
        return build_conv_discriminator(data_shape, filters=self.width or self.default_conv_width,
                                        batch_norm_layers=False, name="critic", num_classes=self.num_classes)

    def discriminator_noise(self, batch_size):
        """z for the fake batch, then eps ~ U[0, 1] once per discriminator input (per pack)."""
        noise = super().discriminator_noise(batch_size)
        noise["alpha"] = self._uniform(batch_size // self.pack)
        return noise

    def discriminator_loss(self, real, fake, real_scores, fake_scores, critic=None, noise=None):
        alpha = noise["alpha"] if noise is not None else self._uniform(keras.ops.shape(real)[0])
        gp = losses.gradient_penalty(critic or self.discriminator, real, fake, alpha)
        critic_loss = losses.wasserstein_critic_loss(real_scores, fake_scores)
        return critic_loss + self.gp_weight * gp, {"gp": gp, "wasserstein": -critic_loss}

    def generator_loss(self, fake_scores, weights=None):
        return losses.wasserstein_generator_loss(fake_scores, weights)

    def get_config(self):
        config = super().get_config()
        config["n_critic"] = config.pop("d_steps")
        config["gp_weight"] = self.gp_weight
        return config
