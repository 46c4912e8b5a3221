"""The conformance check on samplers written here in numpy in k-diffusion's form, run on the exact
denoiser: the correct ones converge at their known orders, each deliberately broken variant is
flagged. (k-diffusion's own samplers: tests_torch/test_conformance.py.)"""
import math

import numpy as np
import pytest

import tweedie
from tweedie import TweedieError, TweedieTypeError

PRIOR = tweedie.standard_conformance_prior()
ORACLE = tweedie.Oracle(PRIOR)


def denoise(x, sigma):
    return ORACLE.denoise(x, alpha=1.0, sigma=float(sigma))


def euler(x, sigmas, seed, *, sign=1.0, power=1, skip_last=False):
    stop = len(sigmas) - (2 if skip_last else 1)
    for i in range(stop):
        s, s_next = sigmas[i], sigmas[i + 1]
        d = (x - denoise(x, s)) / s ** power
        x = x + sign * (s_next - s) * d
    return x


def heun(x, sigmas, seed, *, half=0.5, late=True):
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        d = (x - denoise(x, s)) / s
        if s_next == 0:
            x = x + (s_next - s) * d
            continue
        guess = x + (s_next - s) * d
        d_next = (guess - denoise(guess, s_next if late else s)) / s_next
        x = x + (s_next - s) * half * (d + d_next)
    return x


def dpmpp_2m(x, sigmas, seed, *, upside_down=False, plain_exp=False, stale=False):
    previous = None
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        denoised = denoise(x, s)
        if s_next == 0:
            x = denoised
            continue
        h = math.log(s) - math.log(s_next)
        estimate = denoised
        if previous is not None:
            r = previous[1] / h
            estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous[0]
        if previous is None or not stale:
            previous = (denoised, h)
        factor = -math.exp(-h) if plain_exp else math.expm1(-h)
        x = (s / s_next if upside_down else s_next / s) * x - factor * estimate
    return x


def euler_ancestral(x, sigmas, seed, *, noise_power=1, down_plus=False, noise_scale=1.0):
    rng = np.random.default_rng(seed)
    for i in range(len(sigmas) - 1):
        s, s_next = sigmas[i], sigmas[i + 1]
        up = min(s_next, math.sqrt(s_next ** 2 * (s ** 2 - s_next ** 2) / s ** 2))
        down = math.sqrt(s_next ** 2 + up ** 2) if down_plus else math.sqrt(s_next ** 2 - up ** 2)
        d = (x - denoise(x, s)) / s
        x = x + (down - s) * d
        if s_next > 0:
            x = x + noise_scale * rng.standard_normal(x.shape) * up ** noise_power
    return x


STEPS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)


@pytest.mark.parametrize("sampler, order", [(euler, 1), (heun, 2), (dpmpp_2m, 2)])
def test_correct_samplers_converge_at_their_orders(sampler, order):
    report = tweedie.conformance(sampler, PRIOR, steps=STEPS, count=512, order=order)
    assert report.conforms and report.deterministic and report.noise_floor == 0, report.verdict
    assert abs(report.order - order) < 0.25, report
    assert report.verdict.startswith("converges")


def test_a_stochastic_sampler_converges_to_its_noise_floor():
    report = tweedie.conformance(euler_ancestral, PRIOR, steps=(4, 8, 16, 32, 64, 128, 256), count=4096, order=1)
    assert not report.deterministic and report.noise_floor > 0
    assert report.conforms, report.verdict


# Each deliberately broken variant, with the order its correct form has.
BROKEN = {
    "euler, wrong sign of the step": (lambda x, s, k: euler(x, s, k, sign=-1.0), 1),
    "euler, σ² in place of σ in the slope": (lambda x, s, k: euler(x, s, k, power=2), 1),
    "euler, no division by σ": (lambda x, s, k: euler(x, s, k, power=0), 1),
    "euler, final step skipped": (lambda x, s, k: euler(x, s, k, skip_last=True), 1),
    "heun, trapezoid without the ½": (lambda x, s, k: heun(x, s, k, half=1.0), 2),
    "heun, correction denoised at the old σ": (lambda x, s, k: heun(x, s, k, late=False), 2),
    "dpmpp-2m, σ/σ' in place of σ'/σ": (lambda x, s, k: dpmpp_2m(x, s, k, upside_down=True), 2),
    "dpmpp-2m, exp in place of expm1": (lambda x, s, k: dpmpp_2m(x, s, k, plain_exp=True), 2),
    "dpmpp-2m, the first denoised kept as the previous one": (lambda x, s, k: dpmpp_2m(x, s, k, stale=True), 2),
    "euler ancestral, noise σ_up² in place of σ_up": (lambda x, s, k: euler_ancestral(x, s, k, noise_power=2), 1),
    "euler ancestral, σ_down = √(σ'² + σ_up²)": (lambda x, s, k: euler_ancestral(x, s, k, down_plus=True), 1),
    "euler ancestral, noise doubled": (lambda x, s, k: euler_ancestral(x, s, k, noise_scale=2.0), 1),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_every_broken_variant_is_flagged(name):
    sampler, order = BROKEN[name]
    report = tweedie.conformance(sampler, PRIOR, steps=STEPS, count=4096, order=order)
    assert not report.conforms, f"{name}: {report.verdict}"


def test_a_mixture_prior_reports_moment_errors():
    ring8 = tweedie.Model.builtin("ring8")
    oracle = tweedie.Oracle(ring8)

    def run(x, sigmas, seed):
        for s, s_next in zip(sigmas[:-1], sigmas[1:]):
            x = x + (s_next - s) * (x - oracle.denoise(x, alpha=1.0, sigma=float(s))) / s
        return x
    report = tweedie.conformance(run, ring8, steps=(8, 16, 32, 64), count=2048)
    assert np.all(np.isnan(report.kl))
    assert report.covariance_error[-1] < report.covariance_error[0]
    assert report.verdict.startswith("not judged") and not report.converges and math.isnan(report.order)


@pytest.mark.parametrize("call, error", [
    (lambda: tweedie.conformance("euler"), TweedieTypeError),
    (lambda: tweedie.conformance(euler, steps=[8]), TweedieError),
    (lambda: tweedie.conformance(euler, steps=[8, 4]), TweedieError),
    (lambda: tweedie.conformance(euler, count=3), TweedieError),
    (lambda: tweedie.conformance(euler, sigma_min=0.0), TweedieError),
    (lambda: tweedie.conformance(euler, model="ring8"), TweedieTypeError),
    (lambda: tweedie.conformance(lambda x, s, k: x[:, :1], steps=[2, 4]), TweedieError),
    (lambda: tweedie.conformance(lambda x, s, k: x * np.nan, steps=[2, 4]), TweedieError),
])
def test_bad_calls_raise_one_line(call, error):
    with pytest.raises(error) as raised:
        call()
    assert "\n" not in str(raised.value)


def test_cli_agrees_with_this_implementation(tmp_path):
    """`tweedie conformance` (Swift: its own start, its own Euler and Heun) against tweedie.conformance on the
    numpy samplers above: both are deterministic affine maps from a start of exactly matched moments, so the
    KL to q_ref must agree to rounding although the two starts differ."""
    import json
    import os
    import subprocess

    cli = os.environ.get("TWEEDIE_CLI")
    if not cli:
        pytest.skip("TWEEDIE_CLI is not set (make test-python sets it)")
    model = tmp_path / "prior.json"
    model.write_text(json.dumps(PRIOR.to_dict()))
    for name, run, order in (("euler", euler, 1), ("heun", heun, 2)):
        out = tmp_path / f"{name}.json"
        subprocess.run([cli, "conformance", "--model", str(model), "--sampler", name, "--steps", "4,8,16,32",
                        "--count", "256", "--order", str(order), "--out", str(out)], check=True, capture_output=True)
        swift = json.loads(out.read_text())
        here = tweedie.conformance(run, PRIOR, steps=[4, 8, 16, 32], count=256, order=order)
        np.testing.assert_allclose(swift["kl"], here.kl, rtol=1e-8)
        np.testing.assert_allclose(swift["kl_to_p0"], here.kl_to_p0, rtol=1e-8)
        assert swift["grid_floor"] == pytest.approx(here.grid_floor, rel=1e-10)
        assert swift["order"] == pytest.approx(here.order, rel=1e-8)
        assert swift["converges"] == here.converges and swift["conforms"] == here.conforms
