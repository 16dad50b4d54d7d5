"""From a source's examples to batches: shuffle, cache, batch, scale, prefetch.

In-memory data gets one permutation per epoch and one gather per batch; streamed data (tfds
records, image files) shuffles its keys or a buffer, caches decoded uint8 images when they
fit, and batches with ``drop_remainder=True`` (static shapes for XLA).

TensorFlow is imported when a pipeline is built. Where it cannot be imported, in-memory
examples become `numpy_batches.NumpyBatches` (a `keras.utils.PyDataset`) instead.
"""

import dataclasses
import math
import os

import numpy as np

from ganzoo.errors import DatasetError
from ganzoo.data.image_ops import _scale
from ganzoo.data.optional import require_tensorflow, tensorflow

#: `tf.data.AUTOTUNE` (its value, so that importing this module does not import TensorFlow).
AUTOTUNE = -1

#: Decoded uint8 images up to this size are kept in memory (`cache=True`). MNIST is 47 MB,
#: CIFAR-10 150 MB; CelebA at 64x64 (2 GB) streams from its tfds files instead.
CACHE_LIMIT_BYTES = 1 << 30
#: The shuffle buffer holds the whole dataset when it needs less memory than this.
SHUFFLE_BUFFER_BYTES = 256 << 20


@dataclasses.dataclass
class Examples:
    """The examples of one dataset, before shuffling and batching.

    Either `arrays`, numpy (x, labels) held in memory, or `examples`, a dataset of unbatched
    (x, label). x is a uint8 image or a float32 point; label an int32 (-1 when the data has
    none). When `decode` is set, `examples` yields cheap keys (file paths) and `decode` maps
    them to (x, label), so keys can be shuffled before decoding. `class_names[i]` names label i."""

    kind: str
    shape: tuple
    num_examples: int | None
    has_labels: bool
    arrays: tuple | None = None
    examples: object = None  # a tf.data.Dataset
    decode: object = None
    skipped_files: tuple = ()
    class_names: tuple = ()

    @property
    def bytes_per_example(self):
        return math.prod(self.shape) * (4 if self.kind == "toy" else 1)

    def element_dataset(self):
        """Unbatched (x, label) examples (file keys when `decode` is set)."""
        import tensorflow as tf

        if self.arrays is not None:
            return tf.data.Dataset.from_tensor_slices(self.arrays)
        return self.examples


def _shuffle_buffer_size(source):
    if source.num_examples is None:
        return max(1000, SHUFFLE_BUFFER_BYTES // max(source.bytes_per_example, 1) // 4)
    return max(1, min(source.num_examples, SHUFFLE_BUFFER_BYTES // max(source.bytes_per_example, 1)))


def _pipeline(source, batch_size, shuffle, seed, repeat, cache, with_labels, clusters=None):
    """The batches of `source`: a tf.data.Dataset, or without TensorFlow a `NumpyBatches`.
    With `clusters` (an `ImageClusters`), each batch is (x, the nearest cluster of each x)."""
    tf = tensorflow()
    if tf is None:
        return _numpy_pipeline(source, batch_size, shuffle, seed, repeat, with_labels, clusters)
    if clusters is not None and source.arrays is not None:
        # In memory: label every example once, as the numpy batches do, not every batch of every
        # epoch (hog_pixels' histograms and assignment cost the Fashion-MNIST zoo's DCGAN ~4% of an epoch).
        source = dataclasses.replace(source, arrays=(source.arrays[0], _cluster_labels(source.arrays[0], clusters)),
                                     has_labels=True)
        clusters, with_labels = None, True
    if source.arrays is not None:
        batches = _in_memory_batches(source, batch_size, shuffle, seed, repeat)
    else:
        batches = _streamed_batches(source, batch_size, shuffle, seed, repeat, cache)
    # Scale whole batches: one vectorized op per batch instead of one per image.
    if clusters is not None:
        def scaled_with_clusters(x, y):
            x = _scale(x)
            return x, clusters.assign_tensor(x)

        batches = batches.map(scaled_with_clusters, num_parallel_calls=AUTOTUNE)
    elif with_labels:
        batches = batches.map(lambda x, y: (_scale(x), y), num_parallel_calls=AUTOTUNE)
    else:
        batches = batches.map(lambda x, y: _scale(x), num_parallel_calls=AUTOTUNE)
    batches = batches.prefetch(AUTOTUNE)
    options = tf.data.Options()
    # Deterministic order when seeded or unshuffled; otherwise let parallel maps reorder.
    options.deterministic = seed is not None or not shuffle
    return batches.with_options(options)


def _numpy_pipeline(source, batch_size, shuffle, seed, repeat, with_labels, clusters=None):
    from ganzoo.data.numpy_batches import NumpyBatches  # imports Keras: only where it is used

    if source.arrays is None:  # the streaming sources refuse to open without TensorFlow
        require_tensorflow("Streamed data (tfds records, image files)")
    x, labels = source.arrays
    if clusters is not None:  # in memory: label every example once
        labels, with_labels = _cluster_labels(x, clusters), True
    return NumpyBatches(x, labels, batch_size=batch_size, shuffle=shuffle, seed=seed, repeat=repeat,
                        with_labels=with_labels)


def _cluster_labels(x, clusters):
    """int32 (n,): the nearest cluster of each in-memory example (uint8 images, scaled as batches are)."""
    from ganzoo.data.image_ops import _scale_numpy

    return np.concatenate([clusters.assign(_scale_numpy(x[i: i + 8192])) for i in range(0, len(x), 8192)])


def _in_memory_batches(source, batch_size, shuffle, seed, repeat):
    """Batches gathered from in-memory arrays by a per-epoch permutation.

    One shuffle op and one gather per batch instead of per-example shuffle-buffer work: 2-D
    toy batches of 512 points come 10x faster than through `Dataset.shuffle`, fast enough
    for the small MLP GANs they train."""
    import tensorflow as tf

    x, labels = (tf.convert_to_tensor(a) for a in source.arrays)
    n = source.num_examples
    num_batches = n // batch_size

    def epoch_batches(epoch_seed, whole_batches=True):
        order = tf.range(n, dtype=tf.int32)
        if shuffle:
            stateless_seed = tf.stack([epoch_seed, tf.constant(0, tf.int64)])
            order = tf.random.experimental.stateless_shuffle(order, seed=stateless_seed)
        if not whole_batches:
            return tf.data.Dataset.from_tensors(order)
        return tf.data.Dataset.from_tensor_slices(tf.reshape(order[: num_batches * batch_size], [num_batches, -1]))

    # One random int64 per epoch seeds that epoch's permutation; a new one every iteration.
    epoch_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    if not repeat:
        epoch_seeds = epoch_seeds.take(1)
    if num_batches == 0:  # repeat=True with fewer examples than a batch: batches span epochs
        indices = epoch_seeds.flat_map(lambda s: epoch_batches(s, whole_batches=False).unbatch())
        indices = indices.batch(batch_size, drop_remainder=True)
    else:
        indices = epoch_seeds.flat_map(epoch_batches)
    if not repeat:
        indices = indices.apply(tf.data.experimental.assert_cardinality(num_batches))
    return indices.map(
        lambda index: (tf.gather(x, index), tf.gather(labels, index)), num_parallel_calls=AUTOTUNE
    )


def _streamed_batches(source, batch_size, shuffle, seed, repeat, cache):
    """Batches of a dataset read from files (tfds records, image paths)."""
    examples = source.examples
    fits = source.num_examples is not None and source.num_examples * source.bytes_per_example <= CACHE_LIMIT_BYTES
    cache_here = isinstance(cache, (str, os.PathLike)) or (cache is True and fits)
    if source.decode is not None and not cache_here and shuffle:
        # Shuffle the cheap keys (paths) over the whole set, then decode in parallel.
        examples = examples.shuffle(source.num_examples, seed=seed, reshuffle_each_iteration=True)
        shuffle = False
    if source.decode is not None:
        examples = examples.map(source.decode, num_parallel_calls=AUTOTUNE)
    if cache_here:
        # After decoding, before shuffling: later epochs read uint8 images from memory/disk.
        examples = examples.cache(os.fspath(cache) if cache is not True else "")
    if shuffle:
        examples = examples.shuffle(_shuffle_buffer_size(source), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        examples = examples.repeat()
    return examples.batch(batch_size, drop_remainder=True, num_parallel_calls=AUTOTUNE)


def real_arrays(examples, n, seed, name, split):
    """numpy (samples, labels) of `n` examples chosen with `seed` (None: all, in stored order),
    scaled like the training batches."""
    tf = tensorflow()
    if tf is None:
        from ganzoo.data.numpy_batches import numpy_real_arrays

        if examples.arrays is None:  # the streaming sources refuse to open without TensorFlow
            require_tensorflow(f"Dataset {name!r} (streamed from files)")
        return numpy_real_arrays(*examples.arrays, n, seed)
    dataset = examples.element_dataset()
    if examples.decode is not None:
        if n is not None:
            dataset = dataset.shuffle(examples.num_examples, seed=seed)
        dataset = dataset.map(examples.decode, num_parallel_calls=AUTOTUNE)
    elif n is not None:
        dataset = dataset.shuffle(_shuffle_buffer_size(examples), seed=seed)
    if n is not None:
        dataset = dataset.take(n)
    batches = dataset.batch(1024).map(lambda x, y: (_scale(x), y), num_parallel_calls=AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    parts = list(batches.with_options(options).as_numpy_iterator())
    if not parts:
        raise DatasetError(f"Dataset {name!r} split {split!r} is empty.")
    samples = np.concatenate([p[0] for p in parts])
    if n is not None and len(samples) < n:
        raise DatasetError(f"Asked for n={n} real samples but {name!r} split {split!r} has only {len(samples)}.")
    return samples, np.concatenate([p[1] for p in parts])
