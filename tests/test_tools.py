"""The tools/ scripts that produce the README's Performance and Results numbers still run."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)


def _run(args, cwd, timeout=600):
    proc = subprocess.run([sys.executable] + args, cwd=cwd, capture_output=True, text=True, env=ENV,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_quality_script_trains_scores_and_tabulates_a_toy_run(tmp_path):
    out = tmp_path / "results.json"
    args = [os.path.join(ROOT, "tools", "quality.py"), "--parts", "toys", "--toy-configs", "gan_non_saturating",
            "--datasets", "gaussian_ring", "--seeds", "0", "--toy-steps", "20", "--root", str(tmp_path),
            "--out", str(out)]
    stdout = _run(args, tmp_path)
    results = json.loads(out.read_text())["toys"]
    run = results["gan_non_saturating_gaussian_ring_s0_20"]
    assert 0 <= run["modes"] <= 8 and 0 <= run["high_quality"] <= 1 and run["steps"] == 20
    assert "| gaussian_ring | ganzoo gan_non_saturating | 1 | 20 |" in stdout
    assert "paper: GAN (VEEGAN Table 1)" in stdout
    # A second call with the same budget finds the run in the JSON and does not train again.
    _run(args, tmp_path)
    assert json.loads(out.read_text())["toys"]["gan_non_saturating_gaussian_ring_s0_20"]["seconds"] == run["seconds"]


def test_benchmark_inference_times_both_formats_of_a_shipped_export(tmp_path):
    stdout = _run([os.path.join(ROOT, "tools", "benchmark.py"), "--inference", "--quick", "--json",
                   str(tmp_path / "inf.json")], ROOT)
    report = json.loads((tmp_path / "inf.json").read_text())
    assert [r["batch"] for r in report["inference"]] == [1, 64]
    assert all(r["saved_model_ms"] > 0 and r["onnx_ms"] > 0 for r in report["inference"])
    assert report["max_abs_diff"] < 1e-4 and "| 64 |" in stdout


@pytest.mark.slow
def test_benchmark_quick_plan_and_profile_run(tmp_path):
    _run([os.path.join(ROOT, "tools", "benchmark.py"), "--quick", "--json", str(tmp_path / "b.json")], ROOT)
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert rows and all(r["ganzoo"] > 0 and r["hand_alt"] > 0 for r in rows)
    stdout = _run([os.path.join(ROOT, "tools", "profile_step.py"), "--config", "toy_mlp", "--steps", "5"], ROOT)
    assert "toy_mlp ganzoo: busy thread time" in stdout and "toy_mlp hand-alt" in stdout
