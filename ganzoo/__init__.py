"""ganzoo: GAN, DCGAN and WGAN-GP as Keras 3 models trained with `model.fit`.

`import ganzoo` is cheap: TensorFlow and the models are imported on first use of
`ganzoo.DCGAN` (or any other name below), so `ganzoo --help` answers at once.
"""

import sys as _sys

__version__ = "0.1.0"

# ganzoo.train imports TensorFlow only when a run starts.
from ganzoo.train import TrainConfig, resolve_config  # noqa: E402
from ganzoo.train import train as _train  # noqa: E402

# `ganzoo.train` is the function (as the docs promise), not the submodule of the same name:
# the import above bound the submodule here; rebind the name to the function.
train = _train

_PUBLIC = {
    "GAN": "ganzoo.models",
    "DCGAN": "ganzoo.models",
    "WGANGP": "ganzoo.models",
    "GANBase": "ganzoo.models",
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

__all__ = sorted(_PUBLIC) + ["TrainConfig", "resolve_config", "train", "losses", "metrics"]

if "keras" in _sys.modules:
    # Keras is loaded already, so the models cost little now; importing them registers the
    # classes with Keras, so `keras.models.load_model("run.keras")` works after `import ganzoo`.
    from ganzoo.models import DCGAN, GAN, WGANGP, GANBase  # noqa: E402, F401


def __getattr__(name):
    import importlib

    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    if name in ("losses", "metrics", "data", "export", "models", "callbacks", "run_dir"):
        return importlib.import_module(f"ganzoo.{name}")
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
