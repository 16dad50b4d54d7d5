"""Re-run an export's parity and integrity checks.

Usage:
    python tools/verify_export.py exported_models/dcgan_mnist/3     # one version
    python tools/verify_export.py exported_models/dcgan_mnist       # every version
    python tools/verify_export.py DIR --atol 1e-5

For each version: checks every file against the sha256 in model.json, then compares the
Keras generator's output stored at export time (parity_reference.npz), the SavedModel's
`serving_default` and ONNX Runtime on the fixed latent batch, the `images_uint8` outputs, and
the determinism of the `sample` signature. Prints one JSON report per version; exits 1 if any
version fails.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ganzoo.export import ExportError, list_exports, verify_export  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="an export version directory, or a base directory (all versions)")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest allowed max-abs difference")
    args = parser.parse_args(argv)

    version_dirs = list_exports(args.directory)
    if not version_dirs:
        print(f"error: {args.directory} holds no export (no saved_model.pb, generator.onnx or version "
              "subdirectories)", file=sys.stderr)
        return 1
    failed = 0
    for version_dir in version_dirs:
        try:
            report = verify_export(version_dir, atol=args.atol)
            print(json.dumps({"export": version_dir, "ok": True, **report}))
        except ExportError as e:
            failed += 1
            print(json.dumps({"export": version_dir, "ok": False, "error": str(e)}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
