"""ganzoo.data where TensorFlow cannot be imported: the toys, mnist_sample and fashion_mnist as numpy batches
(`NumpyBatches`, a keras PyDataset) that `model.fit` trains on under JAX, and a clear error for
the sources that need tf.io / tf.data.

The subprocess test runs the whole story on the JAX backend with TensorFlow blocked; the
in-process tests check the batcher's logic (it needs numpy and Keras only) under TensorFlow.
"""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from ganzoo.data import DatasetError
from ganzoo.data.numpy_batches import NumpyBatches, numpy_real_arrays


def _indexed(n, labels=True):
    """float32 points whose first coordinate is their row index, labels index % 7."""
    x = np.stack([np.arange(n), np.zeros(n)], axis=1).astype("float32")
    return x, (np.arange(n, dtype="int32") % 7 if labels else None)


def _rows(batch):
    return batch[..., 0].astype(int)


# ---------------------------------------------------------------------- finite epochs
def test_epochs_reshuffle_deterministically_and_drop_the_remainder():
    x, labels = _indexed(103)
    ds = NumpyBatches(x, labels, batch_size=10, seed=5)
    assert isinstance(ds, keras.utils.PyDataset) and len(ds) == ds.num_batches == 10
    epoch0 = [_rows(b) for b in ds]  # a full pass by hand moves to the next epoch
    epoch1 = [_rows(b) for b in ds]
    for epoch in (epoch0, epoch1):
        rows = np.concatenate(epoch)
        assert len(rows) == 100 and len(set(rows)) == 100  # 3 examples dropped, none repeated
    assert not np.array_equal(np.concatenate(epoch0), np.concatenate(epoch1))
    # The same seed gives the same epochs; another seed another order.
    again = NumpyBatches(x, labels, batch_size=10, seed=5)
    np.testing.assert_array_equal(_rows(again[3]), epoch0[3])
    again.on_epoch_end()  # what Keras calls after each epoch of fit
    np.testing.assert_array_equal(_rows(again[3]), epoch1[3])
    assert not np.array_equal(_rows(NumpyBatches(x, labels, batch_size=10, seed=6)[0]), epoch0[0])
    # Fetching a batch has no side effect (Keras may fetch in any order, from threads).
    np.testing.assert_array_equal(_rows(again[7]), _rows(again[7]))
    with pytest.raises(IndexError):
        again[10]
    # Without a seed a fresh one is drawn per dataset; without shuffle the stored order.
    assert not np.array_equal(_rows(NumpyBatches(x, batch_size=50)[0]), _rows(NumpyBatches(x, batch_size=50)[0]))
    in_order = NumpyBatches(x, batch_size=50, shuffle=False, seed=0)
    in_order.on_epoch_end()
    np.testing.assert_array_equal(_rows(in_order[1]), np.arange(50, 100))


def test_labels_follow_their_samples_and_images_are_scaled_like_tf_data():
    x, labels = _indexed(64)
    batch, batch_labels = NumpyBatches(x, labels, batch_size=16, seed=1, with_labels=True)[2]
    assert batch.dtype == np.float32 and batch_labels.dtype == np.int32
    np.testing.assert_array_equal(batch_labels, _rows(batch) % 7)
    images = np.array([0, 1, 127, 128, 254, 255], np.uint8).reshape(6, 1, 1, 1)
    scaled = NumpyBatches(images, batch_size=6, shuffle=False)[0]
    # Exactly tf.data's float32 x / 127.5 - 1: 0 -> -1, 255 -> 1.
    expected = images.astype(np.float32) / np.float32(127.5) - np.float32(1)
    np.testing.assert_array_equal(scaled, expected)
    assert scaled.min() == -1.0 and scaled.max() == 1.0


def test_bad_requests_are_dataset_errors():
    x, labels = _indexed(10)
    with pytest.raises(DatasetError, match="larger than the dataset"):
        NumpyBatches(x, batch_size=11)
    with pytest.raises(DatasetError, match="needs labels"):
        NumpyBatches(x, batch_size=2, with_labels=True)
    with pytest.raises(DatasetError, match=r"labels must have shape \(10,\)"):
        NumpyBatches(x, labels[:5], batch_size=2)
    with pytest.raises(DatasetError, match="seed"):
        NumpyBatches(x, batch_size=2, seed=-1)
    with pytest.raises(DatasetError, match="batch_size"):
        NumpyBatches(x, batch_size=0)
    with pytest.raises(DatasetError, match="unbounded"):
        NumpyBatches(x, batch_size=2).skip(1)


# ------------------------------------------------------------------ unbounded stream
def test_repeat_is_an_unbounded_stream_a_pure_function_of_seed_and_index():
    x, labels = _indexed(35)
    ds = NumpyBatches(x, labels, batch_size=10, seed=2, repeat=True)
    assert ds.num_batches is None
    with pytest.raises(TypeError, match="steps_per_epoch"):
        len(ds)
    # 3 batches per epoch (5 examples dropped per epoch), each epoch its own order.
    epochs = [np.concatenate([_rows(ds[e * 3 + i]) for i in range(3)]) for e in range(4)]
    assert all(len(set(e)) == 30 for e in epochs)
    assert len({tuple(e) for e in epochs}) == 4
    # Batch i is the same on every fetch and every iterator; skip(n) resumes the stream at n.
    np.testing.assert_array_equal(_rows(ds[100]), _rows(ds[100]))
    np.testing.assert_array_equal(_rows(next(iter(ds))), _rows(ds[0]))
    np.testing.assert_array_equal(_rows(ds.skip(7)[0]), _rows(ds[7]))
    np.testing.assert_array_equal(_rows(ds.skip(7).skip(2)[1]), _rows(ds[10]))
    np.testing.assert_array_equal(_rows(NumpyBatches(x, labels, batch_size=10, seed=2, repeat=True)[11]),
                                  _rows(ds[11]))


def test_repeat_with_fewer_examples_than_a_batch_runs_across_epochs():
    x, _ = _indexed(4)
    ds = NumpyBatches(x, batch_size=6, seed=0, repeat=True)
    stream = np.concatenate([_rows(ds[i]) for i in range(6)])  # 36 positions = 9 epochs of 4
    epochs = stream.reshape(9, 4)
    assert all(sorted(e) == [0, 1, 2, 3] for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1
    # 7 examples in batches of 5: one batch an epoch, 2 examples dropped (as tf.data does).
    ds = NumpyBatches(_indexed(7)[0], batch_size=5, seed=0, repeat=True)
    assert all(len(set(_rows(ds[i]))) == 5 for i in range(4))


def test_numpy_real_arrays_are_a_seeded_subset():
    x, labels = _indexed(50)
    samples, chosen = numpy_real_arrays(x, labels, 20, seed=3)
    assert samples.dtype == np.float32 and chosen.dtype == np.int32 and len(set(_rows(samples))) == 20
    np.testing.assert_array_equal(chosen, _rows(samples) % 7)
    np.testing.assert_array_equal(numpy_real_arrays(x, labels, 20, seed=3)[0], samples)
    assert not np.array_equal(numpy_real_arrays(x, labels, 20, seed=4)[0], samples)
    np.testing.assert_array_equal(numpy_real_arrays(x, labels, None, seed=3)[0], x)


def test_numpy_resize_crops_and_converts_like_the_tf_pipeline():
    # Under the TensorFlow backend keras.ops.image.resize is tf.image.resize, so the numpy
    # path's crop, channel conversion and rounding must agree exactly with the tf pipeline's.
    tf = pytest.importorskip("tensorflow")
    from ganzoo.data.image_ops import _prepare_image, _prepare_numpy_images

    if keras.backend.backend() != "tensorflow":
        pytest.skip("compares with tf.image.resize through the TensorFlow backend")
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 20, 1), dtype=np.uint8)
    for size, channels in (((14, 14), 1), ((10, 24), 3), ((28, 20), 4), ((9, 7), 3)):
        ours = _prepare_numpy_images(images, size, channels)
        theirs = _prepare_image(tf.constant(images), size, channels).numpy()
        assert ours.dtype == np.uint8 and ours.shape == (3, *size, channels)
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{size} {channels}")
    with pytest.raises(DatasetError, match="grayscale"):
        _prepare_numpy_images(np.zeros((1, 4, 4, 3), np.uint8), (2, 2), 3)


def test_autotune_is_tf_data_autotune():
    # ganzoo.data.AUTOTUNE is a literal so that importing the package does not import TensorFlow.
    tf = pytest.importorskip("tensorflow")
    from ganzoo import data

    assert data.AUTOTUNE == tf.data.AUTOTUNE


# ---------------------------------------------------------------- fit's grouping
class _Batches(keras.utils.PyDataset):
    """batch i: samples filled with i, labels i % 3."""

    def __init__(self, n, labels=True):
        super().__init__()
        self.n, self.labels, self.ended = n, labels, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = np.full((4, 2), i, "float32")
        return (x, np.full(4, i % 3, "int32")) if self.labels else x

    def on_epoch_end(self):
        self.ended += 1


def test_fit_groups_k_batches_of_a_py_dataset_per_generator_step():
    from ganzoo.models import WGANGP
    from ganzoo.models.fitting import _StepBatches

    model = WGANGP(data_shape=(2,), latent_dim=2, width=4, n_critic=3, num_classes=3)
    inner = _Batches(10)
    grouped = model._checked_py_dataset(inner)
    assert isinstance(grouped, _StepBatches) and grouped.num_batches == 3  # 10 // 3, the rest dropped
    x, labels = grouped[1]
    assert x.shape == (4, 3, 2) and labels.shape == (4, 3)
    np.testing.assert_array_equal(x[0, :, 0], [3, 4, 5])  # critic step j of step 1 gets batch 3 + j
    np.testing.assert_array_equal(labels[0], [0, 1, 2])
    grouped.on_epoch_end()
    assert inner.ended == 1  # the dataset's own reshuffle still runs
    with pytest.raises(ValueError, match="3 batches per generator step"):
        model._checked_py_dataset(_Batches(2))
    with pytest.raises(ValueError, match="samples only"):
        model._checked_py_dataset(_Batches(6, labels=False))
    unconditional = WGANGP(data_shape=(2,), latent_dim=2, width=4, n_critic=1)
    plain = _Batches(10, labels=False)
    assert unconditional._checked_py_dataset(plain) is plain  # k = 1: batches as they come
    with pytest.raises(ValueError, match="shape"):
        WGANGP(data_shape=(3,), latent_dim=2, width=4)._checked_py_dataset(inner)


# ------------------------------------------------------------- without TensorFlow
#: Run with `without_tensorflow` (conftest): TensorFlow cannot be imported.
NO_TF_DATA_SCRIPT = textwrap.dedent("""
    import os
    import numpy as np
    import keras
    from PIL import Image
    import ganzoo
    from ganzoo.data import DatasetError, NumpyBatches, dataset_info, load_dataset, load_real_samples
    assert keras.backend.backend() == "jax"
    tmp = sys.argv[1]

    # mnist_sample: numpy batches, scaled, seeded, reshuffled every epoch, labels aligned.
    ds = load_dataset("mnist_sample", batch_size=250, seed=0, split="test", with_labels=True)
    assert isinstance(ds, NumpyBatches) and isinstance(ds, keras.utils.PyDataset) and len(ds) == 2
    assert ds.class_names == tuple("0123456789") and ds.skipped_files == ()
    epoch1, epoch2 = list(ds), list(ds)
    again = load_dataset("mnist_sample", batch_size=250, seed=0, split="test", with_labels=True)[0]
    x, y = epoch1[0]
    assert x.shape == (250, 28, 28, 1) and x.dtype == np.float32 and y.shape == (250,) and y.dtype == np.int32
    assert x.min() == -1.0 and x.max() == 1.0
    np.testing.assert_array_equal(again[0], x)
    assert not np.array_equal(epoch2[0][0], x)
    assert not np.array_equal(load_dataset("mnist_sample", batch_size=250, seed=1, split="test")[0], x)
    real, real_labels = load_real_samples("mnist_sample", None, split="test", with_labels=True)
    assert real.shape == (500, 28, 28, 1)
    for epoch in (epoch1, epoch2):  # each epoch: the 500 test digits once, with their labels
        xs, ys = np.concatenate([b[0] for b in epoch]), np.concatenate([b[1] for b in epoch])
        order = np.lexsort(xs.reshape(500, -1).T)
        ref = np.lexsort(real.reshape(500, -1).T)
        np.testing.assert_array_equal(xs[order], real[ref])
        np.testing.assert_array_equal(ys[order], real_labels[ref])
    subset = load_real_samples("mnist_sample", 40, seed=3)
    np.testing.assert_array_equal(subset, load_real_samples("mnist_sample", 40, seed=3))
    assert subset.shape == (40, 28, 28, 1) and not np.array_equal(subset, load_real_samples("mnist_sample", 40))

    # mnist_sample at another size: the tf pipeline's crop, keras.ops resize, one grey level of tf's.
    resized = load_real_samples("mnist_sample", None, split="test", image_size=(20, 24), channels=3)
    reference = np.load(os.path.join(tmp, "tf_resized.npy"))
    assert resized.shape == reference.shape == (500, 20, 24, 3)
    assert np.abs(resized - reference).max() * 127.5 <= 1.001
    assert dataset_info("mnist_sample", image_size=(20, 24), channels=3)["shape"] == (20, 24, 3)

    # fashion_mnist from idx files (small generated ones): numpy batches with the class names.
    import gzip, struct
    from ganzoo.data.sources import fashion_mnist as fm
    fm.FASHION_MNIST_SPLITS.update(train=12, test=6)
    idx_dir = os.path.join(tmp, "fashion")
    os.makedirs(idx_dir)
    for split, (images_name, labels_name) in fm.FASHION_MNIST_FILES.items():
        n = fm.FASHION_MNIST_SPLITS[split]
        for name, array in ((images_name, np.full((n, 28, 28), 7, np.uint8)), (labels_name, np.arange(n) % 10)):
            array = np.asarray(array, np.uint8)
            with gzip.open(os.path.join(idx_dir, name + ".gz"), "wb") as f:
                f.write(bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())
    ds = load_dataset("fashion_mnist", batch_size=4, seed=0, data_dir=idx_dir, with_labels=True)
    assert isinstance(ds, NumpyBatches) and len(ds) == 3 and ds.class_names[9] == "Ankle boot"
    x, y = ds[0]
    assert x.shape == (4, 28, 28, 1) and y.dtype == np.int32
    assert load_real_samples("fashion_mnist", None, split="test", data_dir=idx_dir, image_size=14).shape == (6, 14, 14, 1)

    # Toys: labels are the modes the points were drawn from; repeat is an unbounded stream.
    ring = ganzoo.toy_distribution("gaussian_ring")
    ds = load_dataset("gaussian_ring", batch_size=256, seed=0, repeat=True, with_labels=True, num_examples=512)
    assert ds.num_batches is None and ds.class_names == ring.mode_names
    points, modes = ds[5]
    assert points.shape == (256, 2) and points.dtype == np.float32
    assert np.linalg.norm(points - ring.centers[modes], axis=1).max() < 6 * ring.sigma
    first, next_epoch = np.concatenate([ds[0][0], ds[1][0]]), np.concatenate([ds[2][0], ds[3][0]])
    np.testing.assert_array_equal(np.sort(first, axis=0), np.sort(next_epoch, axis=0))  # same 512 points
    assert not np.array_equal(first, next_epoch)  # in another order
    assert load_real_samples("gaussian_grid", 100, seed=0).shape == (100, 2)
    assert dataset_info("gaussian_grid")["num_modes"] == 25

    # A conditional WGAN-GP with k = 2 critic steps and steps_per_execution, on a finite
    # labelled PyDataset (10 batches an epoch: 5 generator steps of 2 critic steps), then on an
    # unbounded one with steps_per_epoch (4 generator steps an epoch).
    ds = load_dataset("gaussian_ring", batch_size=32, seed=0, num_examples=320, with_labels=True)
    model = ganzoo.WGANGP(data_shape=(2,), latent_dim=2, width=8, n_critic=2, num_classes=8, seed=0)
    model.compile(steps_per_execution=2)
    history = model.fit(ds, epochs=2, verbose=0)
    assert int(model.g_optimizer.iterations) == 10 and int(model.d_optimizer.iterations) == 20
    assert all(np.isfinite(v).all() for v in history.history.values()) and ds.epoch >= 2
    stream = load_dataset("gaussian_ring", batch_size=32, seed=1, repeat=True, with_labels=True)
    model.fit(stream, epochs=2, steps_per_epoch=4, verbose=0)
    steps = int(model.g_optimizer.iterations), int(model.d_optimizer.iterations)
    assert steps == (18, 36), steps

    # Folders and tensorflow-datasets need TensorFlow: the error says what to install.
    folder = os.path.join(tmp, "faces")
    os.makedirs(folder)
    for i in range(2):
        Image.fromarray(np.full((6, 5, 3), 40 * i, np.uint8)).save(os.path.join(folder, f"{i}.png"))
    assert dataset_info(folder)["shape"] == (6, 5, 3)  # headers only (PIL)
    for call, install in ((lambda: load_dataset(folder, batch_size=1), "pip install tensorflow"),
                          (lambda: load_real_samples("dir:" + folder, 1), "pip install tensorflow"),
                          (lambda: load_dataset("mnist", batch_size=1), "pip install tensorflow tensorflow-datasets"),
                          (lambda: dataset_info("cifar10"), "pip install tensorflow tensorflow-datasets")):
        try:
            call()
        except DatasetError as error:
            assert "needs TensorFlow" in str(error) and install in str(error), error
        else:
            raise AssertionError("no DatasetError without TensorFlow")
    assert "tensorflow" not in sys.modules
    print("OK")
""")


def test_data_without_tensorflow_under_jax(subprocess_env, tmp_path, without_tensorflow):
    """The toys, mnist_sample and fashion_mnist (idx files) load, and train a conditional WGAN-GP (k = 2), in a JAX process
    where TensorFlow cannot be imported; folders and tfds say what to install."""
    pytest.importorskip("jax")
    from ganzoo.data import load_real_samples

    # The reference for the resize: the tf pipeline's mnist_sample at 20x24x3.
    reference = load_real_samples("mnist_sample", None, split="test", image_size=(20, 24), channels=3)
    np.save(tmp_path / "tf_resized.npy", reference)
    out = subprocess.run([sys.executable, "-c", without_tensorflow(NO_TF_DATA_SCRIPT), str(tmp_path)], capture_output=True, text=True,
                         timeout=300, env=subprocess_env(KERAS_BACKEND="jax"))
    assert out.returncode == 0, out.stderr[-4000:]
    assert "OK" in out.stdout
