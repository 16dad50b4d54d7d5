"""The files of a training run directory, in pure Python (TensorFlow is not imported here).

    RUN_DIR/
        .lock           held (flock) by the process training in RUN_DIR; holds its PID
        config.json     the resolved config
        history.json    {"step": [...], "d_loss": [...], ...}: one entry per finished epoch, whole run
        checkpoints/    ckpt-<step>.keras and latest.json ({"file", "step", "epoch", ...})

Every file is written by `atomic_write`: into a `.tmp-*` file beside it, fsynced, then renamed,
so a reader (or a resumed run) sees the old file or the new one, never a part. A kill mid-write
can leave a `.tmp-*` file behind; `remove_temporary_files` clears them when a run starts.
The last section turns SIGTERM into an interrupt and keeps interrupts out of the writes that
must happen together.
"""

import contextlib
import fcntl
import json
import os
import re
import signal
import sys
import threading
import uuid

TMP_PREFIX = ".tmp-"
LOCK_FILENAME = ".lock"
LATEST_FILENAME = "latest.json"
HISTORY_FILENAME = "history.json"
_CHECKPOINT_NAME = re.compile(r"^ckpt-(\d+)\.keras$")


class RunDirError(ValueError):
    """A run directory that cannot be used as it is: in use by another run, or a damaged file."""


# ------------------------------------------------------------------------- atomic files
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
        try:
            os.makedirs(self.run_dir, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise RunDirError(f"--run-dir {self.run_dir} is not writable: {e.strerror}.") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunDirError(
                f"{self.run_dir} is in use by another training run (PID {holder}); wait for it to end or "
                "stop it, or give another --run-dir."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

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


# ---------------------------------------------------------------------------- interrupts
class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, Kubernetes, Slurm) as an interrupt, so that it is handled as Ctrl-C is."""

    signum = signal.SIGTERM


def _set_handlers(handlers):
    """Install {signal: handler}; returns the previous ones. Only the main thread may do this."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, h if h is not None else signal.SIG_DFL) for s, h in handlers.items()}


_pending_interrupts = []  # interrupts raised by the handlers below and not yet handled


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside the block SIGTERM raises `Terminated`, as Ctrl-C raises KeyboardInterrupt.

    Python runs a signal handler wherever the main thread is, also inside a `__del__` or a GC
    callback, where the exception it raises is printed and dropped and the run goes on. So the
    handlers also record the interrupt, and `reraise_dropped_interrupt()` (called by the
    training callbacks between compiled calls) raises it again if nothing handled it.
    """

    def raise_terminated(signum, frame):
        _pending_interrupts.append(Terminated)
        raise Terminated()

    def raise_keyboard_interrupt(signum, frame):
        _pending_interrupts.append(KeyboardInterrupt)
        raise KeyboardInterrupt()

    def quiet_dropped_interrupt(unraisable):
        # Python prints a dropped exception with its traceback; this one is raised again
        # (`reraise_dropped_interrupt`), so the user sees the run's own one-line message.
        if not isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)):
            previous_hook(unraisable)

    _pending_interrupts.clear()
    previous = _set_handlers({signal.SIGTERM: raise_terminated, signal.SIGINT: raise_keyboard_interrupt})
    previous_hook, sys.unraisablehook = sys.unraisablehook, quiet_dropped_interrupt
    try:
        yield
    except KeyboardInterrupt:
        _pending_interrupts.clear()  # handled: it reached the caller
        raise
    finally:
        sys.unraisablehook = previous_hook
        _set_handlers(previous)


def interrupt_handled():
    """Mark the interrupt being raised as handled (its `except` clause runs)."""
    _pending_interrupts.clear()


def reraise_dropped_interrupt():
    """Raise again an interrupt whose exception was dropped where the handler ran (see
    `sigterm_as_interrupt`)."""
    if _pending_interrupts:
        interrupt = _pending_interrupts.pop()
        _pending_interrupts.clear()
        raise interrupt()


@contextlib.contextmanager
def signals_ignored():
    """Inside the block Ctrl-C and SIGTERM are ignored."""
    previous = _set_handlers({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})
    try:
        yield
    finally:
        _set_handlers(previous)


@contextlib.contextmanager
def signals_deferred():
    """Ctrl-C or SIGTERM arriving inside the block takes effect when it ends, so that the block
    (say, a checkpoint and its history entry) is done whole or not at all."""
    received = []
    previous = _set_handlers({signal.SIGINT: lambda signum, frame: received.append(signum),
                              signal.SIGTERM: lambda signum, frame: received.append(signum)})
    try:
        yield
    finally:
        _set_handlers(previous)
        if received:
            signal.raise_signal(received[0])  # now the usual handler acts on it
