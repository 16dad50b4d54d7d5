"""Every shipped Fashion-MNIST export (exported_models/*_fashion_mnist_pretrained) sampled through ONNX
Runtime alone (no TensorFlow, no Keras in the sampling process) meets its model card: the slow test
re-scores the card's metrics with the card's protocol (tools/fashion_zoo.py: 10,000 samples, seed
1000 + training seed, against the 10,000 test images); the fast one checks the cards, sizes and
pictures, and the class statistics of 1,000 samples."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ganzoo.data.sources import fashion_mnist as fm
from ganzoo.export import shipped_pretrained

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = {name: path for name, path in shipped_pretrained().items() if name.endswith("_fashion_mnist")}
needs_real_files = pytest.mark.skipif(
    fm.find_directory() is None, reason="Fashion-MNIST's files are not installed: apt-get install "
    "dataset-fashion-mnist (or run keras.datasets.fashion_mnist.load_data() once with network)")

SAMPLE = """
import sys
sys.modules["tensorflow"] = None   # ONNX Runtime and numpy only
sys.modules["keras"] = None
import numpy as np
import ganzoo
gen = ganzoo.pretrained(sys.argv[1])
n = int(sys.argv[3])
# class-conditional: every class equally often; on clusters: each drawn from the clusters' shares
labels = None if not gen.num_classes or gen.label_prior is not None else np.arange(n) % gen.num_classes
images = gen.generate(n, seed=1000 + gen.card["seed"], labels=labels)
np.savez(sys.argv[2], images=images, labels=np.arange(n) % 10 if labels is None else labels)
assert "tensorflow" not in sys.modules or sys.modules["tensorflow"] is None
"""


def _onnx_samples(name, n, tmp_path):
    out = tmp_path / f"{name}.npz"
    proc = subprocess.run([sys.executable, "-c", SAMPLE, name, str(out), str(n)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = np.load(out)
    return samples["images"], samples["labels"]


def _class_conditional(card):
    return bool(card.get("num_classes")) and not card.get("label_prior")


def _card(path):
    version = max((d for d in os.listdir(path) if d.isdigit()), key=int)
    return json.load(open(os.path.join(path, version, "model.json"))), os.path.join(path, version)


def test_every_model_of_the_zoo_is_shipped():
    assert {"dcgan_fashion_mnist", "cdcgan_fashion_mnist", "wgan_gp_fashion_mnist", "sngan_fashion_mnist",
            "dcgan_clusters_fashion_mnist"} <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_card_size_and_picture(name):
    card, version_dir = _card(SHIPPED[name])
    assert card["dataset"] == "fashion_mnist" and card["preset"] == name
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(SHIPPED[name]) for f in files)
    assert size < 5_000_000
    assert os.path.isfile(os.path.join(ROOT, "exported_models", f"{name}_pretrained_samples.png"))
    for key in ("fashion_fd", "kid_mean", "fashion_score", "precision", "recall", "classes_covered", "class_kl"):
        assert key in card["metrics"], key
    budget = card["training_budget"]
    assert budget["generator_steps"] == card["training_steps"] and budget["cpu_seconds"] > 0
    if _class_conditional(card):
        assert card["class_names"] == list(fm.FASHION_MNIST_CLASS_NAMES)
        assert "conditional_accuracy" in card["metrics"]
    elif card.get("label_prior"):  # on k-means clusters: the prior sampling draws from, one share per cluster
        assert len(card["label_prior"]) == card["num_classes"] == card["config"]["cluster_labels"]
        assert abs(sum(card["label_prior"]) - 1) < 1e-9 and "conditional_accuracy" not in card["metrics"]


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_shipped_model_is_what_its_preset_trains(name):
    from ganzoo.presets import PRESETS

    card, _ = _card(SHIPPED[name])
    trained = {key: card["config"].get(key) for key in PRESETS[name]}  # a card older than a field: unset
    preset = dict(PRESETS[name])
    if preset.get("mixed_precision") == "auto":  # resolved on the training machine: bfloat16 or off
        assert trained["mixed_precision"] in ("auto", "bfloat16", "off"), trained["mixed_precision"]
        trained["mixed_precision"] = "auto"
    assert trained == preset, "retrain and re-export it: python3 tools/fashion_zoo.py train/export " + name


@needs_real_files
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_onnx_samples_cover_the_classes_as_the_card_says(name, tmp_path):
    from ganzoo.metrics import classifier_conditional_metrics, evaluate_samples
    from ganzoo.data import load_real_samples

    card, _ = _card(SHIPPED[name])
    images, labels = _onnx_samples(name, 1000, tmp_path)
    real, real_labels = load_real_samples("fashion_mnist", 1000, split="test", seed=0, with_labels=True)
    scores = evaluate_samples(images, real, metrics=("coverage",), feature_extractor="fashion_mnist")
    assert scores["classes_covered"] == card["metrics"]["classes_covered"]
    if _class_conditional(card):
        accuracy = classifier_conditional_metrics(images, labels, real, real_labels, "fashion_mnist")
        assert accuracy["conditional_accuracy"] == pytest.approx(card["metrics"]["conditional_accuracy"], abs=0.04)


@pytest.mark.slow
@needs_real_files
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_onnx_samples_rescore_to_the_card(name, tmp_path):
    from ganzoo.data import load_real_samples
    from ganzoo.metrics import classifier_conditional_metrics, evaluate_samples

    card, _ = _card(SHIPPED[name])
    images, labels = _onnx_samples(name, 10000, tmp_path)
    real, real_labels = load_real_samples("fashion_mnist", None, split="test", with_labels=True)
    scores = evaluate_samples(images, real, feature_extractor="fashion_mnist", seed=card["seed"])
    if _class_conditional(card):
        scores.update(classifier_conditional_metrics(images, labels, real, real_labels, "fashion_mnist"))
    for key, value in card["metrics"].items():
        if key in scores:  # ONNX Runtime agrees with Keras within 1e-4: the same numbers to rounding
            assert scores[key] == pytest.approx(value, rel=0.01, abs=2e-3), key


def test_sample_a_named_class_of_the_shipped_conditional_model(tmp_path, run_main):
    from PIL import Image

    out = tmp_path / "boots.png"
    code, _, err = run_main(["sample", "cdcgan_fashion_mnist", "--label", "Ankle boot", "--n", "4", "--out", out])
    assert code == 0, err
    assert Image.open(out).size == (2 * 29 + 1, 2 * 29 + 1)
    code, _, err = run_main(["sample", "cdcgan_fashion_mnist", "--label", "Boot", "--out", out])
    assert code == 2 and "Ankle boot" in err  # the error lists the class names
