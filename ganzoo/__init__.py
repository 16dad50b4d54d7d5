"""ganzoo: GAN, DCGAN, WGAN-GP and SN-GAN as Keras 3 models trained with `model.fit`.

`import ganzoo` is cheap: TensorFlow and the models are imported on first use of
`ganzoo.DCGAN` (or any other name below), so `ganzoo --help` answers at once.
"""

import os as _os
import sys as _sys

__version__ = "0.2.0"

# TensorFlow's oneDNN kernels are on by default only on CPUs with AVX512 VNNI / BF16 or AMX; on
# an AVX2 CPU they run the Fashion-MNIST zoo's DCGAN step in about 14% less CPU time than
# TensorFlow's Eigen kernels (float32, tools/BENCHMARKS.md), so ganzoo turns them on unless
# TF_ENABLE_ONEDNN_OPTS is set (TF_ENABLE_ONEDNN_OPTS=0 keeps Eigen's). TensorFlow reads the
# variable once: this takes effect only when ganzoo is imported before TensorFlow.
if "tensorflow" not in _sys.modules:
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

# The config schema is pure Python; `train` (ganzoo.runs.train) is imported on first use.
from ganzoo.config import TrainConfig, resolve_config  # noqa: E402

_PUBLIC = {
    "train": "ganzoo.runs.train",
    "GAN": "ganzoo.models",
    "DCGAN": "ganzoo.models",
    "WGANGP": "ganzoo.models",
    "SNGAN": "ganzoo.models",
    "GANBase": "ganzoo.models",
    "MODELS": "ganzoo.models.registry",
    "PRESETS": "ganzoo.presets",
    "load_dataset": "ganzoo.data",
    "load_real_samples": "ganzoo.data",
    "dataset_info": "ganzoo.data",
    "toy_distribution": "ganzoo.data",
    "DATASETS": "ganzoo.data",
    "DatasetError": "ganzoo.data",
    "ExportError": "ganzoo.export",
    "export_generator": "ganzoo.export",
    "load_exported": "ganzoo.export",
    "pretrained": "ganzoo.export",
}

__all__ = sorted(_PUBLIC) + ["TrainConfig", "resolve_config", "losses", "metrics"]

def _register_models():
    # Importing the model modules registers their classes with Keras, so that
    # `keras.models.load_model("run.keras")` finds them after `import ganzoo`.
    try:
        import ganzoo.models  # noqa: F401
    except ImportError:  # a Keras set-up the models cannot run on: nothing to register
        pass


class _RegisterModelsAfterKeras:
    """A meta-path finder that registers the models right after Keras is first imported.

    `import ganzoo` stays free of Keras and TensorFlow (the CLI answers at once), and a user
    who imports Keras later still gets the classes registered before `load_model` runs.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        import importlib.util

        _sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register_models()

        spec.loader.exec_module = exec_then_register
        return spec


#: Modules that moved when the package took its layout of folders: importing an old path still
#: works (it is the new module, with a DeprecationWarning naming it).
_MOVED_MODULES = {
    "ganzoo.training": "ganzoo.runs.train",
    "ganzoo.callbacks": "ganzoo.runs.callbacks",
    "ganzoo.tensorboard_logging": "ganzoo.runs.callbacks.tensorboard",
    "ganzoo.event_writer": "ganzoo.runs.callbacks.event_writer",
    "ganzoo.checkpoints": "ganzoo.runs.checkpoints",
    "ganzoo.run_dir": "ganzoo.runs.files",
}


class _MovedModuleFinder:
    """Imports an old module path as its new module (see `_MOVED_MODULES`)."""

    def find_spec(self, name, path=None, target=None):
        if name not in _MOVED_MODULES:
            return None
        import importlib.util

        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        import importlib
        import warnings

        new = _MOVED_MODULES[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there.", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass


_sys.meta_path.append(_MovedModuleFinder())

if "keras" in _sys.modules:
    _register_models()
else:
    _sys.meta_path.insert(0, _RegisterModelsAfterKeras())


def __getattr__(name):
    import importlib

    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    if name in ("losses", "metrics", "data", "export", "models", "runs", "cli", "config", "presets", "errors"):
        return importlib.import_module(f"ganzoo.{name}")
    if f"ganzoo.{name}" in _MOVED_MODULES:
        return importlib.import_module(f"ganzoo.{name}")
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
