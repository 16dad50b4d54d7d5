"""Differentiable augmentation of the discriminator's inputs: DiffAugment and ADA's pipeline.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training")
applies one random transform T to every image the discriminator sees, real and generated, in
the discriminator's and in the generator's step; T is differentiable, so G's gradient flows
through it. The transforms and their parameters are the authors' (mit-han-lab/data-efficient-gans,
DiffAugment_pytorch.py / DiffAugment_tf.py), per example:

- `color`: brightness x + (u - 0.5); saturation (x - mean_c) * 2u + mean_c (mean over channels);
  contrast (x - mean) * (u + 0.5) + mean (mean over the image); u ~ U[0, 1) each.
- `translation`: an integer shift of up to round(0.125 * side) pixels on each axis, filled
  with zeros.
- `cutout`: a zeroed square of round(0.5 * side), its centre anywhere in the image (clipped at
  the borders).
- `flip` (not in DiffAugment's policies; only when asked: it leaks for digits): a horizontal
  flip with probability 1/2.

Adaptive discriminator augmentation (ADA, Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data") applies each elementary transform (brightness, saturation,
contrast, translation, cutout, flip) to each example with probability p, so an augmentation
distribution with p < 1 keeps the identity's share and does not leak into the generator
(Section 2.2); `ada_adjust` moves p by the overfitting heuristic r_t = E[sign(D(x_real))].
ganzoo's ADA reuses the DiffAugment transforms above (ADA's own pipeline has 18 transforms
with other magnitudes; its integer translation, cutout and colour transforms are the ones of
this kind).

Images are channels-last (batch, H, W, C). Randomness comes in as a table of U[0, 1) numbers,
one row per example (`num_uniforms` columns), so a model draws it from its own seed generator
in its own order and every backend can be fed the same numbers; `diff_augment` and
`ada_augment` draw it from a `keras.random.SeedGenerator`. Everything is `keras.ops`: it runs
on TensorFlow, JAX and PyTorch, under XLA, in float32, float16 or bfloat16.
"""

import keras
from keras import ops

from ganzoo.config import parse_augment_policy

#: The elementary transforms of each policy name (`ganzoo.config.AUGMENT_TRANSFORMS`) and the U[0, 1)
#: numbers each takes per example.
POLICIES = {
    "color": (("brightness", 1), ("saturation", 1), ("contrast", 1)),
    "translation": (("translation", 2),),
    "cutout": (("cutout", 2),),
    "flip": (("flip", 1),),
}
#: DiffAugment's policy for unconditional generation with little data (the authors' README).
DEFAULT_POLICY = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # the authors' rand_translation(ratio=0.125)
CUTOUT_RATIO = 0.5  # the authors' rand_cutout(ratio=0.5)


def _elementary(policy):
    return [op for name in parse_augment_policy(policy) for op in POLICIES[name]]


def num_uniforms(policy, adaptive=False):
    """Columns of the U[0, 1) table `augment` reads per example (adaptive: one more per transform,
    the draw that decides whether it applies)."""
    return sum(k + int(adaptive) for _, k in _elementary(policy))


def _check_images(images):
    if len(images.shape) != 4:
        raise ValueError(f"Augmentation takes image batches of shape (batch, height, width, channels); "
                         f"got shape {tuple(images.shape)}.")


def _per_example(v, dtype):
    return ops.reshape(ops.cast(v, dtype), (-1, 1, 1, 1))


def _index(u, n):
    """floor(u * n) as int32 in [0, n): an integer drawn uniformly from n values."""
    return ops.minimum(ops.cast(ops.floor(u * n), "int32"), n - 1)


def _brightness(x, u):
    return x + _per_example(u - 0.5, x.dtype)


def _saturation(x, u):
    mean = ops.mean(x, axis=-1, keepdims=True)
    return (x - mean) * _per_example(u * 2.0, x.dtype) + mean


def _contrast(x, u):
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * _per_example(u + 0.5, x.dtype) + mean


def _shift_matrix(shift, size, dtype):
    """(batch, size, size) one-hot rows: row i picks position i + shift (none past the border)."""
    i = ops.arange(size, dtype="int32")
    source = ops.reshape(i, (1, size, 1)) + ops.reshape(shift, (-1, 1, 1))
    return ops.cast(ops.equal(source, ops.reshape(i, (1, 1, size))), dtype)


def _translation(x, u):
    # out[i, j] = x[i + dy, j + dx], zero outside the image: the authors' pad-by-one-and-gather,
    # written as two one-hot matrix products (exact, differentiable, XLA-friendly).
    height, width = x.shape[1], x.shape[2]
    shifts = []
    for k, side in enumerate((height, width)):
        limit = int(side * TRANSLATION_RATIO + 0.5)
        shifts.append(_index(u[:, k], 2 * limit + 1) - limit)
    rows = _shift_matrix(shifts[0], height, x.dtype)
    cols = _shift_matrix(shifts[1], width, x.dtype)
    x = ops.einsum("bik,bkwc->biwc", rows, x)
    return ops.einsum("bjl,bilc->bijc", cols, x)


def _cutout(x, u):
    # The authors' rand_cutout: a square of round(0.5 * side) whose centre offset is drawn from
    # [0, side + (1 - size % 2)), cut where it overlaps the image.
    inside = []
    for k, side in enumerate((x.shape[1], x.shape[2])):
        size = int(side * CUTOUT_RATIO + 0.5)
        start = _index(u[:, k], side + (1 - size % 2)) - size // 2
        i = ops.reshape(ops.arange(side, dtype="int32"), (1, side))
        start = ops.reshape(start, (-1, 1))
        inside.append(ops.logical_and(i >= start, i < start + size))
    cut = ops.logical_and(ops.expand_dims(inside[0], 2), ops.expand_dims(inside[1], 1))  # (batch, H, W)
    return x * ops.cast(ops.expand_dims(ops.logical_not(cut), -1), x.dtype)


def _flip(x, u):
    return ops.where(ops.reshape(u < 0.5, (-1, 1, 1, 1)), ops.flip(x, axis=2), x)


_TRANSFORMS = {"brightness": _brightness, "saturation": _saturation, "contrast": _contrast,
               "translation": _translation, "cutout": _cutout, "flip": _flip}


def augment(images, uniforms, policy=DEFAULT_POLICY, p=None):
    """T(images): the policy's transforms in order, their randomness read from `uniforms`.

    Args:
        images: (batch, H, W, C) floats, in [-1, 1] as the models' images.
        uniforms: (batch, num_uniforms(policy, adaptive=p is not None)) numbers in [0, 1): the
            transforms' parameters in policy order, each transform's columns followed (with `p`)
            by the one that decides whether it applies. The same table gives the same T.
        policy: names from `POLICIES`, e.g. "color,translation,cutout".
        p: None (DiffAugment: every transform applies), or ADA's probability, a scalar in
            [0, 1]: each transform applies to each example when its deciding number is < p.

    Returns:
        The augmented batch, same shape and dtype, differentiable with respect to `images`.
    """
    images = ops.convert_to_tensor(images)
    _check_images(images)
    uniforms = ops.cast(uniforms, "float32")
    adaptive = p is not None
    expected = num_uniforms(policy, adaptive)
    if uniforms.shape[-1] is not None and uniforms.shape[-1] != expected:
        raise ValueError(f"Policy {policy!r} reads {expected} uniform numbers per example"
                         f"{' (with p)' if adaptive else ''}; got a table of shape {tuple(uniforms.shape)}.")
    column = 0
    x = images
    for name, k in _elementary(policy):
        u = uniforms[:, column: column + k]
        column += k
        transformed = _TRANSFORMS[name](x, u if k > 1 else u[:, 0])
        if adaptive:  # the examples whose deciding number is below p; the others exactly as they were
            apply = uniforms[:, column] < ops.cast(p, "float32")
            column += 1
            transformed = ops.where(ops.reshape(apply, (-1, 1, 1, 1)), transformed, x)
        x = transformed
    return x


def diff_augment(images, policy=DEFAULT_POLICY, seed=None):
    """DiffAugment's T(images), drawn from `seed` (a `keras.random.SeedGenerator` or int)."""
    images = ops.convert_to_tensor(images)
    _check_images(images)
    uniforms = keras.random.uniform((ops.shape(images)[0], num_uniforms(policy)), seed=seed)
    return augment(images, uniforms, policy)


#: ADA's transforms here: no flips (digits and text are not mirror-symmetric).
ADA_POLICY = ("translation", "cutout", "color")
ADA_TARGET = 0.6  # Karras et al. 2020, Section 3: r_t target 0.6
ADA_KIMG = 500  # p can go from 0 to 1 in 500k real images (Section 3, "ada_kimg" of the authors' code)
ADA_INTERVAL = 4  # discriminator steps between adjustments (the authors' ada_interval)


def ada_augment(images, p, policy=ADA_POLICY, seed=None):
    """ADA's augmentation: each transform of `policy` applied to each example with probability p."""
    images = ops.convert_to_tensor(images)
    _check_images(images)
    uniforms = keras.random.uniform((ops.shape(images)[0], num_uniforms(policy, adaptive=True)), seed=seed)
    return augment(images, uniforms, policy, p=p)


def ada_adjust(p, rt, images_seen, target=ADA_TARGET, kimg=ADA_KIMG):
    """ADA's update of p: p + sign(r_t - target) * images_seen / (kimg * 1000), clipped to [0, 1].

    Karras et al. 2020, Section 3: r_t = E[sign(D(x_real))] over the real images the
    discriminator saw since the last adjustment (`images_seen` of them); r_t above the target
    means D is overconfident on the training set (it overfits), so p goes up; below, down.
    """
    p = ops.cast(p, "float32")
    step = ops.sign(ops.cast(rt, "float32") - target) * ops.cast(images_seen, "float32") / (kimg * 1000.0)
    return ops.clip(p + step, 0.0, 1.0)
