"""The train step on the JAX backend: a pure function of the training state, Keras 3 style.

Keras' JAX trainer passes `train_step(state, data)` the values of every variable (trainable,
non-trainable, optimizer and metric variables) and expects them back updated. This module
splits that state by owner (G, D, the noise seed, each optimizer, each metric), calls the
networks with `stateless_call`, takes gradients with `jax.vjp` / `jax.value_and_grad` and
applies them with `optimizer.stateless_apply`. The losses, packing and noise are
`ganzoo.models.game`, shared with the TensorFlow step.
"""

import contextlib
import functools

import jax
import keras
from keras import ops

from ganzoo.models.backends.jax_multistep import MultiStep
from ganzoo.models.trackers import tracker_update

LossScaleOptimizer = keras.optimizers.LossScaleOptimizer


class StatelessNetwork:
    """A network as `game` sees it, called with `stateless_call` on explicit variables.

    Each call threads the non-trainable variables (batch-norm statistics, dropout seeds) on to
    the next, as consecutive stateful calls would.
    """

    def __init__(self, forward, trainable, non_trainable):
        self.forward, self.trainable, self.non_trainable = forward, trainable, non_trainable

    def __call__(self, x):
        y, self.non_trainable = self.forward(self.trainable, self.non_trainable, x)
        return y

    def input_gradients(self, x):
        """d sum(f(x)) / dx: `jax.grad` of the stateless call, differentiable again by an outer grad."""
        def total(x, non_trainable):
            y, non_trainable = self.forward(self.trainable, non_trainable, x)
            return ops.sum(ops.cast(y, "float32")), non_trainable

        grads, self.non_trainable = jax.grad(total, has_aux=True)(x, self.non_trainable)
        return grads

    def cond(self, pred, fn):
        """fn() where `pred`, else 0.0 (the lazy R1 term), with the non-trainable state that fn's
        calls move threaded through `jax.lax.cond`."""
        def run(non_trainable):
            self.non_trainable = non_trainable
            return ops.cast(fn(), "float32"), self.non_trainable

        def skip(non_trainable):
            return jax.numpy.zeros((), "float32"), non_trainable

        value, self.non_trainable = jax.lax.cond(pred, run, skip, self.non_trainable)
        return value


def _positions(variables, owned):
    index = {id(v): i for i, v in enumerate(variables)}
    return [index[id(v)] for v in owned]


class _State:
    """The step's state by owner; `pack()` gives it back in Keras' order."""

    def __init__(self, model, state):
        self.model = model
        trainable, non_trainable, optimizer_vars, metric_vars = state
        self.shape = (len(trainable), len(non_trainable))
        self.layout = layout = model._jax_layout()
        self.g_tv = [trainable[i] for i in layout["g_tv"]]
        self.d_tv = [trainable[i] for i in layout["d_tv"]]
        self.g_nt = [non_trainable[i] for i in layout["g_nt"]]
        self.d_nt = [non_trainable[i] for i in layout["d_nt"]]
        self.seed = non_trainable[layout["seed"]]
        self.game = {name: non_trainable[i] for name, i in layout["game"].items()}
        n_d = len(model.d_optimizer.variables)
        self.d_opt, self.g_opt = list(optimizer_vars[:n_d]), list(optimizer_vars[n_d:])
        self.metrics, start = {}, 0
        for tracker in model.metrics:
            self.metrics[tracker.name] = list(metric_vars[start: start + len(tracker.variables)])
            start += len(tracker.variables)

    def draw(self, fn, *args):
        """`fn(*args)` drawing from the model's seed generator, its state threaded."""
        state = self.model.seed_generator.state
        with keras.StatelessScope(state_mapping=[(state, self.seed)]) as scope:
            out = fn(*args)
        self.seed = scope.get_current_value(state)
        return out

    def record(self, logs):
        for name, value in logs.items():
            tracker = self.model._trackers[name]
            args, kwargs = tracker_update(value)
            self.metrics[name] = tracker.stateless_update_state(self.metrics[name], *args, **kwargs)

    def results(self):
        """The logged metrics; the divergence check is updated on them."""
        results = {name: t.stateless_result(self.metrics[name]) for name, t in self.model._trackers.items()}
        nonfinite = self.model._nonfinite
        self.metrics[nonfinite.name] = nonfinite.stateless_update_state(self.metrics[nonfinite.name],
                                                                        list(results.values()))
        return results

    def pack(self):
        trainable, non_trainable = [None] * self.shape[0], [None] * self.shape[1]
        for key, values in (("g_tv", self.g_tv), ("d_tv", self.d_tv)):
            for i, v in zip(self.layout[key], values):
                trainable[i] = v
        for key, values in (("g_nt", self.g_nt), ("d_nt", self.d_nt)):
            for i, v in zip(self.layout[key], values):
                non_trainable[i] = v
        non_trainable[self.layout["seed"]] = self.seed
        for name, i in self.layout["game"].items():
            non_trainable[i] = self.game[name]
        metrics = [v for t in self.model.metrics for v in self.metrics[t.name]]
        return trainable, non_trainable, self.d_opt + self.g_opt, metrics


def _scaled(loss, optimizer, optimizer_vars):
    """float16 loss scaling (the optimizer's scale is one of its variables)."""
    if not isinstance(optimizer, LossScaleOptimizer):
        return loss
    with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, optimizer_vars))):
        return optimizer.scale_loss(loss)


class JaxStep(MultiStep):
    """`train_step(state, data)` for Keras' JAX trainer (a mixin of `GANBase`); with
    `steps_per_execution` n > 1, n steps per compiled call (`jax_multistep`)."""

    def _strategy_scope(self):
        return contextlib.nullcontext()

    def _num_replicas(self):
        return 1

    # The one place each network is called in training. A conditional model's fake batch is drawn
    # for the real batch's labels (as the TensorFlow step; see there).
    def _g_forward(self, trainable, non_trainable, z, labels=None):
        fake, non_trainable = self.generator.stateless_call(trainable, non_trainable,
                                                            self._conditioned(z, labels), training=True)
        return ops.cast(fake, "float32"), non_trainable

    def _d_forward(self, trainable, non_trainable, x, labels=None):
        return self.discriminator.stateless_call(trainable, non_trainable, self._conditioned(x, labels),
                                                 training=True)

    def _critic(self, s, d_tv, labels):
        """D as `game` sees it, x -> scores, on `d_tv` with this batch's labels held fixed."""
        return StatelessNetwork(functools.partial(self._d_forward, labels=labels), d_tv, s.d_nt)

    def _generator_vjp(self, s, z, labels):
        """G(z) and the pullback from d loss / d fake to d loss / d G's weights."""
        def forward(g_tv):
            return self._g_forward(g_tv, s.g_nt, z, labels)

        fake, pullback, s.g_nt = jax.vjp(forward, s.g_tv, has_aux=True)
        return fake, pullback

    def _discriminator_step(self, s, real, labels):
        """One discriminator (critic) update on `real` and a fresh fake batch; returns the fake."""
        noise = s.draw(self.discriminator_noise, real.shape[0])
        fake, pullback = self._generator_vjp(s, noise["z"], labels)

        def loss_fn(d_tv):
            d = self._critic(s, d_tv, labels)
            loss, logs, game = self.discriminator_objective(d, real, fake, noise, s.game)
            return _scaled(loss, self.d_optimizer, s.d_opt), (logs, d.non_trainable, game)

        (_, (logs, s.d_nt, s.game)), grads = jax.value_and_grad(loss_fn, has_aux=True)(s.d_tv)
        s.d_tv, s.d_opt = self.d_optimizer.stateless_apply(s.d_opt, grads, s.d_tv)
        s.record(logs)
        return fake, pullback, noise["z"]

    def _generator_step(self, s, fake, pullback, z, labels):
        noise = s.draw(self.generator_noise, fake.shape[0])

        def loss_fn(fake):
            d = self._critic(s, s.d_tv, labels)
            g_loss, g_logs = self.generator_objective(d, fake, z, labels, noise, s.game)
            return _scaled(g_loss, self.g_optimizer, s.g_opt), (g_loss, g_logs, d.non_trainable)

        (_, (g_loss, g_logs, s.d_nt)), fake_grads = jax.value_and_grad(loss_fn, has_aux=True)(fake)
        (grads,) = pullback(fake_grads)
        loss_scale = _scaled(ops.ones(()), self.g_optimizer, s.g_opt)  # the scale this step's loss had
        s.g_tv, s.g_opt = self.g_optimizer.stateless_apply(s.g_opt, grads, s.g_tv)
        s.record({"g_loss": g_loss, **g_logs, **self.generator_signals(fake_grads, loss_scale)})

    def train_step(self, state, data):
        """One iteration of Algorithm 1: k discriminator (critic) steps, then one generator step."""
        # `fit` checked the data once: float samples, k real batches per step when k > 1.
        s = _State(self, state)
        real, labels = self._real_batch(data)  # labels: None, or int32 (batch,) / (batch, k)
        g_labels = labels
        if self.d_steps == 1:
            # 1. Discriminator step on the real batch and a fake batch G(z), z ~ N(0, I).
            # 2. The generator's loss is taken on the same fake batch (its pullback through G
            #    kept), scored by the updated D: one G forward per iteration.
            fake, pullback, z = self._discriminator_step(s, real, labels)
        else:
            # 1. k discriminator steps, step i on real batch i (unrolled).
            for i in range(self.d_steps):
                self._discriminator_step(s, real[:, i], self._labels_of_step(labels, i))
            # 2. The generator's loss on a fresh z ~ N(0, I), for the last critic batch's classes.
            g_labels = self._labels_of_step(labels, -1)
            z = s.draw(self._latent, real.shape[0])
            fake, pullback = self._generator_vjp(s, z, g_labels)
        # 3. Update G by the gradient of its loss.
        self._generator_step(s, fake, pullback, z, g_labels)
        return s.results(), s.pack()

    # ------------------------------------------- Keras' JAX trainer, two optimizers
    def _jax_layout(self):
        """Where G's, D's and the seed's values sit in Keras' variable lists (cached)."""
        layout = self.__dict__.get("_jax_layout_cache")
        if layout is None:
            trainable, non_trainable = self.trainable_variables, self.non_trainable_variables
            layout = {
                "g_tv": _positions(trainable, self.generator.trainable_variables),
                "d_tv": _positions(trainable, self.discriminator.trainable_variables),
                "g_nt": _positions(non_trainable, self.generator.non_trainable_variables),
                "d_nt": _positions(non_trainable, self.discriminator.non_trainable_variables),
                "seed": _positions(non_trainable, [self.seed_generator.state])[0],
                "game": dict(zip(self._game_variables,
                                 _positions(non_trainable, list(self._game_variables.values())))),
            }
            owned = len(layout["g_nt"]) + len(layout["d_nt"]) + 1 + len(layout["game"])
            if len(layout["g_tv"]) + len(layout["d_tv"]) != len(trainable) or owned != len(non_trainable):
                raise ValueError(f"{type(self).__name__} has variables outside its generator, discriminator "
                                 "and seed generator; the JAX train step cannot thread them.")
            object.__setattr__(self, "_jax_layout_cache", layout)
        return layout

    # Keras' JAX trainer threads `model.optimizer.variables` through every compiled call (read
    # before, written back after); a GAN has two optimizers, so `optimizer` names both.
    @property
    def optimizer(self):
        """Both players' optimizers as one, for Keras' JAX trainer (None until `compile`)."""
        if getattr(self, "d_optimizer", None) is None or getattr(self, "g_optimizer", None) is None:
            return None
        return TwoOptimizers(self.d_optimizer, self.g_optimizer)

    @optimizer.setter
    def optimizer(self, value):
        if value is not None:  # keras.Model.compile sets None (GANBase.compile passes optimizer=None)
            raise ValueError(f"{type(self).__name__} has two optimizers: set d_optimizer and g_optimizer.")


class TwoOptimizers:
    """`model.optimizer` of a GAN on JAX: the variables of D's optimizer, then G's (the order
    `_State` splits them in). Keras' learning-rate callbacks find both in `optimizers`."""

    built = True

    def __init__(self, d_optimizer, g_optimizer):
        self.optimizers = [d_optimizer, g_optimizer]

    @property
    def variables(self):
        return [v for optimizer in self.optimizers for v in optimizer.variables]
