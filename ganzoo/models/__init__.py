"""The ganzoo models: GAN, DCGAN, WGANGP and SNGAN."""

from ganzoo.models.base import GANBase
from ganzoo.models.gan import GAN
from ganzoo.models.dcgan import DCGAN
from ganzoo.models.wgan_gp import WGANGP
from ganzoo.models.sngan import SNGAN

__all__ = ["GANBase", "GAN", "DCGAN", "WGANGP", "SNGAN"]
