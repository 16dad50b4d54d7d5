"""Label priors p(y): checked and sampled the same way by a model and by its exports (numpy only).

A conditional model with a `label_prior` (one trained on k-means clusters of its images,
`ganzoo.data.clusters`) samples y ~ p(y) when no labels are asked for, so G(z, y) covers the
whole data distribution; `ganzoo.models` and `ganzoo.export.runtime` both draw with
`prior_labels`, so a model and its ONNX export give the same samples for the same seed.
`balanced_labels` is the default everywhere labels are left out.
"""

import numpy as np


def prior_labels(prior, n, seed=None):
    """int32 (n,) labels drawn from the categorical `prior` with numpy's default_rng([seed, 1])
    (independent of the z drawn from default_rng(seed)): how a model and its exports pick the
    cluster of each sample, the same for the same seed."""
    rng = np.random.default_rng(None if seed is None else [int(seed), 1])
    prior = np.asarray(prior, dtype=np.float64)
    return rng.choice(len(prior), size=int(n), p=prior / prior.sum()).astype(np.int32)


def check_prior(prior, num_classes):
    """The problem with `prior` as a label prior of `num_classes` classes, or None."""
    try:
        values = np.asarray(prior, dtype=np.float64)
    except (TypeError, ValueError):
        return f"label_prior must be a list of {num_classes} numbers; got {prior!r:.80}."
    if values.shape != (num_classes,) or not np.all(np.isfinite(values)) or values.min() < 0 or values.sum() <= 0:
        return (f"label_prior must be {num_classes} non-negative numbers (one per class) with a positive sum; "
                f"got {prior!r:.80}.")
    return None


def balanced_labels(num_classes, n, label_prior=None):
    """The labels a generator is scored and pictured with when none are asked for: every class
    equally often (0, 1, ..., K - 1, 0, ...) for a class-conditional one; None for an
    unconditional one and for one with a label prior, whose `generate` draws them from it."""
    if not num_classes or label_prior is not None:
        return None
    return (np.arange(int(n)) % int(num_classes)).astype(np.int32)
