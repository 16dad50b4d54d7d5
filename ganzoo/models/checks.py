"""NetworkChecks: the construction-time checks that a GAN's two networks fit its data, its
latent and its labels (GANBase calls them once on a tiny batch, so a mismatch is a clear error
at construction, not a shape error deep inside the first training step)."""

import numpy as np
from keras import ops

from ganzoo.models.game import packed_shape


class NetworkChecks:
    """Mixed into GANBase: uses its latent_dim, data_shape, pack, num_classes, generator,
    discriminator, `_conditioned` and `_pack`."""

    def _generator_output_shape(self, generator):
        z = np.zeros((2, self.latent_dim), "float32")
        try:
            out = generator(self._conditioned(z, self._check_labels(2)), training=False)
        except Exception as e:
            raise ValueError(
                f"The generator could not be called on {self._generator_inputs_text()}: {e}. "
                "Check `latent_dim` against the generator's input."
            ) from e
        return tuple(int(s) for s in out.shape[1:])

    def _check_networks(self):
        """Call both networks once on a tiny batch: builds them and checks that they fit."""
        name = type(self).__name__
        z = np.zeros((2 * self.pack, self.latent_dim), "float32")
        labels = self._check_labels(2 * self.pack)
        try:
            fake = self.generator(self._conditioned(z, labels), training=False)
        except Exception as e:
            raise ValueError(
                f"{name}: the generator could not be called on {self._generator_inputs_text()}: {e}"
            ) from e
        if tuple(fake.shape[1:]) != tuple(self.data_shape):
            raise ValueError(
                f"{name}: the generator makes samples of shape {tuple(fake.shape[1:])} but the data "
                f"shape is {tuple(self.data_shape)}. Make the generator's output match the data "
                "(or pass the matching `data_shape`)."
            )
        packed = self._pack(ops.cast(fake, "float32"))
        expected = packed_shape(self.data_shape, self.pack)
        try:
            scores = self.discriminator(self._conditioned(packed, labels), training=False)
        except Exception as e:
            packing = f" (pack={self.pack} samples joined along the last axis)" if self.pack > 1 else ""
            if self.num_classes is not None:
                raise ValueError(
                    f"{name}: the discriminator could not be called on [x, label], x of shape "
                    f"{tuple(packed.shape)} and label int32 of shape (2,): {e}. A conditional model's "
                    f"discriminator (num_classes={self.num_classes}) takes [x, label] and returns one score "
                    "per example (see ganzoo.models.networks, e.g. build_conv_discriminator(..., num_classes=K))."
                ) from e
            raise ValueError(
                f"{name}: the discriminator cannot take inputs of shape {tuple(packed.shape)}: {e}. "
                f"The discriminator's input must be {expected}{packing}."
            ) from e
        if tuple(scores.shape) not in ((2, 1), (2,)):
            raise ValueError(
                f"{name}: the discriminator must return one score per example, shape (batch, 1) "
                f"or (batch,); it returned {tuple(scores.shape)}."
            )

    def _check_labels(self, n):
        """Labels 0, 1, 0, ... for the construction checks (None for an unconditional model)."""
        return None if self.num_classes is None else (np.arange(n) % self.num_classes).astype("int32")

    def _generator_inputs_text(self):
        if self.num_classes is None:
            return f"z of shape (batch, {self.latent_dim})"
        return (f"[z, label] (z float32 (batch, {self.latent_dim}), label int32 (batch,)); a conditional "
                f"model's generator (num_classes={self.num_classes}) takes both (e.g. "
                "build_conv_generator(..., num_classes=K))")
