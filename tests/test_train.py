"""Training runs end to end: the CLI, run directory, TensorBoard events, checkpoints,
resume, config-change refusal, NaN guard and user mistakes. Resuming after kill -9, Ctrl-C and
SIGTERM bit for bit: tests/test_signals.py."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ganzoo.cli.main import main
from ganzoo.runs.train import run_log_dir

TINY = ["--batch-size", "16", "--width", "4", "--latent-dim", "8", "--steps-per-epoch", "3", "--quiet"]


def summary_values(log_dir):
    """(event, summary value) of every value in a run's TensorBoard event files."""
    from tensorflow.core.util import event_pb2
    import tensorflow as tf

    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                yield event, value


def event_tags(log_dir):
    tags = {}
    for _, value in summary_values(log_dir):
        tags.setdefault(value.tag, value.metadata.plugin_data.plugin_name)
    return tags


@pytest.mark.both_backends
def test_cli_train_writes_config_events_checkpoints_and_samples(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "dcgan", "--dataset", "mnist_sample", "--epochs", "2", "--run-dir", str(run),
                 "--ema", "0.9", *TINY]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "dcgan" and config["ema"] == 0.9 and config["batch_size"] == 16
    assert sorted(os.listdir(run / "samples")) == ["epoch_0001.png", "epoch_0002.png"]
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert latest["step"] == 6 and (run / "checkpoints" / latest["file"]).exists()
    tags = event_tags(run_log_dir(str(run)))
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert tags[f"epoch/{key}"] == "scalars" and tags[f"step/{key}"] == "scalars"
    assert tags["learning_rate/d"] == "scalars" and tags["learning_rate/g"] == "scalars"
    assert tags["samples"] == "images"
    assert tags["config"] == "text"
    assert any(plugin == "hparams" for plugin in tags.values())
    out = tmp_path / "grid.png"
    assert main(["sample", str(run), "--n", "9", "--out", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).size[0] > 28


@pytest.mark.both_backends
def test_resume_continues_from_the_checkpoint_and_refuses_a_changed_config(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "gan", "--dataset", "gaussian_ring", "--run-dir", str(run), *TINY]
    assert main([*args, "--epochs", "1"]) == 0
    assert main([*args, "--epochs", "2"]) == 0
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 6
    assert main([*args, "--epochs", "3", "--beta-1", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "beta_1" in err


def test_nan_guard_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys, read_events):
    run = tmp_path / "run"
    args = ["train", "gan", "--dataset", "gaussian_ring", "--run-dir", str(run), *TINY]
    assert main([*args, "--epochs", "1"]) == 0
    good = json.loads((run / "checkpoints" / "latest.json").read_text())
    # Resume with a poisoned discriminator: the next step's losses are NaN.
    import keras
    import ganzoo.models  # noqa: F401  (registers the classes)

    path = run / "checkpoints" / good["file"]
    model = keras.models.load_model(path)
    model.discriminator.weights[0].assign(np.full(model.discriminator.weights[0].shape, np.nan, "float32"))
    model.save(path)
    mtime = os.path.getmtime(path)
    assert main([*args, "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    assert "diverged at step 4" in err
    assert json.loads((run / "checkpoints" / "latest.json").read_text()) == good
    assert os.path.getmtime(path) == mtime
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    statuses = [plugin_data_pb2.HParamsPluginData.FromString(content).session_end_info.status
                for _, content in read_events(run_log_dir(str(run)))[0]["_hparams_/session_end_info"]]
    assert statuses == [api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE]  # HParams: first epoch done, then NaN


@pytest.mark.parametrize("argv,message", [
    (["train", "nope"], "Unknown model or preset 'nope'"),
    (["train", "dcgan", "--dataset", "no_such_data"], "no_such_data"),
    (["train", "dcgan", "--epochs", "0"], "--epochs: must be a positive integer, got 0"),
    (["train", "dcgan", "--batch-size", "-4"], "--batch-size: must be a positive integer, got -4"),
    (["train", "dcgan", "--steps-per-epoch", "0"], "--steps-per-epoch: must be a positive integer"),
    (["train", "dcgan", "--ema", "1.5"], "--ema must be in (0, 1)"),
])
def test_user_mistakes_exit_2_without_traceback(argv, message, run_main, tmp_path):
    code, _, err = run_main([*argv, "--run-dir", tmp_path / "r"])
    assert code == 2 and "Traceback" not in err and message in err, err
    assert not (tmp_path / "r").exists()


def test_run_dir_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["train", "gan", "--dataset", "gaussian_ring", "--run-dir", str(target), *TINY]) == 2
    assert "is a file" in capsys.readouterr().err


def test_training_logs_toy_metrics_and_collapse_alarm_then_evaluate_cli(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "gan", "--dataset", "gaussian_ring", "--run-dir", str(run), "--epochs", "1",
                 "--eval-every", "1", "--eval-samples", "500", *TINY]) == 0
    tags = event_tags(run_log_dir(str(run)))
    for tag in ("metrics/modes", "metrics/high_quality", "metrics/js", "metrics/w1", "collapse/alarm",
                "collapse/diversity", "collapse/coverage"):
        assert tags[tag] == "scalars", tag
    assert main(["evaluate", str(run), "--num-samples", "500"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    assert 0 <= metrics["modes"] <= 8 and 0 <= metrics["js"] <= np.log(2) + 1e-6
    assert main(["evaluate", str(run), "--metrics", "coverage"]) == 2


@pytest.mark.both_backends
def test_cli_export_then_sample_and_evaluate_the_export(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "dcgan", "--dataset", "mnist_sample", "--epochs", "1", "--run-dir", str(run),
                 *TINY]) == 0
    base = tmp_path / "exported" / "tiny"
    assert main(["export", str(run), "--out", str(base)]) == 0
    card = json.loads((base / "1" / "model.json").read_text())
    assert card["dataset"] == "mnist_sample" and card["latent_dim"] == 8
    assert (base / "1" / "saved_model.pb").exists() and (base / "1" / "generator.onnx").exists()
    assert main(["export", str(run), "--out", str(base), "--version", "1"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["sample", str(base), "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    from ganzoo.export import load_exported
    from ganzoo.runs.record import load_run

    _, model = load_run(str(run))
    np.testing.assert_allclose(model.generate(5, seed=3), load_exported(str(base)).generate(5, seed=3), atol=1e-4)
    assert main(["evaluate", str(base), "--num-samples", "200", "--metrics", "fid,coverage",
                 "--out", str(tmp_path / "m.json")]) == 0
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]
    # The export and its run dir make the same samples, so they score the same.
    assert main(["evaluate", str(run), "--num-samples", "200", "--metrics", "fid,coverage",
                 "--out", str(tmp_path / "run.json")]) == 0
    from_run = json.loads((tmp_path / "run.json").read_text())["metrics"]
    assert from_run["digits_covered"] == metrics["digits_covered"]
    assert from_run["mnist_fd"] == pytest.approx(metrics["mnist_fd"], rel=1e-3)


def test_list_shows_models_presets_and_datasets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("wgan_gp", "dcgan_mnist", "wgan_gp_cifar10", "mnist_sample", "gaussian_grid"):
        assert name in out


def _free_ports(n):
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.tensorflow_only  # MultiWorkerMirroredStrategy
def test_multi_worker_on_loopback_ends_with_identical_generators(tmp_path, subprocess_env):
    """Two worker processes on 127.0.0.1 train 3 steps with MultiWorkerMirroredStrategy."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run = tmp_path / "run"
    args = [sys.executable, "-m", "ganzoo", "train", "gan", "--dataset", "gaussian_ring", "--strategy",
            "multi_worker", "--epochs", "1", "--run-dir", str(run), *TINY]
    procs = []
    for index in range(2):
        env = subprocess_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    outputs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
        outputs.append((proc.returncode, err[-6000:]))
    if any(code != 0 for code, _ in outputs):
        # pytest.fail, not an assert: its message is shown whole (TensorFlow's collective errors
        # name their cause, e.g. a failed peer health check, in lines an assert's repr cuts).
        pytest.fail("\n\n".join(f"worker {i} exited with {code}; the end of its stderr:\n{err}"
                                  for i, (code, err) in enumerate(outputs)))

    import keras
    import ganzoo.models  # noqa: F401  (registers the classes)

    chief_dir = run / "checkpoints"
    other_dir = run / ".worker-1" / "checkpoints"
    models = [keras.models.load_model(d / json.loads((d / "latest.json").read_text())["file"])
              for d in (chief_dir, other_dir)]
    assert int(models[0].g_optimizer.iterations) == 3
    for a, b in zip(models[0].generator.weights, models[1].generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert (run / "config.json").exists() and (run / "samples" / "epoch_0001.png").exists()


@pytest.mark.both_backends
def test_nan_guard_names_the_exact_step_inside_a_compiled_call_without_a_sync_per_call(tiny_model):
    """Losses are checked on the device: with 4 steps per compiled call, a NaN batch at step 6
    is named as step 6. The callbacks read the call's logs, which Keras converts to Python
    numbers anyway: on JAX (and torch) on a worker thread, because every callback of the run is
    `async_safe`, so no call waits for the device on the main thread; on TensorFlow on the main
    thread whatever the callbacks (the backend has no asynchronous dispatch)."""
    import keras

    import ganzoo
    from ganzoo.models.keras_internals import callbacks_run_async, is_default
    from ganzoo.runs.callbacks.checkpointer import Checkpointer
    from ganzoo.runs.callbacks.nan_guard import NaNGuard
    from ganzoo.runs.callbacks.tensorboard import SampleQualityLogger, TensorBoardLogger

    assert NaNGuard.async_safe and Checkpointer.async_safe and TensorBoardLogger.async_safe
    assert is_default(SampleQualityLogger.on_train_batch_end)
    on_tensorflow = keras.backend.backend() == "tensorflow"
    for callbacks in ([NaNGuard(12)], [keras.callbacks.Callback()]):  # with the guard, and as a bare fit
        assert callbacks_run_async(callbacks) is not on_tensorflow
    model = tiny_model(ganzoo.GAN, (2,))
    model.compile(steps_per_execution=4)
    x = np.random.default_rng(0).uniform(-1, 1, (8 * 12, 2)).astype("float32")
    x[5 * 8] = np.nan  # batch 5: step 6
    guard = NaNGuard(12)
    model.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    assert guard.failure and "diverged at step 6 (epoch 1)" in guard.failure, guard.failure
    assert "d_loss=nan" in guard.failure


def event_scalars(log_dir, tag):
    """[(step, value)] of one scalar tag in a run's TensorBoard events, in step order."""
    import tensorflow as tf

    return sorted((event.step, value.simple_value if value.HasField("simple_value") else
                   tf.make_ndarray(value.tensor).item())
                  for event, value in summary_values(log_dir) if value.tag == tag)


@pytest.mark.both_backends
def test_lr_decay_holds_then_falls_linearly_and_a_resume_stretches_it(tmp_path):
    """--lr-decay 0.5: each epoch's rates are the line's value in the epoch's middle, held for the
    first half of the run; a run resumed with more epochs decays towards its new end."""
    from ganzoo.runs.callbacks.lr_decay import decay_factor

    assert [decay_factor(s, 100, 0.5) for s in (0, 50, 75, 100, 120)] == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert decay_factor(25, 100, 1.0) == 0.75
    run = str(tmp_path / "run")
    args = ["train", "dcgan", "--dataset", "mnist_sample", "--run-dir", run, "--lr-decay", "0.5",
            "--d-lr", "1e-3", "--g-lr", "2e-3", *TINY]
    assert main([*args, "--epochs", "2"]) == 0  # 6 steps: epoch 2's middle (4.5) is half way down
    assert main([*args, "--epochs", "4"]) == 0  # 12 steps: epochs 3 and 4 at 7.5 and 10.5
    for tag, base in (("learning_rate/d", 1e-3), ("learning_rate/g", 2e-3)):
        points = event_scalars(run_log_dir(run), tag)
        assert [step for step, _ in points] == [3, 6, 9, 12]
        np.testing.assert_allclose([v for _, v in points], [base, 0.5 * base, 0.75 * base, 0.25 * base], rtol=1e-6)
