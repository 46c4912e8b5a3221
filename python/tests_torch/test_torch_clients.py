"""The exact oracle inside the real PyTorch clients: k-diffusion's samplers, diffusers' scheduler
loops, and a torch network driving Tweedie's samplers (``make test-python-torch``)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import tweedie  # noqa: E402
import tweedie.torch  # noqa: E402
from tweedie.torch import DiffusersModel, KDiffusionDenoiser  # noqa: E402

torch.set_default_dtype(torch.float64)


def k_diffusion_sampling():
    try:
        return tweedie.torch.k_diffusion_sampling()
    except ImportError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def ring8():
    return tweedie.Model.builtin("ring8")


def relative_close(a, b, tolerance=1e-10):
    return np.max(np.abs(a - b) / (1 + np.abs(b))) <= tolerance


@pytest.mark.parametrize("name", ["sample_euler", "sample_heun", "sample_dpmpp_2m"])
def test_k_diffusion_samplers_on_the_exact_denoiser_equal_tweedie(ring8, name):
    """k-diffusion's own sampler on KDiffusionDenoiser, from x = σ_max z on Karras σs, equals
    Tweedie's sampler on the edm schedule's Karras grid from the same z."""
    sampling = k_diffusion_sampling()
    steps, count = 12, 400
    z = np.random.default_rng(7).normal(size=(count, 2))
    sigmas = sampling.get_sigmas_karras(steps, 0.002, 80.0, rho=7.0, device="cpu").to(torch.float64)
    x = torch.from_numpy(z) * sigmas[0]
    ours = getattr(sampling, name)(KDiffusionDenoiser(ring8), x, sigmas, disable=True).numpy()
    sampler = {"sample_euler": "euler", "sample_heun": "heun", "sample_dpmpp_2m": "dpmpp-2m"}[name]
    theirs = tweedie.sample(ring8, sampler=sampler, schedule="edm", grid="karras", steps=steps, count=count, init=z)
    assert relative_close(ours, theirs), np.max(np.abs(ours - theirs))


def test_the_k_diffusion_denoiser_takes_one_sigma_per_row(ring8):
    denoiser = KDiffusionDenoiser(ring8)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    sigma = torch.tensor([0.1, 0.5, 1.0, 2.0, 5.0])
    rows = torch.stack([denoiser(x[i:i + 1], sigma[i:i + 1])[0] for i in range(5)])
    assert torch.equal(denoiser(x, sigma), rows)
    assert denoiser(x.float(), sigma).dtype == torch.float32


def in_float64(scheduler):
    """diffusers' PyTorch schedulers keep β and ᾱ in float32; Tweedie's `ddpm` schedule has them
    in float64. Recomputing the scheduler's tables in float64 (same linear β) makes the two runs
    the same computation, so they can agree to rounding."""
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    scheduler.betas = betas
    scheduler.alphas = 1.0 - betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, dim=0)
    if hasattr(scheduler, "final_alpha_cumprod"):
        scheduler.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    if hasattr(scheduler, "alpha_t"):
        scheduler.alpha_t = torch.sqrt(scheduler.alphas_cumprod)
        scheduler.sigma_t = torch.sqrt(1 - scheduler.alphas_cumprod)
        scheduler.lambda_t = torch.log(scheduler.alpha_t) - torch.log(scheduler.sigma_t)
        scheduler.sigmas = ((1 - scheduler.alphas_cumprod) / scheduler.alphas_cumprod) ** 0.5
    return scheduler


def diffusers_loop(scheduler, model, x, steps):
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        x = scheduler.step(model(x, t).sample, t, x).prev_sample
    return x


def tweedie_from_the_same_noise(model, scheduler, sampler, grid, steps, z):
    """Tweedie's `sampler` on the scheduler's discrete schedule and grid from the noise z of a
    diffusers loop: diffusers starts from x = z (init_noise_sigma = 1), Tweedie from σ_{t_0} z, so
    Tweedie is given z/σ_{t_0}."""
    scheduler.set_timesteps(steps)
    sigma0 = float(torch.sqrt(1 - scheduler.alphas_cumprod[int(scheduler.timesteps[0])]))
    return tweedie.sample(model, sampler=sampler, schedule="ddpm", grid=grid, steps=steps, count=z.shape[0],
                          init=z / sigma0)


def test_diffusers_ddim_loop_equals_tweedie_ddim():
    """diffusers' DDIMScheduler (η = 0, set_alpha_to_one, "leading" timesteps) driven by
    DiffusersModel, against Tweedie's ddim on the same discrete schedule and grid, from the same noise."""
    diffusers = pytest.importorskip("diffusers")
    model = tweedie.Model.from_dict({"weights": [1.0], "means": [[1.0, -0.5]], "covariance_type": "full",
                                     "covariances": [[[0.8, 0.3], [0.3, 0.5]]]})
    scheduler = in_float64(diffusers.DDIMScheduler(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02,
                                                   beta_schedule="linear", set_alpha_to_one=True,
                                                   timestep_spacing="leading", clip_sample=False))
    steps, count = 10, 64
    z = np.random.default_rng(3).normal(size=(count, 2))
    ours = diffusers_loop(scheduler, DiffusersModel(model, scheduler), torch.from_numpy(z), steps).numpy()
    theirs = tweedie_from_the_same_noise(model, scheduler, "ddim", "leading", steps, z)
    assert relative_close(ours, theirs), np.max(np.abs(ours - theirs))


def test_diffusers_dpm_solver_loop_equals_tweedie_dpmpp_2m():
    """DPMSolverMultistepScheduler (DPM-Solver++ 2M, "trailing", final step to σ = 0, first order)
    against Tweedie's dpmpp-2m: the same algorithm under the same conventions. The scheduler steps
    in float32 whatever its tables (it casts the sample and its σs), so the runs agree to float32
    rounding, not to float64's; they are 100 times closer than Tweedie's euler on the same grid."""
    diffusers = pytest.importorskip("diffusers")
    model = tweedie.Model.builtin("ring8")
    scheduler = in_float64(diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear", algorithm_type="dpmsolver++",
        solver_order=2, timestep_spacing="trailing", lower_order_final=True, final_sigmas_type="zero"))
    steps, count = 10, 64
    z = np.random.default_rng(4).normal(size=(count, 2))
    ours = diffusers_loop(scheduler, DiffusersModel(model, scheduler), torch.from_numpy(z), steps).numpy()
    theirs = tweedie_from_the_same_noise(model, scheduler, "dpmpp-2m", "trailing", steps, z)
    assert relative_close(ours, theirs, 1e-4), np.max(np.abs(ours - theirs))
    euler = tweedie_from_the_same_noise(model, scheduler, "euler", "trailing", steps, z)
    assert np.max(np.abs(ours - theirs)) < np.max(np.abs(ours - euler)) / 100


def test_a_torch_network_runs_through_tweedie_heun():
    """A small MLP (x, log σ) → x̂_0 as a callable: Tweedie's heun samples it, reproducibly."""
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
    torch.manual_seed(0)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.3)

    def network(x, alpha, sigma):
        with torch.no_grad():
            inputs = torch.cat([torch.from_numpy(x / alpha[:, None]), torch.from_numpy(np.log(sigma / alpha))[:, None]], 1)
            return net(inputs).numpy()

    a = tweedie.sample(network, dimension=2, sampler="heun", schedule="vp-linear", steps=8, count=100, seed=2)
    b = tweedie.sample(network, dimension=2, sampler="heun", schedule="vp-linear", steps=8, count=100, seed=2)
    assert a.shape == (100, 2) and np.isfinite(a).all() and np.array_equal(a, b)
    # Tweedie's part does not depend on the batch size; a torch network's matmuls may, in the last bits.
    c = tweedie.sample(network, dimension=2, sampler="heun", schedule="vp-linear", steps=8, count=100, seed=2,
                       batch_size=7)
    assert np.allclose(a, c, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name, sampler", [("sample_euler", "euler"), ("sample_heun", "heun"),
                                           ("sample_dpmpp_2m", "dpmpp-2m")])
def test_the_optimal_grid_in_k_diffusion_has_the_kl_tweedie_states(name, sampler):
    """The grid optimal_grid returns, run by k-diffusion's own sampler on the exact denoiser: its
    output is an affine map of the start (probed on 0 and the unit vectors), and the Gaussian KL of
    that output law to p_0, computed here with numpy, is the KL optimal_grid reports."""
    sampling = k_diffusion_sampling()
    rng = np.random.default_rng(11)
    d = 3
    a = rng.normal(size=(d, d))
    mean, cov = rng.normal(size=d), a @ a.T / d + 0.2 * np.eye(d)
    model = tweedie.Model.from_dict({"weights": [1], "means": [mean.tolist()], "covariance_type": "full",
                                     "covariances": [cov.tolist()]})
    grid = tweedie.optimal_grid(model, sampler=sampler, calls=9)
    sigmas = torch.from_numpy(grid.sigmas)
    probes = torch.from_numpy(np.vstack([np.zeros(d), np.eye(d)]))
    images = getattr(sampling, name)(KDiffusionDenoiser(model), probes, sigmas, disable=True).numpy()
    c, linear = images[0], (images[1:] - images[0]).T
    out_cov = grid.sigmas[0] ** 2 * linear @ linear.T  # start N(0, σ_max² I)
    difference = mean - c
    kl = 0.5 * (np.trace(np.linalg.solve(cov, out_cov)) + difference @ np.linalg.solve(cov, difference) - d
                + np.linalg.slogdet(cov)[1] - np.linalg.slogdet(out_cov)[1])
    assert kl == pytest.approx(grid.kl, rel=1e-8)
