"""Rerun ganzoo's sample-quality table against the papers' anchors, within a stated CPU budget.

Parts:
    toys   GAN (minimax, non-saturating, packed, ganzoo's EMA recipe and its class-conditional
           form), WGAN-GP (also sampled from an EMA of G) and SN-GAN with MLPs on gaussian_ring and
           gaussian_grid, several seeds; 2,500 generated samples per run, scored with the VEEGAN
           protocol (modes captured, % high quality = within 3 sigma of a mode, reverse KL over
           the modes of the high-quality samples), next to VEEGAN Table 1 / PacGAN / GDPP
           numbers. Conditional runs draw their labels uniformly and are scored also by the share
           of samples landing in the requested mode.
    mnist  DCGAN, WGAN-GP, SN-GAN and the conditional DCGAN / WGAN-GP on the bundled mnist_sample
           (4,500 training digits), each for a CPU-time budget; MNIST Frechet distance, MNIST
           score, digits covered, KID, precision/recall against 500 held-out real digits, beside
           the real-data reference values in ganzoo/weights/mnist_classifier.json; conditional
           models also by conditional accuracy and per-class MNIST FD.

Usage:
    python tools/quality.py --export           # the whole table and the pretrained exports (~2 h, idle 2 cores)
    python tools/quality.py --parts toys --toy-steps 10000 --critic-toy-steps 4000 --seeds 0,1,2
    python tools/quality.py --parts mnist --mnist-minutes 13 --mnist-width 32 --export mnist
    python tools/quality.py --table            # print the table from the saved JSON only

Each finished run is merged into the JSON (default runs/quality/results.json) as soon as it
is scored (under a file lock), so parts can be run separately, in parallel processes or resumed; a run already in
the JSON with the same budget is skipped unless --force. Run directories are
runs/quality/toys/<config>_<data>_s<seed>_<steps> and runs/quality/mnist/<model>_w<width>_<min>min_s<seed>.
"""

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from quality_tables import TOY_DATASETS, load_results, mean_std, print_tables, save_results  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
TOY_EVAL_SAMPLES = 2500  # the VEEGAN / PacGAN protocol

# MNIST configurations: (preset, overrides). The conditional ones are scored also by conditional
# accuracy and per-class MNIST FD.
# "dcgan" is the quick start's recipe (on 30 k-means clusters of the digits), "dcgan_plain" the
# same without the clusters.
MNIST_CONFIGS = {"dcgan": ("dcgan_mnist_sample", {}), "dcgan_plain": ("dcgan_mnist_sample", {"cluster_labels": 0}),
                 "wgan_gp": ("wgan_gp_mnist_sample", {}),
                 "cdcgan": ("cdcgan_mnist_sample", {}),
                 # WGAN-GP's paper settings with labels: Mirza & Osindero G, projection critic
                 "cwgan_gp": ("wgan_gp_mnist_sample", {"conditional": True}),
                 # Miyato et al. 2018: spectrally normalized critic, hinge loss, Adam(2e-4, 0, 0.9), n_dis 5
                 "sngan": ("sngan_mnist_sample", {})}
MNIST_EVAL_SAMPLES = 5000


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
    from ganzoo.runs.record import load_run

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
    from ganzoo.labels import balanced_labels
    from ganzoo.metrics import evaluate_samples
    from ganzoo.runs.record import load_run

    _, model = load_run(run_dir)
    # A conditional model: every digit equally often, then also scored per requested digit.
    # A model on clusters (a label prior) samples its clusters from their shares, as one generator.
    labels = balanced_labels(model.num_classes, MNIST_EVAL_SAMPLES, model.label_prior)
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
                generator_steps=int(model.g_optimizer.iterations.numpy()), run_dir=run_dir,
                cluster_labels=config.cluster_labels)


def _export(model, config, directory, result):
    from ganzoo.export import export_generator
    from ganzoo.runs.finish import card_fields, class_names

    card = card_fields(config, model, run_dir=config.run_dir)
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
    from ganzoo.images import sample_picture, write_png
    from ganzoo.data import load_real_samples

    if dataset == "mnist_sample" and model.num_classes:  # one row of 8 per class
        labels = np.repeat(np.arange(model.num_classes), 8)
        write_png(sample_picture(model.generate(len(labels), seed=seed, labels=labels), columns=8), path)
    elif dataset == "mnist_sample":
        write_png(sample_picture(model.generate(64, seed=seed)), path)
    else:  # a conditional toy model: every mode requested equally often
        labels = None if model.num_classes is None else np.arange(TOY_EVAL_SAMPLES) % model.num_classes
        write_png(sample_picture(model.generate(TOY_EVAL_SAMPLES, seed=seed, labels=labels),
                                 load_real_samples(dataset, 2000, seed=seed)), path)
    return path


def _parser():
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
                        help="export to exported_models/*_pretrained with sample pictures: mnist (the --mnist-models "
                             "runs), ring and grid (the best seed of the best gan_ema row of each toy); default all")
    parser.add_argument("--export-dir", default="exported_models")
    parser.add_argument("--pictures", metavar="DIR", default=None,
                        help="write DIR/<run key>.png for each selected run in the results (one row per class for "
                             "a conditional MNIST model); with --table too")
    parser.add_argument("--root", default="runs/quality", help="run directories go here")
    parser.add_argument("--out", default="runs/quality/results.json")
    parser.add_argument("--force", action="store_true", help="retrain runs already in the JSON")
    parser.add_argument("--table", action="store_true", help="only print the tables from --out")
    return parser


def _selected_runs(args):
    """[(part, key, run function)] for the runs the arguments select, in the order they train."""
    parts = _csv(args.parts, ("toys", "mnist", "quickstart"), "parts")
    runs = []
    for dataset in _csv(args.datasets, TOY_DATASETS, "datasets") if "toys" in parts else ():
        for config in _csv(args.toy_configs, tuple(TOY_CONFIGS), "toy-configs"):
            steps = args.critic_toy_steps if config in CRITIC_TOY_CONFIGS else args.toy_steps
            for seed in (int(s) for s in args.seeds.split(",")):
                runs.append(("toys", f"{config}_{dataset}_s{seed}_{steps}",
                             lambda d=dataset, c=config, s=seed, n=steps: run_toy(d, c, s, n, args.root)))
    for name in _csv(args.mnist_models, tuple(MNIST_CONFIGS), "mnist-models") if "mnist" in parts else ():
        runs.append(("mnist", f"{name}_w{args.mnist_width}_{args.mnist_minutes:g}min",
                     lambda m=name: run_mnist(m, args.mnist_minutes, args.mnist_width, args.root)))
    for seed in (int(s) for s in args.seeds.split(",")) if "quickstart" in parts else ():
        runs.append(("quickstart", f"s{seed}", lambda s=seed: run_quickstart(s, args.root)))
    return runs


def main(argv=None):
    args = _parser().parse_args(argv)
    selected = _selected_runs(args)
    results = load_results(args.out)
    for part, key, run in selected if not args.table else ():
        if key in results[part] and not args.force:
            continue
        r = run()
        print(json.dumps({k: v for k, v in r.items() if k not in ("run_dir", "per_class_mnist_fd")}), flush=True)
        save_results(args.out, {part: {key: r}})
    if args.export and not args.table:
        export_all(load_results(args.out), args.export_dir, args.mnist_width, args.mnist_minutes,
                   args.toy_steps, _csv(args.export, ("mnist", "ring", "grid"), "export"),
                   _csv(args.mnist_models, tuple(MNIST_CONFIGS), "mnist-models"))
    if args.pictures:
        write_pictures(load_results(args.out), [(part, key) for part, key, _ in selected], args.pictures)
    print_tables(load_results(args.out))


def write_pictures(results, selected, directory):
    """Write `directory`/<key>.png for every selected (part, key) run in `results`; returns the paths."""
    from ganzoo.runs.record import load_run

    os.makedirs(directory, exist_ok=True)
    paths = []
    for part, key in selected:
        if part == "quickstart" or key not in results[part]:
            continue
        r = results[part][key]
        _, model = load_run(r["run_dir"])
        paths.append(save_sample_picture(model, r.get("dataset", "mnist_sample"), os.path.join(directory, f"{key}.png")))
        print(f"picture {paths[-1]}", flush=True)
    return paths


def export_all(results, export_dir, mnist_width, mnist_minutes, toy_steps, which=("mnist", "ring", "grid"),
               mnist_models=("dcgan", "wgan_gp")):
    """Export the MNIST runs of `mnist_models` and the seed-0 gan_ema toy runs, with sample pictures."""
    from ganzoo.runs.record import load_run

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
        runs = max(rows.values(), key=lambda runs: (len(runs), mean_std([r["modes"] for r in runs])[0],
                                                    mean_std([r["high_quality"] for r in runs])[0]))
        best = max(runs, key=lambda r: (r["modes"], r["high_quality"], -r["seed"]))
        targets.append((best, f"gan_{dataset}_pretrained", dataset))
    for r, name, dataset in targets:
        config, model = load_run(r["run_dir"])
        path = _export(model, config, os.path.join(export_dir, name), r)
        picture = save_sample_picture(model, dataset, os.path.join(export_dir, f"{name}_samples.png"))
        print(f"exported {path}; picture {picture}", flush=True)


if __name__ == "__main__":
    main()
