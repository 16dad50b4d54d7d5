"""A run directory's config.json and checkpoints as a finished or resumed run sees them: the saved
config, the record of the learning-rate changes resumes made, the checks that a resume repeats
the run's settings and backend, and `load_run` / `open_run` (a run's newest loadable checkpoint).

Importing this module is cheap: Keras is imported when a checkpoint is opened.
"""

import os

from ganzoo.config import TrainConfig, config_difference
from ganzoo.errors import ConfigError, RunDirError
from ganzoo.runs.files import read_json


#: config.json's record of the settings a resume changed: [{"step", field: [was, now], ...}].
CHANGES_KEY = "changes"
#: Fields a resume may change that change training itself, so each change is recorded.
RECORDED_CHANGES = ("d_lr", "g_lr")
#: config.json's record of the Keras dtype policy each (re)start computed in, [{"step", "policy"}]:
#: what `--mixed-precision auto` resolved to on the machine that ran it (a run started in bfloat16
#: on one machine may go on in float32 on another).
PRECISION_KEY = "computed_in"


def read_saved_config(run_dir):
    """The dict in RUN_DIR/config.json, or None when there is none."""
    return read_json(os.path.join(run_dir, "config.json"),
                     fix="restore it (its fields are the run's flags; TensorBoard shows them as text), or use "
                         "a new --run-dir.")


def without_records(saved):
    """The settings of a saved config.json, without the records a (re)start adds to them."""
    return {k: v for k, v in saved.items() if k not in (CHANGES_KEY, PRECISION_KEY)}


def config_record(config, saved, step, policy=None):
    """What config.json holds after a (re)start at `step`: the config, the history of the
    learning-rate changes resumes made, and of the dtype policy (`policy`, Keras' name) each
    (re)start computed in, an entry where it changed."""
    record = config.to_dict()
    changes = list((saved or {}).get(CHANGES_KEY) or [])
    if saved is not None:
        changed = {k: [saved.get(k), record[k]] for k in RECORDED_CHANGES if saved.get(k) != record[k]}
        if changed:
            changes.append(dict(step=int(step), **changed))
    if changes:
        record[CHANGES_KEY] = changes
    computed_in = list((saved or {}).get(PRECISION_KEY) or [])
    if policy and (not computed_in or computed_in[-1].get("policy") != policy):
        computed_in.append({"step": int(step), "policy": policy})
    if computed_in:
        record[PRECISION_KEY] = computed_in
    return record


def computed_in(run_dir):
    """config.json's record of the dtype policies a run computed in ([{"step", "policy"}]; [] for
    runs from before it was kept)."""
    return list((read_saved_config(run_dir) or {}).get(PRECISION_KEY) or [])


def check_resume_backend(run_dir, backend):
    """ConfigError if `run_dir` holds a run trained on another Keras backend than `backend`.
    Reads only config.json, so the CLI asks it before importing a backend."""
    saved = read_saved_config(run_dir)
    if saved is not None:
        _trained_on(run_dir, saved, backend)


def _trained_on(run_dir, saved, backend):
    """The backend of the saved config `saved`; ConfigError if it is not `backend`."""
    trained_on = saved.get("backend") or "tensorflow"  # runs from before --backend were TensorFlow's
    if trained_on != backend:
        raise ConfigError(
            f"{run_dir} was trained on the {trained_on} backend; this run is on {backend}. Resume it with "
            f"--backend {trained_on} (the backends draw different noise, so a switched run would not be the "
            "run its config.json describes), or use a new --run-dir.")
    return trained_on


def check_resume(run_dir, config):
    """The run dir's saved config (None for a new run); ConfigError if it differs from `config`."""
    saved = read_saved_config(run_dir)
    if saved is None:
        return None
    trained_on = _trained_on(run_dir, saved, config.backend)
    diff = config_difference(dict(without_records(saved), backend=trained_on), config.to_dict())
    if diff:
        raise ConfigError(
            f"{run_dir} holds a run with a different config, so it cannot be resumed:\n" + "\n".join(diff)
            + "\nUse a new --run-dir, or repeat the run's settings (see its config.json)."
        )
    return saved


def load_run(run_dir):
    """(config, model) of a run directory's newest checkpoint that loads."""
    config, model, _, _ = open_run(run_dir)
    return config, model


def open_run(run_dir):
    """(config, model, checkpoint path, sha256 of the checkpoint loaded) of a run directory's
    newest checkpoint that loads, checked against the run's config.json (model, seed, sizes,
    classes and, where the dataset is at hand, the data's shape).

    A damaged newest checkpoint falls back to the one before it, with a warning.

    Raises:
        RunDirError: no config.json, a damaged one, a checkpoint of another run, or checkpoints
            of which none loads.
        ConfigError: no checkpoint yet.
    """
    import ganzoo.models  # noqa: F401  (registers the model classes with Keras)
    from ganzoo.runs.checkpoints import expected_by, open_newest_checkpoint

    path = os.path.join(run_dir, "config.json")
    saved = read_saved_config(run_dir)
    if saved is None:
        raise RunDirError(f"{run_dir} has no config.json, so it is not a ganzoo run directory.")
    config = TrainConfig.from_dict(without_records(saved), source=path)
    info = _dataset_info_if_at_hand(config)
    expect = expected_by(config, info and info["shape"], info and info.get("num_classes"))
    model, ckpt_path, sha256 = open_newest_checkpoint(os.path.join(run_dir, "checkpoints"), expect=expect)
    if model is None:
        raise ConfigError(f"{run_dir} has no checkpoint yet (training saves one at the end of each epoch, and "
                          "every --checkpoint-every steps): train it first.")
    return config, model, ckpt_path, sha256


def _dataset_info_if_at_hand(config):
    """The run's dataset_info, or None when its data is not on this machine (a copied run dir)."""
    from ganzoo.data import dataset_info
    from ganzoo.errors import DatasetError

    try:
        return dataset_info(config.dataset, image_size=config.image_size, data_dir=config.data_dir)
    except (DatasetError, ImportError, OSError):
        return None
