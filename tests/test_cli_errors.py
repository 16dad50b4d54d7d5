"""Bad input, from the command line and from Python: one line saying what was wrong and how to
fix it (exit status 2 from the CLI), and nothing written, renamed or deleted.

The CLI cases call `ganzoo.cli.main` in this process (the same code as the command, without a
TensorFlow start-up per case)."""

import shlex
import subprocess
import sys

import numpy as np
import pytest

def _corrupt_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(20):
        Image.fromarray(np.full((8, 8), 10 * i, np.uint8)).save(folder / f"{i:02d}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return folder


def _write(path, text):
    path.write_text(text)


# (case, argv, text the message must contain, ...): in argv, "{ring}" stands for `ring_argv` and
# "{tiny}" for `tiny_args` (conftest); "{new}", "{file}", ... for the places set up below.
# (case, argv, text the message must contain, text it must not contain, setup)
SWEEP = [
    ("seed negative", ["{ring}", "--run-dir", "{new}", "--seed", "-5"], "--seed", None, None),
    ("seed too large", ["{ring}", "--run-dir", "{new}", "--seed", "99999999999"], "--seed", None, None),
    ("gp weight nan", ["train", "wgan_gp", "--dataset", "gaussian_ring", "{tiny}", "--run-dir", "{new}",
                       "--gp-weight", "nan"], "--gp-weight", None, None),
    ("lr infinite", ["{ring}", "--run-dir", "{new}", "--g-lr", "inf"], "--g-lr", None, None),
    ("image size 30", ["train", "dcgan", "{tiny}", "--run-dir", "{new}", "--image-size", "30"],
     "--image-size 32", None, None),
    ("negative lr parses", ["{ring}", "--run-dir", "{new}", "--d-lr", "-1e-4"], "--d-lr must be > 0",
     "expected one argument", None),
    ("batch larger than data", ["train", "gan", "--dataset", "mnist_sample", "--run-dir", "{new}",
                                "--batch-size", "5000", "--quiet"], "Lower --batch-size", None, None),
    ("export dir is a file", ["{ring}", "--run-dir", "{new}", "--export", "{file}"], "--export", None, None),
    ("export under a file", ["{ring}", "--run-dir", "{new}", "--export", "{file}/exports"], "is a file", None, None),
    ("run dir under a file", ["{ring}", "--run-dir", "{file}/run"], "--run-dir", None, None),
    ("multi_worker without TF_CONFIG", ["{ring}", "--run-dir", "{new}", "--strategy", "multi_worker"], "TF_CONFIG",
     None, None),
    ("data_parallel on tensorflow", ["{ring}", "--run-dir", "{new}", "--strategy", "data_parallel"],
     "needs --backend jax; on tensorflow use --strategy mirrored", None, None),
    ("corrupt image folder", ["train", "gan", "--dataset", "dir:{folder}", "--run-dir", "{new}", "--image-size", "8",
                              "{tiny}"], "--skip-corrupt", "skip_corrupt=True", None),
    ("garbage latest.json", ["{ring}", "--run-dir", "{run}", "--epochs", "3"], "latest.json", None,
     lambda run: _write(run / "checkpoints" / "latest.json", "{not json")),
    ("garbage config.json", ["{ring}", "--run-dir", "{run}", "--epochs", "3"], "config.json", None,
     lambda run: _write(run / "config.json", "\x00\x01 garbage")),
    ("garbage history.json", ["{ring}", "--run-dir", "{run}", "--epochs", "3"], "history.json", None,
     lambda run: _write(run / "history.json", "[1, 2")),
    ("sample with garbage config.json", ["sample", "{run}", "--out", "{tmp}/s.png"], "config.json", None,
     lambda run: _write(run / "config.json", "{")),
    ("sample to a directory", ["sample", "{run}", "--out", "{tmp}"], "is a directory", None, None),
    ("sample under a file", ["sample", "{run}", "--out", "{file}/s.png"], "is a file", None, None),
    ("sample from nowhere", ["sample", "{tmp}/nowhere", "--out", "{tmp}/s.png"], "does not exist", None, None),
    ("evaluate to an unwritable place", ["evaluate", "{run}", "--num-samples", "50", "--out", "{file}/m.json"],
     "--out", None, None),
    ("evaluate one sample", ["evaluate", "{run}", "--num-samples", "1", "--metrics", "w1"], "--num-samples",
     "features1", None),
    ("evaluate against other data", ["evaluate", "{run}", "--num-samples", "50", "--dataset", "mnist_sample"],
     "--dataset", None, None),
    ("export over a version", ["export", "{run}", "--out", "{exports}", "--version", "1"], "--overwrite",
     "overwrite=True", None),
    ("export to a file", ["export", "{run}", "--out", "{file}"], "is a file", None, None),
]


@pytest.mark.parametrize("case,argv,expected,forbidden,setup", SWEEP, ids=[c[0] for c in SWEEP])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
        case, argv, expected, forbidden, setup, run, tmp_path, run_main, snapshot, ring_argv, tiny_args):
    (tmp_path / "file").write_text("a file, not a directory")
    (tmp_path / "exports" / "1").mkdir(parents=True)
    places = {"new": tmp_path / "new_run", "file": tmp_path / "file", "tmp": tmp_path, "run": run,
              "folder": _corrupt_folder(tmp_path) if "{folder}" in " ".join(argv) else None,
              "exports": tmp_path / "exports"}
    if setup:
        setup(run)
    before = snapshot(tmp_path)
    expand = {"{ring}": ring_argv, "{tiny}": tiny_args}
    code, out, err = run_main([b for a in argv for b in (expand[a] if a in expand else [a.format(**places)])])
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert expected in err, err
    assert forbidden is None or forbidden not in err, err
    assert snapshot(tmp_path) == before


def test_python_api_mistakes_raise_clear_errors():
    import ganzoo
    from ganzoo.data import DatasetError
    from ganzoo.errors import ConfigError

    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        ganzoo.DCGAN(data_shape=(28, 28))
    with pytest.raises(DatasetError, match="seed"):
        ganzoo.load_dataset("gaussian_ring", seed=-1)
    with pytest.raises(ConfigError, match="'bogus'"):
        ganzoo.train({"model": "gan", "bogus": 1})
    with pytest.raises(ConfigError, match="--seed"):
        ganzoo.resolve_config("gan", seed=-5)
    with pytest.raises(ConfigError, match="--gp-weight"):
        ganzoo.resolve_config("wgan_gp", gp_weight=float("nan"))
    with pytest.raises(TypeError, match="n_critic=3"):
        ganzoo.WGANGP(data_shape=(2,), d_steps=3)
    model = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=4)
    assert model.generate(np.zeros((0, 2))).shape == (0, 2)


def test_output_piped_to_a_reader_that_stops_is_not_a_traceback(subprocess_env):
    """`ganzoo list | head -1`: the reader closes the pipe early (here `true`, which reads nothing
    and exits at once, so the write always meets a closed pipe); ganzoo stops quietly, exit 0."""
    proc = subprocess.run(f"set -o pipefail; {shlex.quote(sys.executable)} -m ganzoo list | true", shell=True,
                          executable="/bin/bash", capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.returncode == 0
