"""Sampling from a ganzoo model: `call`, `generate` and the EMA generator (a mixin of `GANBase`).

A conditional model (`num_classes` set) samples from p(x | y): its generator takes [z, label],
and `generate` needs the labels, unless the model has a `label_prior` p(y) (a model trained on
k-means clusters of its images): then labels left out are drawn from it, and G(z, y) with
y ~ p(y) samples the whole data distribution.
"""

import keras
import numpy as np
from keras import ops

from ganzoo.labels import check_prior, prior_labels
from ganzoo.models.game import _positive_int
from ganzoo.models.optimizers import _inner
from ganzoo.models.keras_internals import ema_averages

# Batches (of 256 samples) over which the EMA generator's BatchNorm statistics are taken: 10,240
# samples, recomputed whenever the average changed (1.7 CPU-s for the quick start's G, 2.5 for
# the Fashion-MNIST zoo's). 8 batches cost a fifth as much but scored the 50-cluster
# Fashion-MNIST DCGAN's seed 0 at fashion_fd 0.739 against 0.706: the statistics' noise shows
# in scores, not in a picture, so each epoch's sample picture takes PICTURE_STANDING_BATCHES.
STANDING_BATCHES = 40
PICTURE_STANDING_BATCHES = 8
STANDING_BATCH_SIZE = 256


def _label_prior(prior, num_classes):
    """A conditional model's label prior as a list of floats summing to 1 (None stays None)."""
    if prior is None:
        return None
    if num_classes is None:
        raise ValueError("label_prior is p(y) for a conditional model: pass num_classes too, or leave it out.")
    problem = check_prior(prior, num_classes)
    if problem:
        raise ValueError(problem)
    values = np.asarray(prior, dtype=np.float64)
    return [float(v) for v in values / values.sum()]


class Sampling:
    """`call`, `generate`, `ema_generator` and `sampling_generator`."""

    def call(self, inputs, training=False):
        """G(z), or G([z, labels]) for a conditional model: latent vectors (and labels) -> samples."""
        return self.generator(inputs, training=training)

    @property
    def ema_generator(self):
        """A copy of the generator holding the EMA weights, or None when EMA is off."""
        return self._ema_clone(STANDING_BATCHES)

    def _ema_clone(self, standing_batches):
        """The EMA generator with BatchNorm statistics over `standing_batches` batches (None: EMA off)."""
        if self.g_optimizer is None:
            return None
        inner = _inner(self.g_optimizer)
        if not getattr(inner, "use_ema", False):
            return None
        if self._ema_generator is None:
            clone = keras.models.clone_model(self.generator)
            z = np.zeros((1, self.latent_dim), "float32")
            clone(self._conditioned(z, np.zeros((1,), "int32")), training=False)
            object.__setattr__(self, "_ema_generator", clone)  # untracked: not saved twice
            object.__setattr__(self, "_ema_key", None)
        clone = self._ema_generator
        averages = [ops.convert_to_numpy(a) for a in ema_averages(inner)]
        key = (standing_batches,) + tuple(float(a.sum()) for a in averages)
        if getattr(self, "_ema_key", None) == key:
            return clone  # the same averages: the clone holds them and their statistics
        for target, average in zip(clone.trainable_variables, averages):
            target.assign(average)
        for target, live in zip(clone.non_trainable_variables, self.generator.non_trainable_variables):
            target.assign(live)
        self._standing_statistics(clone, standing_batches)
        object.__setattr__(self, "_ema_key", key)
        return clone

    def _standing_statistics(self, net, batches=STANDING_BATCHES):
        """Set `net`'s BatchNorm statistics to its own: the mean of each layer's batch mean and
        variance over `batches` batches of `net` in training mode ("standing statistics",
        Brock et al. 2019). G's moving statistics follow the live weights of the last ~100 steps,
        not the EMA's average of the last ~1,000, and an EMA generator that normalizes with them
        samples worse (Fashion-MNIST: fashion_fd 0.81 -> 0.78). Labels: drawn from the
        label_prior, else uniform over the classes."""
        layers = [layer for layer in net._flatten_layers()
                  if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable and not layer.renorm]
        if not layers:
            return
        momenta = [layer.momentum for layer in layers]
        rng = np.random.default_rng(0)
        try:
            for i in range(batches):
                for layer in layers:
                    layer.momentum = i / (i + 1)  # moving = the mean of the i + 1 batches' statistics so far
                z = rng.standard_normal((STANDING_BATCH_SIZE, self.latent_dim)).astype("float32")
                labels = None
                if self.num_classes is not None:
                    labels = (prior_labels(self.label_prior, STANDING_BATCH_SIZE, i) if self.label_prior is not None
                              else rng.integers(0, self.num_classes, STANDING_BATCH_SIZE).astype("int32"))
                net(self._conditioned(z, labels), training=True)
        finally:
            for layer, momentum in zip(layers, momenta):
                layer.momentum = momentum

    def sampling_generator(self, standing_batches=STANDING_BATCHES):
        """The network used for sampling and export: the EMA generator when on (its BatchNorm
        statistics over `standing_batches` batches of 256 samples), else G."""
        return self._ema_clone(standing_batches) or self.generator

    def _sampling_labels(self, labels, n, seed=None):
        """int32 labels (n,) for a conditional model (checked), None for an unconditional one."""
        name = type(self).__name__
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(f"This {name} is unconditional (num_classes=None); it takes no labels.")
            return None
        if labels is None and self.label_prior is not None:
            return prior_labels(self.label_prior, n, seed)
        if labels is None:
            raise ValueError(
                f"This {name} is class-conditional (num_classes={self.num_classes}): pass labels=, one int "
                f"for every sample or n ints in [0, {self.num_classes}), e.g. generate(16, labels=7)."
            )
        array = np.asarray(labels)
        if array.ndim == 0:
            array = np.full(n, array)
        if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"labels must be one int or {n} ints (one per sample); got {np.asarray(labels)!r:.80}.")
        if array.size and (array.min() < 0 or array.max() >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes}); got {sorted(set(array.tolist()))[:10]}.")
        return array.astype("int32")

    def generate(self, n_or_z, seed=None, batch_size=256, labels=None, standing_batches=STANDING_BATCHES):
        """Samples G(z) (or G(z, y)) as a float32 numpy array in the data's range ([-1, 1] for images).

        Args:
            n_or_z: a number of samples, or an array of latent vectors (n, latent_dim).
            seed: int seed of numpy's `default_rng` for z when `n_or_z` is a number (same
                seed, same samples, as `ganzoo.load_exported(...).generate`); None draws fresh noise.
            batch_size: generator batch size.
            labels: conditional models only (required there unless the model has a
                `label_prior`, which draws them with `seed`): one int class for every
                sample, or n ints in [0, num_classes).
            standing_batches: with EMA, the batches of 256 samples the EMA generator's
                BatchNorm statistics are taken over (fewer: cheaper and noisier).
        """
        batch_size = _positive_int(batch_size, "batch_size")
        if isinstance(n_or_z, (int, np.integer)) and not isinstance(n_or_z, bool):
            n = _positive_int(n_or_z, "n")
            # numpy's generator, as the exports' `generate`: the same seed gives the same
            # samples from a model, its SavedModel and its ONNX file, with or without XLA.
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        else:
            z = np.asarray(n_or_z, dtype="float32")
            if z.ndim != 2 or z.shape[1] != self.latent_dim:
                raise ValueError(
                    f"generate() takes a number of samples or z of shape (n, {self.latent_dim}); "
                    f"got an array of shape {z.shape}."
                )
        labels = self._sampling_labels(labels, len(z), seed)
        net = self.sampling_generator(_positive_int(standing_batches, "standing_batches"))
        if not len(z):  # no rows, no samples (as ExportedGenerator.generate)
            return np.zeros((0,) + tuple(self.data_shape), "float32")
        out = []
        for i in range(0, int(z.shape[0]), batch_size):
            y = None if labels is None else labels[i: i + batch_size]
            out.append(ops.convert_to_numpy(ops.cast(net(self._conditioned(z[i: i + batch_size], y),
                                                         training=False), "float32")))
        return np.concatenate(out, axis=0)
