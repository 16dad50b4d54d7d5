"""ganzoo: GAN, DCGAN and WGAN-GP as Keras 3 models trained with `model.fit`.

The public API is imported lazily so that `import ganzoo` stays cheap and a
submodule (for example the data pipelines) can be used on its own.
"""

__version__ = "0.1.0"

_PUBLIC = {
    "GAN": "ganzoo.models.gan",
    "DCGAN": "ganzoo.models.dcgan",
    "WGANGP": "ganzoo.models.wgan_gp",
    "GANBase": "ganzoo.models.base",
    "MODELS": "ganzoo.models.registry",
    "PRESETS": "ganzoo.models.registry",
    "load_dataset": "ganzoo.data",
    "export_generator": "ganzoo.export",
    "train": "ganzoo.train",
    "TrainConfig": "ganzoo.train",
}

__all__ = sorted(_PUBLIC) + ["losses", "metrics"]


def __getattr__(name):
    if name in _PUBLIC:
        import importlib

        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    if name in ("losses", "metrics", "data", "export", "models", "callbacks"):
        import importlib

        return importlib.import_module(f"ganzoo.{name}")
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
