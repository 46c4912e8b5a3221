"""How fast `tweedie explore` answers the page (make bench-explore).

Starts the release CLI's server on a free port for ring8 (K = 8) and for a synthetic 2-D mixture of
K = 64 full-covariance components (a jittered 8 × 8 grid, seed 0: labelled synthetic, written to a
temporary file), then times, over HTTP as the page asks: `density-I` (a t-slider move: log p_t on 96 × 96
nodes and the score on 19 × 19, computed at every request); `curve-S` the first time a sampler is chosen
(its whole step ladder: 12 runs of 2000 samples with trajectories, mode weights and the KL from the exact
output density, side by side on the cores, then kept); and `run-S-N` (a step-count move, served from the
ladder). Prints the median and the largest time of each kind, against the 100 ms a slider move may take.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def synthetic_model(path: Path, k: int = 64) -> None:
    """A jittered side × side grid of full-covariance components, Dirichlet(1) weights (stdlib only)."""
    rng = random.Random(0)
    side = round(math.sqrt(k))
    centre = (side - 1) / 2
    means = [[1.5 * (i - centre) + 0.2 * rng.gauss(0, 1), 1.5 * (j - centre) + 0.2 * rng.gauss(0, 1)]
             for i in range(side) for j in range(side)]
    covariances = []
    for _ in range(side * side):
        a = [[0.25 * rng.gauss(0, 1) for _ in range(2)] for _ in range(2)]
        covariances.append([[sum(a[r][m] * a[c][m] for m in range(2)) + (0.02 if r == c else 0.0)
                             for c in range(2)] for r in range(2)])
    gammas = [rng.gammavariate(1.0, 1.0) for _ in range(side * side)]
    weights = [g / sum(gammas) for g in gammas]
    path.write_text(json.dumps({"name": f"synthetic-grid{k}", "weights": weights, "means": means,
                                "covariance_type": "full", "covariances": covariances}))


def timed(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url) as response:
        response.read()
    return 1000 * (time.perf_counter() - started)


def measure(tweedie: str, model: str) -> dict[str, list[float]]:
    server = subprocess.Popen([tweedie, "explore", "--model", model, "--port", "0"], stdout=subprocess.PIPE,
                              text=True)
    try:
        address = server.stdout.readline().split("http://")[1].split()[0]
        base = f"http://{address}api/"
        timed(base + "model")
        times = {"t slider: density-I": [timed(base + f"density-{i}") for i in range(0, 101, 5)]}
        for sampler in ("heun", "dpmpp-2m"):
            times[f"sampler chosen: {sampler}'s ladder (12 runs)"] = [timed(base + f"curve-{sampler}")]
            times[f"steps slider: run-{sampler}-N"] = [timed(base + f"run-{sampler}-{n}")
                                                       for n in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweedie", required=True, help="the release tweedie binary")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        grid = Path(folder) / "grid64.json"
        synthetic_model(grid)
        print("| model | view | n | median ms | max ms |")
        print("| --- | --- | --- | --- | --- |")
        for label, model in (("ring8 (K = 8)", "ring8"), ("synthetic grid, K = 64", str(grid))):
            for view, values in measure(arguments.tweedie, model).items():
                print(f"| {label} | {view} | {len(values)} | {statistics.median(values):.1f} | {max(values):.1f} |")


if __name__ == "__main__":
    main()
