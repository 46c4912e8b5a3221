"""Tweedie: diffusion models with an exact oracle, from Python.

A thin front over the Swift library's C ABI::

    import tweedie
    model = tweedie.Model.builtin("ring8")
    tweedie.Oracle(model).denoise([[4.0, 0.0]], alpha=0.9, sigma=0.4)
    samples = tweedie.sample(model, sampler="heun", schedule="vp-linear", steps=18, count=2000, seed=1)
    tweedie.evaluate(samples, model, seed=1)["sliced_w2"]
    data = tweedie.Model.from_dataset(images, scale="edm")       # images (N, H, W) uint8: a data set
    tweedie.PrunedDenoiser(data, tolerance=1e-8).denoise(data.means[:4], alpha=1.0, sigma=0.05).error_bound

Every error is a :class:`TweedieError` (a ``ValueError``) with the library's one-line message; an
argument of the wrong type raises its subclass :class:`TweedieTypeError` (also a ``TypeError``).
"""
from ._charts import plot_samples
from ._conformance import Conformance, conformance, standard_conformance_prior
from ._datasets import CertifiedDenoising, PrunedDenoiser, PruningCertificate, TruncationStudy, truncation_study
from ._errors import TweedieError, TweedieTypeError
from ._evaluation import Likelihood, Measurement, evaluate, likelihood
from ._grids import OptimalGrid, grid_kl, optimal_grid
from ._inverse import Posterior, posterior
from ._models import Model
from ._molecules import (Conformers, Equivariance, HarmonicOracle, HarmonicResult, Superposition, equivariance,
                         read_molecules, superpose, write_molecules)
from ._oracle import Oracle, OracleResult, Schedule
from ._sampling import GUIDANCE_METHODS, SamplerKL, SamplerPathKL, sample, sampler_kl, sampler_path_kl

__all__ = ["TweedieError", "TweedieTypeError", "Model", "Oracle", "OracleResult", "Schedule", "Measurement",
           "Likelihood", "Posterior", "sample", "evaluate", "likelihood", "posterior", "GUIDANCE_METHODS",
           "SamplerKL", "SamplerPathKL", "sampler_kl", "sampler_path_kl", "plot_samples", "PrunedDenoiser",
           "CertifiedDenoising", "PruningCertificate", "truncation_study", "TruncationStudy",
           "grid_kl", "optimal_grid", "OptimalGrid", "conformance", "Conformance", "standard_conformance_prior",
           "Conformers", "read_molecules", "write_molecules", "Superposition", "superpose", "Equivariance",
           "equivariance", "HarmonicOracle", "HarmonicResult"]
__version__ = "0.1.0"
