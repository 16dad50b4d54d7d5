"""The files of a training run directory, in pure Python (TensorFlow is not imported here).

    RUN_DIR/
        .lock           held (flock) by the process training in RUN_DIR; holds its PID
        config.json     the resolved config
        history.json    {"step": [...], "d_loss": [...], ...}: one entry per finished epoch, whole run
        checkpoints/    ckpt-<step>.keras and latest.json ({"file", "step", "epoch", ...})

Every file is written by `atomic_write`: into a `.tmp-*` file beside it, fsynced, then renamed,
so a reader (or a resumed run) sees the old file or the new one, never a part. A kill mid-write
can leave a `.tmp-*` file behind; `remove_temporary_files` clears them when a run starts.
Signals during a run: `ganzoo.runs.signals`.
"""

import fcntl
import json
import os
import re

from ganzoo.errors import RunDirError
from ganzoo.fileio import RUN_OWN_NAMES, TMP_PREFIX, refuse_links, write_json

LOCK_FILENAME = ".lock"
LATEST_FILENAME = "latest.json"
HISTORY_FILENAME = "history.json"
_CHECKPOINT_NAME = re.compile(r"^ckpt-(\d+)\.keras$")


def read_json(path, fix):
    """The JSON object in `path`, or None when there is no such file.

    Raises:
        RunDirError: the file is not a JSON object; the message names it and says `fix`.
    """
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunDirError(f"{path} cannot be read ({_reason(e)}): {fix}") from e
    if not isinstance(data, dict):
        raise RunDirError(f"{path} does not hold a JSON object: {fix}")
    return data


def _reason(error):
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error.msg} at line {error.lineno}"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def remove_temporary_files(*directories):
    """Delete the `.tmp-*` files that a kill mid-write left in `directories`; returns their paths."""
    removed = []
    for directory in directories:
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            # `*.json.tmp`: the temporary name earlier ganzoo versions gave JSON files.
            if name.startswith(TMP_PREFIX) or name.endswith(".json.tmp"):
                path = os.path.join(directory, name)
                if os.path.isfile(path) or os.path.islink(path):
                    os.remove(path)
                    removed.append(path)
    return removed


# ---------------------------------------------------------------------------------- lock
class RunLock:
    """An exclusive lock on a run directory, held while a run trains in it.

    `flock` on `RUN_DIR/.lock`: the kernel releases it when the process ends in any way (exit,
    exception, kill -9), so a lock file left by a dead process never blocks a new run.

    Example:
        >>> with RunLock("runs/ring"):
        ...     ...   # a second process gets RunDirError naming this one's PID
    """

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK_FILENAME)
        self._fd = None

    def acquire(self):
        refuse_links(self.run_dir, RUN_OWN_NAMES, RunDirError)  # before a byte is written through one
        try:
            os.makedirs(self.run_dir, exist_ok=True)
            # O_NOFOLLOW: a .lock planted as a link would otherwise be truncated (a race past the
            # check above included).
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        except OSError as e:
            if os.path.islink(self.path):
                refuse_links(self.run_dir, (LOCK_FILENAME,), RunDirError)
            raise RunDirError(f"--run-dir {self.run_dir} is not writable: {e.strerror}.") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            error = self._in_use(fd)
            os.close(fd)
            raise error from None
        try:  # and no link planted while we waited for the lock
            refuse_links(self.run_dir, RUN_OWN_NAMES, RunDirError)
            refuse_links(os.path.join(self.run_dir, "checkpoints"), _checkpoint_entries(self.run_dir), RunDirError)
        except RunDirError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def refuse_if_held(self):
        """RunDirError naming the holder when another process holds the lock now. Writes and
        creates nothing, so it can come before work that may still fail on bad input (a run's
        k-means); `acquire` stays the real guard."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return  # no lock file yet (a new run dir), or a link: acquire() answers that
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when fd closes
        except BlockingIOError:
            raise self._in_use(fd) from None
        finally:
            os.close(fd)

    def _in_use(self, fd):
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        return RunDirError(f"{self.run_dir} is in use by another training run (PID {holder}); wait for it to end or "
                           "stop it, or give another --run-dir.")

    def release(self):
        if self._fd is not None:
            # The file stays: deleting it would let a third process lock a new inode meanwhile.
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


# --------------------------------------------------------------------------- checkpoints
def _checkpoint_entries(run_dir):
    directory = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(directory) or os.path.islink(directory):
        return ()
    return tuple(n for n in os.listdir(directory) if n == LATEST_FILENAME or _CHECKPOINT_NAME.match(n))


def checkpoint_name(step):
    return f"ckpt-{int(step):08d}.keras"


def checkpoint_files(directory):
    """[(step, path)] of the `ckpt-<step>.keras` files in `directory`, newest first."""
    if not os.path.isdir(directory):
        return []
    found = [(int(m.group(1)), os.path.join(directory, name))
             for name in os.listdir(directory) if (m := _CHECKPOINT_NAME.match(name))]
    return sorted(found, reverse=True)


def read_latest(directory):
    """The latest checkpoint's record ({"file", "step", "epoch", "path", ...}) or None.

    Raises:
        RunDirError: latest.json is damaged.
    """
    path = os.path.join(directory, LATEST_FILENAME)
    state = read_json(path, fix="delete it to resume from the newest checkpoint file that loads.")
    if state is None:
        return None
    if not isinstance(state.get("file"), str) or not isinstance(state.get("step"), int):
        raise RunDirError(f"{path} does not name a checkpoint file and step: delete it to resume from the "
                          "newest checkpoint file that loads.")
    if not _CHECKPOINT_NAME.match(state["file"]):
        # Only a file of this directory: a path elsewhere (../other_run/..., /abs) would load
        # another run's weights as this run's.
        raise RunDirError(f"{path} names {state['file']!r}, which is not a checkpoint file of {directory} "
                          "(ckpt-<step>.keras, no directory part): delete it to resume from the newest checkpoint "
                          "file that loads.")
    state["path"] = os.path.join(directory, state["file"])
    return state


def write_latest(directory, step, steps_per_epoch):
    """Point latest.json at `ckpt-<step>.keras`; returns the record."""
    state = {"file": checkpoint_name(step), "step": int(step), "epoch": int(step // steps_per_epoch),
             "steps_per_epoch": int(steps_per_epoch)}
    write_json(os.path.join(directory, LATEST_FILENAME), state)
    return state


# ------------------------------------------------------------------------------- history
def read_history(run_dir, up_to_step):
    """The run's history ({"step": [...], key: [...]}) up to and including `up_to_step`.

    Entries after it belong to epochs that a resumed run trains again, so they are dropped.
    """
    history = read_json(os.path.join(run_dir, HISTORY_FILENAME),
                        fix="restore it, or delete it (the loss history of the earlier epochs is then lost).")
    if not history or not isinstance(history.get("step"), list):
        return {}  # none yet, or a file from before ganzoo recorded the step of each entry
    keep = [i for i, step in enumerate(history["step"]) if step <= up_to_step]
    return {key: [values[i] for i in keep if i < len(values)] for key, values in history.items()
            if isinstance(values, list)}


def write_history(run_dir, history):
    write_json(os.path.join(run_dir, HISTORY_FILENAME), history)
