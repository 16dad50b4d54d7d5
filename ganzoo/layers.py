"""Small blocks shared by the default networks."""

import keras
from keras import ops

# Radford et al. 2015, Section 4: "All weights were initialized from a zero-centered Normal
# distribution with standard deviation 0.02."
def dcgan_init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def batch_norm(name=None):
    """BatchNormalization with DCGAN's N(1, 0.02) scale init.

    Built under a multi-replica `tf.distribute` strategy, the statistics are synchronized
    across replicas, so a step on N replicas normalizes with the global batch's statistics,
    exactly like the single-device step on the same global batch.
    """
    replicas = 1
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return keras.layers.BatchNormalization(
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        synchronized=replicas > 1,
        name=name,
    )


def float32_output(activation, name):
    """The last activation computed in float32, so mixed-precision models emit float32."""
    return keras.layers.Activation(activation, dtype="float32", name=name)


@keras.saving.register_keras_serializable(package="ganzoo")
class Maxout(keras.layers.Layer):
    """Maxout units (Goodfellow et al. 2013): the max over `pieces` linear pieces per unit.

    Takes (..., units * pieces) from a Dense layer and returns (..., units); the original GAN
    and the PacGAN / VEEGAN 2-D discriminators are built from these ("LinearMaxout").
    """

    def __init__(self, pieces, **kwargs):
        super().__init__(**kwargs)
        self.pieces = int(pieces)

    def call(self, x):
        units = x.shape[-1] // self.pieces
        x = keras.ops.reshape(x, (-1, units, self.pieces))
        return keras.ops.max(x, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] // self.pieces,)

    def get_config(self):
        return {**super().get_config(), "pieces": self.pieces}


@keras.saving.register_keras_serializable(package="ganzoo")
class RowDot(keras.layers.Layer):
    """The dot product of two (batch, d) inputs, row by row: (batch, 1), a . b per example.

    The projection discriminator's embed(y) . phi(x). Keras' `Dot(axes=1)` computes the same as
    a batch of 1 x d by d x 1 matrix products, which TensorFlow's CPU kernels run as many tiny
    GEMMs (6.6% of the Fashion-MNIST cluster DCGAN's step, tools/BENCHMARKS.md); a multiply
    and a sum is the same arithmetic in two elementwise kernels.
    """

    def build(self, input_shapes):
        if not all(isinstance(shape, (list, tuple)) for shape in input_shapes):
            raise ValueError(f"RowDot takes a list of two (batch, d) inputs; got one input of shape "
                             f"{tuple(input_shapes)}. Call it as RowDot()([a, b]).")
        shapes = [tuple(shape) for shape in input_shapes]
        if len(shapes) != 2 or any(len(shape) != 2 for shape in shapes):
            raise ValueError(f"RowDot takes two (batch, d) inputs; got shapes {shapes}.")
        (_, d_a), (_, d_b) = shapes
        if d_a is not None and d_b is not None and d_a != d_b:
            raise ValueError(f"RowDot's inputs must have the same width d; got shapes {shapes} "
                             "(a multiply would broadcast them into a wrong dot product).")
        super().build(input_shapes)

    def call(self, inputs):
        a, b = inputs
        return ops.sum(ops.multiply(a, b), axis=-1, keepdims=True)

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], 1)


def is_group_size(value):
    """Whether `value` is a minibatch-std group size: an int >= 2 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 2


@keras.saving.register_keras_serializable(package="ganzoo")
class MinibatchStdDev(keras.layers.Layer):
    """The minibatch standard deviation (Karras et al. 2018, "Progressive Growing of GANs",
    Section 3): one more feature map saying how much the samples of a group differ.

    The batch is split into groups of `group_size` samples (sample i in group i mod
    batch/group_size, as in the authors' code); per group, the standard deviation over its
    samples of every feature at every position, averaged over features and positions, is one
    number, appended as a constant channel to each of the group's samples. A generator that
    collapses makes its groups less varied than real ones, and D reads that directly. Put it
    after D's last batch norm: batch norm's statistics are the whole batch's, so a layer after
    it would normalize the real and fake batches' levels of this feature to the same value.

    Takes (batch, H, W, C), returns (batch, H, W, C + 1), computed in float32. The group is
    min(group_size, batch) samples; the batch must be a multiple of it.
    """

    def __init__(self, group_size=4, **kwargs):
        super().__init__(**kwargs)
        if not is_group_size(group_size):
            raise ValueError(f"MinibatchStdDev's group_size must be an int >= 2; got {group_size!r}.")
        self.group_size = group_size

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"MinibatchStdDev takes (batch, H, W, C) feature maps; got shape {tuple(input_shape)}.")
        super().build(input_shape)

    def call(self, x):
        n, h, w, c = x.shape
        group = self.group_size if n is None else min(self.group_size, n)
        if n is not None and n % group:
            raise ValueError(f"MinibatchStdDev groups {group} samples: the batch ({n}) must be a multiple of "
                             f"it. Use a batch size that is a multiple of {group}.")
        y = ops.reshape(ops.cast(x, "float32"), (group, -1, h, w, c))
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + 1e-8)  # (batch / group, H, W, C)
        y = ops.mean(y, axis=(1, 2, 3), keepdims=True)
        y = ops.tile(y, (group, h, w, 1))  # row j * batch/group + i is group i's, as reshape split them
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + 1,)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


def _l2_normalize(x, epsilon=1e-12):
    return x / ops.sqrt(ops.sum(ops.square(x)) + epsilon)


@keras.saving.register_keras_serializable(package="ganzoo")
class SpectralNorm(keras.layers.SpectralNormalization):
    """Spectral normalization as in Miyato et al. 2018: the wrapped layer computes with
    W_SN = W / sigma(W) and the gradient flows through sigma (the paper's Eq. 12).

    sigma(W), the largest singular value of W reshaped to (-1, out_features), is estimated by
    `power_iterations` power-iteration steps from a persistent vector u (Algorithm 1), updated
    on every training call; u and v are constants for the gradient, as in the authors' code.

    Why not `keras.layers.SpectralNormalization` as is: it overwrites the kernel variable with
    W / sigma on each training call, so the optimizer steps on W_SN with the gradient taken
    as if sigma did not depend on W; that drops the paper's second gradient term
    -lambda u1 v1^T. Measured on a Dense(6 -> 5) layer at sigma = 1, its gradient differs from
    autodiff of W / sigma_exact(W) by 13% of the gradient's largest entry; this layer's by
    < 0.1% (tests/test_sngan.py). It also keeps an Embedding's outputs float (Keras' casts
    them to the int32 of the labels). The kernel variable keeps the raw W; the weights, the
    config and the saved files keep the Keras layer's layout (kernel, bias, vector_u).
    """

    def call(self, inputs, training=False):
        kernel = self.kernel.value
        w = ops.reshape(ops.cast(kernel, "float32"), (-1, self.kernel_shape[-1]))
        u = ops.cast(self.vector_u.value, "float32")
        for _ in range(self.power_iterations):
            v = ops.stop_gradient(_l2_normalize(ops.matmul(u, ops.transpose(w))))
            u = ops.stop_gradient(_l2_normalize(ops.matmul(v, w)))
        if training:
            self.vector_u.assign(ops.cast(u, self.vector_u.dtype))
        sigma = ops.maximum(ops.sum(ops.matmul(v, w) * u), 1e-12)  # a zero kernel stays zero
        normalized = ops.cast(ops.cast(kernel, "float32") / sigma, kernel.dtype)
        # The wrapped layer reads W_SN in place of its kernel (each other variable reads its own
        # current value, also inside an enclosing stateless scope such as JAX's stateless_call).
        mapping = [(var, normalized if var is self.kernel else var.value) for var in self.layer.variables]
        with keras.StatelessScope(mapping):
            # In the wrapped layer's own compute dtype: Keras' wrapper casts to the inputs'
            # dtype, which turns an Embedding's vectors into int32 (zeros).
            return self.layer(inputs)

    def normalized_kernel(self):
        """W_SN = W / sigma(W) with the current u (one more power-iteration step, u not updated)."""
        w = ops.reshape(ops.cast(self.kernel.value, "float32"), (-1, self.kernel_shape[-1]))
        v = _l2_normalize(ops.matmul(ops.cast(self.vector_u.value, "float32"), ops.transpose(w)))
        u = _l2_normalize(ops.matmul(v, w))
        return ops.reshape(w / ops.sum(ops.matmul(v, w) * u), self.kernel_shape)
