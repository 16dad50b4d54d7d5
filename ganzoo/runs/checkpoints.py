"""Checkpoint files of a run: save one atomically, load the newest that loads (falling back past
damaged ones). Used by the Checkpointer callback and by `ganzoo.runs.train` on resume."""

import os
import warnings
import zipfile

import keras

from ganzoo.errors import RunDirError
from ganzoo.fileio import atomic_write
from ganzoo.runs.files import checkpoint_files, checkpoint_name, read_latest, write_latest


def save_checkpoint(model, directory, step, steps_per_epoch, keep=3):
    """Write `ckpt-<step>.keras` and then `latest.json`, each atomically."""
    os.makedirs(directory, exist_ok=True)
    name = checkpoint_name(step)
    atomic_write(os.path.join(directory, name), model.save)
    state = write_latest(directory, step, steps_per_epoch)
    for _, old in checkpoint_files(directory)[keep:]:
        if os.path.basename(old) != name:
            os.remove(old)
    return state


def load_newest_checkpoint(directory, load=None):
    """(model, path) of the newest checkpoint in `directory` that loads, or (None, None) if none.

    Tries the file latest.json names, then every `ckpt-<step>.keras` from the newest down,
    warning about each one that cannot be loaded (truncated, deleted, unreadable), so a damaged
    newest checkpoint falls back to the one before it.

    Raises:
        RunDirError: latest.json is damaged, or there are checkpoint files and none loads.
    """
    load = load or keras.models.load_model
    latest = read_latest(directory)
    candidates = [path for _, path in checkpoint_files(directory)]
    if latest is not None:
        candidates = [latest["path"]] + [p for p in candidates if p != latest["path"]]
    elif candidates:
        warnings.warn(f"{os.path.join(directory, 'latest.json')} is missing; looking for the newest checkpoint "
                      "file that loads.", stacklevel=2)
    failures = []
    for path in candidates:
        try:
            model = load(path)
        except Exception as e:  # a damaged file can fail in many ways (zip, h5, json, OS errors)
            failures.append(f"{os.path.basename(path)} ({_why_unloadable(path, e)})")
            continue
        if failures:
            warnings.warn(f"Checkpoint {', '.join(failures)} cannot be loaded; using {path} instead.",
                          stacklevel=2)
        return model, path
    if failures:
        raise RunDirError(
            f"No checkpoint in {directory} can be loaded: {'; '.join(failures)}. Restore one, or move them "
            "away to start the run over."
        )
    return None, None


def _why_unloadable(path, error):
    # Keras says "File not found" for a file that is there but truncated; say what it is.
    if not os.path.exists(path):
        return "missing"
    if not zipfile.is_zipfile(path):
        return "not a whole .keras file: truncated or overwritten"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:120]}" if text else type(error).__name__
