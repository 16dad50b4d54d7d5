"""A tiny run through the CLI as a user starts it, with stdout going to a file: plain log lines,
the checkpoints it keeps, and what a second identical command says."""

import os
import re

import pytest

SMALL = ["--batch-size", "16", "--width", "4", "--latent-dim", "8", "--steps-per-epoch", "3"]


def _train_command(tmp_path, *extra):
    return ["train", "gan", "--dataset", "gaussian_ring", "--run-dir", tmp_path / "run", "--epochs", "2", *SMALL,
            "--checkpoint-every", "1", "--keep-checkpoints", "2", *extra]


def _check_first_run(run, code, out, err):
    assert code == 0, err[-2000:]
    # stdout is not a terminal: one plain line per epoch, no progress-bar redraws or ANSI colours.
    assert "\x1b" not in out and "\r" not in out and "\b" not in out, out
    assert re.search(r"^Epoch 2/2\n3/3 - \d+s - .*d_loss: \d", out, re.M), out
    kept = sorted(name for name in os.listdir(run / "checkpoints") if name.endswith(".keras"))
    assert kept == ["ckpt-00000005.keras", "ckpt-00000006.keras"]  # 6 saves, the newest 2 kept


def test_a_run_logged_to_a_file_has_plain_lines_keeps_n_checkpoints_and_a_rerun_says_it_is_complete(
        tmp_path, run_main):
    command = _train_command(tmp_path)
    _check_first_run(tmp_path / "run", *run_main(command))
    code, out, _ = run_main(command)
    assert code == 0 and f"{tmp_path / 'run'} is complete: 6 steps (2 epochs of 3)" in out and "Epoch" not in out


@pytest.mark.slow
def test_the_quick_start_shape_in_a_subprocess_rerun_names_its_export_and_exports_once(tmp_path, run_cli):
    export = tmp_path / "exported" / "ring"
    command = _train_command(tmp_path, "--export", export)
    first = run_cli(*command)
    _check_first_run(tmp_path / "run", first.returncode, first.stdout, first.stderr)
    assert os.listdir(export) == ["1"]
    again = run_cli(*command)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{tmp_path / 'run'} is complete: 6 steps (2 epochs of 3)" in again.stdout, again.stdout
    assert f"Its export: {export / '1'}" in again.stdout and "Epoch" not in again.stdout
    assert os.listdir(export) == ["1"]  # no second export version


def test_a_lost_worker_ends_the_run_with_one_line_saying_how_to_resume(tmp_path, run_main, monkeypatch):
    """What the chief sees when another worker is killed (TensorFlow's UnavailableError from the
    collective ops, as a manual kill -9 of worker 1 of two on 127.0.0.1 gives), mapped to exit 1."""
    import types

    import tensorflow as tf

    import ganzoo.runs.train as training
    from ganzoo.errors import WorkerLost
    from ganzoo.runs.files import write_latest

    (tmp_path / "checkpoints").mkdir()
    write_latest(str(tmp_path / "checkpoints"), 100, 50)
    run = types.SimpleNamespace(config=types.SimpleNamespace(strategy="multi_worker", run_dir=str(tmp_path)))
    lost = tf.errors.UnavailableError(None, None, "Graph execution error:\nCollective ops is aborted by: "
                                                  "The following tasks are unhealthy (stopped sending heartbeats)")
    with pytest.raises(WorkerLost, match="unhealthy.*start each again with the same command.*step 100"):
        training._raise_if_worker_lost(lost, run)
    run.config.strategy = "default"
    training._raise_if_worker_lost(lost, run)  # not a cluster run: the error stays TensorFlow's

    def lose_a_worker(config, callbacks=()):
        raise training.WorkerLost("A worker of the cluster stopped (...). Stop every worker, then start each again")

    monkeypatch.setattr(training, "train", lose_a_worker)
    code, _, err = run_main(["train", "gan", "--dataset", "gaussian_ring", "--run-dir", tmp_path / "r"])
    assert code == 1 and err.strip().splitlines() == [
        "ganzoo train: A worker of the cluster stopped (...). Stop every worker, then start each again"], err
