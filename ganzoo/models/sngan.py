"""SN-GAN: Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks"."""

import keras

from ganzoo import losses
from ganzoo.models.base import GANBase
from ganzoo.models.networks import (build_conv_generator, build_mlp_discriminator, build_mlp_generator,
                                    build_sn_conv_discriminator)


@keras.saving.register_keras_serializable(package="ganzoo")
class SNGAN(GANBase):
    """The spectrally normalized GAN with the hinge loss (Miyato et al. 2018).

    Every weight layer of the discriminator is divided by its spectral norm (its largest
    singular value, estimated by one power-iteration step per call from a persistent vector;
    `ganzoo.layers.SpectralNorm`), which bounds D's Lipschitz constant layer by layer without
    a penalty term. D minimizes the hinge loss E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] (the
    paper's Eq. 16) and G minimizes -E[D(G(z))] (Eq. 17).

    Logged: `d_loss` (the hinge loss, 2 at D = 0), `g_loss`, `d_real` = E[D(x)] and
    `d_fake` = E[D(G(z))] (raw scores: the hinge pushes them towards >= 1 and <= -1);
    `tv_lower_bound` = 1 - d_loss / 2, a lower bound on the total variation TV(p_data, p_g)
    for any D, equal at the hinge loss's optimum D* = sign(p_data - p_g) (derived in
    `ganzoo.losses.tv_lower_bound`; with packing, on the packed distributions), computed from
    the hinge loss on the discriminator step's scores; `g_grad_norm` (see `Game.generator_signals`).

    Defaults follow the authors' code (pfnet-research/chainer-gan-lib, `stdgan` with the
    `sndcgan` architecture): Adam(2e-4, beta_1=0.0, beta_2=0.9) for both players, `n_dis` = 5
    discriminator steps per generator step, z of 128, the paper's "standard CNN" (Table 3:
    a DCGAN generator with batch norm, and a discriminator of 3x3 / 4x4 convs with
    LeakyReLU(0.1) and no batch norm). Vector data such as the 2-D toys: `GAN`'s vector MLPs
    (z of 2, 3 x 128 units) with every Dense of D spectrally normalized.

    Args:
        generator, discriminator, latent_dim, data_shape, seed, width, pack: see `GANBase`.
            A user discriminator is used as given: wrap its layers in
            `ganzoo.layers.SpectralNorm` to keep the method.
        n_dis: discriminator steps per generator step; each takes a new real batch, so an
            epoch of N batches makes N / n_dis generator steps.

    Example:
        >>> model = ganzoo.SNGAN(data_shape=(28, 28, 1))
        >>> model.compile()                      # Adam(2e-4, beta_1=0.0, beta_2=0.9), n_dis = 5
        >>> model.fit(ganzoo.load_dataset("mnist_sample", batch_size=64), epochs=5)
    """

    default_latent_dim = 128
    default_conv_width = 64
    default_vector_width = 128
    default_d_steps = 5
    config_keywords = {"d_steps": "n_dis"}
    signal_names = ("tv_lower_bound", "g_grad_norm")

    def __init__(self, generator=None, discriminator=None, latent_dim=None, data_shape=None,
                 n_dis=default_d_steps, **kwargs):
        if "d_steps" in kwargs:
            raise TypeError(f"SNGAN counts discriminator steps with n_dis, not d_steps: use "
                            f"SNGAN(n_dis={kwargs['d_steps']!r}).")
        super().__init__(generator, discriminator, latent_dim, data_shape, d_steps=n_dis, **kwargs)

    @property
    def n_dis(self):
        return self.d_steps

    def default_optimizers(self):
        return (
            keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9, name="d_adam"),
            keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9, name="g_adam"),
        )

    def build_generator(self, latent_dim, data_shape):
        if len(data_shape) == 1:
            return build_mlp_generator(latent_dim, data_shape, hidden_units=self.width or self.default_vector_width, num_classes=self.num_classes)
        return build_conv_generator(latent_dim, data_shape, filters=self.width or self.default_conv_width, num_classes=self.num_classes)

    def build_discriminator(self, data_shape):
        if len(data_shape) == 1:
            return build_mlp_discriminator(data_shape, hidden_units=self.width or self.default_vector_width,
                                           spectral_norm=True, num_classes=self.num_classes)
        return build_sn_conv_discriminator(data_shape, filters=self.width or self.default_conv_width, num_classes=self.num_classes)

    def score_summary(self, scores):
        """The mean raw score E[D(x)] (hinge scores are not logits)."""
        return keras.ops.mean(keras.ops.cast(scores, "float32"))

    def discriminator_loss(self, real, fake, real_scores, fake_scores, critic=None, noise=None):
        return losses.hinge_discriminator_loss(real_scores, fake_scores), {}

    def discriminator_signals(self, real_scores, fake_scores):
        return {"tv_lower_bound": losses.tv_lower_bound(real_scores, fake_scores)}

    def generator_loss(self, fake_scores, weights=None):
        return losses.hinge_generator_loss(fake_scores, weights)

    def get_config(self):
        config = super().get_config()
        config["n_dis"] = config.pop("d_steps")
        return config
