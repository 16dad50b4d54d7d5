"""A finished run: saying that it is complete, and exporting its generator once (the model card
names the checkpoint exported, so a re-run finds the export instead of writing another)."""

import os


def _report_complete(config, saved, model, ckpt_path, spe, chief):
    """Say that the run is trained already, and where its export is (exporting it if asked and not done)."""
    from ganzoo.runs.callbacks.steps import steps_done

    step = steps_done(model)
    print(f"{config.run_dir} is complete: {step} steps ({step / spe:g} epochs of {spe}), checkpoint {ckpt_path}. "
          "Pass a larger --epochs to train on.", flush=True)
    export_dir = config.export_dir or (saved or {}).get("export_dir")
    if chief and export_dir:
        _export_once(config, model, ckpt_path, export_dir, export=bool(config.export_dir))


def _export_once(config, model, ckpt_path, export_dir, export=True):
    """Export the generator of checkpoint `ckpt_path` to `export_dir` unless a version there holds it."""
    from ganzoo.export import _sha256, export_generator, find_export

    sha256 = _sha256(ckpt_path)
    existing = find_export(export_dir, checkpoint_sha256=sha256)
    if existing:
        print(f"Its export: {existing}", flush=True)
    elif export:
        card = card_fields(config, model, checkpoint={"file": os.path.basename(ckpt_path), "sha256": sha256},
                           run_dir=config.run_dir)
        path = export_generator(model, export_dir, card=card, class_names=class_names(config, model))
        print(f"Exported the generator to {path}", flush=True)
    return existing


def class_names(config, model):
    """The names of a conditional model's classes (label i is name i), from its dataset; None otherwise
    (also for clusters: cluster i is named "i")."""
    if model.num_classes is None or config.cluster_labels:
        return None
    from ganzoo.data import dataset_info

    names = dataset_info(config.dataset, image_size=config.image_size, data_dir=config.data_dir)["class_names"]
    return [str(n) for n in names] if len(names) == model.num_classes else None


def card_fields(config, model, checkpoint=None, run_dir=None):
    """Model-card fields of a run, for exports; `checkpoint` ({"file", "sha256"}) names the
    checkpoint exported, so that a re-run can tell it is exported already; `run_dir` (the run's
    directory, where it is at hand) adds the dtype policies training computed in."""
    from ganzoo.runs.callbacks.steps import steps_done
    from ganzoo.data import dataset_info
    from ganzoo.runs.record import computed_in

    fields = {"dataset": config.dataset, "preset": config.preset, "seed": config.seed,
              "data_shape": list(model.data_shape), "config": config.to_dict(),
              "kind": dataset_info(config.dataset, image_size=config.image_size,
                                   data_dir=config.data_dir)["kind"]}
    if checkpoint:
        fields["checkpoint"] = dict(checkpoint, step=steps_done(model))
    policies = computed_in(run_dir) if run_dir else []
    if policies:
        fields["computed_in"] = policies
    return fields
