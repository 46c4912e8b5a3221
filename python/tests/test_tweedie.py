"""The Python package against the command-line tool (bit for bit), scikit-learn, SciPy and bad input."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tweedie
from tweedie import TweedieError

CLI = os.environ.get("TWEEDIE_CLI")
REPOSITORY = Path(__file__).resolve().parents[2]


def cli(*arguments):
    if not CLI:
        pytest.skip("TWEEDIE_CLI is not set (make test-python sets it)")
    subprocess.run([CLI, *map(str, arguments)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def ring8():
    return tweedie.Model.builtin("ring8")


@pytest.fixture(scope="module")
def oracle(ring8):
    return tweedie.Oracle(ring8)


def test_oracle_equals_the_cli_bit_for_bit(oracle, tmp_path):
    points = REPOSITORY / "examples" / "ring8-points.npy"
    cli("oracle", "--model", "ring8", "--x", points, "--t", 0.3, "--schedule", "vp-cosine", "--out", tmp_path / "o.npz")
    expected = np.load(tmp_path / "o.npz")
    result = oracle.evaluate(np.load(points), t=0.3, schedule="vp-cosine")
    for name in ["log_density", "responsibilities", "denoised", "noise", "standardized_noise", "score", "divergence"]:
        assert np.array_equal(getattr(result, name), expected[name]), name


def test_denoise_is_the_fast_path_of_evaluate(oracle):
    x = np.random.default_rng(0).normal(size=(37, 2)) * 3
    full = oracle.evaluate(x, alpha=0.7, sigma=0.5, covariance=True, components=True)
    assert np.array_equal(oracle.denoise(x, alpha=0.7, sigma=0.5), full.denoised)
    assert np.array_equal(oracle.denoise(x, alpha=np.array([0.7]), sigma=np.array([0.5])), full.denoised)
    assert full.posterior_covariance.shape == (37, 2, 2) and full.component_means.shape == (37, 8, 2)


def test_threads_share_an_oracle(oracle):
    """The GIL is released during each call; concurrent calls give the sequential results."""
    from concurrent.futures import ThreadPoolExecutor
    batches = [np.random.default_rng(i).normal(size=(64, 2)) for i in range(16)]
    sequential = [oracle.denoise(x, alpha=0.8, sigma=0.5) for x in batches]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda x: oracle.denoise(x, alpha=0.8, sigma=0.5), batches))
    assert all(np.array_equal(a, b) for a, b in zip(sequential, concurrent))
    with ThreadPoolExecutor(max_workers=4) as pool:   # errors stay with their own thread
        errors = list(pool.map(lambda s: _error_text(lambda: oracle.denoise(batches[0], alpha=1.0, sigma=s)),
                               [-1.0, -2.0, -3.0, -4.0]))
    assert errors == [f"sigma: must be finite and positive, got {s}" for s in [-1.0, -2.0, -3.0, -4.0]]


def _error_text(call):
    try:
        call()
    except TweedieError as error:
        return str(error)
    return None


def test_per_row_noise_levels_equal_one_call_per_level(oracle):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 2))
    sigma = np.array([0.3, 0.8, 0.3, 1.5, 0.8, 0.3])
    per_row = oracle.denoise(x, alpha=1.0, sigma=sigma)
    for s in np.unique(sigma):
        rows = sigma == s
        assert np.array_equal(per_row[rows], oracle.denoise(x[rows], alpha=1.0, sigma=s))


def test_float32_and_non_contiguous_points_are_converted(oracle):
    x = np.random.default_rng(2).normal(size=(10, 4))[:, ::2]   # non-contiguous view
    assert not x.flags["C_CONTIGUOUS"]
    reference = oracle.denoise(np.ascontiguousarray(x), alpha=0.9, sigma=0.4)
    assert np.array_equal(oracle.denoise(x, alpha=0.9, sigma=0.4), reference)
    single = x.astype(np.float32)
    assert np.array_equal(oracle.denoise(single, alpha=0.9, sigma=0.4),
                          oracle.denoise(single.astype(np.float64), alpha=0.9, sigma=0.4))


def test_sample_equals_the_cli_bit_for_bit(ring8, tmp_path):
    cli("sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "dpmpp-2m-sde", "--eta", "0.7",
        "--steps", 12, "--count", 300, "--seed", 5, "--out", tmp_path / "s.npy", "--quiet")
    samples = tweedie.sample(ring8, sampler="dpmpp-2m-sde", schedule="vp-linear", steps=12, count=300, seed=5, eta=0.7)
    assert np.array_equal(samples, np.load(tmp_path / "s.npy"))


def test_structured_models_keep_their_point_shape(tmp_path):
    chain = tweedie.Model.builtin("chain16")
    assert chain.shape == (16, 3)
    samples = tweedie.sample(chain, sampler="euler", schedule="vp-linear", steps=4, count=5, seed=1)
    assert samples.shape == (5, 16, 3)
    cli("sample", "--model", "chain16", "--schedule", "vp-linear", "--sampler", "euler", "--steps", 4, "--count", 5,
        "--seed", 1, "--out", tmp_path / "c.npy", "--quiet")
    assert np.array_equal(samples, np.load(tmp_path / "c.npy"))


def test_a_callable_drives_the_samplers(oracle, ring8):
    """The exact denoiser as a Python callable gives the same samples as the model, bit for bit;
    as an ε-predictor (E[z | x_t]) it gives them to rounding."""
    exact = tweedie.sample(ring8, sampler="heun", schedule="vp-linear", steps=10, count=200, seed=3)
    x0 = tweedie.sample(lambda x, a, s: oracle.denoise(x, alpha=a, sigma=s), sampler="heun", schedule="vp-linear",
                        steps=10, count=200, seed=3, dimension=2)
    assert np.array_equal(x0, exact)
    eps = tweedie.sample(lambda x, a, s: oracle.evaluate(x, alpha=a, sigma=s).standardized_noise, sampler="heun",
                         schedule="vp-linear", steps=10, count=200, seed=3, dimension=2, prediction="epsilon")
    assert np.allclose(eps, exact, rtol=0, atol=1e-9)


def test_a_failing_callable_raises_and_the_interpreter_survives():
    def broken(x, a, s):
        raise RuntimeError("network on fire")
    with pytest.raises(TweedieError, match="network on fire"):
        tweedie.sample(broken, sampler="euler", schedule="vp-linear", steps=3, count=4, dimension=2)
    with pytest.raises(TweedieError, match="shape"):
        tweedie.sample(lambda x, a, s: x[:, :1], sampler="euler", schedule="vp-linear", steps=3, count=4, dimension=2)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_scikit_learn_mixtures_load_and_match_score_samples(covariance_type):
    sklearn = pytest.importorskip("sklearn.mixture")
    rng = np.random.default_rng(4)
    data = np.concatenate([rng.normal(loc=c, scale=s, size=(200, 3)) for c, s in [(0, 1), (4, 0.5), (-3, 2)]])
    gm = sklearn.GaussianMixture(n_components=3, covariance_type=covariance_type, random_state=0).fit(data)
    model = tweedie.Model.from_sklearn(gm)
    assert model.covariance_type == covariance_type and model.dimension == 3 and model.components == 3
    x = rng.normal(size=(50, 3)) * 3
    assert np.allclose(model.log_density(x), gm.score_samples(x), rtol=1e-10, atol=1e-10)
    # With a correlated noise covariance the oracle sees C_k = α²Λ_k + σ²Σ.
    sigma = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.0]])
    noisy = tweedie.Model.from_sklearn(gm, noise=sigma)
    stats = pytest.importorskip("scipy.stats")
    covariances = {"full": gm.covariances_, "tied": [gm.covariances_] * 3,
                   "diag": [np.diag(v) for v in np.atleast_2d(gm.covariances_)],
                   "spherical": [v * np.eye(3) for v in np.atleast_1d(gm.covariances_)]}[covariance_type]
    alpha, s = 0.8, 0.6
    expected = np.log(sum(w * stats.multivariate_normal(alpha * m, alpha**2 * c + s**2 * sigma).pdf(x)
                          for w, m, c in zip(gm.weights_, gm.means_, covariances)))
    got = tweedie.Oracle(noisy).evaluate(x, alpha=alpha, sigma=s).log_density
    assert np.allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_scipy_solve_ivp_on_the_exact_denoiser_matches_rk45():
    """The probability-flow ODE dx/dσ = (x − D(x, σ))/σ of the edm schedule, integrated by SciPy
    on oracle.denoise, lands where Tweedie's own rk45 does from the same starting noise."""
    integrate = pytest.importorskip("scipy.integrate")
    model = tweedie.Model.builtin("ring8")
    oracle = tweedie.Oracle(model)
    z = np.random.default_rng(6).normal(size=(8, 2))
    sigma_max, sigma_min = 80.0, 0.002
    ends = []
    for row in z:
        solution = integrate.solve_ivp(
            lambda s, x: (x - oracle.denoise(x, alpha=1.0, sigma=s)[0]) / s, (sigma_max, sigma_min), sigma_max * row,
            method="DOP853", rtol=1e-11, atol=1e-11)
        ends.append(oracle.denoise(solution.y[:, -1], alpha=1.0, sigma=sigma_min)[0])
    rk45 = tweedie.sample(model, sampler="rk45", schedule="edm", count=8, init=z, rtol=1e-10, atol=1e-10)
    assert np.allclose(np.array(ends), rk45, rtol=0, atol=1e-6)


def test_likelihood_by_the_ode_matches_the_exact_log_density():
    chain = tweedie.Model.builtin("chain16")
    x = tweedie.sample(chain, sampler="exact", schedule="vp-linear", steps=10, count=3, seed=1)
    result = tweedie.likelihood(x, chain, schedule="edm:sigma_min=1e-5", rtol=1e-8, atol=1e-8)
    assert np.allclose(result.log_likelihood, chain.log_density(x), rtol=0, atol=1e-4)
    assert (result.standard_error == 0).all() and (result.function_evaluations > 0).all()
    hutchinson = tweedie.likelihood(x[:1], chain, schedule="vp-linear", probes=4)
    assert hutchinson.standard_error[0] > 0
    with pytest.raises(TweedieError, match="probes"):
        tweedie.likelihood(x, chain, schedule="vp-linear", probes=1)


def test_schedules_are_vectorized():
    schedule = tweedie.Schedule("vp-linear")
    t = np.linspace(0.05, 1, 7)
    alpha = np.exp(-0.25 * t**2 * (20 - 0.1) - 0.5 * t * 0.1)
    assert np.allclose(schedule.alpha(t), alpha, rtol=1e-14)
    assert np.allclose(schedule.sigma(t), np.sqrt(1 - alpha**2), rtol=1e-13)
    assert np.allclose(schedule.log_snr(t), np.log(alpha / np.sqrt(1 - alpha**2)), rtol=1e-12)
    assert schedule.time_range == (0.0, 1.0)
    assert tweedie.Schedule("edm").time_range == (0.002, 80.0)


def test_models_round_trip_through_files(ring8, tmp_path):
    for name in ["m.json", "m.npz"]:
        ring8.save(tmp_path / name)
        again = tweedie.Model.load(tmp_path / name)
        assert np.array_equal(again.means, ring8.means) and np.array_equal(again.weights, ring8.weights)


def test_evaluate_reports_each_figure_with_its_floor(ring8):
    samples = tweedie.sample(ring8, sampler="exact", schedule="vp-linear", steps=20, count=500, seed=2)
    report = tweedie.evaluate(samples, ring8, seed=2)
    assert {"cross_entropy", "tv_mode_weights", "sliced_w2", "mmd2", "energy_distance"} <= set(report)
    assert report["sliced_w2"].noise_floor is not None and report["sliced_w2"].value > 0


@pytest.mark.parametrize("call", [
    lambda o, m: o.evaluate([[1.0, 2.0, 3.0]], alpha=1, sigma=1),
    lambda o, m: o.evaluate([[1.0, np.nan]], alpha=1, sigma=1),
    lambda o, m: o.evaluate([[1.0, 2.0]], alpha=1, sigma=-1),
    lambda o, m: o.evaluate([[1.0, 2.0]], alpha=1e200, sigma=1),
    lambda o, m: o.evaluate([[1e300, 0.0]], alpha=1, sigma=0.5),
    lambda o, m: o.evaluate([[1.0, 2.0]], t=3, schedule="vp-linear"),
    lambda o, m: o.evaluate([[1.0, 2.0]], t=0.3),
    lambda o, m: o.denoise(np.ones((3, 2)), alpha=[1, 1], sigma=[1, 1]),
    lambda o, m: o.denoise(np.ones((3, 2)), alpha=1.0, sigma=-1.0),
    lambda o, m: o.denoise(np.full((3, 2), np.nan), alpha=1.0, sigma=1.0),
    lambda o, m: o.evaluate(["a", "b"], alpha=1, sigma=1),
    lambda o, m: tweedie.Model.builtin("ring9"),
    lambda o, m: tweedie.Model.load("/nonexistent/model.json"),
    lambda o, m: tweedie.Model.from_dict({"weights": [0.5, 0.6], "means": [[0], [1]], "covariance_type": "dirac"}),
    lambda o, m: tweedie.Model.from_dict({"weights": [1], "means": [[0]], "covariance_type": "full",
                                          "covariances": [[[-1.0]]]}),
    lambda o, m: tweedie.Schedule("edm:sigma_max=1e300"),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="vp-linear", count=5),
    lambda o, m: tweedie.sample(m, sampler="rk45", schedule="vp-linear", steps=5, count=5),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="vp-linear", steps=10**9, count=5),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="vp-linear", steps=5, count=10**12),
    lambda o, m: tweedie.sample(m, sampler="ddim", schedule="vp-linear", steps=5, count=5, eta=-1),
    lambda o, m: tweedie.sample(m, sampler="euler", schedule="vp-linear", steps=5, count=5, eta=1),
    lambda o, m: tweedie.sample(m, sampler="euler", schedule="vp-linear", steps=5, count=5, grid="cubic"),
    lambda o, m: tweedie.sample(m, sampler="euler", schedule="vp-linear", steps=5, count=3, init=np.ones((2, 2))),
    lambda o, m: tweedie.evaluate(np.ones((4, 3)), m),
    lambda o, m: tweedie.Oracle("ring8"),
    lambda o, m: tweedie.Oracle(m, precision="float32"),
    lambda o, m: tweedie.Oracle(m, precision="float16"),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="edm", steps=3, count=3, batch_size=0),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="edm", steps=3, count=3, precision="float32"),
    lambda o, m: tweedie.sample(lambda x, a, s: x, sampler="euler", schedule="edm", steps=3, count=3, dimension=2,
                                precision="float32"),
    lambda o, m: tweedie.sample(tweedie.Model.builtin("spiral-dirac"), sampler="euler", schedule="edm", steps=3,
                                count=3, precision="float32", guidance="mmps", operator=[[1.0, 0.0]], y=[1.0],
                                noise_std=1),
    lambda o, m: tweedie.posterior(m, operator=[[1.0, 0.0, 0.0]], y=[1.0], noise_std=1),
    lambda o, m: tweedie.posterior(m, operator=[[1.0, 0.0]], y=[1.0, 2.0], noise_std=1),
    lambda o, m: tweedie.posterior(m, operator=[[1.0, 0.0]], y=[np.nan], noise_std=1),
    lambda o, m: tweedie.posterior(m, operator=[[1.0, 0.0]], y=[1.0], noise_std=0),
    lambda o, m: tweedie.posterior(m, operator=[[1.0, 0.0]], y=[1.0]),
    lambda o, m: tweedie.posterior(m, operator=[[1.0, 0.0]], y=[1.0], noise_covariance=[[-1.0]]),
    lambda o, m: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, guidance="magic",
                                operator=[[1.0, 0.0]], y=[1.0], noise_std=1),
    lambda o, m: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, guidance="mmps"),
    lambda o, m: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, operator=[[1.0, 0.0]], y=[1.0],
                                noise_std=1),
    lambda o, m: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, guidance="dps", zeta=-1,
                                operator=[[1.0, 0.0]], y=[1.0], noise_std=1),
    lambda o, m: tweedie.sample(lambda x, a, s: x, sampler="euler", schedule="edm", steps=3, count=3, dimension=2,
                                guidance="exact", operator=[[1.0, 0.0]], y=[1.0], noise_std=1),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="edm", steps=3, count=3, wobble=1),
    lambda o, m: tweedie.sample(m, sampler="ddim", schedule="edm", steps=3, count=3, eta="fast"),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="edm", steps=3, count=3, grid="cubic"),
    lambda o, m: tweedie.sample(m, sampler="heun", schedule="edm", steps=3, count=3, zeta=float("nan"),
                                guidance="dps", operator=[[1.0, 0.0]], y=[1.0], noise_std=1),
])
def test_bad_input_raises_tweedie_error(oracle, ring8, call):
    with pytest.raises(TweedieError) as error:
        call(oracle, ring8)
    assert "\n" not in str(error.value) and str(error.value)


def test_the_interpreter_survives_a_hostile_session():
    """Bad calls in a row in a fresh interpreter: each is an exception, the process exits cleanly."""
    script = """
import numpy as np, tweedie
m = tweedie.Model.builtin("ring8"); o = tweedie.Oracle(m)
for call in [lambda: o.evaluate(np.full((3, 2), np.inf), alpha=1, sigma=1),
             lambda: o.denoise(np.zeros((0, 5)), alpha=1, sigma=1),
             lambda: tweedie.sample(m, sampler="pc", schedule="vp-linear", steps=3, count=4, snr=1e300),
             lambda: tweedie.Model.from_dict({"weights": [1], "means": [[0] * 3], "covariance_type": "dirac",
                                              "noise": {"type": "kronecker", "covariance": [[1, 0], [0, 1]], "block_size": 2}})]:
    try:
        call()
    except tweedie.TweedieError:
        pass
print("alive")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "alive", result.stderr


def test_posterior_matches_the_information_form():
    """The exact posterior against numpy's information form, with a correlated Σ_y (and a correlated
    forward noise, which the posterior keeps)."""
    rng = np.random.default_rng(5)
    d, k = 3, 2
    covariances = []
    for _ in range(k):
        q = rng.normal(size=(d, d))
        covariances.append(q @ q.T / d + 0.5 * np.eye(d))
    means = rng.normal(size=(k, d)) * 2
    weights = np.array([0.4, 0.6])
    noise = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.0]])
    model = tweedie.Model.from_dict({"weights": weights, "means": means, "covariance_type": "full",
                                     "covariances": np.array(covariances), "noise": {"type": "full", "covariance": noise}})
    a = rng.normal(size=(2, d))
    sigma_y = np.array([[0.2, 0.05], [0.05, 0.1]])
    y = np.array([0.7, -1.1])
    post = tweedie.posterior(model, operator=a, y=y, noise_covariance=sigma_y)
    sy_inv = np.linalg.inv(sigma_y)
    joint = []
    expected_means = []
    for c in range(k):
        lam_inv = np.linalg.inv(covariances[c])
        cov = np.linalg.inv(lam_inv + a.T @ sy_inv @ a)
        expected_means.append(cov @ (lam_inv @ means[c] + a.T @ sy_inv @ y))
        s = a @ covariances[c] @ a.T + sigma_y
        r = y - a @ means[c]
        joint.append(np.log(weights[c]) - 0.5 * r @ np.linalg.solve(s, r) - 0.5 * np.log(np.linalg.det(2 * np.pi * s)))
        assert np.allclose(post.model.to_dict()["covariances"][c], cov, rtol=1e-10, atol=1e-12)
    joint = np.array(joint)
    total = np.logaddexp.reduce(joint)
    assert post.log_evidence == pytest.approx(total, rel=1e-11)
    assert np.allclose(post.weights, np.exp(joint - total), rtol=1e-10)
    assert np.allclose(post.model.means, np.array(expected_means), rtol=1e-10, atol=1e-12)
    assert np.allclose(np.asarray(post.model.to_dict()["noise"]["covariance"]), noise)


def test_guidance_works_with_a_model_and_with_a_python_callable():
    """Every method runs through the C ABI with correlated prior noise Σ; a Python callable (the
    exact denoiser, differenced by the library) gives the samples of the model's exact covariance
    products to finite-difference accuracy; exact guidance reproduces the posterior mean."""
    noise = np.array([[1.0, 0.4], [0.4, 0.8]])
    model = tweedie.Model.from_dict({"weights": [1.0], "means": [[0.5, -1.0]], "covariance_type": "full",
                                     "covariances": [[[1.0, 0.5], [0.5, 1.5]]],
                                     "noise": {"type": "full", "covariance": noise}})
    oracle = tweedie.Oracle(model)
    observation = dict(operator=[[0.8, -0.5]], y=[1.7], noise_std=0.3)
    common = dict(sampler="heun", schedule="edm", steps=40, count=2000, seed=2)
    post = tweedie.posterior(model, **observation)
    truth = post.model.means[0]
    covariance = np.asarray(post.model.to_dict()["covariances"])  # one component: stored as tied (D, D)
    se = np.sqrt(np.diag(covariance) / common["count"])
    for method in ("dps", "pigdm", "tmpd", "mmps"):
        with_model = tweedie.sample(model, guidance=method, **observation, **common)
        with_callable = tweedie.sample(lambda x, a, s: oracle.denoise(x, alpha=a, sigma=s), dimension=2,
                                       noise_model=model, guidance=method, **observation, **common)
        assert np.all(np.isfinite(with_callable))
        assert np.max(np.abs(with_model - with_callable)) < 1e-5, method
        if method in ("tmpd", "mmps"):  # exact on a Gaussian prior with d_y = 1
            assert np.all(np.abs(with_model.mean(axis=0) - truth) < 4.5 * se), method
    exact = tweedie.sample(model, guidance="exact", **observation, **common)
    assert np.all(np.abs(exact.mean(axis=0) - truth) < 4.5 * se)


def test_sampler_kl_is_exact_on_a_gaussian_and_resolves_small_errors(ring8):
    """On a single Gaussian the sampler's output law is Gaussian: its KL to p_0 in closed form (from
    the output mean and covariance of a large sample run) agrees with the Jacobian estimate; on ring8
    the control-variate estimate resolves a KL far below its plain estimate's standard error."""
    model = tweedie.Model.from_dict({"weights": [1.0], "means": [[0.5, -1.0]], "covariance_type": "full",
                                     "covariances": [[[1.0, 0.5], [0.5, 1.5]]],
                                     "noise": {"type": "full", "covariance": [[1.0, 0.4], [0.4, 0.8]]}})
    kl = tweedie.sampler_kl(model, sampler="euler", schedule="edm", steps=6, count=4000, seed=1)
    x = tweedie.sample(model, sampler="euler", schedule="edm", steps=6, count=200_000, seed=2)
    m1, s1 = x.mean(axis=0), np.cov(x.T)
    m2, s2 = np.array([0.5, -1.0]), np.array([[1.0, 0.5], [0.5, 1.5]])
    inv = np.linalg.inv(s2)
    closed = 0.5 * (np.trace(inv @ s1) + (m2 - m1) @ inv @ (m2 - m1) - 2 + np.log(np.linalg.det(s2) / np.linalg.det(s1)))
    assert abs(kl.kl - closed) < 4 * kl.standard_error + 0.02 * closed
    # Six Euler steps leave q_N narrower than p_0 here: p_0/q_N is heavy-tailed, and the plain form is used.
    assert not kl.trustworthy and kl.kl == kl.plain_kl and kl.count == 4000
    fine = tweedie.sampler_kl(ring8, sampler="heun", schedule="edm", steps=64, count=1000, seed=2, start="marginal")
    assert fine.trustworthy and fine.kl > 3 * fine.standard_error and fine.plain_standard_error > fine.kl
    assert fine.reverse_kl is not None and fine.reverse_kl > 0 and kl.reverse_kl is None
    with pytest.raises(TweedieError, match="deterministic"):
        tweedie.sampler_kl(ring8, sampler="ddpm", schedule="edm", steps=5, count=10)
    with pytest.raises(TweedieError, match="density"):
        tweedie.sampler_kl(tweedie.Model.builtin("spiral-dirac"), sampler="euler", schedule="edm", steps=5, count=10)


def test_sampler_path_kl_falls_with_steps_and_refuses_deterministic_samplers(ring8):
    coarse = tweedie.sampler_path_kl(ring8, sampler="ddpm", schedule="edm", steps=10, count=1000, seed=1)
    fine = tweedie.sampler_path_kl(ring8, sampler="ddpm", schedule="edm", steps=40, count=1000, seed=1)
    assert fine["path_kl"] < coarse["path_kl"] and coarse["path_kl_se"] < 0.3 * coarse["path_kl"]
    # A data set has no density at t = 0, but the path KL lives at σ > 0.
    dirac = tweedie.sampler_path_kl(tweedie.Model.builtin("spiral-dirac"), sampler="ddim", eta=1, schedule="edm", steps=10,
                                    count=200, seed=1)
    assert np.isfinite(dirac["path_kl"])
    with pytest.raises(TweedieError, match="Gaussian random steps"):
        tweedie.sampler_path_kl(ring8, sampler="heun", schedule="edm", steps=10, count=10)


def test_float32_denoiser_of_a_data_set_is_within_its_stated_error():
    """Precision float32: single-precision products on centred data (docs/math.md §2.7), compared
    with the Float64 oracle from small to large noise; evaluate is untouched."""
    rng = np.random.default_rng(4)
    means = 7 + rng.normal(size=(2000, 32))
    model = tweedie.Model.from_dict({"weights": np.full(2000, 1 / 2000), "means": means, "covariance_type": "dirac"})
    exact, single = tweedie.Oracle(model), tweedie.Oracle(model, precision="float32")
    spread = np.abs(means - means.mean(0)).max()
    for sigma in [1e-3, 0.1, 1.0, 10.0]:
        x = means[:64] + sigma * rng.normal(size=(64, 32))
        error = np.abs(single.denoise(x, alpha=1.0, sigma=sigma) - exact.denoise(x, alpha=1.0, sigma=sigma)).max()
        assert 0 < error < 2e-5 * spread, (sigma, error)
    x = means[:8] + rng.normal(size=(8, 32))
    assert np.array_equal(single.evaluate(x, alpha=1.0, sigma=1.0).denoised, exact.evaluate(x, alpha=1.0, sigma=1.0).denoised)


def test_large_models_are_built_without_a_text_round_trip():
    """From 2^20 numbers on, from_dict passes an in-memory .npz, not JSON: the same model, bit for bit."""
    rng = np.random.default_rng(5)
    means = rng.normal(size=(1100, 1000)) * 1e-3 + 1 / 3
    description = {"weights": np.full(1100, 1 / 1100), "means": means, "covariance_type": "dirac",
                   "noise": {"type": "diagonal", "covariance": np.full(1000, 2.0)}, "shape": [250, 4], "name": "big"}
    model = tweedie.Model.from_dict(description)
    assert (model.dimension, model.components, model.shape, model.name) == (1000, 1100, (250, 4), "big")
    assert np.array_equal(model.means, means)
    small = tweedie.Model.from_dict({**description, "means": means[:, :10], "noise": None, "shape": None})
    x = means[:3, :10] + 0.1
    assert np.array_equal(tweedie.Oracle(small).denoise(x, alpha=1.0, sigma=0.3),
                          tweedie.Oracle(tweedie.Model.from_dict(small.to_dict())).denoise(x, alpha=1.0, sigma=0.3))
    with pytest.raises(TweedieError):
        tweedie.Model.from_dict({**description, "weights": np.full(1100, 1.0)})


def test_float32_sampling_of_a_data_set_equals_the_cli_and_stays_near_float64(tmp_path):
    model = tweedie.Model.builtin("spiral-dirac")
    options = dict(sampler="heun", schedule="vp-linear", steps=18, count=300, seed=3)
    single = tweedie.sample(model, precision="float32", **options)
    exact = tweedie.sample(model, **options)
    assert 0 < np.abs(single - exact).max() < 1e-4
    cli("sample", "--model", "spiral-dirac", "--schedule", "vp-linear", "--sampler", "heun", "--steps", 18,
        "--count", 300, "--seed", 3, "--precision", "float32", "--quiet", "--out", tmp_path / "f32.npy")
    assert np.array_equal(np.load(tmp_path / "f32.npy"), single)   # same batches: the same bits


@pytest.mark.parametrize("text", [b'{"sampler": "heun"', b"[1, 2]", b"\xff\xfe{}", b"", b'{"sampler": "heun", '
                                  b'"schedule": "edm", "count": 3, "steps": 1e400}',
                                  b'{"sampler": "heun", "schedule": "edm", "count": 3, "steps": 3, "seed": -1}'])
def test_a_hostile_request_through_the_c_abi_is_one_line(ring8, text):
    """Malformed request JSON straight through tweedie_sample: status 1, one line, nothing written."""
    from tweedie import _native
    out = np.full((3, 2), 7.0)
    status = _native.lib.tweedie_sample(ring8._handle, _native.MODEL_CALLBACK(), None, text, None, None,
                                        out.ctypes.data)
    message = _native.lib.tweedie_last_error().decode()
    assert status == 1 and message and "\n" not in message
    assert (out == 7.0).all()
