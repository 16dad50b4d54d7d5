"""Rerun ganzoo's sample-quality table against the papers' anchors, within a stated CPU budget.

Parts:
    toys   GAN (minimax and non-saturating) and WGAN-GP (also sampled from an EMA of G) with
           MLPs on gaussian_ring and gaussian_grid, several seeds; 2,500 generated samples per run, scored with the
           VEEGAN protocol (modes captured, % high quality = within 3 sigma of a mode,
           reverse KL over the modes of the high-quality samples), next to VEEGAN Table 1 /
           PacGAN / GDPP numbers.
    mnist  DCGAN and WGAN-GP on the bundled mnist_sample (4,500 training digits), each for a
           wall-clock budget; MNIST Frechet distance, MNIST score, digits covered, KID,
           precision/recall on 500 held-out real digits' reference protocol, beside the
           real-data reference values in ganzoo/weights/mnist_classifier.json.

Usage:
    python tools/quality.py --export           # the whole table and the pretrained exports (~2 h, idle 2 cores)
    python tools/quality.py --parts toys --toy-steps 10000 --wgan-gp-toy-steps 4000 --seeds 0,1,2
    python tools/quality.py --parts mnist --mnist-minutes 13 --mnist-width 32 --export mnist
    python tools/quality.py --table            # print the table from the saved JSON only

Each finished run is merged into the JSON (default runs/quality/results.json) as soon as it
is scored, so parts can be run separately, in parallel processes or resumed; a run already in
the JSON with the same budget is skipped unless --force. Run directories are
runs/quality/toys/<config>_<data>_s<seed>_<steps> and runs/quality/mnist/<model>_w<width>_<min>min_s<seed>.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Published anchors: (modes captured, % high-quality samples), 2,500 samples, VEEGAN protocol.
# VEEGAN (Srivastava et al. 2017) Table 1 for GAN; the WGAN-GP and GDPP rows as quoted by the GDPP
# paper (Elfeki et al. 2019); PacGAN4 from Lin et al. 2018, Table 1. The PacGAN rows' own setup
# (the authors' code, synthetic_data_experiments/*/config.py): G 4 x 400 ReLU with batch norm, D 3 x
# 200 maxout units of 5 pieces, z of 2, Adam(1e-4, beta_1=0.8), 100 packs per step, 400 epochs of
# 100,000 points = 400,000 steps. The VEEGAN/GDPP rows' networks and budgets are those papers' own
# (not restated here); all train far longer than ganzoo's rows.
PAPER_ANCHORS = {
    "gaussian_ring": [("GAN (VEEGAN Table 1)", 1.0, 99.3), ("WGAN-GP (GDPP paper)", 6.8, 59.6),
                      ("GDPP-GAN (GDPP paper)", 8.0, 71.7)],
    "gaussian_grid": [("GAN (VEEGAN Table 1)", 3.3, 0.5), ("WGAN-GP (GDPP paper)", 24.2, 28.7),
                      ("PacGAN4 (400k steps, 4x400 BN G, 3x200 maxout D)", 24.8, 93.6),
                      ("GDPP-GAN (GDPP paper)", 24.8, 68.5)],
}

# Toy configurations: (preset, overrides). The presets hold the networks and optimizers
# (ganzoo/models/registry.py); `gan_*` are the model classes' vector defaults (3 x 128 MLPs, z of 2,
# Adam(1e-4, 0.5), batch 256), not PacGAN's larger networks (about 20x the arithmetic per step).
TOY_CONFIGS = {
    "gan_minimax": ("gan_{dataset}", {"generator_loss": "minimax"}),
    "gan_non_saturating": ("gan_{dataset}", {"generator_loss": "non_saturating"}),
    # PacGAN's packing on the same GAN: D judges 4 samples at once (batch 256 = 64 packs).
    "gan_pack4": ("gan_{dataset}", {"pack": 4}),
    # ganzoo's recipe: Adam(1e-3, 0.5) for both players, samples from a warmed-up EMA of G (0.999).
    "gan_ema": ("gan_ema_{dataset}", {}),
    "gan_ema_pack4": ("gan_ema_{dataset}", {"pack": 4}),
    # The recipe at half the learning rate (both players 5e-4).
    "gan_ema_lr5e4": ("gan_ema_{dataset}", {"d_lr": 5e-4, "g_lr": 5e-4}),
    "wgan_gp": ("wgan_gp_{dataset}", {}),
    # The same WGAN-GP, sampled from an exponential moving average of G's weights.
    "wgan_gp_ema": ("wgan_gp_{dataset}", {"ema": 0.998}),
    # gan_ema with the mode index as the label (Mirza & Osindero G, projection D); scored on
    # uniformly drawn labels, also by the share of samples landing in the requested mode.
    "cgan_ema": ("cgan_ema_{dataset}", {}),
    # Miyato et al. 2018 on the toys: hinge loss, spectrally normalized D, Adam(2e-4, 0, 0.9), 5 D steps.
    "sngan": ("sngan_{dataset}", {}),
}
# Configurations with 5 critic/discriminator steps per G step: trained for --critic-toy-steps.
CRITIC_TOY_CONFIGS = ("wgan_gp", "wgan_gp_ema", "sngan")
TOY_DATASETS = ("gaussian_ring", "gaussian_grid")
TOY_EVAL_SAMPLES = 2500  # the VEEGAN / PacGAN protocol

# MNIST configurations: (preset, overrides). The conditional ones are scored also by conditional
# accuracy and per-class MNIST FD.
MNIST_CONFIGS = {"dcgan": ("dcgan_mnist_sample", {}), "wgan_gp": ("wgan_gp_mnist_sample", {}),
                 "cdcgan": ("cdcgan_mnist_sample", {}),
                 # WGAN-GP's paper settings with labels: Mirza & Osindero G, projection critic
                 "cwgan_gp": ("wgan_gp_mnist_sample", {"conditional": True}),
                 # Miyato et al. 2018: spectrally normalized critic, hinge loss, Adam(2e-4, 0, 0.9), n_dis 5
                 "sngan": ("sngan_mnist_sample", {})}
MNIST_EVAL_SAMPLES = 5000
MNIST_REFERENCE_KEY = "test_500_vs_train_4500"


def _load_results(path):
    if os.path.exists(path):
        with open(path) as f:
            return {"quickstart": {}, **json.load(f)}
    return {"toys": {}, "mnist": {}, "quickstart": {}}


def _save_results(path, results):
    """Merge `results` into the JSON at `path`, keeping every run other processes merged meanwhile."""
    import fcntl

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # Parallel quality.py processes share the file: the lock makes read-merge-write one step (two
    # unlocked writers could each re-read before the other's write, and the later drop a run).
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = _load_results(path)
        for part in ("toys", "mnist", "quickstart"):
            current.setdefault(part, {}).update(results.get(part, {}))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(current, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    results.update(current)


def _csv(text, allowed, name):
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise SystemExit(f"--{name}: unknown {bad or 'empty list'}; choose from {', '.join(allowed)}.")
    return values


def _step_timer():
    """A Keras callback measuring generator steps per second after the first call (tracing).

    Steps come from the generator optimizer's iteration count: with steps_per_execution = N,
    Keras calls batch callbacks once per N steps.
    """
    import keras

    class StepTimer(keras.callbacks.Callback):
        start = None

        def on_train_batch_end(self, batch, logs=None):
            steps = int(self.model.g_optimizer.iterations.numpy())
            if self.start is None:
                self.start = (steps, time.perf_counter())
            self.end = (steps, time.perf_counter())

        def steps_per_second(self):
            if self.start is None or self.end[0] == self.start[0]:
                return None
            return (self.end[0] - self.start[0]) / max(self.end[1] - self.start[1], 1e-9)

    return StepTimer()


def _budget_stop(minutes, cores=2):
    """A Keras callback that stops training after `minutes` x `cores` of process CPU time.

    "13 minutes of a 2-core CPU" as a CPU-time budget (26 CPU-minutes) buys the same steps
    whether or not other jobs share the cores, where a wall-clock budget would not.
    """
    import keras

    class BudgetStop(keras.callbacks.Callback):
        c0 = None

        def on_train_begin(self, logs=None):
            self.c0 = self.c0 if self.c0 is not None else time.process_time()

        def on_train_batch_end(self, batch, logs=None):
            if time.process_time() - self.c0 > minutes * 60 * cores:
                self.model.stop_training = True

    return BudgetStop()


def run_toy(dataset, config_name, seed, steps, root, steps_per_epoch=1000):
    """Train one toy run and score 2,500 samples; returns a result dict."""
    import ganzoo
    from ganzoo.training import load_run

    preset, overrides = TOY_CONFIGS[config_name]
    preset = preset.format(dataset=dataset)
    spe = min(steps_per_epoch, steps)
    if steps % spe:
        raise SystemExit(f"--toy-steps {steps} must be a multiple of {spe} (steps per epoch).")
    run_dir = os.path.join(root, "toys", f"{config_name}_{dataset}_s{seed}_{steps}")
    config = ganzoo.resolve_config(preset, seed=seed, run_dir=run_dir, epochs=steps // spe, steps_per_epoch=spe,
                                   quiet=True, **overrides)
    timer = _step_timer()
    t0 = time.perf_counter()
    ganzoo.train(config, callbacks=[timer])
    seconds = time.perf_counter() - t0
    _, model = load_run(run_dir)
    scores = score_toy(model, dataset, seed)
    return dict(scores, dataset=dataset, config=config_name, preset=preset, seed=seed, steps=steps,
                seconds=round(seconds, 1), steps_per_second=timer.steps_per_second(), run_dir=run_dir,
                overrides=overrides, batch_size=config.batch_size, width=config.width)


def score_toy(model, dataset, seed):
    """VEEGAN-protocol scores of 2,500 samples; a conditional model's labels are drawn uniformly
    (seeded) and it is scored also by the share of samples landing in the requested mode."""
    from ganzoo.data import load_real_samples, toy_distribution
    from ganzoo.metrics import evaluate_samples
    from ganzoo.metrics.conditional import toy_conditional_metrics

    toy = toy_distribution(dataset)
    labels = None
    if model.num_classes is not None:
        labels = np.random.default_rng(2000 + seed).integers(0, model.num_classes, TOY_EVAL_SAMPLES)
    fake = model.generate(TOY_EVAL_SAMPLES, seed=1000 + seed, labels=labels)
    real = load_real_samples(dataset, TOY_EVAL_SAMPLES, seed=seed, split="test")
    scores = evaluate_samples(fake, real, toy=toy)
    if labels is not None:
        scores.update(toy_conditional_metrics(fake, labels, toy.centers, toy.sigma))
    return scores


def _load_and_score_mnist(run_dir, seed):
    """The run's sampling generator, and its scores on 5,000 samples against the 500 held-out digits."""
    from ganzoo.data import load_real_samples
    from ganzoo.metrics import evaluate_samples
    from ganzoo.training import load_run

    _, model = load_run(run_dir)
    # A conditional model: every digit equally often, then also scored per requested digit.
    labels = None if model.num_classes is None else np.arange(MNIST_EVAL_SAMPLES) % model.num_classes
    fake = model.generate(MNIST_EVAL_SAMPLES, seed=1000 + seed, labels=labels)
    real, real_labels = load_real_samples("mnist_sample", 500, split="test", seed=seed, with_labels=True)
    scores = evaluate_samples(fake, real, feature_extractor="mnist")
    if labels is not None:
        from ganzoo.metrics.conditional import mnist_conditional_metrics

        scores.update(mnist_conditional_metrics(fake, labels, real, real_labels))
    return model, scores


def run_mnist(name, minutes, width, root, seed=0, max_epochs=1000):
    """Train one MNIST-sample model for `minutes` of a 2-core CPU (2 x `minutes` of process CPU
    time, however busy the machine) and score 5,000 samples."""
    import ganzoo

    preset, overrides = MNIST_CONFIGS[name]
    run_dir = os.path.join(root, "mnist", f"{name}_w{width}_{minutes:g}min_s{seed}")
    # A budget run starts from step 0: `train` would resume an interrupted earlier attempt in
    # this directory, and the steps that attempt made would fall outside the budget.
    shutil.rmtree(run_dir, ignore_errors=True)
    config = ganzoo.resolve_config(preset, seed=seed, run_dir=run_dir, epochs=max_epochs, width=width, quiet=True,
                                   **overrides)
    stopper = _budget_stop(minutes)
    timer = _step_timer()
    t0, c0 = time.perf_counter(), time.process_time()
    history = ganzoo.train(config, callbacks=[timer, stopper])
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    model, scores = _load_and_score_mnist(run_dir, seed)
    step = int(model.g_optimizer.iterations.numpy())
    return dict(scores, model=name, preset=preset, seed=seed, width=width, minutes_budget=minutes,
                seconds=round(seconds, 1), cpu_seconds=round(cpu_seconds, 1), generator_steps=int(step), epochs=len(history.get("d_loss", [])),
                steps_per_second=timer.steps_per_second(), run_dir=run_dir, batch_size=config.batch_size,
                d_steps=config.d_steps or 1, parameters=int(model.generator.count_params()))


def run_quickstart(seed, root):
    """The README's quick start (the `dcgan_mnist_sample` preset as is) with `seed`, scored like the MNIST rows."""
    import ganzoo

    run_dir = os.path.join(root, "quickstart", f"s{seed}")
    config = ganzoo.resolve_config("dcgan_mnist_sample", seed=seed, run_dir=run_dir, quiet=True)
    t0, c0 = time.perf_counter(), time.process_time()
    ganzoo.train(config)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    model, scores = _load_and_score_mnist(run_dir, seed)
    return dict(scores, seed=seed, seconds=round(seconds, 1), cpu_seconds=round(cpu_seconds, 1),
                generator_steps=int(model.g_optimizer.iterations.numpy()), run_dir=run_dir)


def quickstart_table(results):
    """Mean, std and range over seeds of the quick-start runs."""
    runs = list(results.get("quickstart", {}).values())
    if not runs:
        return "(no quick-start runs)"
    lines = ["| metric | mean ± std | range | seeds |", "|---|---|---|---|"]
    for key, label in [("mnist_fd", "MNIST FD ↓"), ("mnist_score", "MNIST score ↑"), ("digits_covered", "digits covered"),
                       ("digit_kl", "digit KL"), ("precision", "precision"), ("recall", "recall"),
                       ("seconds", "wall seconds")]:
        values = [r[key] for r in runs]
        mean, std = _mean_std(values)
        lines.append(f"| {label} | {mean:.2f} ± {std:.2f} | {min(values):.2f} to {max(values):.2f} | {len(runs)} |")
    return "\n".join(lines)


def _export(model, config, directory, result):
    from ganzoo.export import export_generator
    from ganzoo.training import card_fields, class_names

    card = card_fields(config, model)
    card["metrics"] = {k: v for k, v in result.items()
                       if isinstance(v, float) and k not in ("seconds", "cpu_seconds", "steps_per_second",
                                                             "minutes_budget")}
    card["training_budget"] = {k: result.get(k) for k in ("seconds", "cpu_seconds", "generator_steps", "steps",
                                                          "epochs", "seed") if result.get(k) is not None}
    card["evaluation"] = ("tools/quality.py: 5,000 samples vs 500 held-out mnist_sample test digits through "
                          "ganzoo's MNIST classifier" if config.dataset == "mnist_sample" else
                          "tools/quality.py: 2,500 samples, VEEGAN protocol (modes within 3 sigma)")
    path = export_generator(model, directory, version=1, overwrite=True, card=card,
                            class_names=class_names(config, model))
    return path


def save_sample_picture(model, dataset, path, seed=0):
    """Save what `ganzoo sample` draws: an 8x8 digit grid, or 2,500 toy points over the real data."""
    from ganzoo.callbacks import sample_picture, write_png
    from ganzoo.data import load_real_samples

    if dataset == "mnist_sample" and model.num_classes:  # one row of 8 per class
        labels = np.repeat(np.arange(model.num_classes), 8)
        write_png(sample_picture(model.generate(len(labels), seed=seed, labels=labels), columns=8), path)
    elif dataset == "mnist_sample":
        write_png(sample_picture(model.generate(64, seed=seed)), path)
    else:
        write_png(sample_picture(model.generate(TOY_EVAL_SAMPLES, seed=seed),
                                 load_real_samples(dataset, 2000, seed=seed)), path)
    return path


def _mean_std(values):
    import numpy as np

    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=0))


def toy_table(results):
    """Markdown table of the toy runs (mean +- std over seeds) and the paper anchors."""
    lines = ["| data | model | seeds | steps | modes | % high quality | reverse KL | W1 | s/run | steps/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    toys = results.get("toys", {})
    for dataset in TOY_DATASETS:
        total = len(__import__("ganzoo.data", fromlist=["x"]).toy_distribution(dataset).centers)
        groups = {}
        for r in toys.values():
            if r["dataset"] == dataset:
                groups.setdefault((r["config"], r["steps"]), []).append(r)
        for (config, steps), runs in sorted(groups.items()):
            modes = _mean_std([r["modes"] for r in runs])
            hq = _mean_std([100 * r["high_quality"] for r in runs])
            finite_kl = [r["reverse_kl"] for r in runs if math.isfinite(r["reverse_kl"])]
            # Reverse KL is infinite for a run with no high-quality sample: average the others.
            kl_text = "inf" if not finite_kl else "{:.2f} ± {:.2f}".format(*_mean_std(finite_kl))
            if finite_kl and len(finite_kl) < len(runs):
                kl_text += f" ({len(runs) - len(finite_kl)} run(s) inf)"
            w1 = _mean_std([r["w1"] for r in runs])
            secs = _mean_std([r["seconds"] for r in runs])[0]
            lines.append(f"| {dataset} | ganzoo {config} | {len(runs)} | {steps} | {modes[0]:.1f} ± {modes[1]:.1f} "
                         f"/ {total} | {hq[0]:.1f} ± {hq[1]:.1f} | {kl_text} | {w1[0]:.3f} "
                         f"| {secs:.0f} | {steps / secs:.0f} |")
        for name, modes, hq in PAPER_ANCHORS[dataset]:
            lines.append(f"| {dataset} | paper: {name} | | | {modes} / {total} | {hq} | | | | |")
    return "\n".join(lines)


def mnist_table(results):
    """Markdown table of the MNIST runs and the real-data reference."""
    reference = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ganzoo", "weights",
                                            "mnist_classifier.json")))["reference"][MNIST_REFERENCE_KEY]
    lines = ["| model | width | budget | G steps (epochs) | MNIST FD ↓ | MNIST score ↑ | digits covered | digit KL "
             "| KID | precision | recall |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results.get("mnist", {}).values(), key=lambda r: (r["model"], r["width"])):
        budget = (f"{r['cpu_seconds'] / 60:.1f} CPU-min ({r['seconds'] / 60:.1f} min wall)" if "cpu_seconds" in r
                  else f"{r['seconds'] / 60:.1f} min wall")
        lines.append(f"| {r['model']} | {r['width']} | {budget} | {r['generator_steps']} "
                     f"({r['epochs']}) | {r['mnist_fd']:.2f} | {r['mnist_score']:.2f} | {r['digits_covered']:.0f} "
                     f"| {r['digit_kl']:.3f} | {r['kid_mean']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} |")
    for r in sorted(results.get("mnist", {}).values(), key=lambda r: (r["model"], r["width"])):
        if "conditional_accuracy" in r:
            lines.append(f"| {r['model']}: conditional accuracy {r['conditional_accuracy']:.3f}, mean per-class "
                         f"MNIST FD {r['mean_per_class_mnist_fd']:.2f} | | | | | | | | | | |")
    ref = reference
    lines.append(f"| real test digits (reference) | | | | {ref['mnist_fd']:.2f} | {ref['mnist_score']:.2f} "
                 f"| {ref['digits_covered']:.0f} | {ref['digit_kl']:.3f} | {ref['kid_mean']:.3f} "
                 f"| {ref['precision']:.3f} | {ref['recall']:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="toys,mnist,quickstart", help="comma-separated: toys, mnist, quickstart")
    parser.add_argument("--toy-steps", type=int, default=20000, help="generator steps per toy GAN run")
    parser.add_argument("--critic-toy-steps", "--wgan-gp-toy-steps", type=int, default=4000,
                        help="generator steps per toy WGAN-GP and SN-GAN run (5 critic steps each: ~25x a GAN step's "
                             "cost)")
    parser.add_argument("--seeds", default="0,1,2", help="toy seeds")
    parser.add_argument("--toy-configs", default=",".join(TOY_CONFIGS), help=f"from {', '.join(TOY_CONFIGS)}")
    parser.add_argument("--datasets", default=",".join(TOY_DATASETS))
    parser.add_argument("--mnist-models", default="dcgan,wgan_gp", help=f"from {', '.join(MNIST_CONFIGS)}")
    parser.add_argument("--mnist-minutes", type=float, default=13.0,
                        help="budget per MNIST model in minutes of a 2-core CPU (2x that in process CPU time)")
    parser.add_argument("--mnist-width", type=int, default=32, help="conv width of the MNIST nets (64 in DCGAN)")
    parser.add_argument("--export", nargs="?", const="mnist,ring,grid", default=None, metavar="WHICH",
                        help="export to exported_models/*_pretrained with sample pictures: mnist (DCGAN and "
                             "WGAN-GP), ring and grid (the seed-0 gan_ema run of each toy); default all")
    parser.add_argument("--export-dir", default="exported_models")
    parser.add_argument("--root", default="runs/quality", help="run directories go here")
    parser.add_argument("--out", default="runs/quality/results.json")
    parser.add_argument("--force", action="store_true", help="retrain runs already in the JSON")
    parser.add_argument("--table", action="store_true", help="only print the tables from --out")
    args = parser.parse_args(argv)

    results = _load_results(args.out)
    if not args.table:
        parts = _csv(args.parts, ("toys", "mnist", "quickstart"), "parts")
        if "toys" in parts:
            configs = _csv(args.toy_configs, tuple(TOY_CONFIGS), "toy-configs")
            datasets = _csv(args.datasets, TOY_DATASETS, "datasets")
            seeds = [int(s) for s in args.seeds.split(",")]
            for dataset in datasets:
                for config in configs:
                    steps = args.critic_toy_steps if config in CRITIC_TOY_CONFIGS else args.toy_steps
                    for seed in seeds:
                        key = f"{config}_{dataset}_s{seed}_{steps}"
                        if key in results["toys"] and not args.force:
                            continue
                        r = run_toy(dataset, config, seed, steps, args.root)
                        print(json.dumps({k: r[k] for k in ("dataset", "config", "seed", "modes", "high_quality",
                                                            "reverse_kl", "seconds", "steps_per_second")}),
                              flush=True)
                        _save_results(args.out, {"toys": {key: r}})
        if "mnist" in parts:
            for name in _csv(args.mnist_models, tuple(MNIST_CONFIGS), "mnist-models"):
                key = f"{name}_w{args.mnist_width}_{args.mnist_minutes:g}min"
                if key in results["mnist"] and not args.force:
                    continue
                r = run_mnist(name, args.mnist_minutes, args.mnist_width, args.root)
                print(json.dumps({k: v for k, v in r.items() if k != "run_dir"}), flush=True)
                _save_results(args.out, {"mnist": {key: r}})
        if "quickstart" in parts:
            for seed in [int(s) for s in args.seeds.split(",")]:
                key = f"s{seed}"
                if key in results["quickstart"] and not args.force:
                    continue
                r = run_quickstart(seed, args.root)
                print(json.dumps({k: v for k, v in r.items() if k != "run_dir"}), flush=True)
                _save_results(args.out, {"quickstart": {key: r}})
        if args.export:
            export_all(_load_results(args.out), args.export_dir, args.mnist_width, args.mnist_minutes,
                       args.toy_steps, _csv(args.export, ("mnist", "ring", "grid"), "export"),
                       _csv(args.mnist_models, tuple(MNIST_CONFIGS), "mnist-models"))
    results = _load_results(args.out)
    print("\n## 2-D mixtures (2,500 samples per run; mean ± std over seeds)\n")
    print(toy_table(results))
    print("\n## mnist_sample (5,000 samples vs 500 held-out real digits, ganzoo's MNIST classifier)\n")
    print(mnist_table(results))
    print("\n## Quick start: the dcgan_mnist_sample preset as the README runs it (over --seeds)\n")
    print(quickstart_table(results))


def export_all(results, export_dir, mnist_width, mnist_minutes, toy_steps, which=("mnist", "ring", "grid"),
               mnist_models=("dcgan", "wgan_gp")):
    """Export the MNIST runs of `mnist_models` and the seed-0 gan_ema toy runs, with sample pictures."""
    from ganzoo.training import load_run

    targets = []
    for name in mnist_models if "mnist" in which else ():
        key = f"{name}_w{mnist_width}_{mnist_minutes:g}min"
        if key not in results["mnist"]:
            raise SystemExit(f"--export mnist: no run {key} in the results; train it first (--parts mnist).")
        r = results["mnist"][key]
        targets.append((r, f"{r['preset']}_pretrained", "mnist_sample"))
    for toy in ("ring", "grid"):
        if toy not in which:
            continue
        dataset = f"gaussian_{toy}"
        # The best gan_ema row of the table (most seeds, then most modes and high-quality samples
        # on average); of its seeds, the one with the most modes, then the most high-quality
        # samples (the card and README say which row and seed it is).
        rows = {}
        for r in results["toys"].values():
            if r["config"].startswith("gan_ema") and r["dataset"] == dataset and r["steps"] == toy_steps:
                rows.setdefault(r["config"], []).append(r)
        if not rows:
            raise SystemExit(f"--export {toy}: no gan_ema run of {dataset} at {toy_steps} steps in the results; "
                             f"train it first (--parts toys --toy-configs gan_ema --datasets {dataset}).")
        runs = max(rows.values(), key=lambda runs: (len(runs), _mean_std([r["modes"] for r in runs])[0],
                                                    _mean_std([r["high_quality"] for r in runs])[0]))
        best = max(runs, key=lambda r: (r["modes"], r["high_quality"], -r["seed"]))
        targets.append((best, f"gan_{dataset}_pretrained", dataset))
    for r, name, dataset in targets:
        config, model = load_run(r["run_dir"])
        path = _export(model, config, os.path.join(export_dir, name), r)
        picture = save_sample_picture(model, dataset, os.path.join(export_dir, f"{name}_samples.png"))
        print(f"exported {path}; picture {picture}", flush=True)


if __name__ == "__main__":
    main()
