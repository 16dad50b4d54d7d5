"""Feature-space sample-quality metrics: Frechet distance, KID, Inception Score, precision/recall, coverage.

Every function here takes numpy feature vectors (or class probabilities) that some extractor
produced (see `ganzoo.metrics.features`) and knows nothing about images or networks.

* `frechet_distance` -- the Frechet (2-Wasserstein) distance between two Gaussians fitted to the
  features (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule ..."):
  ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)). The trace of the matrix square root is
  computed as the sum of square roots of the eigenvalues of the symmetric PSD matrix
  S1^(1/2) S2 S1^(1/2) (same eigenvalues as S1 S2), so no complex parts, no `sqrtm` iteration,
  and negative round-off eigenvalues are clipped to 0. With Inception features this is FID.
* `kernel_inception_distance` -- KID (Binkowski et al. 2018, "Demystifying MMD GANs"): unbiased
  MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets;
  returns (mean, std). Unbiased, so identical distributions average about 0 (can be negative).
* `inception_score` -- exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016) over `splits` chunks;
  returns (mean, std). Any classifier's softmax works (ganzoo's MNIST score uses its own).
* `precision_recall` -- improved precision and recall (Kynkaanniemi et al. 2019): each set's
  manifold is the union of balls reaching each point's k-th nearest neighbour (k=3); precision
  is the fraction of fake samples inside the real manifold, recall the fraction of real samples
  inside the fake manifold. Batched matrix ops, no Python loop over samples. The estimate depends
  on the sample sizes; compare runs with equal sizes (`evaluate_samples` equalizes them).
* `mode_coverage` -- the stacked-MNIST protocol (Metz et al. 2017, VEEGAN, PacGAN): classify
  generated samples, count classes that received at least `min_count` samples, and the reverse
  KL divergence KL(p_fake || p_data) of the predicted-class histogram to the data's.
* `sample_diversity` -- mean pairwise feature distance of fake samples divided by that of real
  samples: about 1 when healthy, near 0 under complete collapse. Blind to partial collapse: ten
  distinct outputs repeated a hundred times keep the pairwise spread of real data (0.9).
* `sample_coverage` -- coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics
  for Generative Models"): the fraction of real samples whose k-NN ball (k = 5) holds at least
  one generated sample. Repeated outputs and dropped modes leave real neighbourhoods empty, so
  it falls with any collapse, full or partial; for equal-size sets from one distribution it is
  about 1 - 2^-k (0.97).
"""

import numpy as np


def _as_features(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples, features); got shape {x.shape}.")
    if len(x) < 2:
        raise ValueError(f"{name} needs at least 2 samples; got {len(x)}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf values.")
    return x


def _check_same_dim(a, b):
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}; use the same extractor for both.")


def feature_statistics(features):
    """Mean and covariance of features, the Gaussian fit the Frechet distance compares.

    Args:
        features: (N, D) array, N >= 2.

    Returns:
        (mu [D], sigma [D, D]) as float64; sigma uses the unbiased (N - 1) normalization.
    """
    features = _as_features(features, "features")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def _psd_sqrt(matrix):
    # Symmetric square root by eigendecomposition; clip round-off negatives so sqrt stays real.
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2)), with the last
    trace computed from the eigenvalues of the symmetric PSD matrix
    sigma1^(1/2) sigma2 sigma1^(1/2): always real and >= 0, stable for singular covariances.

    Args:
        mu1, mu2: means, shape (D,).
        sigma1, sigma2: covariances, shape (D, D), symmetric positive semi-definite.

    Returns:
        The squared Frechet distance (what "FID" reports), a float >= 0.

    Example:
        >>> frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))  # 2 + 2 * (2 - 1)^2
        4.0
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"shapes do not match: mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, sigma2 {sigma2.shape}; "
            "expected (D,), (D, D), (D,), (D, D)."
        )
    sqrt_sigma1 = _psd_sqrt(sigma1)
    middle = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    mean_term = np.sum((mu1 - mu2) ** 2)
    value = mean_term + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(value, 0.0))


def frechet_distance_from_features(features1, features2):
    """Frechet distance between Gaussians fitted to two feature sets ((N1, D) and (N2, D))."""
    features1, features2 = _as_features(features1, "features1"), _as_features(features2, "features2")
    _check_same_dim(features1, features2)
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def _polynomial_kernel(a, b):
    # (a.b / d + 1)^3, in place: the elementwise work costs as much as the matmul at d = 128.
    gram = a @ b.T
    gram *= 1.0 / a.shape[1]
    gram += 1.0
    return gram * gram * gram


def _unbiased_mmd2(x, y):
    # Kernels in float32 (twice as fast as float64; the rounding, ~1e-7 absolute, is far below
    # KID's subset noise), sums accumulated in float64.
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    # Unbiased: drop the diagonal self-similarities of the within-set terms.
    sum_xx = (k_xx.sum(dtype=np.float64) - np.trace(k_xx, dtype=np.float64)) / (m * (m - 1))
    sum_yy = (k_yy.sum(dtype=np.float64) - np.trace(k_yy, dtype=np.float64)) / (m * (m - 1))
    return sum_xx + sum_yy - 2 * k_xy.mean(dtype=np.float64)


def kernel_inception_distance(real_features, fake_features, num_subsets=100, subset_size=1000, seed=0):
    """KID: unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets.

    Args:
        real_features: (N_real, D).
        fake_features: (N_fake, D).
        num_subsets: how many subset pairs to average (Binkowski et al. use 100).
        subset_size: samples per subset (1000 in the paper); capped at the smaller set size.
        seed: seed of the subset draws.

    Returns:
        (mean, std) over subsets, floats. Reported as KID (often x 1000 in papers).
    """
    real = _as_features(real_features, "real_features").astype(np.float32)
    fake = _as_features(fake_features, "fake_features").astype(np.float32)
    _check_same_dim(real, fake)
    if num_subsets < 1 or subset_size < 2:
        raise ValueError(f"need num_subsets >= 1 and subset_size >= 2; got {num_subsets}, {subset_size}.")
    m = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    values = np.array([
        _unbiased_mmd2(fake[rng.choice(len(fake), m, replace=False)], real[rng.choice(len(real), m, replace=False)])
        for _ in range(num_subsets)
    ])
    return float(values.mean()), float(values.std())


def inception_score(probabilities, splits=10):
    """Inception Score exp(E_x KL(p(y|x) || p(y))) from class probabilities, over `splits` chunks.

    Args:
        probabilities: (N, C) softmax outputs, rows summing to 1.
        splits: chunks the score is computed on separately (10 in Salimans et al.).

    Returns:
        (mean, std) over the chunks. Ranges from 1 (all samples identical or uninformative)
        to C (confident and evenly spread over all C classes).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be an (N, C) array of non-negative rows summing to 1 (a softmax).")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be between 1 and the number of samples ({len(p)}); got {splits}.")
    eps = 1e-12
    scores = []
    for chunk in np.array_split(p, splits):
        marginal = chunk.mean(axis=0, keepdims=True)
        kl = np.sum(chunk * (np.log(chunk + eps) - np.log(marginal + eps)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _squared_distances(a, b):
    # ||a||^2 + ||b||^2 - 2 a.b, clipped at 0 against round-off.
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0.0)


def knn_radii(features, k=3, batch_size=1000):
    """Squared distance from each point to its k-th nearest neighbour within the same set (self excluded).

    Args:
        features: (N, D), N > k.
        k: neighbour rank.
        batch_size: rows per distance block (memory is batch_size x N floats).

    Returns:
        (N,) float array of squared radii.
    """
    features = np.asarray(features, dtype=np.float32)
    if not 1 <= k < len(features):
        raise ValueError(f"k must be in [1, N - 1] = [1, {len(features) - 1}]; got k={k}.")
    radii = np.empty(len(features), np.float32)
    for start in range(0, len(features), batch_size):
        block = _squared_distances(features[start:start + batch_size], features)
        # Index k (not k - 1): position 0 is the point itself at distance 0.
        radii[start:start + batch_size] = np.partition(block, k, axis=1)[:, k]
    return radii


def _fraction_inside(queries, support, support_radii, batch_size):
    inside = np.empty(len(queries), bool)
    for start in range(0, len(queries), batch_size):
        block = _squared_distances(queries[start:start + batch_size], support)
        inside[start:start + batch_size] = np.any(block <= support_radii[None, :], axis=1)
    return float(inside.mean())


def sample_coverage(real_features, fake_features, k=5, batch_size=1000):
    """Coverage (Naeem et al. 2020): the share of real samples whose k-NN ball holds a fake sample.

    Args:
        real_features: (N_real, D); N_real > k.
        fake_features: (N_fake, D); use as many as real samples (the expected value for two
            samples of one distribution, 1 - 2^-k, assumes equal sizes).
        k: neighbourhood size (5 in the paper).
        batch_size: rows per distance block.

    Returns:
        float in [0, 1]: about 0.97 (k = 5) for a generator matching the data, the share of
        the real modes it reaches when it drops some, near 0 when it repeats a few outputs.
    """
    real = _as_features(real_features, "real_features").astype(np.float32)
    fake = _as_features(fake_features, "fake_features").astype(np.float32)
    _check_same_dim(real, fake)
    radii = knn_radii(real, k, batch_size)
    covered = np.empty(len(real), bool)
    for start in range(0, len(real), batch_size):
        nearest_fake = _squared_distances(real[start:start + batch_size], fake).min(axis=1)
        covered[start:start + batch_size] = nearest_fake <= radii[start:start + batch_size]
    return float(covered.mean())


def precision_recall(real_features, fake_features, k=3, batch_size=1000):
    """Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN manifold estimates.

    Args:
        real_features: (N_real, D).
        fake_features: (N_fake, D).
        k: neighbourhood size of the manifold balls (3 in the paper).
        batch_size: rows per distance block; memory is batch_size x max(N) float32.

    Returns:
        (precision, recall), floats in [0, 1].
    """
    real = _as_features(real_features, "real_features").astype(np.float32)
    fake = _as_features(fake_features, "fake_features").astype(np.float32)
    _check_same_dim(real, fake)
    precision = _fraction_inside(fake, real, knn_radii(real, k, batch_size), batch_size)
    recall = _fraction_inside(real, fake, knn_radii(fake, k, batch_size), batch_size)
    return precision, recall


def class_histogram(labels, num_classes):
    """Normalized histogram (num_classes,) of integer labels."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(f"labels must be a 1-D array of integers in [0, {num_classes}).")
    counts = np.bincount(labels.astype(np.int64), minlength=num_classes).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def mode_coverage(fake_labels, data_histogram, min_count=1):
    """Stacked-MNIST style coverage: classes hit by generated samples, and reverse KL to the data.

    Args:
        fake_labels: (N,) predicted classes of generated samples (argmax of a classifier).
        data_histogram: (C,) class frequencies of real data (e.g. `class_histogram` of the
            classifier's predictions on real images, or uniform).
        min_count: samples a class needs to count as covered.

    Returns:
        (classes_covered, kl) where kl = KL(p_fake || p_data) in nats (0 when the histograms
        match; grows as the generator drops or over-produces classes). Classes absent from the
        data histogram get a 1e-10 floor so the value stays finite.
    """
    p_data = np.asarray(data_histogram, dtype=np.float64)
    if p_data.ndim != 1 or np.any(p_data < 0) or p_data.sum() <= 0:
        raise ValueError("data_histogram must be a 1-D array of non-negative class frequencies.")
    p_data = p_data / p_data.sum()
    counts = np.bincount(np.asarray(fake_labels, dtype=np.int64), minlength=len(p_data))
    if len(counts) > len(p_data):
        raise ValueError(f"fake_labels contain classes >= {len(p_data)} (the histogram's length).")
    p_fake = counts / counts.sum()
    nonzero = p_fake > 0
    kl = np.sum(p_fake[nonzero] * (np.log(p_fake[nonzero]) - np.log(np.maximum(p_data[nonzero], 1e-10))))
    return int(np.sum(counts >= min_count)), float(kl)


def mean_pairwise_distance(features, max_samples=2000, seed=0):
    """Mean Euclidean distance between distinct pairs of up to `max_samples` random samples."""
    features = _as_features(features, "features")
    if len(features) > max_samples:
        features = features[np.random.default_rng(seed).choice(len(features), max_samples, replace=False)]
    n = len(features)
    distances = np.sqrt(_squared_distances(features, features))
    return float(distances.sum() / (n * (n - 1)))


def sample_diversity(fake_features, real_features, max_samples=2000, seed=0):
    """Diversity of generated samples relative to real data, for mode-collapse alarms.

    Args:
        fake_features: (N_fake, D) features of generated samples.
        real_features: (N_real, D) features of real samples.
        max_samples: random subset size per set for the pairwise distances.
        seed: seed of the subsets.

    Returns:
        mean pairwise distance(fake) / mean pairwise distance(real): about 1 for a healthy
        generator, near 0 when it collapses to few outputs, 0 when all samples are identical.
    """
    fake = _as_features(fake_features, "fake_features")
    real = _as_features(real_features, "real_features")
    _check_same_dim(fake, real)
    real_spread = mean_pairwise_distance(real, max_samples, seed)
    if real_spread == 0:
        raise ValueError("real_features are all identical; diversity relative to them is undefined.")
    return mean_pairwise_distance(fake, max_samples, seed) / real_spread
