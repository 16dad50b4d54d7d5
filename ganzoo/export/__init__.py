"""Export a trained generator for serving (a TF Serving SavedModel and an ONNX file), and load
or verify an export.

    layout.py    versions, the model card, sha256 checksums, atomic publishing (pure Python)
    generator.py which network is exported, with which inputs (z, or z and label for a
                 conditional generator), and its output on the parity batch (Keras)
    writers.py   `export_generator`: the SavedModel and ONNX writers (Keras, TensorFlow, tf2onnx)
    runtime.py   `load_exported`, `ExportedGenerator`: numpy + onnxruntime (TensorFlow only for
                 the SavedModel backend)
    verify.py    `verify_export`: checksums and parity between the formats
    via_tensorflow.py  export from a JAX process: through a `.keras` file to a TensorFlow
                 subprocess (a clear error when TensorFlow is not installed)

Importing this package imports neither Keras nor TensorFlow: with only numpy and onnxruntime
installed, `load_exported` runs an `.onnx` export and `verify_export(dir, formats=("onnx",))`
checks it against its model card and the stored Keras reference.

Example:
    >>> path = ganzoo.export_generator(model, "exported_models/dcgan_mnist")
    >>> gen = ganzoo.export.load_exported("exported_models/dcgan_mnist")   # newest version
    >>> images = gen.generate(16, seed=0)                                  # (16, 28, 28, 1)
"""

from ganzoo.export.layout import (
    CARD_FILENAME,
    DEFAULT_OPSET,
    FORMATS,
    IMAGE_OUTPUTS,
    ONNX_FILENAME,
    PARITY_BATCH,
    PARITY_SEED,
    REFERENCE_FILENAME,
    SAMPLE_SIGNATURE,
    SAMPLE_SIGNATURE_MAX,
    SERVING_SIGNATURE,
    TMP_PREFIX,
    VECTOR_OUTPUTS,
    _sha256,
    find_export,
    list_exports,
)
from ganzoo.errors import ExportError
from ganzoo.export.runtime import ExportedGenerator, load_exported
from ganzoo.export.verify import verify_export
from ganzoo.export.writers import export_generator
from ganzoo.images import to_uint8

__all__ = [
    "ExportError",
    "ExportedGenerator",
    "export_generator",
    "find_export",
    "list_exports",
    "load_exported",
    "to_uint8",
    "verify_export",
]
