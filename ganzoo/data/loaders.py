"""The three entry points: `load_dataset` (batches for `model.fit`), `load_real_samples`
(numpy, for metrics) and `dataset_info` (what a dataset holds, from headers only)."""

import os

from ganzoo.errors import DatasetError
from ganzoo.data.errors import _check_seed, _positive_int
from ganzoo.data.image_ops import _as_size, _check_channels
from ganzoo.data.pipeline import _pipeline
from ganzoo.data.sources import resolve


def load_dataset(name, batch_size=64, image_size=None, split="train", seed=None, data_dir=None, channels=None,
                 shuffle=True, repeat=False, cache=True, skip_corrupt=False, num_examples=None, with_labels=False,
                 clusters=None):
    """A `tf.data.Dataset` of float32 batches ready for `model.fit` (without TensorFlow, for
    the toys and mnist_sample, a `NumpyBatches` PyDataset of the same batches).

    Args:
        name: a built-in name (see `DATASETS`: "mnist_sample", "fashion_mnist" (its idx
            files), "gaussian_ring", "gaussian_grid", "mnist", "cifar10", "celeb_a"), any other
            tensorflow-datasets name with an `image` feature (optionally "tfds:name" or
            "name:version"), or a folder of images ("path/to/folder", "dir:path", a Path).
        batch_size: examples per batch; the last partial batch is dropped (static shapes).
        image_size: int or (height, width) to resize images to (aspect-preserving central
            crop, then antialiased bilinear resize). Default: the dataset's own size; CelebA
            64x64; a folder takes the size of its first image.
        split: "train", "test", ... For tfds any split or slice ("train[:10%]"); for
            mnist_sample "train" (4,500) / "test" (500) / "all" (5,000), fixed forever; for
            fashion_mnist "train" (60,000) / "test" (10,000); for toys
            "train" and "test" draw independent points from the same seed; a folder is one
            split ("train" or "all").
        seed: seeds shuffling (and the toy draws) and makes the element order deterministic.
            None: a different order every run, and tf.data may reorder for speed. The
            numpy batches (no TensorFlow) draw another order than tf.data for a seed.
        data_dir: tensorflow-datasets directory holding the prepared data (default
            ~/tensorflow_datasets). Nothing is downloaded: unprepared data raises
            `DatasetError` with the commands that prepare it. For fashion_mnist, a folder
            holding its four idx files (default: Keras' cache, then
            /usr/share/datasets/fashion-mnist, else `keras.datasets.fashion_mnist.load_data()`).
        channels: 1, 3 or 4 to convert every image (grayscale <-> RGB, alpha dropped or
            added). Default: the dataset's; a folder takes its first image's (1 or 3).
        shuffle: shuffle, differently every epoch: in-memory data by a fresh permutation, tfds
            and streamed folders by their files, then a buffer (`SHUFFLE_BUFFER_BYTES`).
        repeat: repeat forever (then pass `steps_per_epoch` to fit).
        cache: True keeps decoded uint8 images in memory when they take at most
            `CACHE_LIMIT_BYTES` (1 GiB); a path caches to that file; False never caches.
        skip_corrupt: for folders, skip files that cannot be decoded (with a warning, and the
            paths in `dataset.skipped_files`) instead of raising `DatasetError` naming them.
        num_examples: use only the first N examples (images, in stored order; for tfds of
            the file-shuffled stream when shuffling), or draw N points per epoch
            (toys: default `TOY_NUM_EXAMPLES` = 100,000, a fixed set so an epoch is defined).
        with_labels: yield (x, int32 labels): MNIST digits, tfds `label`, a folder's
            first-level sub-folders (sorted names), a toy point's mode index.
        clusters: an `ImageClusters` (`ganzoo.data.clusters.fit_clusters`): yield (x, int32
            index of each x's nearest cluster) instead; no labels needed in the data.

    Returns:
        A `tf.data.Dataset` (where TensorFlow can be imported; otherwise a `NumpyBatches`,
        a `keras.utils.PyDataset`) of float32 (batch_size, H, W, C) images in [-1, 1], or
        (batch_size, 2) points; (x, labels) with `with_labels`. It carries `skipped_files`
        (the paths skipped with `skip_corrupt`) and `class_names` (label i is
        `class_names[i]`; () without `with_labels`).

    Raises:
        DatasetError: unknown name, missing/empty folder, undecodable images, tfds data not
            prepared offline, batch_size larger than the dataset, bad arguments.

    Example:
        >>> ds = load_dataset("mnist_sample", batch_size=128, seed=0)   # (128, 28, 28, 1)
        >>> ds = load_dataset("dir:~/faces", image_size=64, channels=3)
        >>> ds = load_dataset("gaussian_ring", batch_size=512, seed=0, with_labels=True)
    """
    options = dict(image_size=image_size, split=split, seed=seed, data_dir=data_dir, channels=channels,
                   shuffle=shuffle, cache=cache, skip_corrupt=skip_corrupt, num_examples=num_examples,
                   with_labels=with_labels, clusters=clusters)
    return _batched(name, _positive_int(batch_size, "batch_size"), repeat, options)


def _batched(name, batch_size, repeat, options):
    """`load_dataset`'s work after its signature: open the source, check it, batch it."""
    cache, seed, split = options["cache"], options["seed"], options["split"]
    if cache not in (True, False) and not isinstance(cache, (str, os.PathLike)):
        raise DatasetError(f"cache must be True, False or a file path; got {cache!r}.")
    _check_seed(seed)
    clusters = options.pop("clusters", None)
    source = resolve(name).open_checked(**options)
    with_labels = options["with_labels"]
    if with_labels and clusters is not None:
        raise DatasetError("with_labels=True (the dataset's labels) and clusters= (cluster labels) exclude each "
                           "other; pass one of them.")
    if with_labels and not source.has_labels:
        raise DatasetError(f"Dataset {name!r} has no labels; load it without with_labels=True.")
    if source.num_examples is not None and source.num_examples < batch_size and not repeat:
        raise DatasetError(
            f"batch_size={batch_size} is larger than dataset {name!r} (split {split!r}: {source.num_examples} "
            f"examples), so with drop_remainder there would be no batch at all. Use batch_size <= "
            f"{source.num_examples}, or repeat=True."
        )
    dataset = _pipeline(source, batch_size, options["shuffle"], seed, repeat, cache, with_labels, clusters)
    dataset.skipped_files = source.skipped_files
    dataset.class_names = tuple(source.class_names) if with_labels else ()
    return dataset


def load_real_samples(
    name,
    n,
    image_size=None,
    seed=0,
    split="train",
    data_dir=None,
    channels=None,
    with_labels=False,
    skip_corrupt=False,
):
    """Real samples as numpy, for metrics: float32 (n, H, W, C) in [-1, 1], or (n, 2) points.

    Args:
        name, image_size, split, data_dir, channels, skip_corrupt: as in `load_dataset`.
        n: number of samples (a random subset chosen with `seed`); None: the whole split,
            in its stored order (not for toys).
        seed: seeds the subset (toys: the draw).
        with_labels: also return int32 labels (toys: mode indices).

    Returns:
        samples, or (samples, labels).

    Example:
        >>> real = load_real_samples("mnist_sample", 500, split="test")   # (500, 28, 28, 1)
    """
    _check_seed(seed)
    samples, labels = resolve(name).real_samples(
        n,
        image_size=image_size,
        channels=channels,
        split=split,
        seed=seed,
        data_dir=data_dir,
        skip_corrupt=skip_corrupt,
        with_labels=with_labels,
    )
    return (samples, labels) if with_labels else samples


def dataset_info(name, image_size=None, channels=None, split="train", data_dir=None, num_examples=None):
    """What `load_dataset` would yield, without loading the data (headers only).

    Returns:
        dict with "name", "kind" ("image", "toy" or "folder"), "shape" ((H, W, C) or (2,)),
        "num_examples" (int, or None when unknown, e.g. unprepared tfds data), "has_labels",
        "num_classes" (or None), "class_names" (label i is class_names[i]; () without labels),
        "description"; tfds adds "prepared" and "data_dir"; toys add
        "num_modes" and "sigma". Folder counts are of image files before the decode check.

    Example:
        >>> dataset_info("mnist_sample", image_size=32)["shape"]
        (32, 32, 1)
    """
    source = resolve(name)
    channels = _check_channels(channels)
    size = _as_size(image_size)
    return source.info(size=size, channels=channels, image_size=image_size, split=split, data_dir=data_dir,
                       num_examples=num_examples)
