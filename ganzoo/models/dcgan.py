"""DCGAN: Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks"."""

import keras

from ganzoo.layers import is_group_size
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
        d_norm: the default discriminator's normalization on image data: "batch" (the paper's:
            batch norm on every conv but the input layer's) or "none" (no normalization, so
            each example is scored on its own, as per-example penalties such as R1 assume;
            the discriminator of Mescheder et al. 2018's R1 experiments has none).
        minibatch_std: a group size (e.g. 4): the default discriminator on image data gets a
            minibatch standard deviation channel after its last conv block (Karras et al. 2018;
            `ganzoo.layers.MinibatchStdDev`), so it sees how varied each group of samples is.
            The batch (samples per discriminator input, after packing) must be a multiple of
            it. None: off (the paper's network).

    Example:
        >>> model = ganzoo.DCGAN(data_shape=(28, 28, 1))
        >>> model.compile()                      # Adam(2e-4, beta_1=0.5) for both players
        >>> model.fit(ganzoo.load_dataset("mnist_sample", batch_size=128), epochs=5)
        >>> images = model.generate(16, seed=0)  # (16, 28, 28, 1) in [-1, 1]
    """

    default_latent_dim = 100
    default_conv_width = 64
    D_NORMS = ("batch", "none")
    config_keywords = {**GAN.config_keywords, "d_norm": "d_norm", "minibatch_std": "minibatch_std"}

    def __init__(self, generator=None, discriminator=None, latent_dim=None, data_shape=None, d_norm="batch",
                 minibatch_std=None, **kwargs):
        if d_norm not in self.D_NORMS:
            raise ValueError(f"`d_norm` must be one of {self.D_NORMS} (the discriminator's normalization); "
                             f"got {d_norm!r}.")
        if minibatch_std is not None and not is_group_size(minibatch_std):
            raise ValueError(f"`minibatch_std` must be a group size, an int >= 2, or None (off); got {minibatch_std!r}.")
        self.d_norm, self.minibatch_std = d_norm, minibatch_std
        super().__init__(generator, discriminator, latent_dim, data_shape, **kwargs)

    def build_generator(self, latent_dim, data_shape):
        if len(data_shape) == 1:
            return super().build_generator(latent_dim, data_shape)
        return build_conv_generator(latent_dim, data_shape, filters=self.width or self.default_conv_width, num_classes=self.num_classes)

    def build_discriminator(self, data_shape):
        if len(data_shape) == 1:
            if self.minibatch_std:
                raise ValueError(f"`minibatch_std` adds a feature map to the default discriminator on image data; "
                                 f"data_shape {tuple(data_shape)} is vector data. Leave out minibatch_std.")
            return super().build_discriminator(data_shape)
        return build_conv_discriminator(data_shape, filters=self.width or self.default_conv_width,
                                        batch_norm_layers=self.d_norm == "batch", num_classes=self.num_classes,
                                        minibatch_std=self.minibatch_std)

    def get_config(self):
        config = super().get_config()
        config["d_norm"] = self.d_norm
        config["minibatch_std"] = self.minibatch_std
        return config
