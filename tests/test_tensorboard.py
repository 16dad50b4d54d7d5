"""What TensorBoard shows of a run, read back from the event files: the run's name, per-step
values (not Keras' running means), and HParams sessions that carry the run's metrics."""

import glob
import itertools
import os

import numpy as np
import pytest

TINY = ["--batch-size", "16", "--width", "4", "--latent-dim", "8", "--steps-per-epoch", "3", "--quiet"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from ganzoo.cli.main import main

    run = tmp_path_factory.mktemp("tb") / "ring_run"
    assert main(["train", "gan", "--dataset", "gaussian_ring", "--run-dir", str(run), "--epochs", "2",
                 "--log-every", "1", "--eval-every", "1", "--eval-samples", "300", *TINY]) == 0
    return run


def test_events_go_to_a_directory_named_after_the_run(ring_run):
    from ganzoo.runs.train import run_log_dir

    assert run_log_dir(str(ring_run)) == str(ring_run / "logs" / "ring_run")
    assert os.listdir(ring_run / "logs") == ["ring_run"]  # TensorBoard names it, not "."
    assert glob.glob(str(ring_run / "logs" / "ring_run" / "events.out.tfevents.*"))


def test_a_run_that_logged_into_logs_itself_keeps_that_layout(tmp_path):
    from ganzoo.runs.train import run_log_dir

    (tmp_path / "old" / "logs").mkdir(parents=True)
    (tmp_path / "old" / "logs" / "events.out.tfevents.1.host.2.v2").write_bytes(b"")
    assert run_log_dir(str(tmp_path / "old")) == str(tmp_path / "old" / "logs")


def test_step_scalars_are_the_steps_own_values_and_average_to_the_epoch_value(ring_run, read_events):
    values, plugins = read_events(str(ring_run / "logs" / "ring_run"))
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert plugins[f"step/{key}"] == "scalars"
        steps = dict(values[f"step/{key}"])
        assert sorted(steps) == [1, 2, 3, 4, 5, 6]
        for epoch_end, epoch_value in values[f"epoch/{key}"]:
            own = [steps[s] for s in range(epoch_end - 2, epoch_end + 1)]
            # Running means would end at the epoch's value and average to something else.
            np.testing.assert_allclose(np.mean(own), epoch_value, rtol=1e-5, atol=1e-6)
        assert len(set(steps.values())) > 1


def test_step_scalars_are_interval_means_also_when_calls_arrive_out_of_order(tmp_path, read_events):
    """Calls of 2 steps begin in order on the main thread, then hand over their running means in
    the order Keras' worker threads finish (JAX, torch): 1, 5, 3, 7. The points are the means of
    steps 1-2, 3-4, 5-6 and 7-8 all the same; the epoch's last counts the steps the device ran."""
    import types

    from ganzoo.runs.callbacks.tensorboard import TensorBoardLogger

    losses = [1.0, 3.0, 2.0, 6.0, 0.5, 1.5, 4.0, 8.0]
    running = np.cumsum(losses) / np.arange(1, 9)
    model = types.SimpleNamespace(_trackers={"d_loss": None},
                                  _nonfinite=types.SimpleNamespace(steps=types.SimpleNamespace(value=np.int32(8))))
    logger = TensorBoardLogger(str(tmp_path), 8, np.zeros((1, 2), "float32"), log_every=2)
    logger.set_model(model)
    logger.on_epoch_begin(0)
    for begin in (0, 2, 4, 6):
        logger.on_train_batch_begin(begin)
    for end in (1, 5, 3, 7):
        logger.on_train_batch_end(end, {"d_loss": float(running[end])})
    logger._epoch_points(8)
    logger.on_train_end()
    values, _ = read_events(str(tmp_path))
    assert values["step/d_loss"] == [(2, pytest.approx(2.0)), (4, pytest.approx(4.0)), (6, pytest.approx(1.0)),
                                     (8, pytest.approx(6.0))]


def test_hparams_session_carries_the_runs_metrics_and_ends_with_success(ring_run, read_events):
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    values, plugins = read_events(str(ring_run / "logs" / "ring_run"))
    start = plugin_data_pb2.HParamsPluginData.FromString(values["_hparams_/session_start_info"][0][1])
    assert start.session_start_info.hparams["model"].string_value == "gan"
    assert start.session_start_info.hparams["dataset"].string_value == "gaussian_ring"
    end = plugin_data_pb2.HParamsPluginData.FromString(values["_hparams_/session_end_info"][-1][1])
    assert end.session_end_info.status == api_pb2.STATUS_SUCCESS
    # The HParams tab shows the last value of every scalar of the session's run: the final
    # losses, the periodic sample-quality metrics and the collapse alarm are in that run.
    for tag in ("epoch/d_loss", "epoch/g_loss", "metrics/modes", "metrics/high_quality", "metrics/w1",
                "collapse/alarm", "collapse/sample_coverage"):
        assert plugins[tag] == "scalars" and values[tag][-1][0] == 6, tag


def _logged_fit(tmp_path, tiny_model, read_events, n_batches, epochs, steps_per_epoch, log_every):
    """A tiny GAN fit on `n_batches` batches of 8 points an epoch, 4 steps per compiled call,
    with a TensorBoardLogger; the step and epoch scalars of d_loss and g_loss it wrote."""
    import ganzoo
    from ganzoo.runs.callbacks.tensorboard import TensorBoardLogger

    model = tiny_model(ganzoo.GAN, (2,))
    model.compile(steps_per_execution=4)
    x = np.random.default_rng(0).uniform(-1, 1, (8 * n_batches, 2)).astype("float32")
    logger = TensorBoardLogger(str(tmp_path), steps_per_epoch, np.zeros((4, 4), "float32"), log_every=log_every)
    model.fit(x, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=[logger])
    values, _ = read_events(str(tmp_path))
    return values, int(np.asarray(model.g_optimizer.iterations))


@pytest.mark.both_backends
def test_an_epoch_of_one_call_gets_its_own_point(tmp_path, tiny_model, read_events):
    """One compiled call per epoch: every epoch's point has as many steps behind it as the last
    epoch's; it is still the new epoch's mean (the means restart at each epoch)."""
    values, _ = _logged_fit(tmp_path, tiny_model, read_events, n_batches=4, epochs=3, steps_per_epoch=4, log_every=4)
    for key in ("d_loss", "g_loss"):
        epoch = values[f"epoch/{key}"]
        assert [s for s, _ in values[f"step/{key}"]] == [4, 8, 12] == [s for s, _ in epoch]
        np.testing.assert_allclose([v for _, v in values[f"step/{key}"]], [v for _, v in epoch], rtol=1e-5)


@pytest.mark.both_backends
def test_a_last_call_that_ran_out_of_data_is_counted_by_its_real_steps(tmp_path, tiny_model, read_events):
    """10 batches at 4 steps per call: the last call runs 2 steps, though Keras reports it as
    ending at batch 12. The epoch's last point is at step 10 and weighs 2 steps: the points,
    weighted by their steps, average to the epoch's value."""
    values, steps = _logged_fit(tmp_path, tiny_model, read_events, n_batches=10, epochs=1, steps_per_epoch=10, log_every=4)
    assert steps == 10
    for key in ("d_loss", "g_loss"):
        points = values[f"step/{key}"]
        assert [s for s, _ in points] == [4, 8, 10]
        weighted = (4 * points[0][1] + 4 * points[1][1] + 2 * points[2][1]) / 10
        np.testing.assert_allclose(weighted, values[f"epoch/{key}"][0][1], rtol=1e-5, atol=1e-6)
    # Three different points (one key's means over two spans can coincide in float32: on torch
    # d_loss's do; the pair of both losses does not).
    assert len({(d, g) for (_, d), (_, g) in zip(values["step/d_loss"], values["step/g_loss"])}) == 3


def test_the_event_writer_writes_what_tf_summary_writes(tmp_path, read_events):
    """Scalars, an image, a text and the HParams session start and end, through the pure-Python
    writer and through `tf.summary`: the same tags, steps, plugin metadata and tensors."""
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import api as hp
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams import summary as hp_v1
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    from tensorboard.util.tensor_util import make_ndarray

    from ganzoo.runs.callbacks.event_writer import EventWriter, hparams_summary, session_end_summary

    picture = np.random.default_rng(0).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    config = {"lr": 0.0002, "model": "dcgan", "ema": True, "batch": 64}
    ours = EventWriter(str(tmp_path / "ours"))
    ours.scalars({"epoch/d_loss": 1.25, "learning_rate/g": 2e-4}, step=7)
    ours.image("samples", picture, step=7)
    ours.text("config", "    lr: 0.0002", step=0)
    ours.summary(hparams_summary(config), step=0)
    ours.summary(session_end_summary(succeeded=True), step=7)
    ours.close()
    theirs = tf.summary.create_file_writer(str(tmp_path / "theirs"))
    with theirs.as_default():
        tf.summary.scalar("epoch/d_loss", 1.25, step=7)
        tf.summary.scalar("learning_rate/g", 2e-4, step=7)
        tf.summary.image("samples", picture[None], step=7)
        tf.summary.text("config", "    lr: 0.0002", step=0)
    with theirs.as_default(step=0):
        hp.hparams(config)
    with theirs.as_default():
        tf.summary.experimental.write_raw_pb(hp_v1.session_end_pb(api_pb2.STATUS_SUCCESS).SerializeToString(), step=7)
    theirs.flush()

    def values(directory):
        found = {}
        for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*.v2"))):
            for record in tf.data.TFRecordDataset(path):
                event = event_pb2.Event.FromString(record.numpy())
                for value in event.summary.value:
                    # tf.summary also names the summary (name scope) in display fields; compare the rest.
                    value.metadata.ClearField("display_name")
                    value.metadata.ClearField("summary_description")
                    found[(value.tag, event.step)] = value
        return found

    mine, reference = values(str(tmp_path / "ours")), values(str(tmp_path / "theirs"))
    assert sorted(mine) == sorted(reference)
    for key, value in reference.items():
        if key[0] == "samples":  # the same picture; the PNG encoders differ
            width, height, png = mine[key].tensor.string_val
            assert (width, height) == tuple(value.tensor.string_val[:2]) == (b"10", b"6")
            np.testing.assert_array_equal(tf.io.decode_png(png).numpy(), picture)
            assert mine[key].metadata == value.metadata
        elif key[0].startswith("_hparams_/"):  # the same but for the times they were written
            assert mine[key].metadata.plugin_data.plugin_name == value.metadata.plugin_data.plugin_name == "hparams"
            data = [HParamsPluginData.FromString(v.metadata.plugin_data.content) for v in (mine[key], value)]
            for info, (field, time_field) in itertools.product(
                    data, (("session_start_info", "start_time_secs"), ("session_end_info", "end_time_secs"))):
                if info.HasField(field):
                    getattr(info, field).ClearField(time_field)
            assert data[0] == data[1], key
            ended = data[0].session_end_info.status == api_pb2.STATUS_SUCCESS
            assert ended or dict(data[0].session_start_info.hparams)["model"].string_value == "dcgan"
        else:  # tf.summary packs a scalar into tensor_content, TensorBoard's protos into float_val
            assert mine[key].metadata == value.metadata, key
            assert mine[key].tensor.dtype == value.tensor.dtype and mine[key].tensor.tensor_shape == value.tensor.tensor_shape
            np.testing.assert_array_equal(make_ndarray(mine[key].tensor), make_ndarray(value.tensor))
    # And the logger's own reader sees them.
    assert read_events(str(tmp_path / "ours"))[0]["epoch/d_loss"] == [(7, 1.25)]
