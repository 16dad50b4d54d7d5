"""k-means clusters of the training images as labels: a conditional GAN without human labels.

An unconditional G must cover every mode of the data from one noise distribution, and at small
budgets it spends much of its capacity on the space between modes (a shirt that is half a coat,
a digit between 4 and 9). Conditioning G and D on a discrete code that splits the data into
modes removes that burden. Without labels the code can come from clustering the images
(Sage et al. 2018, "Logo synthesis and manipulation with clustered GANs", k-means on features;
Liu et al. 2020, "Diverse image generation via self-conditioned GANs", k-means on D's
features, re-clustered during training). ganzoo clusters the training images once, in the
model's input space (pixels in [-1, 1]), before training: the model is a class-conditional
model over the k clusters, and sampling draws the cluster from its share of the training set,
so G(z, c) with c ~ p(c) is a generator of the whole data distribution.

`fit_clusters(images, k)` runs k-means (k-means++ seeding, then Lloyd's iterations until no
image changes cluster); `ImageClusters.assign` labels images with their nearest centroid (in
numpy, or in TensorFlow inside a tf.data pipeline); `save`/`load` keep a run's clusters with
it so a resumed run labels its data the same way. numpy only (TensorFlow only inside
`assign_tensor`).
"""

import os
import zipfile

import numpy as np

from ganzoo.errors import DatasetError

#: A cluster file's arrays.
_KEYS = ("centroids", "counts")
#: Images clustered at most: a uniform random subset of larger training sets (seeded).
MAX_CLUSTER_IMAGES = 60_000
_CHUNK = 8192


class ImageClusters:
    """k centroids in the model's input space and the training images per cluster.

    Args:
        centroids: float32 (k, d): the mean flattened image of each cluster.
        counts: (k,) training images in each cluster (all positive).
    """

    def __init__(self, centroids, counts):
        centroids = np.asarray(centroids, dtype=np.float32)
        counts = np.asarray(counts)
        if centroids.ndim != 2 or len(centroids) < 2:
            raise ValueError(f"centroids must be (k, d) with k >= 2; got shape {centroids.shape}.")
        if counts.shape != (len(centroids),) or not np.issubdtype(counts.dtype, np.integer) or counts.min() < 1:
            raise ValueError(f"counts must be {len(centroids)} positive integers; got {counts!r:.80}.")
        if not np.all(np.isfinite(centroids)):
            raise ValueError("centroids must be finite.")
        self.centroids, self.counts = centroids, counts.astype(np.int64)
        self._sq_norms = _squared_norms(self.centroids)

    @property
    def k(self):
        return len(self.centroids)

    @property
    def prior(self):
        """float64 (k,): each cluster's share of the training images, p(c)."""
        return self.counts / self.counts.sum()

    def assign(self, images):
        """int32 (n,): the nearest centroid (squared Euclidean distance) of each image."""
        return _assign_all(_flat(images, self.centroids.shape[1]), self.centroids, self._sq_norms)

    def assign_tensor(self, images):
        """`assign` in TensorFlow ops, for a tf.data map: int32 (batch,) labels of a float32 batch."""
        import tensorflow as tf

        flat = tf.reshape(images, (-1, self.centroids.shape[1]))
        distances = tf.constant(self._sq_norms)[None, :] - 2.0 * tf.matmul(flat, tf.constant(self.centroids.T))
        return tf.cast(tf.argmin(distances, axis=1), tf.int32)

    def save(self, path):
        """Write the clusters to `path` (.npz) atomically: a crash leaves the old file or the new one."""
        from ganzoo.fileio import atomic_write

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, centroids=self.centroids, counts=self.counts)

        atomic_write(path, write)

    @classmethod
    def load(cls, path):
        """The clusters saved at `path`; DatasetError naming the file when it is missing or damaged."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in _KEYS}
            return cls(**arrays)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DatasetError(
                f"{path} is not a readable cluster file ({type(e).__name__}: {e}). It holds the k-means clusters "
                "this run's labels come from; restore it from a backup, or train a new run (a new --run-dir)."
            ) from e


def fit_clusters(images, k, seed=0, max_iterations=100):
    """k-means of `images` (any shape (n, ...); flattened): k-means++ seeding (Arthur &
    Vassilvitskii 2007), then Lloyd's iterations until no image changes cluster or
    `max_iterations`. A cluster left empty is re-seeded with the image farthest from its
    centroid. Deterministic for a seed.

    Returns:
        ImageClusters with the centroids and each cluster's number of images.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2; got {k!r}.")
    flat = _flat(images)
    if len(flat) < k:
        raise DatasetError(f"k-means with k = {k} clusters needs at least {k} images; got {len(flat)}. "
                           "Use fewer clusters.")
    rng = np.random.default_rng(seed)
    centroids = _kmeans_plus_plus(flat, k, rng)
    labels = None
    for _ in range(max_iterations):
        new = _assign_all(flat, centroids)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        centroids = _centroids(flat, labels, centroids, k)
    else:  # stopped by max_iterations: count the images as the final centroids assign them
        labels = _assign_all(flat, centroids)
    counts = np.bincount(labels, minlength=k)
    if counts.min() == 0:  # identical images beyond the k-th: fewer distinct points than clusters
        raise DatasetError(f"k-means could not fill {k} clusters ({int(np.sum(counts == 0))} stayed empty): "
                           "the images have fewer distinct values than that. Use fewer clusters.")
    return ImageClusters(centroids, counts)


def _flat(images, d=None):
    flat = np.asarray(images, dtype=np.float32)
    flat = flat.reshape(len(flat), -1)
    if d is not None and flat.shape[1] != d:
        raise ValueError(f"images have {flat.shape[1]} values each; the clusters were fit on {d} "
                         "(a different image size or channel count).")
    return flat


def _squared_norms(centroids):
    return np.sum(centroids.astype(np.float64) ** 2, axis=1).astype(np.float32)


def _assign_all(flat, centroids, sq_norms=None):
    """int32 (n,): each row's nearest centroid, `_CHUNK` rows at a time; ||x - c||^2 without the
    ||x||^2 term, which is the same for every c."""
    sq_norms = _squared_norms(centroids) if sq_norms is None else sq_norms
    nearest = [np.argmin(sq_norms[None, :] - 2.0 * flat[i: i + _CHUNK] @ centroids.T, axis=1).astype(np.int32)
               for i in range(0, len(flat), _CHUNK)]
    return np.concatenate(nearest) if nearest else np.zeros(0, np.int32)


def _kmeans_plus_plus(flat, k, rng):
    sq = np.sum(flat.astype(np.float64) ** 2, axis=1)
    chosen = [int(rng.integers(len(flat)))]
    nearest = _squared_distances(flat, sq, chosen[0])
    for _ in range(1, k):
        weights = np.maximum(nearest, 0.0)
        total = weights.sum()
        i = int(rng.choice(len(flat), p=weights / total)) if total > 0 else int(rng.integers(len(flat)))
        chosen.append(i)
        nearest = np.minimum(nearest, _squared_distances(flat, sq, i))
    return flat[chosen].copy()


def _squared_distances(flat, sq, i):
    return sq - 2.0 * (flat @ flat[i]).astype(np.float64) + sq[i]


def _centroids(flat, labels, previous, k):
    counts = np.bincount(labels, minlength=k)
    members = np.zeros((k, len(flat)), np.float32)
    members[labels, np.arange(len(flat))] = 1.0
    sums = members @ flat  # one matrix product instead of a scatter-add
    centroids = previous.copy()
    filled = counts > 0
    centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
    if not filled.all():
        # Re-seed each empty cluster with the image farthest from its own centroid.
        distance = np.sum((flat - centroids[labels]) ** 2, axis=1)
        for j in np.flatnonzero(~filled):
            far = int(np.argmax(distance))
            centroids[j], distance[far] = flat[far], -1.0
    return centroids


def cluster_file(run_dir):
    """Where a run keeps its clusters."""
    return os.path.join(run_dir, "clusters.npz")
