"""A folder of PNG/JPEG/BMP/GIF images, searched recursively; first-level sub-folders are
the classes: label i is the i-th sub-folder name in sorted (Python string) order, recorded in
`class_names`.

What is read: every image file once, through links, each real folder once (a link loop such
as `self -> .` adds nothing); ganzoo run directories and exports inside the folder are skipped
(with a warning: their sample grids are not training data). Images are turned upright by
their EXIF orientation. The channel count is 3 when any file is colour, else 1 (every file's
header is read); the size is the first file's (others are cropped and resized to it).
"""

import math
import os
import sys
import warnings

import numpy as np

from ganzoo.errors import DatasetError
from ganzoo.data.image_ops import _as_size, _decode, _prepare_image
from ganzoo.data.optional import require_tensorflow
from ganzoo.data.pipeline import AUTOTUNE, CACHE_LIMIT_BYTES, Examples
from ganzoo.data.sources.base import Source
from ganzoo.data.sources.catalog import _FOLDER_HELP, DATASETS

#: File endings read by the folder pipeline (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _list_image_files(root):
    """(sorted image paths, number of other files) under `root`, recursively: links followed,
    each real folder once; ganzoo run directories and exports skipped, with a warning."""
    from ganzoo.fileio import is_export_version, is_run_dir

    images, others, seen, skipped = [], 0, {os.path.realpath(root)}, []
    for directory, subdirs, files in os.walk(root, followlinks=True):
        kept = []
        for sub in sorted(subdirs):
            path = os.path.join(directory, sub)
            real = os.path.realpath(path)
            if real in seen:
                continue  # a link back to a folder already read (a loop) or read twice
            seen.add(real)
            if is_run_dir(path) or is_export_version(path) or sub.startswith(".tmp-export-"):
                skipped.append(path)
                continue
            kept.append(sub)
        subdirs[:] = kept
        for file in sorted(files):
            if file.startswith("."):
                continue
            if file.lower().endswith(IMAGE_EXTENSIONS):
                images.append(os.path.join(directory, file))
            else:
                others += 1
    if skipped:
        listed = ", ".join(skipped[:3]) + (" ..." if len(skipped) > 3 else "")
        _warn_at_caller(f"Skipped {len(skipped)} ganzoo run director{'ies' if len(skipped) > 1 else 'y'} or exports "
                        f"inside the image folder {root!r} ({listed}): their sample grids are not training data.")
    return images, others


#: EXIF tag of the orientation (1: upright; 2-8: mirrored and/or rotated as stored).
_EXIF_ORIENTATION = 0x0112


def _image_header(path):
    """(height, width, channels, EXIF orientation) from a file header, without decoding pixels;
    height and width as the image stands upright."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            mode = image.mode
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1) if image.format in ("JPEG", "PNG") else 1
    except Exception as error:  # noqa: BLE001 - PIL raises many types for bad files
        raise DatasetError(f"Cannot read image {path!r}: {error}. Fix or delete the file.") from None
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    if orientation >= 5:  # stored on its side
        width, height = height, width
    # Grayscale modes -> 1; everything else is RGB (alpha dropped unless channels=4 is asked).
    return height, width, 1 if mode in ("1", "L", "LA", "I", "I;16", "F") else 3, orientation


_HEADERS = {}  # {tuple of files: _Headers}: a folder's headers are read once per process


class _Headers:
    """What every file's header says: the first readable file's size, the channel count (3 when
    any file is colour), and each file's EXIF orientation."""

    def __init__(self, files):
        from concurrent.futures import ThreadPoolExecutor

        def read(path):
            try:
                return _image_header(path)
            except DatasetError:
                return None  # corrupt files are reported by the decode pass

        with ThreadPoolExecutor(max_workers=8) as pool:
            headers = list(pool.map(read, files, chunksize=64))
        readable = [h for h in headers if h is not None]
        if not readable:
            raise DatasetError(f"None of the {len(files)} image files can be read, e.g. {files[0]!r}. Fix or delete "
                               "them.")
        self.height, self.width = readable[0][:2]
        self.channels = 3 if any(h[2] == 3 for h in readable) else 1
        self.orientation = {f: h[3] for f, h in zip(files, headers) if h is not None and h[3] != 1}


def _headers(files):
    key = tuple(files)
    if key not in _HEADERS:
        _HEADERS.clear()  # one folder at a time is enough
        _HEADERS[key] = _Headers(files)
    return _HEADERS[key]


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
    headers = _headers(files)  # of every file, as info() reads them
    if num_examples is not None:
        files = files[:num_examples]
        labels = None if labels is None else labels[:num_examples]
    size = _as_size(image_size) or (headers.height, headers.width)
    channels = channels or headers.channels
    upright = _upright(files, headers.orientation)
    shape = (*size, channels)
    labels = np.full(len(files), -1, np.int32) if labels is None else labels
    keep_in_memory = cache is True and len(files) * math.prod(shape) <= CACHE_LIMIT_BYTES

    # One parallel decode pass finds the files tf cannot decode (and names them); when the
    # images fit in memory the same pass fills the cache, so it costs nothing extra.
    def check(index, path):
        if keep_in_memory:
            return index, _prepare_image(upright(_decode(path), path), size, channels)
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
    decode = lambda p, label: (_prepare_image(upright(_decode(p), p), size, channels), label)  # noqa: E731
    return Examples("folder", shape, len(good), has_labels, examples=examples, decode=decode, skipped_files=corrupt,
                    class_names=names)


def _upright(files, orientation):
    """`upright(image, path)`: the decoded image turned by its file's EXIF orientation (a
    lookup in the pipeline; the identity when no file is turned)."""
    if not orientation:
        return lambda image, path: image
    import tensorflow as tf

    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(list(orientation)), tf.constant(list(orientation.values()),
                                                                                      tf.int32)), default_value=1)

    def upright(image, path):
        return exif_transpose(image, table.lookup(path))

    return upright


def exif_transpose(image, orientation):
    """A (H, W, C) image stored with EXIF `orientation` (1-8), upright (as PIL's
    ImageOps.exif_transpose)."""
    import tensorflow as tf

    def transpose(x):
        return tf.transpose(x, [1, 0, 2])

    branches = [lambda: image,
                lambda: tf.image.flip_left_right(image),
                lambda: tf.image.rot90(image, 2),
                lambda: tf.image.flip_up_down(image),
                lambda: transpose(image),
                lambda: tf.image.rot90(image, 3),
                lambda: tf.image.rot90(transpose(image), 2),
                lambda: tf.image.rot90(image, 1)]
    return tf.switch_case(tf.clip_by_value(orientation, 1, 8) - 1, branches)


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
        headers = _headers(files)
        height, width, first_channels = headers.height, headers.width, headers.channels
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
