"""What a call of the oracle costs under a harmonic (matrix-valued) process, against the same
model's oracle under a scalar schedule (docs/math.md §13.4): the harmonic oracle redoes the noise's
factorization at every t, which for a data set (Dirac components) is a rescaling, O(K D), and for a
full-covariance mixture a new whitened eigendecomposition, O(K D³).

Synthetic models, labelled as such: random-walk chains of 3.8 Å steps (a data set), and a mixture
of 4 Gaussians with random full covariances. Run from the repository's root with the Python
package on the path:

    python benchmarks/harmonic.py
"""
import time

import numpy as np

import tweedie


def best_of(f, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def chains(count, atoms, rng):
    steps = rng.normal(size=(count, atoms - 1, 3))
    steps *= 3.8 / np.linalg.norm(steps, axis=2, keepdims=True)
    return np.concatenate([np.zeros((count, 1, 3)), np.cumsum(steps, axis=1)], axis=1)


def main():
    rng = np.random.default_rng(0)
    print("| model (synthetic) | D′ | K | B | harmonic call | scalar-schedule call | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for count, atoms, batch in [(2000, 64, 64), (20000, 64, 64), (20000, 64, 512)]:
        data = chains(count, atoms, rng)
        model = tweedie.Model.from_conformers(data, zero_centre_of_mass=False)
        x = data[np.arange(batch) % count] + rng.normal(size=(batch, atoms, 3))
        harmonic, scalar = tweedie.HarmonicOracle(model), tweedie.Oracle(model)
        th = best_of(lambda: harmonic.evaluate(x, 0.5))
        ts = best_of(lambda: scalar.evaluate(x.reshape(batch, -1), alpha=1.0, sigma=1.0))
        print(f"| data set: {count} chains of {atoms} atoms | {3 * (atoms - 1)} | {count} | {batch} | {th * 1e3:.1f} ms "
              f"| {ts * 1e3:.1f} ms | {th / ts:.2f} |")
    for atoms in (16, 32):
        d = 3 * atoms
        means = chains(4, atoms, rng).reshape(4, -1)
        covariances = []
        for _ in range(4):
            g = rng.normal(size=(d, d))
            covariances.append(g @ g.T / d + 0.1 * np.eye(d))
        model = tweedie.Model.from_dict({"weights": [0.25] * 4, "means": means, "covariance_type": "full",
                                         "covariances": np.array(covariances), "shape": [atoms, 3]})
        x = means[:1].reshape(1, atoms, 3) + rng.normal(size=(64, atoms, 3))
        harmonic, scalar = tweedie.HarmonicOracle(model), tweedie.Oracle(model)
        th = best_of(lambda: harmonic.evaluate(x, 0.5))
        ts = best_of(lambda: scalar.evaluate(x.reshape(64, -1), alpha=1.0, sigma=1.0))
        print(f"| 4 full-covariance Gaussians, {atoms} atoms | {3 * (atoms - 1)} | 4 | 64 | {th * 1e3:.1f} ms "
              f"| {ts * 1e3:.1f} ms | {th / ts:.1f} |")


if __name__ == "__main__":
    main()
