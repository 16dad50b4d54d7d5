"""Trust boundaries: a run directory, an export or an image folder from elsewhere is trusted only
as far as it verifies. No link is followed where ganzoo writes, checkpoints and model cards are
checked before use, outputs never land on a run's or an export's own files, user mistakes are
one line (exit 2) before anything is written or TensorFlow starts, and bad data is refused.

Most cases call `ganzoo.cli.main` in this process; the ones that must show TensorFlow (or an
optional part) absent run `python -c` subprocesses that import no TensorFlow.
"""

import errno
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ganzoo.cli.main import main

TINY = ["--batch-size", "16", "--width", "4", "--latent-dim", "8", "--steps-per-epoch", "3", "--quiet"]
RING = ["train", "gan", "--dataset", "gaussian_ring", *TINY]


def snapshot(root):
    """Every path under `root` (links not followed) with its kind and content: equal snapshots
    mean nothing was written, renamed or deleted, through a link or not."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                state[os.path.relpath(path, root)] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    state[os.path.relpath(path, root)] = ("file", f.read())
            else:
                state[os.path.relpath(path, root)] = ("dir", None)
    return state


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{"run": a 1-epoch ring GAN run, "other": a run of another model (z of 4), "export": the
    run's export (SavedModel + ONNX), "other_export": the other run's (ONNX)}; copy before changing."""
    root = tmp_path_factory.mktemp("trained")
    run, other = root / "run", root / "other"
    assert main([*RING, "--epochs", "1", "--run-dir", str(run)]) == 0
    assert main(["train", "gan", "--dataset", "gaussian_ring", "--batch-size", "16", "--width", "4",
                 "--latent-dim", "4", "--steps-per-epoch", "3", "--quiet", "--epochs", "1", "--run-dir", str(other)]) == 0
    assert main(["export", str(run), "--out", str(root / "export")]) == 0
    assert main(["export", str(other), "--out", str(root / "other_export"), "--format", "onnx"]) == 0
    return {"run": run, "other": other, "export": root / "export", "other_export": root / "other_export"}


@pytest.fixture
def places(trained, tmp_path):
    """Copies of the trained run and exports in tmp_path, and a notes file a link may point at."""
    for name in ("run", "other", "export", "other_export"):
        shutil.copytree(trained[name], tmp_path / name, symlinks=True)
    (tmp_path / "notes.txt").write_text("the user's notes")
    return tmp_path


# ----------------------------------------------------------------------------- setups
def _link(target, link):
    def setup(tmp):
        path = tmp / link
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(tmp / target)
    return setup


def _latest(file):
    def setup(tmp):
        (tmp / "run" / "checkpoints" / "latest.json").write_text(json.dumps({"file": file.format(tmp=tmp), "step": 3}))
    return setup


def _foreign_checkpoint(tmp):
    """The other run's checkpoint (another latent size) inside this run's checkpoints/, as latest."""
    source = sorted((tmp / "other" / "checkpoints").glob("ckpt-*.keras"))[-1]
    shutil.copy(source, tmp / "run" / "checkpoints" / "ckpt-00000099.keras")
    (tmp / "run" / "checkpoints" / "latest.json").write_text(json.dumps(
        {"file": "ckpt-00000099.keras", "step": 99, "epoch": 33, "steps_per_epoch": 3}))


def _outside_checkpoint(tmp):
    """A checkpoint outside the run, that an escaping latest.json can name."""
    (tmp / "elsewhere").mkdir()
    source = sorted((tmp / "run" / "checkpoints").glob("ckpt-*.keras"))[-1]
    shutil.copy(source, tmp / "elsewhere" / "ckpt-00000003.keras")


def _card(change):
    """Rewrite the export's model card with `change(card)` (returning the new JSON value)."""
    def setup(tmp):
        path = tmp / "export" / "1" / "model.json"
        card = json.loads(path.read_text())
        value = change(card)
        path.write_text(json.dumps(card if value is None else value))
    return setup


def _without(*names):
    def setup(tmp):
        for name in names:
            path = tmp / "export" / "1" / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return setup


def _both(*setups):
    def setup(tmp):
        for s in setups:
            s(tmp)
    return setup


# (case, argv, text the one-line message must contain, setup)
CASES = [
    # Links where ganzoo writes: never followed.
    ("lock is a link", [*RING, "--epochs", "2", "--run-dir", "{tmp}/run"], "symbolic link", _link("notes.txt", "run/.lock")),
    ("config.json is a link", [*RING, "--epochs", "2", "--run-dir", "{tmp}/run"], "symbolic link",
     _link("notes.txt", "run/config.json")),
    ("checkpoints is a link", [*RING, "--epochs", "2", "--run-dir", "{tmp}/run"], "symbolic link",
     _link("other/checkpoints", "run/checkpoints")),
    # latest.json names a file of checkpoints/ only; checkpoints must be the run's.
    ("latest.json leaves the run", ["sample", "{tmp}/run", "--out", "{tmp}/s.png"], "latest.json",
     _both(_outside_checkpoint, _latest("../../elsewhere/ckpt-00000003.keras"))),
    ("latest.json absolute", ["sample", "{tmp}/run", "--out", "{tmp}/s.png"], "latest.json",
     _both(_outside_checkpoint, _latest("{tmp}/elsewhere/ckpt-00000003.keras"))),
    ("foreign checkpoint: sample", ["sample", "{tmp}/run", "--out", "{tmp}/s.png"], "not a checkpoint of this run",
     _foreign_checkpoint),
    ("foreign checkpoint: export", ["export", "{tmp}/run", "--out", "{tmp}/new_export"],
     "not a checkpoint of this run", _foreign_checkpoint),
    ("foreign checkpoint: train", [*RING, "--epochs", "40", "--run-dir", "{tmp}/run"], "not a checkpoint of this run",
     _foreign_checkpoint),
    ("checkpoint is a link", ["sample", "{tmp}/run", "--out", "{tmp}/s.png"], "symbolic link",
     _both(_foreign_checkpoint, _link("other/checkpoints/ckpt-00000003.keras", "run/checkpoints/ckpt-00000099.keras"))),
    # Outputs never overwrite a run's or an export's own files.
    ("sample over config.json", ["sample", "{tmp}/run", "--out", "{tmp}/run/config.json"], "run directory", None),
    ("sample into checkpoints", ["sample", "{tmp}/run", "--out", "{tmp}/run/checkpoints/latest.json"], "run directory",
     None),
    ("evaluate over config.json", ["evaluate", "{tmp}/run", "--num-samples", "50", "--metrics", "w1", "--out",
                                   "{tmp}/run/config.json"], "run directory", None),
    ("sample over generator.onnx", ["sample", "{tmp}/export", "--out", "{tmp}/export/1/generator.onnx"], "export",
     None),
    ("export into a version", ["export", "{tmp}/run", "--out", "{tmp}/export/1"], "export", None),
    ("export into a new version's name", ["export", "{tmp}/run", "--out", "{tmp}/export/2"], "version directory",
     None),
    ("export another model into a base", ["export", "{tmp}/run", "--out", "{tmp}/other_export"], "--replace-model",
     None),
    # Exports: the card is checked against its schema; ONNX only when the card vouches for it.
    ("card without generator.onnx", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "vouched",
     _card(lambda card: card["files"].pop("generator.onnx") and None)),
    ("no card", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "vouched", _without("model.json")),
    ("card path leaves the export", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "leaves",
     _card(lambda card: card["files"].update({"../../notes.txt": {"sha256": "0" * 64, "bytes": 1}}))),
    ("card path absolute", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "absolute",
     _card(lambda card: card["files"].update({"/etc/hostname": {"sha256": "0" * 64, "bytes": 1}}))),
    ("card class_names a string", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "class_names",
     _card(lambda card: card.update(class_names="abc"))),
    ("card class_names longer than num_classes", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "class_names",
     _card(lambda card: card.update(class_names=["a", "b", "c"], num_classes=2))),
    ("card num_classes a string", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "num_classes",
     _card(lambda card: card.update(num_classes="3"))),
    ("card latent_dim disagrees with the network", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "latent_dim",
     _card(lambda card: card.update(latent_dim=5))),
    ("card is a list", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "model card", _card(lambda card: [card])),
    ("card is binary", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "model card",
     lambda tmp: (tmp / "export" / "1" / "model.json").write_bytes(b"\xff\xfe\x00binary")),
    ("unvouched SavedModel", ["sample", "{tmp}/export", "--out", "{tmp}/s.png"], "--trust-saved-model",
     _without("model.json", "generator.onnx")),
    # User mistakes, up front.
    ("checkpoint-every not a multiple of steps-per-execution", [*RING, "--run-dir", "{tmp}/new", "--steps-per-execution",
                                                                "3", "--checkpoint-every", "7"], "--checkpoint-every 6",
     None),
    ("empty run dir", [*RING, "--run-dir", ""], "--run-dir must name a directory", None),
    ("eval samples 1", [*RING, "--run-dir", "{tmp}/new", "--eval-every", "1", "--eval-samples", "1"], "--eval-samples",
     None),
    ("batch larger than memory", ["train", "gan", "--dataset", "mnist_sample", "--steps-per-epoch", "1",
                                  "--batch-size", "100000000", "--run-dir", "{tmp}/new"], "GiB", None),
    ("sample n too large", ["sample", "{tmp}/export", "--n", "10000000", "--out", "{tmp}/s.png"], "at most 4096", None),
    ("sample a run without checkpoints", ["sample", "{tmp}/run", "--out", "{tmp}/s.png"], "no checkpoint yet",
     lambda tmp: shutil.rmtree(tmp / "run" / "checkpoints")),
]


@pytest.mark.parametrize("case,argv,expected,setup", CASES, ids=[c[0] for c in CASES])
def test_untrusted_input_is_one_line_exit_2_and_writes_nothing(case, argv, expected, setup, places, run_main):
    if setup:
        setup(places)
    before = snapshot(places)
    code, out, err = run_main([a.format(tmp=places) for a in argv])
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert expected in err, err
    assert snapshot(places) == before
    assert (places / "notes.txt").read_text() == "the user's notes"


def test_trusted_saved_model_and_replaced_model_are_allowed_when_asked(places, run_main):
    _without("model.json", "generator.onnx")(places)
    code, _, err = run_main(["sample", places / "export", "--trust-saved-model", "--out", places / "s.png"])
    assert code == 0 and (places / "s.png").exists(), err
    code, _, err = run_main(["export", places / "run", "--out", places / "other_export", "--replace-model",
                             "--format", "onnx"])
    assert code == 0 and (places / "other_export" / "2").is_dir(), err


def test_ganzoo_verify_refuses_card_paths_outside_the_export(places, run_main):
    _card(lambda card: card["files"].update({"../../notes.txt": {"sha256": "0" * 64, "bytes": 1}}))(places)
    code, out, _ = run_main(["verify", str(places / "export" / "1")])
    assert code == 1
    report = json.loads(out.strip().splitlines()[-1])
    assert not report["ok"] and "outside" in report["error"], report


# ------------------------------------------------------------------ runs: resume, NaN, disk
def test_resume_may_change_the_learning_rates_and_config_json_records_it(places, run_main):
    import keras

    run = places / "run"
    code, _, err = run_main([*RING, "--epochs", "2", "--run-dir", run, "--d-lr", "0.00005", "--g-lr", "0.00003"])
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert saved["d_lr"] == 0.00005 and saved["changes"] == [{"step": 3, "d_lr": [None, 0.00005],
                                                              "g_lr": [None, 0.00003]}]
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    model = keras.models.load_model(run / "checkpoints" / latest["file"])
    assert np.isclose(float(model.d_optimizer.learning_rate), 0.00005)
    assert np.isclose(float(model.g_optimizer.learning_rate), 0.00003)
    assert run_main(["sample", run, "--out", places / "s.png"])[0] == 0  # config.json with its changes still loads


def test_nan_guard_without_a_checkpoint_says_none_is_kept(tmp_path):
    import keras

    from ganzoo import resolve_config
    from ganzoo.errors import TrainingDiverged
    from ganzoo.runs.train import train

    class Poison(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            weights = self.model.discriminator.weights[0]
            weights.assign(np.full(weights.shape, np.nan, "float32"))

    config = resolve_config("gan", dataset="gaussian_ring", batch_size=16, width=4, latent_dim=8, steps_per_epoch=3,
                            quiet=True, epochs=1, run_dir=str(tmp_path / "run"))
    with pytest.raises(TrainingDiverged) as caught:
        train(config, callbacks=[Poison()])
    message = str(caught.value)
    assert "No checkpoint was saved" in message and "last good checkpoint" not in message, message
    assert not list((tmp_path / "run" / "checkpoints").glob("ckpt-*.keras"))


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", args[-1] if args else None)


@pytest.mark.parametrize("where", ["sample --out", "checkpoint", "export card"])
def test_a_full_disk_is_one_line_and_earlier_files_stay_intact(where, places, run_main, monkeypatch):
    import ganzoo.export.writers
    import ganzoo.fileio

    (places / "s.png").write_bytes(b"an earlier grid")
    before = snapshot(places)
    if where == "sample --out":
        monkeypatch.setattr(ganzoo.fileio.os, "replace", _enospc)
        argv = ["sample", places / "run", "--out", places / "s.png"]
    elif where == "checkpoint":
        monkeypatch.setattr(ganzoo.fileio.os, "replace", _enospc)
        argv = [*RING, "--epochs", "2", "--run-dir", places / "run"]
    else:
        monkeypatch.setattr(ganzoo.export.writers, "_write_card", lambda *a: _enospc(a[0]))
        argv = ["export", places / "run", "--out", places / "export", "--format", "onnx"]
    code, _, err = run_main(argv)
    monkeypatch.undo()
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "no space left" in err and "intact" in err, err
    after = snapshot(places)
    for path, entry in before.items():  # everything written before is as it was
        if not path.startswith(os.path.join("run", "logs")) and path != os.path.join("run", ".lock"):
            assert after.get(path) == entry, path
    assert not [p for p in after if os.path.basename(p).startswith(".tmp-")]


def test_export_survives_the_checkpoint_rotating_away_meanwhile(places, run_main, monkeypatch):
    """`ganzoo export` while the run trains with --keep-checkpoints 1: the file it loaded is
    replaced by a newer one and deleted before it is hashed."""
    import keras

    run_ckpts = places / "run" / "checkpoints"
    real_load = keras.models.load_model

    def load_then_rotate(path, *args, **kwargs):
        model = real_load(path, *args, **kwargs)
        for old in run_ckpts.glob("ckpt-*.keras"):
            if old.name != "ckpt-00000006.keras":
                shutil.copy(old, run_ckpts / "ckpt-00000006.keras")
                (run_ckpts / "latest.json").write_text(json.dumps({"file": "ckpt-00000006.keras", "step": 6}))
                old.unlink()
        return model

    monkeypatch.setattr(keras.models, "load_model", load_then_rotate)
    code, _, err = run_main(["export", places / "run", "--out", places / "rotating", "--format", "onnx"])
    assert code == 0, err
    card = json.loads((places / "rotating" / "1" / "model.json").read_text())
    import hashlib

    assert card["checkpoint"]["sha256"] == hashlib.sha256((run_ckpts / "ckpt-00000006.keras").read_bytes()).hexdigest()


# ----------------------------------------------------------------- the command line itself
def test_version(run_main):
    import ganzoo

    code, out, _ = run_main(["--version"])
    assert code == 0 and out.strip() == f"ganzoo {ganzoo.__version__}"


def test_model_facts_kept_free_of_keras_agree_with_the_classes():
    """`ganzoo list` and the up-front checks read these without importing Keras."""
    from ganzoo.models.registry import MODELS
    from ganzoo.presets import MODEL_DEFAULT_D_STEPS, MODEL_SUMMARIES

    assert MODEL_SUMMARIES == {name: cls.__doc__.strip().splitlines()[0] for name, cls in MODELS.items()}
    assert MODEL_DEFAULT_D_STEPS == {name: cls.default_d_steps for name, cls in MODELS.items()}


#: Python that blocks importing `module` (as where it is not installed), then runs `ganzoo ARGV`
#: and reports its exit code and whether TensorFlow or Keras were imported.
WITHOUT = """
import json, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if {blocked!r} and (name == {blocked!r} or name.startswith({blocked!r} + ".")):
            raise ImportError(name + " is not installed (blocked by the test)")
sys.meta_path.insert(0, Block())
from ganzoo.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(json.dumps({{"code": code, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}}))
"""


def _ganzoo_without(blocked, argv, subprocess_env, cwd, **env):
    out = subprocess.run([sys.executable, "-c", WITHOUT.format(blocked=blocked), *map(str, argv)], capture_output=True,
                         text=True, timeout=120, env=subprocess_env(**env), cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


NO_TENSORFLOW_CASES = [
    # (case, module blocked, argv, environment, exit code, text in stderr)
    ("list", None, ["list"], {}, 0, ""),
    ("sample an ONNX export", None, ["sample", "{export}", "--out", "{tmp}/s.png"], {}, 0, ""),
    ("unknown model", None, ["train", "no_such_model", "--run-dir", "{tmp}/r"], {}, 2, "no_such_model"),
    ("empty run dir", None, [*RING, "--run-dir", ""], {}, 2, "--run-dir must name a directory"),
    ("eval samples 1", None, [*RING, "--run-dir", "{tmp}/r", "--eval-samples", "1"], {}, 2, "--eval-samples"),
    ("batch larger than memory", None, ["train", "gan", "--dataset", "mnist_sample", "--steps-per-epoch", "1",
                                        "--batch-size", "100000000", "--run-dir", "{tmp}/r"], {}, 2, "GiB"),
    ("jax not installed", "jax", [*RING, "--backend", "jax", "--run-dir", "{tmp}/r"], {}, 2, "pip install jax"),
    ("torch not installed", "torch", [*RING, "--backend", "torch", "--run-dir", "{tmp}/r"], {}, 2,
     "pip install torch"),
    ("KERAS_BACKEND bogus", None, [*RING, "--run-dir", "{tmp}/r"], {"KERAS_BACKEND": "bogus"}, 2,
     "KERAS_BACKEND='bogus'"),
    ("tensorboard not installed", "tensorboard", [*RING, "--run-dir", "{tmp}/r"], {}, 2, "pip install tensorboard"),
]


@pytest.mark.parametrize("case,blocked,argv,env,code,expected", NO_TENSORFLOW_CASES,
                         ids=[c[0] for c in NO_TENSORFLOW_CASES])
def test_answers_without_importing_tensorflow(case, blocked, argv, env, code, expected, trained, tmp_path,
                                              subprocess_env):
    argv = [str(a).format(tmp=tmp_path, export=trained["export"]) for a in argv]
    result, err = _ganzoo_without(blocked, argv, subprocess_env, tmp_path, **env)
    assert result["code"] == code, err
    assert not result["tensorflow"] and not result["keras"], (result, err)
    assert expected in err and "Traceback" not in err, err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists(), err


# ------------------------------------------------------------------------- fit and generate
def _tiny(**kwargs):
    import ganzoo

    model = ganzoo.GAN(data_shape=(4, 4, 1), latent_dim=2, width=4, seed=0, **kwargs)
    model.compile()
    return model


def _images(n=32, low=-1.0, high=1.0):
    return np.random.default_rng(0).uniform(low, high, (n, 4, 4, 1)).astype("float32")


def _with(values, index, value):
    values = values.copy()
    values.reshape(-1)[index] = value
    return values


def _dataset(x, *rest):
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, *rest) if rest else x).batch(8)


FIT_CASES = [
    # (case, fit arguments (a function of nothing), text of the ValueError)
    ("images in [0, 255]", lambda: dict(x=_images(low=0, high=255), batch_size=8), "values from"),
    ("NaN in arrays", lambda: dict(x=_with(_images(), 5, np.nan), batch_size=8), "NaN or infinite"),
    ("inf in a dataset's first batch", lambda: dict(x=_dataset(_with(_images(), 3, np.inf))), "NaN or infinite"),
    ("[0, 255] in a dataset", lambda: dict(x=_dataset(_images(low=0, high=255))), "[-1, 1]"),
    ("[0, 255] from an iterator", lambda: dict(x=iter([_images(8, 0, 255)] * 4), steps_per_epoch=2), "values from"),
    ("empty arrays", lambda: dict(x=np.zeros((0, 4, 4, 1), "float32")), "no samples"),
    ("empty dataset", lambda: dict(x=_dataset(_images()).take(0)), "empty dataset"),
    ("labels for an unconditional model", lambda: dict(x=_images(), y=np.zeros(32, "int32")), "unconditional"),
    ("labelled dataset for an unconditional model", lambda: dict(x=_dataset(_images(), np.zeros(32, "int32"))),
     "unconditional"),
]


@pytest.mark.tensorflow_only  # the dataset cases; the array cases are backend-neutral numpy checks
@pytest.mark.parametrize("case,arguments,expected", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_fit_refuses_bad_data_with_a_clear_error(case, arguments, expected):
    model = _tiny()
    with pytest.raises(ValueError, match=None) as caught:
        model.fit(epochs=1, verbose=0, **arguments())
    assert expected in str(caught.value), str(caught.value)
    assert int(model.g_optimizer.iterations) == 0  # refused before a step


def test_fit_still_takes_images_in_range_and_toy_points_of_any_finite_value():
    import ganzoo

    _tiny().fit(_images(), epochs=1, batch_size=8, verbose=0)
    _tiny().fit(_dataset(_images()), epochs=1, verbose=0)
    toy = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=4, seed=0)
    toy.compile()
    toy.fit(np.random.default_rng(0).normal(0, 3, (32, 2)).astype("float32"), epochs=1, batch_size=8, verbose=0)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_generate_with_a_bad_batch_size_is_a_clear_error(batch_size, trained):
    from ganzoo.export import load_exported

    with pytest.raises(ValueError, match="batch_size"):
        _tiny().generate(4, batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size"):
        load_exported(trained["export"]).generate(4, batch_size=batch_size)


# ---------------------------------------------------------------------------- image folders
def _png(path, value, mode="L", size=(8, 8)):
    from PIL import Image

    channels = {"L": 1, "RGB": 3}[mode]
    array = np.full((size[1], size[0], channels), value, np.uint8).squeeze()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def _loop(folder):
    for i in range(4):
        _png(folder / f"{i}.png", 40 * i)
    (folder / "self").symlink_to(folder)


def _one_grey_first(folder):
    _png(folder / "a_grey.png", 100)
    for i in range(3):
        _png(folder / f"b_colour_{i}.png", 200, "RGB")


def _with_a_run_dir(folder):
    for i in range(4):
        _png(folder / f"{i}.png", 40 * i)
    run = folder / "runs" / "x"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    for i in range(5):
        _png(run / "samples" / f"epoch_{i:04d}.png", 9)
    export = folder / "exports" / "1"
    export.mkdir(parents=True)
    (export / "model.json").write_text("{}")
    _png(export / "preview.png", 9)


FOLDER_CASES = [
    # (case, make the folder, number of images, channels)
    ("link loop", _loop, 4, 1),
    ("one grey file sorted first", _one_grey_first, 4, 3),
    ("run dir and export inside", _with_a_run_dir, 4, 1),
]


@pytest.mark.parametrize("case,make,count,channels", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_image_folder_reads_each_image_once_with_a_stated_channel_rule(case, make, count, channels, tmp_path):
    import warnings

    from ganzoo.data import dataset_info, load_real_samples

    folder = tmp_path / "images"
    make(folder)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        info = dataset_info(str(folder))
        images = load_real_samples(str(folder), None, seed=0)
    assert info["num_examples"] == count and info["shape"][-1] == channels, info
    assert images.shape == (count, 8, 8, channels)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("orientation", range(1, 9))
def test_image_folder_applies_exif_orientation(orientation, tmp_path):
    from PIL import Image, ImageOps

    from ganzoo.data import load_real_samples

    folder = tmp_path / "images"
    folder.mkdir()
    stored = np.zeros((4, 6), np.uint8)
    stored[0, :2], stored[3, 5], stored[1, 4] = 250, 120, 60  # asymmetric: every turn looks different
    image = Image.fromarray(stored, "L")
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(folder / "photo.png", exif=exif.tobytes())
    upright = np.asarray(ImageOps.exif_transpose(Image.open(folder / "photo.png")))
    loaded = load_real_samples(str(folder), None, seed=0)
    assert loaded.shape[1:3] == upright.shape
    np.testing.assert_allclose((loaded[0, ..., 0] + 1) * 127.5, upright, atol=0.51)


def test_evaluate_without_inception_weights_is_one_line(tmp_path, run_main, monkeypatch):
    """Colour images are scored with InceptionV3, whose weights are never downloaded: without them
    `ganzoo evaluate` says which file to place where (exit 2), not a traceback."""
    from PIL import Image

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))  # no weights there
    monkeypatch.delenv("GANZOO_INCEPTION_WEIGHTS", raising=False)
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "images" / f"{i}.png")
    code, _, err = run_main(["train", "dcgan", "--dataset", str(tmp_path / "images"), "--batch-size", "8", "--width",
                             "4", "--latent-dim", "4", "--epochs", "1", "--steps-per-epoch", "1", "--quiet",
                             "--run-dir", tmp_path / "run"])
    assert code == 0, err
    code, _, err = run_main(["evaluate", tmp_path / "run", "--num-samples", "16"])
    assert code == 2 and "Traceback" not in err and "inception_v3" in err.lower(), err
    assert len(err.strip().splitlines()) == 1, err
