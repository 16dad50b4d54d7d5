"""The model classes by name (`ganzoo train MODEL`); the presets are in `ganzoo.presets`."""

from ganzoo.models.dcgan import DCGAN
from ganzoo.models.gan import GAN
from ganzoo.models.sngan import SNGAN
from ganzoo.models.wgan_gp import WGANGP

MODELS = {"gan": GAN, "dcgan": DCGAN, "wgan_gp": WGANGP, "sngan": SNGAN}
