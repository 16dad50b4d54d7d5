"""`ganzoo evaluate`: the run's own image size and data, the held-out reference split by default,
a capped real set, and the table kept when its file cannot be written."""

import json


# ------------------------------------------------------------------- evaluate (14, 17)
def test_evaluate_uses_the_runs_image_size_and_caps_the_real_set(tmp_path, monkeypatch, run_main):
    run = tmp_path / "run32"
    assert run_main(["train", "dcgan", "--dataset", "mnist_sample", "--image-size", "32", "--epochs", "1",
                 "--run-dir", str(run), "--batch-size", "8", "--width", "4", "--latent-dim", "4",
                 "--steps-per-epoch", "1", "--quiet"])[0] == 0
    common = ["evaluate", run, "--num-samples", "40", "--feature-extractor", "none", "--metrics", "pr"]
    code, out, err = run_main([*common, "--num-real", "100"])
    assert code == 0 and "40 generated samples vs 100 real examples of mnist_sample split 'test'" in out, err
    code, _, err = run_main([*common[:-1], "modes"])
    assert code == 2 and "toy" in err and "toy=" not in err, err
    assert json.loads((run / "metrics.json").read_text())["num_real"] == 100
    monkeypatch.setattr("ganzoo.cli.evaluate.DEFAULT_NUM_REAL", 300)
    assert run_main([*common, "--split", "train"])[0] == 0
    report = json.loads((run / "metrics.json").read_text())
    assert (report["split"], report["num_real"]) == ("train", 300)


def test_evaluate_compares_mnist_sample_with_its_held_out_split_by_default(run_main, tmp_path):
    """The reference set is the 500 held-out digits (as in README Results), named in the table and the file."""
    run = tmp_path / "mnist"
    assert run_main(["train", "dcgan", "--dataset", "mnist_sample", "--epochs", "1", "--run-dir", run,
                     "--batch-size", "8", "--width", "4", "--latent-dim", "4", "--steps-per-epoch", "1",
                     "--quiet"])[0] == 0
    code, out, err = run_main(["evaluate", run, "--num-samples", "30", "--feature-extractor", "none",
                               "--metrics", "pr"])
    reference = "500 real examples of mnist_sample split 'test' (held out from training)"
    assert code == 0 and f"30 generated samples vs {reference}:" in out, err
    report = json.loads((run / "metrics.json").read_text())
    assert (report["split"], report["num_real"], report["reference"]) == ("test", 500, reference)


def test_evaluate_that_cannot_write_its_default_file_keeps_the_table(run, run_main):
    (run / "metrics.json").mkdir()  # something in the way of RUN_DIR/metrics.json
    code, out, err = run_main(["evaluate", run, "--num-samples", "300"])
    assert code == 2 and "w1" in out and "could not write" in err and "--out" in err, (out, err)
    assert len(err.strip().splitlines()) == 1 and not [p for p in run.iterdir() if p.name.startswith(".tmp-")]
