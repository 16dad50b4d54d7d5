"""TensorBoard callbacks: step and epoch scalars, sample grids, sample-quality metrics, HParams."""

import os

import keras
import numpy as np

from ganzoo.runs.callbacks.steps import StepAware, host_means, steps_done, steps_in_epoch
from ganzoo.runs.callbacks.event_writer import EventWriter, hparams_summary, session_end_summary
from ganzoo.images import sample_picture, write_png
from ganzoo.labels import balanced_labels
from ganzoo.models.sampling import PICTURE_STANDING_BATCHES


class TensorBoardLogger(StepAware):
    """Scalars per step and per epoch, both learning rates, and a sample grid per epoch.

    Tags: `step/<key>` every `log_every` steps: the mean of the steps since the previous point
    (with `log_every` 1 and one step per compiled call, each step's own value), not Keras'
    running mean of the epoch so far; `epoch/<key>` at epoch ends: the epoch's mean; `learning_rate/d` and
    `learning_rate/g`; `samples` (the fixed latent batch's grid).

    The step points come from the running means in each call's logs, which Keras brings to
    the host anyway (see `StepAware`): no device read and no TensorFlow op per point; the
    events are written from Python (`ganzoo.runs.callbacks.event_writer`), so TensorFlow is not needed.
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
        self._previous = {}  # tracker -> (sum, weight) at the last point written
        self._last_call = None  # (step, steps in epoch, running means) of the newest call

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._previous = {}  # the means restart (also when their counts reach the last point's)
        self._last_call = None

    def _due(self, step):
        return step // self.log_every > self._logged // self.log_every

    def step_logs(self, step, steps_in_epoch, logs):
        """A call's running means r after n steps of the epoch make a point (sum r * n, weight
        n), written when the next call arrives: only the epoch's last call can have run fewer
        steps than Keras reports (its data ran out), and the epoch's end counts those exactly."""
        last, self._last_call = self._last_call, (step, steps_in_epoch, host_means(self._model, logs))
        if last is not None and self._due(last[0]):
            self._logged = last[0]
            self._write_point(last[0], {key: (mean * last[1], last[1]) for key, mean in last[2].items()})

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
        """The epoch's last point, at `step` (the optimizer's count), once Keras has handed over
        every call's logs."""
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
        # The EMA generator's BatchNorm statistics over fewer samples than for scoring or export:
        # a picture does not show their noise, and each epoch's would pay the full count again.
        picture = sample_picture(model.generate(self.fixed_z, labels=self.fixed_labels,
                                                standing_batches=PICTURE_STANDING_BATCHES),
                                 self.reference, columns=self._columns())
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
        self.writer.flush()


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
    `feature_extractor` as in `evaluate_samples` (training passes the dataset's classifier).
    """

    def __init__(self, writer, steps_per_epoch, real, every=1, num_samples=2000, toy=None, seed=0,
                 feature_extractor="auto"):
        super().__init__()
        self.writer = writer
        self.steps_per_epoch = steps_per_epoch
        self.real = real
        self.every = max(1, int(every))
        self.num_samples = num_samples
        self.toy = toy
        self.seed = seed
        self.feature_extractor = feature_extractor
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        from ganzoo.metrics.evaluate import evaluate_with_collapse_alarm

        if (epoch + 1) % self.every:
            return
        # A conditional model: every class equally often; one with a label prior (clusters) draws them.
        labels = balanced_labels(self.model.num_classes, self.num_samples, self.model.label_prior)
        fake = self.model.generate(self.num_samples, seed=self.seed, labels=labels)
        # One feature pass serves both the metrics and the alarm.
        scores, alarm = evaluate_with_collapse_alarm(fake, self.real, feature_extractor=self.feature_extractor,
                                                     toy=self.toy, seed=self.seed)
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
