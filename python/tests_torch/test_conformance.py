"""The conformance check on k-diffusion's own samplers, run on the exact denoiser through
KDiffusionDenoiser: the deterministic ones converge at their known orders (Euler 1; Heun, DPM-2
and DPM-Solver++(2M) 2), the stochastic ones converge (their KL reaches the sample-noise floor)."""
import functools

import pytest

torch = pytest.importorskip("torch")
import tweedie  # noqa: E402
import tweedie.torch  # noqa: E402

torch.set_default_dtype(torch.float64)
STEPS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)


def sampling():
    try:
        return tweedie.torch.k_diffusion_sampling()
    except ImportError as error:
        pytest.skip(str(error))


@pytest.mark.parametrize("name, order", [("sample_euler", 1), ("sample_heun", 2), ("sample_dpm_2", 2),
                                         ("sample_dpmpp_2m", 2)])
def test_k_diffusion_deterministic_samplers_have_their_known_orders(name, order):
    report = tweedie.torch.conformance(getattr(sampling(), name), steps=STEPS, count=512, order=order)
    assert report.deterministic and report.conforms, report.verdict
    assert abs(report.order - order) < 0.25, report


@pytest.mark.parametrize("name, options", [("sample_euler_ancestral", {}), ("sample_dpmpp_2m_sde", {"eta": 1.0}),
                                           ("sample_dpmpp_sde", {"eta": 1.0})])
def test_k_diffusion_stochastic_samplers_converge(name, options):
    sample = functools.partial(getattr(sampling(), name), **options)
    report = tweedie.torch.conformance(sample, steps=(4, 8, 16, 32, 64), count=4096)
    assert not report.deterministic and report.converges, report.verdict


def test_a_sampler_that_is_not_callable_is_refused():
    with pytest.raises(tweedie.TweedieTypeError):
        tweedie.torch.conformance("sample_euler")
