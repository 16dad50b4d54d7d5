"""The shipped conditional export (exported_models/cdcgan_mnist_sample_pretrained) meets its model
card's conditional accuracy when sampled through ONNX Runtime alone (no TensorFlow, no Keras),
with the z and labels of the evaluation that wrote the card (tools/quality.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


SAMPLE = """
import json, sys
sys.modules["tensorflow"] = None   # ONNX Runtime and numpy only
sys.modules["keras"] = None
import numpy as np
from ganzoo.export import load_exported
gen = load_exported(sys.argv[1], backend="onnx")
card = gen.card
# tools/quality.py: model.generate(5000, seed=1000 + seed, labels=arange(5000) % 10)
labels = np.arange(5000) % gen.num_classes
images = gen.generate(5000, seed=1000 + card["training_budget"]["seed"], labels=labels)
np.savez(sys.argv[2], images=images, labels=labels)
"""


def test_shipped_conditional_export_meets_its_card_through_onnx_runtime_alone(tmp_path, repo_root, subprocess_env):
    base = os.path.join(repo_root, "exported_models", "cdcgan_mnist_sample_pretrained")
    from ganzoo.data import load_real_samples
    from ganzoo.metrics.conditional import mnist_conditional_metrics

    out = tmp_path / "samples.npz"
    proc = subprocess.run([sys.executable, "-c", SAMPLE, base, str(out)], capture_output=True, text=True,
                          timeout=300, cwd=repo_root, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    version = max((d for d in os.listdir(base) if d.isdigit()), key=int)
    card = json.load(open(os.path.join(base, version, "model.json")))
    assert card["class_names"] == [str(d) for d in range(10)]
    samples = np.load(out)
    real, real_labels = load_real_samples("mnist_sample", 500, split="test", seed=card["training_budget"]["seed"],
                                          with_labels=True)
    scores = mnist_conditional_metrics(samples["images"], samples["labels"], real, real_labels)
    assert scores["conditional_accuracy"] >= 0.9
    assert scores["conditional_accuracy"] == pytest.approx(card["metrics"]["conditional_accuracy"], abs=2e-3)
    assert card["metrics"]["mnist_score"] >= 7
