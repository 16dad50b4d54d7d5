"""TensorFlow is optional for the data package: imported on first use, and a clear error where
a source cannot do without it.

With TensorFlow importable, every dataset is a `tf.data.Dataset` (the pipeline the results
were measured with). Without it, the in-memory sources (the toys, mnist_sample) become numpy
batches (`ganzoo.data.numpy_batches`), and the sources that read files through tf.io /
tf.data (folders, tensorflow-datasets) raise `DatasetError` saying what to install.
"""

from ganzoo.errors import DatasetError

#: What to install for the sources that read files (folders need tf.io's decoders).
INSTALL_TENSORFLOW = "pip install tensorflow"
INSTALL_TFDS = "pip install tensorflow tensorflow-datasets"


def tensorflow():
    """The `tensorflow` module, or None where it cannot be imported (imported here, on first use)."""
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf


def require_tensorflow(what, install=INSTALL_TENSORFLOW):
    """The `tensorflow` module; `DatasetError` naming `what` needs it and how to install it."""
    tf = tensorflow()
    if tf is None:
        raise DatasetError(
            f"{what} needs TensorFlow (tf.data / tf.io), which is not installed: {install}. Without "
            "TensorFlow, ganzoo loads the in-memory datasets (mnist_sample, gaussian_ring, gaussian_grid) "
            "as numpy batches, and the models train on numpy arrays and Python iterators of batches."
        )
    return tf
