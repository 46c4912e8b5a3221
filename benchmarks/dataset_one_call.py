#!/usr/bin/env python3
"""One call of the exact ideal denoiser at CIFAR-10 scale, per noise level: Tweedie's Float64 oracle
(through the Python package) beside numpy's blocked Gram form, on 50 000 real 32×32 RGB patches of
scikit-learn's sample photographs (as benchmarks/dataset_peers.py cuts them), B = 256 points of p_σ.

Run in an environment with the package, scikit-learn and Pillow (the torch environment of
`make test-python-torch` plus scikit-learn):  python benchmarks/dataset_one_call.py
Each figure is the best of 2 timed calls after a warm-up; GFLOP/s counts 4·N·D·B flops a call.
"""
import time

import numpy as np
from sklearn.datasets import load_sample_images

import tweedie

patches = [image[i:i + 32, j:j + 32].reshape(-1) for image in load_sample_images().images
           for i in range(0, image.shape[0] - 32, 3) for j in range(0, image.shape[1] - 32, 3)]
data = np.array(patches[:50000], dtype=np.uint8)
n, d, b = data.shape[0], data.shape[1], 256
oracle = tweedie.Oracle(tweedie.Model.from_dataset(data, scale="edm"))
means = data.astype(np.float64) / 127.5 - 1
squared_norms = (means * means).sum(axis=1)
rng = np.random.default_rng(0)
flops = 4 * n * d * b


def numpy_denoise(x, sigma):
    """The Gram form in blocks of 4096 items with a running log-sum-exp (numpy float64)."""
    x_norms = (x * x).sum(axis=1)[:, None]
    top, total, acc = np.full((b, 1), -np.inf), np.zeros((b, 1)), np.zeros((b, d))
    for i in range(0, n, 4096):
        mu = means[i:i + 4096]
        logits = -(x_norms - 2 * x @ mu.T + squared_norms[None, i:i + 4096]) / (2 * sigma ** 2)
        new = np.maximum(top, logits.max(axis=1, keepdims=True))
        scale, w = np.exp(top - new), np.exp(logits - new)
        total, acc, top = total * scale + w.sum(axis=1, keepdims=True), acc * scale + w @ mu, new
    return acc / total


def best(call):
    call()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


print(f"N = {n}, D = {d}, B = {b}; photo patches (real)")
print("| σ | Tweedie exact | GFLOP/s | numpy Gram form | GFLOP/s | max |Δ| |")
print("|---:|---:|---:|---:|---:|---:|")
for sigma in [5.0, 1.0, 0.3, 0.06]:
    x = means[rng.integers(0, n, b)] + sigma * rng.normal(size=(b, d))
    ours = best(lambda: oracle.denoise(x, alpha=1.0, sigma=sigma))
    theirs = best(lambda: numpy_denoise(x, sigma))
    difference = np.abs(oracle.denoise(x, alpha=1.0, sigma=sigma) - numpy_denoise(x, sigma)).max()
    print(f"| {sigma} | {ours:.2f} s | {flops / ours / 1e9:.1f} | {theirs:.2f} s | {flops / theirs / 1e9:.1f} "
          f"| {difference:.1e} |", flush=True)
