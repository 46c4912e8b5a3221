"""A conformance check for any sampler: run on an exact prior with the exact denoiser at growing
step counts, does its output converge, at what order, and are its moments right (docs/math.md §12.6)?

The sampler is a black box ``run(x, sigmas, seed) -> samples`` in k-diffusion's convention
(x = σ_max z at the start, x_σ = x_0 + σ ε, the levels ``sigmas`` ending with 0);
:func:`tweedie.torch.conformance` wraps any ``k_diffusion.sampling.sample_*``-like function.
"""
from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import numpy.typing as npt

from ._arguments import integer, number
from ._display import result_repr
from ._errors import TweedieError, TweedieTypeError
from ._models import Model, require_model
from ._native import check, lib, pointer

__all__ = ["Conformance", "conformance", "standard_conformance_prior"]

Runner = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64], int], npt.ArrayLike]


def standard_conformance_prior() -> Model:
    """The default prior of :func:`conformance`: a correlated Gaussian in D = 2 (synthetic).

    N((0.5, −0.3), [[1, 0.3], [0.3, 0.25]]), whose eigenvalues (≈ 1.1 and 0.15) differ, so that a
    sampler's error in either direction shows.

    Returns
    -------
    Model

    Examples
    --------
    >>> import tweedie
    >>> tweedie.standard_conformance_prior().dimension
    2
    """
    return Model.from_dict({"name": "conformance-gaussian", "weights": [1.0], "means": [[0.5, -0.3]],
                            "covariance_type": "full", "covariances": [[[1.0, 0.3], [0.3, 0.25]]]})


def _moments(model: Model) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    d = model.dimension
    mean, covariance = np.zeros(d), np.zeros((d, d))
    check(lib.tweedie_model_moments(model._handle, pointer(mean), pointer(covariance)))
    return mean, covariance


def _gaussian_kl(m1: npt.NDArray[np.float64], s1: npt.NDArray[np.float64], m2: npt.NDArray[np.float64],
                 s2: npt.NDArray[np.float64]) -> float:
    out = ctypes.c_double()
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (m1, s1, m2, s2)]
    check(lib.tweedie_gaussian_kl(m1.size, *[pointer(a) for a in arrays], ctypes.byref(out)))
    return out.value


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> npt.NDArray[np.float64]:
    """k-diffusion's ``get_sigmas_karras``: ``steps`` levels from σ_max to σ_min, then 0."""
    u = np.linspace(0, 1, steps)
    levels = (sigma_max ** (1 / rho) + u * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return np.append(levels, 0.0)


@dataclass(frozen=True)
class Conformance:
    """What :func:`conformance` measured, step count by step count, and its verdict.

    Attributes
    ----------
    steps : ndarray of int
        The step counts run (Karras ρ = 7 levels from σ_max to σ_min, then 0).
    kl : ndarray
        KL(N(m̂, Ŝ) ‖ q_ref) of the output's sample mean m̂ and covariance Ŝ to the law every
        consistent sampler on these levels tends to as N grows — the exact probability-flow map from
        the start to σ_min, then x̂_0 (docs/math.md §12.6) — nats. For a Gaussian p_0 and a sampler
        made of the exact (affine) denoiser and Gaussian noise the output is Gaussian and this is its
        KL; for a deterministic sampler it is exact (the start's sample moments are matched to
        N(0, σ_max² I) exactly, so an affine map's output moments are its law's). NaN for a mixture.
    kl_to_p0 : ndarray
        KL(N(m̂, Ŝ) ‖ p_0), nats (NaN for a mixture).
    grid_floor : float
        KL(q_ref ‖ p_0): what an exact solver on these levels leaves (stopping at σ_min), nats.
    mean_error : ndarray
        ‖m̂ − E p_0‖ / √tr Cov p_0.
    covariance_error : ndarray
        ‖Ŝ − Cov p_0‖_F / ‖Cov p_0‖_F.
    noise_floor : float
        The KL the same estimator gives for ``count`` exact draws of q_ref (0 for a deterministic
        sampler): figures below 3× it are sample noise.
    deterministic : bool
        Whether two runs with different seeds gave the same samples.
    order : float
        The order p of convergence, from the slope of log KL against log N (KL ∝ N^(−2p)) over the
        last three step counts above the noise floor (NaN if fewer than two).
    converges : bool
        Whether the KL falls with N at order ≥ 0.5 down to the largest N, or reaches the floor.
    expected_order : float
        The order the sampler claims (NaN if none was given).
    conforms : bool
        Whether it converges, at no less than the expected order − 0.3 where one was given.
    verdict : str
        One line saying so.
    """

    steps: npt.NDArray[np.int64]
    kl: npt.NDArray[np.float64]
    kl_to_p0: npt.NDArray[np.float64]
    grid_floor: float
    mean_error: npt.NDArray[np.float64]
    covariance_error: npt.NDArray[np.float64]
    noise_floor: float
    deterministic: bool
    order: float
    converges: bool
    expected_order: float
    conforms: bool
    verdict: str

    def __repr__(self) -> str:
        return result_repr(self)


def _order(steps: npt.NDArray[np.int64], kl: npt.NDArray[np.float64], floor: float) -> float:
    """−½ the least-squares slope of log KL against log N over the last three counts above 3× the
    floor (and above 10⁻²⁴, where KL stops being a rounding residue)."""
    above = [i for i in range(len(steps)) if kl[i] > max(3 * floor, 1e-24)]
    # The trailing run of counts above the floor, of at most three.
    run: list[int] = []
    for i in reversed(above):
        if run and i != run[-1] - 1:
            break
        run.append(i)
    run = sorted(run)[-3:]
    if len(run) < 2:
        return math.nan
    slope = np.polyfit(np.log(steps[run]), np.log(kl[run]), 1)[0]
    return float(-slope / 2)


def conformance(run: Runner, model: Optional[Model] = None, *,
                steps: Sequence[int] = (4, 8, 16, 32, 64, 128, 256, 512, 1024), count: int = 4096, seed: int = 0,
                sigma_min: float = 0.05, sigma_max: float = 80.0, order: Optional[float] = None) -> Conformance:
    """Checks a sampler against the exact truth: does it converge, at what order, with what moments.

    The sampler runs at each step count from the same start, x = σ_max z, z with sample mean 0 and
    sample covariance I exactly (so a deterministic sampler's output moments are those of its output
    law), with ``run``'s own exact denoiser. For a Gaussian p_0 its output's mean and covariance are
    compared, by the Gaussian KL, with q_ref, the law every consistent sampler on these levels tends
    to (the exact probability-flow map from σ_max to σ_min, then x̂_0; docs/math.md §12.6), and with
    p_0. It converges when that KL keeps falling with N at order ≥ 0.5 (KL ∝ N^(−2p)) or reaches the
    sample-noise floor, and conforms when it does so at the order it claims; a KL that stalls or grows
    is flagged. σ_min (0.05 by default) is large enough that a skipped final step cannot hide.
    For a mixture p_0 only the moment errors are measured, and no verdict is given ("not judged").

    Parameters
    ----------
    run : callable
        ``run(x, sigmas, seed) -> samples`` with x of shape (count, D) and ``sigmas`` the levels
        (then 0), k-diffusion's convention x_σ = x_0 + σ ε; it must use the exact denoiser of
        ``model`` and draw its noise from ``seed``.
    model : Model, optional
        The prior, with identity noise; :func:`standard_conformance_prior` by default. The KL needs
        a Gaussian (one component); for a mixture only the moment errors are reported (``kl`` NaN).
    steps : sequence of int, default (4, 8, 16, 32, 64, 128)
        Increasing step counts.
    count : int, default 4096
        Samples per run (at least D + 2).
    seed : int, default 0
        Seed of z and of the runs.
    sigma_min, sigma_max : float
        The ends of the Karras levels.
    order : float, optional
        The order the sampler claims (1 for Euler, 2 for Heun and DPM-Solver++(2M)): a sampler that
        converges more slowly is flagged.

    Returns
    -------
    Conformance

    Examples
    --------
    >>> import numpy as np, tweedie
    >>> prior = tweedie.standard_conformance_prior()
    >>> def euler(x, sigmas, seed):  # k-diffusion's sample_euler, on the exact denoiser
    ...     oracle = tweedie.Oracle(prior)
    ...     for s, s_next in zip(sigmas[:-1], sigmas[1:]):
    ...         d = (x - oracle.denoise(x, alpha=1.0, sigma=s)) / s
    ...         x = x + (s_next - s) * d
    ...     return x
    >>> report = tweedie.conformance(euler, prior, steps=[8, 16, 32, 64])
    >>> report.converges, round(report.order)
    (True, 1)
    """
    if not callable(run):
        raise TweedieTypeError(f"run: expected a callable run(x, sigmas, seed), got {type(run).__name__}")
    model = standard_conformance_prior() if model is None else model
    require_model(model, "conformance")
    counts = np.array([integer(n, "steps") for n in steps], dtype=np.int64)
    if counts.size < 2 or np.any(counts < 1) or np.any(np.diff(counts) <= 0):
        raise TweedieError(f"steps: expected at least two increasing positive step counts, got {list(steps)}")
    d = model.dimension
    count = integer(count, "count")
    if count < d + 2:
        raise TweedieError(f"count: at least D + 2 = {d + 2} samples are needed for a covariance, got {count}")
    lo, hi = number(sigma_min, "sigma_min"), number(sigma_max, "sigma_max")
    if not (0 < lo < hi < math.inf):
        raise TweedieError(f"sigma_min, sigma_max: need 0 < sigma_min < sigma_max < inf, got {lo}, {hi}")
    if model.to_dict().get("noise") not in (None, {"type": "identity"}):
        raise TweedieError("model: conformance runs in k-diffusion's convention x_σ = x_0 + σ ε (identity noise)")
    mean, covariance = _moments(model)
    gaussian = model.components == 1
    # q_ref (docs/math.md §12.6): with Λ = U diag(γ) Uᵀ, the deviation from μ is scaled by
    # T = U diag(γ / √((γ + σ_min²)(γ + σ_max²))) Uᵀ: the flow from σ_max to σ_min, then x̂_0.
    gamma, basis = np.linalg.eigh(covariance)
    if gaussian and not gamma.min() > 1e-12 * gamma.max():
        raise TweedieError("model: the prior covariance is singular; its KL is infinite")
    gamma = np.maximum(gamma, 0)
    transfer = (basis * (gamma / np.sqrt((gamma + lo ** 2) * (gamma + hi ** 2)))) @ basis.T
    reference_mean = mean - transfer @ mean
    reference_covariance = hi ** 2 * transfer @ transfer.T

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((count, d))
    z -= z.mean(axis=0)
    factor = np.linalg.cholesky(z.T @ z / count)
    z = np.linalg.solve(factor, z.T).T  # sample mean 0, sample covariance I (ddof = 0), exactly
    start = hi * z

    def output(samples: npt.ArrayLike, n: int) -> npt.NDArray[np.float64]:
        array = np.asarray(samples, dtype=np.float64)
        if array.shape != (count, d):
            raise TweedieError(f"run: returned shape {array.shape} at {n} steps, expected {(count, d)}")
        if not np.all(np.isfinite(array)):
            raise TweedieError(f"run: returned non-finite samples at {n} steps")
        return array

    def figures(x: npt.NDArray[np.float64]) -> tuple[float, float, float, float]:
        m, s = x.mean(axis=0), np.cov(x.T, bias=True).reshape(d, d)
        # A collapsed output (a singular sample covariance) is infinitely far from any Gaussian law.
        degenerate = not np.linalg.eigvalsh(s).min() > 1e-14 * max(np.trace(s), 1e-300)
        kl = math.inf if degenerate else _gaussian_kl(m, s, reference_mean, reference_covariance)
        kl_p0 = math.inf if degenerate else _gaussian_kl(m, s, mean, covariance)
        if not gaussian:
            kl = kl_p0 = math.nan
        return (kl, kl_p0, float(np.linalg.norm(m - mean) / math.sqrt(np.trace(covariance))),
                float(np.linalg.norm(s - covariance) / np.linalg.norm(covariance)))

    results = []
    first = None
    for n in counts:
        x = output(run(start.copy(), karras_sigmas(int(n), lo, hi), seed), int(n))
        if first is None:
            first = x
        results.append(figures(x))
    again = output(run(start.copy(), karras_sigmas(int(counts[0]), lo, hi), seed + 1), int(counts[0]))
    deterministic = bool(np.array_equal(first, again))
    kl, kl_p0, mean_error, covariance_error = (np.array(column) for column in zip(*results))
    grid_floor = _gaussian_kl(reference_mean, reference_covariance, mean, covariance) if gaussian else math.nan

    floor = 0.0
    if not deterministic and gaussian:
        draws = [rng.multivariate_normal(reference_mean, reference_covariance, size=count) for _ in range(8)]
        floor = float(np.mean([figures(draw)[0] for draw in draws]))
    expected = math.nan if order is None else number(order, "order")
    if not gaussian:
        # No closed-form reference law for a mixture: the moment errors are reported, not judged.
        verdict = (f"not judged: a mixture has no exact reference law here; at {counts[-1]} steps the mean error "
                   f"is {mean_error[-1]:.3g} and the covariance error {covariance_error[-1]:.3g} against p_0 "
                   f"(grid ends and sample noise included)")
        return Conformance(counts, kl, kl_p0, grid_floor, mean_error, covariance_error, floor, deterministic,
                           math.nan, False, expected, False, verdict)
    metric = kl
    measured = _order(counts, metric, floor)
    finite = bool(np.all(np.isfinite(metric[-2:])))
    at_floor = finite and metric[-1] <= 3 * floor + 1e-24
    falling = finite and metric[-1] <= metric[-2] * (counts[-2] / counts[-1])
    converges = bool(at_floor or (falling and not measured < 0.5))
    conforms = converges and (at_floor or math.isnan(expected) or measured >= expected - 0.3)
    order = measured
    name = "KL to q_ref"
    if not finite:
        verdict = (f"does not converge: the output collapses or blows up "
                   f"({name} {metric[-1]:.3g} at {counts[-1]} steps)")
    elif at_floor:
        verdict = (f"converges: the {name} reaches the sample-noise floor ({floor:.3g}) by {counts[-1]} steps"
                   + (f" (order ≈ {order:.2f} above it)" if not math.isnan(order) else ""))
    elif converges and not conforms:
        verdict = (f"converges at order ≈ {order:.2f}, below the expected {expected:g} "
                   f"({name} {metric[-1]:.3g} at {counts[-1]} steps)")
    elif converges:
        verdict = f"converges at order ≈ {order:.2f} ({name} {metric[-1]:.3g} at {counts[-1]} steps)"
    else:
        trend = "grows" if metric[-1] > metric[-2] else "stalls"
        verdict = (f"does not converge: the {name} {trend} ({metric[-2]:.3g} at {counts[-2]} steps, "
                   f"{metric[-1]:.3g} at {counts[-1]}); mean error {mean_error[-1]:.3g}, "
                   f"covariance error {covariance_error[-1]:.3g}")
    return Conformance(counts, kl, kl_p0, grid_floor, mean_error, covariance_error, floor, deterministic, order,
                       converges, expected, conforms, verdict)
