"""One `train_step` of each model against a hand-written step of its paper's algorithm: the same
networks, the same z and alpha, plain `tf.GradientTape` and the same optimizers; the weights after
the step agree to 1e-6. The real step runs; only its noise draws (`_latent`, `_uniform`) are fixed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo

SHAPE, BATCH = (8, 8, 1), 8


def _fix_noise(model, monkeypatch, zs, alphas=()):
    """The model's draws return `zs` (and `alphas`) in order; each draw is recorded."""
    zs, alphas, drawn = list(zs), list(alphas), []

    def latent(batch_size):
        drawn.append("z")
        return tf.constant(zs.pop(0))

    def uniform(batch_size):
        drawn.append("alpha")
        return tf.constant(alphas.pop(0))

    monkeypatch.setattr(model, "_latent", latent)
    monkeypatch.setattr(model, "_uniform", uniform)
    return drawn


def _copy(network):
    clone = keras.models.clone_model(network)
    clone.set_weights(network.get_weights())
    return clone


def _optimizer_like(optimizer):
    return optimizer.__class__.from_config(optimizer.get_config())


def _close(a_net, b_net):
    for a, b in zip(a_net.weights, b_net.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, rtol=0, err_msg=a.path)


def _apply(optimizer, tape, loss, net):
    optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))


def _log_sigmoid(logits):
    return -tf.math.softplus(-logits)


@pytest.mark.parametrize("cls", [ganzoo.GAN, ganzoo.DCGAN])
def test_gan_and_dcgan_step_equal_algorithm_1_of_goodfellow_et_al(cls, tiny_model, monkeypatch):
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (BATCH,) + SHAPE).astype("float32")
    z = rng.standard_normal((BATCH, 4)).astype("float32")
    model = tiny_model(cls, SHAPE)
    model.compile()
    G, D = _copy(model.generator), _copy(model.discriminator)
    d_opt, g_opt = _optimizer_like(model.d_optimizer), _optimizer_like(model.g_optimizer)
    assert _fix_noise(model, monkeypatch, [z]) is not None
    model.train_step(tf.constant(real))

    # Algorithm 1 with k = 1: ascend log D(x) + log(1 - D(G(z))), then descend the
    # non-saturating -log D(G(z)) on the same z against the updated D.
    with tf.GradientTape() as g_tape:
        fake = G(z, training=True)
        with tf.GradientTape() as d_tape:
            d_loss = -tf.reduce_mean(_log_sigmoid(D(real, training=True))) - tf.reduce_mean(
                _log_sigmoid(-D(fake, training=True)))
        _apply(d_opt, d_tape, d_loss, D)
        g_loss = -tf.reduce_mean(_log_sigmoid(D(fake, training=True)))
    _apply(g_opt, g_tape, g_loss, G)
    _close(model.discriminator, D)
    _close(model.generator, G)


def test_wgan_gp_step_equals_algorithm_1_of_gulrajani_et_al(tiny_model, monkeypatch):
    k, lam = 2, 10.0
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, (BATCH, k) + SHAPE).astype("float32")
    zs = [rng.standard_normal((BATCH, 4)).astype("float32") for _ in range(k + 1)]
    alphas = [rng.uniform(0, 1, (BATCH,)).astype("float32") for _ in range(k)]
    model = tiny_model(ganzoo.WGANGP, SHAPE, n_critic=k, gp_weight=lam)
    model.compile()
    G, D = _copy(model.generator), _copy(model.discriminator)
    d_opt, g_opt = _optimizer_like(model.d_optimizer), _optimizer_like(model.g_optimizer)
    drawn = _fix_noise(model, monkeypatch, zs, alphas)
    model.train_step(tf.constant(real))
    assert drawn == ["z", "alpha"] * k + ["z"]

    for i in range(k):  # lines 2-10: critic steps, line 4: x ~ P_r is real batch i
        x, x_tilde = real[:, i], G(zs[i], training=True)
        eps = alphas[i].reshape(-1, 1, 1, 1)
        x_hat = tf.constant(eps * x + (1 - eps) * x_tilde.numpy())
        with tf.GradientTape() as tape:
            with tf.GradientTape() as inner:
                inner.watch(x_hat)
                score_hat = tf.reduce_sum(D(x_hat, training=True))
            grad = tf.reshape(inner.gradient(score_hat, x_hat), (BATCH, -1))
            norm = tf.sqrt(tf.reduce_sum(grad**2, axis=1) + 1e-12)
            loss = (tf.reduce_mean(D(x_tilde, training=True)) - tf.reduce_mean(D(x, training=True))
                    + lam * tf.reduce_mean((norm - 1.0) ** 2))
        _apply(d_opt, tape, loss, D)
    with tf.GradientTape() as tape:  # lines 11-12: the generator step on a fresh z
        g_loss = -tf.reduce_mean(D(G(zs[k], training=True), training=True))
    _apply(g_opt, tape, g_loss, G)
    _close(model.discriminator, D)
    _close(model.generator, G)


def test_critic_step_i_consumes_real_batch_i(tiny_model, image_dataset, monkeypatch):
    k = 3
    model = tiny_model(ganzoo.WGANGP, (2,), n_critic=k)
    model.compile(run_eagerly=True)
    seen = []
    step = model._discriminator_step

    def recording_step(real, labels):
        assert labels is None  # an unconditional model ignores labels
        seen.append(real.numpy().copy())
        return step(real, labels)

    monkeypatch.setattr(model, "_discriminator_step", recording_step)
    data = image_dataset(n=2 * k * 8, shape=(2,), batch=8)
    model.fit(data, epochs=1, verbose=0)  # 2 generator steps of k batches each
    batches = [b.numpy() for b in data]
    assert len(seen) == len(batches) == 2 * k
    for i, (got, want) in enumerate(zip(seen, batches)):
        np.testing.assert_array_equal(got, want, err_msg=f"critic step {i}")
