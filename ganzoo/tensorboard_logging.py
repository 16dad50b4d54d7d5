"""TensorBoard callbacks: step and epoch scalars, sample grids, sample-quality metrics, HParams."""

import os

import keras
import numpy as np

from ganzoo.callbacks import LOGS_ON_HOST, StepAware, device_copy, host_means, steps_done, steps_in_epoch
from ganzoo.event_writer import EventWriter, hparams_summary, scalar_summary, session_end_summary  # noqa: F401
from ganzoo.images import sample_picture, write_png


class TensorBoardLogger(StepAware):
    """Scalars per step and per epoch, both learning rates, and a sample grid per epoch.

    Tags: `step/<key>` every `log_every` steps: the mean of the steps since the previous point
    (with `log_every` 1 and one step per compiled call, each step's own value), not Keras'
    running mean of the epoch so far; `epoch/<key>` at epoch ends: the epoch's mean; `learning_rate/d` and
    `learning_rate/g`; `samples` (the fixed latent batch's grid).
    """

    def __init__(self, log_dir, steps_per_epoch, fixed_z, samples_dir=None, log_every=10, reference=None,
                 guard=None, fixed_labels=None):
        super().__init__(steps_per_epoch)
        self.writer = EventWriter(log_dir)
        self.fixed_z = fixed_z
        # A conditional model: the labels of fixed_z's rows, each class repeated (one grid row per class).
        self.fixed_labels = None if fixed_labels is None else np.asarray(fixed_labels, "int32")
        self.samples_dir = samples_dir
        self.log_every = max(1, int(log_every))
        self.reference = reference
        self.guard = guard
        self._logged = 0
        self._pending = None
        self._previous = {}  # tracker -> (sum, weight) at the last point written
        self._last_call = None  # TensorFlow: (step, steps in epoch, running means) of the last call

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._write_pending()  # copied before Keras reset the means: the last epoch's
        self._previous = {}  # the means restart (also when their counts reach the last point's)
        self._last_call = None

    def _due(self, step):
        return step // self.log_every > self._logged // self.log_every

    def step_logs(self, step, steps_in_epoch, logs):
        """TensorFlow: a call's point from its logs' running means r after n steps of the epoch
        (sum r * n, weight n); written when the next call ends, because only the epoch's last
        call can have run fewer steps than it was given (its data ran out), and the epoch's end
        counts those exactly."""
        if self._last_call is not None and self._due(self._last_call[0]):
            step_before, n, means = self._last_call
            self._logged = step_before
            self._write_point(step_before, {key: (mean * n, n) for key, mean in means.items()})
        self._last_call = (step, steps_in_epoch, host_means(self.model, logs))

    def steps_finished(self, step):
        if not LOGS_ON_HOST and self._due(step):
            self._log_steps(step, wait=False)

    def _log_steps(self, step, wait=True):
        """JAX and torch: write the step scalars of `step` from the running means' totals and
        counts on the device. Without `wait`, they are copied now, stacked into one array, and
        written at the next interval, when the device has computed them."""
        self._logged = step
        self._write_pending()
        trackers = self.model._trackers.values()
        values = [m.total.value for m in trackers] + [m.count.value for m in trackers]
        self._pending = (step, device_copy(keras.ops.stack([_float32(v) for v in values])))
        if wait:
            self._write_pending()

    def _write_pending(self):
        if self._pending is None:
            return
        step, values = self._pending
        self._pending = None
        keys = list(self.model._trackers)
        values = np.asarray(keras.ops.convert_to_numpy(values), "float64")
        self._write_point(step, dict(zip(keys, zip(values[:len(keys)], values[len(keys):]))))

    def _write_point(self, step, sums):
        """Write `step/<key>` at `step` from `{key: (sum, weight)}` of the epoch so far: the mean
        of the steps since the last point, (sum - sum before) / (weight - weight before)."""
        scalars = {}
        for key, (total, count) in sums.items():
            before_total, before_count = self._previous.get(key, (0.0, 0.0))
            if count < before_count:  # Keras reset the means at an epoch start
                before_total, before_count = 0.0, 0.0
            self._previous[key] = (total, count)
            if count > before_count:
                scalars[f"step/{key}"] = (total - before_total) / (count - before_count)
        if scalars:  # none when no step ran since the last point: no empty event
            self.writer.scalars(scalars, step)  # one event, no TensorFlow op

    def _epoch_points(self, step):
        """The epoch's last point, at `step` (the optimizer's count)."""
        if not LOGS_ON_HOST:
            if step > self._logged:
                self._log_steps(step)
            self._write_pending()
            return
        last, self._last_call = self._last_call, None
        if last is not None and step > self._logged:
            self._logged = step
            n = steps_in_epoch(self.model)  # exact, also after a last call that ran out of data
            self._write_point(step, {key: (mean * n, n) for key, mean in last[2].items()})

    def on_epoch_end(self, epoch, logs=None):
        if self.guard is not None and self.guard.failure:
            return
        step = steps_done(self.model)  # not (epoch + 1) * steps_per_epoch: an epoch may end early
        model = self.model
        self._epoch_points(step)
        scalars = {f"epoch/{key}": float(value) for key, value in (logs or {}).items()}
        for tag, opt in (("d", model.d_optimizer), ("g", model.g_optimizer)):
            scalars[f"learning_rate/{tag}"] = float(np.asarray(opt.learning_rate))
        self.writer.scalars(scalars, step)
        picture = sample_picture(model.generate(self.fixed_z, labels=self.fixed_labels), self.reference,
                                 columns=self._columns())
        self.writer.image("samples", picture, step)
        self.writer.flush()
        if self.samples_dir:
            write_png(picture, os.path.join(self.samples_dir, f"epoch_{epoch + 1:04d}.png"))

    def _columns(self):
        """Grid columns: the samples per class of a conditional model (one row per class), else square."""
        if self.fixed_labels is None:
            return None
        return int(np.bincount(self.fixed_labels).max())

    def on_train_end(self, logs=None):
        self._write_pending()
        self.writer.flush()


def _float32(value):
    return value if keras.backend.standardize_dtype(value.dtype) == "float32" else keras.ops.cast(value, "float32")


def log_hparams(writer, values):
    """The run's config as text and as an HParams session start. TensorBoard's HParams tab
    links every scalar of the same run (`epoch/*` final losses, `metrics/*`, `collapse/*`) to
    these values, when the run has a name: TensorBoard calls a run in the --logdir itself "."
    and then finds no metric values, which is why runs log into `logs/<run name>/`."""
    text = "\n".join(f"    {k}: {v!r}" for k, v in sorted(values.items()))
    writer.text("config", text, step=0)
    writer.summary(hparams_summary({k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                                    for k, v in values.items()}), step=0)
    writer.flush()


def log_run_status(writer, step, succeeded):
    """End the HParams session: status SUCCESS (trained to its last epoch) or FAILURE (diverged)."""
    writer.summary(session_end_summary(succeeded), step)
    writer.flush()


class SampleQualityLogger(keras.callbacks.Callback):
    """Every `every` epochs: sample-quality metrics and a mode-collapse alarm, to TensorBoard.

    Tags: `metrics/<name>` (e.g. `metrics/mnist_fd`, `metrics/modes`), `collapse/diversity`,
    `collapse/sample_coverage`, `collapse/coverage`, `collapse/alarm` (1 when collapsed) and a `collapse` text with the
    reason; a collapse also prints a warning to the log. Real samples are loaded once.
    """

    def __init__(self, writer, steps_per_epoch, real, every=1, num_samples=2000, toy=None, seed=0):
        super().__init__()
        self.writer = writer
        self.steps_per_epoch = steps_per_epoch
        self.real = real
        self.every = max(1, int(every))
        self.num_samples = num_samples
        self.toy = toy
        self.seed = seed
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        from ganzoo.metrics.evaluate import evaluate_with_collapse_alarm

        if (epoch + 1) % self.every:
            return
        k = self.model.num_classes  # a conditional model: every class equally often
        labels = None if k is None else np.arange(self.num_samples) % k
        fake = self.model.generate(self.num_samples, seed=self.seed, labels=labels)
        # One feature pass serves both the metrics and the alarm.
        scores, alarm = evaluate_with_collapse_alarm(fake, self.real, toy=self.toy, seed=self.seed)
        step = steps_done(self.model)
        scalars = {f"metrics/{key}": float(value) for key, value in scores.items() if np.isfinite(float(value))}
        for key in ("diversity", "coverage", "sample_coverage"):
            scalars[f"collapse/{key}"] = float(alarm[key])
        scalars["collapse/alarm"] = float(alarm["collapsed"])
        self.writer.scalars(scalars, step)
        if alarm["collapsed"]:
            self.writer.text("collapse", f"epoch {epoch + 1}: {alarm['reason']}", step)
        self.writer.flush()
        if alarm["collapsed"]:
            print(f"\nWARNING: mode collapse suspected at epoch {epoch + 1}: {alarm['reason']}", flush=True)
        self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in scores.items()},
                             "collapsed": bool(alarm["collapsed"])})
