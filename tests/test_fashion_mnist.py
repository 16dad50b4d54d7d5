"""fashion_mnist: the idx reader on small generated files (good, truncated, corrupt, wrong magic,
count mismatch), where the files are looked for, the source through load_dataset and the CLI,
and the real files where the Debian package is installed."""

import gzip
import os
import struct

import numpy as np
import pytest

from ganzoo.data import DatasetError, dataset_info, load_dataset, load_real_samples
from ganzoo.data.sources import FashionMnistSource, TfdsSource, resolve
from ganzoo.data.sources import fashion_mnist as fm

REAL_FILES = fm.find_directory() is not None
needs_real_files = pytest.mark.skipif(
    not REAL_FILES, reason="Fashion-MNIST's files are not installed: apt-get install dataset-fashion-mnist "
    "(or run keras.datasets.fashion_mnist.load_data() once with network)")
SMALL = {"train": 12, "test": 20}


def _idx(array):
    array = np.asarray(array, np.uint8)
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _write(path, payload, compress=True):
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(payload)
        return str(path) + ".gz"
    path.write_bytes(payload)
    return str(path)


def _small_files(folder, compress=True):
    """Four idx files of SMALL sizes: image i of a split is filled with i, label i % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images_name, labels_name) in fm.FASHION_MNIST_FILES.items():
        n = SMALL[split]
        images = np.repeat((np.arange(n) * 20 % 256).astype(np.uint8)[:, None, None], 28 * 28).reshape(n, 28, 28)
        _write(folder / images_name, _idx(images), compress)
        _write(folder / labels_name, _idx(np.arange(n) % 10), compress)
    return folder


@pytest.fixture
def small_splits(monkeypatch):
    """The source expects SMALL split sizes (the real ones are 60,000 / 10,000)."""
    monkeypatch.setattr(fm, "FASHION_MNIST_SPLITS", dict(SMALL))


# ------------------------------------------------------------------------- idx reader
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_reads_good_files_gzipped_or_plain(tmp_path, compress):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    path = _write(tmp_path / "images", _idx(images), compress)
    np.testing.assert_array_equal(fm.read_idx(path, 3, 3, (28, 28)), images)
    labels = _write(tmp_path / "labels", _idx([9, 0, 3]), compress)
    np.testing.assert_array_equal(fm.read_idx(labels, 1, 3), [9, 0, 3])


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_names_a_truncated_file(tmp_path, compress):
    payload = _idx(np.zeros((4, 28, 28)))
    path = _write(tmp_path / "train-images-idx3-ubyte", payload[:-100], compress)
    with pytest.raises(DatasetError, match="truncated") as error:
        fm.read_idx(path, 3, 4, (28, 28))
    assert path in str(error.value)
    header_only = _write(tmp_path / "short", payload[:10], compress)
    with pytest.raises(DatasetError, match="truncated"):
        fm.read_idx(header_only, 3)
    longer = _write(tmp_path / "long", payload + b"\0", compress)
    with pytest.raises(DatasetError, match="longer than its header"):
        fm.read_idx(longer, 3)


def test_read_idx_names_a_cut_gzip_stream(tmp_path):
    path = _write(tmp_path / "t10k-images-idx3-ubyte", _idx(np.random.default_rng(0).integers(0, 255, (5, 28, 28))))
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])  # a download cut off midway
    with pytest.raises(DatasetError, match="Cannot read idx file") as error:
        fm.read_idx(path, 3)
    assert path in str(error.value) and "apt-get install dataset-fashion-mnist" in str(error.value)


def test_read_idx_rejects_a_wrong_magic_number(tmp_path):
    labels = _write(tmp_path / "labels", _idx([1, 2, 3]))
    with pytest.raises(DatasetError, match="magic number is 00000801, expected 00000803") as error:
        fm.read_idx(labels, 3)  # a labels file where images belong
    assert labels in str(error.value)
    png = _write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n" + bytes(100), compress=False)
    with pytest.raises(DatasetError, match="not a uint8 idx file"):
        fm.read_idx(png, 1)
    wrong_type = _write(tmp_path / "floats", bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + bytes(4))
    with pytest.raises(DatasetError, match="magic"):
        fm.read_idx(wrong_type, 1)


def test_read_idx_checks_counts_and_item_shape(tmp_path):
    path = _write(tmp_path / "images", _idx(np.zeros((5, 28, 28))))
    with pytest.raises(DatasetError, match="holds 5 items; expected 6") as error:
        fm.read_idx(path, 3, 6, (28, 28))
    assert path in str(error.value)
    with pytest.raises(DatasetError, match=r"items of shape \(28, 28\); expected \(32, 32\)"):
        fm.read_idx(path, 3, 5, (32, 32))


# -------------------------------------------------------------------------- lookup
def test_files_are_looked_for_in_data_dir_then_keras_cache_then_debian_dir(tmp_path, monkeypatch):
    debian = _small_files(tmp_path / "debian")
    keras_home = tmp_path / "keras_home"
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(debian))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert fm.find_directory() == str(debian)
    cache = _small_files(keras_home / "datasets" / "fashion-mnist", compress=False)  # plain files work too
    assert fm.keras_cache_dir() == str(cache)
    assert fm.find_directory() == str(cache)
    own = _small_files(tmp_path / "own")
    assert fm.find_directory(own) == str(own)
    assert fm.find_directory(str(own)) == str(own)
    # A data_dir without the files is an error naming what is missing, not a silent fallback.
    os.remove(own / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(DatasetError, match=r"missing: t10k-labels-idx1-ubyte\[\.gz\]"):
        fm.find_directory(own)


def test_without_files_or_network_one_error_names_all_three_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_home"))
    calls = []

    def offline():
        calls.append(1)
        raise OSError("URL fetch failure: no network")

    import keras.datasets.fashion_mnist as keras_fashion

    monkeypatch.setattr(keras_fashion, "load_data", offline)
    with pytest.raises(DatasetError) as error:
        load_real_samples("fashion_mnist", 4)
    message = str(error.value)
    assert calls == [1] and "no network" in message
    for way in ("apt-get install dataset-fashion-mnist", "keras.datasets.fashion_mnist.load_data()",
                "--data-dir", str(tmp_path / "empty_home")):
        assert way in message


def test_keras_download_is_used_when_no_files_are_found(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_home"))
    train = (np.full((3, 28, 28), 255, np.uint8), np.array([9, 0, 1], np.uint8))
    test = (np.zeros((2, 28, 28), np.uint8), np.array([5, 6], np.uint8))
    import keras.datasets.fashion_mnist as keras_fashion

    monkeypatch.setattr(keras_fashion, "load_data", lambda: (train, test))
    images, labels = fm.fashion_mnist_arrays("test")
    assert images.shape == (2, 28, 28, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int32 and labels.tolist() == [5, 6]


# ------------------------------------------------------------------------ the source
def test_source_loads_splits_with_class_names_from_small_files(tmp_path, small_splits):
    folder = _small_files(tmp_path / "files")
    assert isinstance(resolve("fashion_mnist"), FashionMnistSource)
    assert isinstance(resolve("tfds:fashion_mnist"), TfdsSource)  # the tfds copy keeps its name
    info = dataset_info("fashion_mnist", split="test", data_dir=folder)
    assert info["num_examples"] == 20 and info["shape"] == (28, 28, 1) and info["num_classes"] == 10
    assert info["class_names"][0] == "T-shirt/top" and info["class_names"][9] == "Ankle boot"
    ds = load_dataset("fashion_mnist", batch_size=4, split="train", data_dir=folder, with_labels=True, seed=0)
    assert ds.class_names == fm.FASHION_MNIST_CLASS_NAMES
    x, y = next(iter(ds))
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == (4, 28, 28, 1) and x.dtype == np.float32
    # Image i is filled with 20 * i and labelled i % 10: labels stay with their images.
    index = np.round((x[:, 0, 0, 0] + 1) * 127.5 / 20).astype(int)
    np.testing.assert_array_equal(y, index % 10)
    test_x, test_y = load_real_samples("fashion_mnist", None, split="test", data_dir=folder, with_labels=True)
    np.testing.assert_allclose((test_x[:, 5, 5, 0] + 1) * 127.5, np.arange(20) * 20 % 256, atol=1e-4)
    assert test_y.tolist() == [i % 10 for i in range(20)]
    assert load_real_samples("fashion_mnist", 3, split="test", data_dir=folder, image_size=14,
                             channels=3).shape == (3, 14, 14, 3)
    with pytest.raises(DatasetError, match=r"splits \['test', 'train'\]"):
        load_dataset("fashion_mnist", batch_size=2, split="validation", data_dir=folder)


def test_a_bad_label_value_is_named(tmp_path, small_splits):
    folder = _small_files(tmp_path / "files")
    _write(folder / "t10k-labels-idx1-ubyte", _idx([0] * 19 + [12]))
    with pytest.raises(DatasetError, match="has label 12"):
        load_real_samples("fashion_mnist", None, split="test", data_dir=folder)


def test_conditional_train_and_evaluate_split_through_the_cli(tmp_path, small_splits, run_main):
    folder = _small_files(tmp_path / "files")
    run = tmp_path / "run"
    code, _, err = run_main(["train", "dcgan", "--dataset", "fashion_mnist", "--data-dir", folder, "--conditional",
                             "--run-dir", run, "--width", "4", "--batch-size", "4", "--steps-per-epoch", "2",
                             "--epochs", "1", "--quiet"])
    assert code == 0, err
    code, out, err = run_main(["sample", run, "--label", "Ankle boot", "--n", "2", "--out", tmp_path / "boots.png"])
    assert code == 0, err
    code, out, err = run_main(["evaluate", run, "--split", "test", "--num-samples", "20", "--metrics", "pr",
                               "--feature-extractor", "none"])
    assert code == 0, err
    assert "20 real examples of fashion_mnist split 'test' (held out from training)" in out
    assert "conditional_accuracy" in out  # through the Fashion-MNIST classifier, 2 test images a class


def test_list_shows_the_dataset_and_its_presets(run_main):
    code, out, _ = run_main(["list"])
    assert code == 0
    assert "fashion_mnist" in out and "apt-get install dataset-fashion-mnist" in out
    for preset in ("dcgan_fashion_mnist", "wgan_gp_fashion_mnist", "sngan_fashion_mnist", "cdcgan_fashion_mnist"):
        assert preset in out


# ---------------------------------------------------------------------- the real files
@needs_real_files
def test_the_real_files_hold_60000_and_10000_balanced_images():
    train_x, train_y = fm.fashion_mnist_arrays("train")
    test_x, test_y = fm.fashion_mnist_arrays("test")
    assert train_x.shape == (60000, 28, 28, 1) and test_x.shape == (10000, 28, 28, 1)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int32
    assert np.bincount(train_y).tolist() == [6000] * 10 and np.bincount(test_y).tolist() == [1000] * 10
    assert train_y[0] == 9 and test_y[0] == 9  # both files open with an ankle boot
    assert train_x.max() == 255 and train_x.min() == 0
    # The test images are not among the training images (held out).
    train_keys = {row.tobytes() for row in train_x[:, 10:18, 10:18, 0].reshape(60000, -1)}
    overlap = sum(row.tobytes() in train_keys for row in test_x[:500, 10:18, 10:18, 0].reshape(500, -1))
    assert overlap < 25
