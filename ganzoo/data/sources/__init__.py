"""Data sources, one class per kind, and `resolve`, which picks the kind from a dataset name.

Each source answers `info()` (what it holds, from headers only) and `open()` (its examples,
before shuffling and batching): `ToySource`, `MnistSampleSource`, `TfdsSource`, `FolderSource`.
"""

import os

from ganzoo.data.sources.base import Source
from ganzoo.data.sources.catalog import _TFDS_PRESETS, CELEB_A_CROP, DATASETS, _unknown_name_error
from ganzoo.data.sources.folder import IMAGE_EXTENSIONS, FolderSource
from ganzoo.data.sources.mnist_sample import MNIST_SAMPLE_SPLITS, MnistSampleSource, mnist_sample_arrays
from ganzoo.data.sources.tfds import TfdsSource
from ganzoo.metrics.toy import TOY_DISTRIBUTIONS
from ganzoo.data.sources.toy import TOY_NUM_EXAMPLES, ToySource, toy_distribution

__all__ = [
    "CELEB_A_CROP", "DATASETS", "IMAGE_EXTENSIONS", "MNIST_SAMPLE_SPLITS", "TOY_NUM_EXAMPLES", "FolderSource",
    "MnistSampleSource", "Source", "TfdsSource", "ToySource", "mnist_sample_arrays", "resolve", "toy_distribution",
]


def resolve(name):
    """The `Source` a dataset name stands for."""
    if isinstance(name, os.PathLike):
        return FolderSource(name, os.fspath(name))
    if not isinstance(name, str) or not name.strip():
        raise _unknown_name_error(name)
    # Built-in names win over a same-named folder in the working directory ("./mnist" or
    # "dir:mnist" reads the folder).
    if name in TOY_DISTRIBUTIONS:
        return ToySource(name, name)
    if name == "mnist_sample":
        return MnistSampleSource(name, name)
    if name in _TFDS_PRESETS:
        return TfdsSource(name, name)
    if name.startswith("dir:"):
        return FolderSource(name, name[len("dir:"):])
    if name.startswith("tfds:"):
        return TfdsSource(name, name[len("tfds:"):])
    if os.path.isdir(name) or name.startswith((".", "/", "~", "\\")) or os.path.exists(name):
        return FolderSource(name, name)
    return TfdsSource(name, name)
