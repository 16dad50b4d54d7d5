"""The callbacks a training run passes to `fit`, also usable with any ganzoo model's own `fit`.

    steps.py         steps_done / steps_in_epoch, StepAware: each compiled call's logs, in order
    nan_guard.py     NaNGuard: stops at the first non-finite loss and names the step
    checkpointer.py  Checkpointer: atomic checkpoints at epoch ends and every N steps, with history
    tensorboard.py   TensorBoardLogger, SampleQualityLogger, hparams and run status
    event_writer.py  TensorBoard event files written from Python (no TensorFlow needed)

The names below are this package's public API, imported on first use (Keras is imported then).
"""

_PUBLIC = {
    "StepAware": "steps",
    "NaNGuard": "nan_guard",
    "Checkpointer": "checkpointer",
    "TensorBoardLogger": "tensorboard",
    "SampleQualityLogger": "tensorboard",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    import importlib

    if name in _PUBLIC:
        return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
