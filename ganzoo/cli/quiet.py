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


def _import_tensorflow_quietly():
    # TF 2.21 logs from its C++ libraries while they load, before TF_CPP_MIN_LOG_LEVEL is
    # read, so the only way to hold those lines back is to catch file descriptor 2 meanwhile.
    import importlib.util
    import tempfile

    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return  # the JAX backend trains without TensorFlow (tf.data and TensorBoard use it where installed)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(without_startup_noise(captured.read().decode(errors="replace")))


def _quiet_logs(verbose):
    """Hold back TensorFlow's and absl's log lines unless --verbose; set before TF loads."""
    import logging

    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("absl", "tensorflow", "tf2onnx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    _import_tensorflow_quietly()
