"""Runs you can trust (issue 12): interrupted, damaged and shared run directories recover
exactly, and every bad input is a one-line error that leaves everything as it was.

Most tests call `ganzoo.cli.main` in this process (the same code as the command, without a
TensorFlow start-up per case); the signal, lock and start-up tests run real processes.
"""

import hashlib
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from ganzoo.cli.main import main
from ganzoo.runs.files import RunLock
from ganzoo.runs.train import run_log_dir

TINY = ["--batch-size", "16", "--width", "4", "--latent-dim", "8", "--steps-per-epoch", "3", "--quiet"]
RING = ["train", "gan", "--dataset", "gaussian_ring", *TINY]


def snapshot(root):
    """Every path under `root` with its size, mtime and content hash: equal snapshots mean
    nothing was written, renamed or deleted (the run lock's file aside: taking the lock
    writes the PID into it)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + [f for f in filenames if f != ".lock"]:
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            digest = None
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            state[os.path.relpath(path, root)] = (st.st_size if digest else None, st.st_mtime_ns, digest)
    return state


def load_checkpoint(path):
    import keras

    import ganzoo.models  # noqa: F401  (registers the classes)

    return keras.models.load_model(path)


def latest(run):
    return json.loads((run / "checkpoints" / "latest.json").read_text())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished 2-epoch run (checkpoints at steps 3 and 6); copy it before changing it."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main([*RING, "--epochs", "2", "--run-dir", str(run)]) == 0
    return run


@pytest.fixture
def run(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


# ------------------------------------------------------------------ the bad-input sweep
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


# (case, argv, text the message must contain, text it must not contain, setup)
SWEEP = [
    ("seed negative", [*RING, "--run-dir", "{new}", "--seed", "-5"], "--seed", None, None),
    ("seed too large", [*RING, "--run-dir", "{new}", "--seed", "99999999999"], "--seed", None, None),
    ("gp weight nan", ["train", "wgan_gp", "--dataset", "gaussian_ring", *TINY, "--run-dir", "{new}",
                       "--gp-weight", "nan"], "--gp-weight", None, None),
    ("lr infinite", [*RING, "--run-dir", "{new}", "--g-lr", "inf"], "--g-lr", None, None),
    ("image size 30", ["train", "dcgan", *TINY, "--run-dir", "{new}", "--image-size", "30"],
     "--image-size 32", None, None),
    ("negative lr parses", [*RING, "--run-dir", "{new}", "--d-lr", "-1e-4"], "--d-lr must be > 0",
     "expected one argument", None),
    ("batch larger than data", ["train", "gan", "--dataset", "mnist_sample", "--run-dir", "{new}",
                                "--batch-size", "5000", "--quiet"], "Lower --batch-size", None, None),
    ("export dir is a file", [*RING, "--run-dir", "{new}", "--export", "{file}"], "--export", None, None),
    ("export under a file", [*RING, "--run-dir", "{new}", "--export", "{file}/exports"], "is a file", None, None),
    ("run dir under a file", [*RING, "--run-dir", "{file}/run"], "--run-dir", None, None),
    ("multi_worker without TF_CONFIG", [*RING, "--run-dir", "{new}", "--strategy", "multi_worker"], "TF_CONFIG",
     None, None),
    ("corrupt image folder", ["train", "gan", "--dataset", "dir:{folder}", "--run-dir", "{new}", "--image-size", "8",
                              *TINY], "--skip-corrupt", "skip_corrupt=True", None),
    ("garbage latest.json", [*RING, "--run-dir", "{run}", "--epochs", "3"], "latest.json", None,
     lambda run: _write(run / "checkpoints" / "latest.json", "{not json")),
    ("garbage config.json", [*RING, "--run-dir", "{run}", "--epochs", "3"], "config.json", None,
     lambda run: _write(run / "config.json", "\x00\x01 garbage")),
    ("garbage history.json", [*RING, "--run-dir", "{run}", "--epochs", "3"], "history.json", None,
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
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, argv, expected, forbidden, setup, run, tmp_path,
                                                         capsys, run_main):
    (tmp_path / "file").write_text("a file, not a directory")
    (tmp_path / "exports" / "1").mkdir(parents=True)
    places = {"new": tmp_path / "new_run", "file": tmp_path / "file", "tmp": tmp_path, "run": run,
              "folder": _corrupt_folder(tmp_path) if "{folder}" in " ".join(argv) else None,
              "exports": tmp_path / "exports"}
    if setup:
        setup(run)
    before = snapshot(tmp_path)
    code, out, err = run_main([a.format(**places) for a in argv])
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert expected in err, err
    assert forbidden is None or forbidden not in err, err
    assert snapshot(tmp_path) == before


def test_a_locked_run_dir_is_refused_naming_the_other_process(run, capsys, run_main, subprocess_env):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from ganzoo.runs.files import RunLock; "
                               "lock = RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(600)",
         str(run)], stdout=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = snapshot(run)
        code, _, err = run_main([*RING, "--run-dir", run, "--epochs", "3"])
        assert code == 2 and f"PID {holder.pid}" in err and len(err.strip().splitlines()) == 1, err
        assert snapshot(run) == before
    finally:
        holder.send_signal(signal.SIGKILL)  # a lock whose holder died never blocks the next run
        holder.wait()
    assert main([*RING, "--run-dir", str(run), "--epochs", "3"]) == 0
    RunLock(run).acquire().release()  # and the run released its own lock


@pytest.mark.slow  # a TensorFlow start-up; test_a_locked_run_dir... covers the lock in the default suite
def test_a_second_ganzoo_on_a_training_run_dir_exits_2_naming_the_first(tmp_path, capsys, run_main, subprocess_env):
    args = [*RING, "--epochs", "40", "--run-dir", tmp_path / "run"]
    first = subprocess.Popen([sys.executable, "-m", "ganzoo", *map(str, args)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        deadline = time.time() + 240
        while not (tmp_path / "run" / "checkpoints" / "latest.json").exists() and time.time() < deadline:
            assert first.poll() is None, first.communicate()[1]
            time.sleep(0.02)
        code, _, err = run_main(args)
        assert first.poll() is None, "the first run ended before the second started"
        assert code == 2 and f"PID {first.pid}" in err and "Traceback" not in err, err
    finally:
        first.kill()
        first.wait()
    # The killed run's lock went with it: resume, one more epoch.
    epochs = latest(tmp_path / "run")["epoch"] + 1
    assert run_main([*args[:-4], "--epochs", epochs, *args[-2:]])[0] == 0
    assert latest(tmp_path / "run")["step"] == 3 * epochs


# ------------------------------------------------------------------ interrupts (items 1-3)
# Checkpoints every 7 steps show the progress; an interrupt can land in a step, a save or an
# epoch's end.
RESUME = ["train", "wgan_gp", "--dataset", "gaussian_ring", "--epochs", "6", "--steps-per-epoch", "40",
          "--checkpoint-every", "7", "--batch-size", "16", "--width", "8", "--latent-dim", "2", "--n-critic", "2",
          "--seed", "5", "--deterministic", "--quiet"]


@pytest.fixture
def interrupt_at_a_random_moment(subprocess_env, default_sigint):
    return lambda *args: _interrupt_at_a_random_moment(*args, env=subprocess_env(), preexec_fn=default_sigint)


def _interrupt_at_a_random_moment(run, signum, after_step, rng, env, preexec_fn):
    """Start the run, wait until it passed `after_step`, signal it at a random moment within the
    next 0.3 s; returns (exit code, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", *RESUME, "--run-dir", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=preexec_fn)
    record = run / "checkpoints" / "latest.json"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(record.read_text())["step"] > after_step:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.3))
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def _saved_step(out):
    match = re.search(r"saved a checkpoint at step (\d+)", out)
    assert match, out
    return int(match.group(1))


def test_sigint_sigterm_and_kill_9_at_random_moments_then_resume_equal_the_uninterrupted_run_bit_for_bit(tmp_path, subprocess_env,
                                                                                                interrupt_at_a_random_moment):
    whole = tmp_path / "whole"  # trains meanwhile (without the periodic checkpoints, which change nothing)
    uninterrupted = subprocess.Popen([sys.executable, "-m", "ganzoo", *RESUME[:8], *RESUME[10:], "--run-dir", str(whole)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    rng = random.Random()
    run = tmp_path / "interrupted"
    code, out, err = interrupt_at_a_random_moment(run, signal.SIGINT, 10, rng)
    assert code == 130 and "Traceback" not in err, (out, err)
    first = _saved_step(out)
    # The file holds exactly the steps the message names (it held one more before).
    assert int(load_checkpoint(run / "checkpoints" / latest(run)["file"]).g_optimizer.iterations) == first
    code, out, err = interrupt_at_a_random_moment(run, signal.SIGTERM, first + 10, rng)
    assert code == 143 and "SIGTERM" in err and "Traceback" not in err, (out, err)
    second = _saved_step(out)
    # kill -9 saves nothing: the run resumes from its last checkpoint (every 7 steps), whatever
    # it was writing at the time.
    assert interrupt_at_a_random_moment(run, signal.SIGKILL, second + 10, rng)[0] == -signal.SIGKILL
    third = latest(run)["step"]
    assert 0 < first < second < third < 240, (first, second, third)
    assert subprocess.run([sys.executable, "-m", "ganzoo", *RESUME, "--run-dir", str(run)], capture_output=True,
                          env=subprocess_env(), timeout=300).returncode == 0
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.communicate()[1]

    a = load_checkpoint(whole / "checkpoints" / latest(whole)["file"])
    b = load_checkpoint(run / "checkpoints" / latest(run)["file"])
    assert int(a.g_optimizer.iterations) == int(b.g_optimizer.iterations) == 240
    pairs = [(x, y) for net in ("generator", "discriminator") for x, y in
             zip(getattr(a, net).weights, getattr(b, net).weights)]
    pairs += list(zip(a.d_optimizer.variables + a.g_optimizer.variables,
                      b.d_optimizer.variables + b.g_optimizer.variables))
    largest = max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in pairs)
    print(f"SIGINT at step {first}, SIGTERM at {second}, kill -9 after {third}: max |dweight| = {largest}")
    assert largest == 0.0
    history = json.loads((run / "history.json").read_text())
    assert history["step"] == json.loads((whole / "history.json").read_text())["step"] == list(range(40, 241, 40))
    assert not [p for p in run.rglob(".tmp-*")]


def stop_at_step(step):
    """A Keras callback that stops training after generator step `step`, mid-epoch."""
    import keras

    class StopAtStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.g_optimizer.iterations) == step:
                self.model.stop_training = True

    return StopAtStep()


def test_early_stop_mid_epoch_records_the_true_step_and_resumes_exactly(tmp_path):
    import dataclasses

    import ganzoo
    from ganzoo.runs.train import load_run

    config = ganzoo.resolve_config("gan", dataset="gaussian_ring", epochs=3, steps_per_epoch=3, batch_size=16,
                                   width=4, latent_dim=8, quiet=True, run_dir=str(tmp_path / "stopped"))
    history = ganzoo.train(config, callbacks=[stop_at_step(4)])
    assert latest(tmp_path / "stopped")["step"] == 4 and history["step"] == [3, 4]
    assert int(load_run(config.run_dir)[1].g_optimizer.iterations) == 4
    assert sorted(_epoch_steps(run_log_dir(str(tmp_path / "stopped")))) == [3, 4]
    assert ganzoo.train(config)["step"] == [3, 4, 6, 9]

    whole = ganzoo.train(dataclasses.replace(config, run_dir=str(tmp_path / "whole")))
    assert whole["step"] == [3, 6, 9]
    a, b = load_run(str(tmp_path / "whole"))[1], load_run(config.run_dir)[1]
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-6)


def _epoch_steps(log_dir):
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    steps = set()
    for name in os.listdir(log_dir):
        for record in tf.data.TFRecordDataset(os.path.join(log_dir, name)):
            event = event_pb2.Event.FromString(record.numpy())
            if any(v.tag == "epoch/d_loss" for v in event.summary.value):
                steps.add(event.step)
    return steps


# --------------------------------------------------------------- history and re-runs (item 5)
def test_history_holds_the_whole_run_and_a_finished_run_is_not_trained_or_exported_again(run, tmp_path, capsys, run_main):
    args = [*RING, "--run-dir", run]
    original = json.loads((run / "history.json").read_text())
    assert original["step"] == [3, 6]
    code, out, _ = run_main([*args, "--epochs", "3", "--export", tmp_path / "exp"])
    assert code == 0 and (tmp_path / "exp" / "1").is_dir()
    history = json.loads((run / "history.json").read_text())
    assert history["step"] == [3, 6, 9] and history["d_loss"][:2] == original["d_loss"]

    before = snapshot(tmp_path)
    for epochs in ("3", "1"):  # the same command, and one asking for fewer epochs
        code, out, _ = run_main([*args, "--epochs", epochs, "--export", tmp_path / "exp"])
        assert code == 0 and "is complete: 9 steps" in out and f"Its export: {tmp_path / 'exp' / '1'}" in out, out
    assert snapshot(tmp_path) == before  # history kept, no second export version
    code, out, _ = run_main([*args, "--epochs", "3"])  # without --export: the run's own
    assert f"Its export: {tmp_path / 'exp' / '1'}" in out


# ------------------------------------------------------------------ damaged state (6-11)
def test_a_truncated_newest_checkpoint_falls_back_to_the_one_before(run, tmp_path, capsys, run_main):
    newest = run / "checkpoints" / "ckpt-00000006.keras"
    newest.write_bytes(newest.read_bytes()[:1000])
    code, _, err = run_main(["sample", run, "--n", "4", "--out", tmp_path / "s.png"])
    assert code == 0 and "ckpt-00000006.keras" in err and "ckpt-00000003.keras" in err, err
    code, _, err = run_main([*RING, "--run-dir", run, "--epochs", "3"])
    assert code == 0 and "ckpt-00000006.keras" in err
    model = load_checkpoint(run / "checkpoints" / latest(run)["file"])
    assert int(model.g_optimizer.iterations) == 9
    assert json.loads((run / "history.json").read_text())["step"] == [3, 6, 9]


def test_a_deleted_latest_json_resumes_from_the_newest_checkpoint_file(run, capsys, run_main):
    (run / "checkpoints" / "latest.json").unlink()
    kept = snapshot(run / "checkpoints")
    code, _, err = run_main([*RING, "--run-dir", run, "--epochs", "3"])
    assert code == 0 and "latest.json is missing" in err, err
    assert latest(run)["step"] == 9
    after = snapshot(run / "checkpoints")
    for name in ("ckpt-00000003.keras", "ckpt-00000006.keras"):
        assert after[name] == kept[name]  # resumed at step 6: nothing trained again, nothing overwritten
    assert json.loads((run / "history.json").read_text())["step"] == [3, 6, 9]


def test_checkpoints_that_all_fail_to_load_are_refused_and_kept(run, capsys, run_main):
    (run / "checkpoints" / "latest.json").unlink()
    for path in (run / "checkpoints").glob("ckpt-*.keras"):
        path.write_bytes(b"truncated")
    before = snapshot(run)
    code, _, err = run_main([*RING, "--run-dir", run, "--epochs", "3"])
    assert code == 2 and "can be loaded" in err, err
    assert snapshot(run) == before


def test_leftover_temporary_files_are_removed_when_a_run_starts(run, capsys, run_main):
    leftovers = [run / "checkpoints" / ".tmp-0123456789ab-ckpt-00000009.keras", run / "config.json.tmp",
                 run / ".tmp-0123456789ab-history.json"]
    for path in leftovers:
        path.write_bytes(b"\0" * 100_000)
    assert run_main([*RING, "--run-dir", run, "--epochs", "3"])[0] == 0
    assert not any(path.exists() for path in leftovers)
    assert not [p for p in run.rglob("*") if p.name.startswith(".tmp-")]


def _tiny_model():
    import ganzoo

    model = ganzoo.GAN(data_shape=(2,), latent_dim=2, width=4, seed=0)
    model.compile()
    return model


def test_checkpoints_are_fsynced_before_the_rename_and_follow_the_umask(tmp_path, monkeypatch):
    from ganzoo.runs.checkpoints import save_checkpoint

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.fspath(src)))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    previous = os.umask(0o027)
    try:
        save_checkpoint(_tiny_model(), str(tmp_path), 7, 7)
    finally:
        os.umask(previous)
    temporary = next(path for kind, path in events
                     if kind == "replace" and os.path.basename(path).startswith(".tmp-") and path.endswith(".keras"))
    assert events.index(("fsync", temporary)) < events.index(("replace", temporary))
    for name in ("ckpt-00000007.keras", "latest.json"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o640, name


def test_an_export_without_its_card_is_checked_against_the_parity_reference(tmp_path, capsys, run_main):
    import onnx
    from onnx import numpy_helper

    from ganzoo.export import ExportError, export_generator, load_exported

    path = export_generator(_tiny_model(), str(tmp_path / "exp"), formats=("onnx",), allow_untrained=True)
    os.remove(os.path.join(path, "model.json"))
    load_exported(path).generate(3, seed=0)  # intact: it reproduces the stored batch
    onnx_path = os.path.join(path, "generator.onnx")
    proto = onnx.load(onnx_path)
    weights = max(proto.graph.initializer, key=lambda t: numpy_helper.to_array(t).size)
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) + 0.5, weights.name))
    onnx.save(proto, onnx_path)
    with pytest.raises(ExportError, match="parity_reference.npz"):
        load_exported(path)
    code, _, err = run_main(["sample", path, "--out", tmp_path / "s.png"])
    assert code == 2 and "corrupt" in err and not (tmp_path / "s.png").exists()


# ---------------------------------------------------------------- the Python API (12, 18)
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


# ------------------------------------------------------------------- evaluate (14, 17)
def test_evaluate_uses_the_runs_image_size_and_caps_the_real_set(tmp_path, capsys, monkeypatch, run_main):
    run = tmp_path / "run32"
    assert main(["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "32", "--epochs", "1",
                 "--run-dir", str(run), "--batch-size", "8", "--width", "4", "--latent-dim", "4",
                 "--steps-per-epoch", "1", "--quiet"]) == 0
    common = ["evaluate", run, "--num-samples", "40", "--feature-extractor", "none", "--metrics", "pr"]
    code, out, err = run_main([*common, "--num-real", "100"])
    assert code == 0 and "40 generated samples vs 100 real examples of mnist_sample split 'test'" in out, err
    code, _, err = run_main([*common[:-1], "modes"])
    assert code == 2 and "toy" in err and "toy=" not in err, err
    assert json.loads((run / "metrics.json").read_text())["num_real"] == 100
    monkeypatch.setattr("ganzoo.cli.evaluate.DEFAULT_NUM_REAL", 300)
    assert run_main([*common, "--split", "train"])[0] == 0
    report = json.loads((run / "metrics.json").read_text())
    assert (report["split"], report["num_real"]) == ("train", 300)


def test_evaluate_compares_mnist_sample_with_its_held_out_split_by_default(run_main, tmp_path):
    """The reference set is the 500 held-out digits (as in README Results), named in the table and the file."""
    run = tmp_path / "mnist"
    assert run_main(["train", "dcgan", "--dataset", "mnist_sample", "--epochs", "1", "--run-dir", run,
                     "--batch-size", "8", "--width", "4", "--latent-dim", "4", "--steps-per-epoch", "1",
                     "--quiet"])[0] == 0
    code, out, err = run_main(["evaluate", run, "--num-samples", "30", "--feature-extractor", "none",
                               "--metrics", "pr"])
    reference = "500 real examples of mnist_sample split 'test' (held out from training)"
    assert code == 0 and f"30 generated samples vs {reference}:" in out, err
    report = json.loads((run / "metrics.json").read_text())
    assert (report["split"], report["num_real"], report["reference"]) == ("test", 500, reference)


def test_evaluate_that_cannot_write_its_default_file_keeps_the_table(run, capsys, run_main):
    (run / "metrics.json").mkdir()  # something in the way of RUN_DIR/metrics.json
    code, out, err = run_main(["evaluate", run, "--num-samples", "300"])
    assert code == 2 and "w1" in out and "could not write" in err and "--out" in err, (out, err)
    assert len(err.strip().splitlines()) == 1 and not [p for p in run.iterdir() if p.name.startswith(".tmp-")]


# ----------------------------------------------------------------------- start-up (19)
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


def test_an_interrupt_dropped_where_the_handler_ran_is_raised_again():
    """Python runs signal handlers wherever the main thread is, also in a __del__ or a GC
    callback, where the exception is printed and dropped (the CI run that found this exited 0
    with a Terminated traceback; another printed a KeyboardInterrupt traceback from JAX's GC
    callback): the handler records it, the callbacks raise it again, and the dropped one is not
    printed (the run prints its own one-line message). Other dropped exceptions still are."""
    import gc

    from ganzoo.runs.signals import Terminated, reraise_dropped_interrupt, sigterm_as_interrupt

    class SignalledInDel:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises inside __del__: dropped

    class FailsInDel:
        def __del__(self):
            raise ValueError("a real bug")

    printed = []
    previous, sys.unraisablehook = sys.unraisablehook, lambda unraisable: printed.append(unraisable.exc_type)
    try:
        with pytest.raises(Terminated), sigterm_as_interrupt():
            SignalledInDel()  # unreferenced at once: __del__ runs here
            gc.collect()
            FailsInDel()
            reraise_dropped_interrupt()  # what StepAware.on_train_batch_begin calls
    finally:
        sys.unraisablehook = previous
    assert printed == [ValueError]
    reraise_dropped_interrupt()  # handled: nothing pending afterwards
