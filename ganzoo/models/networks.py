"""The default networks of the ganzoo models: MLPs (GAN, the 2-D toys) and DCGAN's conv nets.

Every builder takes `num_classes=` for class-conditional networks, which take two inputs:

* a conditional generator maps [z, label] to samples: z float32 (batch, latent_dim), label
  int32 (batch,) in [0, num_classes). The label's embedding is joined to z (Mirza & Osindero
  2014, who join a one-hot y; a learned embedding of `embedding_dim`, N(0, 1)-initialized
  like z, is the same map made trainable).
* a conditional discriminator maps [x, label] to one score per example (batch, 1) in the
  projection form of Miyato & Koyama 2018, Eq. 3: D(x, y) = psi(phi(x)) + embed(y) . phi(x),
  where phi(x) is the unconditional network's last feature vector (layer "features") and
  psi its output layer ("score"), so the conditional network is the unconditional one plus
  one inner product with a per-class vector (layer "class_embedding").
"""

import math

import keras
import numpy as np

from ganzoo.layers import Maxout, MinibatchStdDev, RowDot, SpectralNorm, batch_norm as batch_norm_layer, dcgan_init, float32_output


def _latent_inputs(latent_dim, num_classes, embedding_dim):
    """(inputs, h): z, or [z, label] with h = z joined to the label's embedding."""
    z = keras.Input((latent_dim,), name="z")
    if num_classes is None:
        return z, z
    num_classes = _num_classes(num_classes)
    label = keras.Input((), dtype="int32", name="label")
    embedded = keras.layers.Embedding(num_classes, embedding_dim or num_classes, name="label_embedding",
                                      embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0))(label)
    return [z, label], keras.layers.Concatenate(name="z_and_label")([z, embedded])


def _num_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2 (e.g. 10 for MNIST digits); got {num_classes!r}.")
    return int(num_classes)


def _scored(x_in, features, score_layer, num_classes, spectral_norm, name):
    """The discriminator model: psi(phi(x)), or with `num_classes` the projection form
    psi(phi(x)) + embed(y) . phi(x) (Miyato & Koyama 2018) on inputs [x, label]."""
    if num_classes is None:
        return keras.Model(x_in, score_layer(features), name=name)
    features = keras.layers.Identity(name="features")(features)
    score = score_layer(features)
    label = keras.Input((), dtype="int32", name="label")
    embed = keras.layers.Embedding(_num_classes(num_classes), features.shape[-1], name="class_embedding")
    embedded = _sn(embed, spectral_norm, dtype="float32")(label)
    projection = RowDot(dtype="float32", name="projection")([embedded, features])
    score = keras.layers.Add(dtype="float32", name="conditional_score")([score, projection])
    return keras.Model([x_in, label], score, name=name)


def build_mlp_generator(latent_dim, data_shape, hidden_units=512, depth=3, activation="relu",
                        output_activation=None, batch_norm=False, kernel_initializer="glorot_uniform",
                        num_classes=None, embedding_dim=None, name="generator"):
    """An MLP generator z -> sample of `data_shape` ([z, label] -> sample with `num_classes`).

    Args:
        hidden_units: units of each hidden layer.
        depth: number of hidden layers.
        output_activation: None (linear, for unbounded vector data such as the 2-D toys) or
            "tanh" (images in [-1, 1]).
        batch_norm: batch norm before each hidden activation (the PacGAN / VEEGAN 2-D
            generator); the hidden Dense layers then have no bias.
        kernel_initializer: initializer of every Dense kernel.
        num_classes, embedding_dim: a conditional generator (see the module docstring);
            the embedding has `num_classes` dimensions unless told.
    """
    inputs, x = _latent_inputs(latent_dim, num_classes, embedding_dim)
    for i in range(depth):
        x = keras.layers.Dense(hidden_units, use_bias=not batch_norm, kernel_initializer=kernel_initializer,
                               name=f"dense_{i}")(x)
        if batch_norm:
            x = batch_norm_layer(name=f"bn_{i}")(x)
        x = keras.layers.Activation(activation, name=f"act_{i}")(x)
    x = keras.layers.Dense(math.prod(data_shape), kernel_initializer=kernel_initializer, name="dense_out")(x)
    x = float32_output(output_activation or "linear", "output")(x)
    if len(data_shape) > 1:
        x = keras.layers.Reshape(data_shape, name="to_data_shape")(x)
    return keras.Model(inputs, x, name=name)


def _sn(layer, spectral_norm, **kwargs):
    """`layer`, spectrally normalized (Miyato et al. 2018) when asked."""
    return SpectralNorm(layer, name=f"sn_{layer.name}", **kwargs) if spectral_norm else layer


def build_mlp_discriminator(data_shape, hidden_units=512, depth=3, activation="leaky_relu", maxout=None,
                            kernel_initializer="glorot_uniform", spectral_norm=False, num_classes=None,
                            name="discriminator"):
    """An MLP discriminator sample -> one logit (or critic value) per example.

    Args:
        activation: "leaky_relu" (LeakyReLU(0.2), as DCGAN) or any Keras activation name;
            ignored with `maxout`.
        maxout: number of pieces of maxout hidden units (Goodfellow et al. 2014 and the
            PacGAN / VEEGAN 2-D discriminator use 5), or None.
        spectral_norm: wrap every Dense layer in `ganzoo.layers.SpectralNorm` (SN-GAN), and
            the class embedding with `num_classes`.
        num_classes: the projection discriminator on [x, label] (see the module docstring).
    """
    x_in = keras.Input(data_shape, name="x")
    x = keras.layers.Flatten(name="flatten")(x_in) if len(data_shape) > 1 else x_in
    for i in range(depth):
        x = _sn(keras.layers.Dense(hidden_units * (maxout or 1), kernel_initializer=kernel_initializer,
                                   name=f"dense_{i}"), spectral_norm)(x)
        if maxout:
            x = Maxout(maxout, name=f"maxout_{i}")(x)
        elif activation == "leaky_relu":
            x = keras.layers.LeakyReLU(0.2, name=f"act_{i}")(x)
        else:
            x = keras.layers.Activation(activation, name=f"act_{i}")(x)
    score = _sn(keras.layers.Dense(1, dtype="float32", kernel_initializer=kernel_initializer, name="score"),
                spectral_norm, dtype="float32")
    return _scored(x_in, x, score, num_classes, spectral_norm, name)


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


def build_conv_generator(latent_dim, image_shape, filters=64, kernel_size=4, num_classes=None, embedding_dim=None,
                         name="generator"):
    """DCGAN generator: project z, then transposed convs with batch norm + ReLU, tanh output.

    Channels double towards the lowest resolution: `filters` at the resolution just below
    the output, so 64x64x3 with filters=128 is 4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128
    -> 64x64x3, the paper's Figure 1. Transposed convs, not UpSampling2D, so the gradients
    compile under XLA. `num_classes`, `embedding_dim`: a conditional generator on [z, label]
    (see the module docstring).
    """
    bh, bw, strides = conv_plan(image_shape)  # first: it explains a shape that is not (H, W, C)
    h, w, c = image_shape
    n = len(strides)
    channels = [filters * 2 ** (n - 1 - i) for i in range(n)]  # input channels of each layer
    inputs, x = _latent_inputs(latent_dim, num_classes, embedding_dim)
    x = keras.layers.Dense(bh * bw * channels[0] if n else bh * bw * filters, use_bias=False,
                           kernel_initializer=dcgan_init(), name="project")(x)
    x = batch_norm_layer("project_bn")(x)
    x = keras.layers.ReLU(name="project_relu")(x)
    x = keras.layers.Reshape((bh, bw, channels[0] if n else filters), name="reshape")(x)
    for i, stride in enumerate(strides[:-1]):
        x = keras.layers.Conv2DTranspose(channels[i + 1], kernel_size, strides=stride, padding="same",
                                         use_bias=False, kernel_initializer=dcgan_init(),
                                         name=f"deconv_{i}")(x)
        x = batch_norm_layer(f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
    # No batch norm on the output layer (Radford et al., Section 3).
    x = keras.layers.Conv2DTranspose(c, kernel_size, strides=strides[-1] if n else 1, padding="same",
                                     kernel_initializer=dcgan_init(), name="deconv_out")(x)
    x = float32_output("tanh", "tanh")(x)
    return keras.Model(inputs, x, name=name)


def build_conv_discriminator(image_shape, filters=64, kernel_size=4, batch_norm_layers=True, num_classes=None,
                             minibatch_std=None, name="discriminator"):
    """DCGAN discriminator: strided convs with LeakyReLU(0.2), no pooling, one linear output.

    Batch norm on every conv but the input layer's (Radford et al., Section 3), or none with
    `batch_norm_layers=False` (the WGAN-GP critic: the penalty is per example, and batch
    norm would couple the examples). `num_classes`: the projection discriminator on
    [x, label] (see the module docstring). `minibatch_std`: a group size; the last conv's
    features get a minibatch standard deviation channel (`MinibatchStdDev`, after the last
    batch norm) before the output.
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
            x = batch_norm_layer(f"bn_{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
    if minibatch_std:
        x = MinibatchStdDev(minibatch_std, name="minibatch_std")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    score = keras.layers.Dense(1, kernel_initializer=dcgan_init(), dtype="float32", name="score")
    return _scored(x_in, x, score, num_classes, False, name)


def build_sn_conv_discriminator(image_shape, filters=64, num_classes=None, name="discriminator"):
    """The SN-GAN paper's "standard CNN" discriminator (Miyato et al. 2018, Table 3).

    Every conv and the output Dense are spectrally normalized; no batch norm; LeakyReLU(0.1).
    A 3x3 stride-1 conv of `filters` channels at full resolution, then per resolution step a
    4x4 strided conv and a 3x3 stride-1 conv doubling the channels: for 32x32x3 and
    filters=64 the paper's 64, 64, 128, 128, 256, 256, 512, then Dense(1). `num_classes`: the
    projection discriminator (SNGAN-projection: the class embedding is normalized too).
    """
    bh, bw, strides = conv_plan(image_shape)
    x_in = keras.Input(image_shape, name="x")

    def conv(x, channels, size, stride, tag):
        x = SpectralNorm(keras.layers.Conv2D(channels, size, strides=stride, padding="same", name=f"conv_{tag}"),
                         name=f"sn_conv_{tag}")(x)
        return keras.layers.LeakyReLU(0.1, name=f"lrelu_{tag}")(x)

    x = conv(x_in, filters, 3, 1, "in")
    for i, stride in enumerate(strides[::-1]):
        x = conv(x, filters * 2 ** i, 4, stride, f"{i}_down")
        x = conv(x, filters * 2 ** (i + 1), 3, 1, f"{i}")
    x = keras.layers.Flatten(name="flatten")(x)
    score = SpectralNorm(keras.layers.Dense(1, dtype="float32", name="score"), name="sn_score", dtype="float32")
    return _scored(x_in, x, score, num_classes, True, name)
