"""Ground truth beside the discriminator's bounds on the 2-D toys: the divergences the bounds
bound, measured between the generator's samples and the true mixture at each epoch's end."""

import keras
import numpy as np

from ganzoo.metrics.toy import binned_js_divergence, binned_total_variation, toy_value_range, wasserstein1_distance
from ganzoo.runs.callbacks.steps import steps_done


class ToyGroundTruth(keras.callbacks.Callback):
    """At each epoch end: exact W1, binned JS and binned TV of G's samples to the toy mixture.

    Tags (beside `epoch/js_lower_bound`, `epoch/tv_lower_bound`, `epoch/wasserstein` of the
    model's own logs, so one TensorBoard section shows a bound and what it bounds):
    `epoch/true_wasserstein` (exact W1 between `w1_samples` generated and as many true points,
    by optimal assignment, `ganzoo.metrics.toy.wasserstein1_distance`), `epoch/true_js` and
    `epoch/true_tv` (`binned_js_divergence`, `binned_total_variation` of `num_samples` points
    each on the toy's grid, `toy_value_range`, `bins` per axis). With PacGAN packing (m > 1)
    the discriminator's bounds are on the m-sample packs, so `epoch/true_wasserstein_packed`
    adds the exact W1 between packs of m generated and m true points (the packed vectors in
    R^(2m), as the critic sees them). The generated points come from one fixed latent batch
    (`seed`), so the curves move with G, not with the draw; a conditional model draws every
    class equally often (the toy's marginal).

    Args:
        writer: the run's `EventWriter` (the TensorBoard logger's).
        toy: the `ToyDistribution` the data is drawn from.
        num_samples: points for the binned divergences.
        w1_samples: points for the exact W1 (O(n^3): 1,000 take about 0.2 s).
        bins: histogram bins per axis.
        seed: seed of the true points and of the generator's latent batch.
        guard: the run's NaN guard; nothing is measured after it stopped the run.
    """

    def __init__(self, writer, toy, num_samples=10000, w1_samples=1000, bins=50, seed=0, guard=None):
        super().__init__()
        self.writer, self.toy, self.guard = writer, toy, guard
        self.num_samples, self.w1_samples, self.bins, self.seed = int(num_samples), int(w1_samples), int(bins), seed
        self.real = toy.sample(max(self.num_samples, self.w1_samples), seed=seed)
        self.value_range = toy_value_range(toy.centers, toy.sigma)
        self.history = []

    def measure(self, model):
        """{tag: value} for `model`'s generator now."""
        n = max(self.num_samples, self.w1_samples)
        k = model.num_classes
        labels = None if k is None else (np.arange(n) % k).astype("int32")
        fake = np.asarray(model.generate(n, seed=self.seed + 1, labels=labels), "float64").reshape(n, -1)
        real = np.asarray(self.real, "float64")
        m = self.w1_samples
        scalars = {
            "epoch/true_wasserstein": wasserstein1_distance(fake[:m], real[:m]),
            "epoch/true_js": binned_js_divergence(fake[:self.num_samples], real[:self.num_samples], self.bins,
                                                  self.value_range),
            "epoch/true_tv": binned_total_variation(fake[:self.num_samples], real[:self.num_samples], self.bins,
                                                    self.value_range),
        }
        pack = getattr(model, "pack", 1)
        if pack > 1:
            packs = (m // pack) * pack
            scalars["epoch/true_wasserstein_packed"] = wasserstein1_distance(
                fake[:packs].reshape(-1, 2 * pack), real[:packs].reshape(-1, 2 * pack))
        return scalars

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.failure:
            return
        scalars = self.measure(self.model)
        self.writer.scalars(scalars, steps_done(self.model))
        self.writer.flush()
        self.history.append({"epoch": epoch + 1, **scalars})
