"""Metrics of class-conditional generators: does a sample asked for class y look like class y?

* `conditional_accuracy`: the share of samples generated for label y that a classifier assigns
  to y (for MNIST digits, ganzoo's shipped classifier): 0.1 for a generator that ignores
  its labels on 10 balanced classes, 1 for a perfect one; per class as well.
* `per_class_frechet_distance`: the Frechet distance between the features of the samples of
  each class and of the real data of that class (a generator can have a good overall FD yet
  draw the wrong digit for every label; this catches it).
* `classifier_conditional_metrics`: both on 28x28x1 images, with one pass of one of ganzoo's
  classifiers (MNIST, Fashion-MNIST); `mnist_conditional_metrics` for MNIST digits.
* `toy_conditional_metrics`: for the 2-D mixtures, the share of samples landing in the mode
  they were asked for (within 3 sigma of its center, the VEEGAN/PacGAN "high quality" radius).
"""

import numpy as np

from ganzoo.metrics.statistics import frechet_distance_from_features
from ganzoo.metrics.toy import _as_centers, _as_points, nearest_mode


def _as_labels(labels, n, name="labels"):
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name} must be {n} integer labels, one per sample; got shape {labels.shape} of "
                         f"{labels.dtype}.")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} must be >= 0; got {labels.min()}.")
    return labels.astype(np.int64)


def _per_class_means(hits, labels, num_classes):
    """The mean of `hits` over the samples of each class (nan for a class without samples)."""
    counts = np.bincount(labels, minlength=num_classes)
    sums = np.bincount(labels, weights=hits.astype(np.float64), minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def conditional_accuracy(predicted, labels, num_classes=None):
    """The share of samples whose predicted class is the class they were generated for.

    Args:
        predicted: (N,) predicted classes, or (N, K) class probabilities (argmax is taken).
        labels: (N,) the labels the samples were generated for.
        num_classes: K; default: the probabilities' width, else the largest label + 1.

    Returns:
        dict: `conditional_accuracy` (float) and `per_class_accuracy` (K floats, nan for a
        class without samples).
    """
    predicted = np.asarray(predicted)
    if predicted.ndim == 2:
        num_classes = num_classes or predicted.shape[1]
        predicted = predicted.argmax(axis=1)
    labels = _as_labels(labels, len(predicted))
    if not len(labels):
        raise ValueError("conditional_accuracy needs at least one sample.")
    num_classes = int(num_classes or max(labels.max(), predicted.max()) + 1)
    hits = predicted == labels
    return {"conditional_accuracy": float(hits.mean()),
            "per_class_accuracy": _per_class_means(hits, labels, num_classes).tolist()}


def per_class_frechet_distance(real_features, real_labels, fake_features, fake_labels, min_samples=2):
    """The Frechet distance between real and generated features, class by class.

    Args:
        real_features, fake_features: (N, d) features (e.g. the MNIST classifier's 128).
        real_labels, fake_labels: their classes.
        min_samples: a class needs this many samples on both sides (the covariance of fewer
            than 2 is undefined; a few dozen give a usable estimate).

    Returns:
        dict: `per_class_fd` ({class: FD} for every class present on both sides) and
        `mean_per_class_fd` (their mean).

    Raises:
        ValueError: no class has `min_samples` samples on both sides.
    """
    real_features, fake_features = np.asarray(real_features), np.asarray(fake_features)
    real_labels = _as_labels(real_labels, len(real_features), "real_labels")
    fake_labels = _as_labels(fake_labels, len(fake_features), "fake_labels")
    per_class = {}
    for y in sorted(set(real_labels.tolist()) & set(fake_labels.tolist())):
        real_y, fake_y = real_features[real_labels == y], fake_features[fake_labels == y]
        if len(real_y) >= max(min_samples, 2) and len(fake_y) >= max(min_samples, 2):
            per_class[int(y)] = float(frechet_distance_from_features(real_y, fake_y))
    if not per_class:
        raise ValueError(f"No class has {max(min_samples, 2)} real and generated samples; generate more per class.")
    return {"per_class_fd": per_class, "mean_per_class_fd": float(np.mean(list(per_class.values())))}


def classifier_conditional_metrics(fake_images, fake_labels, real_images, real_labels, classifier="mnist",
                                   batch_size=500):
    """`conditional_accuracy` and `per_class_frechet_distance` of 28x28x1 images through one of
    ganzoo's classifiers (features and probabilities in one pass).

    Args:
        fake_images, real_images: (N, 28, 28, 1) float32 in [-1, 1].
        fake_labels: the class each generated image was asked for; real_labels: the true classes.
        classifier: "mnist" or "fashion_mnist" (`features.CLASSIFIERS`).

    Returns:
        dict: conditional_accuracy, per_class_accuracy, per_class_<fd> and mean_per_class_<fd>,
        where <fd> is the classifier's Frechet distance name (mnist_fd, fashion_fd).
    """
    from ganzoo.metrics.features import CLASSIFIERS, check_images, classifier_feature_model, extract_features

    fd_name = CLASSIFIERS[classifier].fd_name
    fake_images = check_images(fake_images, "fake_images", shape=(28, 28, 1))
    real_images = check_images(real_images, "real_images", shape=(28, 28, 1))
    model = classifier_feature_model(classifier)
    fake_features, fake_probabilities = extract_features(model, fake_images, batch_size)
    real_features, _ = extract_features(model, real_images, batch_size)
    scores = conditional_accuracy(fake_probabilities, fake_labels, num_classes=10)
    fd = per_class_frechet_distance(real_features, real_labels, fake_features, fake_labels)
    return dict(scores, **{f"per_class_{fd_name}": fd["per_class_fd"], f"mean_per_class_{fd_name}": fd["mean_per_class_fd"]})


def mnist_conditional_metrics(fake_images, fake_labels, real_images, real_labels, batch_size=500):
    """`classifier_conditional_metrics` through ganzoo's MNIST classifier: conditional_accuracy,
    per_class_accuracy, per_class_mnist_fd, mean_per_class_mnist_fd."""
    return classifier_conditional_metrics(fake_images, fake_labels, real_images, real_labels, "mnist", batch_size)


def toy_conditional_metrics(samples, labels, centers, sigma):
    """The share of 2-D samples that land in the mode they were generated for.

    Args:
        samples: (N, 2) points; labels: the mode index each was asked for.
        centers: (K, 2) mode centers (`toy_distribution(name).centers`); sigma: their std.

    Returns:
        dict: `in_requested_mode` (share within 3 sigma of the requested center),
        `nearest_is_requested` (share whose nearest center is the requested one, at any
        distance) and `per_class_in_requested_mode` (K floats, nan for a mode not asked for).
    """
    centers = _as_centers(centers, sigma)
    samples = _as_points(samples, "samples")
    labels = _as_labels(labels, len(samples))
    if labels.size and labels.max() >= len(centers):
        raise ValueError(f"labels must be mode indices in [0, {len(centers)}); got {labels.max()}.")
    nearest, _ = nearest_mode(samples, centers)
    distance = np.linalg.norm(samples - centers[labels], axis=1)
    landed = distance <= 3 * sigma
    return {"in_requested_mode": float(landed.mean()),
            "nearest_is_requested": float((nearest == labels).mean()),
            "per_class_in_requested_mode": _per_class_means(landed, labels, len(centers)).tolist()}
