"""Inference latency of an exported generator: SavedModel (`serving_default`, what TF Serving
runs) against ONNX Runtime (CPU provider), in one process; `python tools/benchmark.py --inference
[EXPORT]` prints the table."""

import json
import os
import time

import numpy as np
import tensorflow as tf


def bench_inference(export_dir, batches=(1, 64), min_time=1.0, repeats=3):
    """Latency of one exported generator version in both formats, in this process.

    SavedModel: `tf.saved_model.load(...).signatures["serving_default"](z=...)` (what TF Serving
    runs); ONNX: `onnxruntime.InferenceSession(...).run(None, {"z": ...})` on the CPU provider.
    Each (format, batch) is timed `repeats` times interleaved, best mean per call kept.
    """
    import onnxruntime as ort

    version_dir = export_dir
    if not os.path.exists(os.path.join(version_dir, "saved_model.pb")):
        versions = sorted((d for d in os.listdir(export_dir) if d.isdigit()), key=int) if os.path.isdir(export_dir) else []
        if not versions:
            raise SystemExit(f"--inference {export_dir}: no saved_model.pb there nor a numbered version "
                             f"directory under it; give an export such as exported_models/dcgan_mnist_sample_pretrained.")
        version_dir = os.path.join(export_dir, versions[-1])
    with open(os.path.join(version_dir, "model.json")) as f:
        latent_dim = int(json.load(f)["latent_dim"])
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    session = ort.InferenceSession(os.path.join(version_dir, "generator.onnx"), providers=["CPUExecutionProvider"])
    runners = {"saved_model": lambda z: serve(z=tf.constant(z))["images"].numpy(),
               "onnx": lambda z: session.run(["images"], {"z": z})[0]}
    rows = []
    for batch in batches:
        z = np.random.default_rng(0).standard_normal((batch, latent_dim)).astype(np.float32)
        best = {}
        for fmt, run in runners.items():
            for _ in range(3):
                run(z)  # warm-up: tracing, allocation
        for _ in range(repeats):
            for fmt, run in runners.items():
                calls, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < min_time / repeats or calls < 3:
                    run(z)
                    calls += 1
                ms = (time.perf_counter() - t0) / calls * 1e3
                best[fmt] = min(best.get(fmt, ms), ms)
        rows.append({"batch": batch, "saved_model_ms": best["saved_model"], "onnx_ms": best["onnx"],
                     "onnx_speedup": best["saved_model"] / best["onnx"]})
    diff = float(np.max(np.abs(runners["saved_model"](z) - runners["onnx"](z))))
    return version_dir, rows, diff


def format_inference(version_dir, rows, diff):
    lines = [f"Inference of {version_dir} (ms per call, best of interleaved runs; max |SavedModel - ONNX| "
             f"{diff:.1e}):", "",
             "| batch | SavedModel serving_default ms | ONNX Runtime ms | ONNX speed-up | SavedModel img/s | ONNX img/s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['batch']} | {r['saved_model_ms']:.2f} | {r['onnx_ms']:.2f} | {r['onnx_speedup']:.2f}x "
                     f"| {r['batch'] / r['saved_model_ms'] * 1e3:.0f} | {r['batch'] / r['onnx_ms'] * 1e3:.0f} |")
    return "\n".join(lines)
