"""How well k-means clusters of Fashion-MNIST's training images follow its classes, in several
label-free feature spaces: the measurement behind `--cluster-labels` clustering pixels.

Purity = the share of the 60,000 training images whose cluster's most common class is theirs
(the labels are read only to score the clusters). Spaces: `pixels` (what `--cluster-labels`
uses), `unit_norm` (each image's pixels + 1 scaled to unit length), `mask` (pixel > -0.9: the
silhouette), `hog` (`ganzoo.data.clusters.hog`: histograms of unsigned gradient orientation, 8 bins in a
4x4 grid of cells, L2-normalized: 128-d), `hog_pixels` (what `--cluster-features hog_pixels`
clusters in: 4 x hog beside the pixels x 2 / 28), `mnist_classifier` (the 128-d features of ganzoo's MNIST classifier: trained on
digits, no Fashion-MNIST label), `discriminator` (the last convolutional features of the D of a
`ganzoo train` run, `--run-dir`, after its last LeakyReLU, each image's scaled to unit length; a
conditional or cluster D's too, whose features do not depend on the label).

Usage:
    python tools/cluster_purity.py --spaces pixels,unit_norm,mask,mnist_classifier --k 10,30
    python tools/cluster_purity.py --spaces pixels,hog,hog_pixels --k 50
    python tools/cluster_purity.py --spaces discriminator --run-dir runs/fashion/dcgan_fashion_mnist_s1
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SPACES = ("pixels", "unit_norm", "mask", "hog", "hog_pixels", "mnist_classifier", "discriminator")


def features(space, images, run_dir=None):
    """(n, d) float32 features of ganzoo images in [-1, 1] for one of SPACES."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    if space == "pixels":
        return flat
    if space == "unit_norm":
        shifted = flat + 1.0
        return shifted / np.maximum(np.linalg.norm(shifted, axis=1, keepdims=True), 1e-6)
    if space == "mask":
        return (flat > -0.9).astype(np.float32)
    if space in ("hog", "hog_pixels"):  # what --cluster-features hog_pixels clusters in
        from ganzoo.data.clusters import cluster_features, hog

        return hog(images) if space == "hog" else cluster_features(images, "hog_pixels")
    if space == "mnist_classifier":
        from ganzoo.metrics.features import classifier_feature_model, extract_features

        out = extract_features(classifier_feature_model("mnist"), images)
        return np.asarray(out[0] if isinstance(out, (list, tuple)) else out, np.float32)
    if space == "discriminator":  # Liu et al. 2020 cluster D's features
        import keras

        from ganzoo.runs.record import load_run

        if not run_dir:
            raise SystemExit("--spaces discriminator needs --run-dir (a finished `ganzoo train` run).")
        _, model = load_run(run_dir)
        d = model.discriminator
        # D's last convolutional features, after its last LeakyReLU: a projection D (conditional,
        # or on clusters) computes them from the image alone, so its label input is not needed.
        last = next((layer for layer in reversed(d.layers) if isinstance(layer, keras.layers.LeakyReLU)), None)
        if last is None:
            raise SystemExit(f"{run_dir}'s D has no LeakyReLU layer to read features after.")
        try:
            head = keras.Model(d.inputs[0], last.output)
        except ValueError as e:
            raise SystemExit(f"{run_dir}'s D features at {last.name!r} depend on more than the image: {e}") from None
        out = np.concatenate([np.asarray(head(images[i: i + 1000]), np.float32) for i in range(0, len(images), 1000)])
        out = out.reshape(len(out), -1)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)  # each image's at unit length
    raise SystemExit(f"unknown space {space!r}; choose from {', '.join(SPACES)}")


def purity(assigned, labels, k):
    return float(sum(np.bincount(labels[assigned == c]).max() for c in range(k) if np.any(assigned == c))
                 / len(labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spaces", default="pixels,unit_norm,mask,mnist_classifier", help=", ".join(SPACES))
    parser.add_argument("--k", default="10,30", help="comma-separated cluster counts")
    parser.add_argument("--run-dir", help="the run whose D gives the `discriminator` features")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from ganzoo.data import load_real_samples
    from ganzoo.data.clusters import fit_clusters

    images, labels = load_real_samples("fashion_mnist", None, split="train", with_labels=True)
    for space in args.spaces.split(","):
        feats = features(space, images, args.run_dir)
        for k in (int(v) for v in args.k.split(",")):
            start = time.process_time()
            clusters = fit_clusters(feats, k, seed=args.seed)
            row = dict(space=space, k=k, purity=round(purity(clusters.assign(feats), labels, k), 4),
                       smallest_share=round(float(clusters.prior.min()), 4),
                       cpu_seconds=round(time.process_time() - start, 1))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
