"""GAN: Goodfellow et al. 2014, "Generative Adversarial Nets", with MLP networks."""

import keras

from ganzoo import losses
from ganzoo.models.base import GANBase
from ganzoo.models.networks import build_mlp_discriminator, build_mlp_generator


@keras.saving.register_keras_serializable(package="ganzoo")
class GAN(GANBase):
    """The original GAN (Goodfellow et al. 2014) with MLP networks.

    D maximizes V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))] by k steps (`d_steps`) per
    generator step; G minimizes log(1 - D(G(z))) (`generator_loss="minimax"`, the paper's
    Eq. 1) or maximizes log D(G(z)) (`"non_saturating"`, the paper's practical advice and the
    default). At the optimum D*(x) = p_data / (p_data + p_g) and V = -log 4 + 2 JS(p_data||p_g),
    so the logged `d_loss` (= -V) approaches log 4 ~ 1.386 as p_g approaches p_data, and
    `d_real`, `d_fake` (mean D(x), mean D(G(z))) approach 1/2.

    Logged about the game (`signal_names`): `js_lower_bound` = (log 4 - V(D, G)) / 2 computed
    from the minimax loss on the discriminator step's scores, a lower bound on JS(p_data || p_g)
    in nats for any D, equal at D* (`ganzoo.losses.js_lower_bound`; with packing, on the packed
    distributions); `d_saturation`, the share of fakes with D(G(z)) < 0.01
    (`ganzoo.losses.saturated_fraction`), where the minimax generator loss is flat; and
    `g_grad_norm`, the mean norm of the per-sample generator loss's gradient with respect to
    each fake sample (`Game.generator_signals`).

    The discriminator outputs logits; the losses apply the sigmoid themselves.

    Defaults. Images: MLPs of 3 x 512 units (ReLU in G with a tanh output, LeakyReLU(0.2) in
    D), z of 100, Adam(2e-4, beta_1=0.5) (Goodfellow et al. used SGD with momentum and maxout
    units; Adam is the DCGAN-era standard). Vector data such as the 2-D toys: z of 2 (as in
    the PacGAN / VEEGAN and WGAN-GP toy code), MLPs of 3 x 128 units (ReLU in G with a linear
    output, LeakyReLU(0.2) in D), Adam(1e-4, beta_1=0.5) (PacGAN's learning rate), batch 256 in
    the `gan_gaussian_*` presets. PacGAN's own 2-D networks (G 4 x 400 ReLU with batch norm, D
    3 x 200 maxout units of 5 pieces) are about 20x the arithmetic per step; build them with
    `build_mlp_generator(..., batch_norm=True)` and `build_mlp_discriminator(..., maxout=5)`.
    `width` sets every hidden layer's units.

    Args:
        generator, discriminator, latent_dim, data_shape, seed, width: see `GANBase`.
        d_steps: k, discriminator steps per generator step (Algorithm 1); each uses a new
            real batch, so an epoch of N batches makes N / k generator steps.
        generator_loss: "non_saturating" or "minimax".

    Example:
        >>> model = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=128)
        >>> model.compile()
        >>> model.fit(ganzoo.load_dataset("gaussian_ring", batch_size=256), epochs=1)
        >>> points = model.generate(2500, seed=0)
    """

    default_latent_dim = 100
    default_width = 512
    default_vector_width = 128
    GENERATOR_LOSSES = ("non_saturating", "minimax")
    signal_names = ("js_lower_bound", "d_saturation", "g_grad_norm")
    config_keywords = {"d_steps": "d_steps", "generator_loss": "generator_loss"}

    def __init__(self, generator=None, discriminator=None, latent_dim=None, data_shape=None,
                 generator_loss="non_saturating", **kwargs):
        if generator_loss not in self.GENERATOR_LOSSES:
            raise ValueError(
                f"`generator_loss` must be one of {self.GENERATOR_LOSSES}; got {generator_loss!r}."
            )
        self.generator_loss_name = generator_loss
        super().__init__(generator, discriminator, latent_dim, data_shape, **kwargs)

    def _hidden_units(self, data_shape):
        return self.width or (self.default_vector_width if len(data_shape) == 1 else self.default_width)

    def build_generator(self, latent_dim, data_shape):
        return build_mlp_generator(latent_dim, data_shape, hidden_units=self._hidden_units(data_shape),
                                   output_activation="tanh" if len(data_shape) > 1 else None, num_classes=self.num_classes)

    def build_discriminator(self, data_shape):
        return build_mlp_discriminator(data_shape, hidden_units=self._hidden_units(data_shape), num_classes=self.num_classes)

    def default_optimizers(self):
        if self.vector_data:
            # PacGAN's 2-D learning rate, DCGAN's beta_1.
            return (keras.optimizers.Adam(1e-4, beta_1=0.5, name="d_adam"),
                    keras.optimizers.Adam(1e-4, beta_1=0.5, name="g_adam"))
        return super().default_optimizers()

    def discriminator_loss(self, real, fake, real_scores, fake_scores, critic=None, noise=None):
        return losses.minimax_discriminator_loss(real_scores, fake_scores), {}

    def discriminator_signals(self, real_scores, fake_scores):
        return {"js_lower_bound": losses.js_lower_bound(real_scores, fake_scores),
                "d_saturation": losses.saturated_fraction(fake_scores)}

    def generator_loss(self, fake_scores, weights=None):
        if self.generator_loss_name == "minimax":
            return losses.minimax_generator_loss(fake_scores, weights)
        return losses.non_saturating_generator_loss(fake_scores, weights)

    def get_config(self):
        config = super().get_config()
        config["generator_loss"] = self.generator_loss_name
        return config
