"""The train step on the TensorFlow backend: one `tf.GradientTape` per player, `tf.distribute`.

The losses, packing and noise are `ganzoo.models.game` (shared with the JAX step); this module
only calls the networks, takes and applies the gradients, and scales losses for replicas and
float16 loss scaling.
"""

import keras
import tensorflow as tf
from keras import ops

from ganzoo.models.trackers import tracker_update

LossScaleOptimizer = keras.optimizers.LossScaleOptimizer


class TapeNetwork:
    """The discriminator as `game` sees it: d(x) in training mode, and d sum(d(x)) / dx."""

    def __init__(self, forward):
        self.forward = forward

    def __call__(self, x):
        return self.forward(x)

    def input_gradients(self, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            # Summing makes d(sum)/dx[i] = d f(x[i]) / d x[i] for a per-example critic.
            total = tf.reduce_sum(tf.cast(self.forward(x), tf.float32))
        return tape.gradient(total, x)

    @staticmethod
    def cond(pred, fn):
        """fn() where `pred`, else 0.0 (the lazy R1 term); fn runs, and D's state moves, only then."""
        return tf.cond(pred, fn, lambda: tf.zeros((), tf.float32))


def _replica_context():
    ctx = tf.distribute.get_replica_context()
    return ctx, (ctx.num_replicas_in_sync if ctx is not None else 1)


class TensorFlowStep:
    """`train_step` with `tf.GradientTape` (a mixin of `GANBase`)."""

    def _strategy_scope(self):
        return self.distribute_strategy.scope()

    def _num_replicas(self):
        return self.distribute_strategy.num_replicas_in_sync

    # The one place each network is called in training. A conditional model's fake batch is drawn
    # for the real batch's labels (it keeps the class balance of the data; Mirza & Osindero 2014
    # feed y to both players, Miyato & Koyama 2018 score (x, y) pairs), so D compares real and
    # fake samples of the same classes.
    def _g_forward(self, z, labels=None):
        return ops.cast(self.generator(self._conditioned(z, labels), training=True), "float32")

    def _d_forward(self, x, labels=None):
        return self.discriminator(self._conditioned(x, labels), training=True)

    def _critic(self, labels):
        """D as `game` sees it, x -> scores, with this batch's labels held fixed (so the WGAN-GP
        penalty differentiates with respect to x alone)."""
        return TapeNetwork(lambda x: self._d_forward(x, labels))

    def _replica_noise(self, batch_size, draw=None):
        """`discriminator_noise` (or `draw`) for this replica's batch.

        Under tf.distribute every replica draws for the *global* batch from the same seed
        state and keeps its own slice, so replicas never share noise and the step equals the
        single-device step on the same global batch.
        """
        draw = draw or self.discriminator_noise
        ctx, replicas = _replica_context()
        if replicas == 1:
            return draw(batch_size)
        noise = draw(batch_size * replicas)
        start = ctx.replica_id_in_sync_group

        def own_slice(v):  # the batch size can be dynamic (multi-worker): tf.shape, not .shape
            size = tf.shape(v)[0] // replicas
            return v[start * size: (start + 1) * size]

        return {k: own_slice(v) for k, v in noise.items()}

    def _replica_latent(self, batch_size):
        ctx, replicas = _replica_context()
        if replicas == 1:
            return self._latent(batch_size)
        start = ctx.replica_id_in_sync_group * batch_size
        return self._latent(batch_size * replicas)[start: start + batch_size]

    def _replica_sum(self, x):
        ctx, replicas = _replica_context()
        return x if replicas == 1 else ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)

    def _assign_game_state(self, state):
        for name, value in state.items():
            self._game_variables[name].assign(value)

    def _record(self, logs):
        for key, value in logs.items():
            args, kwargs = tracker_update(value)
            self._trackers[key].update_state(*args, **kwargs)

    @staticmethod
    def _scaled(loss, optimizer):
        """The loss to differentiate: divided by the replica count, then loss-scaled for float16."""
        _, replicas = _replica_context()
        if replicas > 1:
            loss = loss / replicas
        if isinstance(optimizer, LossScaleOptimizer):
            loss = optimizer.scale_loss(loss)
        return loss

    @staticmethod
    def _update(tape, loss_for_grad, network, optimizer, watched=()):
        """Apply d loss / d network's weights; returns d loss / d each of `watched` (tensors the
        tape recorded), taken in the same backward pass."""
        variables = network.trainable_variables
        grads = tape.gradient(loss_for_grad, list(variables) + list(watched))
        grads, watched_grads = grads[:len(variables)], grads[len(variables):]
        # Embedding (label) gradients come as tf.IndexedSlices with one slice per example, so a
        # class appears many times; Keras' TensorFlow optimizers update such slices one by one
        # (Adam's second moment then sums g_i^2 instead of squaring the summed gradient). Dense
        # gradients sum the duplicates first, as the JAX step does; the tables are small.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        return watched_grads

    def _discriminator_step(self, real, labels):
        """One discriminator (critic) update on `real` and a fresh fake batch; returns the fake
        and its z."""
        noise = self._replica_noise(ops.shape(real)[0])
        fake = self._g_forward(noise["z"], labels)
        with tf.GradientTape() as tape:
            loss, logs, state = self.discriminator_objective(self._critic(labels), real, fake, noise,
                                                             self.game_state())
            loss_for_grad = self._scaled(loss, self.d_optimizer)
        self._update(tape, loss_for_grad, self.discriminator, self.d_optimizer)
        self._assign_game_state(state)
        self._record(logs)
        return fake, noise["z"]

    def train_step(self, data):
        """One iteration of Algorithm 1: k discriminator (critic) steps, then one generator step."""
        # `fit` checked the data once: float samples, k real batches per step when k > 1.
        real, labels = self._real_batch(data)  # labels: None, or int32 (batch,) / (batch, k)
        # Every op of the step waits for the batch. Keras' TensorFlow trainer ends an epoch of
        # unknown length (a Python iterator, a filtered tf.data dataset) when the batch fetch
        # inside this step's graph fails; the ops that read no batch (the optimizers' iteration
        # counters, the seed generator's) ran all the same, counting a step that never happened
        # (Keras 3.15; a plain keras.Sequential shows it too).
        with tf.control_dependencies([t for t in (real, labels) if t is not None]):
            return self._iteration(real, labels)

    def _iteration(self, real, labels):
        if self.d_steps == 1:
            with tf.GradientTape() as g_tape:
                # 1. Discriminator step on the real batch and a fake batch G(z), z ~ N(0, I).
                fake, z = self._discriminator_step(real, labels)
                # 2. Generator loss on the same fake batch (recorded on this tape), scored by
                #    the updated D: one G forward per iteration, updates still alternate.
                noise = self._replica_noise(ops.shape(real)[0], self.generator_noise)
                g_loss, g_logs = self.generator_objective(self._critic(labels), fake, z, labels, noise,
                                                          self.game_state())
                g_loss_for_grad = self._scaled(g_loss, self.g_optimizer)
        else:
            # 1. k discriminator steps, step i on real batch i (unrolled: no control flow, so it
            #    runs under tf.distribute and XLA alike).
            for i in range(self.d_steps):
                self._discriminator_step(real[:, i], self._labels_of_step(labels, i))
            g_labels = self._labels_of_step(labels, -1)  # the last critic batch's classes
            with tf.GradientTape() as g_tape:
                # 2. Generator loss on a fresh z ~ N(0, I).
                z = self._replica_latent(ops.shape(real)[0])
                fake = self._g_forward(z, g_labels)
                noise = self._replica_noise(ops.shape(real)[0], self.generator_noise)
                g_loss, g_logs = self.generator_objective(self._critic(g_labels), fake, z, g_labels, noise,
                                                          self.game_state())
                g_loss_for_grad = self._scaled(g_loss, self.g_optimizer)
        # 3. Update G by the gradient of its loss; the same backward pass gives the loss's
        #    gradient at the fakes (`g_grad_norm`).
        (fake_grads,) = self._update(g_tape, g_loss_for_grad, self.generator, self.g_optimizer, watched=[fake])
        self._trackers["g_loss"].update_state(g_loss)
        self._record(g_logs)
        for key, value in self.generator_signals(fake_grads, self._scaled(ops.ones(()), self.g_optimizer)).items():
            self._trackers[key].update_state(value)
        return self._step_results()

    def _step_results(self):
        results = {name: m.result() for name, m in self._trackers.items()}
        self._nonfinite.update_state(list(results.values()))
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces multi-worker step outputs with reduce(MEAN, axis=0), which fails on
            # scalars; a length-1 vector reduces to the same scalar.
            results = {k: ops.reshape(v, (1,)) for k, v in results.items()}
        return results
