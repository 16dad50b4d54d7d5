"""One iteration of the game, backend-neutral: noise, packing and the two players' objectives.

Everything here is `keras.ops` on plain tensors. A backend's step module (`backends/tensorflow.py`,
`backends/jax.py`, `backends/torch.py`) owns what differs between backends: how G and D are called (a Keras call under a
`tf.GradientTape`, or `stateless_call` on explicit variables), how gradients are taken and
applied, and where variable state lives. It passes the discriminator in as `d`, a callable
x -> scores (training mode) with an `input_gradients(x)` method, d sum(d(x)) / dx, which the
WGAN-GP penalty uses for its double backprop.
"""

import keras
import numpy as np
from keras import ops


def _as_shape(shape, name):
    if shape is None:
        return None
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a tuple of positive ints such as (28, 28, 1); got {shape!r}.")
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"`{name}` must be a tuple of positive ints such as (28, 28, 1) or (2,); got {shape!r}.")
    return shape


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def packed_shape(data_shape, pack):
    """The discriminator's input shape when it judges `pack` samples of `data_shape` at once:
    (pack * d,) for vectors, (H, W, pack * C) for images."""
    data_shape = tuple(data_shape)
    return data_shape[:-1] + (data_shape[-1] * pack,)


class FirstNonFinite(keras.metrics.Metric):
    """The first step since the last reset (1-based; 0: none) after which a logged loss was not
    finite. It lives on the device and is updated inside the step, so no step waits for the host;
    the NaN guard reads it at its check interval and still names the exact step. Keras resets it
    with the other metrics at each epoch start. Not logged."""

    def __init__(self, name="first_nonfinite_step", **kwargs):
        super().__init__(name=name, **kwargs)
        self.steps = self.add_variable((), "zeros", dtype="int32", aggregation="only_first_replica", name="steps")
        self.first = self.add_variable((), "zeros", dtype="int32", aggregation="only_first_replica", name="first")

    def update_state(self, values):
        # Running means stay non-finite once a loss was: checking them after each step finds the
        # first bad step exactly, one check per step.
        finite = ops.all(ops.stack([ops.all(ops.isfinite(ops.cast(v, "float32"))) for v in values]))
        steps, first = self.steps.value + 1, self.first.value
        self.steps.assign(steps)
        first_bad = ops.logical_and(ops.equal(first, 0), ops.logical_not(finite))
        self.first.assign(ops.where(first_bad, steps, first))

    def result(self):
        return ops.convert_to_tensor(self.first.value)

    def reset_state(self):
        self.steps.assign(0)
        self.first.assign(0)


class Game:
    """The backend-neutral half of `GANBase`'s train step (a mixin)."""

    #: The metrics a step logs. `discriminator_loss` returns (loss, extra): `extra` must hold
    #: exactly the names here beyond the four every model logs (checked when a step is traced).
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    # --------------------------------------------------------- conditioning
    def _conditioned(self, x, labels):
        """A network's input: x (z or samples), or [x, labels] for a conditional model."""
        if self.num_classes is None:
            return x
        # Keras refuses a mix of tensors and numpy arrays in one call's inputs.
        return [ops.convert_to_tensor(x), ops.convert_to_tensor(labels, "int32")]

    def _real_batch(self, data):
        """(float32 real samples, int32 labels or None) of a step's batch. An unconditional model
        ignores labels; `fit` checked that a conditional model gets them."""
        labels = None
        if isinstance(data, (tuple, list)):
            data, labels = data[0], (data[1] if len(data) > 1 else None)
        real = ops.cast(data, "float32")
        if self.num_classes is None:
            return real, None
        return real, ops.cast(labels, "int32")

    @staticmethod
    def _labels_of_step(labels, i):
        """The labels of critic step i's batch when k > 1 batches come per step ((batch, k) labels)."""
        return None if labels is None else labels[:, i]

    # ------------------------------------------------------------------ noise
    def _latent(self, batch_size):
        """z ~ N(0, I), one row per example, from the model's seed generator."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def _uniform(self, batch_size):
        """U[0, 1), one number per example, from the model's seed generator."""
        return keras.random.uniform((batch_size,), seed=self.seed_generator)

    def discriminator_noise(self, batch_size):
        """The noise one discriminator step draws for `batch_size` real samples, in draw order:
        {"z": (batch, latent_dim)} plus what `discriminator_loss` needs (WGAN-GP: "alpha")."""
        return {"z": self._latent(batch_size)}

    # ---------------------------------------------------------------- packing
    def _pack(self, samples):
        """PacGAN packing: (batch, *shape) -> (batch / m, *packed_shape), m consecutive samples
        joined along the last axis (features, or channels of images)."""
        m = self.pack
        if m == 1:
            return samples
        shape = tuple(self.data_shape)
        grouped = ops.reshape(samples, (-1, m) + shape)  # (batch / m, m, *shape)
        if len(shape) > 1:
            # Move the pack axis next to the channels so each pixel holds m samples' channels.
            rank = len(shape) + 2
            grouped = ops.transpose(grouped, [0] + list(range(2, rank - 1)) + [1, rank - 1])
        return ops.reshape(grouped, (-1,) + packed_shape(shape, m))

    # ------------------------------------------------------------- objectives
    def discriminator_objective(self, d, real, fake, noise):
        """(loss, logs) of one discriminator (critic) step on `real` and `fake` samples.

        `d` is the discriminator in training mode (see the module docstring), `noise` what
        `discriminator_noise` drew. `logs` holds d_loss, d_real, d_fake and the loss's extras.
        """
        real_packs, fake_packs = self._pack(real), self._pack(fake)
        real_scores, fake_scores = d(real_packs), d(fake_packs)
        loss, extra = self.discriminator_loss(real_packs, fake_packs, real_scores, fake_scores,
                                              critic=d, noise=noise)
        self._check_extra_metrics(extra)
        logs = {"d_loss": loss, "d_real": self.score_summary(real_scores),
                "d_fake": self.score_summary(fake_scores)}
        logs.update(extra)
        return loss, logs

    def generator_objective(self, d, fake):
        """The generator's loss on the fake batch `fake` against the discriminator `d`."""
        return self.generator_loss(d(self._pack(fake)))

    def score_summary(self, scores):
        """The `d_real` / `d_fake` of a batch of discriminator scores: mean D(x), a probability."""
        return ops.mean(ops.sigmoid(ops.cast(scores, "float32")))

    def discriminator_loss(self, real, fake, real_scores, fake_scores, critic=None, noise=None):
        """(loss, extra metrics) of one discriminator step; subclasses define the loss.

        `real` and `fake` are the discriminator's inputs: packs of `pack` samples when packing.
        `critic` is the discriminator being trained (None: `self.discriminator`) and `noise`
        this step's draws (None: drawn here).
        """
        raise NotImplementedError

    def generator_loss(self, fake_scores):
        raise NotImplementedError

    def _check_extra_metrics(self, extra):
        """The contract of `metric_names`: the extra metrics `discriminator_loss` returns are
        exactly the names it declares beyond the four every model logs (checked in Python, when
        a step is traced)."""
        declared = [m for m in self.metric_names if m not in Game.metric_names]
        missing, unknown = sorted(set(declared) - set(extra)), sorted(set(extra) - set(declared))
        if missing or unknown:
            raise ValueError(
                f"{type(self).__name__}.discriminator_loss must return the extra metrics that metric_names "
                f"declares ({', '.join(declared) or 'none'}): "
                + "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                          unknown and f"unknown {', '.join(unknown)} (add them to metric_names)"]))
                + "."
            )
