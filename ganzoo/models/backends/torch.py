"""The train step on the PyTorch backend: eager autograd, one `torch.autograd.grad` per player.

Keras' torch variables hold `torch.nn.Parameter`s, so the step is the TensorFlow step's shape
with `torch.autograd.grad` for the tapes: each player's gradient is taken for its own weights
only (nothing accumulates in `.grad`) and applied with `optimizer.apply` under
`torch.no_grad()`. The losses, packing and noise are `ganzoo.models.game`, shared with the
other backends; the WGAN-GP penalty's input gradient is `ganzoo.losses.input_gradients`, taken
with `create_graph=True` so the critic's gradient flows through it (double backprop).

One device, no `tf.distribute`. Keras' torch trainer runs one step per call; this one runs the
`steps_per_execution` batches Keras hands it one after another, so callbacks see every N-th
step as on the other backends. `jit_compile=True` compiles the step with `torch.compile`
(slow to compile, not faster: see the warning below); "auto" is eager on torch, as in Keras.
"""

import contextlib
import warnings

import keras
import torch

from ganzoo.losses import input_gradients
from ganzoo.models.trackers import tracker_update

LossScaleOptimizer = keras.optimizers.LossScaleOptimizer


class AutogradNetwork:
    """The discriminator as `game` sees it: d(x) in training mode, and d sum(d(x)) / dx."""

    def __init__(self, forward):
        self.forward = forward

    def __call__(self, x):
        return self.forward(x)

    def input_gradients(self, x):
        return input_gradients(lambda x, training: self.forward(x), x)

    @staticmethod
    def cond(pred, fn):
        """fn() where `pred`, else 0.0 (the lazy R1 term): eager, so a plain branch."""
        return fn() if bool(pred) else torch.zeros((), dtype=torch.float32)


class TorchStep:
    """`train_step` with `torch.autograd` (a mixin of `GANBase`)."""

    def _strategy_scope(self):
        return contextlib.nullcontext()

    def _num_replicas(self):
        return 1

    # The one place each network is called in training. A conditional model's fake batch is drawn
    # for the real batch's labels (as the TensorFlow step; see there).
    def _g_forward(self, z, labels=None):
        return keras.ops.cast(self.generator(self._conditioned(z, labels), training=True), "float32")

    def _d_forward(self, x, labels=None):
        return self.discriminator(self._conditioned(x, labels), training=True)

    def _critic(self, labels):
        """D as `game` sees it, x -> scores, with this batch's labels held fixed."""
        return AutogradNetwork(lambda x: self._d_forward(x, labels))

    @staticmethod
    def _update(loss, network, optimizer, watched=()):
        """Apply d loss / d network's weights (float16: the loss scaled, the optimizer unscales);
        returns d loss / d each of `watched` (tensors of the loss's graph) from the same backward
        pass, scaled as the loss was, and that scale."""
        scale = 1.0
        if isinstance(optimizer, LossScaleOptimizer):
            loss, scale = optimizer.scale_loss(loss), optimizer.scale_loss(1.0)
        variables = network.trainable_variables
        # Label embeddings get dense gradients on torch (summed over a class's examples), as on JAX.
        grads = torch.autograd.grad(loss, [v.value for v in variables] + list(watched), allow_unused=True)
        grads, watched_grads = grads[:len(variables)], grads[len(variables):]
        with torch.no_grad():
            optimizer.apply(list(grads), variables)
        return watched_grads, scale

    def _record(self, logs):
        for key, value in logs.items():
            args, kwargs = tracker_update(value)
            self._trackers[key].update_state(*(a.detach() for a in args), **kwargs)

    def _discriminator_step(self, real, labels, keep_fake_graph=False):
        """One discriminator (critic) update on `real` and a fresh fake batch; returns the fake
        (with its graph through G when `keep_fake_graph`, for the generator step to reuse) and
        its z."""
        noise = self.discriminator_noise(real.shape[0])
        with torch.set_grad_enabled(keep_fake_graph):
            fake = self._g_forward(noise["z"], labels)
        # D's gradient does not need G's graph; keeping it out leaves that graph for G's step.
        loss, logs, state = self.discriminator_objective(self._critic(labels), real, fake.detach(), noise,
                                                         self.game_state())
        self._update(loss, self.discriminator, self.d_optimizer)
        with torch.no_grad():
            for name, value in state.items():
                self._game_variables[name].assign(value.detach())
        self._record(logs)
        return fake, noise["z"]

    def train_step(self, data):
        """One iteration of Algorithm 1: k discriminator (critic) steps, then one generator step."""
        # `fit` checked the data once: float samples, k real batches per step when k > 1.
        real, labels = self._real_batch(data)  # labels: None, or int32 (batch,) / (batch, k)
        if self.d_steps == 1:
            # 1. Discriminator step on the real batch and a fake batch G(z), z ~ N(0, I).
            fake, z = self._discriminator_step(real, labels, keep_fake_graph=True)
            g_labels = labels
            # 2. The generator's loss on the same fake batch (its graph through G kept), scored
            #    by the updated D: one G forward per iteration, updates still alternate.
        else:
            # 1. k discriminator steps, step i on real batch i.
            for i in range(self.d_steps):
                self._discriminator_step(real[:, i], self._labels_of_step(labels, i))
            g_labels = self._labels_of_step(labels, -1)  # the last critic batch's classes
            # 2. The generator's loss on a fresh z ~ N(0, I).
            z = self._latent(real.shape[0])
            fake = self._g_forward(z, g_labels)
        noise = self.generator_noise(real.shape[0])
        g_loss, g_logs = self.generator_objective(self._critic(g_labels), fake, z, g_labels, noise,
                                                  self.game_state())
        # 3. Update G by the gradient of its loss; the same backward pass gives the loss's
        #    gradient at the fakes (`g_grad_norm`).
        (fake_grads,), loss_scale = self._update(g_loss, self.generator, self.g_optimizer, watched=[fake])
        self._record({"g_loss": g_loss, **g_logs, **self.generator_signals(fake_grads, loss_scale)})
        return self._step_results()

    def _step_results(self):
        results = {name: m.result() for name, m in self._trackers.items()}
        self._nonfinite.update_state(list(results.values()))
        return results

    # ------------------------------------------ Keras' torch trainer, N steps per call
    def make_train_function(self, force=False):
        """Keras' torch trainer takes one batch per call and refuses steps_per_execution > 1;
        run the N batches of a call one after another (torch.compile'd when jit_compile)."""
        if self.train_function is not None and not force:
            return self.train_function
        step = self.train_step
        if self.jit_compile:
            warnings.warn(
                "jit_compile=True on the torch backend compiles the GAN step with torch.compile: on a tiny DCGAN "
                "it took two minutes to compile, hit dynamo's recompile limit on Keras' layers and then ran no "
                "faster than eager (ganzoo README, Backends). jit_compile='auto' or False runs eager.", stacklevel=2)
            step = torch.compile(step)

        def multi_step_on_data(batches):
            logs = None
            for data in batches:
                logs = step(data)
            return logs

        self.train_function = multi_step_on_data
        return self.train_function
