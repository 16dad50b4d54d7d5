"""The optional parts a command needs (a Keras backend's library, TensorBoard), checked before
any of them is imported: a missing one is a one-line answer naming what to install, not a
traceback from deep inside an import."""

import importlib.util
import os

from ganzoo.cli.common import UsageError

#: Keras' backends, and the library each one imports.
KERAS_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy",
                  "openvino": "openvino"}
#: The backends ganzoo trains on.
TRAINING_BACKENDS = ("tensorflow", "jax", "torch")


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_optional_parts(args):
    """UsageError when the command would import a Keras backend or TensorBoard that is missing
    or misnamed. `sample` and `evaluate` of an export need no backend (ONNX Runtime runs it)."""
    command = args.command
    if command == "list":
        return
    needs_keras = command in ("train", "export") or _is_run_source(args)
    if needs_keras:
        _check_backend(command)
    if command == "train" and not _installed("tensorboard"):
        raise UsageError("ganzoo train logs to TensorBoard, which is not installed: pip install tensorboard.")


def _is_run_source(args):
    from ganzoo.cli.common import _is_run_dir

    source = getattr(args, "source", None)
    return source is not None and _is_run_dir(source)


def _check_backend(command):
    import sys

    if "keras" in sys.modules:
        return  # chosen and imported already
    backend = os.environ.get("KERAS_BACKEND")
    if backend is None:
        from ganzoo.runs.backend import planned_backend

        backend = planned_backend()
    if backend not in KERAS_BACKENDS:
        raise UsageError(f"KERAS_BACKEND={backend!r} is not a Keras backend: set it to one of "
                         f"{', '.join(TRAINING_BACKENDS)} (or unset it; ganzoo train --backend sets it too).")
    if backend not in TRAINING_BACKENDS and command in ("train", "export"):
        raise UsageError(f"KERAS_BACKEND={backend}: ganzoo {command} runs on {', '.join(TRAINING_BACKENDS)}.")
    library = KERAS_BACKENDS[backend]
    if not _installed(library) or not _installed("keras"):
        missing = library if not _installed(library) else "keras"
        hint = {"tensorflow": "pip install tensorflow (or tensorflow-cpu)", "jax": "pip install jax",
                "torch": "pip install torch"}.get(missing, f"pip install {missing}")
        raise UsageError(f"the {backend} backend needs {missing}, which is not installed: {hint}, or choose another "
                         "backend (--backend or KERAS_BACKEND).")
