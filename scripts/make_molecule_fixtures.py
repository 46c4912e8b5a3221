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

2. The marginal p_t of a two-component mixture with full covariances on R^{5x3} under correlated
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
    fixture = {"molecules": molecules(rng), "mixture": mixture_case(rng)}
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
