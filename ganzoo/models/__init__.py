"""The ganzoo models: GAN, DCGAN and WGANGP."""

from ganzoo.models.base import GANBase
from ganzoo.models.gan import GAN
from ganzoo.models.dcgan import DCGAN
from ganzoo.models.wgan_gp import WGANGP

__all__ = ["GANBase", "GAN", "DCGAN", "WGANGP"]
