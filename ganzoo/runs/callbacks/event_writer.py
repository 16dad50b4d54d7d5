"""TensorBoard event files written from Python, with no TensorFlow op per write.

`tf.summary` writes through TensorFlow ops; each eager op issued between two compiled calls of
`fit` costs ~0.2-0.7 ms of host time on a 2-core machine (~0.03-0.1 ms outside `fit`), more
than the 16 toy-MLP steps it follows are worth at 2%. This writer builds the same summaries
(the tensors and plugin metadata `tf.summary.scalar`, `image` and `text` write) with
TensorBoard's protos and hands them to TensorBoard's own `EventFileWriter`, which writes them
from a background thread. It needs only the `tensorboard` package, not TensorFlow.
"""

import io
import time

import numpy as np


class EventWriter:
    """One event file in `log_dir` (TensorBoard reads a run directory's newest file live: keep
    one writer per directory). Steps are the run's global steps."""

    def __init__(self, log_dir, flush_secs=30):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        # The suffix TensorFlow 2's writers use: TensorBoard and tf.data readers take either.
        self._writer = EventFileWriter(log_dir, flush_secs=flush_secs, filename_suffix=".v2")

    def summary(self, summary, step):
        """Write a `Summary` proto at `step`."""
        from tensorboard.compat.proto import event_pb2

        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalars(self, values, step):
        """`{tag: float}` at `step`, each as `tf.summary.scalar` writes it, in one event."""
        self.summary(scalar_summary(values), step)

    def image(self, tag, picture, step):
        """One uint8 picture (H, W, C) at `step`, as `tf.summary.image` writes it: a string tensor
        [width, height, PNG] of the `images` plugin."""
        from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
        from tensorboard.plugins.image import metadata

        picture = np.asarray(picture)
        if picture.ndim != 3 or picture.dtype != np.uint8:
            raise ValueError(f"image {tag!r}: expected a uint8 (H, W, C) picture, got {picture.dtype} {picture.shape}.")
        tensor = tensor_pb2.TensorProto(
            dtype=types_pb2.DT_STRING,
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=3)]),
            string_val=[str(picture.shape[1]).encode(), str(picture.shape[0]).encode(), png_bytes(picture)])
        summary = summary_pb2.Summary()
        summary.value.add(tag=tag, tensor=tensor,
                          metadata=metadata.create_summary_metadata(display_name=None, description=None))
        self.summary(summary, step)

    def text(self, tag, text, step):
        """A markdown text at `step`, as `tf.summary.text` writes it."""
        from tensorboard.plugins.text.summary_v2 import text_pb

        self.summary(text_pb(tag, text), step)

    def background_cpu_seconds(self):
        """The CPU seconds the writer's background thread has used so far (it encodes the
        records and writes them); for benchmarks. Needs `time.pthread_getcpuclockid` (Unix)."""
        thread = self._writer._async_writer._worker
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))

    def flush(self):
        """Write every queued event to the file now."""
        self._writer.flush()

    def close(self):
        self._writer.close()


_SCALAR_METADATA = None  # the `scalars` plugin's, built once


def scalar_summary(scalars):
    """A `Summary` of `{tag: float}`, each value as `tf.summary.scalar` writes it (a float32
    scalar tensor of the `scalars` plugin)."""
    from tensorboard.compat.proto import summary_pb2, types_pb2
    from tensorboard.plugins.scalar import metadata

    global _SCALAR_METADATA
    if _SCALAR_METADATA is None:
        _SCALAR_METADATA = metadata.create_summary_metadata(display_name=None, description=None)
    summary, scalar = summary_pb2.Summary(), _SCALAR_METADATA
    for tag, value in scalars.items():
        item = summary.value.add(tag=tag, metadata=scalar)
        item.tensor.dtype = types_pb2.DT_FLOAT
        item.tensor.tensor_shape.SetInParent()  # a scalar: shape [], as tf.summary.scalar writes
        item.tensor.float_val.append(float(value))
    return summary


def png_bytes(picture):
    """A uint8 (H, W, C) picture encoded as PNG (C of 1, 3 or 4)."""
    from PIL import Image

    picture = np.asarray(picture)
    if picture.shape[-1] == 1:
        picture = picture[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def hparams_summary(values):
    """The HParams session start of a run with config `values` (`{name: int, float, str or bool}`)."""
    from tensorboard.plugins.hparams.summary_v2 import hparams_pb

    return hparams_pb(values)


def session_end_summary(succeeded):
    """The HParams session end: status SUCCESS or FAILURE, now."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    status = api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE
    info = plugin_data_pb2.HParamsPluginData(
        session_end_info=plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=time.time()))
    summary = summary_pb2.Summary()
    summary.value.add(tag=metadata.SESSION_END_INFO_TAG, metadata=metadata.create_summary_metadata(info),
                      tensor=metadata.NULL_TENSOR)
    return summary
