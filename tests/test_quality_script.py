"""tools/quality.py's conditional and SN-GAN rows: scoring, tables and the shared results JSON."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import ganzoo
from ganzoo.metrics.toy import RING_CENTERS


@pytest.fixture(scope="module")
def quality(tools_module):
    return tools_module("quality")


@pytest.fixture(scope="module")
def quality_tables(tools_module):
    return tools_module("quality_tables")


def _label_to_center_generator(centers):
    """A two-input generator that ignores z and draws exactly `centers[label]`."""
    z, label = keras.Input((2,), name="z"), keras.Input((), dtype="int32", name="label")
    table = keras.layers.Embedding(len(centers), 2, embeddings_initializer=keras.initializers.Constant(centers))
    out = keras.layers.Add()([table(label), keras.layers.Lambda(lambda v: 0.0 * v)(z)])
    return keras.Model([z, label], out)


@pytest.mark.parametrize("shift, landed", [(0, 1.0), (1, 0.0)])
def test_conditional_toy_score_measures_whether_samples_land_in_the_requested_mode(shift, landed, quality):
    # Both generators put every sample on a mode centre (8 modes, all high quality); only the one
    # that draws the requested mode lands in it. shift 1 draws mode y + 1 for label y.
    centers = np.roll(np.asarray(RING_CENTERS, np.float32), -shift, axis=0)
    model = ganzoo.GAN(data_shape=(2,), latent_dim=2, num_classes=8, generator=_label_to_center_generator(centers))
    scores = quality.score_toy(model, "gaussian_ring", seed=0)
    assert scores["modes"] == 8 and scores["high_quality"] == 1.0
    assert scores["reverse_kl"] < 0.01  # labels drawn uniformly: every mode about equally often
    assert scores["in_requested_mode"] == landed and scores["nearest_is_requested"] == landed
    assert scores["per_class_in_requested_mode"] == [landed] * 8


def _toy_run(config, seed, landed, worst):
    return {"dataset": "gaussian_grid", "config": config, "seed": seed, "steps": 20000, "modes": 25,
            "high_quality": 0.9, "reverse_kl": 0.1, "w1": 0.3, "seconds": 100.0, "in_requested_mode": landed,
            "nearest_is_requested": landed + 0.05, "per_class_in_requested_mode": [worst] + [landed] * 24}


def test_conditional_toy_table_averages_seeds_and_shows_the_worst_mode(quality_tables):
    results = {"toys": {"a": _toy_run("cgan_ema", 0, 0.90, 0.5), "b": _toy_run("cgan_ema", 1, 0.80, 0.25),
                        "c": dict(_toy_run("gan_ema", 0, 0.0, 0.0))}}
    del results["toys"]["c"]["in_requested_mode"]  # an unconditional run: not in this table
    table = quality_tables.toy_conditional_table(results)
    assert "| gaussian_grid | ganzoo cgan_ema | 2 | 20000 | 85.0 ± 5.0 | 90.0 ± 5.0 | 25.0 (lowest of any seed) |" in table
    assert "gan_ema |" not in table.replace("cgan_ema", "")
    # Both runs also appear in the main toy table (modes, high quality, reverse KL).
    assert "| gaussian_grid | ganzoo cgan_ema | 2 | 20000 | 25.0 ± 0.0 / 25 | 90.0 ± 0.0 |" in \
        quality_tables.toy_table(results)
    assert quality_tables.toy_conditional_table({"toys": {}}) == "(no conditional toy runs)"


def test_quickstart_table_keeps_each_recipe_apart(quality_tables):
    def run(fd, clusters=None):
        row = {"mnist_fd": fd, "mnist_score": 6.0, "digits_covered": 10.0, "digit_kl": 0.1, "precision": 0.6,
               "recall": 0.8, "cpu_seconds": 100.0, "generator_steps": 2030}
        return row if clusters is None else dict(row, cluster_labels=clusters)

    table = quality_tables.quickstart_table({"quickstart": {"s0": run(2.0, 30), "s1": run(4.0, 30),
                                                            "plain_s0": run(10.0)}})
    assert table.splitlines()[0] == "| metric | 30 clusters, 2,030 steps (2 seeds) | no clusters, 2,030 steps (1 seed) |"
    assert "| MNIST FD ↓ | 3.00 ± 1.00 (2.00 to 4.00) | 10.00 ± 0.00 (10.00 to 10.00) |" in table


WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
from quality_tables import save_results
for i in range(40):
    save_results(sys.argv[2], {"toys": {f"{sys.argv[3]}_{i}": {"i": i}}})
"""


def test_parallel_processes_merging_into_one_results_file_keep_every_run(tmp_path, repo_root):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"toys": {"earlier": {"i": -1}}, "mnist": {"m": {}}}))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, os.path.join(repo_root, "tools"), str(path), f"w{w}"])
             for w in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    results = json.loads(path.read_text())
    assert set(results["toys"]) == {"earlier"} | {f"w{w}_{i}" for w in range(4) for i in range(40)}
    assert results["mnist"] == {"m": {}}  # another part's runs are kept as they were


def test_new_configs_resolve_to_the_documented_models(quality, quality_tables):
    preset, overrides = quality.MNIST_CONFIGS["cwgan_gp"]
    config = ganzoo.resolve_config(preset, **overrides)
    assert (config.model, config.conditional, config.d_steps, config.gp_weight) == ("wgan_gp", True, 5, 10.0)
    config = ganzoo.resolve_config(quality.MNIST_CONFIGS["sngan"][0])
    assert (config.model, config.d_steps, config.beta_1, config.beta_2) == ("sngan", 5, 0.0, 0.9)
    for dataset in quality_tables.TOY_DATASETS:
        assert ganzoo.resolve_config(quality.TOY_CONFIGS["cgan_ema"][0].format(dataset=dataset)).conditional
    assert "sngan" in quality.CRITIC_TOY_CONFIGS and "cgan_ema" not in quality.CRITIC_TOY_CONFIGS


@pytest.mark.slow
def test_quality_script_runs_the_conditional_and_sngan_toy_rows(tmp_path, repo_root, subprocess_env):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, os.path.join(repo_root, "tools", "quality.py"), "--parts", "toys",
                           "--toy-configs", "cgan_ema,sngan", "--datasets", "gaussian_ring", "--seeds", "0",
                           "--toy-steps", "20", "--critic-toy-steps", "20", "--root", tmp_path, "--out", out,
                           "--pictures", tmp_path / "pictures"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads(out.read_text())["toys"]
    assert set(runs) == {"cgan_ema_gaussian_ring_s0_20", "sngan_gaussian_ring_s0_20"}
    assert "in_requested_mode" in runs["cgan_ema_gaussian_ring_s0_20"]
    assert "in_requested_mode" not in runs["sngan_gaussian_ring_s0_20"]
    assert "| gaussian_ring | ganzoo cgan_ema | 1 | 20 |" in proc.stdout
    assert "| gaussian_ring | ganzoo sngan | 1 | 20 |" in proc.stdout
    assert sorted(os.listdir(tmp_path / "pictures")) == ["cgan_ema_gaussian_ring_s0_20.png",
                                                          "sngan_gaussian_ring_s0_20.png"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cwgan_gp", "sngan"])
def test_quality_script_scores_the_new_mnist_rows(tmp_path, name, quality, repo_root, subprocess_env):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, os.path.join(repo_root, "tools", "quality.py"), "--parts", "mnist",
                           "--mnist-models", name, "--mnist-minutes", "0.02", "--mnist-width", "4", "--root", tmp_path,
                           "--out", out, "--pictures", tmp_path], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads(out.read_text())["mnist"][f"{name}_w4_0.02min"]
    assert run["d_steps"] == 5 and run["preset"] == quality.MNIST_CONFIGS[name][0]
    assert ("conditional_accuracy" in run) == (name == "cwgan_gp")
    assert (tmp_path / f"{name}_w4_0.02min.png").exists()
