#!/usr/bin/env python3
"""Reference fixtures for the exact posterior p(x_0 | y) of a Gaussian-mixture prior.

Writes Tests/TweedieTests/Fixtures/posterior_reference.json, read by
Tests/TweedieTests/InversePosteriorTests.swift. Requires numpy and scipy.

The observation is y = A x_0 + n, n ~ N(0, Σ_y). The reference uses the *information form*, a
route the library does not take (it conditions with the Cholesky factor of A Λ_k Aᵀ + Σ_y and
Joseph's form, docs/math.md §11.2):

    C_k = (Λ_k⁻¹ + Aᵀ Σ_y⁻¹ A)⁻¹,   m_k = C_k (Λ_k⁻¹ μ_k + Aᵀ Σ_y⁻¹ y)

with explicit inverses in float64 (well-conditioned cases only, so that is accurate to ~1e-12), the
component evidence log N(y; A μ_k, A Λ_k Aᵀ + Σ_y) from scipy.stats.multivariate_normal, and the
posterior weights as softmax(log π_k + evidence_k) by scipy.special.logsumexp. For a Dirac prior
(Λ_k = 0) the means stay, the covariances are 0 and the evidence is log N(y; A μ_k, Σ_y).
"""
import json
import pathlib

import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/TweedieTests/Fixtures/posterior_reference.json"


def spd(rng, d, scale=1.0):
    q = rng.normal(size=(d, d))
    return scale * (q @ q.T / d + 0.3 * np.eye(d))


def make_case(name, rng, d, k, dy, covariance_type, noise_y, prior_noise="identity"):
    weights = rng.dirichlet(np.ones(k) * 2)
    means = rng.normal(scale=2.0, size=(k, d))
    if covariance_type == "full":
        lambdas = [spd(rng, d) for _ in range(k)]
        stored = [m.tolist() for m in lambdas]
    elif covariance_type == "tied":
        shared = spd(rng, d)
        lambdas = [shared] * k
        stored = shared.tolist()
    elif covariance_type == "diag":
        variances = rng.uniform(0.2, 2.0, size=(k, d))
        lambdas = [np.diag(v) for v in variances]
        stored = variances.tolist()
    elif covariance_type == "spherical":
        variances = rng.uniform(0.2, 2.0, size=k)
        variances[-1] = variances[0]  # two components share Λ: exercises the shared conditioning
        lambdas = [v * np.eye(d) for v in variances]
        stored = variances.tolist()
    else:
        lambdas = [np.zeros((d, d))] * k
        stored = None
    a = rng.normal(size=(dy, d))
    x0 = means[0] + rng.normal(size=d) * 0.5
    if noise_y == "spherical":
        sy_std = 0.3
        sigma_y = sy_std**2 * np.eye(dy)
        noise = {"type": "spherical", "std": sy_std}
    elif noise_y == "diagonal":
        v = rng.uniform(0.05, 0.5, size=dy)
        sigma_y = np.diag(v)
        noise = {"type": "diagonal", "covariance": v.tolist()}
    else:
        sigma_y = spd(rng, dy, 0.2)
        noise = {"type": "full", "covariance": sigma_y.tolist()}
    y = a @ x0 + np.linalg.cholesky(sigma_y) @ rng.normal(size=dy)

    sy_inv = np.linalg.inv(sigma_y)
    post_means, post_covs, evidence = [], [], []
    for m, lam in zip(means, lambdas):
        if covariance_type == "dirac":
            post_means.append(m)
            post_covs.append(np.zeros((d, d)))
            evidence.append(multivariate_normal(a @ m, sigma_y).logpdf(y))
            continue
        lam_inv = np.linalg.inv(lam)
        c = np.linalg.inv(lam_inv + a.T @ sy_inv @ a)
        c = (c + c.T) / 2
        post_means.append(c @ (lam_inv @ m + a.T @ sy_inv @ y))
        post_covs.append(c)
        evidence.append(multivariate_normal(a @ m, a @ lam @ a.T + sigma_y).logpdf(y))
    evidence = np.array(evidence)
    joint = np.log(weights) + evidence
    total = logsumexp(joint)
    case = {
        "name": name, "dimension": d, "components": k, "weights": weights.tolist(), "means": means.tolist(),
        "covariance_type": covariance_type, "covariances": stored,
        "noise": {"type": "identity"},
        "operator": a.tolist(), "y": y.tolist(), "observation_noise": noise,
        "expected": {
            "log_evidence": float(total), "component_log_evidence": evidence.tolist(),
            "weights": np.exp(joint - total).tolist(), "means": np.array(post_means).tolist(),
            "covariances": np.array(post_covs).tolist(),
        },
    }
    if prior_noise == "full":
        case["noise"] = {"type": "full", "covariance": spd(rng, d, 0.5).tolist()}
    return case


def main():
    rng = np.random.default_rng(20261125)
    cases = [
        make_case("full_prior_full_noise_y", rng, d=4, k=3, dy=2, covariance_type="full", noise_y="full",
                  prior_noise="full"),
        make_case("tied_prior_diagonal_noise_y", rng, d=5, k=4, dy=3, covariance_type="tied", noise_y="diagonal"),
        make_case("diag_prior_spherical_noise_y", rng, d=3, k=3, dy=1, covariance_type="diag", noise_y="spherical"),
        make_case("spherical_prior_full_noise_y", rng, d=6, k=4, dy=4, covariance_type="spherical", noise_y="full"),
        make_case("dirac_prior_full_noise_y", rng, d=3, k=6, dy=2, covariance_type="dirac", noise_y="full"),
        make_case("underdetermined_full_prior", rng, d=8, k=2, dy=1, covariance_type="full", noise_y="spherical"),
    ]
    OUT.write_text(json.dumps({"generator": "scripts/make_posterior_fixtures.py", "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
