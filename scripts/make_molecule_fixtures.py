#!/usr/bin/env python3
"""Reference fixtures for models with a zero centre of mass (docs/math.md §13.1).

Writes Tests/TweedieTests/Fixtures/zero_com_reference.json, read by
Tests/TweedieTests/ZeroCentreOfMassTests.swift. Requires numpy and scipy.

Two references, each by a route the library does not take:

1. The conventions of E(3)-equivariant diffusion (Hoogeboom et al., 2022), written out here from
   their paper's definitions: the zero-centre-of-mass standard normal has
   log p(x) = -|x|^2/2 - ((N-1) d / 2) log(2 pi) for centred x, and the prior term of the bound is
   the KL between isotropic Gaussians counted in (N-1) d degrees of freedom,
   KL = D' log(s_p/s_q) + (D' s_q^2 + |m_q - m_p|^2) / (2 s_p^2) - D'/2 with m_q = alpha_T x, s_q =
   sigma_T, m_p = 0, s_p = 1. For two molecules: methane (5 atoms, a regular tetrahedron of C-H
   bonds of 1.09 angstrom, perturbed) and a 9-atom cloud.

2. The polynomial noise schedule of that work (`polynomial_2`, T = 1000, precision 1e-5), from its
   definition: f = (1 - (i/T)^2)^2 on i = 0..T, the step ratios f_i/f_{i-1} (with a 1 before f_0)
   clipped to [0.001, 1] and multiplied up, then alpha^2 = (1 - 2s) c + s; alpha^2 at chosen steps.

3. The harmonic (matrix-valued) process of EigenFold (Jing et al.) on a chain of 7 atoms: the
   Ornstein-Uhlenbeck process dx = -1/2 (H kron I_3) x dt + dW with H = kappa L (L the path
   Laplacian, kappa = 3/3.8^2), whose moments are computed here with scipy.linalg.expm and a
   pseudo-inverse, not by the eigendecomposition the library uses: the mean A_t x_0 =
   expm(-H t/2) P x_0 and covariance S_t = (I - expm(-H t)) pinv(H) on the zero-centre-of-mass
   subspace, for one chain; and the marginal log-density and score of a data set of three chain
   conformations, in the null_space basis of the subspace.

4. The marginal p_t of a two-component mixture with full covariances on R^{5x3} under correlated
   (Kronecker, harmonic-chain) noise, restricted to the zero-centre-of-mass subspace: an orthonormal
   basis Q of the subspace from scipy.linalg.null_space (not the Helmert basis the library uses),
   the reduced components N(alpha Q^T mu_k, alpha^2 Q^T L_k Q + sigma^2 Q^T S Q) evaluated by
   scipy.stats.multivariate_normal with logsumexp, and the score Q grad_y log p written back.
"""
import json
import pathlib

import numpy as np
from scipy.linalg import null_space
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/TweedieTests/Fixtures/zero_com_reference.json"


def centred(x):
    return x - x.mean(axis=0, keepdims=True)


def edm_log_normal(x):
    n, d = x.shape
    dof = (n - 1) * d
    return -0.5 * float(np.sum(x * x)) - 0.5 * dof * np.log(2 * np.pi)


def edm_prior_kl(x, alpha, sigma):
    n, d = x.shape
    dof = (n - 1) * d
    mq, sq, mp, sp = alpha * x, sigma, 0.0, 1.0
    return dof * np.log(sp / sq) + 0.5 * (dof * sq ** 2 + float(np.sum((mq - mp) ** 2))) / sp ** 2 - 0.5 * dof


def polynomial_alphas2(steps, power=2.0, precision=1e-5, clip=0.001):
    i = np.arange(steps + 1, dtype=np.float64)
    f = (1.0 - (i / steps) ** power) ** 2
    ratios = np.clip(f / np.concatenate([[1.0], f[:-1]]), clip, 1.0)
    return (1.0 - 2.0 * precision) * np.cumprod(ratios) + precision


def polynomial_case():
    alphas2 = polynomial_alphas2(1000)
    steps = [0, 1, 10, 250, 500, 900, 990, 998, 999, 1000]
    return {"steps": steps, "alphas2": [float(alphas2[i]) for i in steps]}


def harmonic_case(rng):
    from scipy.linalg import expm
    n, d, kappa = 7, 3, 3 / 3.8 ** 2
    lap = np.diag([1.0] + [2.0] * (n - 2) + [1.0]) - np.eye(n, k=1) - np.eye(n, k=-1)
    h = kappa * lap
    centre = np.eye(n) - np.ones((n, n)) / n
    q = null_space(np.kron(np.ones((1, n)), np.eye(d)))
    # Three chain conformations: random walks of 3.8 angstrom steps.
    chains = []
    for _ in range(3):
        steps = rng.normal(size=(n - 1, d))
        steps = 3.8 * steps / np.linalg.norm(steps, axis=1, keepdims=True)
        chains.append(np.vstack([np.zeros(d), np.cumsum(steps, axis=0)]))
    cases = []
    for t in (0.3, 2.5):
        a_atoms = expm(-0.5 * h * t) @ centre
        s_atoms = (centre - expm(-h * t) @ centre) @ np.linalg.pinv(h)
        a_full, s_full = np.kron(a_atoms, np.eye(d)), np.kron(s_atoms, np.eye(d))
        x0 = chains[0].ravel()
        points = [a_full @ c.ravel() + rng.normal(size=n * d) for c in chains]
        points.append(rng.normal(size=n * d) * 4 + 10.0)  # far, and off the subspace
        logs, scores = [], []
        for x in points:
            y = q.T @ x
            cov = q.T @ s_full @ q
            terms, grads = [], []
            for c in chains:
                m = q.T @ a_full @ c.ravel()
                terms.append(np.log(1 / 3) + multivariate_normal(m, cov).logpdf(y))
                grads.append(-np.linalg.solve(cov, y - m))
            terms = np.array(terms)
            r = np.exp(terms - logsumexp(terms))
            logs.append(float(logsumexp(terms)))
            scores.append((q @ sum(r[k] * grads[k] for k in range(3))).tolist())
        cases.append({"t": t, "mean": (a_full @ x0).tolist(), "covariance": s_full.ravel().tolist(),
                      "points": np.array(points).ravel().tolist(), "log_density": logs,
                      "score": np.array(scores).ravel().tolist()})
    return {"atoms": n, "strength": kappa, "chains": np.array(chains).reshape(3, -1).tolist(), "cases": cases}


def molecules(rng):
    bond = 1.09
    tetra = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float) / np.sqrt(3) * bond
    methane = np.vstack([np.zeros(3), tetra]) + 0.05 * rng.normal(size=(5, 3))
    cloud = rng.normal(size=(9, 3)) * 1.5
    out = []
    for name, x in [("methane", centred(methane)), ("cloud9", centred(cloud))]:
        alpha, sigma = 0.0316, 0.9995  # a last level of a variance-preserving schedule
        out.append({"name": name, "atoms": x.shape[0], "x": x.ravel().tolist(),
                    "log_normal": edm_log_normal(x), "alpha": alpha, "sigma": sigma,
                    "prior_kl": edm_prior_kl(x, alpha, sigma)})
    return out


def mixture_case(rng):
    n, d = 5, 3
    dim = n * d
    # Harmonic-chain atom covariance: (Laplacian of a path + 0.2 I)^-1, which preserves the subspace.
    lap = np.diag([1, 2, 2, 2, 1]).astype(float) - np.eye(n, k=1) - np.eye(n, k=-1)
    a = np.linalg.inv(lap + 0.2 * np.eye(n))
    noise = np.kron(a, np.eye(d))
    weights = [0.35, 0.65]
    means, covs = [], []
    for k in range(2):
        means.append(rng.normal(size=(n, d)).ravel() * 1.2)  # not centred: the model centres them
        g = rng.normal(size=(dim, dim))
        covs.append(0.1 * g @ g.T / dim + 0.05 * np.eye(dim))
    q = null_space(np.kron(np.ones((1, n)), np.eye(d)))  # dim x (n-1)d, orthonormal, sums to zero
    alpha, sigma = 0.8, 0.6
    points = rng.normal(size=(4, dim))
    points[0] += 5.0  # a translated point: evaluated at its projection
    logs, scores = [], []
    for x in points:
        y = q.T @ x
        comps, grads = [], []
        for k in range(2):
            m = alpha * q.T @ means[k]
            c = alpha ** 2 * q.T @ covs[k] @ q + sigma ** 2 * q.T @ noise @ q
            comps.append(np.log(weights[k]) + multivariate_normal(m, c).logpdf(y))
            grads.append(-np.linalg.solve(c, y - m))
        comps = np.array(comps)
        r = np.exp(comps - logsumexp(comps))
        logs.append(float(logsumexp(comps)))
        scores.append((q @ sum(r[k] * grads[k] for k in range(2))).tolist())
    model = {"weights": weights, "means": [m.tolist() for m in means], "covariance_type": "full",
             "covariances": [c.tolist() for c in covs],
             "noise": {"type": "kronecker", "covariance": a.tolist(), "block_size": d},
             "shape": [n, d], "zero_centre_of_mass": True}
    return {"model": model, "alpha": alpha, "sigma": sigma, "points": points.tolist(),
            "log_density": logs, "score": scores}


def main():
    rng = np.random.default_rng(20261205)
    fixture = {"molecules": molecules(rng), "mixture": mixture_case(rng), "polynomial": polynomial_case(),
               "harmonic": harmonic_case(np.random.default_rng(7))}
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
