"""DCGAN: Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks"."""

import keras

from ganzoo.layers import batch_norm, dcgan_init, float32_output
from ganzoo.models.gan import GAN, build_mlp_discriminator, build_mlp_generator


def _side_plan(side):
    """(base, doublings) with side = base * 2**doublings and base in {4, 7}, or None."""
    for base in (4, 7):
        n, s = 0, side
        while s > base and s % 2 == 0:
            s //= 2
            n += 1
        if s == base:
            return base, n
    return None


def conv_plan(image_shape):
    """The default conv nets' plan for an (H, W, C) image.

    Returns:
        (base_h, base_w, strides): the lowest resolution, and one (sh, sw) stride per
        resolution change from lowest to highest (2 where that side still doubles, else 1).

    Raises:
        ValueError: when a side is not 4 * 2^k or 7 * 2^k.
    """
    if len(image_shape) != 3:
        raise ValueError(f"Convolutional networks need an (H, W, C) image shape, e.g. (28, 28, 1) for "
                         f"grayscale; got {tuple(image_shape)}.")
    h, w, _ = image_shape
    plans = [_side_plan(h), _side_plan(w)]
    if None in plans:
        raise ValueError(
            f"The default DCGAN networks reach image sides of 4 * 2^k or 7 * 2^k (4, 7, 8, 14, 16, "
            f"28, 32, 56, 64, 128, ...); got {h}x{w}. Resize the data (load_dataset(..., "
            "image_size=...)) or pass your own generator and discriminator."
        )
    (bh, nh), (bw, nw) = plans
    n = max(nh, nw)
    strides = [(2 if i >= n - nh else 1, 2 if i >= n - nw else 1) for i in range(n)]
    return bh, bw, strides


def build_conv_generator(latent_dim, image_shape, filters=64, kernel_size=4, name="generator"):
    """DCGAN generator: project z, then transposed convs with batch norm + ReLU, tanh output.

    Channels double towards the lowest resolution: `filters` at the resolution just below
    the output, so 64x64x3 with filters=128 is 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128
    -> 64x64x3, the paper's Figure 1. Transposed convs, not UpSampling2D, so the gradients
    compile under XLA.
    """
    bh, bw, strides = conv_plan(image_shape)  # first: it explains a shape that is not (H, W, C)
    h, w, c = image_shape
    n = len(strides)
    channels = [filters * 2 ** (n - 1 - i) for i in range(n)]  # input channels of each layer
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(bh * bw * channels[0] if n else bh * bw * filters, use_bias=False,
                           kernel_initializer=dcgan_init(), name="project")(z)
    x = batch_norm("project_bn")(x)
    x = keras.layers.ReLU(name="project_relu")(x)
    x = keras.layers.Reshape((bh, bw, channels[0] if n else filters), name="reshape")(x)
    for i, stride in enumerate(strides[:-1]):
        x = keras.layers.Conv2DTranspose(channels[i + 1], kernel_size, strides=stride, padding="same",
                                         use_bias=False, kernel_initializer=dcgan_init(),
                                         name=f"deconv_{i}")(x)
        x = batch_norm(f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    # No batch norm on the output layer (Radford et al., Section 3).
    x = keras.layers.Conv2DTranspose(c, kernel_size, strides=strides[-1] if n else 1, padding="same",
                                     kernel_initializer=dcgan_init(), name="deconv_out")(x)
    x = float32_output("tanh", "tanh")(x)
    return keras.Model(z, x, name=name)


def build_conv_discriminator(image_shape, filters=64, kernel_size=4, batch_norm_layers=True,
                             name="discriminator"):
    """DCGAN discriminator: strided convs with LeakyReLU(0.2), no pooling, one linear output.

    Batch norm on every conv but the input layer's (Radford et al., Section 3), or none with
    `batch_norm_layers=False` (the WGAN-GP critic: the penalty is per example, and batch
    norm would couple the examples).
    """
    bh, bw, strides = conv_plan(image_shape)
    strides = strides[::-1] or [(1, 1)]
    x_in = keras.Input(image_shape, name="x")
    x = x_in
    for i, stride in enumerate(strides):
        x = keras.layers.Conv2D(filters * 2 ** i, kernel_size, strides=stride, padding="same",
                                use_bias=not (batch_norm_layers and i > 0),
                                kernel_initializer=dcgan_init(), name=f"conv_{i}")(x)
        if batch_norm_layers and i > 0:
            x = batch_norm(f"bn_{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(1, kernel_initializer=dcgan_init(), dtype="float32", name="score")(x)
    return keras.Model(x_in, x, name=name)


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
        return build_conv_generator(latent_dim, data_shape, filters=self.width or self.default_conv_width)

    def build_discriminator(self, data_shape):
        if len(data_shape) == 1:
            return super().build_discriminator(data_shape)
        return build_conv_discriminator(data_shape, filters=self.width or self.default_conv_width)
