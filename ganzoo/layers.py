"""Small blocks shared by the default networks."""

import keras

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
