#!/usr/bin/env python3
"""Independent reference fixtures for Tweedie's Gaussian-mixture diffusion oracle.

Writes Tests/TweedieTests/Fixtures/oracle_reference.json (run from anywhere; paths are resolved
relative to this file).  Requires only numpy, scipy and mpmath.

The reference follows the *direct dense* route, never the whitened/eigen route of docs/math.md §2
that the Swift library uses:

  C_k   = α²Λ_k + σ²Σ
  log N(x; αμ_k, C_k) from a Cholesky factor of C_k (cross-checked against
          scipy.stats.multivariate_normal.logpdf, allow_singular=False)
  log p = logsumexp_k(log π_k + log N_k),   r_k = softmax_k(log π_k + log N_k)
  V_k   = (Λ_k⁻¹ + α²(σ²Σ)⁻¹)⁻¹,  m_k = V_k(Λ_k⁻¹μ_k + α(σ²Σ)⁻¹x)      (information form, Λ_k ≻ 0)
  m_k   = μ_k + αΛ_kC_k⁻¹(x − αμ_k),  V_k = Λ_k − α²Λ_kC_k⁻¹Λ_k        (gain form: Dirac / PSD Λ_k;
                                                                        cross-check elsewhere)
  x̂_0  = Σ r_k m_k,  ε̂ = x − αx̂_0,  z = L⁻¹ε̂/σ (L = lower Cholesky of Σ)
  s_k   = −C_k⁻¹(x − αμ_k),  score = Σ r_k s_k
  H     = Σ r_k(−C_k⁻¹ + s_k s_kᵀ) − s sᵀ,  divergence = tr(ΣH)
  Cov   = Σ r_k(V_k + m_k m_kᵀ) − x̂_0x̂_0ᵀ

Every case is computed twice: in float64 (numpy/scipy) and in 50-digit mpmath with the same dense
formulas.  The stored values are the float64 dense results, except for cases flagged `use_mpmath`
(the two-modes-2000σ-apart case, the σ = 1e-4 Dirac case and the ill-conditioned case, where the
float64 dense formulas themselves lose digits or break exact ties), whose stored values are the
mpmath results rounded to nearest float64.

Tolerances (per field, semantics |got − expected| ≤ atol + rtol·|expected| elementwise) are
atol = SAFETY × max(conditioning estimate, forward-error floor, own error of the stored reference),
rounded up to one significant digit, with SAFETY = 1000 and rtol = 1e-10:
  * conditioning estimate: the change of each output under a random backward perturbation of every
    input by one unit roundoff (x and μ_k normwise, Λ_k/Σ normwise or elementwise according to their
    structure, α, σ, π relatively); measured by central differences at δ = 1e-10 and scaled by eps/δ;
  * forward-error floor: eps × the magnitudes of the terms that are summed (and may cancel) in the
    textbook formulas (log-sum-exp terms, Σ r_k s_k, Σ r_k m_k, Σ r_k(V_k + m_k m_kᵀ), ...), plus
    the effect of log-weight rounding on the responsibilities;
  * own error: max |stored − mpmath| (the reference's own accuracy).
As a sanity check that the tolerances are achievable by a different float64 algorithm, a float64
implementation of the whitened route (docs/math.md §2) is run and must pass every tolerance with a
margin of at least 10; it is never used to produce stored values.
"""

import json
import math
import os
import sys

import numpy as np
from scipy import linalg as sla
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
import mpmath
from mpmath import mp, mpf

mp.dps = 50
EPS = float(np.finfo(float).eps)
SAFETY = 1000.0
RTOL = 1e-10
PERTURBATION = 1e-10
PERTURBATION_TRIALS = 3
LOG2PI = math.log(2.0 * math.pi)

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "..", "Tests", "TweedieTests", "Fixtures", "oracle_reference.json")

FIELDS = ["log_density", "responsibilities", "denoised", "noise_prediction", "standardized_noise",
          "score", "divergence", "posterior_covariance", "component_means"]


# ----------------------------------------------------------------------------------------------
# Model construction helpers
# ----------------------------------------------------------------------------------------------

def sym(a):
    return 0.5 * (a + a.T)


def random_rotation(rng, d):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def random_spd(rng, d, lo, hi):
    """Q diag(eigenvalues in [lo, hi]) Qᵀ, exactly symmetric in float64."""
    q = random_rotation(rng, d)
    ev = rng.uniform(lo, hi, d)
    return sym((q * ev) @ q.T)


def normalized_weights(rng, k):
    w = rng.uniform(0.5, 1.5, k)
    return w / w.sum()


def dense_lambdas(m):
    k, d = m["means"].shape
    t, c = m["cov_type"], m["covs"]
    if t == "full":
        return np.array([np.asarray(c[i], float) for i in range(k)])
    if t == "tied":
        return np.array([np.asarray(c, float)] * k)
    if t == "diag":
        return np.array([np.diag(c[i]) for i in range(k)])
    if t == "spherical":
        return np.array([c[i] * np.eye(d) for i in range(k)])
    if t == "dirac":
        return np.zeros((k, d, d))
    raise ValueError(t)


def dense_sigma(m):
    d = m["means"].shape[1]
    t = m["noise_type"]
    if t == "identity":
        return np.eye(d)
    if t == "diagonal":
        return np.diag(m["noise_cov"])
    if t == "full":
        return np.asarray(m["noise_cov"], float)
    if t == "kronecker":
        return np.kron(m["noise_cov"], np.eye(m["block_size"]))
    raise ValueError(t)


def softmax_rows(terms):
    """r_k = exp(t_k − max) / Σ_j exp(t_j − max): avoids the absolute rounding of log p (which is
    eps·|log p|) leaking into r when |log p| is large."""
    e = np.exp(terms - terms.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def component_is_regular(lam):
    """Λ ≻ 0 (information form applicable) — decided with a generous relative margin."""
    ev = np.linalg.eigvalsh(lam)
    return ev.max() > 0 and ev.min() > 1e-12 * ev.max()


def component_condition(lam):
    ev = np.linalg.eigvalsh(lam)
    return ev.max() / ev.min() if ev.min() > 0 else math.inf


def sample_pt(rng, m, n):
    """n points from p_t: k ~ π, x_0 ~ N(μ_k, Λ_k), x = αx_0 + σ L z."""
    lams = dense_lambdas(m)
    sig = dense_sigma(m)
    ls = np.linalg.cholesky(sig)
    k_count, d = m["means"].shape
    out = []
    for _ in range(n):
        k = rng.choice(k_count, p=m["weights"])
        ev, u = np.linalg.eigh(lams[k])
        root = u * np.sqrt(np.clip(ev, 0, None))
        x0 = m["means"][k] + root @ rng.standard_normal(d)
        out.append(m["alpha"] * x0 + m["sigma"] * ls @ rng.standard_normal(d))
    return np.array(out)


# ----------------------------------------------------------------------------------------------
# float64 dense route (the reference for all cases but the ill-conditioned one)
# ----------------------------------------------------------------------------------------------

def f64_dense(m, form="info", want_terms=False):
    """Seed 000's dense formulas in float64. form: 'info' (information form where Λ_k ≻ 0,
    gain form otherwise) or 'gain' (gain form everywhere)."""
    x = np.asarray(m["x"], float)
    mu = np.asarray(m["means"], float)
    w = np.asarray(m["weights"], float)
    a, s = float(m["alpha"]), float(m["sigma"])
    lams = dense_lambdas(m)
    sig = dense_sigma(m)
    b_count, d = x.shape
    k_count = mu.shape[0]
    eye = np.eye(d)
    dirac = m["cov_type"] == "dirac"

    log_n = np.empty((b_count, k_count))
    sk = np.empty((b_count, k_count, d))
    mk = np.empty((b_count, k_count, d))
    vk = np.empty((k_count, d, d))
    cinv = np.empty((k_count, d, d))
    logdets = np.empty(k_count)
    quads = np.empty((b_count, k_count))
    gain_norm = np.empty(k_count)
    used_info = []
    for k in range(k_count):
        c = sym(a * a * lams[k] + s * s * sig)
        cf = sla.cho_factor(c, lower=True)
        logdet = 2.0 * np.sum(np.log(np.diag(cf[0])))
        diff = x - a * mu[k]
        sol = sla.cho_solve(cf, diff.T).T
        quad = np.einsum("bi,bi->b", diff, sol)
        log_n[:, k] = -0.5 * quad - 0.5 * logdet - 0.5 * d * LOG2PI
        logdets[k], quads[:, k] = logdet, quad
        sk[:, k, :] = -sol
        ci = sym(sla.cho_solve(cf, eye))
        cinv[k] = ci
        gain_norm[k] = np.abs(a * lams[k] @ ci).sum(axis=1).max() if not dirac else 0.0
        if dirac:
            mk[:, k, :] = mu[k]
            vk[k] = 0.0
            used_info.append(False)
        elif form == "info" and component_is_regular(lams[k]):
            lam_inv = sym(sla.cho_solve(sla.cho_factor(lams[k], lower=True), eye))
            sig_inv = sym(sla.cho_solve(sla.cho_factor(sig, lower=True), eye))
            prec = sym(lam_inv + (a * a / (s * s)) * sig_inv)
            pf = sla.cho_factor(prec, lower=True)
            v = sym(sla.cho_solve(pf, eye))
            rhs = (lam_inv @ mu[k])[None, :] + (a / (s * s)) * (x @ sig_inv)
            mk[:, k, :] = (v @ rhs.T).T
            vk[k] = v
            used_info.append(True)
        else:
            mk[:, k, :] = mu[k] + a * (sol @ lams[k])
            vk[k] = sym(lams[k] - a * a * lams[k] @ ci @ lams[k])
            used_info.append(False)

    with np.errstate(divide="ignore"):
        logw = np.log(w)
    terms = logw[None, :] + log_n
    logp = logsumexp(terms, axis=1)
    r = softmax_rows(terms)
    xhat = np.einsum("bk,bkd->bd", r, mk)
    eps_hat = x - a * xhat
    ls = np.linalg.cholesky(sig)
    std = sla.solve_triangular(ls, eps_hat.T, lower=True).T / s
    score = np.einsum("bk,bkd->bd", r, sk)
    div = np.empty(b_count)
    hess = np.empty((b_count, d, d))
    post = np.empty((b_count, d, d))
    for b in range(b_count):
        ds = sk[b] - score[b]
        h = -np.einsum("k,kij->ij", r[b], cinv) + np.einsum("k,ki,kj->ij", r[b], ds, ds)
        hess[b] = sym(h)
        div[b] = np.sum(sig * hess[b])
        dm = mk[b] - xhat[b]
        post[b] = sym(np.einsum("k,kij->ij", r[b], vk) + np.einsum("k,ki,kj->ij", r[b], dm, dm))
    out = {
        "log_density": logp, "responsibilities": r, "denoised": xhat, "noise_prediction": eps_hat,
        "standardized_noise": std, "score": score, "divergence": div,
        "posterior_covariance": post, "component_means": mk,
        "_hessian": hess, "_V": vk, "_s": sk, "_log_n": log_n, "_cinv": cinv, "_used_info": used_info,
    }
    if want_terms:
        out["_terms"] = forward_error_terms(m, x, mu, w, a, s, sig, ls, r, logdets, quads, mk, vk,
                                            sk, cinv, gain_norm, xhat, score)
    return out


def forward_error_terms(m, x, mu, w, a, s, sig, ls, r, logdets, quads, mk, vk, sk, cinv, gain_norm,
                        xhat, score):
    """Magnitudes of the terms the textbook formulas add up (eps × these bound the rounding of a
    reasonable float64 implementation that does not already show up as conditioning)."""
    b_count, d = x.shape
    k_count = mu.shape[0]
    with np.errstate(divide="ignore"):
        logw = np.log(w)
    tk = np.abs(logw)[None, :] + 0.5 * quads + 0.5 * np.abs(logdets)[None, :] + 0.5 * d * LOG2PI
    tk = np.where(np.isfinite(tk), tk, 0.0)
    tbar = np.einsum("bk,bk->b", r, tk)
    rterm = r * (tk + tbar[:, None])            # eps × this ≈ rounding of r_bk

    def mixed(per_comp, mean):
        # Σ_k r|F_k| (summation) + Σ_k δr_k|F_k − F̄| (propagated responsibility rounding)
        return (np.einsum("bk,bk->b", r, per_comp_abs(per_comp))
                + np.einsum("bk,bk->b", rterm, per_comp_abs(per_comp - mean[:, None, :])))

    def per_comp_abs(f):
        return np.abs(f).max(axis=2)

    t = {}
    t["log_density"] = tbar.max()
    t["responsibilities"] = rterm.max()
    den = mixed(mk, xhat)
    t["denoised"] = den.max()
    noise = np.abs(x).max(axis=1) + a * den
    t["noise_prediction"] = noise.max()
    linv_norm = np.abs(np.linalg.inv(ls)).sum(axis=1).max()
    t["standardized_noise"] = (linv_norm * noise / s).max()
    t["score"] = mixed(sk, score).max()
    trs = np.array([abs(np.sum(sig * cinv[k])) for k in range(k_count)])
    sts = np.einsum("bki,ij,bkj->bk", sk, sig, sk)
    g = -trs[None, :] + sts
    gbar = np.einsum("bk,bk->b", r, g)
    div_t = (np.einsum("bk,bk->b", r, trs[None, :] + sts) + np.einsum("bi,ij,bj->b", score, sig, score)
             + np.einsum("bk,bk->b", rterm, np.abs(g - gbar[:, None])))
    t["divergence"] = div_t.max()
    vmax = np.abs(vk).max(axis=(1, 2))
    mm = np.abs(mk).max(axis=2) ** 2
    dmm = (np.abs(mk - xhat[:, None, :]).max(axis=2)) ** 2
    post_t = (np.einsum("bk,bk->b", r, vmax[None, :] + mm) + np.abs(xhat).max(axis=1) ** 2
              + np.einsum("bk,bk->b", rterm, dmm + vmax[None, :]))
    t["posterior_covariance"] = post_t.max()
    cm = (np.abs(mu).max(axis=1)[None, :]
          + gain_norm[None, :] * np.abs(x[:, None, :] - a * mu[None, :, :]).max(axis=2))
    t["component_means"] = cm.max()
    return t


# ----------------------------------------------------------------------------------------------
# 50-digit mpmath dense route (same formulas; gain form everywhere, information form as a check)
# ----------------------------------------------------------------------------------------------

def mvec(a):
    return [mpf(float(v)) for v in a]


def mmat(a):
    return [[mpf(float(v)) for v in row] for row in a]


def mchol(a):
    n = len(a)
    l = [[mpf(0)] * n for _ in range(n)]
    for j in range(n):
        lj = l[j]
        piv = a[j][j] - mp.fdot(lj[:j], lj[:j])
        if piv <= 0:
            raise ValueError("mpmath Cholesky: matrix not positive definite")
        lj[j] = mp.sqrt(piv)
        inv = 1 / lj[j]
        for i in range(j + 1, n):
            li = l[i]
            li[j] = (a[i][j] - mp.fdot(li[:j], lj[:j])) * inv
    return l


def mtri_inv_cols(l):
    """Columns of L⁻¹ (L lower triangular)."""
    n = len(l)
    cols = []
    for j in range(n):
        c = [mpf(0)] * n
        c[j] = 1 / l[j][j]
        for i in range(j + 1, n):
            c[i] = -mp.fdot(l[i][j:i], c[j:i]) / l[i][i]
        cols.append(c)
    return cols


def mforward(l, b):
    n = len(l)
    y = [mpf(0)] * n
    for i in range(n):
        y[i] = (b[i] - mp.fdot(l[i][:i], y[:i])) / l[i][i]
    return y


def mbackward_t(l, lt, y):
    """Solve Lᵀ v = y; lt holds the columns of L as rows."""
    n = len(l)
    v = [mpf(0)] * n
    for i in range(n - 1, -1, -1):
        v[i] = (y[i] - mp.fdot(lt[i][i + 1:], v[i + 1:])) / l[i][i]
    return v


def mmatvec(a, v):
    return [mp.fdot(row, v) for row in a]


def mp_dense(m, small):
    x = mmat(m["x"])
    mu = mmat(m["means"])
    w = mvec(m["weights"])
    a, s = mpf(float(m["alpha"])), mpf(float(m["sigma"]))
    lams = dense_lambdas(m)
    lam_mp = [mmat(l) for l in lams]
    sig_np = dense_sigma(m)
    sig = mmat(sig_np)
    identity_noise = m["noise_type"] == "identity"
    dirac = m["cov_type"] == "dirac"
    b_count, d = len(x), len(x[0])
    k_count = len(mu)
    a2, s2 = a * a, s * s

    log_n = [[None] * k_count for _ in range(b_count)]
    sk = [[None] * k_count for _ in range(b_count)]
    mk = [[None] * k_count for _ in range(b_count)]
    vk, cinv_all, tr_sc = [], [], []
    for k in range(k_count):
        c = [[a2 * lam_mp[k][i][j] + s2 * sig[i][j] for j in range(d)] for i in range(d)]
        lc = mchol(c)
        lt = [[lc[i][j] for i in range(d)] for j in range(d)]
        logdet = 2 * mp.fsum(mp.log(lc[i][i]) for i in range(d))
        linv_cols = mtri_inv_cols(lc)
        if small:
            ci = [[mp.fdot(linv_cols[i], linv_cols[j]) for j in range(d)] for i in range(d)]
            cinv_all.append(ci)
            tr_sc.append(mp.fsum(sig[i][j] * ci[i][j] for i in range(d) for j in range(d)))
        else:
            if not identity_noise:
                raise ValueError("large mpmath cases need identity noise")
            tr_sc.append(mp.fsum(mp.fdot(col, col) for col in linv_cols))
        for b in range(b_count):
            diff = [x[b][i] - a * mu[k][i] for i in range(d)]
            y = mforward(lc, diff)
            quad = mp.fdot(y, y)
            sol = mbackward_t(lc, lt, y)
            log_n[b][k] = -quad / 2 - logdet / 2 - mpf(d) / 2 * mp.log(2 * mp.pi)
            sk[b][k] = [-v for v in sol]
            if dirac:
                mk[b][k] = list(mu[k])
            else:
                ls_ = mmatvec(lam_mp[k], sol)
                mk[b][k] = [mu[k][i] + a * ls_[i] for i in range(d)]
        if small:
            if dirac:
                vk.append([[mpf(0)] * d for _ in range(d)])
            else:
                lam = lam_mp[k]
                cl = [[mp.fdot(ci[i], [lam[t][j] for t in range(d)]) for j in range(d)] for i in range(d)]
                vk.append([[lam[i][j] - a2 * mp.fdot(lam[i], [cl[t][j] for t in range(d)])
                            for j in range(d)] for i in range(d)])

    # Information form in mpmath as a cross-check of the gain form (Λ_k ≻ 0 only, small cases).
    info_checked = []
    if small and not dirac:
        sig_inv = mp.inverse(mp.matrix(sig))
        for k in range(k_count):
            if not component_is_regular(lams[k]):
                continue
            lam_inv = mp.inverse(mp.matrix(lam_mp[k]))
            v = mp.inverse(lam_inv + (a2 / s2) * sig_inv)
            for b in range(b_count):
                rhs = lam_inv * mp.matrix(mu[k]) + (a / s2) * (sig_inv * mp.matrix(x[b]))
                mi = v * rhs
                scale = max(1, max(abs(t) for t in mk[b][k]))
                err = max(abs(mi[i] - mk[b][k][i]) for i in range(d))
                assert err <= mpf(10) ** -30 * scale, ("mp info vs gain m", k, b, err)
            verr = max(abs(v[i, j] - vk[k][i][j]) for i in range(d) for j in range(d))
            assert verr <= mpf(10) ** -30 * max(1, max(abs(vk[k][i][j]) for i in range(d) for j in range(d)))
            info_checked.append(k)

    logw = [mp.log(t) for t in w]
    ls_sig = mchol(sig)
    out = {f: [] for f in FIELDS}
    hess_all = []
    for b in range(b_count):
        terms = [logw[k] + log_n[b][k] for k in range(k_count)]
        mx = max(terms)
        logp = mx + mp.log(mp.fsum(mp.exp(t - mx) for t in terms))
        r = [mp.exp(t - logp) for t in terms]
        xhat = [mp.fsum(r[k] * mk[b][k][i] for k in range(k_count)) for i in range(d)]
        eh = [x[b][i] - a * xhat[i] for i in range(d)]
        z = [v / s for v in mforward(ls_sig, eh)]
        sc = [mp.fsum(r[k] * sk[b][k][i] for k in range(k_count)) for i in range(d)]

        def quad_sig(u):
            return mp.fdot(u, u) if identity_noise else mp.fdot(u, mmatvec(sig, u))

        div = (mp.fsum(r[k] * (-tr_sc[k] + quad_sig(sk[b][k])) for k in range(k_count)) - quad_sig(sc))
        out["log_density"].append(logp)
        out["responsibilities"].append(r)
        out["denoised"].append(xhat)
        out["noise_prediction"].append(eh)
        out["standardized_noise"].append(z)
        out["score"].append(sc)
        out["divergence"].append(div)
        out["component_means"].append(mk[b])
        if small:
            h = [[mp.fsum(r[k] * (-cinv_all[k][i][j] + sk[b][k][i] * sk[b][k][j]) for k in range(k_count))
                  - sc[i] * sc[j] for j in range(d)] for i in range(d)]
            pc = [[mp.fsum(r[k] * (vk[k][i][j] + mk[b][k][i] * mk[b][k][j]) for k in range(k_count))
                   - xhat[i] * xhat[j] for j in range(d)] for i in range(d)]
            out["posterior_covariance"].append(pc)
            hess_all.append(h)
            # Identities, checked at 50 digits.
            if a != 0:
                ssc = mmatvec(sig, sc)
                tw = [(x[b][i] + s2 * ssc[i]) / a for i in range(d)]
                scale = max(abs(t) for t in x[b]) + s2 * max(abs(t) for t in ssc)
                assert max(abs(tw[i] - xhat[i]) for i in range(d)) <= mpf(10) ** -35 * scale / a
                sh = [[mp.fdot(sig[i], [h[t][j] for t in range(d)]) for j in range(d)] for i in range(d)]
                shs = [[mp.fdot(sh[i], [sig[t][j] for t in range(d)]) for j in range(d)] for i in range(d)]
                t2 = [[s2 / a2 * (sig[i][j] + s2 * shs[i][j]) for j in range(d)] for i in range(d)]
                scale = s2 / a2 * (max(abs(v) for row in sig for v in row)
                                   + s2 * max(abs(v) for row in shs for v in row))
                assert max(abs(t2[i][j] - pc[i][j]) for i in range(d) for j in range(d)) <= mpf(10) ** -35 * scale
    return out, info_checked


def mp_to_np(v):
    if isinstance(v, list):
        return np.array([mp_to_np(t) for t in v])
    return float(v)


# ----------------------------------------------------------------------------------------------
# Validation-only: float64 whitened route of docs/math.md §2 (never stored; checks the tolerances are
# achievable by a different algorithm)
# ----------------------------------------------------------------------------------------------

def f64_whitened(m):
    x = np.asarray(m["x"], float)
    mu = np.asarray(m["means"], float)
    w = np.asarray(m["weights"], float)
    a, s = float(m["alpha"]), float(m["sigma"])
    lams = dense_lambdas(m)
    sig = dense_sigma(m)
    l = np.linalg.cholesky(sig)
    b_count, d = x.shape
    k_count = mu.shape[0]
    y = sla.solve_triangular(l, x.T, lower=True).T
    logdet_l = np.sum(np.log(np.diag(l)))
    log_n = np.empty((b_count, k_count))
    mk = np.empty((b_count, k_count, d))
    shat = np.empty((b_count, k_count, d))
    vk = np.empty((k_count, d, d))
    invd = np.empty((k_count,))
    for k in range(k_count):
        nu = sla.solve_triangular(l, mu[k], lower=True)
        g = sla.solve_triangular(l, sla.solve_triangular(l, lams[k], lower=True).T, lower=True)
        gam, u = np.linalg.eigh(sym(g))
        gam = np.clip(gam, 0, None)
        dk = a * a * gam + s * s
        z = (y - a * nu) @ u
        log_n[:, k] = -0.5 * np.sum(z * z / dk, axis=1) - 0.5 * np.sum(np.log(dk)) - logdet_l - 0.5 * d * LOG2PI
        mk[:, k, :] = mu[k] + ((a * gam / dk) * z) @ u.T @ l.T
        vk[k] = (l @ u) @ np.diag(s * s * gam / dk) @ (l @ u).T
        shat[:, k, :] = -(z / dk) @ u.T
        invd[k] = np.sum(1.0 / dk)
    with np.errstate(divide="ignore"):
        terms = np.log(w)[None, :] + log_n
    logp = logsumexp(terms, axis=1)
    r = softmax_rows(terms)
    xhat = np.einsum("bk,bkd->bd", r, mk)
    eh = x - a * xhat
    std = sla.solve_triangular(l, eh.T, lower=True).T / s
    sh = np.einsum("bk,bkd->bd", r, shat)
    score = sla.solve_triangular(l, sh.T, lower=True, trans="T").T
    div = np.einsum("bk,bk->b", r, -invd[None, :] + np.sum(shat * shat, axis=2)) - np.sum(sh * sh, axis=1)
    post = (np.einsum("bk,kij->bij", r, vk) + np.einsum("bk,bki,bkj->bij", r, mk, mk)
            - np.einsum("bi,bj->bij", xhat, xhat))
    return {"log_density": logp, "responsibilities": r, "denoised": xhat, "noise_prediction": eh,
            "standardized_noise": std, "score": score, "divergence": div,
            "posterior_covariance": post, "component_means": mk}


# ----------------------------------------------------------------------------------------------
# Conditioning estimate by backward perturbation of the inputs
# ----------------------------------------------------------------------------------------------

def perturbed(m, rng, delta):
    p = dict(m)
    x = np.asarray(m["x"], float)
    mu = np.asarray(m["means"], float)
    a = float(m["alpha"])
    u = lambda shape: rng.uniform(-1.0, 1.0, shape)
    xs = np.maximum(np.abs(x).max(axis=1), a * np.abs(mu).max())
    p["x"] = x + delta * xs[:, None] * u(x.shape)
    p["means"] = mu + delta * np.abs(mu).max(axis=1)[:, None] * u(mu.shape)
    p["weights"] = np.asarray(m["weights"]) * (1 + delta * u(len(m["weights"])))
    p["alpha"] = a * (1 + delta * u(()))
    p["sigma"] = float(m["sigma"]) * (1 + delta * u(()))

    def psym(a_):
        a_ = np.asarray(a_, float)
        return a_ + delta * np.abs(a_).max() * sym(u(a_.shape))

    t = m["cov_type"]
    if t == "full":
        p["covs"] = np.array([psym(c) for c in m["covs"]])
    elif t == "tied":
        p["covs"] = psym(m["covs"])
    elif t in ("diag", "spherical"):
        c = np.asarray(m["covs"], float)
        p["covs"] = c * (1 + delta * u(c.shape))
    nt = m["noise_type"]
    if nt == "diagonal":
        c = np.asarray(m["noise_cov"], float)
        p["noise_cov"] = c * (1 + delta * u(c.shape))
    elif nt in ("full", "kronecker"):
        p["noise_cov"] = psym(m["noise_cov"])
    return p


def conditioning_estimate(m, seed):
    """Central differences (F(+δu) − F(−δu))/2 at δ = PERTURBATION, scaled to one roundoff.
    Central rather than one-sided so that outputs whose first-order sensitivity vanishes but whose
    second-order one is huge (the divergence exactly between two atoms at σ = 1e-4) are not
    overestimated."""
    est = {f: 0.0 for f in FIELDS}
    for trial in range(PERTURBATION_TRIALS):
        plus = f64_dense(perturbed(m, np.random.default_rng([seed, trial]), PERTURBATION), form="gain")
        minus = f64_dense(perturbed(m, np.random.default_rng([seed, trial]), -PERTURBATION), form="gain")
        for f in FIELDS:
            est[f] = max(est[f], 0.5 * float(np.max(np.abs(plus[f] - minus[f]))) * EPS / PERTURBATION)
    return est


def nice_up(v):
    if v <= 0:
        return 0.0
    e = math.floor(math.log10(v))
    mant = v / 10.0 ** e
    c = math.ceil(mant - 1e-12)
    if c >= 10:
        c, e = 1, e + 1
    return float(f"{c}e{e}")


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

def make_cases():
    cases = []

    # (1) full, K=3, D=4, full well-conditioned Σ, α=0.8, σ=0.6; 5 points from p_t + 1 far point.
    rng = np.random.default_rng(1001)
    k, d = 3, 4
    m = dict(name="full_K3_D4_full_noise",
             description="full covariances, K=3, D=4, well-conditioned full Σ, alpha=0.8, sigma=0.6; "
                         "5 points drawn from p_t and one far point",
             weights=normalized_weights(rng, k), means=rng.normal(0, 2, (k, d)), cov_type="full",
             covs=np.array([random_spd(rng, d, 0.2, 2.0) for _ in range(k)]),
             noise_type="full", noise_cov=random_spd(rng, d, 0.5, 1.5), alpha=0.8, sigma=0.6)
    far = rng.standard_normal(d)
    m["x"] = np.vstack([sample_pt(rng, m, 5), 25.0 * far / np.linalg.norm(far)])
    cases.append(m)

    # (2) tied, D=5, diagonal Σ.
    rng = np.random.default_rng(1002)
    k, d = 3, 5
    m = dict(name="tied_K3_D5_diagonal_noise",
             description="tied covariance, K=3, D=5, diagonal Σ, alpha=0.6, sigma=0.8",
             weights=normalized_weights(rng, k), means=rng.normal(0, 1.5, (k, d)), cov_type="tied",
             covs=random_spd(rng, d, 0.3, 2.5), noise_type="diagonal",
             noise_cov=rng.uniform(0.5, 2.0, d), alpha=0.6, sigma=0.8)
    m["x"] = sample_pt(rng, m, 5)
    cases.append(m)

    # (3) diag, D=6, identity Σ.
    rng = np.random.default_rng(1003)
    k, d = 4, 6
    m = dict(name="diag_K4_D6_identity_noise",
             description="diagonal covariances, K=4, D=6, identity Σ, alpha=0.95, sigma=0.3",
             weights=normalized_weights(rng, k), means=rng.normal(0, 2, (k, d)), cov_type="diag",
             covs=rng.uniform(0.1, 3.0, (k, d)), noise_type="identity", noise_cov=None,
             alpha=0.95, sigma=0.3)
    m["x"] = sample_pt(rng, m, 5)
    cases.append(m)

    # (4) spherical, D=3, full Σ.
    rng = np.random.default_rng(1004)
    k, d = 4, 3
    m = dict(name="spherical_K4_D3_full_noise",
             description="spherical covariances, K=4, D=3, full Σ, alpha=0.5, sigma=0.87",
             weights=normalized_weights(rng, k), means=rng.normal(0, 2, (k, d)), cov_type="spherical",
             covs=rng.uniform(0.05, 1.5, k), noise_type="full", noise_cov=random_spd(rng, d, 0.4, 2.0),
             alpha=0.5, sigma=0.87)
    m["x"] = sample_pt(rng, m, 5)
    cases.append(m)

    # (5) dirac, K=7, D=4, full Σ, σ=0.3.
    rng = np.random.default_rng(1005)
    k, d = 7, 4
    m = dict(name="dirac_K7_D4_full_noise",
             description="Dirac components (empirical distribution of 7 points), D=4, full Σ, "
                         "alpha=0.9, sigma=0.3",
             weights=normalized_weights(rng, k), means=rng.normal(0, 1, (k, d)), cov_type="dirac",
             covs=None, noise_type="full", noise_cov=random_spd(rng, d, 0.5, 1.5), alpha=0.9, sigma=0.3)
    m["x"] = sample_pt(rng, m, 6)
    cases.append(m)

    # (6) Kronecker Σ = A ⊗ I_3, A = (chain Laplacian + 0.1 I)⁻¹ for a 4-atom open chain.
    rng = np.random.default_rng(1006)
    n_atoms, block = 4, 3
    lap = np.array([[1, -1, 0, 0], [-1, 2, -1, 0], [0, -1, 2, -1], [0, 0, -1, 1]], float)
    a_mat = sym(np.linalg.inv(lap + 0.1 * np.eye(n_atoms)))
    k, d = 3, n_atoms * block
    m = dict(name="kronecker_K3_D12_full",
             description="Σ = A ⊗ I_3 with A = inverse(L_chain + 0.1 I), L_chain the graph Laplacian of "
                         "the open 4-atom path [[1,-1,0,0],[-1,2,-1,0],[0,-1,2,-1],[0,0,-1,1]]; "
                         "full component covariances, K=3, D=12 (4 atoms x 3 coordinates, row-major), "
                         "alpha=0.7, sigma=0.7",
             weights=normalized_weights(rng, k), means=rng.normal(0, 1.5, (k, d)), cov_type="full",
             covs=np.array([random_spd(rng, d, 0.1, 2.0) for _ in range(k)]),
             noise_type="kronecker", noise_cov=a_mat, block_size=block, alpha=0.7, sigma=0.7)
    m["x"] = sample_pt(rng, m, 4)
    cases.append(m)

    # (7) Two modes 1000 apart (2000σ), equal weights; points near each mode and halfway.
    m = dict(name="separated_modes_K2_D2",
             description="two spherical modes at ±[500,0] (1000 apart = 2000 sigma), variance 1, equal "
                         "weights, identity Σ, alpha=1, sigma=0.5; points near each mode, exactly "
                         "halfway (r = [1/2, 1/2] exactly), and slightly off halfway; reference computed in "
                         "50-digit mpmath (float64 log-density differences of ~1e5 lose ~1e-11 in r)",
             weights=np.array([0.5, 0.5]), means=np.array([[500.0, 0.0], [-500.0, 0.0]]),
             cov_type="spherical", covs=np.array([1.0, 1.0]), noise_type="identity", noise_cov=None,
             alpha=1.0, sigma=0.5, use_mpmath=True,
             x=np.array([[500.3, -0.2], [-499.6, 0.45], [0.0, 0.0], [0.0, 0.4], [0.001, 0.0],
                         [-0.004, 1.0]]))
    cases.append(m)

    # (8) t → 0 with Dirac atoms: σ = 1e-4, α = 1.  Atoms on a 1/64 grid so the midpoint is exact.
    rng = np.random.default_rng(1008)
    k, d = 5, 3
    noise8 = np.array([1.0, 0.5, 2.0])

    def pair_with_clear_midpoint(atoms):
        # A pair whose exact midpoint is Σ-closer to both of them than to any other atom.
        for i in range(k):
            for j in range(i + 1, k):
                mid = 0.5 * (atoms[i] + atoms[j])
                dist = np.sum((atoms - mid) ** 2 / noise8, axis=1)
                others = np.delete(dist, [i, j])
                if others.min() > 1.5 * dist[i]:
                    return i, j
        return None

    while True:
        atoms = rng.integers(-64, 65, (k, d)) / 64.0
        dists = [np.linalg.norm(atoms[i] - atoms[j]) for i in range(k) for j in range(i + 1, k)]
        if min(dists) > 0.3 and pair_with_clear_midpoint(atoms) == (0, 1):
            break
    pts = [atoms[0].copy()]
    for i in (1, 2, 3):
        u = rng.standard_normal(d)
        pts.append(atoms[i] + 3e-4 * u / np.linalg.norm(u))
    pts.append(atoms[4] + np.array([3e-4, 0.0, 0.0]))
    pts.append(0.5 * (atoms[0] + atoms[1]))
    m = dict(name="dirac_small_sigma_K5_D3",
             description="near t=0: Dirac atoms (coordinates on a 1/64 grid), equal weights, diagonal Σ, "
                         "alpha=1, sigma=1e-4; x = an atom exactly, atoms + 3e-4 perturbations, and the "
                         "exact midpoint of atoms 0 and 1 (r = [1/2, 1/2, 0, 0, 0] exactly); reference computed in "
                         "50-digit mpmath (float64 breaks the exact tie)",
             weights=np.full(k, 1.0 / k), means=atoms, cov_type="dirac", covs=None,
             noise_type="diagonal", noise_cov=noise8, alpha=1.0, sigma=1e-4,
             x=np.array(pts), use_mpmath=True)
    cases.append(m)

    # (9) Ill-conditioned full covariances: eigenvalues 1e-5 … 1e5 (condition 1e10), random rotation.
    rng = np.random.default_rng(1009)
    k, d = 2, 6
    covs = []
    for _ in range(k):
        q = random_rotation(rng, d)
        covs.append(sym((q * np.logspace(-5, 5, d)) @ q.T))
    m = dict(name="ill_conditioned_full_K2_D6",
             description="full covariances with eigenvalues logspace(-5, 5, 6) (condition number 1e10) "
                         "under random rotations, K=2, D=6, full Σ, alpha=0.9, sigma=0.1; reference "
                         "computed in 50-digit mpmath (float64 information form loses digits here)",
             weights=normalized_weights(rng, k), means=rng.normal(0, 3, (k, d)), cov_type="full",
             covs=np.array(covs), noise_type="full", noise_cov=random_spd(rng, d, 0.5, 2.0),
             alpha=0.9, sigma=0.1, use_mpmath=True)
    m["x"] = sample_pt(rng, m, 5)
    cases.append(m)

    # (10) Large: D=200, K=4, full covariances, identity Σ, B=3.  Covariance entries are dyadic
    # (off-diagonal in {0, ±1/4, ±1/2}, integer diagonal) to keep the JSON small; PD is verified.
    rng = np.random.default_rng(1010)
    k, d = 4, 200
    covs = []
    for _ in range(k):
        while True:
            off = rng.choice([-0.5, -0.25, 0.0, 0.25, 0.5], size=(d, d), p=[0.1, 0.15, 0.5, 0.15, 0.1])
            off = np.triu(off, 1)
            lam = off + off.T + np.diag(8.0 + rng.integers(0, 5, d))
            if np.linalg.eigvalsh(lam).min() > 0.5:
                break
        covs.append(lam)
    m = dict(name="large_full_K4_D200",
             description="D=200, K=4 full covariances with dyadic entries (off-diagonal in "
                         "{0, ±0.25, ±0.5}, diagonal 8..12), identity Σ, alpha=0.5, sigma=sqrt(0.75); "
                         "posterior_covariance and component_means omitted",
             weights=normalized_weights(rng, k), means=rng.normal(0, 1, (k, d)), cov_type="full",
             covs=np.array(covs), noise_type="identity", noise_cov=None,
             alpha=0.5, sigma=math.sqrt(0.75))
    m["x"] = sample_pt(rng, m, 3)
    cases.append(m)

    # (11) Flow end point α = 0, σ = 1: posterior = prior.
    rng = np.random.default_rng(1011)
    k, d = 3, 3
    m = dict(name="flow_endpoint_alpha0_K3_D3",
             description="alpha=0 exactly, sigma=1 (rectified-flow t=1): r = weights, denoised = prior "
                         "mean, posterior covariance = prior covariance, Hessian = -Σ^-1, divergence = -D; "
                         "full covariances, diagonal Σ",
             weights=normalized_weights(rng, k), means=rng.normal(0, 2, (k, d)), cov_type="full",
             covs=np.array([random_spd(rng, d, 0.2, 2.0) for _ in range(k)]), noise_type="diagonal",
             noise_cov=rng.uniform(0.5, 2.0, d), alpha=0.0, sigma=1.0)
    m["x"] = rng.normal(0, 2, (4, d))
    cases.append(m)

    # (12) Rank-deficient (PSD) full covariance: Λ_0 = B Bᵀ with B 4×2 half-integers (exact in
    # float64, exactly rank 2); Λ_1 positive definite.
    rng = np.random.default_rng(1012)
    k, d = 2, 4
    while True:
        bm = rng.integers(-3, 4, (d, 2)) / 2.0
        if np.linalg.matrix_rank(bm) == 2:
            break
    lam0 = bm @ bm.T
    m = dict(name="rank_deficient_full_K2_D4",
             description="full covariances, component 0 is PSD of rank 2 (B Bᵀ, B = 4x2 half-integers, "
                         "exact in float64), component 1 positive definite; full Σ, alpha=0.7, sigma=0.5; "
                         "component 0 uses the gain form m = mu + alpha Λ C^-1 (x - alpha mu)",
             weights=normalized_weights(rng, k), means=rng.normal(0, 1.5, (k, d)), cov_type="full",
             covs=np.array([lam0, random_spd(rng, d, 0.3, 2.0)]), noise_type="full",
             noise_cov=random_spd(rng, d, 0.5, 1.5), alpha=0.7, sigma=0.5)
    m["x"] = sample_pt(rng, m, 5)
    cases.append(m)
    return cases


# ----------------------------------------------------------------------------------------------
# Self-checks on float64 results
# ----------------------------------------------------------------------------------------------

def check_f64(m, ref, gain):
    x = np.asarray(m["x"], float)
    a, s = float(m["alpha"]), float(m["sigma"])
    sig = dense_sigma(m)
    lams = dense_lambdas(m)
    b_count, d = x.shape
    k_count = len(m["weights"])

    # log N via scipy.stats.multivariate_normal (allow_singular=False) vs the Cholesky route.
    mu = np.asarray(m["means"], float)
    for k in range(k_count):
        c = sym(a * a * lams[k] + s * s * sig)
        lp = multivariate_normal(mean=a * mu[k], cov=c, allow_singular=False).logpdf(x)
        lp = np.atleast_1d(lp)
        assert np.allclose(lp, ref["_log_n"][:, k], rtol=1e-9, atol=1e-9), ("mvn logpdf", m["name"], k)

    r = ref["responsibilities"]
    assert np.all(np.abs(r.sum(axis=1) - 1) < 1e-12), "responsibilities sum"

    # Information form vs gain form wherever Λ_k ≻ 0 and well conditioned.
    for k in range(k_count):
        if ref["_used_info"][k] and component_condition(lams[k]) < 1e6:
            mi, mg = ref["component_means"][:, k, :], gain["component_means"][:, k, :]
            scale = max(1.0, np.abs(mi).max())
            assert np.abs(mi - mg).max() <= 1e-9 * scale, ("info vs gain m", m["name"], k)
            vi, vg = ref["_V"][k], gain["_V"][k]
            assert np.abs(vi - vg).max() <= 1e-9 * max(1.0, np.abs(vi).max()), ("info vs gain V", m["name"], k)

    # The float64 identity checks need float64 component posteriors that are accurate: skip them
    # when some Λ_k is ill-conditioned (both dense forms lose digits there; the identities are
    # verified at 50 digits in mp_dense for every case instead).
    well_conditioned = all(m["cov_type"] == "dirac" or not component_is_regular(lams[k])
                           or component_condition(lams[k]) < 1e6 for k in range(k_count))
    for name, res in (("reference", ref), ("gain", gain)):
        if not well_conditioned:
            break
        if a > 0:
            # Tweedie: x̂_0 = (x + σ²Σ s)/α.
            ss = res["score"] @ sig
            tw = (x + s * s * ss) / a
            scale = (np.abs(x).max(axis=1) + s * s * np.abs(ss).max(axis=1)) / a
            err = np.abs(tw - res["denoised"]).max(axis=1)
            assert np.all(err <= 1e-9 * scale), ("Tweedie", m["name"], name, err / scale)
            # Second-order Tweedie: Cov = (σ²/α²)(Σ + σ²ΣHΣ).
            for b in range(b_count):
                shs = sig @ res["_hessian"][b] @ sig
                cov2 = (s * s / (a * a)) * (sig + s * s * shs)
                scale = (s * s / (a * a)) * (np.abs(sig).max() + s * s * np.abs(shs).max())
                err = np.abs(cov2 - res["posterior_covariance"][b]).max()
                assert err <= 1e-9 * scale, ("2nd-order Tweedie", m["name"], name, b, err / scale)
        else:
            # α = 0: posterior = prior.
            w = np.asarray(m["weights"])
            prior_mean = w @ mu
            prior_cov = sum(w[k] * (lams[k] + np.outer(mu[k] - prior_mean, mu[k] - prior_mean))
                            for k in range(k_count))
            assert np.allclose(res["responsibilities"], w[None, :], rtol=1e-13, atol=0)
            assert np.allclose(res["denoised"], prior_mean[None, :], rtol=1e-12, atol=1e-12)
            assert np.allclose(res["noise_prediction"], x, rtol=0, atol=0)
            for b in range(b_count):
                assert np.allclose(res["posterior_covariance"][b], prior_cov, rtol=1e-12, atol=1e-12)
                assert np.allclose(res["_hessian"][b], -np.linalg.inv(sig), rtol=1e-12, atol=1e-12)
            assert np.allclose(res["divergence"], -d, rtol=1e-12, atol=0)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def tolist(a):
    return np.asarray(a, float).tolist()


def main():
    cases = make_cases()
    out_cases = []
    for m in cases:
        x = np.asarray(m["x"], float)
        b_count, d = x.shape
        k_count = len(m["weights"])
        small = d <= 12
        include_post = d <= 8
        include_cm = k_count * d <= 64
        use_mp = bool(m.get("use_mpmath", False))

        f_info = f64_dense(m, form="info", want_terms=True)
        f_gain = f64_dense(m, form="gain")
        check_f64(m, f_info, f_gain)
        mpres, info_checked = mp_dense(m, small)
        mp_np = {f: mp_to_np(v) for f, v in mpres.items() if len(v) > 0}

        if use_mp:
            stored = dict(mp_np)
            reference = "mpmath-50-digit-dense"
            forms = ["dirac" if m["cov_type"] == "dirac" else "gain"] * k_count
        else:
            stored = {f: f_info[f] for f in FIELDS}
            reference = "float64-dense"
            forms = ["dirac" if m["cov_type"] == "dirac" else ("information" if used else "gain")
                     for used in f_info["_used_info"]]

        fields = ["log_density", "responsibilities", "denoised", "noise_prediction",
                  "standardized_noise", "score", "divergence"]
        if include_post:
            fields.append("posterior_covariance")
        if include_cm:
            fields.append("component_means")

        cond = conditioning_estimate(m, 7_000 + len(out_cases))
        own_err, f64_info_err, f64_gain_err = {}, {}, {}
        for f in fields:
            own_err[f] = float(np.max(np.abs(stored[f] - mp_np[f])))
            f64_info_err[f] = float(np.max(np.abs(f_info[f] - mp_np[f])))
            f64_gain_err[f] = float(np.max(np.abs(f_gain[f] - mp_np[f])))

        tolerances = {}
        for f in fields:
            floor = EPS * f_info["_terms"][f]
            atol = nice_up(SAFETY * max(cond[f], floor, own_err[f]))
            tolerances[f] = {"rtol": RTOL, "atol": atol}
            # The stored reference must be well within its own tolerance of the mpmath values.
            assert own_err[f] * 10 <= atol, (m["name"], f)

        # Sanity: a float64 whitened-route implementation (different algorithm) passes with margin.
        wr = f64_whitened(m)
        worst_ratio, worst_field = 0.0, None
        for f in fields:
            tol = tolerances[f]["atol"] + tolerances[f]["rtol"] * np.abs(stored[f])
            ratio = float(np.max(np.abs(wr[f] - stored[f]) / tol))
            if ratio > worst_ratio:
                worst_ratio, worst_field = ratio, f
        assert worst_ratio <= 0.1, ("whitened route vs tolerance", m["name"], worst_field, worst_ratio)

        # Case-specific exact expectations.
        if m["name"] == "separated_modes_K2_D2":
            for b in (2, 3):
                assert stored["responsibilities"][b].tolist() == [0.5, 0.5]
        if m["name"] == "dirac_small_sigma_K5_D3":
            assert stored["responsibilities"][5][:2].tolist() == [0.5, 0.5]

        case = {
            "name": m["name"],
            "description": m["description"],
            "reference": reference,
            "component_posterior_form": forms,
            "dimension": d,
            "components": k_count,
            "batch": b_count,
            "weights": tolist(m["weights"]),
            "means": tolist(m["means"]),
            "covariance_type": m["cov_type"],
            "covariances": None if m["covs"] is None else tolist(m["covs"]),
            "noise": {"type": m["noise_type"],
                      "covariance": None if m["noise_cov"] is None else tolist(m["noise_cov"])},
            "alpha": float(m["alpha"]),
            "sigma": float(m["sigma"]),
            "x": tolist(x),
        }
        if m["noise_type"] == "kronecker":
            case["noise"]["block_size"] = int(m["block_size"])
        for f in fields:
            case[f] = tolist(stored[f])
        case["rtol"] = RTOL
        case["atol"] = max(t["atol"] for t in tolerances.values())
        case["tolerances"] = tolerances
        case["diagnostics"] = {
            "max_abs_error_of_stored_vs_mpmath": own_err,
            "float64_information_form_max_abs_error_vs_mpmath": f64_info_err,
            "float64_gain_form_max_abs_error_vs_mpmath": f64_gain_err,
            "conditioning_error_estimate": {f: cond[f] for f in fields},
            "forward_error_floor": {f: EPS * f_info["_terms"][f] for f in fields},
            "whitened_route_worst_error_over_tolerance": worst_ratio,
            "mpmath_information_form_checked_components": info_checked,
        }
        out_cases.append(case)

        r = stored["responsibilities"]
        rel = {f: own_err[f] / max(1e-300, float(np.max(np.abs(mp_np[f])))) for f in fields}
        print(f"[{len(out_cases):2d}] {m['name']}: K={k_count} D={d} B={b_count} ref={reference}")
        print(f"     r range [{r.min():.3g}, {r.max():.3g}]  log p in [{stored['log_density'].min():.6g}, "
              f"{stored['log_density'].max():.6g}]  div in [{stored['divergence'].min():.6g}, "
              f"{stored['divergence'].max():.6g}]")
        print("     stored-vs-mpmath rel err: " + ", ".join(f"{f}={v:.1e}" for f, v in rel.items()))
        if use_mp:
            print("     float64 info-form max abs err: "
                  + ", ".join(f"{f}={v:.1e}" for f, v in f64_info_err.items()))
        print("     atol: " + ", ".join(f"{f}={t['atol']:.0e}" for f, t in tolerances.items())
              + f"  | whitened route worst err/tol = {worst_ratio:.1e} ({worst_field})")

    doc = {
        "schema_version": 1,
        "generator": "scripts/make_oracle_fixtures.py",
        "description": "Exact Gaussian-mixture diffusion oracle reference values computed by the "
                       "direct dense route (float64 numpy/scipy, or 50-digit mpmath where flagged).",
        "conventions": {
            "forward_kernel": "q(x_t|x_0) = N(alpha x_0, sigma^2 Σ)",
            "flattening": "structured data N atoms x d coordinates is row-major: index i*d + j",
            "kronecker": "Σ = kron(A, I_d) (numpy.kron), A = noise.covariance (N x N), d = noise.block_size",
            "noise_prediction": "E[ε | x] = x - alpha * denoised, ε ~ N(0, sigma^2 Σ)",
            "standardized_noise": "L^-1 noise_prediction / sigma, L = lower Cholesky factor of Σ",
            "score": "grad_x log p_t(x)",
            "divergence": "trace(Σ H), H = Hessian of log p_t at x",
            "posterior_covariance": "Cov[x_0 | x_t] (present only when D <= 8)",
            "component_means": "m_k(x) = E[x_0 | x_t, k], indexed [b][k][i] (present only when K*D <= 64)",
            "reference": "float64-dense: numpy/scipy float64; mpmath-50-digit-dense: 50-digit mpmath "
                         "rounded to nearest float64. Both use the dense formulas with C_k = "
                         "alpha^2 Λ_k + sigma^2 Σ; component_posterior_form[k] says how m_k, V_k were "
                         "formed: information = (Λ^-1 + alpha^2 (sigma^2 Σ)^-1)^-1 form, gain = "
                         "mu + alpha Λ C^-1 (x - alpha mu), dirac = (mu_k, 0)",
            "tolerance": "pass iff |got - expected| <= atol + rtol*|expected| elementwise; "
                         "tolerances[field] is per field (preferred), case rtol/atol is the loosest "
                         "over fields",
        },
        "cases": out_cases,
    }
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"), allow_nan=False)
        fh.write("\n")
    print(f"wrote {os.path.normpath(OUTPUT)} ({os.path.getsize(OUTPUT)} bytes)")


if __name__ == "__main__":
    main()
