"""ganzoo: GAN, DCGAN and WGAN-GP as Keras 3 models trained with `model.fit`.

The models are imported at once; the rest of the public API (data, export, training) on
first use.
"""

__version__ = "0.1.0"

# The models are imported eagerly: importing them registers the classes with Keras, so
# `keras.models.load_model("run.keras")` works after a plain `import ganzoo`.
from ganzoo.models import DCGAN, GAN, WGANGP, GANBase  # noqa: E402
from ganzoo.train import TrainConfig, resolve_config  # noqa: E402
from ganzoo.train import train as _train  # noqa: E402

# `ganzoo.train` is the function (as the docs promise), not the submodule of the same name:
# the import above bound the submodule here; rebind the name to the function.
train = _train

_PUBLIC = {
    "MODELS": "ganzoo.models.registry",
    "PRESETS": "ganzoo.models.registry",
    "load_dataset": "ganzoo.data",
    "load_real_samples": "ganzoo.data",
    "dataset_info": "ganzoo.data",
    "toy_distribution": "ganzoo.data",
    "DATASETS": "ganzoo.data",
    "DatasetError": "ganzoo.data",
    "ExportError": "ganzoo.export",
    "export_generator": "ganzoo.export",
    "load_exported": "ganzoo.export",
}

__all__ = sorted(_PUBLIC) + ["GAN", "DCGAN", "WGANGP", "GANBase", "TrainConfig", "resolve_config", "train",
                             "losses", "metrics"]


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
