"""Checkpoint files of a run: save one atomically, load the newest that loads (falling back past
damaged ones). Used by the Checkpointer callback and by `ganzoo.runs.train` on resume."""

import hashlib
import io
import json
import os
import tempfile
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


def load_newest_checkpoint(directory, load=None, expect=None):
    """(model, path) of the newest checkpoint in `directory` that loads, or (None, None) if none
    (see `open_newest_checkpoint`)."""
    model, path, _ = open_newest_checkpoint(directory, load=load, expect=expect)
    return model, path


def open_newest_checkpoint(directory, load=None, expect=None):
    """(model, path, sha256 of the bytes loaded) of the newest checkpoint in `directory` that
    loads, or (None, None, None) if there is none.

    Tries the file latest.json names, then every `ckpt-<step>.keras` from the newest down,
    warning about each one that cannot be loaded (truncated, deleted, unreadable), so a damaged
    newest checkpoint falls back to the one before it. Each file is read once and loaded from
    those bytes, so the checksum is of what was loaded even while a run rotates its checkpoints
    (with --keep-checkpoints 1 every file can vanish meanwhile: the search then starts again).

    Args:
        expect: `expect(summary)` -> a problem (str) or None, for the `checkpoint_summary` of a
            file before it is loaded: a checkpoint that is not the run's is refused, not used.

    Raises:
        RunDirError: latest.json is damaged, a checkpoint is a link or not the run's, or there
            are checkpoint files and none loads.
    """
    load = load or keras.models.load_model
    for attempt in range(3):
        latest = read_latest(directory)
        candidates = [path for _, path in checkpoint_files(directory)]
        if latest is not None:
            candidates = [latest["path"]] + [p for p in candidates if p != latest["path"]]
        elif candidates and not attempt:
            warnings.warn(f"{os.path.join(directory, 'latest.json')} is missing; looking for the newest checkpoint "
                          "file that loads.", stacklevel=3)
        failures, vanished = [], 0
        for path in candidates:
            data = _read_checkpoint(path, expect)
            if data is None:
                failures.append(f"{os.path.basename(path)} (missing)")
                vanished += 1
                continue
            try:
                model = _load_bytes(load, data, path)
            except Exception as e:  # a damaged file can fail in many ways (zip, h5, json, OS errors)
                failures.append(f"{os.path.basename(path)} ({_why_unloadable(data, e)})")
                continue
            if failures:
                warnings.warn(f"Checkpoint {', '.join(failures)} cannot be loaded; using {path} instead.",
                              stacklevel=3)
            return model, path, hashlib.sha256(data).hexdigest()
        if not failures:
            return None, None, None
        if vanished < len(failures):
            break
    raise RunDirError(
        f"No checkpoint in {directory} can be loaded: {'; '.join(failures)}. Restore one, or move them "
        "away to start the run over."
    )


def _read_checkpoint(path, expect):
    """The bytes of checkpoint `path` (None when it vanished), after the link and `expect` checks."""
    if os.path.islink(path):
        raise RunDirError(f"{path} is a symbolic link (to {os.readlink(path)}): a run's checkpoints are its own "
                          "files. Replace the link with the file it points at, or remove it.")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RunDirError(f"{path} cannot be read ({e.strerror}).") from e
    if expect is not None:
        summary = checkpoint_summary(data)
        problem = summary and expect(summary)
        if problem:
            raise RunDirError(
                f"{path} is not a checkpoint of this run: {problem}. Move it out of {os.path.dirname(path)} (and "
                "delete latest.json if it names it), or use the run directory it belongs to.")
    return data


def _load_bytes(load, data, path):
    """`load` the checkpoint held in `data` (read from `path`) through a private temporary copy."""
    with tempfile.TemporaryDirectory(prefix="ganzoo-checkpoint-") as tmp:
        copy = os.path.join(tmp, os.path.basename(path))
        with open(copy, "wb") as f:
            f.write(data)
        return load(copy)


def checkpoint_summary(data):
    """{"class_name", "latent_dim", "data_shape", "num_classes", "seed", "width", "pack"} from the
    config inside a `.keras` file's bytes (read without building the model), or None when the
    file is not a readable `.keras` zip (loading it then says why)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            config = json.loads(archive.read("config.json"))
    except Exception:  # noqa: BLE001 - damaged files are reported by the load
        return None
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        return None
    inner = config["config"]
    summary = {key: inner.get(key) for key in ("latent_dim", "num_classes", "seed", "width", "pack")}
    shape = inner.get("data_shape")
    summary["data_shape"] = tuple(shape) if isinstance(shape, list) else shape
    summary["class_name"] = config.get("class_name")
    return summary


def expected_by(config, data_shape=None, num_classes=None):
    """`expect` for `open_newest_checkpoint`: the problem when a checkpoint's summary does not
    match the run's `config` (and, when known, its data's shape and class count), else None."""
    from ganzoo.models.registry import MODELS

    cls = MODELS[config.model]
    wanted = {"class_name": cls.__name__, "seed": config.seed, "pack": config.pack or 1,
              "latent_dim": config.latent_dim, "width": config.width}
    if data_shape is not None:
        wanted["data_shape"] = tuple(data_shape)
    # Conditional on the dataset's classes, or on K clusters of its images (--cluster-labels K).
    conditional = config.conditional or bool(config.cluster_labels)
    if config.cluster_labels:
        num_classes = config.cluster_labels

    def problem(summary):
        found = []
        for key, value in wanted.items():
            if value is not None and summary.get(key) is not None and summary[key] != value:
                found.append(f"{key} {summary[key]!r} (the run's config.json: {value!r})")
        held = summary.get("num_classes")
        if conditional != (held is not None) or (num_classes and held and held != num_classes):
            want = (num_classes or "some") if conditional else None
            found.append(f"num_classes {held!r} (the run's config.json: {want!r})")
        return "; ".join(found) or None

    return problem


def _why_unloadable(data, error):
    # Keras says "File not found" for a file that is there but truncated; say what it is.
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return "not a whole .keras file: truncated or overwritten"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:120]}" if text else type(error).__name__
