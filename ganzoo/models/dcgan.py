"""DCGAN: Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks"."""

import keras

from ganzoo.models.gan import GAN
from ganzoo.models.networks import build_conv_discriminator, build_conv_generator


@keras.saving.register_keras_serializable(package="ganzoo")
class DCGAN(GAN):
    """DCGAN (Radford et al. 2015): the GAN game with convolutional networks.

    Defaults follow the paper: Adam(2e-4, beta_1=0.5), N(0, 0.02) initialization, batch norm
    in both networks except the generator's output and the discriminator's input layer, ReLU
    in G with a tanh output, LeakyReLU(0.2) in D, strided convolutions instead of pooling, and
    the non-saturating generator loss. Any (H, W, C) with sides 4 * 2^k or 7 * 2^k gets default
    networks (28x28x1, 32x32x3, 64x64x3, ...); vector data gets `GAN`'s vector defaults (MLPs and
    optimizer; the DCGAN paper has no vector setting).

    Args:
        See `GAN`; `width` is the channel count of the conv layer at the highest resolution
        (default 64; channels double towards 4x4 / 7x7).

    Example:
        >>> model = ganzoo.DCGAN(data_shape=(28, 28, 1))
        >>> model.compile()                      # Adam(2e-4, beta_1=0.5) for both players
        >>> model.fit(ganzoo.load_dataset("mnist_sample", batch_size=128), epochs=5)
        >>> images = model.generate(16, seed=0)  # (16, 28, 28, 1) in [-1, 1]
    """

    default_latent_dim = 100
    default_conv_width = 64

    def build_generator(self, latent_dim, data_shape):
        if len(data_shape) == 1:
            return super().build_generator(latent_dim, data_shape)
        return build_conv_generator(latent_dim, data_shape, filters=self.width or self.default_conv_width, num_classes=self.num_classes)

    def build_discriminator(self, data_shape):
        if len(data_shape) == 1:
            return super().build_discriminator(data_shape)
        return build_conv_discriminator(data_shape, filters=self.width or self.default_conv_width, num_classes=self.num_classes)
