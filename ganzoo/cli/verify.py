"""`ganzoo verify EXPORT_DIR`: re-run an export's integrity and parity checks.

For each version (EXPORT_DIR is one version directory, or a base directory: all its versions):
every file against the sha256 in model.json, then the Keras output stored at export time
(parity_reference.npz), the SavedModel's `serving_default` and ONNX Runtime on the fixed latent
batch, the `images_uint8` outputs, and the determinism of the `sample` signature
(`ganzoo.export.verify_export`). Prints one JSON report per version. Exit 0: every version
passed; 1: a version failed (a mismatch, a modified file, or a card naming a file outside its
version directory); 2: a usage error (no export there, a bad --atol).
"""

import argparse
import json
import math
import os
import sys

from ganzoo.cli.common import UsageError


def _atol(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def add_verify_parser(sub, common):
    v = sub.add_parser("verify", help="re-check an export: file checksums and the formats against each other",
                       parents=[common], description=__doc__.split("\n\n")[1].replace("\n", " "))
    v.add_argument("export_dir", metavar="EXPORT_DIR", help="an export version directory, or its base directory")
    v.add_argument("--atol", type=_atol, default=1e-4, help="largest allowed max-abs difference (default 1e-4)")
    v.add_argument("--format", choices=("all", "onnx"), default="all",
                   help="onnx: check the ONNX file only (numpy and onnxruntime, no TensorFlow)")


def _outside(version_dir, card):
    """The card's file names that resolve outside `version_dir` (absolute, '..', or a link out)."""
    root = os.path.realpath(version_dir)
    names = ((card or {}).get("files") or {}) if isinstance(card, dict) else {}
    return [name for name in names
            if os.path.isabs(name) or os.path.commonpath([root, os.path.realpath(os.path.join(root, name))]) != root]


def _verify(version_dir, atol, formats):
    from ganzoo.errors import ExportError
    from ganzoo.export import verify_export
    from ganzoo.export.layout import CARD_FILENAME

    try:
        with open(os.path.join(version_dir, CARD_FILENAME)) as f:
            card = json.load(f)
    except (OSError, ValueError):
        card = None  # verify_export says what is wrong with a missing or broken card
    outside = _outside(version_dir, card)
    if outside:
        return {"export": version_dir, "ok": False,
                "error": f"the model card names files outside {version_dir}: {', '.join(map(repr, outside))}; "
                         "this export cannot be trusted"}
    try:
        return {"export": version_dir, "ok": True, **verify_export(version_dir, atol=atol, formats=formats)}
    except ExportError as e:
        return {"export": version_dir, "ok": False, "error": str(e)}


def cmd_verify(args):
    from ganzoo.export import list_exports

    if not os.path.isdir(args.export_dir):
        raise UsageError(f"{args.export_dir} is not a directory; pass an export version directory or its base.")
    version_dirs = list_exports(args.export_dir)
    if not version_dirs:
        raise UsageError(f"{args.export_dir} holds no export (no saved_model.pb, generator.onnx or numeric "
                         "version subdirectories).")
    formats = ("onnx",) if args.format == "onnx" else None
    failed = 0
    for version_dir in version_dirs:
        report = _verify(version_dir, args.atol, formats)
        failed += not report["ok"]
        print(json.dumps(report), flush=True)
    if failed:
        print(f"ganzoo verify: {failed} of {len(version_dirs)} version(s) failed", file=sys.stderr)
    return 1 if failed else 0
