"""Train ganzoo's Fashion-MNIST classifier (the feature extractor of the Fashion-MNIST metrics)
and ship its weights; compute the reference rows of the metrics.

Data: Fashion-MNIST through `ganzoo.data.fashion_mnist_arrays` (the idx files of the Debian
package `dataset-fashion-mnist`, Keras' cache or --data-dir). Trained on the 60,000 training
images ONLY; accuracy is reported on the 10,000 test images, which the classifier never saw.
Images in ganzoo's range, float32 (N, 28, 28, 1) in [-1, 1]. The network is
`ganzoo.metrics.features.build_classifier` (the MNIST classifier's CNN). Random horizontal
flips are the only augmentation (clothes are left-right symmetric as classes).

Training is seeded (`keras.utils.set_random_seed(0)` and TF op determinism).

Writes:
  ganzoo/weights/fashion_classifier.weights.h5   the classifier's weights
  ganzoo/weights/fashion_classifier.json         test accuracy and the reference rows

Reference rows (`--references-only` recomputes them from the shipped weights), every metric of
`evaluate_samples(..., feature_extractor="fashion_mnist")` against the 10,000 test images:
  real_train_10k     10,000 training images (seeded subset): the floor a generator can reach
  shuffled_pixels    those images with their pixels permuted (one permutation for all)
  blurred            those images blurred (Gaussian, sigma 1.5 px)
  one_class          10,000 training images of one class ("Trouser"): full mode collapse
plus conditional accuracy and mean per-class FD of the real training images with their true
labels (the ceiling of a class-conditional generator).

Usage:
  python tools/train_fashion_classifier.py                    # train (minutes on 2 CPU cores), then references
  python tools/train_fashion_classifier.py --references-only  # recompute the reference rows
  python tools/train_fashion_classifier.py --markdown         # print the reference table from the JSON
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SEED = 0
KEY = "fashion_mnist"
REFERENCE_SAMPLES = 10000


def load_split(data_dir=None):
    """((x_train, y_train), (x_test, y_test)), images float32 in [-1, 1], int labels."""
    from ganzoo.data import fashion_mnist_arrays

    out = []
    for split in ("train", "test"):
        images, labels = fashion_mnist_arrays(split, data_dir)
        out.append((images.astype(np.float32) / 127.5 - 1.0, labels.astype(np.int64)))
    return tuple(out)


def train(epochs, batch_size, data_dir):
    import keras
    import tensorflow as tf

    from ganzoo.metrics.features import build_classifier

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    (x_train, y_train), (x_test, y_test) = load_split(data_dir)
    classifier = build_classifier(seed=SEED, name="ganzoo_fashion_mnist_classifier")
    # Augmentation in a wrapper so the shipped classifier has no random layers.
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal", seed=SEED)], name="augment")
    trainer = keras.Sequential([keras.Input((28, 28, 1)), augment, classifier])
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    trainer.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start, cpu_start = time.time(), time.process_time()
    trainer.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=2)
    seconds, cpu_seconds = time.time() - start, time.process_time() - cpu_start
    test_accuracy = float(np.mean(np.argmax(classifier.predict(x_test, verbose=0), axis=1) == y_test))
    train_accuracy = float(np.mean(np.argmax(classifier.predict(x_train, verbose=0), axis=1) == y_train))
    return classifier, {"test_accuracy": test_accuracy, "train_accuracy": train_accuracy,
                        "training_seconds": round(seconds, 1), "training_cpu_seconds": round(cpu_seconds, 1),
                        "epochs": epochs, "batch_size": batch_size}


def _blur(images, sigma=1.5):
    from scipy.ndimage import gaussian_filter

    return np.clip(gaussian_filter(images, sigma=(0, sigma, sigma, 0)), -1, 1).astype(np.float32)


def reference_rows(data_dir=None):
    """The metrics of real and deliberately bad sample sets against the 10,000 test images."""
    from ganzoo.metrics import classifier_conditional_metrics, evaluate_samples

    (x_train, y_train), (x_test, y_test) = load_split(data_dir)
    rng = np.random.default_rng(SEED)
    chosen = rng.choice(len(x_train), REFERENCE_SAMPLES, replace=False)
    real, real_labels = x_train[chosen], y_train[chosen]
    permutation = rng.permutation(28 * 28)
    shuffled = real.reshape(len(real), -1)[:, permutation].reshape(real.shape)
    trousers = np.flatnonzero(y_train == 1)
    one_class = x_train[rng.choice(trousers, REFERENCE_SAMPLES, replace=True)]
    sets = {"real_train_10k": real, "shuffled_pixels": shuffled, "blurred": _blur(real), "one_class": one_class}
    rows = {}
    for name, fake in sets.items():
        rows[name] = evaluate_samples(fake, x_test, feature_extractor=KEY, seed=SEED, pr_k=5)
        print(name, json.dumps({k: round(v, 4) for k, v in rows[name].items()}), flush=True)
    conditional = classifier_conditional_metrics(real, real_labels, x_test, y_test, classifier=KEY)
    rows["real_train_10k"]["conditional_accuracy"] = conditional["conditional_accuracy"]
    rows["real_train_10k"]["mean_per_class_fashion_fd"] = conditional["mean_per_class_fashion_fd"]
    return rows


ROW_LABELS = {"real_train_10k": "real training images (10,000) — the floor",
              "shuffled_pixels": "training images, pixels shuffled",
              "blurred": "training images, Gaussian blur sigma 1.5 px",
              "one_class": "10,000 training images of one class (Trouser)"}
COLUMNS = (("fashion_fd", "fashion_fd ↓", "{:.3f}"), ("kid_mean", "KID ↓", "{:.4f}"),
           ("fashion_score", "fashion score ↑", "{:.2f}"), ("precision", "precision ↑", "{:.3f}"),
           ("recall", "recall ↑", "{:.3f}"), ("classes_covered", "classes", "{:.0f}"),
           ("class_kl", "class KL ↓", "{:.4f}"))


def markdown(info):
    rows = info["reference"]["vs_test_10k"]
    lines = ["| sample set (vs the 10,000 test images) | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for key, label in ROW_LABELS.items():
        lines.append(f"| {label} | " + " | ".join(fmt.format(rows[key][name]) for name, _, fmt in COLUMNS) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir", default=None, help="folder holding the four Fashion-MNIST idx files")
    parser.add_argument("--weights-dir", default=None,
                        help="write the weights here instead of ganzoo/weights (to check that a rerun reproduces them)")
    parser.add_argument("--references-only", action="store_true",
                        help="skip training; recompute the reference rows from the shipped weights")
    parser.add_argument("--markdown", action="store_true", help="print the reference table from the JSON and exit")
    args = parser.parse_args()

    from ganzoo.metrics.features import CLASSIFIERS

    files = CLASSIFIERS[KEY]
    if args.markdown:
        print(markdown(json.loads(files.info_path.read_text())))
        return
    if args.weights_dir:
        classifier, training = train(args.epochs, args.batch_size, args.data_dir)
        os.makedirs(args.weights_dir, exist_ok=True)
        path = os.path.join(args.weights_dir, files.weights.name)
        classifier.save_weights(path)
        print(f"test accuracy (10,000 images): {training['test_accuracy']:.4f}; wrote {path}")
        return
    info = json.loads(files.info_path.read_text()) if files.info_path.exists() else {}
    if not args.references_only:
        classifier, training = train(args.epochs, args.batch_size, args.data_dir)
        classifier.save_weights(str(files.weights))
        info = {
            "data": "Fashion-MNIST idx files (Xiao et al. 2017), scaled to [-1, 1]",
            "split": "trained on the 60,000 training images only; accuracy on the 10,000 test images",
            "class_names": list(__import__("ganzoo.data", fromlist=["x"]).FASHION_MNIST_CLASS_NAMES),
            "seed": SEED,
            "training": training,
        }
        print(f"test accuracy (10,000 images): {training['test_accuracy']:.4f}  train accuracy: "
              f"{training['train_accuracy']:.4f}  ({training['training_seconds']} s, "
              f"{training['training_cpu_seconds']} CPU-s)", flush=True)
        files.info_path.write_text(json.dumps(info, indent=2) + "\n")
        load_classifier_cache_clear()
    info["reference"] = {"vs_test_10k": reference_rows(args.data_dir)}
    info["reference_note"] = (
        "Sample sets scored against the 10,000 Fashion-MNIST test images through ganzoo's Fashion-MNIST "
        "classifier (precision/recall k=5): real training images are the floor a generator can reach; "
        "the others show what bad looks like. Not comparable with Inception-based FID/IS."
    )
    files.info_path.write_text(json.dumps(info, indent=2) + "\n")
    print(markdown(info))
    print(f"wrote {files.info_path}")


def load_classifier_cache_clear():
    from ganzoo.metrics import features

    features.load_classifier.cache_clear()
    features.classifier_feature_model.cache_clear()


if __name__ == "__main__":
    main()
