"""Files written whole or not at all, and output paths checked before any work: the primitives
every layer (images, export, runs, cli) writes through. Pure Python."""

import json
import os
import uuid

TMP_PREFIX = ".tmp-"


def atomic_write(path, write):
    """Create `path` by `write(tmp_path)`, atomically: a temporary file beside it, fsync, rename.

    The temporary file keeps `path`'s extension (Keras and PIL choose the format by it) and is
    created by `write` itself, so its mode follows the umask like any other file of the run.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{os.path.basename(path)}")
    try:
        write(tmp)
        _fsync(tmp)  # the data must be on disk before the rename makes it the real file
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    _fsync(directory)  # and the rename itself


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def write_json(path, data):
    """Write `data` as JSON to `path` atomically."""

    def dump(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True, default=str)

    atomic_write(path, dump)


# --------------------------------------------------------------------------- output paths
def unwritable_reason(path, kind):
    """Why a `kind` ("file" or "directory") cannot be written at `path`, or None when it can.

    Checked before any work starts, so a bad output path costs nothing: the path must not be
    the other kind, and its nearest existing ancestor must be a writable directory.
    """
    path = os.path.abspath(os.fspath(path))
    owner = owned_by(path)
    if owner:
        return f"is {owner}: ganzoo does not write over a run's or an export's own files; give another path"
    if kind == "file" and os.path.isdir(path):
        return "is a directory; give a file name inside it"
    if kind == "directory" and os.path.exists(path) and not os.path.isdir(path):
        return "is a file; give a directory (it is created if missing)"
    parent = path if kind == "directory" and os.path.isdir(path) else os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"cannot be created: {parent} is a file"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be written: {parent} is not writable"
    return None


# ------------------------------------------------------------ what a run or an export owns
#: The files and folders of a training run directory that belong to the run.
RUN_OWN_NAMES = (".lock", "config.json", "history.json", "checkpoints", "logs", "samples", "clusters.npz")
#: A directory holding one of these is an export version (TF Serving's or ganzoo's files).
EXPORT_MARKERS = ("model.json", "saved_model.pb", "generator.onnx", "parity_reference.npz")


def is_run_dir(path):
    """True when `path` is a ganzoo training run directory (config.json beside checkpoints/ or .lock)."""
    return os.path.isfile(os.path.join(path, "config.json")) and (
        os.path.isdir(os.path.join(path, "checkpoints")) or os.path.lexists(os.path.join(path, ".lock")))


def is_export_version(path):
    """True when `path` is one version directory of an export."""
    return os.path.isdir(path) and any(os.path.lexists(os.path.join(path, m)) for m in EXPORT_MARKERS)


def owned_by(path):
    """What owns `path`, in words ("a file of the run directory R", "inside the export E"), when
    writing there would change a run's or an export's own files; None when it is free.

    The one check every output goes through (`sample --out`, `evaluate --out`, `export --out`,
    `train --run-dir/--export`): a path inside an export version, or one of a run directory's
    own files and folders (or inside those folders), is refused; other paths in a run directory
    (a new samples.png beside it) are free. Both the path as given and as links resolve count.
    """
    seen = set()
    for candidate in (os.path.abspath(os.fspath(path)), _resolved(path)):
        if candidate in seen:
            continue
        seen.add(candidate)
        child, parent = candidate, os.path.dirname(candidate)
        if is_export_version(candidate):
            return f"the export {candidate}"
        while parent != child:
            if is_export_version(parent):
                return f"inside the export {parent}"
            if is_run_dir(parent):
                top = os.path.relpath(candidate, parent).split(os.sep)[0]
                if top in RUN_OWN_NAMES:
                    return f"{'a file' if top == os.path.relpath(candidate, parent) else 'inside a folder'} " \
                           f"of the run directory {parent}"
            child, parent = parent, os.path.dirname(parent)
    return None


def _resolved(path):
    """`path` with the links of its nearest existing ancestor resolved (the rest as given)."""
    path = os.path.abspath(os.fspath(path))
    head, tail = path, []
    while not os.path.lexists(head) and os.path.dirname(head) != head:
        head, name = os.path.dirname(head), os.path.basename(head)
        tail.append(name)
    return os.path.join(os.path.realpath(head), *reversed(tail))


def refuse_links(directory, names, error):
    """Raise `error(message)` if one of `names` in `directory` is a symbolic link: ganzoo writes
    there and would write through it (into whatever file the link points at)."""
    for name in names:
        path = os.path.join(directory, name)
        if os.path.islink(path):
            raise error(f"{path} is a symbolic link (to {os.readlink(path)}); ganzoo writes this file itself and "
                        "does not write through links. Remove the link (or replace it with a copy), or use "
                        "another directory.")
