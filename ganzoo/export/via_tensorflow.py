"""Export from a process that runs Keras on another backend (JAX): the SavedModel and ONNX writers
need TensorFlow graphs, so the model goes through a `.keras` file (backend-neutral) to a
TensorFlow subprocess that runs `export_generator` on it."""

import json
import os
import subprocess
import sys
import tempfile

from ganzoo.errors import ExportError

_CHILD = """
import json, sys
import keras
import ganzoo
from ganzoo.export import ExportError, export_generator
path, directory, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    print("EXPORTED", export_generator(keras.models.load_model(path), directory, **options))
except ExportError as e:
    print("EXPORT_ERROR", e)
    sys.exit(2)
"""


def tensorflow_installed():
    try:
        import importlib.util

        return importlib.util.find_spec("tensorflow") is not None
    except ImportError:
        return False


def export_in_tensorflow(model_or_generator, directory, **options):
    """`export_generator` run in a TensorFlow subprocess; returns the new version's path."""
    import keras

    backend = keras.backend.backend()
    if not tensorflow_installed():
        raise ExportError(
            f"Exporting (TF Serving SavedModel, ONNX) needs TensorFlow, and this process runs Keras on the "
            f"{backend} backend without it installed. Install it with  pip install tensorflow-cpu==2.21.0 "
            "tf2onnx onnx onnxruntime  (or pip install 'ganzoo[cpu,export]'); the export then runs in a "
            "TensorFlow subprocess. Training, sampling and .keras checkpoints need no TensorFlow."
        )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # above ganzoo/
    env = {**os.environ, "KERAS_BACKEND": "tensorflow",
           "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory(prefix="ganzoo-export-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model_or_generator.save(path)
        out = subprocess.run([sys.executable, "-c", _CHILD, path, os.fspath(directory), json.dumps(options)],
                             capture_output=True, text=True, env=env)
    for line in out.stdout.splitlines():
        if line.startswith("EXPORTED "):
            return line[len("EXPORTED "):]
        if line.startswith("EXPORT_ERROR "):
            raise ExportError(line[len("EXPORT_ERROR "):])
    raise ExportError(f"The TensorFlow export subprocess failed (exit {out.returncode}): "
                      f"{out.stderr.strip()[-2000:]}")
