#!/usr/bin/env python3
"""How much any pruning of the ideal denoiser could save on the workload of `make bench-dataset`,
with a screen that costs nothing: the cap on the speed-up, per data set.

Along the same 256 trajectories of EDM's Heun sampler (18 steps, 35 calls, x = 80 z with the seed
of benchmarks/dataset_peers.py, the exact denoiser in numpy float64), each call counts, per point,
the items a pruned denoiser must still weigh:

- the issue's criterion: every item whose log-weight a_k = −‖x − x_k‖²/(2σ²) is within
  L = log(N/ε) of the point's largest (ε = 1e-8);
- Tweedie's certificate (docs/math.md §2.8): within L_b = log(N/δ_b), δ_b = ε‖x_b‖/(2R),
  R = max_k ‖x_k − x̄‖.

An exact computation weighs N items per point and call; a pruned one at least the kept ones. With
the screen free, the time of a pruned run can fall at most to Σ kept / (35 N) of the exact run's:
the cap is its inverse. Run in the environment of `make bench-dataset`:
python benchmarks/dataset_pruning_cap.py [--items N] [--count B]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dataset_peers import D, SIGMA_MAX, edm_sigmas, heun, photo_patches, random_pixels  # noqa: E402


class KeptCounter:
    """The exact denoiser (one block: the logits of all items at once), recording at each call the
    mean over points of the items within each criterion's margin of the best."""

    def __init__(self, data, epsilon):
        self.data, self.epsilon = data, epsilon
        self.norms = np.einsum("ij,ij->i", data, data)
        self.radius = np.sqrt(((data - data.mean(axis=0)) ** 2).sum(axis=1)).max()
        self.calls = []

    def __call__(self, x, sigma):
        n = self.data.shape[0]
        logits = -(np.einsum("ij,ij->i", x, x)[:, None] - 2 * x @ self.data.T + self.norms) / (2 * sigma * sigma)
        top = logits.max(axis=1, keepdims=True)
        gap = top - logits
        issue = (gap <= np.log(n / self.epsilon)).sum(axis=1)
        delta = self.epsilon * np.linalg.norm(x, axis=1) / (2 * self.radius)
        certificate = (gap <= (np.log(n) - np.log(delta))[:, None]).sum(axis=1)
        self.calls.append((sigma, issue.mean(), certificate.mean()))
        np.exp(logits - top, out=logits)
        return (logits @ self.data) / logits.sum(axis=1, keepdims=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50000, help="training items N (default 50000)")
    parser.add_argument("--count", type=int, default=256, help="trajectories (default 256)")
    parser.add_argument("--epsilon", type=float, default=1e-8, help="ε (default 1e-8)")
    parser.add_argument("--seed", type=int, default=1, help="seed of z and of the random pixels (default 1)")
    args = parser.parse_args()
    print(f"$ python benchmarks/dataset_pruning_cap.py  (N = {args.items}, B = {args.count}, ε = {args.epsilon:g})")
    x0 = SIGMA_MAX * np.random.default_rng(args.seed).standard_normal((args.count, D))
    sets = [("photo patches (real)", lambda: photo_patches(args.items)[0]),
            ("random pixels (synthetic)", lambda: random_pixels(args.items, args.seed)[0])]
    results = []
    for label, load in sets:
        data = load().reshape(args.items, D).astype(np.float64) / 127.5 - 1
        counter = KeptCounter(data, args.epsilon)
        heun(counter, x0.copy(), edm_sigmas())
        results.append((label, counter.calls))
        print(f"{label}: done", file=sys.stderr, flush=True)
    print()
    print("| σ | " + " | ".join(f"{label}: kept, issue's L | certificate's L" for label, _ in results) + " |")
    print("|---:|" + "---:|---:|" * len(results))
    for i in range(len(results[0][1])):
        sigma = results[0][1][i][0]
        cells = " | ".join(f"{calls[i][1]:.1f} | {calls[i][2]:.1f}" for _, calls in results)
        print(f"| {sigma:.4g} | {cells} |")
    print()
    for label, calls in results:
        total = len(calls) * args.items
        print(f"- {label}: cap on the speed-up of any pruning with a free screen: "
              f"{total / sum(c[1] for c in calls):.2f}× (issue's L), "
              f"{total / sum(c[2] for c in calls):.2f}× (certificate's L)")


if __name__ == "__main__":
    main()
