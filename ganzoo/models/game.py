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

from ganzoo import augment as augmentation
from ganzoo import losses
from ganzoo.config import parse_augment_policy
from ganzoo.models.trackers import Latest

AUGMENTS = ("diffaugment", "ada")
#: Top-k training's per-epoch factor on the kept share (Sinha et al. 2020: gamma = 0.99).
TOP_K_DECAY = 0.99


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


def _non_negative(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"`{name}` must be a number >= 0; got {value!r}.")
    return value


def _fraction(value, name, example):
    """None, or a number in (0, 1]."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value <= 1:
        raise ValueError(f"`{name}` must be in (0, 1], {example}; got {value!r}.")
    return value


class Game:
    """The backend-neutral half of `GANBase`'s train step (a mixin)."""

    #: The metrics a step logs. `discriminator_loss` returns (loss, extra): `extra` must hold
    #: exactly the names here beyond the four every model logs (checked when a step is traced).
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")
    #: What the step logs beside `metric_names` about the game itself, from values the step has
    #: anyway: the divergence bound the discriminator implies and the share of saturated fakes
    #: (`discriminator_signals`), and `g_grad_norm` (`generator_signals`).
    signal_names = ("g_grad_norm",)

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
        {"z": (batch, latent_dim)}, T's draws for the real and the fake batch ("aug_real",
        "aug_fake") when augmenting, then what `discriminator_loss` needs (WGAN-GP: "alpha")."""
        noise = {"z": self._latent(batch_size)}
        noise.update(self._augment_noise(batch_size, ("aug_real", "aug_fake")))
        return noise

    # ------------------------------------------------- augmentation and regularizers
    def _set_regularizers(self, augment, augment_policy, ada_target, ada_kimg, r1_gamma, r1_every, lecam_weight,
                          top_k=None, top_k_decay=None, mode_seeking=None):
        """Check and keep the options of `GANBase`; make the state variables they need (none when
        all are off, so a plain model's step, variables and checkpoints are unchanged)."""
        name = type(self).__name__
        if augment is not None and augment not in AUGMENTS:
            raise ValueError(f"{name}: `augment` must be None, 'diffaugment' or 'ada'; got {augment!r}.")
        if augment is None and augment_policy is not None:
            raise ValueError(f"{name}: `augment_policy` needs `augment='diffaugment'` or `augment='ada'`.")
        if augment is not None and len(self.data_shape) != 3:
            raise ValueError(f"{name}: augmentation transforms images (height, width, channels); this model's "
                             f"samples have shape {tuple(self.data_shape)}. Leave `augment` unset for vector data.")
        if augment == "ada" and not self.ada_supported:
            raise ValueError(f"{name}: ADA adjusts p from the sign of D's outputs on real data, which a Wasserstein "
                             "critic does not have (its scores are defined up to a constant). Use "
                             "augment='diffaugment' with WGAN-GP.")
        default_policy = augmentation.ADA_POLICY if augment == "ada" else augmentation.DEFAULT_POLICY
        policy = parse_augment_policy(augment_policy) if augment_policy is not None else default_policy
        self.augment = augment
        self.augment_policy = ",".join(policy) if augment is not None else None
        if ada_target is not None and not (isinstance(ada_target, (int, float)) and 0 < ada_target < 1):
            raise ValueError(f"{name}: `ada_target` must be in (0, 1) (0.6 in the ADA paper); got {ada_target!r}.")
        self.ada_target = float(augmentation.ADA_TARGET if ada_target is None else ada_target)
        self.ada_kimg = _positive_int(augmentation.ADA_KIMG if ada_kimg is None else ada_kimg, "ada_kimg")
        self.r1_gamma = _non_negative(0.0 if r1_gamma is None else r1_gamma, "r1_gamma")
        self.r1_every = _positive_int(1 if r1_every is None else r1_every, "r1_every")
        self.lecam_weight = _non_negative(0.0 if lecam_weight is None else lecam_weight, "lecam_weight")
        self.mode_seeking = _non_negative(0.0 if mode_seeking is None else mode_seeking, "mode_seeking")
        self.top_k = _fraction(top_k, "top_k", "the smallest share of the fake batch G learns from, e.g. 0.5")
        self.top_k_decay = _fraction(top_k_decay, "top_k_decay", "the per-epoch factor, e.g. 0.99")
        if self.top_k_decay is not None and self.top_k is None:
            raise ValueError(f"{name}: `top_k_decay` is the schedule of top-k training: set `top_k` too.")
        if self.top_k is not None and self.top_k_decay is None:
            self.top_k_decay = TOP_K_DECAY
        names = []
        if self.augment == "ada":
            names += ["ada_p", "ada_rt", "ada_signs", "ada_scores", "ada_steps"]
        if self.r1_gamma and self.r1_every > 1:
            names += ["r1_steps"]
        if self.lecam_weight:
            names += ["lecam_real", "lecam_fake", "lecam_steps"]
        if self.top_k is not None:
            names += ["top_k"]  # the share kept now, set by the schedule (models/top_k.py) at each epoch
        # Model variables: saved with the model, restored on resume, threaded by the JAX step.
        self._game_variables = {
            n: self.add_weight(shape=(), initializer="ones" if n == "top_k" else "zeros", dtype="float32",
                               trainable=False, aggregation="only_first_replica", name=n)
            for n in names}

    #: Whether ADA's r_t = E[sign(D(x_real))] means something for this model's D (not for a critic).
    ada_supported = True

    def regularizer_metric_names(self):
        """The metrics the augmentation and regularizer options add to `metric_names`."""
        names = []
        if self.r1_gamma:
            names.append("r1")
        if self.lecam_weight:
            names.append("lecam")
        if self.augment == "ada":
            names += ["ada_p", "ada_rt"]
        if self.top_k is not None:
            names.append("top_k")
        if self.mode_seeking:
            names.append("mode_seeking")
        return names

    def _make_trackers(self):
        names = list(self.metric_names) + self.regularizer_metric_names()
        return {n: (Latest(name=n) if n.startswith("ada_") or n == "top_k" else keras.metrics.Mean(name=n))
                for n in names}

    def game_state(self):
        """{name: current value} of the augmentation and regularizer state variables."""
        return {n: v.value for n, v in self._game_variables.items()}

    def _uniform_table(self, batch_size, columns):
        """U[0, 1), `columns` numbers per example, from the model's seed generator."""
        return keras.random.uniform((batch_size, columns), seed=self.seed_generator)

    def _augment_noise(self, batch_size, keys):
        if self.augment is None:
            return {}
        columns = augmentation.num_uniforms(self.augment_policy, adaptive=self.augment == "ada")
        return {key: self._uniform_table(batch_size, columns) for key in keys}

    def generator_noise(self, batch_size):
        """The noise a generator step draws beyond z: T's draws for the fake batch ({} without
        augmentation)."""
        return self._augment_noise(batch_size, ("aug_fake",))

    def _augmented(self, samples, table, state):
        """T(samples): what D sees (the samples themselves without augmentation)."""
        if self.augment is None:
            return samples
        p = state["ada_p"] if self.augment == "ada" else None
        return augmentation.augment(samples, table, self.augment_policy, p=p)

    def _replica_sum(self, x):
        """x summed over the replicas of a distributed step (identity on one device)."""
        return x

    def _regularized(self, d, loss, real_packs, real_scores, fake_scores, state):
        """(loss with R1 and LeCam added, their logs, the new state); ADA's p updated from r_t."""
        logs = {}
        if self.r1_gamma:
            # Mescheder et al. 2018, Eq. 9, on D's real input (augmented and packed, as the WGAN-GP
            # penalty): gamma / 2 * E||grad D(x)||^2. Lazy (Karras et al. 2020, StyleGAN2): every
            # r1_every-th D step only, scaled by r1_every.
            def penalty():
                return losses.r1_penalty_from_gradients(d.input_gradients(real_packs))

            if self.r1_every == 1:
                r1 = penalty()
                logs["r1"] = r1
            else:
                due = ops.equal(ops.mod(state["r1_steps"], float(self.r1_every)), 0.0)
                r1 = d.cond(due, penalty)
                state["r1_steps"] = state["r1_steps"] + 1.0
                logs["r1"] = (r1, ops.cast(due, "float32"))
            loss = loss + (0.5 * self.r1_gamma * self.r1_every) * r1
        if self.lecam_weight:
            count = state["lecam_steps"]
            real_mean = self._replica_sum(ops.mean(ops.cast(real_scores, "float32"))) / self._num_replicas()
            fake_mean = self._replica_sum(ops.mean(ops.cast(fake_scores, "float32"))) / self._num_replicas()
            state["lecam_real"], _, anchor_real = losses.lecam_anchor(state["lecam_real"], count, real_mean)
            state["lecam_fake"], state["lecam_steps"], anchor_fake = losses.lecam_anchor(
                state["lecam_fake"], count, fake_mean)
            lecam = losses.lecam_regularization(real_scores, fake_scores, anchor_real, anchor_fake)
            loss = loss + self.lecam_weight * lecam
            logs["lecam"] = lecam
        if self.augment == "ada":
            # Karras et al. 2020, Section 3: r_t = E[sign(D(x_real))] over the interval's reals; p
            # moves by sign(r_t - target) * images / (ada_kimg * 1000) every ADA_INTERVAL D steps.
            scores = ops.cast(real_scores, "float32")
            signs = state["ada_signs"] + self._replica_sum(ops.sum(ops.sign(ops.stop_gradient(scores))))
            count = state["ada_scores"] + self._replica_sum(ops.cast(ops.shape(scores)[0], "float32"))
            steps = state["ada_steps"] + 1.0
            due = ops.greater_equal(steps, float(augmentation.ADA_INTERVAL))
            rt = signs / ops.maximum(count, 1.0)
            adjusted = augmentation.ada_adjust(state["ada_p"], rt, count * self.pack, self.ada_target, self.ada_kimg)
            state["ada_p"] = ops.where(due, adjusted, state["ada_p"])
            state["ada_rt"] = ops.where(due, rt, state["ada_rt"])
            state["ada_signs"] = ops.where(due, 0.0, signs)
            state["ada_scores"] = ops.where(due, 0.0, count)
            state["ada_steps"] = ops.where(due, 0.0, steps)
            logs["ada_p"], logs["ada_rt"] = state["ada_p"], state["ada_rt"]
        if self.top_k is not None:
            logs["top_k"] = state["top_k"]
        return loss, logs, state

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
    def discriminator_objective(self, d, real, fake, noise, state=None):
        """(loss, logs, state) of one discriminator (critic) step on `real` and `fake` samples.

        `d` is the discriminator in training mode (see the module docstring), `noise` what
        `discriminator_noise` drew, `state` the values of the augmentation and regularizer
        variables (`game_state`), returned updated. D sees T(real) and T(fake), each sample with
        its own draw of T, then packed; the WGAN-GP and R1 penalties are taken on those inputs
        (as the DiffAugment authors' compare_gan and StyleGAN2 code). `logs` holds d_loss (all
        terms), d_real, d_fake, the loss's extras and the regularizers' metrics.
        """
        state = dict(state or {})
        real = self._augmented(real, noise.get("aug_real"), state)
        fake = self._augmented(fake, noise.get("aug_fake"), state)
        real_packs, fake_packs = self._pack(real), self._pack(fake)
        real_scores, fake_scores = d(real_packs), d(fake_packs)
        loss, extra = self.discriminator_loss(real_packs, fake_packs, real_scores, fake_scores,
                                              critic=d, noise=noise)
        self._check_extra_metrics(extra)
        loss, regularizer_logs, state = self._regularized(d, loss, real_packs, real_scores, fake_scores, state)
        logs = {"d_loss": loss, "d_real": self.score_summary(real_scores),
                "d_fake": self.score_summary(fake_scores)}
        logs.update(extra)
        logs.update(regularizer_logs)
        logs.update(self.discriminator_signals(real_scores, fake_scores))
        return loss, logs, state

    def generator_objective(self, d, fake, z, labels=None, noise=None, state=None):
        """(loss, logs) of the generator step on the fake batch `fake` = G(z) (or G(z, labels))
        against the discriminator `d`, which sees T(fake) when augmenting (`noise`: what
        `generator_noise` drew). With top-k training only the share `state["top_k"]` of the fake
        batch (packs when packing) that D scores highest counts (Sinha et al. 2020). With mode
        seeking (Mao et al. 2019) the loss gains mode_seeking / (ratio + 1e-5), ratio as
        `losses.mode_seeking_ratio` over the pairs of equal label, logged as `mode_seeking`
        (averaged over the batches that had a pair); `logs` is {} without it."""
        state = state or {}
        scores = d(self._pack(self._augmented(fake, (noise or {}).get("aug_fake"), state)))
        if self.top_k is None:
            loss = self.generator_loss(scores)
        else:
            loss = self.generator_loss(scores, losses.top_k_weights(scores, state["top_k"]))
        if not self.mode_seeking:
            return loss, {}
        ratio, pairs = losses.mode_seeking_ratio(fake, z, labels)
        loss = loss + self.mode_seeking * losses.mode_seeking_loss(ratio, pairs)
        return loss, {"mode_seeking": (ratio, ops.cast(pairs > 0, "float32"))}

    def discriminator_signals(self, real_scores, fake_scores):
        """{name: scalar} the discriminator step logs about the game from its scores (the
        divergence bound its loss implies; see the models). None here."""
        return {}

    def generator_signals(self, fake_grads, loss_scale=1.0):
        """{"g_grad_norm": mean_i ||d l_G(x_i) / d x_i||_2}: the gradient of the generator's
        per-sample loss with respect to each fake sample x_i = G(z_i), the signal that reaches G.

        `fake_grads` is the gradient of the step's loss (times `loss_scale`: the replica and
        float16 loss scaling the backend applied) with respect to the fake batch, which backprop
        into G computes anyway. The loss is a mean over the n discriminator inputs of the batch
        (n = batch / pack), so the per-sample gradient is n times the batch loss's. With packing,
        each sample's gradient is its slice of its pack's. With batch norm in D the samples'
        scores depend on each other and this is the batch loss's gradient, as G receives it.
        With top-k training the dropped samples' gradients are 0 and the kept ones' n / k times
        theirs, so the value is the mean gradient norm over the k samples G learns from.
        """
        grads = ops.cast(fake_grads, "float32")
        batch = ops.shape(grads)[0]
        per_input = ops.cast(batch // self.pack, "float32") / ops.cast(loss_scale, "float32")
        norms = ops.sqrt(ops.sum(ops.square(ops.reshape(grads, (batch, -1))), axis=1))
        return {"g_grad_norm": ops.mean(norms) * per_input}

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

    def generator_loss(self, fake_scores, weights=None):
        """The generator's loss: a mean over the fake scores, or a `weights`-weighted mean
        (top-k: `losses.top_k_weights`); subclasses define it."""
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
