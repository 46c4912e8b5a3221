#!/usr/bin/env python3
"""Side-by-side timings of the Python package (run by `make bench-python`; the numbers go in
BENCHMARKS.md with this command).

1. ``Oracle.denoise`` call time at B = 16, D = 2 (ring8): the cost of one sampler step from Python,
   against a ctypes call that does nothing (the floor of any ctypes binding).
2. k-diffusion's ``sample_heun`` (18 steps, 35 model calls, 100,000 samples of ring8) driven by
   ``tweedie.torch.KDiffusionDenoiser`` against the same sampler driven by a straightforward
   batched torch GMM denoiser in float64 (what a user would write without Tweedie). Both give the
   same samples to 1e-10, which is checked.
"""
import ctypes
import time

import numpy as np
import torch

import tweedie
from tweedie.torch import KDiffusionDenoiser, k_diffusion_sampling

torch.set_default_dtype(torch.float64)


def best_of(repeats, function):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


class TorchMixtureDenoiser:
    """E[x_0 | x_σ] of a Gaussian mixture at α = 1 in plain batched torch (float64)."""

    def __init__(self, model):
        d = model.to_dict()
        self.log_weights = torch.log(torch.tensor(d["weights"]))
        self.means = torch.tensor(d["means"])
        self.covariances = torch.tensor(d["covariances"])

    def __call__(self, x, sigma):
        s = sigma.reshape(-1)[0]
        d = x.shape[1]
        c = self.covariances + s * s * torch.eye(d)                        # K×D×D
        chol = torch.linalg.cholesky(c)
        diff = x[:, None, :] - self.means[None]                            # B×K×D
        solved = torch.cholesky_solve(diff.permute(1, 2, 0), chol).permute(2, 0, 1)    # C_k⁻¹(x − μ_k), B×K×D
        quad = (diff * solved).sum(-1)                                     # B×K
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
        logits = self.log_weights - 0.5 * (quad + logdet)
        r = torch.softmax(logits, dim=1)
        m = self.means[None] + torch.einsum("kij,bkj->bki", self.covariances, solved)
        return (r[..., None] * m).sum(1)


def main():
    model = tweedie.Model.builtin("ring8")
    oracle = tweedie.Oracle(model)
    x16 = np.random.default_rng(0).normal(size=(16, 2))
    calls = 20000
    denoise = best_of(5, lambda: [oracle.denoise(x16, alpha=0.9, sigma=0.4) for _ in range(calls)]) / calls
    evaluate = best_of(3, lambda: [oracle.evaluate(x16, alpha=0.9, sigma=0.4) for _ in range(calls // 4)]) / (calls // 4)
    libc = ctypes.CDLL(None)
    libc.abs.argtypes, libc.abs.restype = [ctypes.c_int], ctypes.c_int
    noop = best_of(5, lambda: [libc.abs(-1) for _ in range(calls)]) / calls
    print(f"oracle.denoise, B = 16, D = 2: {denoise * 1e6:.1f} µs per call "
          f"(oracle.evaluate: {evaluate * 1e6:.1f} µs; an empty ctypes call: {noop * 1e6:.2f} µs)")

    sampling = k_diffusion_sampling()
    count, steps = 100_000, 18
    sigmas = sampling.get_sigmas_karras(steps, 0.002, 80.0, rho=7.0)
    sigmas = sigmas.to(torch.float64)
    z = torch.randn(count, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * sigmas[0]
    exact, plain = KDiffusionDenoiser(model), TorchMixtureDenoiser(model)
    results = {}
    for name, denoiser in [("KDiffusionDenoiser (Tweedie)", exact), ("plain torch GMM denoiser", plain)]:
        # Best of three whole runs (the first pays for warming up torch's and Tweedie's threads).
        elapsed = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            results[name] = sampling.sample_heun(denoiser, z.clone(), sigmas, disable=True)
            elapsed = min(elapsed, time.perf_counter() - start)
        print(f"k-diffusion sample_heun, {steps} steps, {count} samples, {name}: {elapsed:.2f} s, "
              f"{count / elapsed:,.0f} samples/s")
        results[name + " time"] = elapsed
    a, b = results["KDiffusionDenoiser (Tweedie)"], results["plain torch GMM denoiser"]
    difference = float((a - b).abs().max())
    ratio = results["plain torch GMM denoiser time"] / results["KDiffusionDenoiser (Tweedie) time"]
    print(f"same samples to {difference:.1e}; Tweedie is {ratio:.1f}x faster")


if __name__ == "__main__":
    main()
