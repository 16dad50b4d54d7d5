"""The shipped toy exports score their model card's numbers when sampled through ONNX Runtime
alone (no TensorFlow, no Keras), with the same z as the evaluation that wrote the card."""

import json
import os
import subprocess
import sys

import pytest


def _toys(root):
    return sorted(d for d in os.listdir(os.path.join(root, "exported_models"))
                  if d.startswith("gan_gaussian_") and d.endswith("_pretrained"))


def pytest_generate_tests(metafunc):
    if "toy_export" in metafunc.fixturenames:
        metafunc.parametrize("toy_export", _toys(metafunc.config.rootpath))


SCRIPT = """
import json, sys
sys.modules["tensorflow"] = None   # ONNX Runtime and numpy only
sys.modules["keras"] = None
import numpy as np, onnxruntime as ort
from ganzoo.metrics import toy
version_dir = sys.argv[1]
card = json.load(open(version_dir + "/model.json"))
session = ort.InferenceSession(version_dir + "/generator.onnx")
# tools/quality.py scores model.generate(2500, seed=1000 + run seed): numpy's default_rng draws z.
z = np.random.default_rng(1000 + card["training_budget"]["seed"]).standard_normal((2500, card["latent_dim"]))
points = session.run(["samples"], {"z": z.astype(np.float32)})[0]  # vector exports name their output "samples"
centers = toy.GRID_CENTERS if "grid" in card["dataset"] else toy.RING_CENTERS
sigma = toy.GRID_SIGMA if "grid" in card["dataset"] else toy.RING_SIGMA
print(json.dumps({k: float(v) for k, v in toy.toy_mode_metrics(points, centers, sigma).items()}))
"""


def test_the_grid_export_ships(repo_root):
    assert "gan_gaussian_grid_pretrained" in _toys(repo_root)


def test_shipped_toy_export_scores_its_card_through_onnx_runtime_alone(toy_export, repo_root, subprocess_env):
    base = os.path.join(repo_root, "exported_models", toy_export)
    version_dir = os.path.join(base, max((d for d in os.listdir(base) if d.isdigit()), key=int))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, version_dir], capture_output=True, text=True, timeout=120,
                          cwd=repo_root, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads(proc.stdout.strip().splitlines()[-1])
    card = json.load(open(os.path.join(version_dir, "model.json")))["metrics"]
    assert scores["modes"] == card["modes"]
    assert scores["high_quality"] == pytest.approx(card["high_quality"], abs=1e-3)  # one sample may sit on 3 sigma
    assert scores["reverse_kl"] == pytest.approx(card["reverse_kl"], abs=2e-3)
