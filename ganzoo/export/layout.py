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
from ganzoo.labels import check_prior

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
    """The export's model card, checked against `CARD_SCHEMA`, or None when it has none.

    Raises:
        ExportError: the card is not JSON, not an object, or a field has the wrong type, a
            class list disagrees with its count, or a listed file leaves the export directory.
    """
    path = os.path.join(version_dir, CARD_FILENAME)
    if not os.path.lexists(path):
        return None
    if os.path.islink(path) or not os.path.isfile(path):
        raise ExportError(f"The model card {path} is not a plain file (a link or a folder); re-export the model.")
    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExportError(f"The model card {path} is not valid JSON ({type(e).__name__}: {str(e)[:120]}); re-export "
                          "the model.") from e
    problem = card_problem(card)
    if problem:
        raise ExportError(f"The model card {path} is not valid: {problem}. Re-export the model.")
    return card


def _is_int(value, minimum=None):
    return isinstance(value, int) and not isinstance(value, bool) and (minimum is None or value >= minimum)


#: The card fields an export is read by, with what each must be (None is allowed for all but
#: "files"): a card is checked against them before any of it is used.
CARD_SCHEMA = {
    "format_version": ("a positive integer", lambda v: _is_int(v, 1)),
    "version": ("a positive integer", lambda v: _is_int(v, 1)),
    "latent_dim": ("a positive integer", lambda v: _is_int(v, 1)),
    "num_classes": ("an integer of at least 2", lambda v: _is_int(v, 2)),
    "class_names": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v)),
    "label_prior": ("a list of non-negative numbers with a positive sum",
                    lambda v: isinstance(v, list) and check_prior(v, len(v)) is None),
    "output_shape": ("a list of positive integers",
                     lambda v: isinstance(v, list) and bool(v) and all(_is_int(d, 1) for d in v)),
    "dataset": ("a string", lambda v: isinstance(v, str)),
    "model": ("a string", lambda v: isinstance(v, str)),
    "config": ("an object", lambda v: isinstance(v, dict)),
    "checkpoint": ("an object", lambda v: isinstance(v, dict)),
    "files": ("an object of relative paths", lambda v: isinstance(v, dict)),
}


def card_problem(card):
    """Why `card` is not a valid model card, in words, or None."""
    if not isinstance(card, dict):
        return f"it holds a JSON {type(card).__name__}, not an object"
    for field, (words, valid) in CARD_SCHEMA.items():
        value = card.get(field)
        if value is not None and not valid(value):
            return f"{field} must be {words}; got {json.dumps(value)[:80]}"
    names, count = card.get("class_names"), card.get("num_classes")
    if names is not None and (count is None or len(names) != count):
        return f"class_names lists {len(names)} names but num_classes is {count}"
    for rel, entry in (card.get("files") or {}).items():
        problem = _confined_problem(rel)
        if problem:
            return f"files lists {rel!r}, {problem}"
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            return f"files[{rel!r}] must be an object with a sha256 string"
    return None


def _confined_problem(rel):
    """Why the card path `rel` could name a file outside its export directory, or None."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return "not a relative path"
    if rel.startswith("/") or os.path.isabs(rel):
        return "an absolute path (the card names files inside its export directory)"
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "a path that leaves (or does not name a file in) its export directory"
    return None


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
        if _confined_problem(rel) or not _inside(path, version_dir):
            raise ExportError(f"{path} leaves the export directory {version_dir} (through a link or a path); "
                              "an export is checked only inside itself. Re-export the model.")
        if not os.path.isfile(path):
            raise ExportError(f"{path} is listed in the model card but missing; re-export the model.")
        if _sha256(path) != entry.get("sha256"):
            raise ExportError(f"{path} does not match the sha256 in the model card: it is corrupt or was modified.")
    return len(files)


def _inside(path, directory):
    """True when `path`, links resolved, lies inside `directory` (links resolved) and no part of
    it below `directory` is a link."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(directory))
    here = os.path.abspath(directory)
    for part in rel.split(os.sep):
        here = os.path.join(here, part)
        if part == ".." or os.path.islink(here):
            return False
    real, top = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([real, top]) == top


def vouched_files(version_dir, card, names):
    """True when the card lists every one of `names` and each matches its sha256 (checked)."""
    files = (card or {}).get("files") or {}
    if not all(name in files for name in names):
        return False
    _check_files(version_dir, card, names=set(names))
    return True


def check_base_dir(directory):
    """ExportError unless `directory` can be an export's base directory: not a version of an
    export (`--out BASE/1` would nest a version inside a published one)."""
    directory = os.path.abspath(os.fspath(directory))
    parent, name = os.path.dirname(directory), os.path.basename(directory)
    if _is_version_dir(directory) or (name.isdigit() and (_versions(parent) or _is_version_dir(parent))):
        raise ExportError(
            f"{directory} is a version directory of the export {parent}; give the base directory ({parent}): the "
            "version is chosen there (or pass --version).")


def _model_identity(card):
    """What makes an export the same model for a client: its class, z, output and classes."""
    card = card or {}
    return {"model": card.get("model"), "latent_dim": card.get("latent_dim"),
            "output_shape": card.get("output_shape"), "num_classes": card.get("num_classes")}


def check_same_model(directory, new_identity, replace_model):
    """ExportError when the newest version under `directory` holds another model (class, z size,
    output shape or classes) than the one exported, unless `replace_model`: TF Serving would
    switch every client to it."""
    versions = list_exports(directory)
    if replace_model or not versions:
        return
    try:
        card = _read_card(versions[-1])
    except ExportError:
        card = None
    if card is None:
        return  # nothing says what it holds; the new version's card will
    old = _model_identity(card)
    differs = {k: (old[k], v) for k, v in new_identity.items() if old.get(k) is not None and old[k] != v}
    if differs:
        what = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in differs.items())
        raise ExportError(
            f"{directory} serves another model (its version {os.path.basename(versions[-1])}: {what}); a new version "
            "there would switch every TF Serving client to this one. Export to another base directory, or pass "
            "replace_model=True to replace it.")


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
    check_base_dir(directory)
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


def _signatures(latent_dim, num_classes, label_prior=None):
    """The SavedModel signatures' inputs: (dtype, shape) by name (`sample` draws the label of a
    model with a label prior itself)."""
    serve = {"z": ["float32", [None, latent_dim]]}
    sample = {"num_samples": ["int32", []], "seed": ["int64", []]}
    if num_classes is not None:
        serve["label"] = ["int32", [None]]
        if label_prior is None:
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
        "signatures": (_signatures(latent_dim, classes[0], card_fields.get("label_prior"))
                       if "saved_model" in formats else {}),
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
