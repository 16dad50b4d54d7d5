"""The pretrained generators shipped in the repository's `exported_models/`, by short name.

`exported_models/<name>_pretrained/` holds one export (SavedModel + ONNX + model card) of the
preset `<name>`; `pretrained("cdcgan_fashion_mnist")` loads it through ONNX Runtime (numpy and
onnxruntime only, as `load_exported`). The folder sits beside the package in a clone or an
editable install; `GANZOO_PRETRAINED_DIR` points elsewhere (e.g. a copy of that folder).
"""

import os
from pathlib import Path

from ganzoo.export.layout import CARD_FILENAME, ExportError
from ganzoo.export.runtime import load_exported

PRETRAINED_SUFFIX = "_pretrained"
PRETRAINED_ENV_VAR = "GANZOO_PRETRAINED_DIR"


def pretrained_dir():
    """The folder of the shipped exports: $GANZOO_PRETRAINED_DIR, else the clone's exported_models/."""
    return Path(os.environ.get(PRETRAINED_ENV_VAR) or Path(__file__).resolve().parents[2] / "exported_models")


def shipped_pretrained():
    """{short name: export base directory} of every shipped export (a `*_pretrained` folder
    holding a version with a model card), sorted by name."""
    root = pretrained_dir()
    if not root.is_dir():
        return {}
    found = {}
    for base in sorted(root.iterdir()):
        if base.name.endswith(PRETRAINED_SUFFIX) and any(base.glob(f"*/{CARD_FILENAME}")):
            found[base.name[: -len(PRETRAINED_SUFFIX)]] = base
    return found


def pretrained_path(name):
    """The export directory of the shipped generator `name` ("dcgan_fashion_mnist" or
    "dcgan_fashion_mnist_pretrained"); ExportError listing the shipped names otherwise."""
    shipped = shipped_pretrained()
    key = name[: -len(PRETRAINED_SUFFIX)] if isinstance(name, str) and name.endswith(PRETRAINED_SUFFIX) else name
    if key not in shipped:
        where = pretrained_dir()
        listed = ", ".join(shipped) if shipped else f"none found in {where} (set {PRETRAINED_ENV_VAR})"
        raise ExportError(f"No shipped pretrained generator named {name!r}. Shipped: {listed}.")
    return shipped[key]


def pretrained(name, backend="onnx"):
    """Load a shipped pretrained generator by name.

    Args:
        name: a preset name with a shipped export, e.g. "dcgan_fashion_mnist",
            "cdcgan_fashion_mnist" (`ganzoo list` shows them).
        backend: "onnx" (ONNX Runtime: numpy and onnxruntime only) or "saved_model".

    Returns:
        An `ExportedGenerator` (`.generate(n, seed=..., labels=...)`, `.class_names`, `.card`).

    Raises:
        ExportError: an unknown name (the message lists the shipped ones) or a damaged export.

    Example:
        >>> gen = ganzoo.pretrained("cdcgan_fashion_mnist")
        >>> boots = gen.generate(16, seed=0, labels=[gen.class_names.index("Ankle boot")] * 16)
    """
    return load_exported(str(pretrained_path(name)), backend=backend)
