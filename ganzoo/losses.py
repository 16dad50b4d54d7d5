"""Pure GAN loss functions, in the language of the papers.

Discriminator outputs are *logits* (pre-sigmoid) throughout: D(x) = sigmoid(logit(x)).
Working with logits keeps log D and log(1 - D) finite where the sigmoid saturates:
log D(x) = -softplus(-logit) and log(1 - D(x)) = -softplus(logit).

Every function returns the mean over the batch it is given. Under `tf.distribute` the model
scales these per-replica means by 1 / num_replicas so that summed gradients equal the
single-device gradients of the global batch. All are `keras.ops`, so they run on the
TensorFlow, JAX and PyTorch backends alike (`input_gradients` is the one backend-specific helper).
"""

import math

import keras
from keras import ops


def minimax_discriminator_loss(real_logits, fake_logits):
    """-V(D, G): the negated minimax value, which the discriminator minimizes.

    Goodfellow et al. 2014, Eq. 1:
    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].

    Args:
        real_logits: discriminator logits on real data, shape (batch, ...).
        fake_logits: discriminator logits on generated data.

    Returns:
        Scalar: -E[log D(x)] - E[log(1 - D(G(z)))] (binary cross-entropy), log 4 at D = 1/2.
    """
    real_logits = ops.cast(real_logits, "float32")
    fake_logits = ops.cast(fake_logits, "float32")
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def js_lower_bound(real_logits, fake_logits):
    """(V(D, G) + log 4) / 2, a lower bound on JS(p_data || p_g) in nats, from any discriminator.

    Goodfellow et al. 2014, Theorem 1 / Eq. 5-6: for fixed G, V(D, G) is maximized pointwise by
    D*(x) = p_data(x) / (p_data(x) + p_g(x)), and V(D*, G) = -log 4 + 2 JS(p_data || p_g).
    Any other D gives V(D, G) <= V(D*, G), so JS >= (V(D, G) + log 4) / 2, with equality at
    D = D*. V = -`minimax_discriminator_loss`, so the bound is (log 4 - d_loss) / 2: 0 at D = 1/2
    everywhere, at most log 2 (V <= 0), negative for a D worse than the constant 1/2. It holds
    whatever loss the generator uses (the discriminator's objective is the same).

    On a batch it is the unbiased estimate of the bound for the current D (a mean, like the
    loss). It bounds the divergence between the distributions the discriminator sees: with
    PacGAN packing, the m-fold products p^m and q^m (JS(p^m || q^m) >= JS(p || q), so it is no
    bound on the unpacked JS); with augmentation, the augmented distributions; for a
    class-conditional D(x, y) with fakes drawn for the real labels, the joint distributions,
    whose JS is E_y JS(p(x | y) || q(x | y)).
    """
    return (math.log(4.0) - minimax_discriminator_loss(real_logits, fake_logits)) / 2.0


def saturated_fraction(fake_logits, probability=0.99):
    """The share of fake samples the discriminator calls fake with probability above
    `probability`, D(G(z)) < 1 - probability: where log(1 - D) is flat and the minimax
    generator loss gives (almost) no gradient (Goodfellow et al. 2014, Section 3; Arjovsky &
    Bottou 2017, Theorem 2.4). Compared on logits: D < 1 - p <=> logit < log((1 - p) / p)."""
    threshold = math.log((1.0 - probability) / probability)
    return ops.mean(ops.cast(ops.less(ops.cast(fake_logits, "float32"), threshold), "float32"))


def _mean(values, weights=None):
    """mean(values), or the `weights`-weighted mean (top-k: 1 for the kept samples, 0 otherwise)."""
    if weights is None:
        return ops.mean(values)
    weights = ops.reshape(ops.cast(weights, "float32"), ops.shape(values))
    return ops.sum(weights * values) / ops.maximum(ops.sum(weights), 1.0)


def top_k_weights(scores, fraction):
    """1.0 for the ceil(fraction * n) highest of the n `scores`, 0.0 for the rest (no gradient).

    Sinha et al. 2020, "Top-k Training of GANs: Improving GAN Performance by Throwing Away Bad
    Samples": the generator's update uses only the fake samples the discriminator scores as most
    real. `fraction` may be a tensor (a schedule's current value): k is computed in the graph, so
    no retrace when it changes. At least one sample is kept; ties at the threshold are all kept.
    Under a distribution strategy each replica keeps the share of its own slice of the batch.
    """
    flat = ops.reshape(ops.stop_gradient(ops.cast(scores, "float32")), (-1,))
    n = ops.shape(flat)[0]
    k = ops.clip(ops.ceil(ops.cast(fraction, "float32") * float(n) - 1e-4), 1.0, float(n))
    descending = -ops.sort(-flat)
    threshold = ops.take(descending, ops.cast(k, "int32") - 1)
    return ops.reshape(ops.cast(ops.greater_equal(flat, threshold), "float32"), ops.shape(scores))


def minimax_generator_loss(fake_logits, weights=None):
    """E_z[log(1 - D(G(z)))], the generator's side of the minimax game.

    Goodfellow et al. 2014, Eq. 1 and Algorithm 1. It saturates early in training, when D
    rejects samples with confidence and the gradient of log(1 - D) vanishes; see
    `non_saturating_generator_loss`.

    `weights` (optional, one per logit): a weighted mean instead (see `top_k_weights`).

    Returns:
        Scalar, at most 0; the generator minimizes it.
    """
    fake_logits = ops.cast(fake_logits, "float32")
    return -_mean(ops.softplus(fake_logits), weights)


def non_saturating_generator_loss(fake_logits, weights=None):
    """-E_z[log D(G(z))], the non-saturating generator loss.

    Goodfellow et al. 2014, Section 3: "rather than training G to minimize log(1 - D(G(z)))
    we can train G to maximize log D(G(z))", same fixed point, strong gradients early on.

    `weights` (optional, one per logit): a weighted mean instead (see `top_k_weights`).

    Returns:
        Scalar, at least 0.
    """
    fake_logits = ops.cast(fake_logits, "float32")
    return _mean(ops.softplus(-fake_logits), weights)


def wasserstein_critic_loss(real_scores, fake_scores):
    """E[f(G(z))] - E[f(x)]: the critic's loss, the negated Kantorovich-Rubinstein estimate of W1.

    Arjovsky et al. 2017, Eq. 3; Gulrajani et al. 2017, Eq. 3 (without the penalty term, see
    `gradient_penalty`).
    """
    real_scores = ops.cast(real_scores, "float32")
    fake_scores = ops.cast(fake_scores, "float32")
    return ops.mean(fake_scores) - ops.mean(real_scores)


def wasserstein_generator_loss(fake_scores, weights=None):
    """-E[f(G(z))]: the generator's Wasserstein loss (Gulrajani et al. 2017, Algorithm 1);
    `weights`: a weighted mean instead (see `top_k_weights`)."""
    return -_mean(ops.cast(fake_scores, "float32"), weights)


def gradient_penalty_from_gradients(gradients, epsilon=1e-12):
    """E[(||grad f(x_hat)||_2 - 1)^2] given the critic's gradients at the interpolates.

    Gulrajani et al. 2017, Eq. 3. The norm is sqrt(sum(g^2) + epsilon): the plain square root
    has an infinite derivative at 0, so a critic with zero gradient at some x_hat would turn
    the whole update into NaN.

    Args:
        gradients: d f(x_hat) / d x_hat, shape (batch, ...).
        epsilon: added inside the square root.

    Returns:
        Scalar penalty (without the weight lambda).
    """
    gradients = ops.cast(gradients, "float32")
    batch = ops.shape(gradients)[0]
    flat = ops.reshape(gradients, (batch, -1))
    norms = ops.sqrt(ops.sum(ops.square(flat), axis=1) + epsilon)
    return ops.mean(ops.square(norms - 1.0))


def interpolate(real, fake, alpha):
    """x_hat = alpha * x + (1 - alpha) * x_tilde with one alpha per example.

    Gulrajani et al. 2017, Algorithm 1, line 6: epsilon ~ U[0, 1], drawn once per example
    (not per pixel, not from a normal distribution).

    Args:
        real: real batch, shape (batch, ...).
        fake: generated batch, same shape.
        alpha: shape (batch,) uniform weights.
    """
    alpha = ops.cast(alpha, real.dtype)
    alpha = ops.reshape(alpha, (-1,) + (1,) * (len(real.shape) - 1))
    return alpha * real + (1.0 - alpha) * fake


def input_gradients(critic, x, training=True):
    """d sum(critic(x)) / dx, one gradient per example for a per-example critic.

    The one backend-specific piece of the losses: `tf.GradientTape` on TensorFlow, `jax.grad`
    on JAX, `torch.autograd.grad(..., create_graph=True)` on PyTorch. The result stays
    differentiable with respect to the critic's weights (double backprop). A train step passes its own handle of the critic (with an `input_gradients`
    method that threads the JAX step's state); a plain Keras model is called directly.
    """
    if hasattr(critic, "input_gradients"):
        return critic.input_gradients(x)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.grad(lambda x: ops.sum(ops.cast(critic(x, training=training), "float32")))(x)
    if backend == "torch":
        return _torch_input_gradients(critic, x, training)
    if backend != "tensorflow":
        raise NotImplementedError(f"The gradient penalty needs the tensorflow, jax or torch backend, not {backend!r}.")
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        # Summing makes d(sum)/dx[i] = d f(x[i]) / d x[i] for a per-example critic.
        total = tf.reduce_sum(tf.cast(critic(x, training=training), tf.float32))
    return tape.gradient(total, x)


def _torch_input_gradients(critic, x, training):
    import torch

    x = ops.convert_to_tensor(x)
    if not x.requires_grad:  # a leaf to differentiate by; x built from weights keeps its graph
        x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        total = ops.sum(ops.cast(critic(x, training=training), "float32"))
        (grads,) = torch.autograd.grad(total, x, create_graph=True)
    return grads


def gradient_penalty(critic, real, fake, alpha, epsilon=1e-12, training=True):
    """The WGAN-GP penalty E[(||grad_x_hat f(x_hat)||_2 - 1)^2] for `critic` f.

    Gulrajani et al. 2017, Eq. 3, with x_hat from `interpolate(real, fake, alpha)`. The
    returned value is differentiable with respect to the critic's weights (double backprop),
    so the critic can be trained on it (see `input_gradients`).

    Args:
        critic: callable mapping a batch to scores of shape (batch, 1) or (batch,).
        real, fake: batches of the same shape.
        alpha: (batch,) interpolation weights drawn from U[0, 1].
        epsilon: added inside the norm's square root (see `gradient_penalty_from_gradients`).

    Returns:
        Scalar penalty (without the weight lambda).
    """
    x_hat = interpolate(real, fake, alpha)
    return gradient_penalty_from_gradients(input_gradients(critic, x_hat, training), epsilon)


def hinge_discriminator_loss(real_scores, fake_scores):
    """-V_D: the hinge loss the discriminator minimizes, E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].

    Miyato et al. 2018 (SN-GAN), Eq. 16: V_D = E_x[min(0, -1 + D(x))] + E_z[min(0, -1 - D(G(z)))],
    which D maximizes (after Lim & Ye 2017 and Tran et al. 2017). Scores are raw, not logits:
    D is pushed to >= 1 on real data and <= -1 on generated data and gets no gradient beyond.

    Returns:
        Scalar, at least 0; 2 at D = 0 everywhere.
    """
    real_scores = ops.cast(real_scores, "float32")
    fake_scores = ops.cast(fake_scores, "float32")
    return ops.mean(ops.relu(1.0 - real_scores)) + ops.mean(ops.relu(1.0 + fake_scores))


def tv_lower_bound(real_scores, fake_scores):
    """1 - L_hinge / 2, a lower bound on the total variation TV(p_data, p_g) from any discriminator.

    TV(p, q) = sup_A |p(A) - q(A)| = (1/2) int |p - q|, in [0, 1]. The hinge loss
    (`hinge_discriminator_loss`) is L(D) = E_p[relu(1 - D(x))] + E_q[relu(1 + D(x))] =
    int p(x) relu(1 - D(x)) + q(x) relu(1 + D(x)) dx, minimized pointwise. For a score t at a
    point with densities p, q: on t in [-1, 1] the integrand is p (1 - t) + q (1 + t) =
    (p + q) + t (q - p), linear in t, smallest at t = 1 where p > q (value 2q) and at t = -1
    where p < q (value 2p); outside [-1, 1] one term grows and the other is 0 (t > 1: q (1 + t)
    > 2q; t < -1: p (1 - t) > 2p). So the optimal discriminator is D*(x) = sign(p(x) - q(x))
    (any value in [-1, 1] where p = q), and

        min_D L(D) = 2 int min(p, q) dx = 2 (1 - TV(p, q)),

    since int min(p, q) = 1 - (1/2) int |p - q|. Hence L(D) >= 2 (1 - TV) for every D, i.e.
    TV >= 1 - L(D) / 2, with equality at D*. The bound is 0 at D = 0 (L = 2), at most 1 (L >= 0).
    (Restricted to scores in [-1, 1], V_D = -L = E_p[D] - E_q[D] - 2 and its supremum,
    2 TV - 2, is the variational form of TV; scores outside [-1, 1] never lower L.) A
    K-Lipschitz D (spectral normalization) cannot follow D*'s jump from 1 to -1 where p - q
    changes sign faster than over a distance 2 / K, so it falls short of equality where p and
    q adjoin; the inequality holds for it as for any D. With packing or augmentation, the
    bound is on what the discriminator sees (see `js_lower_bound`).
    """
    return 1.0 - hinge_discriminator_loss(real_scores, fake_scores) / 2.0


def hinge_generator_loss(fake_scores, weights=None):
    """-E_z[D(G(z))]: the generator's side of the hinge game (Miyato et al. 2018, Eq. 17,
    V_G = -E_z[D(G(z))], which G minimizes); `weights`: a weighted mean instead (see
    `top_k_weights`)."""
    return -_mean(ops.cast(fake_scores, "float32"), weights)


def r1_penalty_from_gradients(gradients):
    """E[||grad_x D(x)||_2^2] given D's gradients at the real samples (without gamma / 2).

    Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?", Eq. 9:
    R1 = gamma / 2 * E_x~p_data[||grad D(x)||^2], penalizing D's gradient on real data only,
    which makes the game locally convergent. No square root, so no epsilon is needed.

    Args:
        gradients: d D(x) / d x for real x, shape (batch, ...).
    """
    gradients = ops.cast(gradients, "float32")
    flat = ops.reshape(gradients, (ops.shape(gradients)[0], -1))
    return ops.mean(ops.sum(ops.square(flat), axis=1))


def r1_penalty(discriminator, real, training=True):
    """The R1 penalty E[||grad_x D(x)||^2] of `discriminator` on the real batch (without gamma / 2).

    Differentiable with respect to D's weights (double backprop; see `input_gradients`).
    """
    return r1_penalty_from_gradients(input_gradients(discriminator, real, training))


def mode_seeking_ratio(samples, z, labels=None, epsilon=1e-8):
    """(ratio, pairs) of mode-seeking regularization over the batch's pairs of samples.

    Mao et al. 2019, "Mode Seeking Generative Adversarial Networks for Diverse Image Synthesis",
    Eq. 3: G maximizes d_I(G(c, z1), G(c, z2)) / d_z(z1, z2), the distance between two samples of
    the same condition c per unit distance of their latent codes, so that different z do not
    map to one image (a collapse within a class the adversarial loss alone does not see). Here the
    pairs are every pair i < j of the batch with equal `labels` (every pair when `labels` is
    None): the batch's fakes are drawn for the real batch's labels, so no extra generator pass
    is needed. `ratio` = sum over pairs of d_I / sum over pairs of d_z (the paper's ratio of
    means), with d the root-mean-square difference (the paper's mean absolute difference would
    need a (n, n, features) tensor; this needs (n, n), from the Gram matrix), `epsilon` inside
    the square root so a collapsed pair has a finite gradient. `pairs` is their number
    (a float; 0.0 when no two samples share a label, and then `ratio` is 0.0).

    Args:
        samples: (batch, ...) generated samples.
        z: (batch, ...) their latent codes.
        labels: (batch,) int labels, or None (unconditional).
    """
    def rms_distances(x):
        x = ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))
        squares = ops.sum(ops.square(x), axis=1)
        squared = squares[:, None] + squares[None, :] - 2.0 * ops.matmul(x, ops.transpose(x))
        return ops.sqrt(ops.maximum(squared, 0.0) / ops.cast(ops.shape(x)[1], "float32") + epsilon)

    n = ops.shape(samples)[0]
    upper = ops.triu(ops.ones((n, n), "float32"), k=1)
    if labels is not None:
        labels = ops.reshape(labels, (-1,))
        upper = upper * ops.cast(ops.equal(labels[:, None], labels[None, :]), "float32")
    pairs = ops.sum(upper)
    image_distance = ops.sum(upper * rms_distances(samples))
    latent_distance = ops.sum(upper * rms_distances(ops.stop_gradient(z)))
    # No pair: both sums are 0, so the ratio is 0.
    return image_distance / ops.maximum(latent_distance, epsilon), pairs


def mode_seeking_loss(ratio, pairs, epsilon=1e-5):
    """The generator's mode-seeking term 1 / (ratio + epsilon) (Mao et al. 2019, as the authors'
    code: minimizing it maximizes the ratio), 0.0 when the batch had no pair."""
    return ops.where(pairs > 0, 1.0 / (ratio + epsilon), 0.0)


def lecam_regularization(real_scores, fake_scores, anchor_real, anchor_fake):
    """The LeCam regularizer of D: E[relu(D(x) - alpha_F)^2] + E[relu(alpha_R - D(G(z)))^2].

    Tseng et al. 2021, "Regularizing Generative Adversarial Networks under Limited Data", Eq. 3
    with the one-sided hinge of the authors' code (google/lecam-gan, `lecam_reg` and
    `lecamreg`): D(x) is pulled down only above the fake anchor, D(G(z)) up only below the real
    anchor. alpha_R, alpha_F are moving averages of D's mean score on real and on generated data
    (`lecam_anchor`); no gradient flows into them.

    Args:
        real_scores, fake_scores: D's raw outputs (logits or scores) on real and generated data.
        anchor_real, anchor_fake: the scalars alpha_R and alpha_F.

    Returns:
        Scalar regularizer (without its weight lambda; 0.3 for BigGAN on CIFAR in the authors'
        scripts).
    """
    real_scores = ops.cast(real_scores, "float32")
    fake_scores = ops.cast(fake_scores, "float32")
    anchor_real = ops.stop_gradient(ops.cast(anchor_real, "float32"))
    anchor_fake = ops.stop_gradient(ops.cast(anchor_fake, "float32"))
    return (ops.mean(ops.square(ops.relu(real_scores - anchor_fake)))
            + ops.mean(ops.square(ops.relu(anchor_real - fake_scores))))


def lecam_anchor(biased, count, scores, decay=0.99):
    """One step of a LeCam anchor: a zero-debiased moving average of mean(scores).

    As the authors' StyleGAN2 code (`moving_averages.assign_moving_average(..., decay=0.99,
    zero_debias=True)`): biased <- decay * biased + (1 - decay) * mean(scores), and the anchor is
    biased / (1 - decay^count), an unbiased average from the first step on.

    Args:
        biased: the running biased average (0 before the first step).
        count: steps taken so far (0 before the first).
        scores: this step's scores (no gradient flows through them).

    Returns:
        (new biased average, new count, anchor).
    """
    value = ops.stop_gradient(ops.mean(ops.cast(scores, "float32")))
    count = ops.cast(count, "float32") + 1.0
    biased = decay * ops.cast(biased, "float32") + (1.0 - decay) * value
    return biased, count, biased / (1.0 - ops.power(decay, count))
