"""One call from samples to metric values: `evaluate_samples`, and the mode-collapse alarm.

`evaluate_samples(fake, real, ...)` extracts features of both sets (batched, one compiled
`tf.function`), then computes the requested metrics and returns a flat `dict[str, float]` with
explicit names:

================  ============================  ==================================  =====================  ==================
metric            feature_extractor="mnist"     "fashion_mnist"                     "inception"            None (raw values)
================  ============================  ==================================  =====================  ==================
"fd"              mnist_fd                      fashion_fd                          fid                    fd
"kid"             kid_mean, kid_std             kid_mean, kid_std                   kid_mean, kid_std      kid_mean, kid_std
"is"              mnist_score, mnist_score_std  fashion_score, fashion_score_std    inception_score, ...   (not available)
"pr"              precision, recall (k=3)       precision, recall (k=5)             precision, recall      precision, recall
"coverage"        digits_covered, digit_kl      classes_covered, class_kl           (not available)        (not available)
"diversity"       diversity, sample_coverage    (both for every extractor)
"modes" (toy)     --                            --                                  --                     modes, high_quality, reverse_kl
"js", "w1" (2-D)  --                            --                                  --                     js, w1
================  ============================  ==================================  =====================  ==================

"mnist" and "fashion_mnist" are ganzoo's own classifiers (`features.CLASSIFIERS`, one code
path for both); their values are not comparable with Inception-based FID or IS: compare them
with the real-data references shipped beside their weights (`ganzoo/weights/*_classifier.json`).
"auto" picks "mnist" for 28x28x1 images; callers that know the dataset pick with
`features.classifier_for_dataset(name)` (as `ganzoo evaluate` and training do).

`detect_mode_collapse(fake, real, ...)` returns sample diversity relative to real data, sample
coverage (Naeem et al. 2020), a class/mode coverage fraction and a `collapsed` flag, for
training callbacks.
"""

import functools

import numpy as np

from ganzoo.metrics import features as feature_lib
from ganzoo.metrics.features import CLASSIFIERS
from ganzoo.metrics import statistics, toy as toy_lib

ALL_METRICS = ("fd", "kid", "is", "pr", "coverage", "diversity", "modes", "js", "w1")
DEFAULT_METRICS = {
    **{key: ("fd", "kid", "is", "pr", "coverage") for key in CLASSIFIERS},
    "inception": ("fd", "kid", "is", "pr"),
    None: ("fd", "kid", "pr"),
    "toy": ("modes", "js", "w1"),
}
W1_MAX_SAMPLES = 2500
COVERAGE_MAX_SAMPLES = 5000


def _toy_spec(toy):
    # Accept any object with `centers` / `sigma` attributes, or a dict with those keys.
    if toy is None:
        return None
    get = toy.get if isinstance(toy, dict) else lambda key: getattr(toy, key, None)
    centers, sigma = get("centers"), get("sigma")
    if centers is None or sigma is None:
        raise ValueError("toy must provide `centers` (K, 2) and `sigma` (as attributes or dict keys).")
    return np.asarray(centers, np.float64), float(sigma)


def _resolve_extractor(feature_extractor, fake, toy):
    if feature_extractor != "auto":
        if feature_extractor not in (*CLASSIFIERS, "inception", None):
            names = ", ".join(repr(key) for key in CLASSIFIERS)
            raise ValueError(f"feature_extractor must be 'auto', {names}, 'inception' or None; got "
                             f"{feature_extractor!r}.")
        return feature_extractor
    shape = np.shape(fake)
    if toy is not None or len(shape) == 2:
        return None
    if tuple(shape[1:]) in ((28, 28, 1), (28, 28)):
        return "mnist"
    return "inception"


def _subsample(array, size, rng):
    return array if len(array) <= size else array[rng.choice(len(array), size, replace=False)]


@functools.lru_cache(maxsize=4)
def _inception_model(weights, include_top, channels):
    return feature_lib.load_inception(weights=weights, include_top=include_top, channels=channels)


def _extract(samples, extractor, name, batch_size, want_probabilities, inception_weights):
    """(features, probabilities or None) for one sample set."""
    if extractor is None:
        samples = np.asarray(samples, np.float32)
        if samples.ndim < 2 or len(samples) == 0:
            raise ValueError(f"{name} must be a non-empty array of samples; got shape {samples.shape}.")
        return samples.reshape(len(samples), -1), None
    if extractor in CLASSIFIERS:
        images = feature_lib.check_images(samples, name, shape=(28, 28, 1))
        model = feature_lib.classifier_feature_model(extractor)
        features, probabilities = feature_lib.extract_features(model, images, batch_size)
        return features, probabilities
    images = feature_lib.check_images(samples, name)
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"{name}: InceptionV3 takes 1- or 3-channel images; got {images.shape[-1]} channels.")
    model = _inception_model(inception_weights, want_probabilities, images.shape[-1])
    outputs = feature_lib.extract_features(model, images, batch_size)
    return (outputs[0], outputs[1]) if want_probabilities else (outputs, None)


def evaluate_samples(fake, real, metrics=None, feature_extractor="auto", batch_size=500, seed=0, toy=None,
                     kid_subsets=100, kid_subset_size=1000, pr_k=None, is_splits=10, inception_weights="imagenet"):
    """Compute sample-quality metrics of generated samples against real samples.

    Args:
        fake: generated samples: images (N, H, W, C) float32 in [-1, 1], or 2-D points (N, 2).
        real: real samples of the same kind.
        metrics: names from `ALL_METRICS`; None picks the default for the extractor
            (mnist, fashion_mnist: fd, kid, is, pr, coverage; inception: fd, kid, is, pr; None:
            fd, kid, pr; toy data: modes, js, w1).
        feature_extractor: "mnist" or "fashion_mnist" (ganzoo's classifiers, (28, 28, 1)
            images), "inception"
            (InceptionV3 pool features; local weights needed, see `load_inception`), None (raw
            values, flattened), or "auto": None for 2-D points or `toy`, "mnist" for 28x28x1
            images, else "inception".
        batch_size: images per forward pass of the extractor.
        seed: seed of every random subset (KID subsets, equal-size subsampling).
        toy: for 2-D toy data, an object or dict with `centers` (K, 2) and `sigma`; enables
            "modes". The protocol evaluates 2,500 generated samples.
        kid_subsets, kid_subset_size: KID's subset count and size.
        pr_k: neighbourhood size of precision/recall; None: 5 for "fashion_mnist", else 3.
        is_splits: chunks of the Inception / MNIST score.
        inception_weights: "imagenet" (local file search), a path, or None (random; tests only).

    Returns:
        dict[str, float] with the names in the module docstring's table. Precision/recall use
        equal-size random subsets of both sets (the larger is subsampled); W1 uses equal-size
        subsets of at most 2,500 points; JS bins a 50 x 50 grid over `toy_value_range` (or the
        samples' bounding box without `toy`); everything else uses all samples.

    Example:
        >>> scores = evaluate_samples(generator_images, real_images, feature_extractor="mnist")
        >>> scores["mnist_fd"], scores["digits_covered"]
    """
    toy_spec = _toy_spec(toy)
    extractor = _resolve_extractor(feature_extractor, fake, toy_spec)
    if metrics is None:
        metrics = DEFAULT_METRICS["toy" if toy_spec is not None else extractor]
    metrics = tuple(metrics)
    if pr_k is None:
        pr_k = CLASSIFIERS[extractor].pr_k if extractor in CLASSIFIERS else 3
    _check_metrics(metrics, extractor, toy_spec, fake)

    want_probabilities = bool({"is", "coverage"} & set(metrics))
    fake_features, fake_probabilities = _extract(fake, extractor, "fake", batch_size, want_probabilities,
                                                 inception_weights)
    real_features, real_probabilities = _extract(real, extractor, "real", batch_size, want_probabilities,
                                                 inception_weights)
    if fake_features.shape[1] != real_features.shape[1]:
        raise ValueError(f"fake and real samples differ in shape: {np.shape(fake)[1:]} vs {np.shape(real)[1:]}.")

    rng = np.random.default_rng(seed)  # one stream, drawn in the order below
    results = _feature_scores(metrics, extractor, (fake_features, fake_probabilities),
                              (real_features, real_probabilities), rng, seed=seed, kid_subsets=kid_subsets,
                              kid_subset_size=kid_subset_size, pr_k=pr_k, is_splits=is_splits)
    results.update(_toy_scores(metrics, toy_spec, fake_features, real_features, rng))
    return {name: float(value) for name, value in results.items()}


def _check_metrics(metrics, extractor, toy_spec, fake):
    """ValueError for metric names that are unknown or that do not fit the extractor and data."""
    unknown = sorted(set(metrics) - set(ALL_METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {list(ALL_METRICS)}.")
    if extractor is None and ({"is", "coverage"} & set(metrics)):
        raise ValueError("'is' and 'coverage' need a classifier: use feature_extractor='mnist' or 'fashion_mnist' "
                         "(or 'inception' for 'is').")
    if extractor == "inception" and "coverage" in metrics:
        raise ValueError("'coverage' is defined for ganzoo's classifiers only (feature_extractor='mnist' or "
                         "'fashion_mnist').")
    if "modes" in metrics and toy_spec is None:
        raise ValueError("'modes' needs toy=... with the mixture's `centers` and `sigma`.")
    if {"modes", "js", "w1"} & set(metrics) and (extractor is not None or np.ndim(fake) != 2 or np.shape(fake)[1] != 2):
        raise ValueError("'modes', 'js' and 'w1' are 2-D toy metrics: pass (N, 2) points with feature_extractor=None.")


def _feature_scores(metrics, extractor, fake, real, rng, seed, kid_subsets, kid_subset_size, pr_k, is_splits):
    """The feature-space metrics; `fake` and `real` are (features, class probabilities or None)."""
    (fake_features, fake_probabilities), (real_features, real_probabilities) = fake, real
    results = {}
    classifier = CLASSIFIERS.get(extractor)
    if "fd" in metrics:
        name = classifier.fd_name if classifier else {"inception": "fid", None: "fd"}[extractor]
        results[name] = statistics.frechet_distance_from_features(fake_features, real_features)
    if "kid" in metrics:
        results["kid_mean"], results["kid_std"] = statistics.kernel_inception_distance(
            real_features, fake_features, kid_subsets, kid_subset_size, seed)
    if "is" in metrics:
        score, spread = statistics.inception_score(fake_probabilities, splits=min(is_splits, len(fake_probabilities)))
        name = classifier.score_name if classifier else "inception_score"
        results[name], results[f"{name}_std"] = score, spread
    if "pr" in metrics:
        size = min(len(fake_features), len(real_features))
        results["precision"], results["recall"] = statistics.precision_recall(
            _subsample(real_features, size, rng), _subsample(fake_features, size, rng), k=pr_k)
    if "coverage" in metrics:
        num_classes = real_probabilities.shape[1]
        data_histogram = statistics.class_histogram(real_probabilities.argmax(axis=1), num_classes)
        covered, kl = statistics.mode_coverage(fake_probabilities.argmax(axis=1), data_histogram)
        results[classifier.covered_name], results[classifier.kl_name] = float(covered), kl
    if "diversity" in metrics:
        results["diversity"] = statistics.sample_diversity(fake_features, real_features, seed=seed)
        size = min(len(fake_features), len(real_features), COVERAGE_MAX_SAMPLES)
        results["sample_coverage"] = statistics.sample_coverage(
            _subsample(real_features, size, rng), _subsample(fake_features, size, rng))
    return results


def _toy_scores(metrics, toy_spec, fake_features, real_features, rng):
    """The 2-D toy metrics: modes and high-quality samples, JS on a grid, W1."""
    results = {}
    if "modes" in metrics:
        results.update({k: float(v) for k, v in toy_lib.toy_mode_metrics(fake_features, *toy_spec).items()})
    if "js" in metrics:
        value_range = None if toy_spec is None else toy_lib.toy_value_range(*toy_spec)
        results["js"] = toy_lib.binned_js_divergence(fake_features, real_features, value_range=value_range)
    if "w1" in metrics:
        size = min(len(fake_features), len(real_features), W1_MAX_SAMPLES)
        results["w1"] = toy_lib.wasserstein1_distance(_subsample(fake_features, size, rng),
                                                      _subsample(real_features, size, rng))
    return results


def detect_mode_collapse(fake, real, feature_extractor="auto", toy=None, diversity_threshold=0.5,
                         coverage_threshold=0.8, sample_coverage_threshold=0.15, batch_size=500, seed=0,
                         inception_weights="imagenet"):
    """Flag mode collapse, full or partial (the library half of a training alarm).

    Three signals, any of which trips the alarm:
    - diversity: mean pairwise feature distance of generated samples over that of real ones
      (about 1 when healthy, near 0 when the generator repeats one output);
    - sample coverage (Naeem et al. 2020): the share of real samples whose 5-NN ball holds a
      generated sample (about 0.97 for real data); a few distinct outputs repeated many times
      keep the pairwise spread but leave most real neighbourhoods empty;
    - coverage: the share of modes reached: of the 10 classes for "mnist" and "fashion_mnist", of the mixture modes
      for `toy`, otherwise recall (Kynkaanniemi et al.); a generator that drops half the
      classes scores 0.5.

    Args:
        fake, real, feature_extractor, toy, batch_size, seed, inception_weights: as in
            `evaluate_samples`.
        diversity_threshold: collapse when diversity falls below this.
        coverage_threshold: collapse when class/mode coverage falls below this.
        sample_coverage_threshold: collapse when sample coverage falls below this.

    Returns:
        dict with `diversity`, `sample_coverage`, `coverage` (floats), `collapsed` (bool) and
        `reason` (str, empty when not collapsed).

    Example:
        >>> report = detect_mode_collapse(generator_images, real_images, feature_extractor="mnist")
        >>> if report["collapsed"]: print("mode collapse:", report["reason"])
    """
    return evaluate_with_collapse_alarm(fake, real, (), feature_extractor, toy, diversity_threshold,
                                        coverage_threshold, sample_coverage_threshold, batch_size, seed,
                                        inception_weights)[1]


def evaluate_with_collapse_alarm(fake, real, metrics=None, feature_extractor="auto", toy=None,
                                 diversity_threshold=0.5, coverage_threshold=0.8, sample_coverage_threshold=0.15,
                                 batch_size=500, seed=0, inception_weights="imagenet"):
    """`evaluate_samples` and `detect_mode_collapse` from one feature extraction.

    Returns (scores, alarm): `scores` has the requested `metrics` (None: the extractor's
    defaults) plus those the alarm needs; `alarm` is what `detect_mode_collapse` returns.
    """
    toy_spec = _toy_spec(toy)
    extractor = _resolve_extractor(feature_extractor, fake, toy_spec)
    if toy_spec is not None:
        extractor = None  # the mixture's own points: no feature extractor
        needed, coverage_of = ("diversity", "modes"), lambda scores: scores["modes"] / len(toy_spec[0])
    elif extractor in CLASSIFIERS:
        covered = CLASSIFIERS[extractor].covered_name
        needed, coverage_of = ("diversity", "coverage"), lambda scores: scores[covered] / 10
    else:
        needed, coverage_of = ("diversity", "pr"), lambda scores: scores["recall"]
    if metrics is None:
        metrics = DEFAULT_METRICS["toy" if toy_spec is not None else extractor]
    scores = evaluate_samples(fake, real, tuple(dict.fromkeys(tuple(metrics) + needed)), extractor, batch_size,
                              seed, toy, inception_weights=inception_weights)
    coverage = coverage_of(scores)
    reasons = []
    if scores["diversity"] < diversity_threshold:
        reasons.append(f"diversity {scores['diversity']:.3f} < {diversity_threshold}")
    if scores["sample_coverage"] < sample_coverage_threshold:
        reasons.append(f"sample coverage {scores['sample_coverage']:.3f} < {sample_coverage_threshold} (most real "
                       "neighbourhoods hold no generated sample)")
    if coverage < coverage_threshold:
        reasons.append(f"coverage {coverage:.3f} < {coverage_threshold}")
    return scores, {"diversity": scores["diversity"], "sample_coverage": scores["sample_coverage"],
                    "coverage": float(coverage), "collapsed": bool(reasons), "reason": "; ".join(reasons)}
