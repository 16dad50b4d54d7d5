"""fashion_mnist: Zalando's Fashion-MNIST (Xiao et al. 2017) from its four original idx files.

60,000 training and 10,000 test images, 28x28 grey, 10 clothing classes. The files
(`train-images-idx3-ubyte.gz`, ...; plain or gzipped) are looked for, in order, in

1. `data_dir=` (`ganzoo train --data-dir`): a folder holding the four files;
2. Keras' cache, where `keras.datasets.fashion_mnist.load_data()` puts them:
   `$KERAS_HOME/datasets/fashion-mnist/` (default `~/.keras/datasets/fashion-mnist/`);
3. the Debian package `dataset-fashion-mnist`: `/usr/share/datasets/fashion-mnist/`;

and otherwise fetched by `keras.datasets.fashion_mnist.load_data()` (needs network). Every
file is checked (magic number, dimensions, size, image and label counts) before use.
"""

import functools
import gzip
import os

import numpy as np

from ganzoo.errors import DatasetError
from ganzoo.data.sources.base import check_split
from ganzoo.data.sources.mnist_sample import InMemoryDigitsSource

FASHION_MNIST_SPLITS = {"train": 60000, "test": 10000}
#: Label i is `FASHION_MNIST_CLASS_NAMES[i]` (Xiao et al. 2017, Table 1).
FASHION_MNIST_CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                             "Bag", "Ankle boot")
#: (images file, labels file) of each split, the names of the original distribution.
FASHION_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                       "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
#: Where the Debian package `dataset-fashion-mnist` installs the files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
INSTALL_HINT = "apt-get install dataset-fashion-mnist"

# idx magic: two zero bytes, the element type (0x08: unsigned byte), the number of dimensions.
_UBYTE = 0x08


def read_idx(path, ndim, count=None, shape=None):
    """A uint8 idx file (gzipped or plain) as a numpy array, after checking its header.

    Args:
        path: the file.
        ndim: dimensions the header must declare (3 for images, 1 for labels).
        count: the number of items (first dimension) it must hold, or None for any.
        shape: the item shape it must declare (e.g. (28, 28)), or None for any.

    Raises:
        DatasetError: naming the file, for a bad magic number, wrong counts or dimensions,
            a truncated or overlong body, or a file that cannot be read or decompressed.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as file:
            data = file.read()
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DatasetError(f"Cannot read idx file {path}: {error}. The file is damaged or truncated; "
                           f"replace it (e.g. {INSTALL_HINT} --reinstall).") from None
    header_size = 4 + 4 * ndim
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != _UBYTE or data[3] != ndim:
        raise DatasetError(
            f"{path} is not a uint8 idx file of {ndim} dimensions: its magic number is "
            f"{data[:4].hex() or 'missing'}, expected {bytes([0, 0, _UBYTE, ndim]).hex()}.")
    if len(data) < header_size:
        raise DatasetError(f"{path} is truncated: {len(data)} bytes, shorter than its {header_size}-byte header.")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    if count is not None and dims[0] != count:
        raise DatasetError(f"{path} holds {dims[0]} items; expected {count}.")
    if shape is not None and dims[1:] != tuple(shape):
        raise DatasetError(f"{path} has items of shape {dims[1:]}; expected {tuple(shape)}.")
    expected = header_size + int(np.prod(dims))
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "longer than its header says"
        raise DatasetError(f"{path} is {state}: {len(data)} bytes, expected {expected} for dimensions {dims}. "
                           f"Replace the file (e.g. {INSTALL_HINT} --reinstall).")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(dims)


def keras_cache_dir():
    """Keras' download folder for Fashion-MNIST: $KERAS_HOME (default ~/.keras)/datasets/fashion-mnist."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets", "fashion-mnist")


def _file_in(folder, name):
    """The path of `name` (gzipped or plain) in `folder`, or None."""
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _has_files(folder):
    return all(_file_in(folder, name) for pair in FASHION_MNIST_FILES.values() for name in pair)


def find_directory(data_dir=None):
    """The first folder holding all four files: `data_dir`, Keras' cache, the Debian
    package's folder; None when none does. A `data_dir` without the files is an error."""
    if data_dir is not None:
        folder = os.path.expanduser(os.fspath(data_dir))
        if not _has_files(folder):
            missing = [n + "[.gz]" for pair in FASHION_MNIST_FILES.values() for n in pair if not _file_in(folder, n)]
            raise DatasetError(f"data_dir {folder!r} does not hold the Fashion-MNIST files (missing: "
                               f"{', '.join(missing)}). Pass a folder holding the four idx files, or no "
                               f"data_dir to use Keras' cache or {DEBIAN_DIR} ({INSTALL_HINT}).")
        return folder
    for folder in (keras_cache_dir(), DEBIAN_DIR):
        if _has_files(folder):
            return folder
    return None


def _download():
    """The four arrays from `keras.datasets.fashion_mnist.load_data()` (network), or a
    DatasetError naming the three ways to get the files."""
    try:
        from keras.datasets import fashion_mnist

        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    except Exception as error:  # noqa: BLE001 - any download failure ends in the same advice
        raise DatasetError(
            f"Fashion-MNIST was not found and could not be downloaded ({type(error).__name__}: {error}). "
            f"Get its four idx files in one of three ways: (1) `{INSTALL_HINT}` (Debian/Ubuntu: files in "
            f"{DEBIAN_DIR}); (2) on a machine with network, `python -c \"import keras; "
            f"keras.datasets.fashion_mnist.load_data()\"` (downloads into {keras_cache_dir()}); (3) pass "
            "data_dir= / --data-dir with a folder holding train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz."
        ) from None
    return {"train": (x_train, y_train), "test": (x_test, y_test)}


@functools.lru_cache(maxsize=4)
def _split_arrays(folder, split):
    images_name, labels_name = FASHION_MNIST_FILES[split]
    count = FASHION_MNIST_SPLITS[split]
    images = read_idx(_file_in(folder, images_name), 3, count, (28, 28))
    labels = read_idx(_file_in(folder, labels_name), 1, count)
    if labels.max() >= len(FASHION_MNIST_CLASS_NAMES):
        raise DatasetError(f"{_file_in(folder, labels_name)} has label {labels.max()}; Fashion-MNIST has 10 "
                           "classes (0-9).")
    return images.reshape(count, 28, 28, 1), labels.astype(np.int32)


def fashion_mnist_arrays(split="train", data_dir=None):
    """Fashion-MNIST as numpy: (uint8 images (N, 28, 28, 1), int32 labels (N,)).

    "train" is the 60,000 training images, "test" the 10,000 test images (held out: ganzoo's
    evaluation classifier was trained on "train" only). See the module docstring for where
    the files are looked for."""
    check_split("fashion_mnist", FASHION_MNIST_SPLITS, split)
    folder = find_directory(data_dir)
    if folder is None:
        downloaded = _download()
        images, labels = downloaded[split]
        return images.reshape(-1, 28, 28, 1).astype(np.uint8), labels.astype(np.int32)
    return _split_arrays(os.path.abspath(folder), split)


class FashionMnistSource(InMemoryDigitsSource):
    """Fashion-MNIST from its idx files: "train" 60,000 and "test" 10,000 images, 28x28x1, in
    memory (47 MB); other sizes and channel counts converted once, as for mnist_sample."""

    kind = "idx"

    @property
    def splits(self):
        return FASHION_MNIST_SPLITS  # the module's table, read when asked

    class_names = FASHION_MNIST_CLASS_NAMES

    def arrays(self, split, data_dir):
        return fashion_mnist_arrays(split, data_dir)

    def info(self, *, data_dir, **options):
        return {**super().info(data_dir=data_dir, **options), "data_dir": find_directory(data_dir)}
