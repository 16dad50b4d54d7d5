"""The on-disk layout of an export: version directories, the model card, checksums, publishing.

Only the generator ships. One export is one version directory in TF Serving's layout:

    exported_models/NAME/            the base directory TF Serving watches (--model_base_path)
        3/                           one version (auto-incremented unless given)
            saved_model.pb           signatures `serving_default` (z -> images) and `sample`
            variables/               (num_samples, seed -> images)
            fingerprint.pb
            generator.onnx           the same network for ONNX Runtime (input `z`; and `label`
                                     for a conditional generator, as in both signatures)
            parity_reference.npz     the Keras generator's output on the fixed parity batch
            model.json               the model card, with the sha256 of every file above

The export is atomic: everything is written into `NAME/.tmp-export-*` (a name TF Serving never
loads, on the same filesystem), checked, and only then renamed to `NAME/<version>`.

Pure Python and numpy: no TensorFlow, Keras or ONNX here.
"""

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import uuid

import numpy as np

from ganzoo.errors import ExportError

FORMATS = ("saved_model", "onnx")
SERVING_SIGNATURE = "serving_default"
SAMPLE_SIGNATURE = "sample"
ONNX_FILENAME = "generator.onnx"
CARD_FILENAME = "model.json"
REFERENCE_FILENAME = "parity_reference.npz"
TMP_PREFIX = ".tmp-export-"
SAMPLE_SIGNATURE_MAX = 4096  # largest num_samples the `sample` signature accepts per request
DEFAULT_OPSET = 17
IMAGE_OUTPUTS = ("images", "images_uint8")
VECTOR_OUTPUTS = ("samples",)
# The parity batch: fixed, so an export can be re-verified later against the stored reference.
PARITY_BATCH = 8
PARITY_SEED = 20240917
# Card fields that describe the files themselves; extra card fields may not override them.
_COMPUTED_CARD_FIELDS = (
    "format_version", "name", "version", "latent_dim", "output_shape", "image_shape", "value_range",
    "outputs", "signatures", "onnx_opset", "versions", "parity", "files", "exported_at", "num_classes",
    "class_names",
)


def _parity_latents(latent_dim):
    return np.random.default_rng(PARITY_SEED).standard_normal((PARITY_BATCH, latent_dim)).astype(np.float32)


def _parity_labels(num_classes):
    """The parity batch's labels for a conditional generator: 0, 1, ... cycling over the classes."""
    return (np.arange(PARITY_BATCH) % num_classes).astype(np.int32)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_table(version_dir):
    """{relative path: {"sha256", "bytes"}} for every file of an export except the card."""
    table = {}
    for root, _, files in os.walk(version_dir):
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, version_dir).replace(os.sep, "/")
            if rel != CARD_FILENAME:
                table[rel] = {"sha256": _sha256(path), "bytes": os.path.getsize(path)}
    return dict(sorted(table.items()))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _read_card(version_dir):
    path = os.path.join(version_dir, CARD_FILENAME)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ExportError(f"The model card {path} is not valid JSON ({e}); re-export the model.") from e


def _versions(base_dir):
    """Numeric version subdirectories of a base directory, as ints (TF Serving's rule)."""
    if not os.path.isdir(base_dir):
        return []
    return sorted(int(n) for n in os.listdir(base_dir)
                  if n.isdigit() and os.path.isdir(os.path.join(base_dir, n)))


def _is_version_dir(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(os.path.join(path, ONNX_FILENAME))


def _resolve_export_path(path):
    """(version_dir or None, onnx file or None, saved_model dir or None) for any export path."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ExportError(f"No export at {path}.")
    if os.path.isfile(path):
        if not path.endswith(".onnx"):
            raise ExportError(f"{path} is a file but not an .onnx model; give an .onnx file or an export directory.")
        return os.path.dirname(path) or ".", path, None
    if not _is_version_dir(path):
        versions = _versions(path)
        if not versions:
            raise ExportError(
                f"{path} holds no export: expected saved_model.pb or {ONNX_FILENAME}, or numeric version "
                "subdirectories (exported_models/NAME/<version>/)."
            )
        path = os.path.join(path, str(versions[-1]))
        if not _is_version_dir(path):
            raise ExportError(f"The newest version {path} holds neither saved_model.pb nor {ONNX_FILENAME}.")
    onnx_path = os.path.join(path, ONNX_FILENAME)
    onnx_path = onnx_path if os.path.isfile(onnx_path) else None
    sm_dir = path if os.path.isfile(os.path.join(path, "saved_model.pb")) else None
    return path, onnx_path, sm_dir


def list_exports(path):
    """The version directories at `path`, oldest first.

    Args:
        path: a version directory (returned alone) or a base directory such as
            "exported_models/dcgan_mnist" (its numeric versions).

    Returns:
        A list of paths, empty when `path` holds no export.
    """
    path = os.fspath(path)
    if os.path.isdir(path) and _is_version_dir(path):
        return [path]
    return [os.path.join(path, str(v)) for v in _versions(path)]


def _check_files(version_dir, card, names=None):
    """Compare the card's sha256 of each file (or of `names`) with the file on disk."""
    files = (card or {}).get("files") or {}
    for rel, entry in files.items():
        if names is not None and rel not in names:
            continue
        path = os.path.join(version_dir, rel)
        if not os.path.isfile(path):
            raise ExportError(f"{path} is listed in the model card but missing; re-export the model.")
        if _sha256(path) != entry.get("sha256"):
            raise ExportError(f"{path} does not match the sha256 in the model card: it is corrupt or was modified.")
    return len(files)


def find_export(directory, checkpoint_sha256):
    """The newest version under `directory` whose model card names the checkpoint with this
    sha256 (`card["checkpoint"]["sha256"]`, written by `ganzoo train --export`), or None."""
    for version_dir in reversed(list_exports(directory)):
        try:
            card = _read_card(version_dir) or {}
        except ExportError:
            continue  # a damaged card vouches for nothing
        if (card.get("checkpoint") or {}).get("sha256") == checkpoint_sha256:
            return version_dir
    return None


def _library_versions():
    try:  # the installed distribution's version; no import of the package root (no cycle)
        ganzoo_version = importlib.metadata.version("ganzoo")
    except importlib.metadata.PackageNotFoundError:
        ganzoo_version = None
    versions = {"ganzoo": ganzoo_version, "python": platform.python_version()}
    for name in ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # an optional runtime that is absent is simply not recorded
            versions[name] = None
    return versions


def _claim_version(directory, version, overwrite):
    """(version, final directory) of a new export under `directory` (created if needed)."""
    os.makedirs(directory, exist_ok=True)
    existing = _versions(directory)
    if version is None:
        version = (existing[-1] + 1) if existing else 1
    version = int(version)
    final_dir = os.path.join(directory, str(version))
    if os.path.exists(final_dir) and not overwrite:
        raise ExportError(
            f"{final_dir} already exists. Pick another version, omit version= to take the next "
            f"one ({(existing[-1] + 1) if existing else 1}), or pass overwrite=True."
        )
    return version, final_dir


def _signatures(latent_dim, num_classes):
    """The SavedModel signatures' inputs: (dtype, shape) by name."""
    serve = {"z": ["float32", [None, latent_dim]]}
    sample = {"num_samples": ["int32", []], "seed": ["int64", []]}
    if num_classes is not None:
        serve["label"] = ["int32", [None]]
        sample["label"] = ["int32", []]
    return {SERVING_SIGNATURE: serve, SAMPLE_SIGNATURE: sample}


def _model_card(directory, version, latent_dim, shape, formats, opset, card_fields, classes=(None, None)):
    """The model card's fields that describe the export, then the caller's (which may not
    override the computed ones). `classes`: (num_classes, class names) of a conditional
    generator."""
    is_image = len(shape) == 3
    outputs = IMAGE_OUTPUTS if is_image else VECTOR_OUTPUTS
    model_card = {
        "format_version": 1,
        "name": os.path.basename(os.path.abspath(directory)),
        "version": version,
        "model": None,
        "dataset": None,
        "latent_dim": latent_dim,
        "output_shape": shape,
        "image_shape": shape if is_image else None,
        "value_range": [-1.0, 1.0] if is_image else None,
        "outputs": {
            name: {"dtype": "uint8" if name == "images_uint8" else "float32", "shape": [None] + shape}
            for name in outputs
        },
        "signatures": _signatures(latent_dim, classes[0]) if "saved_model" in formats else {},
        "num_classes": classes[0],
        "class_names": classes[1],
        "onnx_opset": opset if "onnx" in formats else None,
        "training_steps": None,
        "seed": None,
        "metrics": None,
        "ema": False,
    }
    model_card.update({k: v for k, v in card_fields.items() if k not in _COMPUTED_CARD_FIELDS})
    return model_card


def _write_card(version_dir, model_card, parity):
    """Complete the card (library versions, parity report, time, checksums) and write it."""
    model_card.update(
        versions=_library_versions(),
        parity=parity,
        exported_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        files=_file_table(version_dir),
    )
    with open(os.path.join(version_dir, CARD_FILENAME), "w") as f:
        json.dump(model_card, f, indent=2, default=_json_default)


def _publish(tmp_dir, final_dir, overwrite):
    """Rename the finished export into place: TF Serving sees a whole version or none."""
    old = None
    if overwrite and os.path.exists(final_dir):
        # Move the old version aside first (rename cannot replace a non-empty directory).
        old = f"{os.path.dirname(final_dir)}/{TMP_PREFIX}old-{uuid.uuid4().hex[:12]}"
        os.rename(final_dir, old)
    try:
        os.rename(tmp_dir, final_dir)
    except OSError as e:
        if old is not None:
            os.rename(old, final_dir)
        raise ExportError(
            f"Could not move the export into {final_dir} ({e}); another export probably created it "
            "meanwhile. Export again (the version is chosen afresh)."
        ) from e
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
