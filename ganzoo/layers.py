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
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    return keras.layers.BatchNormalization(
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        synchronized=strategy.num_replicas_in_sync > 1,
        name=name,
    )


def float32_output(activation, name):
    """The last activation computed in float32, so mixed-precision models emit float32."""
    return keras.layers.Activation(activation, dtype="float32", name=name)
