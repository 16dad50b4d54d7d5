"""`train(config)`: one resumable, watched training run; the CLI is a thin shell over it.

A run directory holds:
    config.json      the fully resolved config (a resumed run must match it)
    logs/<name>/     TensorBoard event files (scalars, learning rates, sample grids, config and
                     HParams), in a directory named after the run dir (see `run_log_dir`)
    checkpoints/     ckpt-<step>.keras + latest.json (networks, both optimizers, generator EMA,
                     noise seed state, epoch/step counters), written atomically; the newest
                     --keep-checkpoints (3) are kept
    samples/         epoch_NNNN.png, the fixed latent batch after each epoch
    history.json     the Keras history of the whole run (one entry per epoch, with its step)
    .lock            held by the process training in it (see `ganzoo.runs.files`)
    .worker-N/       under --strategy multi_worker (or data_parallel over several processes), what
                     worker N (not the chief) saves

Importing this module is cheap: TensorFlow is imported when a run starts.
"""

import dataclasses
import os
import sys

import numpy as np

from ganzoo.runs.backend import is_chief, make_strategy, planned_backend, run_scope, with_backend, worker_index
from ganzoo.errors import ConfigError, RunDirError, WorkerLost
from ganzoo.config import TrainConfig, validate_config
from ganzoo.runs.finish import _export_once, _report_complete
from ganzoo.runs.record import check_resume, config_record
from ganzoo.runs.setup import (
    _check_batch_memory,
    _check_image_shape,
    _d_steps,
    _set_policy,
    _steps_per_epoch,
    build_model,
    run_clusters,
)
from ganzoo.runs.files import RunLock, read_history, read_latest, remove_temporary_files
from ganzoo.runs.signals import (
    Terminated,
    interrupt_handled,
    reraise_dropped_interrupt,
    sigterm_as_interrupt,
    signals_ignored,
)
from ganzoo.fileio import RUN_OWN_NAMES, refuse_links, unwritable_reason, write_json


def progress_verbosity():
    """Keras' `verbose` for `fit`: the progress bar on a terminal; one plain line per epoch when
    stdout is a file or a pipe (the bar's redraws and ANSI colours would fill a log file)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return 1 if isatty is not None and isatty() else 2


def run_log_dir(run_dir):
    """Where a run's TensorBoard events go: `RUN_DIR/logs/<run name>`, so that TensorBoard names
    the run whether --logdir is RUN_DIR/logs or a directory of runs (a run dir that logged into
    `logs/` itself before this layout keeps doing so)."""
    logs = os.path.join(run_dir, "logs")
    if os.path.isdir(logs) and any(name.startswith("events.out.tfevents.") for name in os.listdir(logs)):
        return logs
    return os.path.join(logs, os.path.basename(os.path.abspath(run_dir)))


def _prepare_run_dir(run_dir):
    """The run's subdirectories, without the temporary files a kill mid-write left behind
    (one can be a whole checkpoint). Called with the run's lock held."""
    for sub in ("logs", "checkpoints", "samples"):
        os.makedirs(os.path.join(run_dir, sub), exist_ok=True)
    remove_temporary_files(*(os.path.join(run_dir, sub) for sub in ("", "checkpoints", "samples")))


def train(config, callbacks=()):
    """Run (or resume) the training run `config` describes; returns the run's history dict.

    The history holds one entry per epoch of the whole run (resumed runs included): "step"
    (the generator step the epoch ended at) and each logged metric. Every argument is checked
    before anything is written, so a mistake leaves the run dir as it was. A run dir is used
    by one process at a time. A run already trained to `config.epochs` is not trained again.

    Raises:
        ConfigError: a user mistake (unknown names, bad values, changed config on resume).
        RunDirError: the run dir is in use by another process, or a file in it is damaged.
        TrainingDiverged: a loss became non-finite; the last good checkpoint is kept.
        KeyboardInterrupt: Ctrl-C, or `Terminated` on SIGTERM, after saving a checkpoint of
            the last step that ran.
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"train() takes a TrainConfig or a dict of its fields; got {type(config).__name__}.")
    validate_config(config)
    # Every check that needs neither Keras nor a backend comes first: a mistake is answered
    # before TensorFlow (or JAX) starts up.
    saved, info, spe = _check_before_writing(dataclasses.replace(config, backend=config.backend or planned_backend()))
    config = with_backend(config)
    if config.backend != planned_backend():
        check_resume(config.run_dir, config)  # Keras chose another backend than its settings said
    with sigterm_as_interrupt():
        return _train(config, saved, info, spe, list(callbacks))


def _check_before_writing(config):
    """(saved config or None, dataset info, steps per epoch): every check that writes nothing."""
    from ganzoo.data import dataset_info

    for flag, path in (("--run-dir", config.run_dir), ("--export", config.export_dir)):
        reason = path and unwritable_reason(path, "directory")
        if reason:
            raise ConfigError(f"{flag} {path} {reason}.")
    refuse_links(config.run_dir, RUN_OWN_NAMES, RunDirError)  # before any of them is read or written
    saved = check_resume(config.run_dir, config)
    read_latest(os.path.join(config.run_dir, "checkpoints"))  # a damaged latest.json stops us here
    read_history(config.run_dir, 0)  # and so does a damaged history.json
    info = dataset_info(config.dataset, image_size=config.image_size, data_dir=config.data_dir)
    _check_batch_memory(config, info, _d_steps(config))  # before the image check imports Keras
    _check_image_shape(config, info)
    if config.conditional and not (info.get("has_labels") and (info.get("num_classes") or 0) >= 2):
        raise ConfigError(f"--conditional trains on labels, and {config.dataset} has none (or fewer than 2 "
                          "classes). Image folders take classes from their sub-folders; leave out --conditional "
                          "for unlabelled data.")
    return saved, info, _steps_per_epoch(config, info, _d_steps(config))


class _Run:
    """What the phases of one run share: its config, dataset, strategy and where it writes."""

    def __init__(self, config, saved, info, spe, strategy):
        self.config, self.saved, self.info, self.spe, self.strategy = config, saved, info, spe, strategy
        self.clusters = None  # the k-means clusters of --cluster-labels
        self.chief = is_chief(strategy)
        # Every worker runs the same saves (tf.distribute expects it); the others write into a
        # scratch directory of their own so only the chief's files are the run's.
        self.own_dir = config.run_dir if self.chief else os.path.join(
            config.run_dir, f".worker-{worker_index(strategy)}")
        self.ckpt_dir = os.path.join(self.own_dir, "checkpoints")


def _train(config, saved, info, spe, callbacks):
    import keras

    # The strategy first: joining several JAX processes must come before any JAX computation.
    strategy = make_strategy(config.strategy, config.batch_size)
    previous_policy = _set_policy(config.mixed_precision)
    try:
        if config.deterministic and config.backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(config.seed)
        run = _Run(config, saved, info, spe, strategy)
        RunLock(run.own_dir).refuse_if_held()  # a second process stops before the k-means
        run.clusters = run_clusters(config)  # before the data: it labels the batches
        datasets = _datasets(config, run.clusters)  # bad data is answered before the run dir is written
        with RunLock(run.own_dir), run_scope(strategy):
            return _train_locked(run, datasets, callbacks)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train_locked(run, datasets, callbacks):
    """Train `run` with its run dir's lock held: load or build the model, fit, finish."""
    import keras

    from ganzoo.runs.callbacks.steps import steps_done

    config, saved, spe = run.config, run.saved, run.spe
    _prepare_run_dir(run.own_dir)
    _save_clusters(run)
    model, ckpt_path = _prepare_model(run)
    initial_step = steps_done(model)  # the optimizer's count, whatever a record says
    history = read_history(config.run_dir, initial_step) if run.chief else {}
    if initial_step >= config.epochs * spe:
        _report_complete(config, saved, model, ckpt_path, spe, run.chief)
        return history
    if run.chief:
        write_json(os.path.join(config.run_dir, "config.json"),
                   config_record(config, saved, initial_step, keras.mixed_precision.global_policy().name))
    guard, checkpointer, logger, all_callbacks = _make_callbacks(run, model, initial_step, history, callbacks)
    try:
        _fit_with_resume(run, model, datasets, initial_step, guard, checkpointer, all_callbacks)
        return _finish(run, model, guard, checkpointer, logger)
    finally:
        logger.writer.close()  # writes what is queued, also after Ctrl-C or an error


def _prepare_model(run):
    """(model, checkpoint path or None): the newest checkpoint of the run, else a new model."""
    from ganzoo.runs.checkpoints import expected_by, load_newest_checkpoint

    expect = expected_by(run.config, run.info["shape"], run.info.get("num_classes"))
    with run.strategy.scope():
        # Every worker resumes from the chief's checkpoints.
        model, ckpt_path = load_newest_checkpoint(os.path.join(run.config.run_dir, "checkpoints"), expect=expect)
        if model is None:
            model = build_model(run.config, run.clusters)
        else:
            _set_learning_rates(model, run.config)
    return model, ckpt_path


def _set_learning_rates(model, config):
    """A resumed model trains at the config's learning rates (a resume may change them; the
    checkpoint's optimizers hold the old ones). None keeps what the checkpoint holds."""
    from ganzoo.models.optimizers import _inner

    for lr, optimizer in ((config.d_lr, model.d_optimizer), (config.g_lr, model.g_optimizer)):
        if lr is not None and optimizer is not None:
            _inner(optimizer).learning_rate.assign(lr)


def _lr_decay(config, model, spe):
    """The `--lr-decay` schedule, from the config's learning rates (else the model's defaults)."""
    from ganzoo.runs.callbacks.lr_decay import LinearDecay

    defaults = [float(opt.get_config()["learning_rate"]) for opt in model.default_optimizers()]
    bases = [lr if lr is not None else default for lr, default in zip((config.d_lr, config.g_lr), defaults)]
    return LinearDecay(bases, spe, config.epochs * spe, config.lr_decay)


def _make_callbacks(run, model, initial_step, history, callbacks):
    """(NaN guard, checkpointer, TensorBoard logger, every callback of the run in order)."""
    from ganzoo.runs.callbacks.checkpointer import Checkpointer
    from ganzoo.runs.callbacks.nan_guard import NaNGuard
    from ganzoo.runs.callbacks.tensorboard import TensorBoardLogger, log_hparams
    from ganzoo.data import load_real_samples

    config, spe, chief = run.config, run.spe, run.chief
    fixed_z, fixed_labels = _fixed_samples(config, model)
    reference = None
    if run.info["kind"] == "toy":
        reference = load_real_samples(config.dataset, 2000, seed=config.seed)
    guard = NaNGuard(spe)
    checkpointer = Checkpointer(run.ckpt_dir, spe, initial_step=initial_step, every_steps=config.checkpoint_every,
                                keep=config.keep_checkpoints, guard=guard,
                                history_dir=config.run_dir if chief else None, history=history)
    logger = TensorBoardLogger(run_log_dir(run.own_dir), spe, fixed_z,
                               samples_dir=os.path.join(config.run_dir, "samples") if chief else None,
                               log_every=config.log_every, reference=reference, guard=guard,
                               fixed_labels=fixed_labels)
    if chief and not initial_step:
        log_hparams(logger.writer, {k: v for k, v in config.to_dict().items() if k not in TrainConfig.RESUMABLE})
    # The checkpointer comes before the pictures: an interrupt while they are drawn must not
    # lose the epoch's checkpoint and history entry.
    all_callbacks = [guard, checkpointer, logger]
    if config.lr_decay:
        all_callbacks.insert(0, _lr_decay(config, model, spe))
    if config.eval_every and chief:
        all_callbacks.append(_quality_logger(config, run.info, logger.writer, spe))
    if run.info["kind"] == "toy" and chief:
        from ganzoo.data import toy_distribution
        from ganzoo.runs.callbacks.ground_truth import ToyGroundTruth

        # The divergences the discriminator's bounds bound, next to them (epoch/true_*).
        all_callbacks.append(ToyGroundTruth(logger.writer, toy_distribution(config.dataset), seed=config.seed,
                                            guard=guard))
    return guard, checkpointer, logger, all_callbacks + list(callbacks)


def _fit_with_resume(run, model, datasets, initial_step, guard, checkpointer, callbacks):
    """Train from `initial_step` to the last epoch: first the rest of an interrupted epoch."""
    config, spe = run.config, run.spe
    verbose = 0 if config.quiet or not run.chief else progress_verbosity()
    try:
        epoch, done = divmod(initial_step, spe)
        if done:  # finish the interrupted epoch first
            _fit(model, datasets, initial_step, callbacks, epoch, epoch + 1, spe - done, verbose,
                 epoch_step_offset=done)
            epoch += 1
        if epoch < config.epochs and not guard.failure and not model.stop_training:
            _fit(model, datasets, epoch * spe, callbacks, epoch, config.epochs, spe, verbose)
        reraise_dropped_interrupt()  # one that landed in a __del__ during the last compiled call
    except KeyboardInterrupt as interrupt:
        interrupt_handled()  # a second signal during the save below raises anew
        if run.chief and not guard.failure:
            _save_interrupted(checkpointer, run.ckpt_dir, interrupt)
        raise
    except Exception as error:
        _raise_if_worker_lost(error, run)
        raise


def _raise_if_worker_lost(error, run):
    if run.config.strategy != "multi_worker":
        return
    import tensorflow as tf

    if isinstance(error, tf.errors.UnavailableError):
        latest = read_latest(os.path.join(run.config.run_dir, "checkpoints"))
        where = f"step {latest['step']} in {latest['path']}" if latest else "none yet: the run starts over"
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = next((line for line in lines if "unhealthy" in line or "aborted" in line),
                      lines[-1] if lines else type(error).__name__)
        raise WorkerLost(
            f"A worker of the cluster stopped (TensorFlow: {reason}); this one "
            f"cannot go on alone. Stop every worker, then start each again with the same command: they resume "
            f"from the chief's newest checkpoint ({where}).") from None


def _finish(run, model, guard, checkpointer, logger):
    """The run's history; raises TrainingDiverged after a NaN, exports when asked."""
    from ganzoo.errors import TrainingDiverged
    from ganzoo.runs.callbacks.steps import steps_done
    from ganzoo.runs.callbacks.tensorboard import log_run_status

    step = steps_done(model)
    if guard.failure or step >= run.config.epochs * run.spe:  # not after an early stop: it may go on
        log_run_status(logger.writer, step, succeeded=not guard.failure)
    if guard.failure:
        raise TrainingDiverged(f"{guard.failure} {_diverged_advice(read_latest(run.ckpt_dir))}")
    if run.chief and run.config.export_dir:
        _export_once(run.config, model, read_latest(run.ckpt_dir)["path"], run.config.export_dir)
    return checkpointer.history


def _diverged_advice(latest):
    """What to do after a NaN: resume from the last good checkpoint, or start again without one."""
    lower = "lower learning rates (--d-lr, --g-lr: a resume may change them, config.json records it)"
    if latest is None:
        return (f"No checkpoint was saved before it, so nothing of this run is kept: run the same command with "
                f"{lower}, or check the data for NaNs.")
    return (f"The last good checkpoint (step {latest['step']}) is kept: resume it with {lower}, or check the data "
            "for NaNs.")


def _fixed_samples(config, model):
    """(z, labels or None) of the pictures drawn after each epoch: num_samples latents, or for a
    conditional model num_samples // K per class (at least 1) with labels 0, 0, ..., 1, 1, ..."""
    k = model.num_classes
    per_class = max(1, config.num_samples // k) if k else None
    n = per_class * k if k else config.num_samples
    z = np.random.default_rng(config.seed + 1).standard_normal((n, model.latent_dim)).astype("float32")
    return z, (None if k is None else np.repeat(np.arange(k, dtype="int32"), per_class))


def _save_clusters(run):
    """Keep a new run's clusters in its dir (the chief's), so a resume labels its data the same way."""
    from ganzoo.data.clusters import cluster_file

    if run.clusters is not None and run.chief and not os.path.exists(cluster_file(run.config.run_dir)):
        run.clusters.save(cluster_file(run.config.run_dir))


def _datasets(config, clusters=None):
    """A function that returns a new data pipeline per call (a second iterator over the same
    seeded shuffle would draw another order). The first is built at once, so that a data error
    (say, undecodable images) stops the run before anything is written."""
    from ganzoo.data import load_dataset

    def make():
        return load_dataset(config.dataset, batch_size=config.batch_size, image_size=config.image_size,
                            seed=config.seed, data_dir=config.data_dir, repeat=True,
                            skip_corrupt=config.skip_corrupt, with_labels=config.conditional, clusters=clusters)

    first = [make()]
    return lambda: first.pop() if first else make()


def _quality_logger(config, info, writer, spe):
    from ganzoo.runs.callbacks.tensorboard import SampleQualityLogger
    from ganzoo.data import load_real_samples, toy_distribution

    toy = toy_distribution(config.dataset) if info["kind"] == "toy" else None
    real = load_real_samples(config.dataset, 2500 if toy else min(info.get("num_examples") or 5000, 5000),
                             image_size=config.image_size, seed=config.seed, data_dir=config.data_dir,
                             skip_corrupt=config.skip_corrupt)
    from ganzoo.metrics.features import classifier_for_dataset

    return SampleQualityLogger(writer, spe, real, every=config.eval_every, num_samples=config.eval_samples,
                               toy=toy, seed=config.seed,
                               feature_extractor=classifier_for_dataset(config.dataset) or "auto")


def _save_interrupted(checkpointer, ckpt_dir, interrupt):
    """Checkpoint the steps that ran before Ctrl-C or SIGTERM, and say so."""
    what = "Terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "Interrupted"
    with signals_ignored():  # a second Ctrl-C must not cut this checkpoint short
        step = checkpointer.save_interrupted()
    if step:
        print(f"\n{what}: saved a checkpoint at step {step} in {ckpt_dir}; run the same command to resume.",
              flush=True)
    else:
        print(f"\n{what} before the first step: nothing to save.", flush=True)


def _fit(model, datasets, start_step, callbacks, initial_epoch, epochs, steps, verbose, epoch_step_offset=0):
    # The data stream is a pure function of the seed: each fit call skips the batches the
    # run consumed before `start_step` (k per step with k discriminator steps).
    dataset = datasets()
    if start_step:
        dataset = dataset.skip(start_step * model.d_steps)
    for cb in callbacks:
        if hasattr(cb, "epoch_step_offset"):
            cb.epoch_step_offset = epoch_step_offset
    model.fit(dataset, initial_epoch=initial_epoch, epochs=epochs, steps_per_epoch=steps,
              callbacks=list(callbacks), verbose=verbose, shuffle=False)
