#!/usr/bin/env python3
"""Tweedie side by side with numpy, JAX and k-diffusion on the workloads of BENCHMARKS.md, in one
run (`make bench-peers`; the figures go in BENCHMARKS.md with this command).

Every peer computes the same thing as Tweedie, by the same algorithm where one exists (the exact
denoiser E[x_0 | x_t] of a mixture, in float64), and agreement is checked before anything is timed.
The peers get the same precomputation Tweedie does at set-up (each component's eigendecomposition in
whitened coordinates), so a per-call time never includes a factorization for anyone.

1. Full covariances: K = 32 components, D = 192, full Σ, B = 4096 and B = 16 (one sampler step).
2. A data set: K = 20 000 Dirac components, D = 784, B = 256; and at CIFAR-10 scale, K = 50 000,
   D = 3072, B = 256. Each also in Float32 (Tweedie's precision="float32" against numpy running the
   same single-precision algorithm), with the Float64 numpy time alongside.
3. heun, 18 steps (35 model calls), 200 000 samples of ring8: Tweedie's sampler; k-diffusion's
   sample_heun on Tweedie's denoiser; k-diffusion's sample_heun on a plain batched torch denoiser.
4. Every field (``Oracle.evaluate``: log p_t, responsibilities, x̂_0, score, tr(ΣH)) for the full-covariance
   mixture at B = 4096 and the data set of 2., beside numpy and JAX computing the same fields by the
   usual vectorized formulas, and beside Tweedie's own denoiser (the evaluate / denoise ratio).

Each time is the median of 5 runs after a warm-up; ratios are peer / Tweedie (above 1: Tweedie is
faster). "GEMM bound" is the time this machine's numpy GEMM would need for the least arithmetic the
exact denoiser needs, the physical limit: per point and component 4D² flops for full covariances
(z_k = U_kᵀ(y − αν_k) and the fold-back U_k(g_k ⊙ z_k)) and 4D for Dirac components (the distance
GEMM and the weighted sum), which is what Tweedie's denoiser does; in Float32, at numpy's SGEMM rate.
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import jax
import jax.numpy as jnp
import torch

import tweedie
from tweedie.torch import KDiffusionDenoiser, k_diffusion_sampling

sys.path.insert(0, str(Path(__file__).resolve().parent))
from python_bench import TorchMixtureDenoiser  # noqa: E402  (the plain torch denoiser, written once)

jax.config.update("jax_enable_x64", True)
torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(2026)


def timed(function, repeats=5):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_rate(dtype=np.float64):
    """The machine's GEMM rate (the best of 20 products: a physical limit, not a typical figure)."""
    a, b = RNG.normal(size=(4096, 192)).astype(dtype), RNG.normal(size=(192, 192)).astype(dtype)
    a @ b
    best = float("inf")
    for _ in range(20):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 4096 * 192 * 192 / best


# --- 1. Full covariances -------------------------------------------------------------------------

def spd(d):
    q = RNG.normal(size=(d, d))
    return q @ q.T / d + 0.5 * np.eye(d)


def full_mixture(k=32, d=192):
    weights = RNG.dirichlet(np.ones(k))
    means = RNG.normal(size=(k, d))
    covariances = np.stack([spd(d) for _ in range(k)])
    noise = spd(d)
    model = tweedie.Model.from_dict({"weights": weights, "means": means, "covariance_type": "full",
                                     "covariances": covariances, "noise": {"type": "full", "covariance": noise}})
    # The set-up every implementation shares: Σ = L Lᵀ, and per component L⁻¹Λ_kL⁻ᵀ = U_k diag(γ_k) U_kᵀ.
    chol = np.linalg.cholesky(noise)
    linv = np.linalg.inv(chol)
    gammas, bases = np.linalg.eigh(np.einsum("ij,kjl,ml->kim", linv, covariances, linv))
    nu = means @ linv.T                                   # L⁻¹μ_k
    return model, dict(log_weights=np.log(weights), nu=nu, gammas=gammas, bases=bases, chol=chol, linv=linv,
                       means=means)


def numpy_full_denoise(p, x, alpha, sigma):
    """E[x_0 | x_t] by the whitened eigen route (docs/math.md §2), vectorized over components."""
    y = x @ p["linv"].T                                               # B×D
    dvar = alpha ** 2 * p["gammas"] + sigma ** 2                      # K×D
    z = np.einsum("bd,kde->kbe", y, p["bases"], optimize=True) - alpha * np.einsum("kd,kde->ke", p["nu"], p["bases"])[:, None]
    logits = (p["log_weights"][:, None] - 0.5 * np.einsum("kbe,ke->kb", z * z, 1 / dvar)
              - 0.5 * np.log(dvar).sum(1)[:, None])                  # K×B (the shared constants cancel)
    r = np.exp(logits - logits.max(0))
    r /= r.sum(0)
    gain = alpha * p["gammas"] / dvar                                  # K×D
    weighted = r[:, :, None] * z * gain[:, None, :]                   # K×B×D
    moved = np.einsum("kbe,kde->bd", weighted, p["bases"], optimize=True)  # Σ_k r_k U_k (g_k ⊙ z_k)
    return r.T @ p["means"] + moved @ p["chol"].T


@jax.jit
def jax_full_denoise(linv, chol, log_weights, nu, gammas, bases, means, x, alpha, sigma):
    y = x @ linv.T
    dvar = alpha ** 2 * gammas + sigma ** 2
    z = jnp.einsum("bd,kde->kbe", y, bases) - alpha * jnp.einsum("kd,kde->ke", nu, bases)[:, None]
    logits = log_weights[:, None] - 0.5 * jnp.einsum("kbe,ke->kb", z * z, 1 / dvar) - 0.5 * jnp.log(dvar).sum(1)[:, None]
    r = jax.nn.softmax(logits, axis=0)
    gain = alpha * gammas / dvar
    moved = jnp.einsum("kbe,kde->bd", r[:, :, None] * z * gain[:, None, :], bases)
    return r.T @ means + moved @ chol.T


# --- 2. A data set ---------------------------------------------------------------------------------

def numpy_dirac_denoise(means, half_norms, x, alpha, sigma):
    logits = (alpha * (x @ means.T) - alpha ** 2 * half_norms) / sigma ** 2     # the ‖x‖² term cancels
    logits -= logits.max(1, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(1, keepdims=True)
    return r @ means


def numpy_dirac_denoise_float32(centre, means32, half_norms32, x, alpha, sigma):
    """The same with Tweedie's float32 algorithm: centred data, float32 products, float64 softmax."""
    centred = (x - alpha * centre).astype(np.float32)
    logits = (alpha * (centred @ means32.T).astype(np.float64) - alpha ** 2 * half_norms32) / sigma ** 2
    logits -= logits.max(1, keepdims=True)
    r = np.exp(logits)
    r /= r.sum(1, keepdims=True)
    return centre + (r.astype(np.float32) @ means32).astype(np.float64)


@jax.jit
def jax_dirac_denoise(means, half_norms, x, alpha, sigma):
    r = jax.nn.softmax((alpha * (x @ means.T) - alpha ** 2 * half_norms) / sigma ** 2, axis=1)
    return r @ means


def numpy_dirac_evaluate(means, half_norms, squared_norms, x, alpha, sigma):
    """Every field of a data set's oracle with Σ = I, vectorized: log p_t, r, x̂_0, score, tr(H).

    tr(H) = −D/σ² + (α²/σ⁴)(Σ_k r_k‖μ_k‖² − ‖Σ_k r_k μ_k‖²), the variance of the atoms under r."""
    k, d = means.shape
    logits = (alpha * (x @ means.T) - alpha ** 2 * half_norms) / sigma ** 2
    top = logits.max(1, keepdims=True)
    w = np.exp(logits - top)
    total = w.sum(1, keepdims=True)
    r = w / total
    denoised = r @ means
    x_norms = 0.5 * (x * x).sum(1)
    log_density = (top[:, 0] + np.log(total[:, 0]) - x_norms / sigma ** 2 - np.log(k)
                   - 0.5 * d * np.log(2 * np.pi * sigma ** 2))
    score = (alpha * denoised - x) / sigma ** 2
    variance = r @ squared_norms - (denoised * denoised).sum(1)
    divergence = -d / sigma ** 2 + (alpha / sigma ** 2) ** 2 * variance
    return log_density, r, denoised, score, divergence


@jax.jit
def jax_dirac_evaluate(means, half_norms, squared_norms, x, alpha, sigma):
    k, d = means.shape
    logits = (alpha * (x @ means.T) - alpha ** 2 * half_norms) / sigma ** 2
    lse = jax.scipy.special.logsumexp(logits, axis=1)
    r = jnp.exp(logits - lse[:, None])
    denoised = r @ means
    log_density = lse - 0.5 * (x * x).sum(1) / sigma ** 2 - jnp.log(k) - 0.5 * d * jnp.log(2 * jnp.pi * sigma ** 2)
    score = (alpha * denoised - x) / sigma ** 2
    divergence = -d / sigma ** 2 + (alpha / sigma ** 2) ** 2 * (r @ squared_norms - (denoised * denoised).sum(1))
    return log_density, r, denoised, score, divergence


def numpy_full_evaluate(p, x, alpha, sigma):
    """Every field of a full-covariance mixture, vectorized over components (whitened eigen route)."""
    y = x @ p["linv"].T
    dvar = alpha ** 2 * p["gammas"] + sigma ** 2                                    # K×D
    z = np.einsum("bd,kde->kbe", y, p["bases"], optimize=True) - alpha * np.einsum("kd,kde->ke", p["nu"], p["bases"])[:, None]
    d = x.shape[1]
    logits = (p["log_weights"][:, None] - 0.5 * np.einsum("kbe,ke->kb", z * z, 1 / dvar)
              - 0.5 * np.log(dvar).sum(1)[:, None] - np.log(np.abs(np.diag(p["chol"]))).sum() - 0.5 * d * np.log(2 * np.pi))
    top = logits.max(0)
    w = np.exp(logits - top)
    total = w.sum(0)
    r = w / total                                                                   # K×B
    log_density = top + np.log(total)
    gain = alpha * p["gammas"] / dvar
    moved = np.einsum("kbe,kde->bd", r[:, :, None] * z * gain[:, None, :], p["bases"], optimize=True)
    denoised = r.T @ p["means"] + moved @ p["chol"].T
    component_scores = -z / dvar[:, None, :]                                        # U_kᵀŝ_k, K×B×D
    whitened_score = np.einsum("kbe,kde->bd", r[:, :, None] * component_scores, p["bases"], optimize=True)
    score = whitened_score @ p["linv"]                                              # L⁻ᵀŝ as a row
    second = np.einsum("kb,kbe->b", r, component_scores ** 2) - r.T @ (1 / dvar).sum(1)
    divergence = second - (whitened_score * whitened_score).sum(1)
    return log_density, r.T, denoised, score, divergence


@jax.jit
def jax_full_evaluate(linv, chol, log_weights, nu, gammas, bases, means, x, alpha, sigma):
    y = x @ linv.T
    dvar = alpha ** 2 * gammas + sigma ** 2
    z = jnp.einsum("bd,kde->kbe", y, bases) - alpha * jnp.einsum("kd,kde->ke", nu, bases)[:, None]
    d = x.shape[1]
    logits = (log_weights[:, None] - 0.5 * jnp.einsum("kbe,ke->kb", z * z, 1 / dvar) - 0.5 * jnp.log(dvar).sum(1)[:, None]
              - jnp.log(jnp.abs(jnp.diag(chol))).sum() - 0.5 * d * jnp.log(2 * jnp.pi))
    lse = jax.scipy.special.logsumexp(logits, axis=0)
    r = jnp.exp(logits - lse)
    gain = alpha * gammas / dvar
    moved = jnp.einsum("kbe,kde->bd", r[:, :, None] * z * gain[:, None, :], bases)
    denoised = r.T @ means + moved @ chol.T
    component_scores = -z / dvar[:, None, :]
    whitened_score = jnp.einsum("kbe,kde->bd", r[:, :, None] * component_scores, bases)
    second = jnp.einsum("kb,kbe->b", r, component_scores ** 2) - r.T @ (1 / dvar).sum(1)
    return lse, r.T, denoised, whitened_score @ linv, second - (whitened_score * whitened_score).sum(1)


def check_fields(result, fields, name):
    """Agreement of a peer's five fields with Tweedie's evaluate, before any timing."""
    ours = (result.log_density, result.responsibilities, result.denoised, result.score, result.divergence)
    for label, a, b in zip(("log p_t", "r", "x̂_0", "score", "tr(ΣH)"), ours, fields):
        b = np.asarray(b)
        assert np.abs(a - b).max() <= 1e-7 * (1 + np.abs(a).max()), f"{name}: {label} disagrees"


def evaluate_rows(full_model, p, data_model, means, rate):
    """evaluate against its peers and against Tweedie's own denoiser, for both structures."""
    rows = []
    oracle = tweedie.Oracle(full_model)
    jp = {key: jnp.asarray(value) for key, value in p.items()}
    x = RNG.normal(size=(4096, 192))
    alpha, sigma = 0.7, 0.7
    check_fields(oracle.evaluate(x, alpha=alpha, sigma=sigma), numpy_full_evaluate(p, x, alpha, sigma), "numpy")
    xj = jnp.asarray(x)
    jax_args = (jp["linv"], jp["chol"], jp["log_weights"], jp["nu"], jp["gammas"], jp["bases"], jp["means"])
    check_fields(oracle.evaluate(x, alpha=alpha, sigma=sigma), jax_full_evaluate(*jax_args, xj, alpha, sigma), "JAX")
    times = {
        "Tweedie": timed(lambda: oracle.evaluate(x, alpha=alpha, sigma=sigma)),
        "Tweedie denoise": timed(lambda: oracle.denoise(x, alpha=alpha, sigma=sigma)),
        "numpy": timed(lambda: numpy_full_evaluate(p, x, alpha, sigma)),
        "JAX jit": timed(lambda: jax.block_until_ready(jax_full_evaluate(*jax_args, xj, alpha, sigma))),
    }
    rows.append(("every field (evaluate), full Λ_k and Σ, D = 192, K = 32, B = 4096", times,
                 6 * 192 ** 2 * 32 * 4096 / rate))
    k, d = means.shape
    oracle = tweedie.Oracle(data_model)
    half_norms, squared_norms = 0.5 * (means * means).sum(1), (means * means).sum(1)
    for label, x, alpha, sigma in [("points of N(0, 2.25 I)", RNG.normal(size=(256, d)) * 1.5, 0.9, 8.0),
                                   ("points of N(0, I), σ = 0.6", RNG.normal(size=(256, d)), 0.8, 0.6)]:
        check_fields(oracle.evaluate(x, alpha=alpha, sigma=sigma),
                     numpy_dirac_evaluate(means, half_norms, squared_norms, x, alpha, sigma), "numpy")
        jm, jh, jn, jx = (jnp.asarray(v) for v in (means, half_norms, squared_norms, x))
        times = {
            "Tweedie": timed(lambda: oracle.evaluate(x, alpha=alpha, sigma=sigma)),
            "Tweedie denoise": timed(lambda: oracle.denoise(x, alpha=alpha, sigma=sigma)),
            "numpy": timed(lambda: numpy_dirac_evaluate(means, half_norms, squared_norms, x, alpha, sigma)),
            "JAX jit": timed(lambda: jax.block_until_ready(jax_dirac_evaluate(jm, jh, jn, jx, alpha, sigma))),
        }
        rows.append((f"every field (evaluate), data set, K = {k}, D = {d}, B = 256, {label}", times,
                     4 * d * k * 256 / rate))
    return rows


def data_set_rows(k, d, b, rate, single_rate, with_jax, means=None):
    """The denoiser of a data set of K points in D dimensions at one level, B points: Float64 (Tweedie,
    numpy, JAX), then Float32 (Tweedie's precision="float32" and numpy on the same centred float32
    data), each checked against Tweedie's Float64 result first."""
    means = RNG.normal(size=(k, d)) if means is None else means
    dirac = tweedie.Model.from_dict({"weights": np.full(k, 1 / k), "means": means, "covariance_type": "dirac"})
    oracle, single = tweedie.Oracle(dirac), tweedie.Oracle(dirac, precision="float32")
    half_norms = 0.5 * (means * means).sum(1)
    centre = means.mean(0)
    means32 = (means - centre).astype(np.float32)
    half_norms32 = 0.5 * (means32.astype(np.float64) ** 2).sum(1)
    x = RNG.normal(size=(b, d)) * 1.5
    alpha, sigma = 0.9, 8.0
    ours = oracle.denoise(x, alpha=alpha, sigma=sigma)
    scale = np.abs(means - centre).max()
    assert np.abs(ours - numpy_dirac_denoise(means, half_norms, x, alpha, sigma)).max() < 1e-8 * scale
    for result in (single.denoise(x, alpha=alpha, sigma=sigma),
                   numpy_dirac_denoise_float32(centre, means32, half_norms32, x, alpha, sigma)):
        assert np.abs(result - ours).max() < 2e-5 * scale
    times = {
        "Tweedie": timed(lambda: oracle.denoise(x, alpha=alpha, sigma=sigma)),
        "numpy": timed(lambda: numpy_dirac_denoise(means, half_norms, x, alpha, sigma)),
    }
    if with_jax:
        jm, jh, jx = jnp.asarray(means), jnp.asarray(half_norms), jnp.asarray(x)
        times["JAX jit"] = timed(lambda: jax_dirac_denoise(jm, jh, jx, alpha, sigma).block_until_ready())
    single_times = {
        "Tweedie": timed(lambda: single.denoise(x, alpha=alpha, sigma=sigma)),
        "numpy float32": timed(lambda: numpy_dirac_denoise_float32(centre, means32, half_norms32, x, alpha, sigma)),
        "numpy": times["numpy"],
    }
    return [(f"denoiser, data set, K = {k}, D = {d}, B = {b}", times, 4 * d * k * b / rate),
            (f"denoiser, data set, K = {k}, D = {d}, B = {b}, Tweedie in float32", single_times,
             4 * d * k * b / single_rate)]


def main():
    rate, single_rate = gemm_rate(), gemm_rate(np.float32)
    print(f"Tweedie against its peers — numpy {np.__version__}, JAX {jax.__version__}, torch {torch.__version__}; "
          f"numpy GEMM rate {rate / 1e9:.1f} GFLOP/s in float64, {single_rate / 1e9:.1f} in float32 "
          f"(4096×192 · 192×192)")
    rows = []

    model, p = full_mixture()
    oracle = tweedie.Oracle(model)
    jp = {key: jnp.asarray(value) for key, value in p.items()}
    alpha, sigma = 0.7, 0.7
    for b in (4096, 16):
        x = RNG.normal(size=(b, 192))
        ours = oracle.denoise(x, alpha=alpha, sigma=sigma)
        theirs = numpy_full_denoise(p, x, alpha, sigma)
        jaxed = np.asarray(jax_full_denoise(jp["linv"], jp["chol"], jp["log_weights"], jp["nu"], jp["gammas"],
                                            jp["bases"], jp["means"], jnp.asarray(x), alpha, sigma))
        scale = np.abs(ours).max()
        assert np.abs(ours - theirs).max() < 1e-8 * scale and np.abs(ours - jaxed).max() < 1e-8 * scale
        xj = jnp.asarray(x)
        times = {
            "Tweedie": timed(lambda: oracle.denoise(x, alpha=alpha, sigma=sigma)),
            "numpy": timed(lambda: numpy_full_denoise(p, x, alpha, sigma)),
            "JAX jit": timed(lambda: jax_full_denoise(jp["linv"], jp["chol"], jp["log_weights"], jp["nu"], jp["gammas"],
                                                      jp["bases"], jp["means"], xj, alpha, sigma).block_until_ready()),
        }
        rows.append((f"denoiser, full Λ_k and Σ, D = 192, K = 32, B = {b}", times, 4 * 192 ** 2 * 32 * b / rate))

    data_means = RNG.normal(size=(20000, 784))
    rows += data_set_rows(20000, 784, 256, rate, single_rate, with_jax=True, means=data_means)
    data_model = tweedie.Model.from_dict({"weights": np.full(20000, 1 / 20000), "means": data_means,
                                          "covariance_type": "dirac"})
    rows += evaluate_rows(model, p, data_model, data_means, rate)
    # CIFAR-10 scale (50 000 images of 32×32×3); JAX left out (one more copy of 1.2 GB of data).
    rows += data_set_rows(50000, 3072, 256, rate, single_rate, with_jax=False)

    ring8 = tweedie.Model.builtin("ring8")
    K = k_diffusion_sampling()
    sigmas = K.get_sigmas_karras(18, 0.002, 80.0)
    count = 200_000
    z = torch.randn(count, 2, generator=torch.Generator().manual_seed(1))
    plain = TorchMixtureDenoiser(ring8)
    exact = KDiffusionDenoiser(ring8)
    times = {
        "Tweedie": timed(lambda: tweedie.sample(ring8, sampler="heun", schedule="edm", steps=18, count=count, seed=1,
                                                batch_size=4096), 3),
        "k-diffusion, Tweedie denoiser": timed(lambda: K.sample_heun(exact, z * sigmas[0], sigmas, disable=True), 3),
        "k-diffusion, torch denoiser": timed(lambda: K.sample_heun(lambda x, s: plain(x, s), z * sigmas[0], sigmas,
                                                                   disable=True), 3),
    }
    rows.append((f"heun, 18 steps (35 calls), {count} samples of ring8 (D = 2, K = 8)", times, None))

    print()
    print("| workload | Tweedie | peer | peer time | peer / Tweedie | GEMM bound |")
    print("|---|---:|---|---:|---:|---:|")
    for name, times, bound in rows:
        ours = times["Tweedie"]
        for peer, t in times.items():
            if peer == "Tweedie":
                continue
            if peer == "Tweedie denoise":  # evaluate rows: the cost of the other fields over the denoiser
                print(f"| {name} | {ours * 1e3:.2f} ms | Tweedie's own denoiser | {t * 1e3:.2f} ms | "
                      f"evaluate = {ours / t:.2f}× denoise | — |")
                continue
            limit = f"{bound * 1e3:.2f} ms" if bound else "—"
            print(f"| {name} | {ours * 1e3:.2f} ms | {peer} | {t * 1e3:.2f} ms | {t / ours:.2f}× | {limit} |")


if __name__ == "__main__":
    main()
