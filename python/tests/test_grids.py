"""Time grids by exact KL: grid_kl against an independent numpy route (the sampler written out in
dense matrices, its output law pushed through exactly, the Gaussian KL by slogdet), the gradient
against finite differences, optimal_grid against the published grids and against kl_optimal's
closed form; scikit-learn's Gaussian fit of a real data set as the prior."""
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.mixture import GaussianMixture

import tweedie
from tweedie import TweedieError, TweedieTypeError


def gaussian(mean, covariance, noise=None):
    description = {"weights": [1], "means": [list(mean)], "covariance_type": "full",
                   "covariances": [np.asarray(covariance).tolist()]}
    if noise is not None:
        description["noise"] = {"type": "full", "covariance": np.asarray(noise).tolist()}
    return tweedie.Model.from_dict(description)


def random_prior(seed=3, d=4):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d), b @ b.T / d + 0.5 * np.eye(d)


def dense_output_kl(mean, cov, noise, sigmas, sampler):
    """The sampler on σ̃ levels with the exact affine denoiser of N(mean, cov) under noise Σ, written
    out in D×D matrices (x̃ = x/α, σ̃ = σ/α), the output law N(A·0 + c, A σ̃_0² Σ Aᵀ), KL to p_0."""
    d = mean.size

    def denoise(x, s):  # E[x0 | x̃] = μ + Λ (Λ + s²Σ)⁻¹ (x̃ − μ), x̃ as columns
        return mean[:, None] + cov @ np.linalg.solve(cov + s * s * noise, x - mean[:, None])

    def run(x):
        previous = None
        for i in range(len(sigmas) - 1):
            s, s_next = sigmas[i], sigmas[i + 1]
            denoised = denoise(x, s)
            if sampler in ("euler", "ddim"):
                x = x + (s_next - s) * (x - denoised) / s
            elif sampler == "heun":
                slope = (x - denoised) / s
                guess = x + (s_next - s) * slope
                x = x + (s_next - s) * 0.5 * (slope + (guess - denoise(guess, s_next)) / s_next)
            else:  # dpmpp-2m, as k-diffusion writes it
                h = np.log(s) - np.log(s_next)
                estimate = denoised
                if previous is not None:
                    r = previous[1] / h
                    estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous[0]
                previous = (denoised, h)
                x = (s_next / s) * x - np.expm1(-h) * estimate
        return denoise(x, sigmas[-1])

    c = run(np.zeros((d, 1)))[:, 0]
    a = run(np.eye(d)) - c[:, None]
    out_cov = sigmas[0] ** 2 * a @ noise @ a.T
    difference = mean - c
    _, logdet_out = np.linalg.slogdet(out_cov)
    _, logdet_p = np.linalg.slogdet(cov)
    solved = np.linalg.solve(cov, out_cov)
    return 0.5 * (np.trace(solved) + difference @ np.linalg.solve(cov, difference) - d + logdet_p - logdet_out)


@pytest.mark.parametrize("sampler", ["euler", "ddim", "heun", "dpmpp-2m"])
def test_grid_kl_equals_the_dense_route(sampler):
    mean, cov, noise = random_prior()
    sigmas = np.array([80.0, 12.0, 3.0, 0.9, 0.2, 0.02, 0.0])
    kl, gradient = tweedie.grid_kl(gaussian(mean, cov, noise), sigmas, sampler=sampler)
    expected = dense_output_kl(mean, cov, noise, sigmas[:-1], sampler)
    assert abs(kl - expected) <= 1e-8 * expected
    assert gradient.shape == (6,)
    # The gradient against central differences of the same function.
    model = gaussian(mean, cov, noise)
    for i in range(6):
        h = 1e-6 * sigmas[i]
        up, down = sigmas.copy(), sigmas.copy()
        up[i] += h
        down[i] -= h
        difference = (tweedie.grid_kl(model, up, sampler=sampler)[0]
                      - tweedie.grid_kl(model, down, sampler=sampler)[0]) / (2 * h)
        assert abs(difference - gradient[i]) <= 1e-5 * max(abs(gradient[i]), 1e-8 * kl / sigmas[i])


@pytest.mark.parametrize("calls", [4, 8, 20])
def test_kl_optimal_is_the_exact_optimum_of_ddim_on_a_standard_gaussian(calls):
    grid = tweedie.optimal_grid(gaussian(np.zeros(3), np.eye(3)), sampler="ddim", calls=calls, keep_end=True)
    closed = grid.published["kl-optimal"][0]
    assert np.allclose(grid.sigmas, closed, rtol=1e-5, atol=0)
    assert abs(grid.gap("kl-optimal")) < 1e-6
    free = tweedie.optimal_grid(gaussian(np.zeros(3), np.eye(3)), sampler="ddim", calls=calls)
    assert free.kl < grid.kl  # freeing the last level helps


def test_optimal_grid_on_scikit_learns_fit_of_iris():
    """A real prior: scikit-learn's one-component Gaussian fit of the iris measurements (scaled)."""
    x = load_iris().data
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    model = tweedie.Model.from_sklearn(GaussianMixture(1, covariance_type="full", random_state=0).fit(x))
    grid = tweedie.optimal_grid(model, sampler="heun", calls=9)
    assert grid.model_calls == 9 and grid.sigmas.size == 6 and grid.sigmas[-1] == 0
    assert not grid.gaussian_fit
    for name, (sigmas, kl) in grid.published.items():
        assert grid.kl <= kl * (1 + 1e-12), name
        assert kl == pytest.approx(tweedie.grid_kl(model, sigmas, sampler="heun")[0], rel=1e-14)
    assert grid.kl == pytest.approx(tweedie.grid_kl(model, grid.sigmas, sampler="heun")[0], rel=1e-12)
    assert np.all(np.diff(grid.sigmas[:-1]) < 0)
    assert 0 < grid.initialization_floor < 1e-6
    assert "OptimalGrid(" in repr(grid)


def test_a_mixture_is_replaced_by_its_gaussian_fit():
    grid = tweedie.optimal_grid(tweedie.Model.builtin("ring8"), sampler="dpmpp-2m", calls=6)
    assert grid.gaussian_fit


@pytest.mark.parametrize("call, error", [
    (lambda m: tweedie.grid_kl(m, [1.0, 2.0]), TweedieError),
    (lambda m: tweedie.grid_kl(m, [[1.0], [0.5]]), TweedieError),
    (lambda m: tweedie.grid_kl(m, [80.0, np.nan]), TweedieError),
    (lambda m: tweedie.grid_kl(m, [80.0, 1.0], sampler="ddpm"), TweedieError),
    (lambda m: tweedie.grid_kl(m, [80.0, 1.0], sampler=3), TweedieTypeError),
    (lambda m: tweedie.grid_kl("ring8", [80.0, 1.0]), TweedieTypeError),
    (lambda m: tweedie.grid_kl(m, np.linspace(80, 1, 65)), TweedieError),
    (lambda m: tweedie.optimal_grid(m, calls=0), TweedieError),
    (lambda m: tweedie.optimal_grid(m, calls=10**6), TweedieError),
    (lambda m: tweedie.optimal_grid(m, calls=2.5), TweedieTypeError),
    (lambda m: tweedie.optimal_grid(m, sigma_min=-1.0), TweedieError),
    (lambda m: tweedie.optimal_grid(m, sigma_max=np.nan), TweedieError),
    (lambda m: tweedie.optimal_grid(m, keep_end=1), TweedieTypeError),
    (lambda m: tweedie.optimal_grid(m, schedule="nope"), TweedieError),
    (lambda m: tweedie.optimal_grid(m, sampler="heun:s-churn=1"), TweedieError),
])
def test_bad_calls_raise_one_line(call, error):
    with pytest.raises(error) as raised:
        call(gaussian(np.zeros(2), np.eye(2)))
    assert "\n" not in str(raised.value)


def test_a_singular_prior_is_refused_by_name():
    with pytest.raises(TweedieError, match="singular"):
        tweedie.grid_kl(gaussian(np.zeros(2), [[1.0, 1.0], [1.0, 1.0]]), [80.0, 1.0])


def test_sample_on_an_explicit_grid():
    """times= runs the sampler on the levels given: Karras' own levels as times give Karras' samples
    bit for bit; an optimal grid (with σ_min held exactly) runs; a bad grid is one line."""
    import tweedie
    from tweedie import TweedieError

    model = tweedie.Model.builtin("ring8")
    steps = 6
    rho, lo, hi = 7.0, 0.002, 80.0
    u = np.linspace(0, 1, steps)
    karras = (hi ** (1 / rho) + u * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    karras[0], karras[-1] = hi, lo
    given = tweedie.sample(model, sampler="heun", schedule="edm", times=np.append(karras, 0.0), count=64, seed=3)
    default = tweedie.sample(model, sampler="heun", schedule="edm", steps=steps, count=64, seed=3)
    np.testing.assert_allclose(given, default, rtol=1e-13, atol=1e-13)
    held = tweedie.optimal_grid(model, sampler="heun", calls=9, keep_end=True)
    assert held.sigmas[-2] == 0.002 and np.all(held.sigmas[:-1] >= 0.002)
    assert tweedie.sample(model, sampler="heun", schedule="edm", times=held.sigmas, count=8).shape == (8, 2)
    with pytest.raises(TweedieError, match="times"):
        tweedie.sample(model, sampler="heun", schedule="edm", times=[80, 90, 1], count=8)
    with pytest.raises(TweedieError, match="times"):
        tweedie.sample(model, sampler="heun", schedule="edm", times=[80, 1], steps=2, count=8)
