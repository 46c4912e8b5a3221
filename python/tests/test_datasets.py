"""Data sets on real data: scikit-learn's bundled digits (1797 images of 8×8 pixels, values 0..16).

The ideal denoiser of a data set is checked against routes that share nothing with the library: a
numpy brute force over every atom (softmax by scipy's logsumexp) for :class:`tweedie.PrunedDenoiser`,
the unpruned sampler for ``sample(..., prune=)``, and inequalities that hold for any distribution
for :func:`tweedie.truncation_study`.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import functools

import numpy as np
import pytest
from scipy.special import logsumexp

import tweedie
from tweedie import TweedieError

EPSILON = np.finfo(np.float64).eps
SIGMAS = [0.01, 0.1, 0.5, 1.0, 5.0, 40.0]


@functools.lru_cache(maxsize=None)
def load_digits_raw() -> np.ndarray:
    """scikit-learn's digits as it ships them: (1797, 64), values 0..16."""
    from sklearn.datasets import load_digits
    return load_digits().data


@functools.lru_cache(maxsize=None)
def digits() -> np.ndarray:
    """The digits (1797, 64), scaled from 0..16 to [-1, 1]."""
    return load_digits_raw().astype(np.float64) / 8 - 1


@functools.lru_cache(maxsize=None)
def digits_model() -> tweedie.Model:
    return tweedie.Model.from_dataset(digits(), name="digits")


def radius(atoms: np.ndarray) -> float:
    """R = max_k ‖μ_k − μ̄‖."""
    return float(np.linalg.norm(atoms - atoms.mean(axis=0), axis=1).max())


def ideal_denoiser(x: np.ndarray, atoms: np.ndarray, alpha: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """E[x_0 | x_t] of the empirical law of ``atoms`` and the posterior weights, by brute force in
    float64: the softmax over every atom of a_k = −‖x_t − α μ_k‖²/(2σ²) (direct subtraction)."""
    weights = np.empty((x.shape[0], atoms.shape[0]))
    for start in range(0, x.shape[0], 32):
        a = -np.sum((x[start:start + 32, None, :] - alpha * atoms[None]) ** 2, axis=2) / (2 * sigma**2)
        weights[start:start + 32] = np.exp(a - logsumexp(a, axis=1, keepdims=True))
    return weights @ atoms, weights


def rounding_slack(x: np.ndarray, atoms: np.ndarray, alpha: float, sigma: float, kept: np.ndarray) -> np.ndarray:
    """How far two float64 evaluations of the ideal denoiser at each x_t may differ by rounding alone.

    Each forms the exponents a_k = ‖x_t − αμ_k‖²/(2σ²) within a few ε of their size: by direct
    subtraction (the brute force, and the pruned denoiser's kept atoms: those that carry weight lie
    within 50 nats of the smallest a_k), or in the Gram form over centred atoms for a point answered
    by the exact sum (within a few ε of (‖x_t − αμ̄‖ + αR)²/(2σ²)). An error δ in the exponents of
    the atoms that carry weight moves the softmax-weighted mean by at most 2Rδ. Slack: 16ε times
    that size, times R, and a floor of 1e-12 R for the weighted sums themselves."""
    r = radius(atoms)
    squared = np.sum((x[:, None, :] - alpha * atoms[None]) ** 2, axis=2) / (2 * sigma**2)
    gram = (np.linalg.norm(x - alpha * atoms.mean(axis=0), axis=1) + alpha * r) ** 2 / (2 * sigma**2)
    size = np.where(kept < atoms.shape[0], squared.min(axis=1) + 50, gram)
    return 1e-12 * r + 16 * EPSILON * r * size


def test_the_digits_are_a_model_of_1797_atoms():
    model = digits_model()
    assert (model.dimension, model.components, model.covariance_type, model.name) == (64, 1797, "dirac", "digits")
    assert model.shape == (64,)
    assert np.array_equal(model.means, digits())
    assert np.allclose(model.weights, 1 / 1797, rtol=1e-15, atol=0)


def noised_digits(sigma: float, rng: np.random.Generator) -> np.ndarray:
    """x_t = x_0 + σz for 80 digits x_0 (α = 1)."""
    return digits()[rng.choice(1797, size=80, replace=False)] + sigma * rng.normal(size=(80, 64))


def far_points(sigma: float, rng: np.random.Generator) -> np.ndarray:
    """40 points at distance 30 from the origin (5 times the data's radius, 6.0), plus noise."""
    directions = rng.normal(size=(40, 64))
    return 30 * directions / np.linalg.norm(directions, axis=1, keepdims=True) + sigma * rng.normal(size=(40, 64))


@pytest.mark.parametrize("tolerance", [1e-8, 1e-3])
@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("where", ["noised", "far"])
def test_the_pruned_denoiser_is_within_its_certified_bound_of_the_brute_force(tolerance, sigma, where):
    rng = np.random.default_rng([int(sigma * 100), round(-np.log10(tolerance)), int(where == "far")])
    x = noised_digits(sigma, rng) if where == "noised" else far_points(sigma, rng)
    atoms = digits()
    result = tweedie.PrunedDenoiser(digits_model(), tolerance).denoise(x, alpha=1.0, sigma=sigma)
    expected, weights = ideal_denoiser(x, atoms, 1.0, sigma)
    error = np.linalg.norm(result.denoised - expected, axis=1)
    norms = np.linalg.norm(x, axis=1)
    slack = rounding_slack(x, atoms, 1.0, sigma, result.kept)
    assert np.all(error <= result.error_bound + slack), np.max(error - result.error_bound - slack)
    assert np.all(result.error_bound <= tolerance * norms)
    assert np.all((result.kept >= 1) & (result.kept <= 1797))
    # The kept atoms are those of largest posterior weight (a superlevel set of a_k, equal weights): the
    # mass of the others, from the brute force's weights, is within the certified bound.
    ordered = -np.sort(-weights, axis=1)
    neglected = np.array([ordered[b, k:].sum() for b, k in enumerate(result.kept)])
    assert np.all(neglected <= result.neglected_mass * (1 + 1e-6)), np.max(neglected - result.neglected_mass)
    # A point answered by the exact sum: bound 0, and the exact oracle's bits.
    exact = result.kept == 1797
    assert np.all(result.error_bound[exact] == 0) and np.all(result.neglected_mass[exact] == 0)
    assert np.array_equal(result.denoised[exact], tweedie.Oracle(digits_model()).denoise(x[exact], alpha=1.0, sigma=sigma))
    if sigma <= 0.1:   # well below the typical gap between digits: almost every atom is provably negligible
        assert np.all(result.kept < 1797) and np.max(result.kept) <= 10


def test_the_pruned_denoiser_keeps_the_oracles_level_conventions():
    """alpha/sigma scalars or per point, or t and a schedule, as Oracle.denoise; points of the
    model's shape in, the same shape out."""
    model = tweedie.Model.from_dataset(digits().reshape(-1, 8, 8))
    denoiser = tweedie.PrunedDenoiser(model, 1e-8)
    assert (denoiser.model, denoiser.tolerance) == (model, 1e-8)
    x = digits()[:6] + 0.05 * np.random.default_rng(1).normal(size=(6, 64))
    schedule = tweedie.Schedule("vp-cosine")
    t = np.linspace(0.05, 0.9, 6)
    by_time = denoiser.denoise(x.reshape(6, 8, 8), t=t, schedule="vp-cosine")
    by_level = denoiser.denoise(x, alpha=schedule.alpha(t), sigma=schedule.sigma(t))
    assert by_time.denoised.shape == (6, 8, 8) and by_time.kept.dtype == np.int64
    for field in dataclasses.fields(tweedie.CertifiedDenoising):
        assert np.array_equal(getattr(by_time, field.name), getattr(by_level, field.name)), field.name
    alphas, sigmas = schedule.alpha(t), schedule.sigma(t)
    for b in range(6):   # one point at a time: the same answer
        alone = denoiser.denoise(x[b], alpha=float(alphas[b]), sigma=float(sigmas[b]))
        assert np.array_equal(alone.denoised[0], by_level.denoised[b])
    expected, _ = ideal_denoiser(x[:1], digits(), 0.9, 0.05)
    assert np.linalg.norm(denoiser.denoise(x[:1], alpha=0.9, sigma=0.05).denoised.reshape(64) - expected[0]) < 1e-12
    empty = denoiser.denoise(np.zeros((0, 8, 8)), alpha=1.0, sigma=1.0)
    assert empty.denoised.shape == (0, 8, 8) and empty.kept.shape == (0,)


def test_threads_may_share_a_pruned_denoiser():
    denoiser = tweedie.PrunedDenoiser(digits_model(), 1e-8)
    rng = np.random.default_rng(4)
    jobs = [(noised_digits(sigma, rng), sigma) for sigma in [0.02, 0.1, 0.3, 1.0] * 3]
    alone = [denoiser.denoise(x, alpha=1.0, sigma=sigma) for x, sigma in jobs]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        shared = list(pool.map(lambda job: denoiser.denoise(job[0], alpha=1.0, sigma=job[1]), jobs))
    for one, other in zip(alone, shared):
        assert np.array_equal(one.denoised, other.denoised) and np.array_equal(one.error_bound, other.error_bound)


def test_a_closed_pruned_denoiser_refuses_to_denoise():
    denoiser = tweedie.PrunedDenoiser(digits_model(), 1e-8)
    denoiser.close()
    denoiser.close()
    with pytest.raises(TweedieError, match="closed"):
        denoiser.denoise(digits()[:2], alpha=1.0, sigma=0.1)


def heun(**changes):
    return tweedie.sample(digits_model(), **{**dict(sampler="heun", schedule="edm", steps=18, count=32, seed=3), **changes})


def test_pruned_sampling_is_certified_and_agrees_with_the_exact_sampler():
    """Each of the 35 denoiser calls of Heun's 18 steps is within 1e-8 ‖x_t‖ of the exact one (the
    certificate says how far: its largest bound, absolute); the samplers' steps add these errors,
    weighted by step sizes |Δσ/σ| of order one, through a flow that contracts towards the data at
    small σ, so the samples agree within a small multiple of 35 times the largest bound. 1e-6 (the
    data's scale is 1) leaves room for a much looser certificate; observed: 0 (every call's pruned
    answer rounds to the exact one)."""
    samples, certificate = heun(prune=1e-8, return_certificate=True)
    exact = heun()
    assert isinstance(certificate, tweedie.PruningCertificate)
    assert certificate.largest_relative_error_bound <= 1e-8
    assert 0 <= certificate.largest_neglected_mass < 1e-8 and 0 <= certificate.largest_error_bound < 1e-6
    assert certificate.point_calls == 32 * 35      # 17 Heun steps of two calls, and the last Euler step
    assert 0 < certificate.exact_point_calls < certificate.point_calls
    assert 0 < certificate.weighed_share < 0.02
    assert np.max(np.abs(samples - exact)) <= 1e-6
    assert np.array_equal(heun(prune=1e-8), samples)   # the same run without its certificate


def test_the_certificate_is_read_on_the_thread_that_sampled():
    """Two pruned runs at once, on two threads: each gets its own run's certificate."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(heun, count=count, steps=6, prune=1e-8, return_certificate=True) for count in (8, 16)]
        certificates = [run.result()[1] for run in runs]
    assert [c.point_calls for c in certificates] == [8 * 11, 16 * 11]


def test_a_certificate_needs_a_pruned_run():
    with pytest.raises(TweedieError, match="^return_certificate: "):
        heun(steps=3, return_certificate=True)


@functools.lru_cache(maxsize=None)
def study() -> tweedie.TruncationStudy:
    return tweedie.truncation_study(digits_model(), k=(10, 100, 5000), count=64, seed=2)


def test_the_truncation_study_on_the_digits():
    result = study()
    levels = 18
    assert result.ks.tolist() == [10, 100, 5000] and result.count == 64
    assert result.neglected_mass.shape == result.truncation_error.shape == (levels, 3, 2)
    assert result.float32_weight_distance.shape == result.float32_error.shape == (levels, 2)
    # The levels: the EDM sampler's Karras grid (ρ = 7) from σ = 80 to 0.002, with α = 1.
    i = np.arange(levels)
    karras = (80 ** (1 / 7) + i / (levels - 1) * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    assert np.allclose(result.sigma, karras, rtol=1e-12, atol=0) and np.all(result.alpha == 1)
    assert result.radius == pytest.approx(radius(digits()), rel=1e-12)
    mass, error = result.neglected_mass, result.truncation_error
    # k ≥ K is the exact sum.
    assert np.all(mass[:, 2] == 0) and np.all(error[:, 2] == 0)
    # Means are at most the largest values; masses are probabilities.
    for figure in (mass, error, result.float32_weight_distance, result.float32_error):
        assert np.all(figure[..., 0] <= figure[..., 1] * (1 + 1e-12)) and np.all(figure >= 0)
    assert np.all(mass <= 1) and np.all(result.float32_weight_distance <= 1)
    # More atoms neglect less: non-increasing in k, strictly at the largest σ.
    assert np.all(np.diff(mass, axis=1) <= 0)
    assert np.all(np.diff(mass[0], axis=0) < 0)
    # The k atoms of largest weight carry at least k/K of the mass, for any posterior.
    assert np.all(mass[:, 0, 1] <= 1 - 10 / 1797) and np.all(mass[:, 1, 1] <= 1 - 100 / 1797)
    # At σ = 80 the posterior is nearly uniform: the top 10 carry little more than 10/K.
    assert 1 - 2 * 10 / 1797 < mass[0, 0, 0] <= 1 - 10 / 1797
    # x̂_top − x̂_0 = m (x̂_top − x̂_rest), both means of atoms within R of μ̄: error ≤ 2 R m, point by
    # point, so for the means and for the largest values too.
    assert np.all(error <= 2 * result.radius * mass * (1 + 1e-9))
    # Single precision: within 1e-3 R at every level (observed: below 3e-5, R = 6.0).
    assert np.all(result.float32_error <= 1e-3 * result.radius)
    # At the smallest σ every posterior is one atom: nothing is dropped.
    assert np.all(mass[-1] == 0) and np.all(result.float32_error[-1] == 0)


def test_the_truncation_study_is_seeded():
    again = tweedie.truncation_study(digits_model(), k=(10, 100, 5000), count=64, seed=2)
    other = tweedie.truncation_study(digits_model(), k=(10, 100, 5000), count=64, seed=3)
    assert np.array_equal(again.neglected_mass, study().neglected_mass)
    assert not np.array_equal(other.neglected_mass, study().neglected_mass)


def test_from_dataset_keeps_the_shape_of_the_points():
    images = digits().reshape(-1, 8, 8)
    model = tweedie.Model.from_dataset(images)
    assert model.shape == (8, 8) and model.dimension == 64 and model.components == 1797
    assert np.array_equal(model.means, digits())
    assert tweedie.sample(model, sampler="euler", schedule="edm", steps=4, count=3).shape == (3, 8, 8)
    assert tweedie.Model.from_dataset(digits().reshape(-1, 4, 4, 4)).shape == (4, 4, 4)
    assert tweedie.Model.from_dataset(digits().reshape(-1, 64, 1)).shape == (64, 1)
    assert tweedie.Model.from_dataset(digits()).shape == (64,)
    assert tweedie.Model.from_dataset(digits()[:1]).components == 1


def test_from_dataset_reads_uint8_pixels():
    """8-bit images with scale="edm" are x/127.5 − 1 of their values, as the float route computes
    it. (The uint8 cast truncates v·255/16, so they are the digits' v/8 − 1 only within 1/127.5.)"""
    pixels = (load_digits_raw() * 255 / 16).astype(np.uint8)
    assert pixels.max() == 255
    edm = tweedie.Model.from_dataset(pixels, scale="edm")
    by_hand = tweedie.Model.from_dataset(pixels.astype(np.float64) / 127.5 - 1, scale="none")
    assert np.max(np.abs(edm.means - by_hand.means)) <= 1e-12
    assert np.max(np.abs(edm.means - digits())) <= 1 / 127.5
    unit = tweedie.Model.from_dataset(pixels, scale="unit")
    assert np.max(np.abs(unit.means - pixels.astype(np.float64) / 255)) <= 1e-12
    for dtype in (np.int16, np.float32, np.uint16):
        assert np.array_equal(tweedie.Model.from_dataset(pixels.astype(dtype), scale="edm").means, edm.means)


def test_from_dataset_does_not_change_its_input():
    data = digits().copy()
    tweedie.Model.from_dataset(data, scale="edm")
    assert np.array_equal(data, digits())
