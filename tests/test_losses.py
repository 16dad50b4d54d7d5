"""Golden values of the pure losses, computed by hand on four-element tensors."""

import math

import numpy as np
import pytest
from keras import ops

from ganzoo import losses

REAL = np.array([2.0, -1.0, 0.0, 0.5], "float32")   # logits
FAKE = np.array([-3.0, 1.0, 0.0, -0.5], "float32")

pytestmark = pytest.mark.both_backends  # also run under KERAS_BACKEND=jax (tests/test_backends.py)


def sig(x):
    return 1 / (1 + math.exp(-x))


def test_minimax_discriminator_loss_matches_hand_computed_value():
    # -1/4 sum log D(x) - 1/4 sum log(1 - D(G(z)))
    expected = -np.mean([math.log(sig(v)) for v in REAL]) - np.mean([math.log(1 - sig(v)) for v in FAKE])
    assert float(losses.minimax_discriminator_loss(REAL, FAKE)) == pytest.approx(expected, rel=1e-6)


def test_minimax_discriminator_loss_is_log4_at_d_one_half():
    zeros = np.zeros(4, "float32")
    assert float(losses.minimax_discriminator_loss(zeros, zeros)) == pytest.approx(math.log(4), rel=1e-6)


def test_generator_losses_match_hand_computed_values():
    minimax = np.mean([math.log(1 - sig(v)) for v in FAKE])
    non_saturating = -np.mean([math.log(sig(v)) for v in FAKE])
    assert float(losses.minimax_generator_loss(FAKE)) == pytest.approx(minimax, rel=1e-6)
    assert float(losses.non_saturating_generator_loss(FAKE)) == pytest.approx(non_saturating, rel=1e-6)


def test_losses_stay_finite_where_the_sigmoid_saturates():
    big = np.array([100.0, -100.0, 80.0, -80.0], "float32")
    for value in (losses.minimax_discriminator_loss(big, big), losses.minimax_generator_loss(big),
                  losses.non_saturating_generator_loss(big)):
        assert np.isfinite(float(value))


def test_non_saturating_gradient_is_strong_where_minimax_saturates(gradients):
    # D confidently rejects the fake (logit -10): d/dlogit log(1 - D) ~ -D ~ -4.5e-5, while
    # d/dlogit -log D = -(1 - D) ~ -1.
    (mm,) = gradients(losses.minimax_generator_loss, [-10.0])
    (ns,) = gradients(losses.non_saturating_generator_loss, [-10.0])
    assert abs(float(mm[0])) < 1e-4
    assert abs(float(ns[0])) > 0.99


def test_wasserstein_losses():
    assert float(losses.wasserstein_critic_loss(REAL, FAKE)) == pytest.approx(np.mean(FAKE) - np.mean(REAL))
    assert float(losses.wasserstein_generator_loss(FAKE)) == pytest.approx(-np.mean(FAKE))


def test_gradient_penalty_from_gradients_hand_values():
    grads = np.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]], "float32")
    norms = [5.0, 1.0, 0.0, math.sqrt(2)]
    expected = np.mean([(n - 1) ** 2 for n in norms])
    assert float(losses.gradient_penalty_from_gradients(grads)) == pytest.approx(expected, rel=1e-5)


def test_gradient_penalty_has_finite_gradient_at_zero_gradient_norm(gradients):
    # A constant critic has zero input gradient: sqrt(0) has an infinite derivative, the epsilon
    # inside the root keeps the critic's update finite.
    real, fake = np.ones((4, 3), "float32"), np.zeros((4, 3), "float32")
    alpha = np.array([0.1, 0.5, 0.9, 1.0], "float32")

    def penalty(w):
        critic = lambda x, training=True: ops.matmul(x * x, w)  # gradient 2 x w = 0 at w = 0
        return losses.gradient_penalty(critic, real, fake, alpha)

    w = np.zeros((3, 1), "float32")
    assert float(ops.convert_to_numpy(penalty(w))) == pytest.approx(1.0, abs=1e-5)
    (grad,) = gradients(penalty, w)
    assert grad.shape == (3, 1) and np.all(np.isfinite(grad))


def test_gradient_penalty_zero_for_unit_norm_critic_and_known_for_linear_critic():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(4, 2, 2, 1)).astype("float32")
    fake = rng.normal(size=(4, 2, 2, 1)).astype("float32")
    alpha = np.array([0.0, 0.3, 0.7, 1.0], "float32")
    unit = np.array([0.5, 0.5, 0.5, 0.5], "float32")  # ||w|| = 1
    linear = lambda w: (lambda x, training=True: ops.matmul(ops.reshape(x, (4, -1)), w.reshape(4, 1)))
    assert float(losses.gradient_penalty(linear(unit), real, fake, alpha)) == pytest.approx(0.0, abs=1e-6)
    w = np.array([1.0, 2.0, 2.0, 0.0], "float32")  # ||w|| = 3 everywhere: (3 - 1)^2 = 4
    assert float(losses.gradient_penalty(linear(w), real, fake, alpha)) == pytest.approx(4.0, rel=1e-5)


def test_interpolation_uses_one_weight_per_example():
    real = np.ones((3, 2, 2, 1), "float32")
    fake = np.zeros((3, 2, 2, 1), "float32")
    x_hat = ops.convert_to_numpy(losses.interpolate(real, fake, np.array([0.0, 0.25, 1.0], "float32")))
    for i, a in enumerate([0.0, 0.25, 1.0]):
        np.testing.assert_allclose(x_hat[i], a)


def test_hinge_losses_match_hand_computed_values():
    # relu(1 - D(x)) on REAL: [0, 2, 1, 0.5] -> 0.875; relu(1 + D(G(z))) on FAKE: [0, 2, 1, 0.5] -> 0.875.
    assert float(losses.hinge_discriminator_loss(REAL, FAKE)) == pytest.approx(1.75, rel=1e-6)
    assert float(losses.hinge_generator_loss(FAKE)) == pytest.approx(0.625, rel=1e-6)  # -mean(FAKE)
    # At D = 0 both hinges are active: 1 + 1.
    zeros = np.zeros(4, "float32")
    assert float(losses.hinge_discriminator_loss(zeros, zeros)) == pytest.approx(2.0)


def test_hinge_discriminator_loss_has_no_gradient_past_the_margin(gradients):
    # Real scores >= 1 and fake scores <= -1 are classified with margin: no gradient on them.
    g_real, g_fake = gradients(losses.hinge_discriminator_loss, [1.5, 0.5, 3.0, -2.0], [-1.5, -0.5, 2.0, -4.0])
    np.testing.assert_allclose(g_real, [0.0, -0.25, 0.0, -0.25])
    np.testing.assert_allclose(g_fake, [0.0, 0.25, 0.25, 0.0])


def test_r1_penalty_from_gradients_hand_values():
    grads = np.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]], "float32")
    # squared norms 25, 1, 0, 2 -> mean 7
    assert float(losses.r1_penalty_from_gradients(grads)) == pytest.approx(7.0, rel=1e-6)


def test_r1_penalty_of_a_linear_and_a_quadratic_discriminator(gradients):
    real = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-1.0, 3.0]], "float32")
    w = np.array([[2.0], [1.0]], "float32")
    linear = lambda x, training=True: ops.matmul(x, w)  # noqa: E731  grad w: ||w||^2 = 5 everywhere
    assert float(losses.r1_penalty(linear, real)) == pytest.approx(5.0, rel=1e-6)
    # D(x) = sum(v * x^2): grad 2 v x; with v = (1, 1): ||2x||^2 = 4 ||x||^2 -> 4 * mean(1, 4, 2, 10) = 17.
    quadratic = lambda v: (lambda x, training=True: ops.matmul(x * x, ops.reshape(v, (2, 1))))  # noqa: E731
    assert float(losses.r1_penalty(quadratic(np.ones(2, "float32")), real)) == pytest.approx(17.0, rel=1e-6)
    # Double backprop: d R1 / d v_j = mean_i 8 v_j x_ij^2 -> v = 1: 8 * mean(x_j^2) = (6, 28).
    (grad,) = gradients(lambda v: losses.r1_penalty(quadratic(v), real), np.ones(2, "float32"))
    np.testing.assert_allclose(grad, [6.0, 28.0], rtol=1e-5)


def test_lecam_regularization_hand_values(gradients):
    # alpha_R = 0.5, alpha_F = -0.25: relu(REAL + 0.25)^2 = [5.0625, 0, 0.0625, 0.5625] -> 1.421875;
    # relu(0.5 - FAKE)^2 = [12.25, 0, 0.25, 1] -> 3.375.
    value = losses.lecam_regularization(REAL, FAKE, 0.5, -0.25)
    assert float(value) == pytest.approx(1.421875 + 3.375, rel=1e-6)
    # Its gradient: 2 relu(.) / 4 on the active scores.
    g_real, g_fake = gradients(lambda r, f: losses.lecam_regularization(r, f, 0.5, -0.25), REAL, FAKE)
    np.testing.assert_allclose(g_real, [1.125, 0.0, 0.125, 0.375], rtol=1e-6)
    np.testing.assert_allclose(g_fake, [-1.75, 0.0, -0.25, -0.5], rtol=1e-6)


def test_lecam_anchor_is_a_zero_debiased_moving_average():
    biased, count, anchor = losses.lecam_anchor(0.0, 0, REAL)  # mean(REAL) = 0.375
    assert float(count) == 1 and float(anchor) == pytest.approx(0.375, rel=1e-5)  # debiased from step 1
    assert float(biased) == pytest.approx(0.01 * 0.375, rel=1e-5)
    biased, count, anchor = losses.lecam_anchor(biased, count, FAKE)  # mean(FAKE) = -0.625
    expected = (0.99 * 0.01 * 0.375 + 0.01 * -0.625) / (1 - 0.99 ** 2)
    assert float(count) == 2 and float(anchor) == pytest.approx(expected, rel=1e-5)
