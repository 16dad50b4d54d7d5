"""A folder of PNG/JPEG/BMP/GIF images, searched recursively; first-level sub-folders are
the classes: label i is the i-th sub-folder name in sorted (Python string) order, recorded in
`class_names`."""

import math
import os
import sys
import warnings

import numpy as np

from ganzoo.errors import DatasetError
from ganzoo.data.image_ops import _as_size, _decode, _decode_file
from ganzoo.data.optional import require_tensorflow
from ganzoo.data.pipeline import AUTOTUNE, CACHE_LIMIT_BYTES, Examples
from ganzoo.data.sources.base import Source
from ganzoo.data.sources.catalog import _FOLDER_HELP, DATASETS

#: File endings read by the folder pipeline (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


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


def _folder_source(root, image_size, channels, skip_corrupt, num_examples, with_labels, cache):
    root, files, labels = _folder_files(root, with_labels)
    tf = require_tensorflow(f"Loading the image folder {root!r} (decoding with tf.io)")
    names = _class_names(root, files) if with_labels else ()  # of every file: labels index these
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
        _warn_at_caller(f"Skipped {len(corrupt)} of {len(files)} images that cannot be decoded: {listed}")
        if not ok.any():
            raise DatasetError(f"None of the {len(files)} image files in {root!r} can be decoded: {listed}.")
    labels = labels[ok]
    has_labels = with_labels
    if keep_in_memory:
        arrays = (images if ok.all() else images[ok], labels)
        return Examples("folder", shape, int(ok.sum()), has_labels, arrays=arrays, skipped_files=corrupt,
                        class_names=names)
    good = [f for f, g in zip(files, ok) if g]
    examples = tf.data.Dataset.from_tensor_slices((good, labels))
    decode = lambda p, label: (_decode_file(p, size, channels), label)  # noqa: E731
    return Examples("folder", shape, len(good), has_labels, examples=examples, decode=decode, skipped_files=corrupt,
                    class_names=names)


def _warn_at_caller(message):
    """A warning pointing at the user's call: the first frame outside ganzoo.data."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("ganzoo.data"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


class FolderSource(Source):
    """A folder of images (one split, "train" or "all")."""

    kind = "folder"

    def info(self, *, size, channels, image_size, split, data_dir, num_examples):
        _check_folder_split(split)
        root, files, _ = _folder_files(self.key, with_labels=False)
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

    def open(self, *, size, channels, split, seed, data_dir, shuffle, cache, skip_corrupt, num_examples,
             with_labels):
        _check_folder_split(split)
        return _folder_source(self.key, size, channels, skip_corrupt, num_examples, with_labels, cache)
