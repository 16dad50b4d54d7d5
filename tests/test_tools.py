"""The tools/ scripts that produce the README's Performance and Results numbers still run."""

import json
import os
import subprocess
import sys

import pytest

@pytest.fixture
def run_tool(repo_root, subprocess_env):
    """`run_tool(name, *args, cwd=...)`: stdout of `python tools/NAME ARGS`, which must succeed."""
    def run(name, *args, cwd=repo_root, timeout=600):
        proc = subprocess.run([sys.executable, os.path.join(repo_root, "tools", name), *map(str, args)], cwd=cwd,
                              capture_output=True, text=True, env=subprocess_env(), timeout=timeout)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    return run


@pytest.mark.slow  # ~40 CPU-s; tests/test_quality_script.py covers scoring, tables and merges in the default run
def test_quality_script_trains_scores_and_tabulates_a_toy_run(tmp_path, run_tool):
    out = tmp_path / "results.json"
    args = ["quality.py", "--parts", "toys", "--toy-configs", "gan_non_saturating", "--datasets", "gaussian_ring",
            "--seeds", "0", "--toy-steps", "20", "--root", tmp_path, "--out", out]
    stdout = run_tool(*args, cwd=tmp_path)
    results = json.loads(out.read_text())["toys"]
    run = results["gan_non_saturating_gaussian_ring_s0_20"]
    assert run["steps"] == 20
    # The table shows the run the JSON holds (one seed: its modes, spread 0).
    assert f"| gaussian_ring | ganzoo gan_non_saturating | 1 | 20 | {run['modes']:.1f} ± 0.0 / 8 |" in stdout
    assert "paper: GAN (VEEGAN Table 1)" in stdout
    # A second call with the same budget finds the run in the JSON and does not train again.
    run_tool(*args, cwd=tmp_path)
    assert json.loads(out.read_text())["toys"]["gan_non_saturating_gaussian_ring_s0_20"]["seconds"] == run["seconds"]


@pytest.mark.slow  # a benchmark (~13 CPU-s); the export parity it times is tested in tests/test_export.py
def test_benchmark_inference_times_both_formats_of_a_shipped_export(tmp_path, run_tool):
    stdout = run_tool("benchmark.py", "--inference", "--quick", "--json", tmp_path / "inf.json")
    report = json.loads((tmp_path / "inf.json").read_text())
    assert [r["batch"] for r in report["inference"]] == [1, 64]
    assert all({"saved_model_ms", "onnx_ms"} <= set(r) for r in report["inference"])
    assert report["max_abs_diff"] < 1e-4 and "| 64 |" in stdout


@pytest.mark.slow
def test_benchmark_quick_plan_and_profile_run(tmp_path, run_tool):
    stdout = run_tool("benchmark.py", "--quick", "--json", tmp_path / "b.json")
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert rows and all({"ganzoo", "hand_alt"} <= set(r) for r in rows)
    # Like for like: every spe has its own hand loops (the script checks that each run made one
    # generator update per step), each measured once per repeat; ratios only within an spe.
    toy = {r["spe"]: r for r in rows if r["config"] == "toy_mlp"}
    assert sorted(toy) == [1, 8]
    for spe, row in toy.items():
        assert sorted(row["all_runs"]) == [f"{n} spe={spe}" for n in ("ganzoo", "hand-alt", "tutorial")]
        assert all(len(runs) == 2 for runs in row["all_runs"].values())
        assert row["ratio_alt"] == row["ganzoo"] / row["hand_alt"]
    assert "| toy_mlp (batch 64) | float32 | off | 8 |" in stdout
    stdout = run_tool("profile_step.py", "--config", "toy_mlp", "--steps", "5")
    assert "toy_mlp ganzoo: busy thread time" in stdout and "toy_mlp hand-alt" in stdout


@pytest.mark.slow  # a benchmark (~15 CPU-s)
def test_spectral_norm_benchmark_times_the_three_kinds(run_tool):
    stdout = run_tool("benchmark_spectral_norm.py", "--batch", "4", "--filters", "4", "--steps", "1", "--repeats", "1")
    for kind in ("none", "ganzoo", "keras"):
        assert f"  {kind}" in stdout and "ms/step" in stdout
    assert "ratio to none 1.00" in stdout  # the baseline against itself


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_callback_overhead_and_like_for_like_run_on_both_backends(backend, repo_root, subprocess_env):
    pytest.importorskip("jax")
    for tool in ("callback_overhead.py", "like_for_like.py"):
        proc = subprocess.run([sys.executable, os.path.join(repo_root, "tools", tool), "--quick"], capture_output=True,
                              text=True, env=subprocess_env(KERAS_BACKEND=backend), timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert f"| {backend}" in proc.stdout, proc.stdout


@pytest.mark.slow
def test_benchmark_backend_jax_runs_the_like_for_like_comparison(repo_root, subprocess_env):
    pytest.importorskip("jax")
    script = os.path.join(repo_root, "tools", "benchmark.py")
    proc = subprocess.run([sys.executable, script, "--backend", "jax", "--quick"], capture_output=True, text=True,
                          env=subprocess_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| jax ganzoo |" in proc.stdout and "| jax hand-scan |" in proc.stdout, proc.stdout
    # TensorFlow-only options are refused with the reason, not silently ignored.
    proc = subprocess.run([sys.executable, script, "--backend", "jax", "--spe", "4"], capture_output=True, text=True,
                          env=subprocess_env(), timeout=300)
    assert proc.returncode == 2 and "has no --spe" in proc.stderr, proc.stderr[-3000:]


@pytest.mark.slow
def test_gpu_benchmark_smoke_runs_without_a_gpu(repo_root, subprocess_env):
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, os.path.join(repo_root, "tools", "gpu_benchmark.py"), "--smoke"],
                          capture_output=True, text=True, env=subprocess_env(KERAS_BACKEND="jax"), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("(smoke)") == 3, proc.stdout


@pytest.mark.slow
def test_quality_script_scores_a_conditional_mnist_run(tmp_path, run_tool):
    out = tmp_path / "results.json"
    stdout = run_tool("quality.py", "--parts", "mnist", "--mnist-models", "cdcgan", "--mnist-minutes", "0.02",
                      "--mnist-width", "4", "--root", tmp_path, "--out", out, cwd=tmp_path)
    run = json.loads(out.read_text())["mnist"]["cdcgan_w4_0.02min"]
    assert len(run["per_class_accuracy"]) == 10 and len(run["per_class_mnist_fd"]) == 10
    assert run["conditional_accuracy"] == pytest.approx(sum(run["per_class_accuracy"]) / 10)
    assert f"| cdcgan: conditional accuracy {run['conditional_accuracy']:.3f}" in stdout


@pytest.mark.slow  # a benchmark (~20 CPU-s)
def test_augmentation_benchmark_runs_and_prints_ratios(run_tool):
    stdout = run_tool("benchmark_augment.py", "--quick")
    assert "plain" in stdout and "diffaugment" in stdout and "vs plain" in stdout


def _has_fashion_files():
    from ganzoo.data.sources import fashion_mnist

    return fashion_mnist.find_directory() is not None


needs_fashion_files = pytest.mark.skipif("not _has_fashion_files()",
                                         reason="needs Fashion-MNIST's idx files: apt-get install dataset-fashion-mnist")


@pytest.mark.slow  # a benchmark (~20 CPU-s)
@needs_fashion_files
def test_zoo_step_cost_times_each_variant_in_its_own_process(run_tool):
    stdout = run_tool("zoo_step_cost.py", "--variants", "threads=1,batch=16", "threads=2,batch=16,r1_every=2",
                      "--steps", "10", "--repeats", "1")
    rows = [line for line in stdout.splitlines() if line.startswith("| threads=")]
    assert [row.split(" | ")[0] for row in rows] == ["| threads=1,batch=16", "| threads=2,batch=16,r1_every=2"]
    assert all(float(row.split(" | ")[1].split()[0]) > 0 for row in rows)


@pytest.mark.slow  # a profile (~30 CPU-s)
@needs_fashion_files
def test_zoo_step_cost_profiles_the_op_types_of_a_step(run_tool):
    stdout = run_tool("zoo_step_cost.py", "--profile", "threads=1,batch=16,spe=5", "--steps", "10")
    header, *ops = [line for line in stdout.splitlines() if "ms/step" in line or "busy thread time" in line]
    assert header.startswith("threads=1,batch=16,spe=5: busy thread time") and float(header.split()[4]) > 0
    names = [line.split()[0] for line in ops]
    assert any("Conv2DBackpropFilter" in n for n in names), names  # D's and G's weight gradients ran
    assert not any("BatchMatMul" in n for n in names), names  # the projection's dot: a multiply and a sum


@pytest.mark.slow  # trains 20 steps and scores 10,000 samples twice (~1.5 CPU-min)
@needs_fashion_files
def test_fashion_zoo_keeps_a_runs_budget_so_its_row_can_be_scored_again(tmp_path, run_tool):
    results = tmp_path / "results.json"
    run_tool("fashion_zoo.py", "train", "dcgan_fashion_mnist", "--root", tmp_path, "--results", results, "--",
             "--epochs", "1", "--steps-per-epoch", "20")
    label = "dcgan_fashion_mnist --epochs 1 --steps-per-epoch 20"
    row = json.loads(results.read_text())[f"{label}_s0"]
    run_dir = row["run_dir"]
    budget = json.loads((tmp_path / os.path.basename(run_dir) / "zoo_budget.json").read_text())
    assert budget["label"] == label and budget["cpu_seconds"] > 0 and "--steps-per-epoch 20" in budget["command"]
    assert row["generator_steps"] == 20 and row["cpu_seconds"] == round(budget["cpu_seconds"], 1)
    # As when a scoring failed after the training: the row is gone, `score RUN_DIR` makes it again
    # with the training's own CPU time and command.
    results.write_text("{}")
    run_tool("fashion_zoo.py", "score", run_dir, "--results", results)
    again = json.loads(results.read_text())[f"{label}_s0"]
    assert {k: again[k] for k in ("cpu_seconds", "command", "generator_steps", "fashion_fd")} == \
        {k: row[k] for k in ("cpu_seconds", "command", "generator_steps", "fashion_fd")}
    # A run with neither the budget file nor a time log is refused with the way out.
    os.remove(os.path.join(run_dir, "zoo_budget.json"))
    proc = subprocess.run([sys.executable, "tools/fashion_zoo.py", "score", run_dir, "--results", results],
                          capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode != 0 and "give --time-log and --train-command" in proc.stderr
