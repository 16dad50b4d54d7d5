"""`ganzoo train --conditional` end to end: labels from the source, config.json, resume, the
per-class TensorBoard/PNG grid, `export` with class names, `sample RUN --label`, `evaluate`."""

import json

import numpy as np
import pytest
from PIL import Image


def test_conditional_mnist_run_trains_resumes_exports_and_samples_per_class(tmp_path, run_main):
    from ganzoo.export import load_exported
    from ganzoo.runs.record import load_run

    run = tmp_path / "run"
    args = ["train", "cdcgan_mnist_sample", "--run-dir", run, "--width", "4", "--batch-size", "8",
            "--steps-per-epoch", "2", "--quiet"]
    code, _, err = run_main([*args, "--epochs", "1"])
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["conditional"] is True
    code, _, err = run_main([*args, "--epochs", "2"])  # resumes from the checkpoint
    assert code == 0, err
    _, model = load_run(str(run))
    assert model.num_classes == 10 and int(model.g_optimizer.iterations.numpy()) == 4
    # The epoch picture: one row per class, 64 // 10 = 6 samples each (28 px + 1 px borders).
    grid = Image.open(run / "samples" / "epoch_0002.png")
    assert grid.size == (6 * 29 + 1, 10 * 29 + 1)
    code, out, err = run_main(["sample", run, "--label", "7", "--n", "4", "--out", tmp_path / "sevens.png"])
    assert code == 0 and Image.open(tmp_path / "sevens.png").size == (2 * 29 + 1, 2 * 29 + 1), err
    code, out, err = run_main(["sample", run, "--per-class", "3", "--out", tmp_path / "grid.png"])
    assert code == 0 and "one row per class (0, 1, 2" in out, err
    assert Image.open(tmp_path / "grid.png").size == (3 * 29 + 1, 10 * 29 + 1)
    code, _, err = run_main(["sample", run, "--label", "12", "--out", tmp_path / "x.png"])
    assert code == 2 and "not a class" in err
    code, out, err = run_main(["evaluate", run, "--num-samples", "200", "--num-real", "200", "--metrics", "fd"])
    assert code == 0, err
    scores = json.loads((run / "metrics.json").read_text())["metrics"]
    assert len(scores["per_class_accuracy"]) == 10 and "conditional_accuracy" in out
    assert scores["conditional_accuracy"] == pytest.approx(sum(scores["per_class_accuracy"]) / 10)  # 20 per digit
    code, _, err = run_main(["export", run, "--out", tmp_path / "export", "--format", "onnx"])
    assert code == 0, err
    exported = load_exported(str(tmp_path / "export"))
    assert exported.conditional and exported.class_names == [str(d) for d in range(10)]
    z = np.random.default_rng(0).standard_normal((10, model.latent_dim)).astype("float32")
    labels = np.arange(10, dtype="int32")
    np.testing.assert_allclose(exported.generate(z, labels=labels), model.generate(z, labels=labels), atol=1e-5)


def test_conditional_toy_run_evaluates_the_share_in_the_requested_mode(tmp_path, run_main):
    run = tmp_path / "run"
    code, _, err = run_main(["train", "gan", "--dataset", "gaussian_ring", "--conditional", "--run-dir", run,
                             "--width", "4", "--batch-size", "16", "--steps-per-epoch", "3", "--epochs", "1",
                             "--quiet"])
    assert code == 0, err
    code, out, err = run_main(["evaluate", run, "--num-samples", "400", "--metrics", "modes"])
    assert code == 0, err
    scores = json.loads((run / "metrics.json").read_text())["metrics"]
    assert 0 <= scores["in_requested_mode"] <= 1 and len(scores["per_class_in_requested_mode"]) == 8
    assert "in_requested_mode" in out


def test_conditional_refuses_packing_and_unlabelled_data(tmp_path, run_main):
    code, _, err = run_main(["train", "gan", "--dataset", "gaussian_ring", "--conditional", "--pack", "2",
                             "--run-dir", tmp_path / "a"])
    assert code == 2 and "--conditional and --pack" in err
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    code, _, err = run_main(["train", "dcgan", "--dataset", folder, "--conditional", "--run-dir", tmp_path / "b"])
    assert code == 2 and "has none" in err, err
    assert not (tmp_path / "b").exists()
