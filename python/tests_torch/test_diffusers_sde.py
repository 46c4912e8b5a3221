"""Does diffusers' SDE DPM-Solver++ converge to p_0 as its steps grow, and at what order?

DPMSolverMultistepScheduler with ``algorithm_type="sde-dpmsolver++"`` (2nd order, "trailing" steps,
final step to σ = 0) runs on the exact ε of a Gaussian prior (Tweedie's DiffusersModel) on DDPM's
linear schedule, from N(0, I) at t = 999 as diffusers starts. Its output is Gaussian (the denoiser
is affine, the noise Gaussian), so KL(N(m̂, Ŝ) ‖ p_0) of the output's sample moments is its KL up to
sample noise; the noise floor is the same figure for exact draws of p_0. What remains at many steps
is the start's error (p_999 is not exactly N(0, I)) and ᾱ's float32 rounding: both far below the
floor here. The numbers of one run are in docs/conformance.md (``python -m pytest -s``)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
import tweedie  # noqa: E402
from tweedie._conformance import _gaussian_kl, _moments  # noqa: E402
from tweedie.torch import DiffusersModel  # noqa: E402

torch.set_default_dtype(torch.float64)
STEPS = (5, 10, 20, 40, 80, 160, 320)
COUNT = 8192


def run(algorithm, steps, seed, prior):
    scheduler = diffusers.DPMSolverMultistepScheduler(
        num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear", algorithm_type=algorithm,
        solver_order=2, timestep_spacing="trailing", lower_order_final=True, final_sigmas_type="zero")
    model = DiffusersModel(prior, scheduler)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((COUNT, prior.dimension), generator=generator, dtype=torch.float64)
    scheduler.set_timesteps(steps)
    for t in scheduler.timesteps:
        x = scheduler.step(model(x, t).sample, t, x, generator=generator).prev_sample
    return x.numpy()


def kl_to_prior(samples, mean, covariance):
    return _gaussian_kl(samples.mean(axis=0), np.cov(samples.T, bias=True), mean, covariance)


def test_sde_dpm_solver_pp_converges_to_p0():
    prior = tweedie.standard_conformance_prior()
    mean, covariance = _moments(prior)
    rng = np.random.default_rng(0)
    floor = np.mean([kl_to_prior(rng.multivariate_normal(mean, covariance, size=COUNT), mean, covariance)
                     for _ in range(8)])
    sde = [kl_to_prior(run("sde-dpmsolver++", n, 1, prior), mean, covariance) for n in STEPS]
    ode = [kl_to_prior(run("dpmsolver++", n, 1, prior), mean, covariance) for n in STEPS]
    print(f"\nnoise floor {floor:.3g}")
    print("| steps | " + " | ".join(str(n) for n in STEPS) + " |")
    print("|---|" + "---:|" * len(STEPS))
    print("| sde-dpmsolver++ KL(q_N ‖ p_0) | " + " | ".join(f"{k:.3g}" for k in sde) + " |")
    print("| dpmsolver++ KL(q_N ‖ p_0) | " + " | ".join(f"{k:.3g}" for k in ode) + " |")
    above = [i for i, k in enumerate(sde) if k > 3 * floor]
    if len(above) >= 3:
        last = above[-3:]
        order = -np.polyfit(np.log(np.array(STEPS)[last]), np.log(np.array(sde)[last]), 1)[0] / 2
        print(f"sde-dpmsolver++ order over {[STEPS[i] for i in last]} steps: {order:.2f}")
        assert order > 0.5
    # It converges: the KL falls to the sample-noise floor.
    assert min(sde[-2:]) < 3 * floor
    assert sde[0] > 10 * sde[-1]
