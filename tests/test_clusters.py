"""Training on k-means clusters of the images (`--cluster-labels K`): the k-means itself, the
labels the pipelines attach, the label prior a model samples from and its exports carry, and
the CLI run that fits, keeps and reuses its clusters."""

import json
import os

import numpy as np
import pytest

import ganzoo
from ganzoo.data import DatasetError, load_dataset, load_real_samples
from ganzoo.data.clusters import ImageClusters, cluster_features, cluster_file, fit_clusters, hog
from ganzoo.labels import balanced_labels, prior_labels

CENTERS = np.array([[-0.8, -0.8, 0.0], [0.8, 0.8, 0.0], [0.0, -0.8, 0.8]], "float32")


def _blobs(per=(50, 30, 20), seed=0):
    """Three tight, well separated blobs in 3-D (sizes `per`), shuffled; (points, true blob)."""
    rng = np.random.default_rng(seed)
    truth = np.concatenate([np.full(n, i) for i, n in enumerate(per)])
    rng.shuffle(truth)
    return CENTERS[truth] + rng.normal(0, 0.02, (len(truth), 3)).astype("float32"), truth


# ---------------------------------------------------------------------- k-means
def test_kmeans_finds_separated_blobs_with_their_sizes_and_is_seeded():
    points, truth = _blobs()
    clusters = fit_clusters(points, 3, seed=4)
    labels = clusters.assign(points)
    # Each cluster is one blob (a relabelling of the truth), its centroid the blob's mean.
    mapping = {int(c): int(np.bincount(truth[labels == c]).argmax()) for c in range(3)}
    assert sorted(mapping.values()) == [0, 1, 2]
    np.testing.assert_array_equal([mapping[c] for c in labels], truth)
    for c, blob in mapping.items():
        np.testing.assert_allclose(clusters.centroids[c], points[truth == blob].mean(0), atol=1e-5)
        assert clusters.counts[c] == np.sum(truth == blob)
    np.testing.assert_allclose(sorted(clusters.prior), [0.2, 0.3, 0.5])
    again = fit_clusters(points, 3, seed=4)
    np.testing.assert_array_equal(again.centroids, clusters.centroids)
    # Images of any shape are flattened; a different size is refused by name.
    images = points.reshape(-1, 1, 3, 1)
    np.testing.assert_array_equal(fit_clusters(images, 3, seed=4).assign(images), labels)
    with pytest.raises(ValueError, match="the clusters were fit on 3"):
        clusters.assign(np.zeros((2, 4), "float32"))


def test_kmeans_stopped_early_counts_the_images_as_its_centroids_assign_them():
    # Overlapping clouds: Lloyd's iterations have not settled after one or two of them, and the
    # prior a model samples from must be the shares the training batches are labelled with.
    points = np.random.default_rng(1).normal(0, 1, (400, 2)).astype("float32")
    for iterations in (0, 1, 2):
        clusters = fit_clusters(points, 5, seed=0, max_iterations=iterations)
        np.testing.assert_array_equal(clusters.counts, np.bincount(clusters.assign(points), minlength=5))


def test_kmeans_refuses_what_it_cannot_cluster():
    points, _ = _blobs()
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        fit_clusters(points, 1)
    with pytest.raises(DatasetError, match="at least 200 images"):
        fit_clusters(points, 200)
    # Five copies of two points cannot fill three clusters.
    with pytest.raises(DatasetError, match="could not fill 3 clusters"):
        fit_clusters(np.repeat(np.eye(2, dtype="float32"), 5, axis=0), 3)


def test_tensorflow_assignment_matches_numpy():
    points, _ = _blobs()
    clusters = fit_clusters(points, 3, seed=0)
    np.testing.assert_array_equal(np.asarray(clusters.assign_tensor(points)), clusters.assign(points))


def test_clusters_round_trip_and_a_damaged_file_is_named(tmp_path):
    clusters = fit_clusters(_blobs()[0], 3, seed=0)
    path = str(tmp_path / "clusters.npz")
    clusters.save(path)
    assert os.listdir(tmp_path) == ["clusters.npz"]  # written through a temporary file, renamed
    loaded = ImageClusters.load(path)
    np.testing.assert_array_equal(loaded.centroids, clusters.centroids)
    np.testing.assert_array_equal(loaded.counts, clusters.counts)
    with open(path, "r+b") as f:
        f.truncate(100)
    with pytest.raises(DatasetError, match="clusters.npz is not a readable cluster file"):
        ImageClusters.load(path)
    assert os.path.getsize(path) == 100  # reported, never replaced


def _stripes(n=64, size=16, seed=0):
    """Vertical (class 0) and horizontal (class 1) sine stripes of random period, phase and
    contrast: their mean images are alike, their gradient orientations are not."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    t = np.arange(size, dtype="float32")
    period, phase, contrast = rng.uniform(3, 6, n), rng.uniform(0, 2 * np.pi, n), rng.uniform(0.3, 1, n)
    wave = contrast[:, None] * np.sin(2 * np.pi * t[None, :] / period[:, None] + phase[:, None])  # (n, size)
    images = np.where(truth[:, None, None] == 0, wave[:, None, :], wave[:, :, None]) * np.ones((1, size, size))
    return images[..., None].astype("float32"), truth


def _purity(assigned, truth):
    return sum(np.bincount(truth[assigned == c]).max() for c in np.unique(assigned)) / len(truth)


def test_hog_pixel_clusters_follow_orientation_where_pixel_clusters_do_not():
    images, truth = _stripes()
    by_hog = fit_clusters(images, 2, seed=0, features="hog_pixels")
    by_pixels = fit_clusters(images, 2, seed=0)
    assert by_hog.features == "hog_pixels" and by_hog.centroids.shape == (2, 128 + 16 * 16)
    assert _purity(by_hog.assign(images), truth) == 1.0
    assert _purity(by_pixels.assign(images), truth) < 0.8  # pixels split by phase, not direction
    # The histograms: unit length; a vertical stripe's gradients are horizontal (orientation bin 0).
    h = hog(images)
    np.testing.assert_allclose(np.linalg.norm(h, axis=1), 1.0, rtol=1e-5)
    vertical = h[truth == 0].reshape(-1, 16, 8).sum(axis=1)
    assert (vertical[:, 0] > 0.9 * vertical.sum(axis=1)).all()


def test_hog_pixel_features_and_assignment_agree_on_tensorflow_and_numpy():
    images, _ = _stripes(n=40, seed=1)
    images = images + np.random.default_rng(2).normal(0, 0.1, images.shape).astype("float32")
    clusters = fit_clusters(images, 4, seed=0, features="hog_pixels")
    from ganzoo.data.clusters import _hog_pixels_tensor

    np.testing.assert_allclose(np.asarray(_hog_pixels_tensor(images)), cluster_features(images, "hog_pixels"),
                               atol=2e-5)
    np.testing.assert_array_equal(np.asarray(clusters.assign_tensor(images)), clusters.assign(images))


def test_hog_of_many_images_is_each_images_own():
    # hog works through large sets a chunk at a time (bounded memory): no image sees another's.
    from ganzoo.data.clusters import _HOG_CHUNK, hog

    images = load_real_samples("mnist_sample", _HOG_CHUNK + 88, seed=0)
    each = np.concatenate([hog(images[i: i + 1]) for i in range(len(images))])
    np.testing.assert_array_equal(hog(images), each)
    assert hog(images[:0]).shape == (0, 128)


def test_cluster_features_are_kept_in_the_file_and_bad_ones_are_named(tmp_path):
    images, _ = _stripes(n=24)
    clusters = fit_clusters(images, 3, seed=0, features="hog_pixels")
    path = str(tmp_path / "clusters.npz")
    clusters.save(path)
    loaded = ImageClusters.load(path)
    assert loaded.features == "hog_pixels"
    np.testing.assert_array_equal(loaded.assign(images), clusters.assign(images))
    # A file written before the features were recorded holds pixel clusters.
    np.savez(path, centroids=np.zeros((2, 3), "float32"), counts=np.array([1, 2]))
    assert ImageClusters.load(path).features == "pixels"
    with pytest.raises(ValueError, match="features must be one of pixels, hog_pixels; got 'edges'"):
        fit_clusters(images, 3, features="edges")
    with pytest.raises(ValueError, match="multiples of 4; got shape \\(5, 6, 6, 1\\)"):
        fit_clusters(np.zeros((5, 6, 6, 1), "float32"), 2, features="hog_pixels")


# ---------------------------------------------------------------------- pipelines
def test_batches_carry_each_images_nearest_cluster_on_tf_data_and_numpy(monkeypatch):
    images = load_real_samples("mnist_sample", 600, seed=0)
    clusters = fit_clusters(images, 4, seed=0)
    batch_x, batch_y = next(iter(load_dataset("mnist_sample", batch_size=32, seed=1, clusters=clusters)))
    np.testing.assert_array_equal(np.asarray(batch_y), clusters.assign(np.asarray(batch_x)))
    assert len(set(np.asarray(batch_y).tolist())) > 1
    # Without TensorFlow: numpy batches, the same rule.
    import ganzoo.data.pipeline as pipeline

    monkeypatch.setattr(pipeline, "tensorflow", lambda: None)
    numpy_batches = load_dataset("mnist_sample", batch_size=32, seed=1, clusters=clusters)
    x, y = numpy_batches[0]
    np.testing.assert_array_equal(y, clusters.assign(x))
    with pytest.raises(DatasetError, match="exclude each other"):
        load_dataset("mnist_sample", batch_size=32, clusters=clusters, with_labels=True)


def test_in_memory_images_are_clustered_once_and_streamed_images_per_batch(monkeypatch, tmp_path):
    from PIL import Image

    images = load_real_samples("mnist_sample", 600, seed=0)
    clusters = fit_clusters(images, 4, seed=0, features="hog_pixels")

    def per_batch(self, batch):
        raise AssertionError("in-memory images were clustered per batch")

    # In memory: every image labelled once, by `assign`, before batching (assign_tensor unused).
    with monkeypatch.context() as patch:
        patch.setattr(ImageClusters, "assign_tensor", per_batch)
        batches = list(load_dataset("mnist_sample", batch_size=50, seed=1, clusters=clusters))
    x, y = (np.concatenate([np.asarray(b[i]) for b in batches]) for i in (0, 1))
    np.testing.assert_array_equal(y, clusters.assign(x))
    assert len(x) == 4500 and len(set(y.tolist())) == 4  # the 90 batches of the training split
    # Streamed (a folder of image files): labelled in the tf.data map, by the same rule.
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, image in enumerate(np.round((images[:40, :, :, 0] + 1) * 127.5).astype(np.uint8)):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    x, y = next(iter(load_dataset(str(folder), batch_size=40, seed=1, clusters=clusters)))
    np.testing.assert_array_equal(np.asarray(y), clusters.assign(np.asarray(x)))
    assert len(set(np.asarray(y).tolist())) > 1


# ---------------------------------------------------------------------- the label prior
@pytest.mark.both_backends
def test_a_model_with_a_label_prior_draws_the_labels_left_out(tiny_model, tmp_path):
    import keras

    model = tiny_model(ganzoo.DCGAN, num_classes=3, label_prior=[0, 0, 5])
    assert model.label_prior == [0.0, 0.0, 1.0]
    # All the prior's mass on class 2: samples without labels are class 2's.
    np.testing.assert_allclose(model.generate(6, seed=3), model.generate(6, seed=3, labels=2), atol=1e-6)
    assert np.abs(model.generate(6, seed=3) - model.generate(6, seed=3, labels=0)).max() > 1e-4
    # The draw follows the prior's shares and is seeded.
    # Labels left out where samples are scored: every class equally often, or None (the prior draws).
    np.testing.assert_array_equal(balanced_labels(3, 7), [0, 1, 2, 0, 1, 2, 0])
    assert balanced_labels(3, 7, label_prior=[0, 0, 1]) is None and balanced_labels(None, 7) is None
    drawn = prior_labels([0.7, 0.2, 0.1], 5000, seed=1)
    np.testing.assert_allclose(np.bincount(drawn) / 5000, [0.7, 0.2, 0.1], atol=0.02)
    np.testing.assert_array_equal(drawn, prior_labels([0.7, 0.2, 0.1], 5000, seed=1))
    path = str(tmp_path / "m.keras")
    model.save(path)
    assert keras.models.load_model(path).label_prior == [0.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="label_prior is p\\(y\\) for a conditional model"):
        tiny_model(ganzoo.DCGAN, label_prior=[1, 1])
    with pytest.raises(ValueError, match="label_prior must be 3 non-negative numbers"):
        tiny_model(ganzoo.DCGAN, num_classes=3, label_prior=[1, -1, 1])


# ---------------------------------------------------------------------- the run
@pytest.mark.both_backends
def test_cli_fits_keeps_and_reuses_the_runs_clusters(run_main, tmp_path):
    run_dir, export = tmp_path / "run", tmp_path / "export"
    args = ["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "8", "--batch-size", "8", "--width", "4",
            "--latent-dim", "4", "--steps-per-epoch", "2", "--quiet", "--run-dir", run_dir, "--cluster-labels", "5"]
    code, _, err = run_main([*args, "--epochs", "1"])
    assert code == 0, err
    clusters = ImageClusters.load(cluster_file(str(run_dir)))
    assert clusters.k == 5 and clusters.counts.sum() == 4500  # every training digit, at the run's 8x8
    from ganzoo.runs.record import load_run

    _, model = load_run(str(run_dir))
    assert model.num_classes == 5
    np.testing.assert_allclose(model.label_prior, clusters.prior)
    # A resume reads the file it left (not fit and written again).
    before = os.path.getmtime(cluster_file(str(run_dir)))
    code, _, err = run_main([*args, "--epochs", "2", "--export", export])
    assert code == 0, err
    assert os.path.getmtime(cluster_file(str(run_dir))) == before
    card = json.loads((export / "1" / "model.json").read_text())
    assert card["num_classes"] == 5 and np.allclose(card["label_prior"], clusters.prior)
    exported = ganzoo.load_exported(str(export))
    _, model = load_run(str(run_dir))
    np.testing.assert_allclose(exported.generate(16, seed=2), model.generate(16, seed=2), atol=1e-4)
    # Refused, one line, nothing written: another K on resume, with --conditional, --label on sampling.
    code, _, err = run_main([*args[:-1], "6", "--epochs", "3"])
    assert code == 2 and "cluster_labels" in err
    code, _, err = run_main([*args, "--epochs", "3", "--conditional"])
    assert code == 2 and "does not combine with --conditional" in err
    code, _, err = run_main(["sample", str(export), "--label", "1", "--out", tmp_path / "s.png"])
    assert code == 2 and "cluster shares" in err
    code, out, err = run_main(["sample", str(export), "--out", tmp_path / "s.png"])
    assert code == 0 and "Wrote 64 samples" in out, err
    # TF Serving's `sample` signature draws each sample's cluster itself: no label input, and it
    # matches `serving_default` on the same z with the prior's draw (ganzoo verify checks it).
    assert card["signatures"]["sample"] == {"num_samples": ["int32", []], "seed": ["int64", []]}
    import tensorflow as tf

    sample = tf.saved_model.load(str(export / "1")).signatures["sample"]
    assert sorted(sample.structured_input_signature[1]) == ["num_samples", "seed"]
    assert sample(num_samples=tf.constant(5), seed=tf.constant(1, tf.int64))["images"].shape == (5, 8, 8, 1)
    code, out, err = run_main(["verify", str(export / "1")])
    assert code == 0, err
    # A card whose prior does not fit the network's classes is refused on load.
    card["label_prior"] = [0.5, 0.5]
    (export / "1" / "model.json").write_text(json.dumps(card))
    with pytest.raises(ganzoo.ExportError, match="label_prior of 2 classes \\(num_classes is 5\\)"):
        ganzoo.load_exported(str(export))


def test_a_damaged_cluster_file_stops_the_resume_and_is_kept(run_main, tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "8", "--batch-size", "8", "--width", "4",
            "--latent-dim", "4", "--steps-per-epoch", "2", "--quiet", "--run-dir", run_dir, "--cluster-labels", "3"]
    assert run_main([*args, "--epochs", "1"])[0] == 0
    path = cluster_file(str(run_dir))
    with open(path, "wb") as f:
        f.write(b"not a cluster file")
    code, _, err = run_main([*args, "--epochs", "2"])
    assert code == 2 and "is not a readable cluster file" in err and "restore it from a backup" in err
    assert open(path, "rb").read() == b"not a cluster file"


def test_cli_clusters_in_the_feature_space_asked_and_a_resume_keeps_it(run_main, tmp_path):
    run_dir = tmp_path / "run"
    args = ["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "8", "--batch-size", "8", "--width", "4",
            "--latent-dim", "4", "--steps-per-epoch", "2", "--quiet", "--run-dir", run_dir, "--cluster-labels", "3"]
    code, _, err = run_main([*args, "--cluster-features", "hog_pixels", "--epochs", "1"])
    assert code == 0, err
    clusters = ImageClusters.load(cluster_file(str(run_dir)))
    assert clusters.features == "hog_pixels" and clusters.centroids.shape == (3, 128 + 64)
    code, _, err = run_main([*args, "--epochs", "2"])  # resumed without the flag: pixels
    assert code == 2 and "cluster_features: run has 'hog_pixels', now 'pixels'" in err
    code, _, err = run_main([*args, "--cluster-features", "hog_pixels", "--epochs", "2"])
    assert code == 0, err
    # A cluster file of another space in the run (put there by hand) is named, and kept.
    pixel_clusters = ImageClusters(np.zeros((3, 64), "float32"), np.array([1, 1, 1]))
    pixel_clusters.save(cluster_file(str(run_dir)))
    code, _, err = run_main([*args, "--cluster-features", "hog_pixels", "--epochs", "3"])
    assert code == 2 and "holds clusters of pixels, but --cluster-features is hog_pixels" in err
    assert ImageClusters.load(cluster_file(str(run_dir))).features == "pixels"
    code, _, err = run_main(["train", "dcgan", "--dataset", "mnist_sample", "--cluster-features", "hog_pixels",
                             "--run-dir", tmp_path / "other"])
    assert code == 2 and "add --cluster-labels K" in err


def test_a_locked_run_dir_is_refused_before_its_clusters_are_fit(run_main, tmp_path, lock_held_elsewhere,
                                                                 monkeypatch, snapshot):
    import ganzoo.data.clusters

    fits = []
    real_fit = ganzoo.data.clusters.fit_clusters
    monkeypatch.setattr(ganzoo.data.clusters, "fit_clusters", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    args = ["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "8", "--batch-size", "8", "--width", "4",
            "--latent-dim", "4", "--steps-per-epoch", "2", "--epochs", "1", "--quiet", "--run-dir", run_dir,
            "--cluster-labels", "3"]
    with lock_held_elsewhere(run_dir) as holder:
        before = snapshot(run_dir)
        code, _, err = run_main(args)
        assert snapshot(run_dir) == before  # nothing written, the lock file's PID included
    assert code == 2 and f"PID {holder.pid}" in err, err
    assert fits == [] and not os.path.exists(cluster_file(str(run_dir)))
    assert run_main(args)[0] == 0 and fits == [1]  # the lock's holder gone, the run fits them once



def test_cluster_purity_reads_a_cluster_ds_last_features_without_its_labels(run_main, tmp_path, repo_root):
    # tools/cluster_purity.py's `discriminator` space, on a D conditioned on clusters (a projection D:
    # its features come from the image alone): D's activations after its last LeakyReLU, unit length.
    import importlib.util

    import keras

    from ganzoo.runs.record import load_run

    run_dir = tmp_path / "run"
    code, _, err = run_main(["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "8", "--batch-size", "8",
                             "--width", "4", "--latent-dim", "4", "--steps-per-epoch", "2", "--epochs", "1", "--quiet",
                             "--run-dir", run_dir, "--cluster-labels", "3"])
    assert code == 0, err
    spec = importlib.util.spec_from_file_location("cluster_purity", os.path.join(repo_root, "tools", "cluster_purity.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    images = np.random.default_rng(0).uniform(-1, 1, (5, 8, 8, 1)).astype(np.float32)
    feats = tool.features("discriminator", images, str(run_dir))
    _, model = load_run(str(run_dir))
    d = model.discriminator
    assert len(d.inputs) == 2  # conditional on the clusters
    last = [layer for layer in d.layers if isinstance(layer, keras.layers.LeakyReLU)][-1]
    expected = np.asarray(keras.Model(d.inputs[0], last.output)(images)).reshape(5, -1)
    np.testing.assert_allclose(feats, expected / np.linalg.norm(expected, axis=1, keepdims=True), atol=1e-6)
    assert tool.purity(np.array([0, 0, 1, 1]), np.array([2, 2, 2, 3]), 2) == 0.75
