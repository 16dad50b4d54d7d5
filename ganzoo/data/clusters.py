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

The space can also be `hog_pixels`: histograms of oriented gradients (8 unsigned orientations
in a 4x4 grid of cells, L2-normalized, weighted 4) beside the pixels (weighted 2 / sqrt(pixels)),
so edges, stripes and prints weigh beside the silhouette. On Fashion-MNIST's 60,000 images its
50 clusters put 75.7% of the images in their cluster's majority class against pixels' 70.4%
(tools/cluster_purity.py; measured in tools/BENCHMARKS.md).

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

#: A cluster file's arrays ("features" is absent from files of pixel clusters written before it).
_KEYS = ("centroids", "counts")
#: The spaces k-means can cluster in (`cluster_features`).
FEATURES = ("pixels", "hog_pixels")
_CELLS, _BINS = 4, 8
#: Images clustered at most: a uniform random subset of larger training sets (seeded).
MAX_CLUSTER_IMAGES = 60_000
_CHUNK = 8192
#: Images per step of `hog`: its one-hot votes are 12.5 MB.
_HOG_CHUNK = 512


class ImageClusters:
    """k centroids in the model's input space and the training images per cluster.

    Args:
        centroids: float32 (k, d): the mean of each cluster's images in the `features` space.
        counts: (k,) training images in each cluster (all positive).
        features: one of FEATURES: the space the images are clustered in.
    """

    def __init__(self, centroids, counts, features="pixels"):
        self.features = _checked_features(features)
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
        flat = cluster_features(images, self.features)
        return _assign_all(_flat(flat, self.centroids.shape[1]), self.centroids, self._sq_norms)

    def assign_tensor(self, images):
        """`assign` in TensorFlow ops, for a tf.data map: int32 (batch,) labels of a float32 batch."""
        import tensorflow as tf

        if self.features == "hog_pixels":
            flat = _hog_pixels_tensor(images)
        else:
            flat = tf.reshape(images, (-1, self.centroids.shape[1]))
        distances = tf.constant(self._sq_norms)[None, :] - 2.0 * tf.matmul(flat, tf.constant(self.centroids.T))
        return tf.cast(tf.argmin(distances, axis=1), tf.int32)

    def save(self, path):
        """Write the clusters to `path` (.npz) atomically: a crash leaves the old file or the new one."""
        from ganzoo.fileio import atomic_write

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, centroids=self.centroids, counts=self.counts, features=np.array(self.features))

        atomic_write(path, write)

    @classmethod
    def load(cls, path):
        """The clusters saved at `path`; DatasetError naming the file when it is missing or damaged."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in _KEYS}
                features = str(data["features"]) if "features" in data.files else "pixels"
            return cls(**arrays, features=features)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DatasetError(
                f"{path} is not a readable cluster file ({type(e).__name__}: {e}). It holds the k-means clusters "
                "this run's labels come from; restore it from a backup, or train a new run (a new --run-dir)."
            ) from e


def fit_clusters(images, k, seed=0, max_iterations=100, features="pixels"):
    """k-means of `images` (any shape (n, ...); flattened; in the `features` space, one of
    FEATURES: `cluster_features`): k-means++ seeding (Arthur &
    Vassilvitskii 2007), then Lloyd's iterations until no image changes cluster or
    `max_iterations`. A cluster left empty is re-seeded with the image farthest from its
    centroid. Deterministic for a seed.

    Returns:
        ImageClusters with the centroids and each cluster's number of images.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2; got {k!r}.")
    flat = _flat(cluster_features(images, _checked_features(features)))
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
    return ImageClusters(centroids, counts, features)


def cluster_features(images, features="pixels"):
    """float32 (n, d): `images` (n, h, w, c) in the clustering space: the flattened pixels, or
    for "hog_pixels" 4 x `hog(images)` beside the pixels x 2 / sqrt(h w c)."""
    if features == "pixels":
        return images
    x = np.asarray(images, np.float32)
    flat = x.reshape(len(x), -1)
    return np.concatenate([4.0 * hog(x), flat * (2.0 / np.sqrt(flat.shape[1]))], axis=1)


def hog(images):
    """float32 (n, 128): histograms of oriented gradients of (n, h, w, c) images (their channel
    mean): the gradient (central differences, zero at the border) votes its magnitude into one
    of 8 unsigned orientations, summed over a 4x4 grid of cells, each image's histogram scaled to
    unit length (Dalal & Triggs 2005, without their block normalization)."""
    x = np.asarray(images, np.float32)
    _check_cells(x.shape)
    # A chunk at a time: the one-hot votes are 8 floats per pixel (1.5 GB for 60,000 28x28
    # images at once, whose page faults cost more system time than the arithmetic).
    return np.concatenate([_hog_chunk(x[i: i + _HOG_CHUNK]) for i in range(0, len(x), _HOG_CHUNK)]
                          or [np.zeros((0, _CELLS * _CELLS * _BINS), np.float32)])


def _hog_chunk(x):
    g = x.mean(axis=-1)
    n, h, w = g.shape
    gx, gy = np.zeros_like(g), np.zeros_like(g)
    gx[:, :, 1:-1] = g[:, :, 2:] - g[:, :, :-2]
    gy[:, 1:-1] = g[:, 2:] - g[:, :-2]
    magnitude = np.sqrt(gx * gx + gy * gy)
    b = np.minimum(np.floor(np.mod(np.arctan2(gy, gx), np.pi) / np.pi * _BINS), _BINS - 1).astype(np.int32)
    votes = np.eye(_BINS, dtype=np.float32)[b] * magnitude[..., None]
    hist = votes.reshape(n, _CELLS, h // _CELLS, _CELLS, w // _CELLS, _BINS).sum(axis=(2, 4)).reshape(n, -1)
    return hist / (np.sqrt(np.sum(hist * hist, axis=1, keepdims=True)) + 1e-6)


def _checked_features(features):
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}; got {features!r}.")
    return features


def _check_cells(shape):
    if len(shape) != 4 or shape[1] % _CELLS or shape[2] % _CELLS:
        raise ValueError(f"hog_pixels clusters need (n, h, w, c) images with h and w multiples of {_CELLS}; "
                         f"got shape {tuple(shape)}. Cluster in pixels (--cluster-features pixels) or resize "
                         "the images (--image-size).")


def _hog_pixels_tensor(images):
    """`cluster_features(images, "hog_pixels")` in TensorFlow ops (the same arithmetic)."""
    import tensorflow as tf

    _check_cells(images.shape)
    h, w = images.shape[1], images.shape[2]
    x = tf.cast(images, tf.float32)
    g = tf.reduce_mean(x, axis=-1)
    gx = tf.pad(g[:, :, 2:] - g[:, :, :-2], [[0, 0], [0, 0], [1, 1]])
    gy = tf.pad(g[:, 2:] - g[:, :-2], [[0, 0], [1, 1], [0, 0]])
    magnitude = tf.sqrt(gx * gx + gy * gy)
    b = tf.cast(tf.minimum(tf.floor(tf.math.floormod(tf.atan2(gy, gx), np.pi) / np.pi * _BINS), _BINS - 1), tf.int32)
    votes = tf.one_hot(b, _BINS) * magnitude[..., None]
    hist = tf.reduce_sum(tf.reshape(votes, (-1, _CELLS, h // _CELLS, _CELLS, w // _CELLS, _BINS)), axis=(2, 4))
    hist = tf.reshape(hist, (-1, _CELLS * _CELLS * _BINS))
    hist = hist / (tf.sqrt(tf.reduce_sum(hist * hist, axis=1, keepdims=True)) + 1e-6)
    flat = tf.reshape(x, (-1, h * w * images.shape[3]))
    return tf.concat([4.0 * hist, flat * (2.0 / np.sqrt(h * w * images.shape[3]))], axis=1)


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
