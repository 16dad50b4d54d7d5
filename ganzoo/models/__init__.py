"""The ganzoo models: GAN, DCGAN, WGANGP and SNGAN, each a `keras.Model` trained with `fit`.

    base.py        GANBase: constructor, compile, networks, metrics, get_config, save/load
    game.py        the backend-neutral iteration: noise, D steps, G step, non-finite check
    fitting.py     fit/evaluate argument checks; sampling.py: generate, EMA weights
    top_k.py       top-k training's per-epoch schedule (the callback `fit` adds)
    optimizers.py  the two optimizers, loss scaling, the EMA of G
    networks.py    MLP and DCGAN-style conv networks, conditional and spectral-normed
    gan.py, dcgan.py, wgan_gp.py, sngan.py   one model per file
    registry.py    MODELS: the classes by name (the presets are `ganzoo.presets`)
    backends/      the per-backend gradient step (TensorFlow, JAX, torch)
    keras_internals.py   every private Keras name ganzoo uses (pinned keras>=3.15,<3.16; contract-tested)
"""

from ganzoo.models.base import GANBase
from ganzoo.models.gan import GAN
from ganzoo.models.dcgan import DCGAN
from ganzoo.models.wgan_gp import WGANGP
from ganzoo.models.sngan import SNGAN

__all__ = ["GANBase", "GAN", "DCGAN", "WGANGP", "SNGAN"]
