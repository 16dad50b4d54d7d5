"""Damaged, stopped and finished run directories: a run falls back to the newest checkpoint
that loads, resumes at the step it stopped, removes its leftover temporary files, keeps its
whole history, and is not trained or exported again once complete. Checkpoints are written
atomically (fsync before the rename) with the umask's permissions; an export without its card
is still checked against its parity reference."""

import json
import os

import numpy as np
import pytest

from ganzoo.runs.train import run_log_dir


def stop_at_step(step):
    """A Keras callback that stops training after generator step `step`, mid-epoch."""
    import keras

    class StopAtStep(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.g_optimizer.iterations) == step:
                self.model.stop_training = True

    return StopAtStep()


def test_early_stop_mid_epoch_records_the_true_step_and_resumes_exactly(tmp_path, latest, read_events):
    import dataclasses

    import ganzoo
    from ganzoo.runs.record import load_run

    config = ganzoo.resolve_config("gan", dataset="gaussian_ring", epochs=3, steps_per_epoch=3, batch_size=16,
                                   width=4, latent_dim=8, quiet=True, run_dir=str(tmp_path / "stopped"))
    history = ganzoo.train(config, callbacks=[stop_at_step(4)])
    assert latest(tmp_path / "stopped")["step"] == 4 and history["step"] == [3, 4]
    assert int(load_run(config.run_dir)[1].g_optimizer.iterations) == 4
    assert sorted({step for step, _ in read_events(run_log_dir(str(tmp_path / "stopped")))[0]["epoch/d_loss"]}) == [3, 4]
    assert ganzoo.train(config)["step"] == [3, 4, 6, 9]

    whole = ganzoo.train(dataclasses.replace(config, run_dir=str(tmp_path / "whole")))
    assert whole["step"] == [3, 6, 9]
    a, b = load_run(str(tmp_path / "whole"))[1], load_run(config.run_dir)[1]
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-6)


# --------------------------------------------------------------- history and re-runs (item 5)
def test_history_holds_the_whole_run_and_a_finished_run_is_not_trained_or_exported_again(
        run, tmp_path, run_main, snapshot, ring_argv):
    args = [*ring_argv, "--run-dir", run]
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
def test_a_truncated_newest_checkpoint_falls_back_to_the_one_before(
        run, tmp_path, run_main, latest, load_checkpoint, ring_argv):
    newest = run / "checkpoints" / "ckpt-00000006.keras"
    newest.write_bytes(newest.read_bytes()[:1000])
    code, _, err = run_main(["sample", run, "--n", "4", "--out", tmp_path / "s.png"])
    assert code == 0 and "ckpt-00000006.keras" in err and "ckpt-00000003.keras" in err, err
    code, _, err = run_main([*ring_argv, "--run-dir", run, "--epochs", "3"])
    assert code == 0 and "ckpt-00000006.keras" in err
    model = load_checkpoint(run / "checkpoints" / latest(run)["file"])
    assert int(model.g_optimizer.iterations) == 9
    assert json.loads((run / "history.json").read_text())["step"] == [3, 6, 9]


def test_a_deleted_latest_json_resumes_from_the_newest_checkpoint_file(run, run_main, latest, snapshot, ring_argv):
    (run / "checkpoints" / "latest.json").unlink()
    kept = snapshot(run / "checkpoints")
    code, _, err = run_main([*ring_argv, "--run-dir", run, "--epochs", "3"])
    assert code == 0 and "latest.json is missing" in err, err
    assert latest(run)["step"] == 9
    after = snapshot(run / "checkpoints")
    for name in ("ckpt-00000003.keras", "ckpt-00000006.keras"):
        assert after[name] == kept[name]  # resumed at step 6: nothing trained again, nothing overwritten
    assert json.loads((run / "history.json").read_text())["step"] == [3, 6, 9]


def test_checkpoints_that_all_fail_to_load_are_refused_and_kept(run, run_main, snapshot, ring_argv):
    (run / "checkpoints" / "latest.json").unlink()
    for path in (run / "checkpoints").glob("ckpt-*.keras"):
        path.write_bytes(b"truncated")
    before = snapshot(run)
    code, _, err = run_main([*ring_argv, "--run-dir", run, "--epochs", "3"])
    assert code == 2 and "can be loaded" in err, err
    assert snapshot(run) == before


def test_leftover_temporary_files_are_removed_when_a_run_starts(run, run_main, ring_argv):
    leftovers = [run / "checkpoints" / ".tmp-0123456789ab-ckpt-00000009.keras", run / "config.json.tmp",
                 run / ".tmp-0123456789ab-history.json"]
    for path in leftovers:
        path.write_bytes(b"\0" * 100_000)
    assert run_main([*ring_argv, "--run-dir", run, "--epochs", "3"])[0] == 0
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


def test_an_export_without_its_card_is_checked_against_the_parity_reference(tmp_path, run_main):
    import onnx
    from onnx import numpy_helper

    from ganzoo.export import ExportError, export_generator, load_exported

    path = export_generator(_tiny_model(), str(tmp_path / "exp"), formats=("onnx",), allow_untrained=True)
    load_exported(path).generate(3, seed=0)  # intact: its card vouches for it
    onnx_path = os.path.join(path, "generator.onnx")
    proto = onnx.load(onnx_path)
    weights = max(proto.graph.initializer, key=lambda t: numpy_helper.to_array(t).size)
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) + 0.5, weights.name))
    onnx.save(proto, onnx_path)
    with pytest.raises(ExportError, match="sha256"):
        load_exported(path)
    os.remove(os.path.join(path, "model.json"))  # without a card nothing vouches for the ONNX file
    with pytest.raises(ExportError, match="model card"):
        load_exported(path)
    code, _, err = run_main(["sample", path, "--out", tmp_path / "s.png"])
    assert code == 2 and "vouched" in err and not (tmp_path / "s.png").exists()
