"""DiffAugment and ADA's augmentation as pure functions: the authors' transforms, gradients through
T, the same T from the same draws, p's gating and update, dtypes, XLA."""

import numpy as np
import pytest
from keras import ops

from ganzoo import augment
from ganzoo.config import AUGMENT_TRANSFORMS, parse_augment_policy

pytestmark = pytest.mark.both_backends  # also run under KERAS_BACKEND=jax (tests/test_backends.py)


def images(batch=3, size=8, channels=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, channels)).astype("float32")


def np_out(x):
    return np.asarray(ops.convert_to_numpy(x))


# ------------------------------------------------------------------ references
# numpy ports of the authors' DiffAugment_pytorch.py (NCHW there, NHWC here), given the integers
# their torch.randint calls would draw.
def reference_translation(x, tx, ty):
    batch, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.empty_like(x)
    for b in range(batch):
        gx = np.clip(np.arange(h) + tx[b] + 1, 0, h + 1)
        gy = np.clip(np.arange(w) + ty[b] + 1, 0, w + 1)
        out[b] = pad[b][gx][:, gy]
    return out


def reference_cutout(x, ox, oy, ratio=0.5):
    batch, h, w, _ = x.shape
    size = int(h * ratio + 0.5), int(w * ratio + 0.5)
    mask = np.ones((batch, h, w), x.dtype)
    for b in range(batch):
        gx = np.clip(np.arange(size[0]) + ox[b] - size[0] // 2, 0, h - 1)
        gy = np.clip(np.arange(size[1]) + oy[b] - size[1] // 2, 0, w - 1)
        mask[b][np.ix_(gx, gy)] = 0
    return x * mask[..., None]


def uniforms_for(ints, n):
    """U[0, 1) numbers whose floor(u * n) are `ints`."""
    return (np.asarray(ints, "float32") + 0.5) / n


# ------------------------------------------------------------------ transforms
def test_translation_matches_the_authors_pad_and_gather():
    x = images(batch=5, size=8)
    limit = int(8 * 0.125 + 0.5)  # 1 pixel at 8x8
    tx, ty = np.array([-1, 0, 1, 1, -1]), np.array([1, -1, 0, 1, -1])
    u = np.stack([uniforms_for(tx + limit, 2 * limit + 1), uniforms_for(ty + limit, 2 * limit + 1)], 1)
    out = np_out(augment.augment(x, u, "translation"))
    np.testing.assert_array_equal(out, reference_translation(x, tx, ty))


def test_translation_range_is_an_eighth_of_the_side():
    x = images(batch=2, size=16, channels=1)
    u = np.array([[0.0, 0.999], [0.999, 0.0]], "float32")  # the extreme shifts: -2 and +2 at 16x16
    out = np_out(augment.augment(x, u, "translation"))
    np.testing.assert_array_equal(out, reference_translation(x, np.array([-2, 2]), np.array([2, -2])))


@pytest.mark.parametrize("size", [8, 7])
def test_cutout_matches_the_authors_clipped_square(size):
    x = images(batch=6, size=size)
    cut = int(size * 0.5 + 0.5)
    n = size + (1 - cut % 2)
    ox, oy = np.array([0, 1, 3, n - 1, 4, 2]), np.array([n - 1, 0, 3, 5 % n, 1, n - 1])
    u = np.stack([uniforms_for(ox, n), uniforms_for(oy, n)], 1)
    out = np_out(augment.augment(x, u, "cutout"))
    np.testing.assert_array_equal(out, reference_cutout(x, ox, oy))


def test_color_matches_the_authors_formulas():
    x = images(batch=2)
    u = np.array([[0.1, 0.7, 0.3], [0.9, 0.2, 0.6]], "float32")
    expected = x + (u[:, 0] - 0.5)[:, None, None, None]
    mean_c = expected.mean(axis=-1, keepdims=True)
    expected = (expected - mean_c) * (2 * u[:, 1])[:, None, None, None] + mean_c
    mean = expected.mean(axis=(1, 2, 3), keepdims=True)
    expected = (expected - mean) * (u[:, 2] + 0.5)[:, None, None, None] + mean
    np.testing.assert_allclose(np_out(augment.augment(x, u, "color")), expected, rtol=1e-5, atol=1e-6)


def test_flip_mirrors_the_examples_whose_draw_is_below_one_half():
    x = images(batch=2)
    out = np_out(augment.augment(x, np.array([[0.2], [0.8]], "float32"), "flip"))
    np.testing.assert_array_equal(out[0], x[0, :, ::-1])
    np.testing.assert_array_equal(out[1], x[1])


def test_the_default_policy_is_the_authors_three_in_order():
    assert augment.DEFAULT_POLICY == ("color", "translation", "cutout")
    assert augment.num_uniforms("color,translation,cutout") == 3 + 2 + 2
    assert augment.num_uniforms("color,translation,cutout", adaptive=True) == 7 + 5
    x = images(batch=4)
    u = np.random.default_rng(3).uniform(size=(4, 7)).astype("float32")
    chained = augment.augment(augment.augment(augment.augment(x, u[:, :3], "color"), u[:, 3:5], "translation"),
                              u[:, 5:], "cutout")
    np.testing.assert_allclose(np_out(augment.augment(x, u)), np_out(chained), rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------- randomness and T
def test_the_same_draws_give_the_same_transform_for_real_and_fake():
    real, fake = images(seed=1), images(seed=2)
    u = np.random.default_rng(4).uniform(size=(3, 7)).astype("float32")
    both = np_out(augment.augment(np.concatenate([real, fake]), np.concatenate([u, u])))
    np.testing.assert_array_equal(both[:3], np_out(augment.augment(real, u)))
    np.testing.assert_array_equal(both[3:], np_out(augment.augment(fake, u)))
    # Same T on the same image: identical; another draw: another image.
    np.testing.assert_array_equal(np_out(augment.augment(real, u)), np_out(augment.augment(real, u)))
    assert not np.allclose(np_out(augment.augment(real, u)), np_out(augment.augment(real, u[::-1])))


def test_diff_augment_draws_per_example_from_the_seed_generator():
    import keras

    x = np.repeat(images(batch=1), 8, axis=0)  # eight copies of one image
    out = np_out(augment.diff_augment(x, seed=keras.random.SeedGenerator(0)))
    assert len({out[i].tobytes() for i in range(8)}) == 8  # a transform per example
    again = np_out(augment.diff_augment(x, seed=keras.random.SeedGenerator(0)))
    np.testing.assert_array_equal(out, again)  # the seed decides
    generator = keras.random.SeedGenerator(0)
    first, second = (np_out(augment.diff_augment(x, seed=generator)) for _ in range(2))
    assert not np.array_equal(first, second)  # the generator advances


def test_gradient_flows_through_every_transform(gradients):
    x = images(batch=2, channels=3)
    weights = np.random.default_rng(5).normal(size=x.shape).astype("float32")
    u = np.array([[0.3, 0.6, 0.8, 0.1, 0.9, 0.4, 0.5], [0.7, 0.2, 0.4, 0.5, 0.5, 0.9, 0.1]], "float32")
    (grad,) = gradients(lambda v: ops.sum(ops.multiply(augment.augment(v, u), weights)), x)
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0
    # Translation alone is a shift: d sum(w * T(x)) / dx is w shifted back, zero where it fell off.
    u = np.array([[0.0, 0.5], [0.999, 0.5]], "float32")  # shift rows by -1 and +1
    (grad,) = gradients(lambda v: ops.sum(ops.multiply(augment.augment(v, u, "translation"), weights)), x)
    expected = np.zeros_like(x)
    expected[0, :-1] = weights[0, 1:]   # out[i] = x[i - 1]: x[i] reaches out[i + 1]
    expected[1, 1:] = weights[1, :-1]   # out[i] = x[i + 1]
    np.testing.assert_allclose(grad, expected, rtol=1e-6)
    # Cutout: zero gradient exactly inside the square.
    u = np.array([[0.5, 0.5], [0.1, 0.9]], "float32")
    (grad,) = gradients(lambda v: ops.sum(ops.multiply(augment.augment(v, u, "cutout"), weights)), x)
    mask = np_out(augment.augment(np.ones_like(x), u, "cutout"))
    np.testing.assert_allclose(grad, weights * mask)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_keeps_its_dtype_and_values(dtype):
    x = images(batch=4)
    u = np.random.default_rng(6).uniform(size=(4, 7)).astype("float32")
    import keras

    out = augment.augment(ops.cast(x, dtype), u)
    assert keras.backend.standardize_dtype(out.dtype) == dtype and tuple(out.shape) == x.shape
    reference = np_out(augment.augment(x, u))
    np.testing.assert_allclose(np_out(ops.cast(out, "float32")), reference, atol=0.05 if dtype == "bfloat16" else 0.01)


def test_augmentation_compiles_with_xla():
    import keras

    x, u = images(batch=4), np.random.default_rng(7).uniform(size=(4, 12)).astype("float32")
    fn = lambda x, u, p: augment.augment(x, u, p=p)  # noqa: E731
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(fn, jit_compile=True)
    elif backend == "jax":
        import jax

        compiled = jax.jit(fn)
    else:
        pytest.skip("XLA compilation is checked on TensorFlow and JAX")
    np.testing.assert_allclose(np_out(compiled(x, u, np.float32(0.5))), np_out(fn(x, u, 0.5)), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- ADA
def test_ada_p_zero_is_the_identity_and_p_one_is_every_transform():
    x = images(batch=4)
    rng = np.random.default_rng(8)
    params = rng.uniform(size=(4, 7)).astype("float32")
    decide = rng.uniform(size=(4, 5)).astype("float32")
    # Interleave: each transform's columns, then its deciding column.
    table = np.concatenate([params[:, 0:1], decide[:, 0:1], params[:, 1:2], decide[:, 1:2], params[:, 2:3],
                            decide[:, 2:3], params[:, 3:5], decide[:, 3:4], params[:, 5:7], decide[:, 4:5]], 1)
    np.testing.assert_array_equal(np_out(augment.augment(x, table, p=0.0)), x)
    np.testing.assert_allclose(np_out(augment.augment(x, table, p=1.0)), np_out(augment.augment(x, params)),
                               rtol=1e-6, atol=1e-6)


def test_ada_applies_each_transform_with_probability_p():
    import keras

    x = np.repeat(images(batch=1, channels=1), 2000, axis=0)
    out = np_out(augment.ada_augment(x, 0.3, policy="cutout", seed=keras.random.SeedGenerator(1)))
    changed = np.mean([not np.array_equal(o, x[0]) for o in out])
    assert changed == pytest.approx(0.3, abs=0.04)


def test_ada_adjust_moves_p_by_the_papers_rate():
    # 4 steps of 64 reals since the last adjustment: p moves by 256 / 500,000.
    assert float(augment.ada_adjust(0.1, 0.9, 256)) == pytest.approx(0.1 + 256 / 500_000)
    assert float(augment.ada_adjust(0.1, 0.2, 256)) == pytest.approx(0.1 - 256 / 500_000)
    assert float(augment.ada_adjust(0.0, -1.0, 256)) == 0.0  # clipped at 0
    assert float(augment.ada_adjust(1.0, 1.0, 256)) == 1.0  # and at 1
    assert float(augment.ada_adjust(0.5, 0.7, 1000, target=0.8, kimg=10)) == pytest.approx(0.4)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("policy, words", [("color,zoom", "Unknown augmentation 'zoom'"),
                                           ("color,color", "twice"), ("", "comma-separated"), (3, "comma-separated")])
def test_a_bad_policy_is_named(policy, words):
    with pytest.raises(ValueError, match=words):
        parse_augment_policy(policy)


def test_the_config_names_exactly_the_transforms_augment_implements():
    assert set(AUGMENT_TRANSFORMS) == set(augment.POLICIES)


def test_vectors_and_wrong_tables_are_refused():
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        augment.augment(np.zeros((4, 2), "float32"), np.zeros((4, 7), "float32"))
    with pytest.raises(ValueError, match="reads 7 uniform numbers"):
        augment.augment(images(), np.zeros((3, 5), "float32"))
