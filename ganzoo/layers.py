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
