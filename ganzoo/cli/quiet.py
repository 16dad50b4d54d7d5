"""TensorFlow's start-up log lines, held back unless `--verbose`."""

import os
import re
import sys


# TensorFlow's start-up lines on stderr: absl's banner and INFO records (with their
# continuation lines), e.g. "I0000 00:00:17.. port.cc:153] oneDNN custom operations are on".
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_LOG_RECORD = re.compile(r"^[IWEF]\d{4} ")


def without_startup_noise(text):
    """`text` (captured stderr) without TensorFlow's start-up banner and INFO records; warnings
    and errors stay."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if line.rstrip("\n") == _BANNER:
            continue
        if _LOG_RECORD.match(line):
            dropping = line.startswith("I")
        if not dropping:
            kept.append(line)
    return "".join(kept)


def _stderr_held_back(run):
    """`run()` with file descriptor 2 caught and written back without the start-up noise."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            return run()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(without_startup_noise(captured.read().decode(errors="replace")))


class _QuietTensorFlowImport:
    """A meta-path finder that holds back TensorFlow's start-up lines when (and only when) it is
    first imported. TF 2.21 logs from its C++ libraries while they load, before
    TF_CPP_MIN_LOG_LEVEL is read, so the only way to hold those lines back is to catch file
    descriptor 2 meanwhile; importing it only where a command needs it keeps `ganzoo list`,
    usage errors and sampling an ONNX export free of its start-up (seconds)."""

    searching = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self.searching:
            return None
        import importlib.util

        self.searching = True  # asked by find_spec (an is-it-installed check) as well as by imports
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.searching = False
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quietly(module):
            _remove_quiet_import()
            _stderr_held_back(lambda: exec_module(module))

        spec.loader.exec_module = quietly
        return spec


def _remove_quiet_import():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowImport)]


def _quiet_logs(verbose):
    """Hold back TensorFlow's and absl's log lines unless --verbose; set before TF loads."""
    import logging

    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("absl", "tensorflow", "tf2onnx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" not in sys.modules:
        _remove_quiet_import()
        sys.meta_path.insert(0, _QuietTensorFlowImport())
