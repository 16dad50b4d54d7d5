"""Tests for ganzoo.metrics: closed forms, brute-force references, real-data sanity, bad input."""

import itertools
import math
import time

import keras
import numpy as np
import pytest
import scipy.linalg

from ganzoo import metrics
from ganzoo.metrics import features as feature_lib
from ganzoo.metrics import toy

# ---------------------------------------------------------------- helpers and fixtures


def random_spd(dim, rng, rank=None):
    a = rng.standard_normal((dim, rank or dim))
    return a @ a.T / (rank or dim) + (0 if rank else 0.1 * np.eye(dim))


def closed_form_fd(mu1, s1, mu2, s2):
    # Reference through scipy's iterative sqrtm (the formula as written in Heusel et al.).
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


# ---------------------------------------------------------------- Frechet distance


def test_frechet_distance_diagonal_closed_form():
    # For commuting (diagonal) covariances: ||mu1 - mu2||^2 + sum (sqrt(a) - sqrt(b))^2.
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 5.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_sqrtm_reference_and_is_zero_for_identical():
    rng = np.random.default_rng(0)
    s1, s2 = random_spd(16, rng), random_spd(16, rng)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(closed_form_fd(mu1, s1, mu2, s2), rel=1e-8)
    assert metrics.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_is_real_and_finite_for_singular_covariances():
    # Rank-deficient covariances (fewer samples than dimensions) are where sqrtm returns complex
    # parts or NaNs; the eigenvalue route must stay real, finite and non-negative.
    rng = np.random.default_rng(1)
    s1, s2 = random_spd(64, rng, rank=5), random_spd(64, rng, rank=3)
    value = metrics.frechet_distance(np.zeros(64), s1, np.zeros(64), s2)
    assert isinstance(value, float) and math.isfinite(value) and value >= 0
    assert value == pytest.approx(closed_form_fd(np.zeros(64), s1, np.zeros(64), s2), rel=1e-4, abs=1e-6)
    assert metrics.frechet_distance(np.zeros(64), s1, np.zeros(64), s1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_gaussian_features_matches_closed_form():
    rng = np.random.default_rng(2)
    dim = 4
    s1, s2 = random_spd(dim, rng), random_spd(dim, rng)
    mu1, mu2 = np.zeros(dim), np.full(dim, 0.5)
    x = rng.multivariate_normal(mu1, s1, size=100_000)
    y = rng.multivariate_normal(mu2, s2, size=100_000)
    expected = closed_form_fd(mu1, s1, mu2, s2)
    assert metrics.frechet_distance_from_features(x, y) == pytest.approx(expected, rel=0.03)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes do not match"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="feature dimensions differ"):
        metrics.frechet_distance_from_features(np.zeros((5, 3)), np.zeros((5, 2)))


# ---------------------------------------------------------------- KID, IS, precision/recall, coverage


def test_kid_of_identical_distributions_is_about_zero_and_positive_when_shifted():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2000, 16)), rng.standard_normal((2000, 16))
    mean, std = metrics.kernel_inception_distance(x, y, num_subsets=20, subset_size=500)
    assert abs(mean) < 3 * std / np.sqrt(20) + 1e-3
    shifted_mean, shifted_std = metrics.kernel_inception_distance(x, y + 0.5, num_subsets=20, subset_size=500)
    assert shifted_mean > 10 * max(abs(mean), std)


def test_kid_matches_explicit_unbiased_formula():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)) + 1
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    # One subset of the full size is a permutation of the data: the exact statistic.
    mean, std = metrics.kernel_inception_distance(y, x, num_subsets=1, subset_size=6)
    # Kernels are computed in float32: agreement to ~1e-7 absolute (KID values are ~1e-3).
    assert mean == pytest.approx(xx + yy - 2 * xy, abs=2e-6) and std == 0


def test_inception_score_extremes():
    assert metrics.inception_score(np.full((100, 10), 0.1), splits=5)[0] == pytest.approx(1.0)
    confident_even = np.eye(10)[np.arange(100) % 10]
    assert metrics.inception_score(confident_even, splits=5)[0] == pytest.approx(10.0, rel=1e-6)
    one_class = np.eye(10)[np.zeros(100, int)]
    assert metrics.inception_score(one_class, splits=5)[0] == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="softmax"):
        metrics.inception_score(np.ones((10, 10)))


def brute_force_precision_recall(real, fake, k):
    def radii(points):
        return [sorted(np.sum((points - p) ** 2, axis=1))[k] for p in points]

    def inside(queries, support, support_radii):
        return np.mean([any(np.sum((q - s) ** 2) <= r for s, r in zip(support, support_radii)) for q in queries])

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def test_precision_recall_matches_brute_force_with_batching():
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((60, 3)), 0.7 * rng.standard_normal((50, 3)) + 0.5
    expected = brute_force_precision_recall(real.astype(np.float32), fake.astype(np.float32), k=3)
    assert metrics.precision_recall(real, fake, k=3, batch_size=7) == pytest.approx(expected)


def test_precision_recall_separate_quality_from_coverage():
    rng = np.random.default_rng(6)
    real = rng.standard_normal((1000, 8))
    same = metrics.precision_recall(real, rng.standard_normal((1000, 8)))
    assert min(same) > 0.6
    # A generator producing only a small core of the distribution: precise but poor recall.
    collapsed = 0.1 * rng.standard_normal((1000, 8))
    precision, recall = metrics.precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.2
    # A generator off the data manifold: no precision.
    assert metrics.precision_recall(real, real + 20)[0] == 0.0


def test_mode_coverage_counts_classes_and_reverse_kl():
    uniform = np.full(10, 0.1)
    assert metrics.mode_coverage(np.arange(1000) % 10, uniform) == (10, pytest.approx(0.0, abs=1e-12))
    covered, kl = metrics.mode_coverage(np.arange(1000) % 4, uniform)
    assert covered == 4 and kl == pytest.approx(np.log(10 / 4))
    assert metrics.mode_coverage([3] * 50, uniform)[1] == pytest.approx(np.log(10))
    assert metrics.mode_coverage([0, 1, 1], uniform, min_count=2)[0] == 1


def test_sample_diversity_is_one_for_same_distribution_and_zero_for_collapse():
    rng = np.random.default_rng(7)
    real = rng.standard_normal((800, 5))
    assert metrics.sample_diversity(rng.standard_normal((800, 5)), real) == pytest.approx(1.0, abs=0.05)
    assert metrics.sample_diversity(np.ones((100, 5)), real) == 0.0


# ---------------------------------------------------------------- 2-D toy metrics


@pytest.mark.parametrize("centers,sigma", [(toy.RING_CENTERS, 0.01), (toy.GRID_CENTERS, 0.05)],
                         ids=["gaussian_ring", "gaussian_grid"])
def test_true_distribution_scores_all_modes_and_98_9_percent_high_quality(centers, sigma):
    samples = metrics.sample_mixture(centers, sigma, 2500, seed=11)
    scores = metrics.toy_mode_metrics(samples, centers, sigma)
    assert scores["modes"] == len(centers)
    # Mass of a 2-D standard Gaussian within radius 3: 1 - exp(-9/2) = 0.98889; binomial sd ~0.002.
    assert scores["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.008)
    assert scores["reverse_kl"] < 0.03


@pytest.mark.parametrize("centers,sigma", [(toy.RING_CENTERS, 0.01), (toy.GRID_CENTERS, 0.05)],
                         ids=["gaussian_ring", "gaussian_grid"])
def test_single_mode_generator_scores_one_mode(centers, sigma):
    rng = np.random.default_rng(12)
    samples = centers[3] + sigma * rng.standard_normal((2500, 2))
    scores = metrics.toy_mode_metrics(samples, centers, sigma)
    assert scores["modes"] == 1
    assert scores["reverse_kl"] == pytest.approx(np.log(len(centers)))


def test_samples_far_from_every_mode_are_not_high_quality():
    scores = metrics.toy_mode_metrics(np.zeros((100, 2)), toy.RING_CENTERS, 0.01)
    assert scores == {"modes": 0, "high_quality": 0.0, "reverse_kl": float("inf")}


def test_w1_matches_brute_force_over_all_matchings():
    rng = np.random.default_rng(13)
    for _ in range(3):
        p, q = rng.standard_normal((6, 2)), rng.standard_normal((6, 2)) + 1
        brute = min(np.mean(np.linalg.norm(p - q[list(perm)], axis=1)) for perm in itertools.permutations(range(6)))
        assert metrics.wasserstein1_distance(p, q) == pytest.approx(brute)


def test_w1_of_a_translated_set_is_the_translation_length_and_requires_equal_sizes():
    p = np.random.default_rng(14).standard_normal((50, 2))
    assert metrics.wasserstein1_distance(p, p + [3.0, 4.0]) == pytest.approx(5.0)
    assert metrics.wasserstein1_distance(p, p[::-1]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same shape"):
        metrics.wasserstein1_distance(p, p[:10])


def test_binned_js_is_zero_for_identical_and_log2_for_disjoint_distributions():
    a = metrics.sample_mixture(toy.RING_CENTERS, 0.01, 2500, seed=15)
    b = metrics.sample_mixture(toy.RING_CENTERS, 0.01, 2500, seed=16)
    assert metrics.binned_js_divergence(a, b) < 0.02
    assert metrics.binned_js_divergence(a, a) == pytest.approx(0.0, abs=1e-12)
    assert metrics.binned_js_divergence(a, b + 5.0) == pytest.approx(np.log(2))
    grid = metrics.sample_mixture(toy.GRID_CENTERS, 0.05, 2500, seed=17)
    assert metrics.binned_js_divergence(grid, a) > 0.6


def test_evaluate_samples_on_toy_data():
    spec = {"centers": toy.GRID_CENTERS, "sigma": 0.05}
    fake = metrics.sample_mixture(toy.GRID_CENTERS, 0.05, 500, seed=18)
    real = metrics.sample_mixture(toy.GRID_CENTERS, 0.05, 500, seed=19)
    scores = metrics.evaluate_samples(fake, real, toy=spec)
    assert set(scores) == {"modes", "high_quality", "reverse_kl", "js", "w1"}
    assert scores["modes"] == 25 and scores["w1"] < 0.5
    collapsed = metrics.evaluate_samples(np.tile([[4.0, 4.0]], (500, 1)), real, toy=spec)
    assert collapsed["modes"] == 1 and collapsed["w1"] > 3
    with pytest.raises(ValueError, match="toy"):
        metrics.evaluate_samples(fake, real, metrics=("modes",))


# ---------------------------------------------------------------- feature extractors


def test_missing_inception_weights_raise_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(feature_lib.INCEPTION_ENV_VAR, raising=False)
    with pytest.raises(metrics.InceptionWeightsNotFoundError) as error:
        metrics.resolve_inception_weights()
    message = str(error.value)
    assert feature_lib.INCEPTION_NOTOP_FILE in message and str(tmp_path / "models") in message
    assert feature_lib.INCEPTION_ENV_VAR in message
    with pytest.raises(metrics.InceptionWeightsNotFoundError, match=feature_lib.INCEPTION_TOP_FILE):
        metrics.resolve_inception_weights(include_top=True)
    # The whole evaluation path fails fast with the same error (nothing is downloaded).
    images = np.zeros((4, 8, 8, 3), np.float32)
    start = time.time()
    with pytest.raises(metrics.InceptionWeightsNotFoundError):
        metrics.evaluate_samples(images, images, feature_extractor="inception")
    assert time.time() - start < 30
    monkeypatch.setenv(feature_lib.INCEPTION_ENV_VAR, str(tmp_path / "nope.h5"))
    with pytest.raises(metrics.InceptionWeightsNotFoundError, match="nope.h5"):
        metrics.resolve_inception_weights()


def test_inception_weights_are_found_in_env_var_and_keras_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(feature_lib.INCEPTION_ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cached = tmp_path / "models" / feature_lib.INCEPTION_NOTOP_FILE
    cached.parent.mkdir()
    cached.write_bytes(b"")
    assert metrics.resolve_inception_weights() == str(cached)
    explicit = tmp_path / "mine.h5"
    explicit.write_bytes(b"")
    monkeypatch.setenv(feature_lib.INCEPTION_ENV_VAR, str(explicit))
    assert metrics.resolve_inception_weights() == str(explicit)


@pytest.mark.slow
def test_inception_feature_shapes_with_random_weights():
    # Shape plumbing only (random weights): gray 8x8 images upsampled to the 75x75 minimum.
    model = metrics.load_inception(weights=None, channels=1, image_size=75)
    images = np.random.default_rng(20).uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)
    features = metrics.extract_features(model, images, batch_size=2)
    assert features.shape == (3, 2048) and np.all(np.isfinite(features))
    with_top = metrics.load_inception(weights=None, include_top=True, channels=3, image_size=75)
    pool, probabilities = metrics.extract_features(with_top, np.repeat(images, 3, axis=-1), batch_size=2)
    assert pool.shape == (3, 2048) and probabilities.shape == (3, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


def test_mnist_classifier_held_out_accuracy(mnist_split):
    _, (x_test, y_test) = mnist_split
    model = metrics.load_mnist_classifier()
    assert metrics.load_mnist_classifier() is model  # cached
    probabilities = metrics.extract_features(model, x_test, batch_size=128)
    accuracy = np.mean(probabilities.argmax(axis=1) == y_test)
    assert accuracy >= 0.97
    assert metrics.mnist_classifier_info()["training"]["test_accuracy"] == pytest.approx(accuracy, abs=0.002)


def test_batched_extraction_matches_a_single_forward_pass(mnist_split):
    _, (x_test, _) = mnist_split
    model = feature_lib.mnist_feature_model()
    features, probabilities = metrics.extract_features(model, x_test[:37], batch_size=16)  # 16 + 16 + 5 (padded)
    direct_features, direct_probabilities = (keras.ops.convert_to_numpy(o) for o in model(x_test[:37], training=False))
    np.testing.assert_allclose(features, direct_features, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(probabilities, direct_probabilities, rtol=1e-4, atol=1e-6)
    assert features.shape == (37, 128)


# ---------------------------------------------------------------- evaluate_samples on real MNIST


def test_mnist_fd_of_real_halves_is_near_zero_and_far_below_a_shifted_set(mnist_split):
    (x_train, _), _ = mnist_split
    first, second = x_train[:2000], x_train[2000:4000]
    halves = metrics.evaluate_samples(first, second, metrics=("fd",))["mnist_fd"]
    # Translate the digits by 4 pixels (background fills with -1): plausible strokes, wrong statistics.
    shifted = np.full_like(second, -1.0)
    shifted[:, 4:, 4:] = second[:, :-4, :-4]
    against_shifted = metrics.evaluate_samples(first, shifted, metrics=("fd",))["mnist_fd"]
    assert halves < 1.0
    assert against_shifted > 10 * halves


def test_evaluate_samples_mnist_defaults_and_real_data_scores(mnist_split):
    (x_train, y_train), (x_test, _) = mnist_split
    scores = metrics.evaluate_samples(x_test, x_train[:1000], kid_subsets=10)
    assert set(scores) == {"mnist_fd", "kid_mean", "kid_std", "mnist_score", "mnist_score_std", "precision",
                           "recall", "digits_covered", "digit_kl"}
    assert all(isinstance(v, float) for v in scores.values())
    assert scores["digits_covered"] == 10 and scores["digit_kl"] < 0.05
    assert scores["mnist_score"] > 7 and min(scores["precision"], scores["recall"]) > 0.8
    # A generator that only draws ones.
    ones = x_train[y_train == 1]
    collapsed = metrics.evaluate_samples(ones, x_train[:1000], metrics=("coverage", "is"))
    assert collapsed["digits_covered"] <= 3 and collapsed["digit_kl"] > 1.5 and collapsed["mnist_score"] < 2


def test_detect_mode_collapse(mnist_split):
    (x_train, _), (x_test, _) = mnist_split
    healthy = metrics.detect_mode_collapse(x_test, x_train[:1000])
    assert not healthy["collapsed"] and healthy["reason"] == ""
    assert healthy["diversity"] == pytest.approx(1.0, abs=0.15) and healthy["coverage"] == 1.0
    repeated = np.repeat(x_test[:1], 200, axis=0)
    collapsed = metrics.detect_mode_collapse(repeated, x_train[:1000])
    assert collapsed["collapsed"] and collapsed["diversity"] < 0.01 and "diversity" in collapsed["reason"]
    spec = {"centers": toy.RING_CENTERS, "sigma": 0.01}
    one_mode = toy.RING_CENTERS[0] + 0.01 * np.random.default_rng(21).standard_normal((500, 2))
    ring = metrics.sample_mixture(toy.RING_CENTERS, 0.01, 500, seed=22)
    assert metrics.detect_mode_collapse(one_mode, ring, toy=spec)["coverage"] == pytest.approx(1 / 8)
    assert not metrics.detect_mode_collapse(ring, ring[::-1], toy=spec)["collapsed"]


def test_mnist_scores_do_not_depend_on_the_training_precision_policy(mnist_split):
    """A run under mixed_bfloat16 evaluated with a bfloat16 classifier whose softmax failed the check."""
    import keras

    (x_train, _), (x_test, _) = mnist_split
    float32 = metrics.evaluate_samples(x_test[:200], x_train[:200], metrics=("fd", "is"))
    feature_lib.load_classifier.cache_clear()
    feature_lib.classifier_feature_model.cache_clear()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = metrics.evaluate_samples(x_test[:200], x_train[:200], metrics=("fd", "is"))
    finally:
        feature_lib.load_classifier.cache_clear()
        feature_lib.classifier_feature_model.cache_clear()
    assert mixed == pytest.approx(float32, rel=1e-5)


def test_sample_coverage_sees_partial_collapse_that_diversity_misses():
    rng = np.random.default_rng(31)
    centers = 6.0 * rng.standard_normal((10, 8))
    labels = rng.integers(0, 10, 1000)
    real = centers[labels] + rng.standard_normal((1000, 8))
    same = centers[rng.integers(0, 10, 1000)] + rng.standard_normal((1000, 8))
    ten_repeated = np.repeat(same[:10], 100, axis=0)
    half_classes = centers[rng.integers(0, 5, 1000)] + rng.standard_normal((1000, 8))
    # Pairwise spread keeps ten repeated outputs looking diverse ...
    assert metrics.sample_diversity(ten_repeated, real) > 0.8
    # ... coverage does not: ~1 - 2^-5 for the same distribution, the kept share for dropped classes.
    assert metrics.sample_coverage(real, same) == pytest.approx(1 - 2 ** -5, abs=0.03)
    assert metrics.sample_coverage(real, ten_repeated) < 0.1
    assert metrics.sample_coverage(real, half_classes) == pytest.approx(0.5, abs=0.06)


def test_collapse_alarm_trips_on_partial_collapse_not_on_real_data(mnist_split):
    (x_train, y_train), (x_test, _) = mnist_split
    reference = x_train[:1000]
    healthy = metrics.detect_mode_collapse(x_test, reference)
    assert not healthy["collapsed"] and healthy["sample_coverage"] > 0.8
    # Ten distinct digits (one per class), each repeated 100 times: all ten classes and the
    # pairwise spread of real data, but real neighbourhoods stay empty.
    ten = np.concatenate([x_train[y_train == digit][:1] for digit in range(10)])
    repeated = metrics.detect_mode_collapse(np.repeat(ten, 100, axis=0), reference)
    assert repeated["coverage"] == 1.0 and repeated["diversity"] > 0.8
    assert repeated["collapsed"] and "sample coverage" in repeated["reason"]
    half = metrics.detect_mode_collapse(x_train[y_train < 5][:1000], reference)
    assert half["collapsed"] and half["coverage"] <= 0.6  # a few misclassified digits count too
    # 2-D toy: ten distinct points repeated 100 times on the ring's modes, and half the modes dropped.
    spec = {"centers": toy.RING_CENTERS, "sigma": 0.01}
    ring = metrics.sample_mixture(toy.RING_CENTERS, 0.01, 1000, seed=32)
    assert not metrics.detect_mode_collapse(metrics.sample_mixture(toy.RING_CENTERS, 0.01, 1000, seed=33), ring,
                                            toy=spec)["collapsed"]
    ten_points = np.concatenate([toy.RING_CENTERS, toy.RING_CENTERS[:2]]) + 0.005 * np.random.default_rng(35).standard_normal((10, 2))
    toy_repeated = metrics.detect_mode_collapse(np.repeat(ten_points, 100, axis=0), ring, toy=spec)
    assert toy_repeated["collapsed"] and toy_repeated["coverage"] == 1.0
    half_ring = metrics.sample_mixture(toy.RING_CENTERS[:4], 0.01, 1000, seed=34)
    assert metrics.detect_mode_collapse(half_ring, ring, toy=spec)["collapsed"]


def test_evaluate_samples_rejects_bad_input(mnist_split):
    _, (x_test, _) = mnist_split
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.evaluate_samples((x_test + 1) * 127.5, x_test)
    with pytest.raises(ValueError, match=r"\(28, 28, 1\)"):
        metrics.evaluate_samples(np.zeros((4, 32, 32, 1), np.float32), x_test, feature_extractor="mnist")
    with pytest.raises(ValueError, match="unknown metrics"):
        metrics.evaluate_samples(x_test, x_test, metrics=("fid",))
    with pytest.raises(ValueError, match="classifier"):
        metrics.evaluate_samples(x_test, x_test, metrics=("is",), feature_extractor=None)
    with pytest.raises(ValueError, match="feature_extractor"):
        metrics.evaluate_samples(x_test, x_test, feature_extractor="vgg")


def test_evaluate_samples_on_raw_values_names_and_shift_sensitivity():
    rng = np.random.default_rng(23)
    real = rng.uniform(-1, 1, (300, 4, 4, 1)).astype(np.float32)
    same = metrics.evaluate_samples(rng.uniform(-1, 1, (300, 4, 4, 1)), real, feature_extractor=None, kid_subsets=5)
    assert set(same) == {"fd", "kid_mean", "kid_std", "precision", "recall"}
    shifted = metrics.evaluate_samples(rng.uniform(0, 1, (300, 4, 4, 1)), real, feature_extractor=None,
                                       kid_subsets=5)
    assert shifted["fd"] > 10 * same["fd"] and shifted["kid_mean"] > same["kid_mean"] + 5 * same["kid_std"]


def test_binned_js_keeps_outliers_in_a_fixed_range():
    ring = metrics.sample_mixture(toy.RING_CENTERS, 0.01, 2000, seed=24)
    value_range = toy.toy_value_range(toy.RING_CENTERS, 0.01)
    with_outlier = ring.copy()
    with_outlier[0] = [1000.0, 1000.0]
    # One far point barely changes the estimate instead of collapsing the grid into one bin.
    assert metrics.binned_js_divergence(with_outlier, ring, value_range=value_range) < 0.01
    everything_far = np.full_like(ring, 50.0)
    assert metrics.binned_js_divergence(everything_far, ring, value_range=value_range) == pytest.approx(np.log(2))
