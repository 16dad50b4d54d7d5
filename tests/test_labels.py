"""Labels from every source (opt-in with `with_labels=True`): int32 labels that belong to their
samples, and class names in `dataset_info` and on the dataset, in a documented order."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganzoo import data
from ganzoo.data import load_dataset


def _all(ds):
    parts = list(ds.as_numpy_iterator())
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def test_mnist_sample_labels_are_the_digits_of_their_images():
    ds = load_dataset("mnist_sample", batch_size=50, split="test", shuffle=False, with_labels=True)
    images, labels = _all(ds)
    stored_images, stored_labels = data.mnist_sample_arrays("test")
    np.testing.assert_array_equal(labels, stored_labels)
    np.testing.assert_allclose(images, stored_images / 127.5 - 1, atol=1e-6)
    # Shuffled, every image keeps its own label: look each one up in the stored split.
    shuffled_images, shuffled_labels = _all(load_dataset("mnist_sample", batch_size=50, split="test", seed=3,
                                                         with_labels=True))
    assert not np.array_equal(shuffled_labels, stored_labels)
    key = {img.tobytes(): lab for img, lab in zip(np.round((images + 1) * 127.5).astype(np.uint8), labels)}
    looked_up = [key[img.tobytes()] for img in np.round((shuffled_images + 1) * 127.5).astype(np.uint8)]
    np.testing.assert_array_equal(shuffled_labels, looked_up)
    assert ds.class_names == tuple("0123456789") and labels.dtype == np.int32
    assert data.dataset_info("mnist_sample")["class_names"] == tuple("0123456789")


@pytest.mark.parametrize("name", ["gaussian_ring", "gaussian_grid"])
def test_toy_labels_are_the_mode_each_point_was_drawn_from(name):
    dist = data.toy_distribution(name)
    ds = load_dataset(name, batch_size=100, seed=0, num_examples=2000, with_labels=True)
    points, modes = _all(ds)
    nearest, distance = dist.nearest_mode(points)
    np.testing.assert_array_equal(modes, nearest)  # sigma is small: the drawn mode is the nearest
    assert distance.max() < 6 * dist.sigma
    assert len(ds.class_names) == dist.num_modes == data.dataset_info(name)["num_classes"]
    assert ds.class_names[0] == f"({dist.centers[0][0]:.3g}, {dist.centers[0][1]:.3g})"


def test_folder_labels_follow_sorted_sub_folder_names(tmp_path):
    # Created out of order, with a value per class, so a wrong mapping shows.
    values = {"zebra": 200, "apple": 10, "Mango": 120}  # sorted: Mango, apple, zebra
    for name, value in values.items():
        for i in range(3):
            path = tmp_path / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((4, 4), value, np.uint8)).save(path)
    info = data.dataset_info(str(tmp_path))
    assert info["class_names"] == ("Mango", "apple", "zebra") and info["num_classes"] == 3
    for cache in (True, False):  # in memory, and streamed from the files
        ds = load_dataset(str(tmp_path), batch_size=3, seed=0, with_labels=True, cache=cache)
        images, labels = _all(ds)
        assert ds.class_names == ("Mango", "apple", "zebra")
        pixel = np.round((images[:, 0, 0, 0] + 1) * 127.5).astype(int)
        assert {int(v): int(lab) for v, lab in zip(pixel, labels)} == {120: 0, 10: 1, 200: 2}
    # The first 4 files (Mango's 3 and one of apple's): the names still index every class.
    assert load_dataset(str(tmp_path), batch_size=2, num_examples=4, with_labels=True).class_names == \
        ("Mango", "apple", "zebra")


def test_tfds_labels_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=16):
        ds = load_dataset("cifar10", batch_size=8, seed=0, with_labels=True)
        _, labels = _all(ds)
        info = data.dataset_info("cifar10")
    assert ds.element_spec[1] == tf.TensorSpec((8,), tf.int32)
    assert set(labels) <= set(range(10))
    assert len(ds.class_names) == 10 and info["class_names"] == ds.class_names  # the mock's names: "0".."9"


def test_tfds_class_names_come_from_the_label_feature(tmp_path):
    """A real prepared dataset (no network) whose ClassLabel has names."""
    import tensorflow_datasets as tfds

    class GanzooNamedLabels(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = {"image": tfds.features.Image(shape=(4, 4, 1)),
                        "label": tfds.features.ClassLabel(names=["cat", "dog", "eel"])}
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for i in range(9):  # the image's value says its label
                yield i, {"image": np.full((4, 4, 1), 50 * (i % 3), np.uint8), "label": i % 3}

    GanzooNamedLabels(data_dir=str(tmp_path)).download_and_prepare()
    ds = load_dataset("ganzoo_named_labels", batch_size=3, seed=0, data_dir=str(tmp_path), with_labels=True)
    images, labels = _all(ds)
    assert ds.class_names == ("cat", "dog", "eel")
    assert data.dataset_info("ganzoo_named_labels", data_dir=str(tmp_path))["class_names"] == ("cat", "dog", "eel")
    np.testing.assert_array_equal(np.round((images[:, 0, 0, 0] + 1) * 127.5).astype(int), 50 * labels)


def test_unconditional_loading_is_unchanged():
    ds = load_dataset("mnist_sample", batch_size=8, seed=0)
    assert isinstance(ds.element_spec, tf.TensorSpec) and ds.class_names == ()
