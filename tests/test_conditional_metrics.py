"""Metrics of conditional generators on real inputs: real MNIST digits with their true labels
score like a perfect conditional generator, with shuffled labels like one that ignores them."""

import numpy as np
import pytest

from ganzoo.data import mnist_sample_arrays, toy_distribution
from ganzoo.metrics import (conditional_accuracy, mnist_conditional_metrics, per_class_frechet_distance,
                            toy_conditional_metrics)


def _digits(split):
    images, labels = mnist_sample_arrays(split)
    return images.astype(np.float32) / 127.5 - 1.0, labels


def test_mnist_conditional_metrics_on_real_digits_true_and_shuffled_labels():
    test_images, test_labels = _digits("test")      # 500 held-out digits play the generator
    train_images, train_labels = _digits("train")   # the real data of each class
    true = mnist_conditional_metrics(test_images, test_labels, train_images, train_labels)
    shuffled_labels = np.random.default_rng(0).permutation(test_labels)
    shuffled = mnist_conditional_metrics(test_images, shuffled_labels, train_images, train_labels)
    # The classifier's held-out accuracy is 98.4% (ganzoo/weights/mnist_classifier.json).
    assert true["conditional_accuracy"] > 0.95
    assert min(true["per_class_accuracy"]) > 0.85 and len(true["per_class_accuracy"]) == 10
    assert 0.04 < shuffled["conditional_accuracy"] < 0.17  # chance on 10 classes
    assert set(true["per_class_mnist_fd"]) == set(range(10))
    # Wrong digits per label: each class's samples are a mixture of all digits, far from it.
    assert shuffled["mean_per_class_mnist_fd"] > 5 * true["mean_per_class_mnist_fd"]


def test_conditional_accuracy_hand_values():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    scores = conditional_accuracy(probabilities, [0, 1, 1, 0])
    assert scores["conditional_accuracy"] == pytest.approx(0.75)
    assert scores["per_class_accuracy"][:2] == [1.0, 0.5] and np.isnan(scores["per_class_accuracy"][2])
    with pytest.raises(ValueError, match="one per sample"):
        conditional_accuracy(probabilities, [0, 1])


def test_per_class_fd_is_zero_for_identical_classes_and_needs_samples():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    labels = np.repeat([0, 1], 20)
    fd = per_class_frechet_distance(features, labels, features, labels)
    assert fd["per_class_fd"] == pytest.approx({0: 0.0, 1: 0.0}, abs=1e-6)
    shifted = per_class_frechet_distance(features, labels, features + [[3.0, 0.0, 0.0]], labels)
    assert shifted["mean_per_class_fd"] == pytest.approx(9.0, rel=1e-6)  # ||mean shift||^2
    with pytest.raises(ValueError, match="No class has 2"):
        per_class_frechet_distance(features[:1], labels[:1], features[:1], labels[:1])


@pytest.mark.parametrize("name", ["gaussian_ring", "gaussian_grid"])
def test_toy_samples_land_in_their_requested_mode(name):
    dist = toy_distribution(name)
    points, modes = dist.sample(4000, seed=0, return_modes=True)
    true = toy_conditional_metrics(points, modes, dist.centers, dist.sigma)
    # A 2-D Gaussian puts 1 - exp(-4.5) = 98.9% of its mass within 3 sigma.
    assert true["in_requested_mode"] == pytest.approx(1 - np.exp(-4.5), abs=0.01)
    assert true["nearest_is_requested"] == 1.0
    shuffled = toy_conditional_metrics(points, np.random.default_rng(1).permutation(modes), dist.centers, dist.sigma)
    assert shuffled["in_requested_mode"] == pytest.approx(1 / dist.num_modes, abs=0.03)
    with pytest.raises(ValueError, match="mode indices"):
        toy_conditional_metrics(points, np.full(len(points), dist.num_modes), dist.centers, dist.sigma)
