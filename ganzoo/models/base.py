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

import copy

import numpy as np
import keras
from keras import ops

from ganzoo.models.checks import NetworkChecks
from ganzoo.models.fitting import Fitting
from ganzoo.models.game import Game, _as_shape, _positive_int, packed_shape
from ganzoo.models.trackers import FiniteMean, FirstNonFinite
from ganzoo.models.networks import _num_classes

if keras.backend.backend() == "tensorflow":
    from ganzoo.models.backends.tensorflow import TensorFlowStep as BackendStep
elif keras.backend.backend() == "jax":
    from ganzoo.models.backends.jax import JaxStep as BackendStep
elif keras.backend.backend() == "torch":
    from ganzoo.models.backends.torch import TorchStep as BackendStep
else:
    raise ImportError(
        f"ganzoo trains on the tensorflow, jax and torch backends of Keras; this one is "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND to one of them (or `ganzoo train --backend ...`)."
    )

from ganzoo.models.optimizers import _inner, _loss_scaled, _use_ema, fuse_adam
from ganzoo.models.sampling import Sampling, _label_prior

__all__ = ["GANBase", "packed_shape"]

#: TrainConfig fields of the augmentation and regularizer options -> the constructor keyword of each.
REGULARIZER_KEYWORDS = {"augment": "augment", "augment_policy": "augment_policy", "ada_target": "ada_target",
                        "ada_kimg": "ada_kimg", "r1": "r1_gamma", "r1_every": "r1_every", "lecam": "lecam_weight",
                        "top_k": "top_k", "top_k_decay": "top_k_decay", "mode_seeking": "mode_seeking"}


@keras.saving.register_keras_serializable(package="ganzoo")
class GANBase(BackendStep, Game, Fitting, Sampling, NetworkChecks, keras.Model):
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
            The generator, sampling and exports are unchanged. Not with `num_classes`.
        num_classes: K >= 2 makes the model class-conditional: it learns p(x | y) for labels
            y in [0, K) and trains on (samples, labels) batches. The default networks are the
            conditional builders of `ganzoo.models.networks` (G: the label's embedding joined
            to z, Mirza & Osindero 2014; D: the projection form, Miyato & Koyama 2018). User
            networks take two inputs: the generator [z, label] -> samples, the discriminator
            [x, label] -> one score per example, with z float32 (batch, latent_dim), x float32
            (batch, *data_shape) and label int32 (batch,) in [0, K).
        label_prior: K non-negative weights, p(y), for a conditional model whose labels need
            not be asked for: `generate(n)` without labels draws them from it (normalized),
            and the exports carry it. ganzoo sets it to the cluster shares of a model trained
            on k-means clusters of its images (`ganzoo.data.clusters`); None: labels must be
            given.
        augment: None, "diffaugment" or "ada": the discriminator sees T(x) for real and
            generated images, in its step and in the generator's, T differentiable so G's
            gradient flows through it (`ganzoo.augment`). "diffaugment" (Zhao et al. 2020)
            applies every transform of the policy; "ada" (Karras et al. 2020) applies each with
            probability p, adjusted during training from r_t = E[sign(D(x_real))] (logged as
            `ada_p` and `ada_rt`; not with WGAN-GP's critic). Images only.
        augment_policy: the transforms, e.g. "color,translation,cutout" (DiffAugment's default;
            ADA's default "translation,cutout,color"); add "flip" only for mirror-symmetric data.
        ada_target: ADA's target for r_t (0.6, the paper's).
        ada_kimg: ADA's speed: p can move from 0 to 1 in this many thousand real images (500,
            the paper's), adjusted every 4 discriminator steps.
        r1_gamma: gamma of the R1 penalty gamma / 2 E||grad D(x_real)||^2 (Mescheder et al. 2018)
            added to D's loss, taken on D's (augmented) real input; 0: off. Logged as `r1`.
        r1_every: lazy regularization (StyleGAN2): the R1 term on every N-th discriminator step
            only, scaled by N.
        lecam_weight: lambda of the LeCam regularizer (Tseng et al. 2021; 0.3 in the authors'
            BigGAN scripts) added to D's loss; 0: off. Logged as `lecam`.
        top_k: top-k training (Sinha et al. 2020): the generator learns only from the fake
            samples D scores highest, a share that starts at 1 and is multiplied by `top_k_decay`
            at each epoch, down to `top_k` (0.5 in the paper); None: off. `fit` adds the schedule
            (`ganzoo.models.top_k.TopKSchedule`); logged as `top_k`.
        top_k_decay: the per-epoch factor of the kept share (0.99, the paper's).
        mode_seeking: lambda of mode-seeking regularization (Mao et al. 2019; 1 in the authors'
            DCGAN experiments) added to G's loss: lambda / (ratio + 1e-5), ratio the distance
            between the batch's fakes of equal label (any two when unconditional) per unit
            distance of their z (`ganzoo.losses.mode_seeking_ratio`); 0: off. Logged as
            `mode_seeking` (the ratio).
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
        num_classes=None,
        label_prior=None,
        augment=None,
        augment_policy=None,
        ada_target=None,
        ada_kimg=None,
        r1_gamma=None,
        r1_every=None,
        lecam_weight=None,
        top_k=None,
        top_k_decay=None,
        mode_seeking=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = None if num_classes is None else _num_classes(num_classes)
        if width is not None:
            width = _positive_int(width, "width")
        self.width = width
        self.pack = _positive_int(pack, "pack")
        if self.pack > 1 and self.num_classes is not None:
            raise ValueError(
                f"{type(self).__name__}: packing (pack={self.pack}) and conditioning (num_classes="
                f"{self.num_classes}) do not combine: a pack of m samples has m labels and the projection "
                "discriminator scores one. Use pack=1 for a conditional model."
            )
        self.label_prior = _label_prior(label_prior, self.num_classes)
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
        self._set_regularizers(augment, augment_policy, ada_target, ada_kimg, r1_gamma, r1_every, lecam_weight,
                               top_k, top_k_decay, mode_seeking)
        self.d_optimizer = None
        self.g_optimizer = None
        self._ema_generator = None
        self._trackers = self._make_trackers()
        # The game's signals (bounds, saturation, generator gradient): see `Game.signal_names`.
        self._trackers.update({name: (FiniteMean if name == "g_grad_norm" else keras.metrics.Mean)(name=name)
                               for name in self.signal_names})
        self._nonfinite = FirstNonFinite()
        # Both networks were called above, so every weight exists: the model is built (and
        # Keras must not trace `call` on a data batch to build it).
        self.built = True

    # ------------------------------------------------------------ configuration
    @classmethod
    def config_kwargs(cls, config):
        """Constructor keywords for a `ganzoo.TrainConfig` (fields left None keep the model's default)."""
        kwargs = dict(latent_dim=config.latent_dim, width=config.width, seed=config.seed, pack=config.pack or 1)
        for field, keyword in REGULARIZER_KEYWORDS.items():
            if getattr(config, field) is not None:
                kwargs[keyword] = getattr(config, field)
        for field, keyword in cls.config_keywords.items():
            if getattr(config, field) is not None:
                kwargs[keyword] = getattr(config, field)
        return kwargs

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
        for optimizer in (d_optimizer, g_optimizer):
            fuse_adam(_inner(optimizer))
        self.d_optimizer = self.g_optimizer = None  # (on JAX, `optimizer` names both: none while compiling)
        super().compile(optimizer=None, jit_compile=jit_compile, steps_per_execution=steps_per_execution,
                        run_eagerly=run_eagerly, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self._ema_generator = None
        # Build the slots now, inside the strategy scope, so that `load_model` can restore them
        # and `tf.distribute` mirrors them.
        with self._strategy_scope():
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
            num_classes=self.num_classes,
            label_prior=self.label_prior,
            augment=self.augment,
            augment_policy=self.augment_policy,
            ada_target=self.ada_target,
            ada_kimg=self.ada_kimg,
            r1_gamma=self.r1_gamma,
            r1_every=self.r1_every,
            lecam_weight=self.lecam_weight,
            top_k=self.top_k,
            top_k_decay=self.top_k_decay,
            mode_seeking=self.mode_seeking,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # Keras' deserialize_keras_object empties the dicts it is given
        for key in ("generator", "discriminator"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def save_own_variables(self, store):
        # `.keras` files do not hold SeedGenerator state; keep it so a reloaded model draws
        # the same noise stream as the one that was saved.
        super().save_own_variables(store)
        store["noise_seed_state"] = np.asarray(ops.convert_to_numpy(self.seed_generator.state.value))

    def load_own_variables(self, store):
        if "noise_seed_state" in store:
            self.seed_generator.state.assign(np.asarray(store["noise_seed_state"]))
        own = {k: store[k] for k in store.keys() if k != "noise_seed_state"}
        super().load_own_variables(own)

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        return list(self._trackers.values()) + [self._nonfinite]

    def first_nonfinite_step(self):
        """The first step of the current epoch (1-based) after which a loss was NaN or infinite; 0: none."""
        return int(ops.convert_to_numpy(self._nonfinite.result()))
