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
