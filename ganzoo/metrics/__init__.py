"""Sample-quality metrics for GANs. Depends on nothing else in ganzoo.

Modules:
    statistics  feature-space metrics: `frechet_distance` (stable, always real), KID
                (`kernel_inception_distance`), `inception_score`, improved `precision_recall`,
                `mode_coverage` (stacked-MNIST protocol), `sample_diversity`, `sample_coverage`.
    toy         2-D toy metrics (VEEGAN/PacGAN protocol): `toy_mode_metrics` (modes captured,
                high-quality fraction, reverse KL), `binned_js_divergence`, exact
                `wasserstein1_distance`.
    features    extractors: `load_inception` (InceptionV3 pool features, local weights only),
                `load_classifier` (ganzoo's shipped MNIST and Fashion-MNIST CNNs, `CLASSIFIERS`),
                batched `extract_features`.
    conditional class-conditional generators: `conditional_accuracy`,
                `per_class_frechet_distance`, `mnist_conditional_metrics` (both through the
                MNIST classifier) and `toy_conditional_metrics` (samples in the requested mode).
    evaluate    `evaluate_samples` (samples in, dict of named floats out) and
                `detect_mode_collapse` (diversity + coverage alarm for training callbacks).

MNIST metrics (`mnist_fd`, `mnist_score`, `digits_covered`, `digit_kl`) and Fashion-MNIST metrics
(`fashion_fd`, `fashion_score`, `classes_covered`, `class_kl`) use ganzoo's own classifiers and are
not comparable with Inception-based FID / IS. Real-data references ship in
`ganzoo/weights/mnist_classifier.json` and `ganzoo/weights/fashion_classifier.json`.

Example:
    >>> from ganzoo.metrics import evaluate_samples
    >>> evaluate_samples(fake_images, real_images, feature_extractor="mnist")
    {'mnist_fd': ..., 'kid_mean': ..., 'kid_std': ..., 'mnist_score': ..., 'precision': ..., ...}
"""

from ganzoo.metrics.conditional import (
    classifier_conditional_metrics,
    conditional_accuracy,
    mnist_conditional_metrics,
    per_class_frechet_distance,
    toy_conditional_metrics,
)
from ganzoo.metrics.evaluate import ALL_METRICS, detect_mode_collapse, evaluate_samples
from ganzoo.metrics.features import (
    CLASSIFIERS,
    InceptionWeightsNotFoundError,
    build_classifier,
    build_mnist_classifier,
    classifier_for_dataset,
    classifier_info,
    extract_features,
    load_classifier,
    load_inception,
    load_mnist_classifier,
    mnist_classifier_info,
    resolve_inception_weights,
)
from ganzoo.metrics.statistics import (
    class_histogram,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_features,
    inception_score,
    kernel_inception_distance,
    mode_coverage,
    precision_recall,
    sample_coverage,
    sample_diversity,
)
from ganzoo.metrics.toy import (
    GRID_CENTERS,
    GRID_SIGMA,
    RING_CENTERS,
    RING_SIGMA,
    binned_js_divergence,
    sample_mixture,
    toy_mode_metrics,
    toy_value_range,
    wasserstein1_distance,
)

__all__ = [
    "ALL_METRICS", "CLASSIFIERS", "GRID_CENTERS", "GRID_SIGMA", "InceptionWeightsNotFoundError", "RING_CENTERS", "RING_SIGMA",
    "binned_js_divergence", "build_classifier", "build_mnist_classifier", "class_histogram",
    "classifier_conditional_metrics", "classifier_for_dataset", "classifier_info", "conditional_accuracy",
    "detect_mode_collapse", "evaluate_samples", "mnist_conditional_metrics", "per_class_frechet_distance",
    "toy_conditional_metrics",
    "extract_features", "feature_statistics", "frechet_distance", "frechet_distance_from_features",
    "inception_score", "kernel_inception_distance", "load_classifier", "load_inception", "load_mnist_classifier",
    "mnist_classifier_info", "mode_coverage", "precision_recall", "resolve_inception_weights", "sample_coverage", "sample_diversity",
    "sample_mixture", "toy_mode_metrics", "toy_value_range", "wasserstein1_distance",
]
