"""tensorflow-datasets image datasets, read offline from a prepared data_dir."""

import logging
import re

from ganzoo.errors import DatasetError
from ganzoo.data.image_ops import _as_size, _prepare_image
from ganzoo.data.optional import INSTALL_TFDS, require_tensorflow
from ganzoo.data.pipeline import AUTOTUNE, Examples
from ganzoo.data.sources.base import Source
from ganzoo.data.sources.catalog import _FOLDER_HELP, _TFDS_PRESETS, DATASETS, _unknown_name_error


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


def _tensorflow_datasets(name):
    """The `tensorflow_datasets` module; `DatasetError` saying what to install where it (or
    TensorFlow) is missing."""
    base = name.partition(":")[0]
    known = "" if base in _TFDS_PRESETS else "; not a built-in name or an existing folder"
    require_tensorflow(f"Dataset {name!r} (a tensorflow-datasets name{known})", INSTALL_TFDS)
    try:
        import tensorflow_datasets as tfds  # imported lazily: it is slow and optional for other kinds
    except ImportError as error:
        raise DatasetError(f"Dataset {name!r} is read with tensorflow-datasets, which cannot be imported "
                           f"({error}): {INSTALL_TFDS}") from None
    return tfds


def _tfds_builder(name, data_dir):
    tfds = _tensorflow_datasets(name)
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
    import tensorflow as tf

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


def _tfds_class_names(builder, has_labels):
    """The names of the `label` feature's classes (tfds' ClassLabel names: "0", "1", ... when
    the dataset declares only a count), or () without labels."""
    return tuple(builder.info.features["label"].names) if has_labels else ()


def _tfds_num_examples(builder, split):
    try:
        return int(builder.info.splits[split].num_examples)
    except Exception:  # noqa: BLE001 - tfds raises KeyError/ValueError/AssertionError here
        return None


def _tfds_source(name, split, data_dir, image_size, channels, seed, shuffle, num_examples):
    builder = _tfds_builder(name, data_dir)  # first: it says what to install when tfds is missing
    import tensorflow as tf
    import tensorflow_datasets as tfds

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
    return Examples("image", (*size, channels), count, has_labels, examples=examples,
                    class_names=_tfds_class_names(builder, has_labels))


class TfdsSource(Source):
    """A tensorflow-datasets dataset with an `image` feature ("mnist", "celeb_a", "name:version")."""

    kind = "tfds"

    def info(self, *, size, channels, image_size, split, data_dir, num_examples):
        key = self.key
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
            "class_names": _tfds_class_names(builder, has_labels),
            "description": DATASETS.get(key) or (builder.info.description or "").strip().split("\n")[0][:200]
            or f"tensorflow-datasets {key}",
            "prepared": builder.is_prepared(),
            "data_dir": builder.data_dir,
        }

    def open(self, *, size, channels, split, seed, data_dir, shuffle, cache, skip_corrupt, num_examples,
             with_labels):
        return _tfds_source(self.key, split, data_dir, size, channels, seed, shuffle, num_examples)
