"""GANBase: what GAN, DCGAN and WGANGP share.

A GAN is a two-player game, so the model owns two networks and two optimizers and writes
its own `train_step`; everything else (`fit`, callbacks, `steps_per_execution`, XLA,
`tf.distribute`) is Keras' own machinery.

One `train_step` is one iteration of Algorithm 1 of Goodfellow et al. 2014 (and of
Gulrajani et al. 2017): k = `d_steps` discriminator (critic) updates, each on its own real
batch, then one generator update. With k > 1, `fit` groups k consecutive batches of the
dataset per step, so steps and epochs count generator updates and an epoch of N batches
makes N // k of them. With k = 1 the generator step reuses the discriminator step's fake
batch (one generator forward per iteration, as the PyTorch DCGAN example), taken after the
discriminator update, so the updates still alternate.
"""

import numpy as np
import keras
import tensorflow as tf
from keras import ops


LossScaleOptimizer = keras.optimizers.LossScaleOptimizer


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


def _warm_up_ema(optimizer):
    """Make `optimizer`'s EMA (Keras' `use_ema`) ramp its decay up from 0.

    Keras updates average = m * average + (1 - m) * w with m = ema_momentum from the second
    step on, so the first weights keep a share of m^t. Here m_t = min(ema_momentum,
    (1 + t) / (10 + t)) at step t (0 at t = 0), as TensorFlow's ExponentialMovingAverage with
    `num_updates`: the average spans about the last 10% of the steps until it reaches its decay.
    The average stays in the optimizer's own variables, so checkpoints and tf.distribute keep
    working unchanged.
    """
    decay = float(optimizer.ema_momentum)

    def update_moving_average(trainable_variables):
        step = ops.cast(optimizer.iterations, "float32")
        momentum = ops.minimum(decay, (1.0 + step) / (10.0 + step))
        momentum = momentum * ops.cast(ops.not_equal(optimizer.iterations, 0), "float32")
        for var, average in zip(trainable_variables, optimizer._model_variables_moving_average):
            if average is not None:
                m = ops.cast(momentum, var.dtype)
                average.assign(m * average + (1.0 - m) * var)

    optimizer._update_model_variables_moving_average = update_moving_average


def _inner(optimizer):
    return optimizer.inner_optimizer if isinstance(optimizer, LossScaleOptimizer) else optimizer


def _use_ema(g_optimizer, ema_decay, ema_warmup):
    """Turn on Keras' EMA of the generator's weights (`ema_decay`), warmed up unless told not to."""
    inner = _inner(g_optimizer)
    if ema_decay is not None:
        if not 0.0 < float(ema_decay) < 1.0:
            raise ValueError(f"`ema_decay` must be in (0, 1), e.g. 0.999; got {ema_decay!r}.")
        inner.use_ema = True
        inner.ema_momentum = float(ema_decay)
        inner.ema_overwrite_frequency = None
    if ema_warmup and getattr(inner, "use_ema", False):
        _warm_up_ema(inner)


def _loss_scaled(optimizer, name):
    return optimizer if isinstance(optimizer, LossScaleOptimizer) else LossScaleOptimizer(optimizer, name=name)


def packed_shape(data_shape, pack):
    """The discriminator's input shape when it judges `pack` samples of `data_shape` at once:
    (pack * d,) for vectors, (H, W, pack * C) for images."""
    data_shape = tuple(data_shape)
    return data_shape[:-1] + (data_shape[-1] * pack,)


@keras.saving.register_keras_serializable(package="ganzoo")
class GANBase(keras.Model):
    """Base class of the ganzoo models; see `GAN`, `DCGAN` and `WGANGP`.

    Args:
        generator: a Keras model mapping z of shape (batch, latent_dim) to samples of shape
            (batch, *data_shape), or None for the class's default network.
        discriminator: a Keras model mapping samples to one score (a logit, or the critic's
            value for WGAN-GP) per example, shape (batch, 1) or (batch,), or None for the default.
        latent_dim: size of z ~ N(0, I). None: 2 for vector data (both 2-D toy papers draw
            2-D noise), else the class's default for images.
        data_shape: shape of one sample, e.g. (28, 28, 1) or (2,). Needed when a default
            network is built; inferred from `generator` otherwise.
        seed: seed of the model's `keras.random.SeedGenerator`; None takes one from Python's
            `random`, which `keras.utils.set_random_seed` seeds.
        width: size of the default networks: units of each MLP hidden layer, or channels of
            the conv layer at the highest resolution (doubling towards the lowest). None takes
            the class's default.
        pack: m, PacGAN packing (Lin et al. 2018): the discriminator judges m samples at once,
            joined along the last axis (features of vectors, channels of images), so it sees
            the diversity of a set and can penalize a generator that drops modes. Real and
            fake packs are formed from consecutive examples of the batch, so the batch size
            must be a multiple of m. A user discriminator must take inputs of
            `packed_shape(data_shape, m)`: (m * d,) for vectors, (H, W, m * C) for images.
            The generator, sampling and exports are unchanged.
    """

    default_latent_dim = 100
    #: The 2-D toy code of both PacGAN/VEEGAN and the WGAN-GP authors draws z of size 2.
    vector_latent_dim = 2
    #: Discriminator steps per generator step when the constructor is not told.
    default_d_steps = 1
    #: TrainConfig fields this model takes -> the constructor keyword that receives each.
    config_keywords = {"d_steps": "d_steps"}

    def __init__(
        self,
        generator=None,
        discriminator=None,
        latent_dim=None,
        data_shape=None,
        seed=None,
        d_steps=1,
        width=None,
        pack=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if width is not None:
            width = _positive_int(width, "width")
        self.width = width
        self.pack = _positive_int(pack, "pack")
        data_shape = _as_shape(data_shape, "data_shape")
        if latent_dim is None:
            vector_data = data_shape is not None and len(data_shape) == 1
            latent_dim = self.vector_latent_dim if vector_data else self.default_latent_dim
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.d_steps = _positive_int(d_steps, self.d_steps_keyword)
        if (generator is None or discriminator is None) and data_shape is None:
            if generator is None:
                raise ValueError(
                    f"{type(self).__name__} needs `data_shape` (e.g. data_shape=(28, 28, 1)) to build its "
                    "default generator, or pass your own `generator=`."
                )
            data_shape = self._generator_output_shape(generator)
        if generator is None:
            generator = self.build_generator(self.latent_dim, data_shape)
        if data_shape is None:
            data_shape = self._generator_output_shape(generator)
        if discriminator is None:
            discriminator = self.build_discriminator(packed_shape(data_shape, self.pack))
        self.generator = generator
        self.discriminator = discriminator
        self.data_shape = data_shape
        self.seed = seed
        self._check_networks()
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise")
        self.d_optimizer = None
        self.g_optimizer = None
        self._ema_generator = None
        self._trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names}
        # Both networks were called above, so every weight exists: the model is built (and
        # Keras must not trace `call` on a data batch to build it).
        self.built = True

    #: The metrics a step logs. `discriminator_loss` returns (loss, extra): `extra` must hold
    #: exactly the names here beyond the four every model logs (checked when a step is traced).
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    # ------------------------------------------------------------ configuration
    @classmethod
    def config_kwargs(cls, config):
        """Constructor keywords for a `ganzoo.TrainConfig` (fields left None keep the model's default)."""
        kwargs = dict(latent_dim=config.latent_dim, width=config.width, seed=config.seed, pack=config.pack or 1)
        for field, keyword in cls.config_keywords.items():
            if getattr(config, field) is not None:
                kwargs[keyword] = getattr(config, field)
        return kwargs

    @classmethod
    def check_config(cls, config):
        """Raise `ganzoo.config.ConfigError` for a config field this model does not take."""

    @property
    def d_steps_keyword(self):
        """The constructor keyword of `d_steps` (WGAN-GP: `n_critic`), for error messages."""
        return self.config_keywords["d_steps"]

    # ----------------------------------------------------------------- networks
    def build_generator(self, latent_dim, data_shape):
        """The default generator for `data_shape`."""
        raise NotImplementedError

    def build_discriminator(self, data_shape):
        """The default discriminator (critic) for `data_shape`."""
        raise NotImplementedError

    def _generator_output_shape(self, generator):
        z = np.zeros((2, self.latent_dim), "float32")
        try:
            out = generator(z, training=False)
        except Exception as e:
            raise ValueError(
                f"The generator could not be called on z of shape (batch, {self.latent_dim}): {e}. "
                "Check `latent_dim` against the generator's input."
            ) from e
        return tuple(int(s) for s in out.shape[1:])

    def _check_networks(self):
        """Call both networks once on a tiny batch: builds them and checks that they fit."""
        name = type(self).__name__
        z = np.zeros((2 * self.pack, self.latent_dim), "float32")
        try:
            fake = self.generator(z, training=False)
        except Exception as e:
            raise ValueError(
                f"{name}: the generator could not be called on z of shape {tuple(z.shape)}: {e}"
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
            scores = self.discriminator(packed, training=False)
        except Exception as e:
            packing = f" (pack={self.pack} samples joined along the last axis)" if self.pack > 1 else ""
            raise ValueError(
                f"{name}: the discriminator cannot take inputs of shape {tuple(packed.shape)}: {e}. "
                f"The discriminator's input must be {expected}{packing}."
            ) from e
        if tuple(scores.shape) not in ((2, 1), (2,)):
            raise ValueError(
                f"{name}: the discriminator must return one score per example, shape (batch, 1) "
                f"or (batch,); it returned {tuple(scores.shape)}."
            )

    @property
    def vector_data(self):
        """True when samples are vectors (shape (d,)), such as the 2-D toys."""
        return len(self.data_shape) == 1

    # ------------------------------------------------------------------ compile
    def default_optimizers(self):
        """(d_optimizer, g_optimizer) with the paper's settings for this model's data."""
        return (
            keras.optimizers.Adam(2e-4, beta_1=0.5, name="d_adam"),
            keras.optimizers.Adam(2e-4, beta_1=0.5, name="g_adam"),
        )

    def compile(
        self,
        d_optimizer=None,
        g_optimizer=None,
        ema_decay=None,
        jit_compile="auto",
        steps_per_execution=1,
        run_eagerly=False,
        ema_warmup=True,
        **kwargs,
    ):
        """Configure the two players' optimizers.

        Args:
            d_optimizer, g_optimizer: Keras optimizers (instances, names or configs); the
                paper's defaults when omitted.
            ema_decay: keep an exponential moving average of the generator's weights with
                this decay (e.g. 0.999); `generate` and the exports then use it.
            ema_warmup: ramp the average's decay up as min(ema_decay, (1 + t) / (10 + t)) at
                generator step t (the `num_updates` warm-up of TensorFlow's
                ExponentialMovingAverage), so the average forgets the initial weights early
                instead of keeping a weight of ema_decay^t on them (0.5 after 700 steps at
                0.999). False: the fixed decay from the first step (Keras' own EMA).
            jit_compile: True, False or "auto" (XLA where a GPU is present).
            steps_per_execution: train steps per compiled call, as in `keras.Model.compile`.
        """
        name = type(self).__name__
        if "optimizer" in kwargs:
            raise ValueError(
                f"{name} trains two players with two optimizers: call compile(d_optimizer=..., "
                "g_optimizer=...) instead of compile(optimizer=...)."
            )
        if kwargs.get("loss") is not None:
            raise ValueError(f"{name} computes its own losses; do not pass `loss=` to compile().")
        kwargs.pop("loss", None)
        defaults = self.default_optimizers()
        d_optimizer = keras.optimizers.get(d_optimizer) if d_optimizer is not None else defaults[0]
        g_optimizer = keras.optimizers.get(g_optimizer) if g_optimizer is not None else defaults[1]
        if d_optimizer is g_optimizer:
            raise ValueError(f"{name}: d_optimizer and g_optimizer must be two distinct optimizer objects.")
        _use_ema(g_optimizer, ema_decay, ema_warmup)
        # Keras wraps only `model.optimizer` for float16; a GAN's two optimizers are ours to wrap.
        if self.dtype_policy.name == "mixed_float16":
            d_optimizer = _loss_scaled(d_optimizer, "d_loss_scale")
            g_optimizer = _loss_scaled(g_optimizer, "g_loss_scale")
        super().compile(optimizer=None, jit_compile=jit_compile, steps_per_execution=steps_per_execution,
                        run_eagerly=run_eagerly, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self._ema_generator = None
        # Build the slots now, inside the strategy scope, so that `load_model` can restore them
        # and `tf.distribute` mirrors them.
        with self.distribute_strategy.scope():
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.g_optimizer.build(self.generator.trainable_variables)
        self._compile_args = dict(ema_decay=ema_decay, ema_warmup=bool(ema_warmup), jit_compile=jit_compile,
                                  steps_per_execution=steps_per_execution, run_eagerly=run_eagerly)

    def get_compile_config(self):
        if self.d_optimizer is None:
            return None
        return {
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            **self._compile_args,
        }

    def compile_from_config(self, config):
        config = dict(config)
        d_opt = keras.optimizers.deserialize(config.pop("d_optimizer"))
        g_opt = keras.optimizers.deserialize(config.pop("g_optimizer"))
        config.pop("ema_decay", None)  # the deserialized g_optimizer already has use_ema
        self.compile(d_optimizer=d_opt, g_optimizer=g_opt, **config)

    # ------------------------------------------------------------ serialization
    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            latent_dim=self.latent_dim,
            data_shape=list(self.data_shape),
            seed=self.seed,
            d_steps=self.d_steps,
            width=self.width,
            pack=self.pack,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def save_own_variables(self, store):
        # `.keras` files do not hold SeedGenerator state; keep it so a reloaded model draws
        # the same noise stream as the one that was saved.
        super().save_own_variables(store)
        store["noise_seed_state"] = np.asarray(self.seed_generator.state.numpy())

    def load_own_variables(self, store):
        if "noise_seed_state" in store:
            self.seed_generator.state.assign(np.asarray(store["noise_seed_state"]))
        own = {k: store[k] for k in store.keys() if k != "noise_seed_state"}
        super().load_own_variables(own)

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        return list(self._trackers.values())

    @staticmethod
    def _strip_labels(data):
        if isinstance(data, (tuple, list)):
            if not data:
                raise ValueError("Got an empty batch; the dataset must yield samples or (samples, labels).")
            data = data[0]
        return data

    def _check_real_spec(self, spec):
        """Check a dataset's `element_spec` once, in `fit`: float samples (or (samples, labels))
        of (batch, *data_shape), or with d_steps = k > 1 (batch, k, *data_shape), one real batch
        per discriminator step."""
        name = type(self).__name__
        spec = self._strip_labels(spec)
        if isinstance(spec, dict):
            raise ValueError(
                f"{name}.fit expects a dataset of samples or (samples, labels) tuples; got a dict "
                f"with keys {sorted(spec)}. Map it first, e.g. ds.map(lambda d: d['image'])."
            )
        dtype = tf.as_dtype(spec.dtype)
        if not dtype.is_floating:
            raise ValueError(
                f"{name}.fit expects float samples scaled to [-1, 1]; got dtype {dtype.name}. "
                "Scale images with x / 127.5 - 1 (ganzoo.load_dataset does this)."
            )
        if spec.shape.rank is None:
            return
        expected = (None,) + ((self.d_steps,) if self.d_steps > 1 else ()) + tuple(self.data_shape)
        shape = tuple(spec.shape)
        if len(shape) != len(expected) or any(
            s is not None and e is not None and s != e for s, e in zip(shape, expected)
        ):
            if self.d_steps > 1 and len(shape) == len(self.data_shape) + 1:
                raise ValueError(
                    f"{name} takes {self.d_steps} real batches per generator step ({self.d_steps_keyword}="
                    f"{self.d_steps}): train_step needs data of shape (batch, {self.d_steps}, "
                    f"*{tuple(self.data_shape)}); model.fit groups a dataset's batches this way itself."
                )
            got = shape[2:] if self.d_steps > 1 and len(shape) == len(expected) else shape[1:]
            raise ValueError(
                f"{name} was built for samples of shape {tuple(self.data_shape)}; the dataset yields "
                f"batches of shape {shape} (samples of shape {got}). Resize the data (load_dataset("
                f"..., image_size=...)) or build the model with data_shape={got}."
            )
        replicas = self.distribute_strategy.num_replicas_in_sync
        batch = shape[0] // replicas if shape[0] is not None and shape[0] % replicas == 0 else shape[0]
        if self.pack > 1 and batch is not None and batch % self.pack:
            raise ValueError(
                f"{name} packs {self.pack} samples per discriminator input (pack={self.pack}), so the "
                f"batch size must be a multiple of {self.pack} (per replica under tf.distribute); got "
                f"batches of {batch}. Use a batch size such as {max(1, batch // self.pack) * self.pack}."
            )

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

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.fit`; with d_steps = k > 1 one step is one generator update.

        Each generator update takes k consecutive batches of `x`, one per discriminator
        step, so `steps_per_epoch` and `epochs` count generator updates and a dataset of N
        batches gives N // k of them. Labels, if any, are ignored.
        """
        if self.d_steps > 1 and x is not None:
            x = self._group_batches(x, batch_size)
            batch_size = None
        if isinstance(x, tf.data.Dataset):
            self._check_real_spec(x.element_spec)
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself; Keras warns otherwise
        elif isinstance(x, (np.ndarray, tf.Tensor, tuple, list, dict)):
            samples = self._strip_labels(x)
            if not isinstance(samples, dict):
                samples = tf.TensorSpec((batch_size or 32,) + tuple(samples.shape[1:]), samples.dtype)
            self._check_real_spec(samples)
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    def _group_batches(self, x, batch_size):
        k = self.d_steps
        if not isinstance(x, tf.data.Dataset):
            x = self._strip_labels(x)
            x = tf.data.Dataset.from_tensor_slices(x).batch(batch_size or 32, drop_remainder=True)
        elif batch_size is not None:
            raise ValueError("Do not pass `batch_size` with a tf.data.Dataset: batch the dataset itself.")
        batches = int(x.cardinality())
        if 0 <= batches < k:
            raise ValueError(
                f"{type(self).__name__} needs {k} batches per generator step ({self.d_steps_keyword}={k}) "
                f"but the dataset has only {batches}: use a smaller batch size or repeat the dataset."
            )
        x = x.map(lambda *d: self._strip_labels(d), num_parallel_calls=tf.data.AUTOTUNE)
        rank = x.element_spec.shape.rank
        if rank is None or rank != len(self.data_shape) + 1:
            return x  # train_step reports the mismatch with the expected shapes
        perm = [1, 0] + list(range(2, rank + 1))
        # (k, batch, ...) -> (batch, k, ...): tf.distribute splits the batch axis over replicas.
        return x.batch(k, drop_remainder=True).map(
            lambda b: tf.transpose(b, perm), num_parallel_calls=tf.data.AUTOTUNE
        ).prefetch(tf.data.AUTOTUNE)

    def _replica_draw(self, draw, batch_size):
        """`draw(n)` for this replica's batch, from the model's seed generator.

        Under tf.distribute every replica draws for the *global* batch from the same seed
        state and keeps its own slice, so replicas never share noise and the step equals the
        single-device step on the same global batch.
        """
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        if replicas == 1:
            return draw(batch_size)
        start = ctx.replica_id_in_sync_group * batch_size
        return draw(batch_size * replicas)[start : start + batch_size]

    def _latent(self, batch_size):
        """z ~ N(0, I), one row per example of this replica's batch."""
        return self._replica_draw(
            lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator), batch_size)

    def _uniform(self, batch_size):
        """U[0, 1), one number per example of this replica's batch."""
        return self._replica_draw(lambda n: keras.random.uniform((n,), seed=self.seed_generator), batch_size)

    @staticmethod
    def _scaled(loss, optimizer):
        """The loss to differentiate: divided by the replica count, then loss-scaled for float16."""
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        if replicas > 1:
            loss = loss / replicas
        if isinstance(optimizer, LossScaleOptimizer):
            loss = optimizer.scale_loss(loss)
        return loss

    def score_summary(self, scores):
        """The `d_real` / `d_fake` of a batch of discriminator scores: mean D(x), a probability."""
        return ops.mean(ops.sigmoid(ops.cast(scores, "float32")))

    def discriminator_loss(self, real, fake, real_scores, fake_scores):
        """(loss, extra metrics) of one discriminator step; subclasses define the loss.

        `real` and `fake` are the discriminator's inputs: packs of `pack` samples when packing.
        """
        raise NotImplementedError

    def generator_loss(self, fake_scores):
        raise NotImplementedError

    def _update(self, tape, loss_for_grad, network, optimizer):
        grads = tape.gradient(loss_for_grad, network.trainable_variables)
        optimizer.apply_gradients(zip(grads, network.trainable_variables))

    def _discriminator_step(self, real):
        """One discriminator (critic) update on `real` and a fresh fake batch; returns the fake."""
        G, D = self.generator, self.discriminator
        fake = ops.cast(G(self._latent(ops.shape(real)[0]), training=True), "float32")
        real_packs, fake_packs = self._pack(real), self._pack(fake)
        with tf.GradientTape() as tape:
            real_scores = D(real_packs, training=True)
            fake_scores = D(fake_packs, training=True)
            loss, extra = self.discriminator_loss(real_packs, fake_packs, real_scores, fake_scores)
            loss_for_grad = self._scaled(loss, self.d_optimizer)
        self._update(tape, loss_for_grad, D, self.d_optimizer)
        self._check_extra_metrics(extra)
        self._trackers["d_loss"].update_state(loss)
        self._trackers["d_real"].update_state(self.score_summary(real_scores))
        self._trackers["d_fake"].update_state(self.score_summary(fake_scores))
        for key, value in extra.items():
            self._trackers[key].update_state(value)
        return fake

    def _check_extra_metrics(self, extra):
        """The contract of `metric_names`: the extra metrics `discriminator_loss` returns are
        exactly the names it declares beyond GANBase's four (a Python check, run while tracing)."""
        declared = [m for m in self.metric_names if m not in GANBase.metric_names]
        missing, unknown = sorted(set(declared) - set(extra)), sorted(set(extra) - set(declared))
        if missing or unknown:
            raise ValueError(
                f"{type(self).__name__}.discriminator_loss must return the extra metrics that metric_names "
                f"declares ({', '.join(declared) or 'none'}): "
                + "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                          unknown and f"unknown {', '.join(unknown)} (add them to metric_names)"]))
                + "."
            )

    def _generator_loss_on(self, fake):
        """The generator's loss on the fake batch `fake` against the current D."""
        return self.generator_loss(self.discriminator(self._pack(fake), training=True))

    def train_step(self, data):
        """One iteration of Algorithm 1: k discriminator (critic) steps, then one generator step."""
        # `fit` checked the dataset's element_spec once: float samples, k real batches per step.
        real = ops.cast(self._strip_labels(data), "float32")
        G = self.generator
        if self.d_steps == 1:
            with tf.GradientTape() as g_tape:
                # 1. Discriminator step on the real batch and a fake batch G(z), z ~ N(0, I).
                fake = self._discriminator_step(real)
                # 2. Generator step on the same fake batch (recorded on this tape), scored by
                #    the updated D: one G forward per iteration, updates still alternate.
                g_loss = self._generator_loss_on(fake)
                g_loss_for_grad = self._scaled(g_loss, self.g_optimizer)
        else:
            # 1. k discriminator steps, step i on real batch i (unrolled: no control flow, so it
            #    runs under tf.distribute and XLA alike).
            for i in range(self.d_steps):
                self._discriminator_step(real[:, i])
            with tf.GradientTape() as g_tape:
                # 2. Generator step on a fresh z ~ N(0, I).
                fake = ops.cast(G(self._latent(ops.shape(real)[0]), training=True), "float32")
                g_loss = self._generator_loss_on(fake)
                g_loss_for_grad = self._scaled(g_loss, self.g_optimizer)
        # 3. Update G by the gradient of its loss.
        self._update(g_tape, g_loss_for_grad, G, self.g_optimizer)
        self._trackers["g_loss"].update_state(g_loss)
        return self._step_results()

    def _step_results(self):
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces multi-worker step outputs with reduce(MEAN, axis=0), which fails on
            # scalars; a length-1 vector reduces to the same scalar.
            results = {k: ops.reshape(v, (1,)) for k, v in results.items()}
        return results

    def call(self, z, training=False):
        """G(z): the model maps latent vectors to samples."""
        return self.generator(z, training=training)

    # --------------------------------------------------------------- sampling
    @property
    def ema_generator(self):
        """A copy of the generator holding the EMA weights, or None when EMA is off."""
        if self.g_optimizer is None:
            return None
        inner = _inner(self.g_optimizer)
        if not getattr(inner, "use_ema", False):
            return None
        if self._ema_generator is None:
            clone = keras.models.clone_model(self.generator)
            clone(np.zeros((1, self.latent_dim), "float32"), training=False)
            object.__setattr__(self, "_ema_generator", clone)  # untracked: not saved twice
        clone = self._ema_generator
        averages = inner._model_variables_moving_average
        for target, average in zip(clone.trainable_variables, averages):
            target.assign(average)
        for target, live in zip(clone.non_trainable_variables, self.generator.non_trainable_variables):
            target.assign(live)
        return clone

    def sampling_generator(self):
        """The network used for sampling and export: the EMA generator when on, else G."""
        return self.ema_generator or self.generator

    def generate(self, n_or_z, seed=None, batch_size=256):
        """Samples G(z) as a float32 numpy array in the data's range ([-1, 1] for images).

        Args:
            n_or_z: a number of samples, or an array of latent vectors (n, latent_dim).
            seed: int seed of numpy's `default_rng` for z when `n_or_z` is a number (same
                seed, same samples, as `ganzoo.load_exported(...).generate`); None draws fresh noise.
            batch_size: generator batch size.
        """
        if isinstance(n_or_z, (int, np.integer)) and not isinstance(n_or_z, bool):
            n = _positive_int(n_or_z, "n")
            # numpy's generator, as the exports' `generate`: the same seed gives the same
            # samples from a model, its SavedModel and its ONNX file, with or without XLA.
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        else:
            z = np.asarray(n_or_z, dtype="float32")
            if z.ndim != 2 or z.shape[1] != self.latent_dim:
                raise ValueError(
                    f"generate() takes a number of samples or z of shape (n, {self.latent_dim}); "
                    f"got an array of shape {z.shape}."
                )
        net = self.sampling_generator()
        if not len(z):  # no rows, no samples (as ExportedGenerator.generate)
            return np.zeros((0,) + tuple(self.data_shape), "float32")
        out = [
            ops.convert_to_numpy(ops.cast(net(z[i : i + batch_size], training=False), "float32"))
            for i in range(0, int(z.shape[0]), batch_size)
        ]
        return np.concatenate(out, axis=0)
