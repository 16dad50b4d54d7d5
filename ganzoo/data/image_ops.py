"""Image operations of the pipelines: channel conversion, central crops, resizing, scaling.

Images stay uint8 until a whole batch is scaled to float32 in [-1, 1] (`_scale`). The tf ops
import TensorFlow when first called; `_prepare_numpy_images` and `_scale_numpy` are their
numpy / `keras.ops` counterparts for a process without TensorFlow.
"""

import numpy as np

from ganzoo.errors import DatasetError


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
    import tensorflow as tf

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
    import tensorflow as tf

    h, w = tf.shape(image)[-3], tf.shape(image)[-2]
    top, left = (h - height) // 2, (w - width) // 2
    return image[..., top : top + height, left : left + width, :]


def _crop_to_aspect(image, size):
    """The largest central window of `image` with the aspect ratio of `size` (no distortion)."""
    import tensorflow as tf

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
    import tensorflow as tf

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
    import tensorflow as tf

    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return tf.cast(images, tf.float32)


def _decode(path):
    """uint8 (H, W, c) of a PNG/JPEG/BMP/GIF file (first frame), c as stored."""
    import tensorflow as tf

    return tf.io.decode_image(tf.io.read_file(path), channels=0, dtype=tf.uint8, expand_animations=False)


def _decode_file(path, size, channels):
    return _prepare_image(_decode(path), size, channels)


# ------------------------------------------------------------- without TensorFlow
def _prepare_numpy_images(images, size, channels):
    """uint8 grayscale images (N, H, W, 1) -> uint8 (N, size[0], size[1], channels), without
    TensorFlow: the aspect-preserving central crop of `_prepare_image`, then
    `keras.ops.image.resize(..., interpolation="bilinear", antialias=True)` on the Keras
    backend, rounded back to uint8. Matches the tf resize to within one grey level (tested);
    gray becomes RGB by repetition (RGBA: opaque alpha)."""
    if images.ndim != 4 or images.shape[-1] != 1:
        raise DatasetError(f"Without TensorFlow only grayscale (N, H, W, 1) images are converted; got shape "
                           f"{images.shape}. Install TensorFlow (pip install tensorflow) for other conversions.")
    height, width = images.shape[1:3]
    if (height, width) != tuple(size):
        target_h, target_w = size
        wider = width * target_h > height * target_w  # the integer arithmetic of _crop_to_aspect
        crop_h = height if wider else (width * target_h) // target_w
        crop_w = (height * target_w) // target_h if wider else width
        crop_h, crop_w = max(crop_h, 1), max(crop_w, 1)
        top, left = (height - crop_h) // 2, (width - crop_w) // 2
        images = images[:, top : top + crop_h, left : left + crop_w]
        import keras

        resized = keras.ops.image.resize(images.astype(np.float32), tuple(size), interpolation="bilinear",
                                         antialias=True, data_format="channels_last")
        images = np.clip(np.round(keras.ops.convert_to_numpy(resized)), 0, 255).astype(np.uint8)
    if channels == 1:
        return images
    rgb = np.repeat(images, 3, axis=-1)
    if channels == 3:
        return rgb
    return np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 255, np.uint8)], axis=-1)


def _scale_numpy(images):
    """`_scale` in numpy: uint8 -> float32 x / 127.5 - 1 (the same float32 arithmetic)."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return images.astype(np.float32, copy=False)
