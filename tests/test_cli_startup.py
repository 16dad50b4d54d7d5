"""The command's start-up: help and usage errors answer without importing TensorFlow, and
commands print nothing of TensorFlow's start-up logs unless --verbose."""

import platform
import subprocess
import sys

import pytest

_PROBE = """
import sys
from ganzoo.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
import ganzoo
print("exit", code, "tensorflow" in sys.modules, ganzoo.train.__name__, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["train"], ["bogus"], ["train", "gan", "--seed",
                                                                                           "-1"]])
def test_help_and_usage_errors_do_not_import_tensorflow(argv, subprocess_env):
    result = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                            env=subprocess_env(), timeout=60)
    assert result.stderr.strip().splitlines()[-1] == f"exit {0 if '--help' in argv else 2} False train", result.stderr


def test_commands_are_quiet(subprocess_env):
    quiet = subprocess.run([sys.executable, "-m", "ganzoo", "list"], capture_output=True, text=True,
                           env=subprocess_env(TF_CPP_MIN_LOG_LEVEL=None), timeout=120)
    assert quiet.returncode == 0 and quiet.stderr == "" and "wgan_gp" in quiet.stdout


@pytest.mark.slow  # another TensorFlow start-up
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="TensorFlow 2.21 announces oneDNN at start-up on x86 only")
def test_verbose_shows_tensorflows_log_lines(subprocess_env):
    verbose = subprocess.run([sys.executable, "-m", "ganzoo", "list", "--verbose"], capture_output=True, text=True,
                             env=subprocess_env(TF_CPP_MIN_LOG_LEVEL=None), timeout=120)
    assert verbose.returncode == 0 and "oneDNN" in verbose.stderr


def test_startup_noise_filter_keeps_warnings_and_errors():
    from ganzoo.cli.quiet import without_startup_noise

    text = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            "I0000 00:00:1795320594.316595    4849 port.cc:153] oneDNN custom operations are on.\n"
            "I0000 00:00:1795320594.390772    4849 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
            "E0000 00:00:1795320594.5    4849 cuda_dnn.cc:8] Unable to register cuDNN factory\n"
            "a plain line\n")
    assert without_startup_noise(text) == ("E0000 00:00:1795320594.5    4849 cuda_dnn.cc:8] Unable to register "
                                           "cuDNN factory\na plain line\n")
