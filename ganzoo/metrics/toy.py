"""Metrics for 2-D toy distributions (mixtures of isotropic Gaussians), and the divergences GAN theory uses.

Protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018), evaluated on 2,500
generated samples:

* a sample is **high quality** when it lies within 3 sigma (Euclidean) of its nearest mode
  centre; for a true 2-D Gaussian that holds with probability 1 - exp(-9/2) = 98.89%;
* a mode is **captured** when at least `min_samples` high-quality samples are nearest to it;
* **reverse KL** = KL(p_model || p_true) of the mode histogram: p_model is the fraction of
  high-quality samples nearest each mode, p_true the mixture weights (uniform by default).

Both standard toys (`TOY_DISTRIBUTIONS`, the mixtures `ganzoo.data` samples its toy datasets from): `gaussian_ring` = 8 modes equally spaced
on the unit circle, sigma 0.01; `gaussian_grid` = 25 modes at {-4, -2, 0, 2, 4}^2, sigma 0.05.

Two quantities the theory speaks of, estimated from samples:

* `binned_js_divergence` -- Jensen-Shannon divergence (nats, in [0, log 2]) between the 2-D
  histograms of the two sample sets on a shared grid; the quantity the original GAN's optimal
  discriminator turns the minimax loss into (Goodfellow et al. 2014). Binning biases it upward
  by roughly (occupied bins) / (samples); identical distributions give about 0, disjoint ones log 2.
* `wasserstein1_distance` -- the exact Wasserstein-1 (earth mover's) distance between two
  equal-size empirical distributions: the minimum mean Euclidean distance over one-to-one
  matchings (optimal assignment, `scipy.optimize.linear_sum_assignment`, O(n^3); 2,500 points
  take a few seconds). The quantity WGAN's critic estimates.
* `binned_total_variation` -- the total variation distance of the same histograms as the binned
  JS: the quantity SN-GAN's hinge loss bounds (`ganzoo.losses.tv_lower_bound`).
"""

import dataclasses

import numpy as np


# The mixtures themselves, defined here once; `ganzoo.data` draws its toy datasets from them.
@dataclasses.dataclass(frozen=True, eq=False)
class ToyDistribution:
    """An equal-weight mixture of isotropic 2-D Gaussians with known modes.

    Attributes:
        name: the dataset name, e.g. "gaussian_ring".
        centers: the mode centers, float64 array of shape (K, 2) (read-only).
        sigma: the standard deviation of every mode, per coordinate.
        description: one line for `ganzoo list`.

    Example:
        >>> ring = toy_distribution("gaussian_ring")
        >>> points = ring.sample(1000, seed=0)          # (1000, 2) float32
        >>> modes, distance = ring.nearest_mode(points)  # "high quality" if distance < 3 sigma
    """

    name: str
    centers: np.ndarray
    sigma: float
    description: str = ""

    @property
    def num_modes(self):
        return len(self.centers)

    @property
    def mode_names(self):
        """One name per mode, its center: "(x, y)" (the class names of the toy's labels)."""
        return tuple(f"({x:.3g}, {y:.3g})" for x, y in self.centers)

    def sample(self, n, seed=None, return_modes=False):
        """Draws `n` points: a uniform mode, plus N(0, sigma^2 I) noise.

        Args:
            n: number of points.
            seed: seed of a `np.random.default_rng` (None: fresh entropy).
            return_modes: also return the int32 mode index of every point.

        Returns:
            float32 array (n, 2), or (points, modes) when `return_modes`.
        """
        rng = np.random.default_rng(seed)
        modes = rng.integers(0, self.num_modes, size=n)
        points = self.centers[modes] + self.sigma * rng.standard_normal((n, 2))
        points = points.astype(np.float32)
        return (points, modes.astype(np.int32)) if return_modes else points

    def nearest_mode(self, points):
        """Index of the closest center of every point, and the distance to it.

        Returns:
            (modes int64 (N,), distances float64 (N,)).
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        distances = np.linalg.norm(points[:, None, :] - self.centers[None, :, :], axis=-1)
        modes = distances.argmin(axis=1)
        return modes, distances[np.arange(len(points)), modes]

    def log_prob(self, points):
        """Log density of the mixture at `points` (N, 2), float64 (N,)."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        squared = ((points[:, None, :] - self.centers[None, :, :]) ** 2).sum(-1)
        log_components = -squared / (2 * self.sigma**2) - np.log(2 * np.pi * self.sigma**2)
        peak = log_components.max(axis=1, keepdims=True)
        log_sum = peak[:, 0] + np.log(np.exp(log_components - peak).sum(axis=1))
        return log_sum - np.log(self.num_modes)


def _read_only(array):
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


_RING_ANGLES = 2 * np.pi * np.arange(8) / 8
TOY_DISTRIBUTIONS = {
    "gaussian_ring": ToyDistribution(
        "gaussian_ring",
        _read_only(np.stack([np.cos(_RING_ANGLES), np.sin(_RING_ANGLES)], axis=1)),
        0.01,
        "8 Gaussians on the unit circle, sigma 0.01 (PacGAN / VEEGAN 2-D ring)",
    ),
    "gaussian_grid": ToyDistribution(
        "gaussian_grid",
        _read_only([(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)]),
        0.05,
        "25 Gaussians at {-4,-2,0,2,4}^2, sigma 0.05 (PacGAN / VEEGAN 2-D grid)",
    ),
}

RING_CENTERS = TOY_DISTRIBUTIONS["gaussian_ring"].centers
RING_SIGMA = TOY_DISTRIBUTIONS["gaussian_ring"].sigma
GRID_CENTERS = TOY_DISTRIBUTIONS["gaussian_grid"].centers
GRID_SIGMA = TOY_DISTRIBUTIONS["gaussian_grid"].sigma


def _as_points(points, name):
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{name} must be 2-D points of shape (N, 2); got {points.shape}.")
    if len(points) == 0:
        raise ValueError(f"{name} is empty.")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} contains NaN or inf values.")
    return points


def _as_centers(centers, sigma):
    centers = _as_points(centers, "centers")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a positive number; got {sigma}.")
    return centers


def nearest_mode(samples, centers):
    """Index of, and Euclidean distance to, the nearest centre for each sample: ((N,), (N,))."""
    samples, centers = _as_points(samples, "samples"), _as_points(centers, "centers")
    distances = np.sqrt(((samples[:, None, :] - centers[None, :, :]) ** 2).sum(-1))
    index = distances.argmin(axis=1)
    return index, distances[np.arange(len(samples)), index]


def toy_mode_metrics(samples, centers, sigma, weights=None, min_samples=1):
    """VEEGAN/PacGAN mode metrics of 2-D samples against a Gaussian mixture.

    Args:
        samples: (N, 2) generated points (the protocol uses N = 2,500).
        centers: (K, 2) mode centres.
        sigma: standard deviation of each (isotropic) mode.
        weights: (K,) mixture weights of the true distribution; uniform when None.
        min_samples: high-quality samples a mode needs to count as captured.

    Returns:
        dict with `modes` (modes captured, int), `high_quality` (fraction of samples within
        3 sigma of their nearest mode) and `reverse_kl` (KL(p_model || p_true) over the modes
        of the high-quality samples; inf when there are none).

    Example:
        >>> toy_mode_metrics(generator_samples, RING_CENTERS, RING_SIGMA)
        {'modes': 8, 'high_quality': 0.987, 'reverse_kl': 0.004}
    """
    centers = _as_centers(centers, sigma)
    k = len(centers)
    p_true = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    if p_true.shape != (k,):
        raise ValueError(f"weights must have one entry per centre ({k}); got shape {np.shape(weights)}.")
    index, distance = nearest_mode(samples, centers)
    good = distance <= 3 * sigma
    counts = np.bincount(index[good], minlength=k)
    if counts.sum() == 0:
        reverse_kl = float("inf")
    else:
        p_model = counts / counts.sum()
        hit = p_model > 0
        reverse_kl = float(np.sum(p_model[hit] * np.log(p_model[hit] / p_true[hit])))
    return {"modes": int(np.sum(counts >= min_samples)), "high_quality": float(good.mean()), "reverse_kl": reverse_kl}


def _histograms(samples_p, samples_q, bins, value_range):
    """The two sample sets' normalized 2-D histograms on a shared grid (flattened), for the
    binned divergences (see `binned_js_divergence` for `bins` and `value_range`)."""
    p, q = _as_points(samples_p, "samples_p"), _as_points(samples_q, "samples_q")
    if value_range is None:
        both = np.concatenate([p, q])
        low, high = both.min(axis=0), both.max(axis=0)
        pad = np.maximum(high - low, 1e-12) * 1e-6  # keep the maximum inside the last bin
        value_range = [(low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])]
    value_range = np.asarray(value_range, np.float64)
    if value_range.shape != (2, 2) or np.any(value_range[:, 1] <= value_range[:, 0]):
        raise ValueError(f"value_range must be ((xmin, xmax), (ymin, ymax)) with min < max; got {value_range.tolist()}.")
    low, high = value_range[:, 0], value_range[:, 1]
    inner_high = high - (high - low) * 1e-9  # np.histogram2d's last bin is closed; stay inside it
    p, q = np.clip(p, low, inner_high), np.clip(q, low, inner_high)
    hist_p = np.histogram2d(p[:, 0], p[:, 1], bins=bins, range=value_range)[0].ravel()
    hist_q = np.histogram2d(q[:, 0], q[:, 1], bins=bins, range=value_range)[0].ravel()
    return hist_p / hist_p.sum(), hist_q / hist_q.sum()


def binned_js_divergence(samples_p, samples_q, bins=50, value_range=None):
    """Jensen-Shannon divergence between two 2-D sample sets, from histograms on a shared grid.

    JS(P, Q) = KL(P || M) / 2 + KL(Q || M) / 2 with M = (P + Q) / 2, in nats.

    Args:
        samples_p, samples_q: (N, 2) and (M, 2) points.
        bins: bins per axis.
        value_range: ((xmin, xmax), (ymin, ymax)); by default the joint bounding box of both sets.
            Points outside it are clipped into the border bins, so no mass is dropped (and a
            far outlier cannot stretch the grid, as it would the default bounding box).

    Returns:
        A float in [0, log 2]: about 0 for identical distributions (plus binning bias), log 2
        when the supports fall in disjoint bins.
    """
    hist_p, hist_q = _histograms(samples_p, samples_q, bins, value_range)
    mixture = (hist_p + hist_q) / 2

    def kl_to_mixture(h):
        hit = h > 0
        return np.sum(h[hit] * np.log(h[hit] / mixture[hit]))

    return float(np.clip((kl_to_mixture(hist_p) + kl_to_mixture(hist_q)) / 2, 0.0, np.log(2)))


def binned_total_variation(samples_p, samples_q, bins=50, value_range=None):
    """Total variation distance TV(P, Q) = (1/2) sum |P(bin) - Q(bin)| between two 2-D sample
    sets' histograms on a shared grid (arguments as `binned_js_divergence`).

    The quantity the hinge loss's optimal discriminator turns that loss into (see
    `ganzoo.losses.tv_lower_bound`). Binning alone can only lower a divergence (the binned
    distributions are a function of the samples), but counting noise raises it: two samples of
    one distribution give about sum_bins sqrt(P(bin) / (pi n)) for n points each.

    Returns:
        A float in [0, 1]: 0 for identical histograms, 1 for disjoint ones.
    """
    hist_p, hist_q = _histograms(samples_p, samples_q, bins, value_range)
    return float(np.clip(0.5 * np.abs(hist_p - hist_q).sum(), 0.0, 1.0))


def toy_value_range(centers, sigma):
    """The histogram range `evaluate_samples` uses for a toy mixture: the centres' bounding box
    padded by a quarter of its span (at least 10 sigma) on every side."""
    centers = _as_centers(centers, sigma)
    low, high = centers.min(axis=0), centers.max(axis=0)
    pad = np.maximum(0.25 * (high - low), 10 * sigma)
    return ((low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1]))


def wasserstein1_distance(samples_p, samples_q):
    """Exact Wasserstein-1 distance between two equal-size point sets (uniform weights).

    W1 = min over permutations pi of mean_i ||p_i - q_pi(i)||, solved as an optimal assignment.

    Args:
        samples_p, samples_q: (N, D) arrays with the same N and D (any D, typically 2).

    Returns:
        The distance, a float >= 0.

    Raises:
        ValueError: the sets differ in size (subsample the larger one first).
    """
    from scipy.optimize import linear_sum_assignment

    p, q = np.asarray(samples_p, np.float64), np.asarray(samples_q, np.float64)
    if p.ndim != 2 or q.ndim != 2 or p.shape != q.shape or len(p) == 0:
        raise ValueError(
            f"wasserstein1_distance needs two non-empty (N, D) sets of the same shape; got {p.shape} and {q.shape}. "
            "Subsample the larger set to the smaller one's size."
        )
    cost = np.sqrt(((p[:, None, :] - q[None, :, :]) ** 2).sum(-1))
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def sample_mixture(centers, sigma, num_samples, seed=0):
    """Draw `num_samples` points from the uniform mixture of N(center, sigma^2 I): (num_samples, 2) float32."""
    centers = _as_centers(centers, sigma)
    rng = np.random.default_rng(seed)
    which = rng.integers(len(centers), size=num_samples)
    return (centers[which] + sigma * rng.standard_normal((num_samples, 2))).astype(np.float32)
