"""The Fashion-MNIST metrics: ganzoo's shipped Fashion-MNIST classifier through the same code path
as the MNIST one (features.CLASSIFIERS), its names (fashion_fd is not Inception FID), pr k = 5,
the classifier chosen from the dataset, and its shipped accuracy and reference rows."""

import numpy as np
import pytest

from ganzoo import metrics
from ganzoo.data.sources import fashion_mnist as fm
from ganzoo.metrics import features as feature_lib
from ganzoo.metrics import statistics

needs_real_files = pytest.mark.skipif(
    fm.find_directory() is None, reason="Fashion-MNIST's files are not installed: apt-get install "
    "dataset-fashion-mnist (or run keras.datasets.fashion_mnist.load_data() once with network)")
FASHION_NAMES = {"fashion_fd", "kid_mean", "kid_std", "fashion_score", "fashion_score_std", "precision", "recall",
                 "classes_covered", "class_kl"}


def _images(n, seed):
    """Blobs on the -1 background, in [-1, 1] (28x28x1)."""
    rng = np.random.default_rng(seed)
    images = -np.ones((n, 28, 28, 1), np.float32)
    for i in range(n):
        top, left = rng.integers(2, 12, 2)
        images[i, top:top + 14, left:left + rng.integers(6, 14)] = rng.uniform(0, 1)
    return images


def test_the_classifier_ships_small_with_its_test_accuracy_and_references():
    files = feature_lib.CLASSIFIERS["fashion_mnist"]
    assert files.weights.stat().st_size < 1_000_000
    info = metrics.classifier_info("fashion_mnist")
    assert info["training"]["test_accuracy"] >= 0.92 and "60,000 training images only" in info["split"]
    assert info["class_names"][9] == "Ankle boot"
    rows = info["reference"]["vs_test_10k"]
    floor = rows["real_train_10k"]
    # Real data is the floor; each bad set is worse on the metric that should catch it.
    assert floor["classes_covered"] == 10 and floor["class_kl"] < 0.01 and floor["precision"] > 0.7
    for bad in ("shuffled_pixels", "blurred", "one_class"):
        assert rows[bad]["fashion_fd"] > 10 * floor["fashion_fd"], bad
    assert rows["one_class"]["class_kl"] > 1 and rows["one_class"]["recall"] < 0.2  # a few stray labels
    assert rows["shuffled_pixels"]["precision"] < 0.1
    assert floor["conditional_accuracy"] == pytest.approx(info["training"]["train_accuracy"], abs=0.02)


def test_evaluate_samples_gives_the_fashion_names_and_k_5():
    fake, real = _images(60, 0), _images(80, 1)
    scores = metrics.evaluate_samples(fake, real, feature_extractor="fashion_mnist")
    assert set(scores) == FASHION_NAMES
    # One code path: the same numbers as the statistics on the classifier's own outputs.
    model = feature_lib.classifier_feature_model("fashion_mnist")
    fake_features, fake_probabilities = feature_lib.extract_features(model, fake)
    real_features, _ = feature_lib.extract_features(model, real)
    assert scores["fashion_fd"] == pytest.approx(statistics.frechet_distance_from_features(fake_features,
                                                                                             real_features))
    assert scores["fashion_score"] == pytest.approx(statistics.inception_score(fake_probabilities, splits=10)[0])
    rng = np.random.default_rng(0)
    subset = rng.choice(80, 60, replace=False)
    k5 = statistics.precision_recall(real_features[subset], fake_features, k=5)
    assert (scores["precision"], scores["recall"]) == pytest.approx(k5)
    # The MNIST classifier on the same images: its own names, k = 3, other features.
    mnist = metrics.evaluate_samples(fake, real, feature_extractor="mnist")
    assert {"mnist_fd", "digits_covered", "digit_kl"} <= set(mnist) and "fashion_fd" not in mnist
    assert mnist["mnist_fd"] != pytest.approx(scores["fashion_fd"])


def test_the_collapse_alarm_counts_fashion_classes():
    from ganzoo.metrics.evaluate import evaluate_with_collapse_alarm

    real = _images(100, 2)
    scores, alarm = evaluate_with_collapse_alarm(np.repeat(real[:1], 100, axis=0), real,
                                                 feature_extractor="fashion_mnist")
    assert alarm["collapsed"] and alarm["coverage"] == pytest.approx(scores["classes_covered"] / 10)
    assert alarm["coverage"] == pytest.approx(0.1)


def test_the_classifier_follows_the_dataset():
    from ganzoo.cli.evaluate import _extractor, reference_split

    assert metrics.classifier_for_dataset("fashion_mnist") == "fashion_mnist"
    assert metrics.classifier_for_dataset("tfds:fashion_mnist") == "fashion_mnist"
    assert metrics.classifier_for_dataset("mnist_sample") == "mnist"
    assert metrics.classifier_for_dataset("cifar10") is None
    images = np.zeros((2, 28, 28, 1))
    assert _extractor("auto", "fashion_mnist", images) == "fashion_mnist"
    assert _extractor("auto", "mnist_sample", images) == "mnist"
    assert _extractor("auto", "dir:shoes", images) == "auto"
    assert _extractor("mnist", "fashion_mnist", images) == "mnist"  # an explicit choice wins
    assert _extractor("none", "fashion_mnist", images) is None
    assert reference_split("fashion_mnist") == "test" and reference_split("fashion_mnist", "train") == "train"
    with pytest.raises(ValueError, match="'mnist', 'fashion_mnist', 'inception'"):
        metrics.evaluate_samples(images, images, feature_extractor="fashion")


@needs_real_files
def test_the_classifier_scores_real_test_images_and_their_labels():
    from ganzoo.data import load_real_samples

    images, labels = load_real_samples("fashion_mnist", 2000, split="test", seed=0, with_labels=True)
    probabilities = feature_lib.extract_features(feature_lib.load_classifier("fashion_mnist"), images)
    assert np.mean(probabilities.argmax(axis=1) == labels) >= 0.9
    train, train_labels = load_real_samples("fashion_mnist", 2000, split="train", seed=0, with_labels=True)
    scores = metrics.classifier_conditional_metrics(train, train_labels, images, labels, classifier="fashion_mnist")
    assert scores["conditional_accuracy"] >= 0.9 and len(scores["per_class_fashion_fd"]) == 10
    assert scores["mean_per_class_fashion_fd"] < 1  # 0.15 on 10,000 training vs the 10,000 test images
