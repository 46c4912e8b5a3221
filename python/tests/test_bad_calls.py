"""The Python door's hostile corpus: bad calls to every public entry point that takes arrays,
numbers, strings or callables.

Each case of ``CORPUS`` is (id, call, error, culprit), as the command line's corpus
(Tests/TweedieCLITests/Hostile/cases.json) pairs a bad invocation with its culprit: the call must
raise exactly ``error`` — :class:`~tweedie.TweedieTypeError` for an argument of the wrong type,
:class:`~tweedie.TweedieError` (not a TypeError) for a bad value — with a one-line message matching
``culprit``, a regex that names the argument at fault; it must raise within ``QUICK`` seconds
(huge counts meet a limit, they are not attempted) and without a warning (numpy's ComplexWarning is
a misread). The cases extend test_api.py's wrong types and test_tweedie.py's bad input without
repeating them. One test runs the whole corpus in a fresh interpreter, which must survive it and
still compute; ``WELL_FORMED`` holds the calls that look odd but are not bad (non-contiguous,
read-only, Fortran-order, big-endian, float32 or integer arrays, a network's float32 or list output):
they give the results of their plain float64 form, bit for bit.

Bad calls that still end the interpreter are not in the corpus (a crash would end the test run):
the library has no limit there yet. With ``m = tweedie.Model.builtin("ring8")``:

* ``tweedie.sampler_kl(m, sampler="euler", schedule="edm", steps=5, count=10**12)`` aborts
  ("failed to allocate 16000000000032 bytes"); ``count=2**62`` traps; ``count=10**9`` allocates
  until the kernel's OOM killer ends the process (no memory budget on ``count``).
* ``tweedie.posterior(m, operator=np.zeros((200_000, 2)), y=np.zeros(200_000), noise_std=1.0)``
  aborts (320 GB for the d_y × d_y innovation covariance), as does guided ``tweedie.sample`` with
  the same observation; d_y = 20 000 runs for minutes.
* For ``w = Model.from_dict({"weights": [1.0], "means": np.zeros((1, 100_000)), "covariance_type":
  "spherical", "covariances": [1.0]})``, ``tweedie.posterior(w, operator=np.zeros((1, 100_000)),
  y=[0.0], noise_std=1.0)`` and ``tweedie.plot_samples(w, np.zeros((2, 100_000)), "w.svg")`` abort
  (80 GB for a D × D matrix).
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import numpy as np
import pytest

import tweedie
from tweedie import TweedieError, TweedieTypeError

#: Seconds within which every bad call must raise.
QUICK = 10.0
#: A file no case may write: its folder does not exist.
NOWHERE = "/nonexistent-tweedie-folder/never-written.svg"


class Case(NamedTuple):
    id: str
    call: Callable[[], Any]
    error: type
    culprit: str


@functools.lru_cache(maxsize=None)
def ring8() -> tweedie.Model:
    return tweedie.Model.builtin("ring8")


@functools.lru_cache(maxsize=None)
def oracle() -> tweedie.Oracle:
    return tweedie.Oracle(ring8())


@functools.lru_cache(maxsize=None)
def chain16() -> tweedie.Model:
    return tweedie.Model.builtin("chain16")


@functools.lru_cache(maxsize=None)
def spiral() -> tweedie.Model:
    """A data set (Dirac components, Σ = I): what pruning and the truncation study take."""
    return tweedie.Model.builtin("spiral-dirac")


@functools.lru_cache(maxsize=None)
def pruned() -> tweedie.PrunedDenoiser:
    return tweedie.PrunedDenoiser(spiral(), 1e-8)


def closed_denoiser() -> tweedie.PrunedDenoiser:
    denoiser = tweedie.PrunedDenoiser(spiral(), 1e-8)
    denoiser.close()
    return denoiser


def dirac_with_noise() -> tweedie.Model:
    """A data set whose noise is not the identity: pruning and the study need Σ = I."""
    return tweedie.Model.from_dict({"weights": [0.5, 0.5], "means": [[0.0, 0.0], [1.0, 1.0]], "covariance_type": "dirac",
                                    "noise": {"type": "diagonal", "covariance": [1.0, 2.0]}})


def study(**changes: Any) -> tweedie.TruncationStudy:
    """``tweedie.truncation_study`` with a small default run on a data set."""
    return tweedie.truncation_study(changes.pop("model", spiral()), **{**dict(k=[10], count=4, steps=3), **changes})


@functools.lru_cache(maxsize=None)
def wide_dirac() -> tweedie.Model:
    """A data set of one point in D = 2^17: its posterior covariances for 8 points take 1 TB."""
    return tweedie.Model.from_dict({"weights": [1.0], "means": np.zeros((1, 1 << 17)), "covariance_type": "dirac"})


@functools.lru_cache(maxsize=None)
def fitted_mixture() -> Any:
    with warnings.catch_warnings():  # scikit-learn's own warnings are not the cases'
        warnings.simplefilter("ignore")
        from sklearn.mixture import GaussianMixture
        return GaussianMixture(2, random_state=0).fit(np.random.default_rng(0).normal(size=(60, 2)))


X = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])
GAUSSIAN = {"weights": [1.0], "means": [[0.0, 1.0]], "covariance_type": "full",
            "covariances": [[[1.0, 0.0], [0.0, 2.0]]]}
RUN = dict(sampler="euler", schedule="edm", steps=3, count=3)
OBSERVATION = dict(operator=[[1.0, 0.0]], y=[1.0], noise_std=0.5)


def gaussian(**changes: Any) -> dict:
    return {**GAUSSIAN, **changes}


def run(model: Any, **changes: Any) -> np.ndarray:
    """``tweedie.sample`` with a small default run."""
    return tweedie.sample(model, **{**RUN, **changes})


def network(output: Callable[[np.ndarray], Any], **changes: Any) -> np.ndarray:
    """A small run driven by a Python network f(x, alpha, sigma) = output(x), in D = 2."""
    return tweedie.sample(lambda x, alpha, sigma: output(x), **{**RUN, "dimension": 2, **changes})


def nested(depth: int) -> list:
    value: list = [1.0]
    for _ in range(depth):
        value = [value]
    return value


def broken_network(x: np.ndarray, alpha: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    raise RuntimeError("the network is broken")


def two_line_network(x: np.ndarray, alpha: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    raise ValueError("first line\nsecond line")


def k_diffusion_network(x: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """k-diffusion's signature, model(x, sigma): one argument short for tweedie.sample."""
    return x


def out_of_range_network(x: np.ndarray, alpha: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """A network whose own call to the oracle fails: its TweedieError comes back as it is."""
    return oracle().denoise(x, alpha=alpha, sigma=-sigma)


@dataclass
class DiffusersOutput:
    """What a diffusers UNet returns: the array is its ``sample``, not the object itself."""
    sample: np.ndarray


def nan_at(x: np.ndarray, index: int) -> np.ndarray:
    out = x.copy()
    out.flat[index] = np.nan
    return out


T = TweedieTypeError
E = TweedieError
CORPUS = [
    # --- Wrong dtypes: refused as TweedieTypeError, never converted (complex would lose its
    # imaginary part, bool and strings would read as numbers).
    Case("log_density-complex", lambda: ring8().log_density(X + 1j), T, r"^x: expected numbers, got dtype complex128$"),
    Case("log_density-object", lambda: ring8().log_density(X.astype(object)), T, r"^x: .*dtype object$"),
    Case("denoise-datetime", lambda: oracle().denoise(np.array([["2020-01-01", "2020-01-02"]], dtype="datetime64[D]"),
                                                      alpha=1.0, sigma=1.0), T, r"^x: .*datetime64"),
    Case("denoise-structured", lambda: oracle().denoise(np.zeros(3, dtype=[("a", "f8"), ("b", "f8")]), alpha=1.0,
                                                        sigma=1.0), T, r"^x: expected numbers"),
    Case("denoise-bytes", lambda: oracle().denoise(np.array([[b"1", b"2"]]), alpha=1.0, sigma=1.0), T, r"^x: .*\|S1"),
    Case("denoise-none", lambda: oracle().denoise(None, alpha=1.0, sigma=1.0), T, r"^x: .*dtype object"),
    Case("evaluate-alpha-complex", lambda: oracle().evaluate(X, alpha=1 + 0j, sigma=1.0), T, r"^alpha: .*complex128"),
    Case("evaluate-sigma-bool", lambda: oracle().evaluate(X, alpha=1.0, sigma=True), T, r"^sigma: .*dtype bool"),
    Case("evaluate-sigma-bool-array", lambda: oracle().evaluate(X, alpha=1.0, sigma=np.ones(3, dtype=bool)), T,
         r"^sigma: .*dtype bool"),
    Case("evaluate-alpha-object", lambda: oracle().evaluate(X, alpha=np.ones(3, dtype=object), sigma=1.0), T,
         r"^alpha: .*dtype object"),
    Case("denoise-t-complex", lambda: oracle().denoise(X, t=0.3 + 0j, schedule="edm"), T, r"^t: .*complex128"),
    Case("denoise-t-bool", lambda: oracle().denoise(X, t=True, schedule="edm"), T, r"^t: .*dtype bool"),
    Case("schedule-alpha-complex", lambda: tweedie.Schedule("edm").alpha(np.array([1 + 1j])), T, r"^t: .*complex128"),
    Case("schedule-sigma-object", lambda: tweedie.Schedule("edm").sigma(np.ones(1, dtype=object)), T, r"^t: .*object"),
    Case("schedule-log_snr-bool", lambda: tweedie.Schedule("edm").log_snr(np.array([True])), T, r"^t: .*bool"),
    Case("sample-init-complex", lambda: run(ring8(), init=np.ones((3, 2)) + 1j), T, r"^init: .*complex128"),
    Case("sample-init-bool", lambda: run(ring8(), init=np.ones((3, 2), dtype=bool)), T, r"^init: .*bool"),
    Case("sample-operator-complex", lambda: run(ring8(), guidance="dps", operator=[[1 + 1j, 0]], y=[1.0], noise_std=0.5),
         T, r"^operator: .*complex128"),
    Case("sample-y-object", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0]], y=np.ones(1, dtype=object),
                                        noise_std=0.5), T, r"^y: .*object"),
    Case("sample-noise_covariance-bool", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0]], y=[1.0],
                                                     noise_covariance=[[True]]), T, r"^noise_covariance: .*bool"),
    Case("sample-noise_std-complex", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0]], y=[1.0], noise_std=1j),
         T, r"^noise_std: expected a number"),
    Case("sample-zeta-string", lambda: run(ring8(), guidance="dps", zeta="1", **OBSERVATION), T, r"^zeta: "),
    Case("sample-steps-string", lambda: run(ring8(), steps="3"), T, r"^steps: expected an integer, got '3'$"),
    Case("sample-steps-float", lambda: run(ring8(), steps=3.5), T, r"^steps: expected an integer, got 3.5$"),
    Case("sample-steps-bool", lambda: run(ring8(), steps=True), T, r"^steps: expected an integer, got True$"),
    Case("sample-count-bool", lambda: run(ring8(), count=True), T, r"^count: expected an integer"),
    Case("sample-count-numpy-float", lambda: run(ring8(), count=np.float64(3)), T, r"^count: expected an integer"),
    Case("sample-batch_size-float", lambda: run(ring8(), batch_size=2.5), T, r"^batch_size: expected an integer"),
    Case("sample-dimension-float", lambda: network(lambda x: x, dimension=2.0), T, r"^dimension: expected an integer"),
    Case("sample-prediction-int", lambda: network(lambda x: x, prediction=1), T, r"^prediction: expected a string"),
    Case("sample-sampler-int", lambda: run(ring8(), sampler=1), T, r"^sampler: expected a string"),
    Case("sample-precision-int", lambda: run(ring8(), precision=64), T, r"^precision: expected a string"),
    Case("sample-grid-bytes", lambda: run(ring8(), grid=b"karras"), T, r"^grid: expected a string"),
    Case("sample-guidance-list", lambda: run(ring8(), guidance=["dps"], **OBSERVATION), T, r"^guidance: expected a string"),
    Case("sample-eta-array", lambda: run(ring8(), sampler="ddim", eta=np.array([0.5, 1.0])), E, r"\beta\b"),
    Case("posterior-operator-complex", lambda: tweedie.posterior(ring8(), operator=[[1j, 0]], y=[1.0], noise_std=0.5),
         T, r"^operator: .*complex128"),
    Case("posterior-operator-bool", lambda: tweedie.posterior(ring8(), operator=[[True, False]], y=[1.0], noise_std=0.5),
         T, r"^operator: .*bool"),
    Case("posterior-y-complex", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0]], y=[1j], noise_std=0.5), T,
         r"^y: .*complex128"),
    Case("evaluate-samples-object", lambda: tweedie.evaluate(X.astype(object), ring8()), T, r"^samples: .*object"),
    Case("evaluate-samples-complex", lambda: tweedie.evaluate(X + 0j, ring8()), T, r"^samples: .*complex128"),
    Case("evaluate-projections-bool", lambda: tweedie.evaluate(X, ring8(), projections=True), T, r"^projections: "),
    Case("likelihood-x-complex", lambda: tweedie.likelihood(X + 0j, ring8(), schedule="edm"), T, r"^x: .*complex128"),
    Case("likelihood-t_min-string", lambda: tweedie.likelihood(X, ring8(), schedule="edm", t_min="0.1"), T, r"^t_min: "),
    Case("likelihood-atol-complex", lambda: tweedie.likelihood(X, ring8(), schedule="edm", atol=1j), T, r"^atol: "),
    Case("likelihood-prior-none", lambda: tweedie.likelihood(X, ring8(), schedule="edm", prior=None), T, r"^prior: "),
    Case("likelihood-seed-float", lambda: tweedie.likelihood(X, ring8(), schedule="edm", seed=1.0), T, r"^seed: "),
    Case("plot_samples-complex", lambda: tweedie.plot_samples(ring8(), X + 0j, NOWHERE), T, r"^samples: .*complex128"),
    Case("plot_samples-bool", lambda: tweedie.plot_samples(ring8(), X > 0, NOWHERE), T, r"^samples: .*bool"),
    Case("plot_samples-title-int", lambda: tweedie.plot_samples(ring8(), X, NOWHERE, title=3), T, r"^title: "),
    Case("plot_samples-path-int", lambda: tweedie.plot_samples(ring8(), X, 3), T, r"^path: "),
    Case("from_dict-means-complex", lambda: tweedie.Model.from_dict(gaussian(means=[[0.0, 1j]])), T,
         r"^means\[0\]\[1\]: expected a number"),
    Case("from_dict-weights-bool", lambda: tweedie.Model.from_dict(gaussian(weights=[True])), E, r"^weights\[0\]: "),
    Case("from_dict-weights-string", lambda: tweedie.Model.from_dict(gaussian(weights="1")), E, r"^weights: "),
    Case("from_dict-covariance_type-bytes", lambda: tweedie.Model.from_dict(gaussian(covariance_type=b"full")), T,
         r"^covariance_type: "),
    Case("from_dict-weights-set", lambda: tweedie.Model.from_dict(gaussian(weights={1.0})), T, r"^weights: "),
    Case("from_sklearn-noise-complex", lambda: tweedie.Model.from_sklearn(fitted_mixture(), noise=[1j, 1.0]), T,
         r"^noise: .*complex128"),
    Case("from_sklearn-noise-strings", lambda: tweedie.Model.from_sklearn(fitted_mixture(), noise=["a", "b"]), T,
         r"^noise: expected numbers"),
    Case("from_sklearn-shape-int", lambda: tweedie.Model.from_sklearn(fitted_mixture(), shape=2), T, r"^shape: "),
    Case("sampler_kl-steps-bool", lambda: tweedie.sampler_kl(ring8(), sampler="euler", schedule="edm", steps=True,
                                                             count=10), T, r"^steps: "),
    Case("sampler_kl-eta-array", lambda: tweedie.sampler_kl(ring8(), sampler="ddim", schedule="edm", steps=5, count=10,
                                                            eta=np.array([0.0, 1.0])), E, r"^eta: "),
    # A callable where a Model is needed.
    Case("likelihood-callable-model", lambda: tweedie.likelihood(X, lambda x, a, s: x, schedule="edm"), T,
         r"^likelihood: expected a tweedie.Model"),
    Case("sampler_kl-callable-model", lambda: tweedie.sampler_kl(lambda x, a, s: x, sampler="euler", schedule="edm",
                                                                 steps=5, count=10), T, r"^sampler_kl: "),
    Case("sampler_path_kl-callable-model", lambda: tweedie.sampler_path_kl(lambda x, a, s: x, sampler="ddpm",
                                                                           schedule="edm", steps=5, count=10), T,
         r"^sampler_path_kl: "),
    # --- Strings the C ABI would cut at a NUL, or cannot encode.
    Case("builtin-nul", lambda: tweedie.Model.builtin("ring8\0x"), E, r"^name: embedded NUL"),
    Case("builtin-surrogate", lambda: tweedie.Model.builtin("\udc80"), E, r"^name: not valid Unicode"),
    Case("load-nul", lambda: tweedie.Model.load("/tmp/model.json\0.txt"), E, r"^path: embedded NUL"),
    Case("save-nul", lambda: ring8().save(os.path.join(tempfile.gettempdir(), "never.json\0.txt")), E,
         r"^path: embedded NUL"),
    Case("schedule-nul", lambda: tweedie.Schedule("edm\0garbage"), E, r"^schedule: embedded NUL"),
    Case("oracle-precision-nul", lambda: tweedie.Oracle(ring8(), precision="float64\0x"), E, r"^precision: embedded NUL"),
    Case("sampler_kl-sampler-nul", lambda: tweedie.sampler_kl(ring8(), sampler="euler\0x", schedule="edm", steps=2,
                                                              count=2), E, r"^sampler: embedded NUL"),
    Case("likelihood-prior-nul", lambda: tweedie.likelihood(X, ring8(), schedule="edm", prior="marginal\0"), E,
         r"^prior: embedded NUL"),
    Case("plot_samples-title-nul", lambda: tweedie.plot_samples(ring8(), X, NOWHERE, title="a\0b"), E,
         r"^title: embedded NUL"),
    Case("plot_samples-path-nul", lambda: tweedie.plot_samples(ring8(), X, NOWHERE + "\0.txt"), E, r"^path: embedded NUL"),
    Case("sample-sampler-surrogate", lambda: run(ring8(), sampler="euler\udc80"), E, r"^sampler: not valid Unicode"),
    Case("schedule-empty", lambda: tweedie.Schedule(""), E, r"schedule ''"),
    # Sampler options written name:option=value: a value holding ':' would read as more options.
    Case("sampler_kl-option-injection", lambda: tweedie.sampler_kl(ring8(), sampler="heun", schedule="edm", steps=5,
                                                                   count=10, s_noise="1:s-churn=5"), E, r"^s_noise: "),
    Case("sampler_path_kl-option-name-injection", lambda: tweedie.sampler_path_kl(
        ring8(), sampler="ddpm", schedule="edm", steps=5, count=10, **{"eta:s_churn": 1}), E, r"^eta:s_churn: "),
    # --- Not arrays at all.
    Case("denoise-ragged", lambda: oracle().denoise([[1.0, 2.0], [3.0]], alpha=1.0, sigma=1.0), E,
         r"^x: not an array of numbers"),
    Case("posterior-y-ragged", lambda: tweedie.posterior(ring8(), operator=np.eye(2), y=[[1.0], [2.0, 3.0]],
                                                         noise_std=1.0), E, r"^y: not an array of numbers"),
    Case("denoise-scalar", lambda: oracle().denoise(1.0, alpha=1.0, sigma=1.0), E, r"^x: expected points \(B, D\)"),
    Case("from_dict-nested-too-deeply", lambda: tweedie.Model.from_dict(gaussian(weights=nested(100_000))), E,
         r"^model: .*nested"),
    Case("from_dict-unknown-field", lambda: tweedie.Model.from_dict(gaussian(colour="red")), E, r"'colour'"),
    Case("from_dict-integer-key", lambda: tweedie.Model.from_dict({**GAUSSIAN, 1: 2}), E, r"'1'"),
    # --- NaN and infinity, in points, levels, observations, models, options and tolerances.
    Case("log_density-inf", lambda: ring8().log_density([[np.inf, 0.0]]), E, r"^x: point 0, coordinate 0 is inf$"),
    Case("log_density-chain16-nan", lambda: chain16().log_density(np.full((2, 16, 3), np.nan)), E, r"^x: .*\bnan\b"),
    Case("denoise-alpha-nan", lambda: oracle().denoise(X, alpha=float("nan"), sigma=1.0), E, r"^alpha: .*\bnan\b"),
    Case("denoise-sigma-inf", lambda: oracle().denoise(X, alpha=1.0, sigma=float("inf")), E, r"^sigma: .*\binf\b"),
    Case("denoise-alpha-array-nan", lambda: oracle().denoise(X, alpha=np.array([1.0, np.nan, 1.0]), sigma=1.0), E,
         r"^alpha: .*\bnan\b"),
    Case("evaluate-sigma-array-inf", lambda: oracle().evaluate(X, alpha=1.0, sigma=np.array([0.5, 0.5, np.inf])), E,
         r"^sigma: .*\binf\b"),
    Case("evaluate-alpha-negative", lambda: oracle().evaluate(X, alpha=-1.0, sigma=1.0), E, r"^alpha: "),
    Case("evaluate-sigma-zero", lambda: oracle().evaluate(X, alpha=1.0, sigma=0.0), E, r"^sigma: "),
    Case("denoise-sigma-underflows", lambda: oracle().denoise(X, alpha=1.0, sigma=1e-300), E, r"^sigma: "),
    Case("denoise-alpha-overflows", lambda: oracle().denoise(X, alpha=1e300, sigma=1e300), E, r"^alpha: "),
    Case("denoise-x-beyond-range", lambda: oracle().denoise([[1e300, 1e300]], alpha=1e-300, sigma=1.0), E,
         r"^x: point 0"),
    Case("denoise-t-nan", lambda: oracle().denoise(X, t=float("nan"), schedule="vp-linear"), E, r"^t = nan\b"),
    Case("denoise-t-inf", lambda: oracle().denoise(X, t=np.inf, schedule="edm"), E, r"^t = inf\b"),
    Case("evaluate-t-array-nan", lambda: oracle().evaluate(X, t=[0.3, np.nan, 0.3], schedule="vp-cosine"), E,
         r"^t = nan\b"),
    Case("evaluate-covariance-x-nan", lambda: oracle().evaluate([[np.nan, 0.0]], alpha=1.0, sigma=1.0, covariance=True,
                                                                components=True), E, r"^x: point 0, coordinate 0"),
    Case("schedule-alpha-nan", lambda: tweedie.Schedule("vp-linear").alpha([0.5, np.nan]), E, r"^t = nan\b"),
    Case("schedule-sigma-inf", lambda: tweedie.Schedule("edm").sigma(np.inf), E, r"^t = inf\b"),
    Case("schedule-sigma_derivative-negative", lambda: tweedie.Schedule("vp-linear").sigma_derivative(-0.5), E,
         r"^t = -0.5\b"),
    Case("sample-init-nan", lambda: run(ring8(), init=np.full((3, 2), np.nan)), E, r"^init: point 0, coordinate 0"),
    Case("sample-init-inf", lambda: run(ring8(), init=[[0, 0], [0, np.inf], [0, 0]]), E, r"^init: point 1, coordinate 1"),
    Case("sample-operator-nan", lambda: run(ring8(), guidance="dps", operator=[[np.nan, 0.0]], y=[1.0], noise_std=0.5),
         E, r"^operator: .*\bnan\b"),
    Case("sample-y-inf", lambda: run(ring8(), guidance="pigdm", operator=[[1.0, 0.0]], y=[np.inf], noise_std=0.5), E,
         r"^y: .*\binf\b"),
    Case("sample-noise_std-nan", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0.0]], y=[1.0],
                                             noise_std=float("nan")), E, r"^noise_std: .*\bnan\b"),
    Case("sample-noise_std-inf", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0.0]], y=[1.0],
                                             noise_std=float("inf")), E, r"^noise_std: .*\binf\b"),
    Case("sample-noise_covariance-nan", lambda: run(ring8(), guidance="tmpd", operator=[[1.0, 0.0]], y=[1.0],
                                                    noise_covariance=[[np.nan]]), E, r"^noise_covariance: .*\bnan\b"),
    Case("sample-zeta-inf", lambda: run(ring8(), guidance="dps", zeta=float("inf"), **OBSERVATION), E, r"^zeta\b.*\binf"),
    Case("sample-eta-nan", lambda: run(ring8(), sampler="ddim", eta=float("nan")), E, r"^eta\b.*\bnan"),
    Case("sample-s_churn-inf", lambda: run(ring8(), sampler="heun", s_churn=float("inf")), E, r"^s_churn\b.*\binf"),
    Case("sample-rtol-nan", lambda: run(ring8(), sampler="rk45", steps=None, rtol=float("nan")), E, r"^rtol\b.*\bnan"),
    Case("sample-atol-negative-inf", lambda: run(ring8(), sampler="rk45", steps=None, atol=-np.inf), E, r"^atol\b"),
    Case("sample-variance-nan", lambda: run(ring8(), sampler="ddpm", variance=float("nan")), E, r"^variance\b"),
    Case("posterior-operator-inf", lambda: tweedie.posterior(ring8(), operator=[[np.inf, 0.0]], y=[1.0], noise_std=0.5),
         E, r"^operator: .*\binf\b"),
    Case("posterior-noise_std-nan", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1.0],
                                                              noise_std=float("nan")), E, r"^noise_std: "),
    Case("posterior-noise_std-inf", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1.0], noise_std=np.inf),
         E, r"^noise_std: "),
    Case("posterior-noise_std-negative", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1.0],
                                                                   noise_std=-0.5), E, r"^noise_std: "),
    Case("posterior-noise_std-underflows", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1.0],
                                                                     noise_std=1e-200), E, r"^noise_std: "),
    Case("posterior-noise_covariance-inf", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1.0],
                                                                     noise_covariance=[[np.inf]]), E,
         r"^noise_covariance: .*\binf\b"),
    Case("posterior-noise_covariance-asymmetric", lambda: tweedie.posterior(
        ring8(), operator=np.eye(2), y=[1.0, 1.0], noise_covariance=[[1.0, 0.5], [-0.5, 1.0]]), E,
         r"^noise_covariance: .*symmetric"),
    Case("posterior-noise_covariance-singular", lambda: tweedie.posterior(
        ring8(), operator=np.eye(2), y=[1.0, 1.0], noise_covariance=[[1.0, 1.0], [1.0, 1.0]]), E,
         r"^noise_covariance: .*positive definite"),
    Case("posterior-noise_covariance-zero", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1.0],
                                                                      noise_covariance=[[0.0]]), E,
         r"^noise_covariance: "),
    Case("posterior-y-implausible", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1e300], noise_std=1.0),
         E, r"^y: "),
    Case("evaluate-samples-nan", lambda: tweedie.evaluate([[np.nan, 0.0]] * 4, ring8()), E, r"^samples: .*\bnan\b"),
    Case("evaluate-samples-inf", lambda: tweedie.evaluate([[np.inf, 0.0]] * 4, ring8()), E, r"^samples: .*\binf\b"),
    Case("likelihood-x-nan", lambda: tweedie.likelihood([[np.nan, 0.0]], ring8(), schedule="edm"), E,
         r"^x: point 0, coordinate 0 is nan$"),
    Case("likelihood-x-inf", lambda: tweedie.likelihood([[0.0, -np.inf]], ring8(), schedule="edm"), E,
         r"^x: point 0, coordinate 1 is -inf$"),
    Case("likelihood-x-beyond-range", lambda: tweedie.likelihood([[1e300, 0.0]], ring8(), schedule="edm"), E,
         r"^x: point 0"),
    Case("likelihood-rtol-nan", lambda: tweedie.likelihood(X, ring8(), schedule="edm", rtol=float("nan")), E,
         r"^rtol: .*\bnan\b"),
    Case("likelihood-atol-inf", lambda: tweedie.likelihood(X, ring8(), schedule="edm", atol=float("inf")), E,
         r"^atol: .*\binf\b"),
    Case("likelihood-rtol-negative", lambda: tweedie.likelihood(X, ring8(), schedule="edm", rtol=-1.0), E, r"^rtol: "),
    Case("likelihood-tolerances-underflow", lambda: tweedie.likelihood([[1.0, 0.0]], ring8(), schedule="edm",
                                                                       rtol=1e-300, atol=1e-300), E,
         r"^x: point 0: .*tolerances"),
    Case("likelihood-t_min-nan", lambda: tweedie.likelihood(X, ring8(), schedule="edm", t_min=float("nan")), E,
         r"^t_min: .*\bnan\b"),
    Case("likelihood-t_max-nan", lambda: tweedie.likelihood(X, ring8(), schedule="edm", t_max=np.nan), E,
         r"^t_max: .*\bnan\b"),
    Case("likelihood-t_max-inf", lambda: tweedie.likelihood(X, ring8(), schedule="edm", t_max=np.inf), E,
         r"^t_max: .*\binf\b"),
    Case("likelihood-t_min-negative", lambda: tweedie.likelihood(X, ring8(), schedule="edm", t_min=-1.0), E, r"^t_min: "),
    Case("likelihood-t_min-above-t_max", lambda: tweedie.likelihood(X, ring8(), schedule="edm", t_min=10.0, t_max=1.0),
         E, r"^t_min: "),
    Case("plot_samples-nan", lambda: tweedie.plot_samples(ring8(), [[np.nan, 0.0]], NOWHERE), E,
         r"^samples: point 0, coordinate 0 is nan$"),
    Case("plot_samples-inf", lambda: tweedie.plot_samples(ring8(), [[np.inf, 0.0]], NOWHERE), E,
         r"^samples: point 0, coordinate 0 is inf$"),
    Case("from_dict-weights-nan", lambda: tweedie.Model.from_dict(gaussian(weights=[np.nan])), E,
         r"^weights\[0\]: expected a finite number, got nan$"),
    Case("from_dict-means-inf", lambda: tweedie.Model.from_dict(gaussian(means=[[np.inf, 0.0]])), E,
         r"^means\[0\]\[0\]: .*\binf$"),
    Case("from_dict-covariances-nan", lambda: tweedie.Model.from_dict(gaussian(covariances=[[[np.nan, 0.0], [0.0, 1.0]]])),
         E, r"^covariances\[0\]\[0\]\[0\]: "),
    Case("from_dict-noise-nan", lambda: tweedie.Model.from_dict(gaussian(noise={"type": "diagonal",
                                                                                "covariance": [np.nan, 1.0]})), E,
         r"^noise\.covariance\[0\]: "),
    Case("from_dict-noise-full-inf", lambda: tweedie.Model.from_dict(gaussian(noise={"type": "full", "covariance":
                                                                                     [[np.inf, 0], [0, 1]]})), E,
         r"^noise\.covariance\[0\]\[0\]: "),
    Case("from_dict-large-means-nan", lambda: tweedie.Model.from_dict(
        {"weights": np.full(2, 0.5), "means": np.full((2, 1 << 19), np.nan), "covariance_type": "dirac"}), E,
         r"^means: .*\bnan\b"),
    Case("from_dict-large-noise-inf", lambda: tweedie.Model.from_dict(
        {"weights": np.full(2, 0.5), "means": np.zeros((2, 1 << 19)), "covariance_type": "dirac",
         "noise": {"type": "diagonal", "covariance": np.full(1 << 19, np.inf)}}), E, r"^noise.*\binf\b"),
    Case("from_dict-large-means-complex", lambda: tweedie.Model.from_dict(
        {"weights": np.full(2, 0.5), "means": np.zeros((2, 1 << 19), dtype=complex), "covariance_type": "dirac"}), T,
         r"^means\[0\]\[0\]: expected a number"),
    Case("from_dict-large-weights-string", lambda: tweedie.Model.from_dict(
        {"weights": "uniform", "means": np.zeros((2, 1 << 19)), "covariance_type": "dirac"}), E, r"^weights: "),
    Case("from_sklearn-noise-nan", lambda: tweedie.Model.from_sklearn(fitted_mixture(), noise=[np.nan, 1.0]), E,
         r"^noise\.covariance\[0\]: "),
    Case("sampler_kl-eta-nan", lambda: tweedie.sampler_kl(ring8(), sampler="ddim", schedule="edm", steps=5, count=10,
                                                          eta=float("nan")), E, r"^eta: .*\bnan\b"),
    Case("sampler_path_kl-eta-inf", lambda: tweedie.sampler_path_kl(ring8(), sampler="ddim", schedule="edm", steps=5,
                                                                    count=10, eta=float("inf")), E, r"^eta: .*\binf\b"),
    # --- Shapes that disagree: wrong D, wrong number of rows, 3-D where 2-D is needed, points of the
    # wrong shape (a transposed (B, 3, 16) for chain16's (B, 16, 3) holds 48 numbers too).
    Case("log_density-wrong-D", lambda: ring8().log_density(np.ones((3, 3))), E, r"^x: points have 3 coordinates"),
    Case("log_density-chain16-45", lambda: chain16().log_density(np.ones((2, 3, 15))), E,
         r"^x: points have 45 coordinates, the model has 48$"),
    Case("log_density-chain16-transposed", lambda: chain16().log_density(np.ones((2, 3, 16))), E,
         r"^x: points of shape \(3, 16\), the model's have shape \(16, 3\)$"),
    Case("denoise-chain16-transposed", lambda: tweedie.Oracle(chain16()).denoise(np.ones((2, 3, 16)), alpha=1.0,
                                                                                 sigma=1.0), E, r"^x: points of shape"),
    Case("denoise-3d-wrong-D", lambda: oracle().denoise(np.ones((3, 2, 2)), alpha=1.0, sigma=1.0), E,
         r"^x: points have 4 coordinates"),
    Case("denoise-sigma-2d", lambda: oracle().denoise(X, alpha=1.0, sigma=np.ones((3, 3))), E, r"^alpha, sigma: "),
    Case("evaluate-t-wrong-rows", lambda: oracle().evaluate(X, t=[0.3, 0.4], schedule="edm"), E, r"^t: .*\(3,\)"),
    Case("evaluate-alpha-sigma-disagree", lambda: oracle().evaluate(X, alpha=[1.0, 1.0, 1.0], sigma=[1.0, 1.0]), E,
         r"^alpha, sigma: "),
    Case("evaluate-alpha-without-sigma", lambda: oracle().evaluate(X, alpha=1.0), E, r"alpha and sigma"),
    Case("evaluate-both-levels", lambda: oracle().evaluate(X, alpha=1.0, sigma=1.0, t=0.3, schedule="edm"), E,
         r"t and schedule, or alpha and sigma"),
    Case("sample-init-wrong-D", lambda: run(ring8(), init=np.ones((3, 3))), E, r"^init: points have 3 coordinates"),
    Case("sample-init-chain16-transposed", lambda: run(chain16(), init=np.ones((3, 3, 16))), E,
         r"^init: points of shape \(3, 16\)"),
    Case("sample-operator-wrong-D", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0.0, 0.0]], y=[1.0],
                                                noise_std=0.5), E, r"^operator: expected shape \(d_y, 2\)"),
    Case("sample-operator-3d", lambda: run(ring8(), guidance="dps", operator=np.ones((1, 1, 2)), y=[1.0], noise_std=0.5),
         E, r"^operator: expected shape"),
    Case("sample-y-wrong-length", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0.0]], y=[1.0, 2.0],
                                              noise_std=0.5), E, r"^y: 2 values"),
    Case("sample-noise_covariance-wrong-shape", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0.0]], y=[1.0],
                                                            noise_covariance=np.eye(2)), E,
         r"^noise_covariance: expected shape \(1, 1\)"),
    Case("sample-both-noises", lambda: run(ring8(), guidance="dps", operator=[[1.0, 0.0]], y=[1.0], noise_std=1.0,
                                           noise_covariance=[[1.0]]), E, r"noise_std and noise_covariance"),
    Case("sample-y-without-operator", lambda: run(ring8(), guidance="dps", y=[1.0], noise_std=1.0), E, r"operator="),
    Case("posterior-operator-3d", lambda: tweedie.posterior(ring8(), operator=np.ones((2, 1, 2)), y=[1.0, 1.0],
                                                            noise_std=0.5), E, r"^operator: expected shape"),
    Case("posterior-operator-scalar", lambda: tweedie.posterior(ring8(), operator=1.0, y=[1.0], noise_std=0.5), E,
         r"^operator: expected shape"),
    Case("posterior-y-2d", lambda: tweedie.posterior(ring8(), operator=np.eye(2), y=np.ones((2, 2)), noise_std=0.5), E,
         r"^y: 4 values"),
    Case("posterior-noise_covariance-3d", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]], y=[1.0],
                                                                    noise_covariance=np.ones((1, 1, 1))), E,
         r"^noise_covariance: expected shape"),
    Case("posterior-noise_covariance-vector", lambda: tweedie.posterior(ring8(), operator=np.eye(2), y=[1.0, 1.0],
                                                                        noise_covariance=[1.0, 1.0]), E,
         r"^noise_covariance: expected shape \(2, 2\)"),
    Case("evaluate-samples-3d-wrong-D", lambda: tweedie.evaluate(np.ones((4, 2, 2)), ring8()), E,
         r"^samples: points have 4 coordinates"),
    Case("evaluate-samples-chain16-transposed", lambda: tweedie.evaluate(np.ones((4, 3, 16)), chain16()), E,
         r"^samples: points of shape"),
    Case("likelihood-wrong-D", lambda: tweedie.likelihood(np.ones((2, 3)), ring8(), schedule="edm"), E,
         r"^x: points have 3 coordinates"),
    Case("likelihood-chain16-transposed", lambda: tweedie.likelihood(np.ones((1, 3, 16)), chain16(), schedule="edm"),
         E, r"^x: points of shape"),
    Case("plot_samples-3d-wrong-D", lambda: tweedie.plot_samples(chain16(), np.ones((2, 16, 2)), NOWHERE), E,
         r"^samples: points have 32 coordinates"),
    Case("plot_samples-chain16-transposed", lambda: tweedie.plot_samples(chain16(), np.ones((2, 3, 16)), NOWHERE), E,
         r"^samples: points of shape"),
    Case("from_dict-covariances-wrong-D", lambda: tweedie.Model.from_dict(gaussian(covariances=[np.eye(3)])), E,
         r"^covariances\[0\]: "),
    Case("from_dict-weights-too-many", lambda: tweedie.Model.from_dict(gaussian(weights=[0.5, 0.5])), E,
         r"^(covariances|means|weights)\b"),
    Case("from_dict-means-3d", lambda: tweedie.Model.from_dict(gaussian(means=[[[0.0, 1.0]]])), E, r"^means\[0\]\[0\]: "),
    Case("from_dict-noise-wrong-D", lambda: tweedie.Model.from_dict(gaussian(noise={"type": "full",
                                                                                    "covariance": np.eye(3)})), E,
         r"^noise\.covariance: "),
    Case("from_dict-shape-wrong", lambda: tweedie.Model.from_dict(gaussian(shape=[3, 1])), E, r"^shape: "),
    Case("from_dict-shape-negative", lambda: tweedie.Model.from_dict(gaussian(shape=[-1, -2])), E, r"^shape\[0\]: "),
    Case("from_dict-shape-overflows", lambda: tweedie.Model.from_dict(gaussian(shape=[2**62, 2**62])), E,
         r"^shape\[0\]: "),
    Case("from_sklearn-noise-wrong-D", lambda: tweedie.Model.from_sklearn(fitted_mixture(), noise=[1.0, 1.0, 1.0]), E,
         r"^noise\.covariance: "),
    Case("from_sklearn-noise-3d", lambda: tweedie.Model.from_sklearn(fitted_mixture(), noise=np.ones((2, 2, 2))), E,
         r"^noise\.covariance\[0\]\[0\]: "),
    Case("from_sklearn-shape-wrong", lambda: tweedie.Model.from_sklearn(fitted_mixture(), shape=(3,)), E, r"^shape: "),
    Case("sample-noise_model-wrong-D", lambda: network(lambda x: x, noise_model=chain16()), E, r"^dimension\b"),
    # --- Zero-size arrays, with huge declared dimensions: numpy holds them (an empty (0, 2**59) or an
    # empty (0, 2**62) of bytes), but not their float64 copies, and reshape(B, -1) cannot read them.
    Case("log_density-0x2^59", lambda: ring8().log_density(np.empty((0, 1 << 59))), E,
         r"^x: points have 576460752303423488 coordinates"),
    Case("denoise-0x2^62-uint8", lambda: oracle().denoise(np.empty((0, 1 << 62), dtype=np.uint8), alpha=1.0, sigma=1.0),
         E, r"^x: points have 4611686018427387904 coordinates"),
    Case("denoise-0x2^30x2^29", lambda: oracle().denoise(np.empty((0, 1 << 30, 1 << 29)), alpha=1.0, sigma=1.0), E,
         r"^x: points have 576460752303423488 coordinates"),
    Case("denoise-2^58x0x2", lambda: oracle().denoise(np.empty((1 << 58, 0, 2)), alpha=1.0, sigma=1.0), E,
         r"^x: points have 0 coordinates"),
    Case("denoise-empty-1d", lambda: oracle().denoise(np.empty(0), alpha=1.0, sigma=1.0), E,
         r"^x: points have 0 coordinates"),
    Case("evaluate-0x2^59", lambda: oracle().evaluate(np.empty((0, 1 << 59)), alpha=1.0, sigma=1.0), E,
         r"^x: points have 576460752303423488"),
    Case("evaluate-empty-levels-3-rows", lambda: oracle().evaluate(X, alpha=[], sigma=[]), E, r"^alpha, sigma: "),
    Case("evaluate-t-empty-3-rows", lambda: oracle().evaluate(X, t=[], schedule="edm"), E, r"^t: "),
    Case("schedule-t-0x2^62-uint8", lambda: tweedie.Schedule("edm").alpha(np.empty((0, 1 << 62), dtype=np.uint8)), E,
         r"^t: an array of shape \(0, 4611686018427387904\) is too large"),
    Case("sample-init-0x2^59", lambda: run(ring8(), init=np.empty((0, 1 << 59))), E, r"^init: points have"),
    Case("sample-init-0x2", lambda: run(ring8(), init=np.zeros((0, 2))), E, r"^init: 0 rows, expected count = 3$"),
    Case("sample-operator-0x2", lambda: run(ring8(), guidance="dps", operator=np.zeros((0, 2)), y=[], noise_std=0.5), E,
         r"^operator: .*d_y = 0"),
    Case("sample-operator-0x2^59", lambda: run(ring8(), guidance="dps", operator=np.empty((0, 1 << 59)), y=[],
                                               noise_std=0.5), E, r"^operator: expected shape"),
    Case("posterior-operator-0x2", lambda: tweedie.posterior(ring8(), operator=np.zeros((0, 2)), y=[], noise_std=0.5),
         E, r"^operator: .*d_y = 0"),
    Case("posterior-operator-0x2^62-uint8", lambda: tweedie.posterior(
        ring8(), operator=np.empty((0, 1 << 62), dtype=np.uint8), y=[], noise_std=0.5), E,
         r"^operator: an array of shape"),
    Case("posterior-noise_covariance-0x0", lambda: tweedie.posterior(ring8(), operator=np.zeros((0, 2)), y=[],
                                                                     noise_covariance=np.zeros((0, 0))), E,
         r"^operator: .*d_y = 0"),
    Case("posterior-y-0x2^62-int8", lambda: tweedie.posterior(ring8(), operator=[[1.0, 0.0]],
                                                              y=np.empty((0, 1 << 62), dtype=np.int8), noise_std=0.5),
         E, r"^y: an array of shape"),
    Case("evaluate-samples-0x2^59", lambda: tweedie.evaluate(np.empty((0, 1 << 59)), ring8()), E,
         r"^samples: points have 576460752303423488"),
    Case("likelihood-0x2^59", lambda: tweedie.likelihood(np.empty((0, 1 << 59)), ring8(), schedule="edm"), E,
         r"^x: points have 576460752303423488"),
    Case("plot_samples-0x2^59", lambda: tweedie.plot_samples(ring8(), np.empty((0, 1 << 59)), NOWHERE), E,
         r"^samples: points have 576460752303423488"),
    Case("from_dict-no-components", lambda: tweedie.Model.from_dict(gaussian(weights=[], means=np.zeros((0, 2)),
                                                                             covariances=np.zeros((0, 2, 2)))), E,
         r"^weights: .*at least one component"),
    Case("from_dict-means-0x2^59", lambda: tweedie.Model.from_dict({"weights": [], "means": np.empty((0, 1 << 59)),
                                                                    "covariance_type": "dirac"}), E, r"^weights: "),
    Case("from_dict-noise-empty", lambda: tweedie.Model.from_dict(gaussian(noise={"type": "diagonal",
                                                                                  "covariance": np.zeros(0)})), E,
         r"^noise\.covariance: "),
    Case("from_dict-means-0-columns", lambda: tweedie.Model.from_dict({"weights": [1.0], "means": np.zeros((1, 0)),
                                                                       "covariance_type": "dirac"}), E, r"^means: "),
    # --- Huge and negative counts: a limit refuses them at once, nothing is allocated.
    Case("sample-count-2^62", lambda: run(ring8(), count=1 << 62), E, r"^count: 4611686018427387904 samples"),
    Case("sample-count-2^64", lambda: run(ring8(), count=1 << 64), E, r"^count: must be a 64-bit integer"),
    Case("sample-count-1e10", lambda: run(ring8(), count=10**10), E, r"^count: 10000000000 samples × D = 2"),
    Case("sample-count-1e12-network", lambda: network(lambda x: x, count=10**12), E, r"^count: 1000000000000 samples"),
    Case("sample-count-1e12-guided", lambda: run(ring8(), count=10**12, guidance="dps", **OBSERVATION), E,
         r"^count: 1000000000000 samples"),
    Case("sample-count-negative", lambda: run(ring8(), count=-5), E, r"^count\b.*-5"),
    Case("sample-count-zero", lambda: run(ring8(), count=0), E, r"^count\b"),
    Case("sample-count-negative-init", lambda: run(ring8(), count=-1, init=np.zeros((0, 2))), E, r"^count\b"),
    Case("sample-steps-1e9-ddim", lambda: run(ring8(), sampler="ddim", steps=10**9), E, r"^steps\b.*1000000000"),
    Case("sample-steps-2^63", lambda: run(ring8(), steps=1 << 63), E, r"^steps: must be a 64-bit integer"),
    Case("sample-steps-negative", lambda: run(ring8(), steps=-3), E, r"^steps\b.*-3"),
    Case("sample-steps-zero", lambda: run(ring8(), steps=0), E, r"^steps\b"),
    Case("sample-schedule-ddpm-1e9-steps", lambda: run(ring8(), schedule="ddpm:steps=1000000000"), E, r"steps\b"),
    Case("sample-batch_size-negative", lambda: run(ring8(), batch_size=-1), E, r"^batch_size\b"),
    Case("sample-dimension-zero", lambda: network(lambda x: x, dimension=0), E, r"^dimension\b"),
    Case("sample-dimension-negative", lambda: network(lambda x: x, dimension=-1), E, r"^dimension\b"),
    Case("sample-dimension-1e12", lambda: network(lambda x: x, dimension=10**12), E, r"D = 1000000000000"),
    Case("sample-dimension-2^63", lambda: network(lambda x: x, dimension=1 << 63), E, r"^dimension: must be a 64-bit"),
    Case("sampler_kl-steps-1e9", lambda: tweedie.sampler_kl(ring8(), sampler="euler", schedule="edm", steps=10**9,
                                                            count=10), E, r"^steps: "),
    Case("sampler_kl-steps-negative", lambda: tweedie.sampler_kl(ring8(), sampler="euler", schedule="edm", steps=-5,
                                                                 count=10), E, r"^steps: must be at least 1, got -5$"),
    Case("sampler_kl-steps-zero", lambda: tweedie.sampler_kl(ring8(), sampler="euler", schedule="edm", steps=0,
                                                             count=10), E, r"^steps: "),
    Case("sampler_kl-steps-2^63", lambda: tweedie.sampler_kl(ring8(), sampler="euler", schedule="edm", steps=1 << 63,
                                                             count=10), E, r"^steps: must be a 64-bit integer"),
    Case("sampler_kl-count-negative", lambda: tweedie.sampler_kl(ring8(), sampler="euler", schedule="edm", steps=5,
                                                                 count=-10), E, r"^count: .*-10"),
    Case("sampler_kl-count-2^64", lambda: tweedie.sampler_kl(ring8(), sampler="euler", schedule="edm", steps=5,
                                                             count=1 << 64), E, r"^count: must be a 64-bit integer"),
    Case("sampler_path_kl-count-1e12", lambda: tweedie.sampler_path_kl(ring8(), sampler="ddpm", schedule="edm", steps=5,
                                                                       count=10**12), E, r"^count: 1000000000000"),
    Case("sampler_path_kl-steps-1e9", lambda: tweedie.sampler_path_kl(ring8(), sampler="ddpm", schedule="edm",
                                                                      steps=10**9, count=10), E, r"^steps: "),
    Case("sampler_path_kl-count-negative", lambda: tweedie.sampler_path_kl(ring8(), sampler="ddpm", schedule="edm",
                                                                           steps=5, count=-1), E, r"^count: "),
    Case("sampler_path_kl-count-zero", lambda: tweedie.sampler_path_kl(ring8(), sampler="ddpm", schedule="edm", steps=5,
                                                                       count=0), E, r"^count: "),
    Case("sampler_path_kl-steps-negative", lambda: tweedie.sampler_path_kl(ring8(), sampler="ddpm", schedule="edm",
                                                                           steps=-5, count=10), E,
         r"^steps: must be at least 1, got -5$"),
    Case("evaluate-projections-1e12", lambda: tweedie.evaluate(X, ring8(), projections=10**12), E, r"^projections: "),
    Case("evaluate-projections-negative", lambda: tweedie.evaluate(X, ring8(), projections=-1), E, r"^projections: "),
    Case("evaluate-projections-zero", lambda: tweedie.evaluate(X, ring8(), projections=0), E, r"^projections: "),
    Case("evaluate-projections-2^63", lambda: tweedie.evaluate(X, ring8(), projections=1 << 63), E,
         r"^projections: must be a 64-bit integer"),
    Case("likelihood-probes-1e12", lambda: tweedie.likelihood(X, ring8(), schedule="edm", probes=10**12), E,
         r"^probes: "),
    Case("likelihood-probes-negative", lambda: tweedie.likelihood(X, ring8(), schedule="edm", probes=-3), E,
         r"^probes: must be at least 1"),
    Case("likelihood-probes-zero", lambda: tweedie.likelihood(X, ring8(), schedule="edm", probes=0), E,
         r"^probes: must be at least 1"),
    Case("likelihood-probes-2^63", lambda: tweedie.likelihood(X, ring8(), schedule="edm", probes=1 << 63), E,
         r"^probes: must be a 64-bit integer"),
    Case("evaluate-covariances-1TB", lambda: tweedie.Oracle(wide_dirac()).evaluate(
        np.zeros((8, 1 << 17)), alpha=1.0, sigma=1.0, covariance=True), E, r"^x: .*8 points"),
    # --- Networks (Python callables) that raise, or return the wrong thing: each is reported after the
    # call as a TweedieError naming the model (its own TweedieError as it is), never a crash.
    Case("network-raises", lambda: tweedie.sample(broken_network, **RUN, dimension=2), E,
         r"^the model raised RuntimeError: the network is broken$"),
    Case("network-raises-two-lines", lambda: tweedie.sample(two_line_network, **RUN, dimension=2), E,
         r"^the model raised ValueError: first line second line$"),
    Case("network-k-diffusion-signature", lambda: tweedie.sample(k_diffusion_network, **RUN, dimension=2), E,
         r"^the model raised TypeError: .*positional argument"),
    Case("network-raises-tweedie-error", lambda: tweedie.sample(out_of_range_network, **RUN, dimension=2), E,
         r"^sigma: must be finite and positive"),
    Case("network-wrong-columns", lambda: network(lambda x: x[:, :1]), E, r"^the model returned shape \(3, 1\)"),
    Case("network-transposed", lambda: network(lambda x: x.T), E, r"^the model returned shape \(2, 3\)"),
    Case("network-extra-row", lambda: network(lambda x: np.vstack([x, x[:1]])), E, r"^the model returned shape \(4, 2\)"),
    Case("network-flat", lambda: network(lambda x: x.reshape(-1)), E, r"^the model returned shape \(6,\)"),
    Case("network-3d", lambda: network(lambda x: x[:, :, None]), E, r"^the model returned shape \(3, 2, 1\)"),
    Case("network-scalar", lambda: network(lambda x: 0.0), E, r"^the model returned shape \(\)"),
    Case("network-nan", lambda: network(lambda x: np.full_like(x, np.nan)), E,
         r"^the model returned nan at row 0, coordinate 0 \(α = "),
    Case("network-nan-one-entry", lambda: network(lambda x: nan_at(x, 1)), E,
         r"^the model returned nan at row 0, coordinate 1\b"),
    Case("network-nan-epsilon", lambda: network(lambda x: np.full_like(x, np.nan), prediction="epsilon"), E,
         r"^the model returned nan\b"),
    Case("network-inf-score", lambda: network(lambda x: np.full_like(x, np.inf), prediction="score"), E,
         r"^the model returned inf\b"),
    Case("network-nan-heun", lambda: network(lambda x: np.full_like(x, np.nan), sampler="heun"), E,
         r"^the model returned nan\b"),
    Case("network-nan-rk45", lambda: network(lambda x: np.full_like(x, np.nan), sampler="rk45", steps=None), E,
         r"^the model returned nan\b"),
    Case("network-nan-ddpm", lambda: network(lambda x: np.full_like(x, np.nan), sampler="ddpm"), E,
         r"^the model returned nan\b"),
    Case("network-nan-pc", lambda: network(lambda x: np.full_like(x, np.nan), sampler="pc"), E,
         r"^the model returned nan\b"),
    Case("network-nan-dps", lambda: network(lambda x: np.full_like(x, np.nan), guidance="dps", **OBSERVATION), E,
         r"^the model returned nan\b"),
    Case("network-nan-pigdm", lambda: network(lambda x: np.full_like(x, np.nan), guidance="pigdm", **OBSERVATION), E,
         r"^the model returned nan\b"),
    Case("network-none", lambda: network(lambda x: None), T, r"^the model's output: expected numbers, got dtype object$"),
    Case("network-string", lambda: network(lambda x: "denoised"), T, r"^the model's output: .*dtype <U8$"),
    Case("network-dict", lambda: network(lambda x: {"sample": x}), T, r"^the model's output: .*dtype object$"),
    Case("network-object-array", lambda: network(lambda x: x.astype(object)), T, r"^the model's output: .*object$"),
    Case("network-complex", lambda: network(lambda x: x + 1j), T, r"^the model's output: .*complex128$"),
    Case("network-bool", lambda: network(lambda x: x > 0), T, r"^the model's output: .*dtype bool$"),
    Case("network-strings", lambda: network(lambda x: x.astype(str)), T, r"^the model's output: .*dtype <U"),
    Case("network-generator", lambda: network(lambda x: (row for row in x)), T, r"^the model's output: .*object$"),
    Case("network-ragged", lambda: network(lambda x: [[1.0, 2.0], [3.0], [0.0, 0.0]]), E,
         r"^the model's output: not an array of numbers"),
    Case("network-one-argument", lambda: tweedie.sample(lambda x: x, **RUN, dimension=2), E,
         r"^the model raised TypeError: "),
    Case("network-diffusers-output", lambda: network(lambda x: DiffusersOutput(x)), T,
         r"^the model's output: expected numbers, got dtype object$"),
    Case("network-without-dimension", lambda: tweedie.sample(lambda x, a, s: x, **RUN), E, r"dimension="),
    Case("network-prediction-unknown", lambda: network(lambda x: x, prediction="eps"), E, r"^prediction: .*'eps'"),
    Case("network-init-wrong-D", lambda: network(lambda x: x, init=np.ones((3, 3))), E,
         r"^init: points have 3 coordinates"),
    # --- Data sets: Model.from_dataset, PrunedDenoiser, sample(prune=), truncation_study.
    Case("from_dataset-complex", lambda: tweedie.Model.from_dataset(np.ones((3, 2)) + 1j), T,
         r"^data: expected numbers, got dtype complex128$"),
    Case("from_dataset-bool", lambda: tweedie.Model.from_dataset(np.ones((3, 2), dtype=bool)), T, r"^data: .*dtype bool$"),
    Case("from_dataset-strings", lambda: tweedie.Model.from_dataset([["a", "b"]]), T, r"^data: .*dtype <U1$"),
    Case("from_dataset-none", lambda: tweedie.Model.from_dataset(None), T, r"^data: .*dtype object$"),
    Case("from_dataset-datetime", lambda: tweedie.Model.from_dataset(np.zeros((2, 2), dtype="datetime64[D]")), T,
         r"^data: .*datetime64"),
    Case("from_dataset-scale-int", lambda: tweedie.Model.from_dataset(X, scale=255), T, r"^scale: expected a string"),
    Case("from_dataset-scale-none", lambda: tweedie.Model.from_dataset(X, scale=None), T, r"^scale: expected a string"),
    Case("from_dataset-name-int", lambda: tweedie.Model.from_dataset(X, name=3), T, r"^name: expected a string, got 3$"),
    Case("from_dataset-scale-unknown", lambda: tweedie.Model.from_dataset(X, scale="pixels"), E,
         r"^scale: expected 'none', 'edm' or 'unit', got 'pixels'$"),
    Case("from_dataset-scale-uppercase", lambda: tweedie.Model.from_dataset(X, scale="EDM"), E, r"^scale: .*'EDM'$"),
    Case("from_dataset-scale-nul", lambda: tweedie.Model.from_dataset(X, scale="edm\0"), E, r"^scale: "),
    Case("from_dataset-name-nul", lambda: tweedie.Model.from_dataset(X, name="a\0b"), E, r"^name: embedded NUL"),
    Case("from_dataset-no-points", lambda: tweedie.Model.from_dataset(np.zeros((0, 64))), E, r"^data: no points"),
    Case("from_dataset-no-images", lambda: tweedie.Model.from_dataset(np.zeros((0, 8, 8), dtype=np.uint8)), E,
         r"^data: no points \(shape \(0, 8, 8\)\)$"),
    Case("from_dataset-no-coordinates", lambda: tweedie.Model.from_dataset(np.zeros((3, 0))), E,
         r"^data: points of shape \(0,\) have no coordinates$"),
    Case("from_dataset-empty-images", lambda: tweedie.Model.from_dataset(np.zeros((3, 8, 0))), E,
         r"^data: points of shape \(8, 0\) have no coordinates$"),
    Case("from_dataset-1d", lambda: tweedie.Model.from_dataset(np.zeros(5)), E, r"^data: expected points \(N, D\)"),
    Case("from_dataset-scalar", lambda: tweedie.Model.from_dataset(3.0), E, r"^data: expected points .*shape \(\)$"),
    Case("from_dataset-ragged", lambda: tweedie.Model.from_dataset([[1.0, 2.0], [3.0]]), E,
         r"^data: not an array of numbers"),
    Case("from_dataset-nan", lambda: tweedie.Model.from_dataset([[0.0, 1.0], [np.nan, 0.0]]), E,
         r"^data: point 1, coordinate 0 is nan$"),
    Case("from_dataset-image-inf", lambda: tweedie.Model.from_dataset(np.where(np.arange(32).reshape(2, 4, 4) == 5,
                                                                               -np.inf, 0.0)), E,
         r"^data: point 0, coordinate 5 is -inf$"),
    Case("from_dataset-inf-scaled", lambda: tweedie.Model.from_dataset([[np.inf, 0.0]], scale="edm"), E,
         r"^data: point 0, coordinate 0 is inf$"),
    Case("from_dataset-long-double-overflow", lambda: tweedie.Model.from_dataset(
        np.array([[np.longdouble("1e4000"), 1]])), E, r"^data: point 0, coordinate 0 is .*beyond float64's range$"),
    Case("from_dataset-0x2^62-uint8", lambda: tweedie.Model.from_dataset(np.empty((0, 1 << 62), dtype=np.uint8)), E,
         r"^data: no points"),
    Case("from_dataset-2^58x0x2", lambda: tweedie.Model.from_dataset(np.empty((1 << 58, 0, 2))), E,
         r"^data: points of shape \(0, 2\) have no coordinates$"),
    Case("PrunedDenoiser-model-string", lambda: tweedie.PrunedDenoiser("spiral-dirac", 1e-8), T,
         r"^PrunedDenoiser: expected a tweedie.Model, got str$"),
    Case("PrunedDenoiser-tolerance-string", lambda: tweedie.PrunedDenoiser(spiral(), "1e-8"), T,
         r"^tolerance: expected a number, got '1e-8'$"),
    Case("PrunedDenoiser-tolerance-complex", lambda: tweedie.PrunedDenoiser(spiral(), 1j), T, r"^tolerance: "),
    Case("PrunedDenoiser-tolerance-none", lambda: tweedie.PrunedDenoiser(spiral(), None), T, r"^tolerance: "),
    Case("PrunedDenoiser-tolerance-zero", lambda: tweedie.PrunedDenoiser(spiral(), 0.0), E,
         r"^tolerance: must be positive and finite, got 0.0$"),
    Case("PrunedDenoiser-tolerance-negative", lambda: tweedie.PrunedDenoiser(spiral(), -1e-8), E, r"^tolerance: .*-1e-08$"),
    Case("PrunedDenoiser-tolerance-nan", lambda: tweedie.PrunedDenoiser(spiral(), float("nan")), E,
         r"^tolerance: .*\bnan$"),
    Case("PrunedDenoiser-tolerance-inf", lambda: tweedie.PrunedDenoiser(spiral(), np.inf), E, r"^tolerance: .*\binf$"),
    Case("PrunedDenoiser-mixture", lambda: tweedie.PrunedDenoiser(ring8(), 1e-8), E,
         r"^model: certified pruning needs a data set \(Dirac components\)"),
    Case("PrunedDenoiser-noise", lambda: tweedie.PrunedDenoiser(dirac_with_noise(), 1e-8), E,
         r"^model: certified pruning needs Σ = I"),
    Case("pruned-denoise-complex", lambda: pruned().denoise(X + 1j, alpha=1.0, sigma=0.1), T, r"^x: .*complex128$"),
    Case("pruned-denoise-none", lambda: pruned().denoise(None, alpha=1.0, sigma=0.1), T, r"^x: .*dtype object$"),
    Case("pruned-denoise-sigma-bool", lambda: pruned().denoise(X, alpha=1.0, sigma=True), T, r"^sigma: .*dtype bool"),
    Case("pruned-denoise-alpha-string", lambda: pruned().denoise(X, alpha="1", sigma=0.1), T, r"^alpha: "),
    Case("pruned-denoise-t-complex", lambda: pruned().denoise(X, t=0.3 + 0j, schedule="edm"), T, r"^t: .*complex128"),
    Case("pruned-denoise-schedule-int", lambda: pruned().denoise(X, t=0.3, schedule=7), T, r"^schedule: "),
    Case("pruned-denoise-wrong-D", lambda: pruned().denoise(np.ones((3, 3)), alpha=1.0, sigma=0.1), E,
         r"^x: points have 3 coordinates, the model has 2$"),
    Case("pruned-denoise-scalar", lambda: pruned().denoise(1.0, alpha=1.0, sigma=0.1), E, r"^x: expected points"),
    Case("pruned-denoise-0x2^59", lambda: pruned().denoise(np.empty((0, 1 << 59)), alpha=1.0, sigma=0.1), E,
         r"^x: points have 576460752303423488 coordinates"),
    Case("pruned-denoise-x-inf", lambda: pruned().denoise([[np.inf, 0.0]], alpha=1.0, sigma=0.1), E,
         r"^x: point 0, coordinate 0 is inf$"),
    Case("pruned-denoise-x-nan", lambda: pruned().denoise([[0.0, 0.0], [0.0, np.nan]], alpha=1.0, sigma=0.1), E,
         r"^x: point 1, coordinate 1 is nan$"),
    Case("pruned-denoise-x-beyond-range", lambda: pruned().denoise([[1e300, 1e300]], alpha=1e-300, sigma=1.0), E,
         r"^x: point 0"),
    Case("pruned-denoise-sigma-nan", lambda: pruned().denoise(X, alpha=1.0, sigma=float("nan")), E, r"^sigma: .*\bnan\b"),
    Case("pruned-denoise-sigma-zero", lambda: pruned().denoise(X, alpha=1.0, sigma=0.0), E, r"^sigma: "),
    Case("pruned-denoise-sigma-underflows", lambda: pruned().denoise(X, alpha=1.0, sigma=1e-300), E, r"^sigma: "),
    Case("pruned-denoise-alpha-negative", lambda: pruned().denoise(X, alpha=-1.0, sigma=0.1), E, r"^alpha: "),
    Case("pruned-denoise-t-nan", lambda: pruned().denoise(X, t=np.nan, schedule="edm"), E, r"^t = nan\b"),
    Case("pruned-denoise-t-wrong-rows", lambda: pruned().denoise(X, t=[0.3, 0.4], schedule="edm"), E, r"^t: .*\(3,\)"),
    Case("pruned-denoise-alpha-sigma-disagree", lambda: pruned().denoise(X, alpha=[1.0] * 3, sigma=[0.1] * 2), E,
         r"^alpha, sigma: "),
    Case("pruned-denoise-sigma-only", lambda: pruned().denoise(X, sigma=0.1), E, r"alpha and sigma"),
    Case("pruned-denoise-both-levels", lambda: pruned().denoise(X, alpha=1.0, sigma=0.1, t=0.3, schedule="edm"), E,
         r"t and schedule, or alpha and sigma"),
    Case("pruned-denoise-closed", lambda: closed_denoiser().denoise(X, alpha=1.0, sigma=0.1), E,
         r"^PrunedDenoiser: closed"),
    Case("sample-prune-string", lambda: run(spiral(), prune="1e-8"), T, r"^prune: expected a number, got '1e-8'$"),
    Case("sample-prune-complex", lambda: run(spiral(), prune=1j), T, r"^prune: expected a number"),
    Case("sample-return_certificate-int", lambda: run(spiral(), prune=1e-8, return_certificate=1), T,
         r"^return_certificate: expected True or False, got 1$"),
    Case("sample-return_certificate-string", lambda: run(spiral(), prune=1e-8, return_certificate="yes"), T,
         r"^return_certificate: "),
    Case("sample-return_certificate-none", lambda: run(spiral(), prune=1e-8, return_certificate=None), T,
         r"^return_certificate: "),
    Case("sample-certificate-without-prune", lambda: run(spiral(), return_certificate=True), E,
         r"^return_certificate: needs prune="),
    Case("sample-prune-negative", lambda: run(spiral(), prune=-1e-8), E, r"^prune\b.*-1e-08$"),
    Case("sample-prune-zero", lambda: run(spiral(), prune=0.0), E, r"^prune\b.*\b0.0$"),
    Case("sample-prune-nan", lambda: run(spiral(), prune=float("nan")), E, r"^prune\b.*\bnan$"),
    Case("sample-prune-inf", lambda: run(spiral(), prune=np.inf), E, r"^prune\b.*\binf$"),
    Case("sample-prune-mixture", lambda: run(ring8(), prune=1e-8), E, r"^prune: certified pruning needs a data set"),
    Case("sample-prune-noise", lambda: run(dirac_with_noise(), prune=1e-8), E, r"^prune: certified pruning needs Σ = I"),
    Case("sample-prune-float32", lambda: run(spiral(), prune=1e-8, precision="float32"), E, r"^prune\b.*float32"),
    Case("sample-prune-guided", lambda: run(spiral(), prune=1e-8, guidance="dps", **OBSERVATION), E, r"^prune\b.*guidance"),
    Case("sample-prune-network", lambda: network(lambda x: x, prune=1e-8), E, r"^prune\b.*network"),
    Case("truncation_study-model-string", lambda: tweedie.truncation_study("spiral-dirac"), T,
         r"^truncation_study: expected a tweedie.Model, got str$"),
    Case("truncation_study-callable-model", lambda: study(model=lambda x, a, s: x), T, r"^truncation_study: "),
    Case("truncation_study-k-strings", lambda: study(k=["10"]), T, r"^k: expected numbers"),
    Case("truncation_study-k-bool", lambda: study(k=[True]), T, r"^k: .*dtype bool$"),
    Case("truncation_study-k-complex", lambda: study(k=[10j]), T, r"^k: .*complex128$"),
    Case("truncation_study-count-float", lambda: study(count=4.0), T, r"^count: expected an integer, got 4.0$"),
    Case("truncation_study-seed-float", lambda: study(seed=1.5), T, r"^seed: expected an integer"),
    Case("truncation_study-schedule-int", lambda: study(schedule=7), T, r"^schedule: expected a string"),
    Case("truncation_study-steps-float", lambda: study(steps=3.0), T, r"^steps: expected an integer"),
    Case("truncation_study-mixture", lambda: study(model=ring8()), E, r"^model: the study needs a data set"),
    Case("truncation_study-noise", lambda: study(model=dirac_with_noise()), E, r"^model: the study needs Σ = I"),
    Case("truncation_study-k-zero", lambda: study(k=[0]), E, r"^k: expected positive integers, got \[0.0\]$"),
    Case("truncation_study-k-negative", lambda: study(k=[10, -5]), E, r"^k: expected positive integers"),
    Case("truncation_study-k-fraction", lambda: study(k=[2.5]), E, r"^k: expected positive integers, got \[2.5\]$"),
    Case("truncation_study-k-nan", lambda: study(k=[np.nan]), E, r"^k: .*\bnan\b"),
    Case("truncation_study-k-1e300", lambda: study(k=[1e300]), E, r"^k: "),
    Case("truncation_study-k-empty", lambda: study(k=[]), E, r"^k: each k must be at least 1, got \[\]$"),
    Case("truncation_study-k-2d", lambda: study(k=[[10, 20]]), E, r"^k: expected a sequence of integers.*\(1, 2\)$"),
    Case("truncation_study-count-zero", lambda: study(count=0), E, r"^count: must be at least 1, got 0$"),
    Case("truncation_study-count-negative", lambda: study(count=-1), E, r"^count: .*-1$"),
    Case("truncation_study-count-1e12", lambda: study(count=10**12), E, r"^count: .*1000000000000 points"),
    Case("truncation_study-count-2^63", lambda: study(count=1 << 63), E, r"^count: must be a 64-bit integer"),
    Case("truncation_study-steps-zero", lambda: study(steps=0), E, r"^steps: must lie in 1\.\.\.\d+, got 0$"),
    Case("truncation_study-steps-negative", lambda: study(steps=-3), E, r"^steps: .*-3$"),
    Case("truncation_study-steps-1e9", lambda: study(steps=10**9), E, r"^steps: .*1000000000$"),
    Case("truncation_study-schedule-unknown", lambda: study(schedule="edn"), E, r"schedule 'edn'"),
    Case("truncation_study-schedule-nul", lambda: study(schedule="edm\0"), E, r"^schedule: embedded NUL"),
    # --- Molecules (zero centre of mass, files, superposition, equivariance, harmonic processes).
    Case("from_conformers-2d", lambda: tweedie.Model.from_conformers(np.zeros((3, 6))), E,
         r"^frames: expected shape \(F, N, 3\)"),
    Case("from_conformers-nan", lambda: tweedie.Model.from_conformers(np.full((2, 3, 3), np.nan)), E, r"means"),
    Case("from_conformers-symbols-count", lambda: tweedie.Model.from_conformers(np.zeros((2, 3, 3)), ["C"]), E,
         r"^atom_symbols: 1 symbols"),
    Case("from_conformers-symbols-type", lambda: tweedie.Model.from_conformers(np.zeros((2, 3, 3)), "CHH"), T,
         r"^atom_symbols: expected a sequence of strings"),
    Case("from_conformers-symbols-not-element", lambda: tweedie.Model.from_conformers(np.zeros((2, 3, 3)),
                                                                                        ["C", "H", "1"]), E,
         r"atom_symbols: '1' is not an element symbol"),
    Case("from_conformers-one-atom", lambda: tweedie.Model.from_conformers(np.zeros((2, 1, 3))), E,
         r"at least 2 atoms"),
    Case("zero-com-no-shape", lambda: tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0] * 6],
                                                              "covariance_type": "dirac",
                                                              "zero_centre_of_mass": True}), E, r"^shape: "),
    Case("zero-com-not-bool", lambda: tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0] * 6],
                                                              "covariance_type": "dirac", "shape": [2, 3],
                                                              "zero_centre_of_mass": 1}), E,
         r"zero_centre_of_mass: expected true or false"),
    Case("read_molecules-missing", lambda: tweedie.read_molecules("/nonexistent/x.xyz"), E, r"x\.xyz"),
    Case("read_molecules-extension", lambda: tweedie.read_molecules("x.mol2"), E, r"expected a molecular file"),
    Case("read_molecules-atoms", lambda: tweedie.read_molecules("x.pdb", atoms="backbone"), E,
         r"^atoms: must be all or ca"),
    Case("read_molecules-atoms-nul", lambda: tweedie.read_molecules("x.pdb", atoms="ca\0"), E, r"^atoms: "),
    Case("write_molecules-width", lambda: tweedie.write_molecules(os.path.join(tempfile.gettempdir(), "w.xyz"),
                                                                  np.zeros((1, 7)), ["O", "H", "H"]), E,
         r"^frames: 7 coordinates per frame for 3 atoms"),
    Case("write_molecules-nan", lambda: tweedie.write_molecules(os.path.join(tempfile.gettempdir(), "w.xyz"),
                                                                np.full((1, 3, 3), np.nan), ["O", "H", "H"]), E,
         r"nan"),
    Case("write_molecules-symbol", lambda: tweedie.write_molecules(os.path.join(tempfile.gettempdir(), "w.xyz"),
                                                                   np.zeros((1, 1, 3)), ["Xx1"]), E,
         r"element symbol"),
    Case("write_molecules-title-break", lambda: tweedie.write_molecules(
        os.path.join(tempfile.gettempdir(), "w.xyz"), np.zeros((1, 1, 3)), ["O"], titles=["a\nb"]), E,
         r"^titles: "),
    Case("superpose-shapes", lambda: tweedie.superpose(np.zeros((4, 3)), np.zeros((5, 3))), E, r"^moving, target"),
    Case("superpose-nan", lambda: tweedie.superpose(np.full((4, 3), np.nan), np.zeros((4, 3))), E,
         r"finite"),
    Case("superpose-empty", lambda: tweedie.superpose(np.zeros((0, 3)), np.zeros((0, 3))), E, r"^moving"),
    Case("equivariance-shape", lambda: tweedie.equivariance(lambda y, s: y, np.zeros((2, 6)), sigma=1.0), E,
         r"^x: expected shape \(B, N, 3\)"),
    Case("equivariance-returns-shape", lambda: tweedie.equivariance(lambda y, s: y[:, :1], np.zeros((2, 3, 3)),
                                                                    sigma=1.0), E, r"^denoiser: returned shape"),
    Case("equivariance-returns-nan", lambda: tweedie.equivariance(lambda y, s: y * np.nan, np.ones((2, 3, 3)),
                                                                  sigma=1.0), E, r"^denoiser: returned a NaN"),
    Case("equivariance-draws-zero", lambda: tweedie.equivariance(lambda y, s: y, np.ones((2, 3, 3)), sigma=1.0,
                                                                 draws=0), E, r"^draws: must be at least 1"),
    Case("harmonic-not-model", lambda: tweedie.HarmonicOracle("chain16"), T, r"HarmonicOracle: expected"),
    Case("harmonic-flat-model", lambda: tweedie.HarmonicOracle(ring8()), E, r"needs points shaped \(N, d\)"),
    Case("harmonic-own-noise", lambda: tweedie.HarmonicOracle(tweedie.Model.builtin("chain16")), E, r"noise"),
    Case("harmonic-strength-negative", lambda: tweedie.HarmonicOracle(_chains(), strength=-1.0), E,
         r"^strength: must be finite and > 0"),
    Case("harmonic-strength-nan", lambda: tweedie.HarmonicOracle(_chains(), strength=float("nan")), E,
         r"^strength"),
    Case("harmonic-matrix-shape", lambda: tweedie.HarmonicOracle(_chains(), atom_matrix=np.eye(3)), E,
         r"^atom_matrix: expected shape \(4, 4\)"),
    Case("harmonic-matrix-disconnected", lambda: tweedie.HarmonicOracle(_chains(), atom_matrix=np.zeros((4, 4))),
         E, r"^atom_matrix: "),
    Case("harmonic-t-zero", lambda: tweedie.HarmonicOracle(_chains()).evaluate(np.zeros((1, 4, 3)), 0.0), E,
         r"^t: must be finite and > 0"),
    Case("harmonic-t-huge", lambda: tweedie.HarmonicOracle(_chains()).evaluate(np.zeros((1, 4, 3)), 1e9), E,
         r"harmonic prior"),
    Case("harmonic-x-width", lambda: tweedie.HarmonicOracle(_chains()).evaluate(np.zeros((1, 5)), 1.0), E, r"^x"),
    Case("harmonic-sample-count", lambda: tweedie.HarmonicOracle(_chains()).sample(0), E, r"^count: "),
    Case("harmonic-sample-huge", lambda: tweedie.HarmonicOracle(_chains()).sample(10**12, steps=2), E, r"^count: "),
    Case("harmonic-sample-steps", lambda: tweedie.HarmonicOracle(_chains()).sample(4, steps=-1), E, r"^steps: "),
    Case("harmonic-sample-times", lambda: tweedie.HarmonicOracle(_chains()).sample(4, t_max=0.1, t_min=1.0), E,
         r"^t: needs 0 < t_min < T"),
    Case("harmonic-likelihood-times", lambda: tweedie.HarmonicOracle(_chains()).log_likelihood(
        np.zeros((1, 4, 3)), t_min=-1.0), E, r"^t: "),
    Case("sample-times-increasing", lambda: tweedie.sample(ring8(), sampler="heun", schedule="edm",
                                                           times=[1.0, 2.0], count=2), E, r"^times: "),
    Case("sample-times-with-steps", lambda: tweedie.sample(ring8(), sampler="heun", schedule="edm", times=[80.0, 1.0],
                                                           steps=2, count=2), E, r"^times gives the grid itself"),
    Case("sample-times-nan", lambda: tweedie.sample(ring8(), sampler="heun", schedule="edm", times=[80.0, np.nan],
                                                    count=2), E, r"^times: "),
    Case("sample-times-adaptive", lambda: tweedie.sample(ring8(), sampler="rk45", schedule="edm", times=[80.0, 1.0],
                                                         count=2), E, r"^times: "),
    Case("sample-times-outside", lambda: tweedie.sample(ring8(), sampler="heun", schedule="edm", times=[800.0, 1.0],
                                                        count=2), E, r"outside the time range"),
    # --- Files.
    Case("plot_samples-path-is-a-folder", lambda: tweedie.plot_samples(ring8(), X, tempfile.gettempdir()), E,
         r"is not a regular file"),
    Case("load-a-folder", lambda: tweedie.Model.load(tempfile.gettempdir()), E, r"\.json or \.npz"),
]


def _chains() -> tweedie.Model:
    """A data set of two 4-atom chains (synthetic), for the harmonic cases."""
    frames = np.array([[[0, 0, 0], [3.8, 0, 0], [7.6, 0, 0], [11.4, 0, 0]],
                       [[0, 0, 0], [3.8, 0, 0], [3.8, 3.8, 0], [0, 3.8, 0]]], dtype=float)
    return tweedie.Model.from_conformers(frames)


def outcome(case: Case) -> Optional[str]:
    """None when ``case`` raises its class, quickly, with a one-line message matching its culprit and
    no warning on the way; otherwise what happened instead."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            case.call()
    except BaseException as error:  # anything else, even a KeyboardInterrupt, is a wrong outcome
        seconds = time.perf_counter() - start
        message = str(error)
        if type(error) is not case.error:
            return f"raised {type(error).__module__}.{type(error).__name__}: {message!r}"
        if not message or "\n" in message:
            return f"message is not one line: {message!r}"
        if not re.search(case.culprit, message):
            return f"message {message!r} does not match {case.culprit!r}"
        if seconds > QUICK:
            return f"took {seconds:.1f} s"
        return None
    return "raised nothing"


def fingerprint() -> str:
    """Results of well-formed calls, to compare across interpreters: the library still computes."""
    denoised = oracle().denoise(X, alpha=0.9, sigma=0.4)
    samples = run(ring8(), seed=7)
    return f"{denoised.tobytes().hex()} {samples.tobytes().hex()}"


def test_the_corpus_ids_are_unique_and_every_culprit_compiles():
    ids = [case.id for case in CORPUS]
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    for case in CORPUS:
        re.compile(case.culprit)
        assert case.error in (TweedieError, TweedieTypeError), case.id
    assert len(CORPUS) >= 200


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_bad_call(case):
    result = outcome(case)
    assert result is None, result


SURVIVAL = """
import sys
sys.path.insert(0, {tests!r})
import test_bad_calls as corpus
wrong = []
for case in corpus.CORPUS:
    print(case.id, end=" ", flush=True)  # the last id printed names a case that ends the interpreter
    result = corpus.outcome(case)
    print(result or "ok", flush=True)
    if result:
        wrong.append(case.id)
print("wrong:", " ".join(wrong) or "none")
print("fingerprint:", corpus.fingerprint())
print(f"raised as expected: {{len(corpus.CORPUS) - len(wrong)}}/{{len(corpus.CORPUS)}}")
"""


def test_the_corpus_leaves_the_interpreter_alive():
    """Every case in a row in one fresh interpreter: it exits cleanly, every case raised its class,
    and the library still computes what it computes here."""
    script = SURVIVAL.format(tests=str(Path(__file__).resolve().parent))
    package = str(Path(tweedie.__file__).resolve().parents[1])   # the package under test, not another copy
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, f"exit {result.returncode} after {lines[-1:]}: {result.stderr[-2000:]}"
    assert lines[-1] == f"raised as expected: {len(CORPUS)}/{len(CORPUS)}", "\n".join(lines[-3:])
    assert lines[-2] == f"fingerprint: {fingerprint()}"


def test_a_keyboard_interrupt_in_a_network_is_not_swallowed():
    """Ctrl-C during a network's call stops the sampler and stays a KeyboardInterrupt (not a
    TweedieError that ``except TweedieError`` would catch)."""
    def interrupted(x, alpha, sigma):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        tweedie.sample(interrupted, **RUN, dimension=2)


def test_a_network_error_keeps_its_cause():
    with pytest.raises(TweedieError) as raised:
        tweedie.sample(broken_network, **RUN, dimension=2)
    assert isinstance(raised.value.__cause__, RuntimeError)


# --- Calls that look odd but are not bad: the result of the plain float64, C-contiguous form.

def read_only(array: np.ndarray) -> np.ndarray:
    out = np.array(array)
    out.flags.writeable = False
    return out


def strided(array: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous view (every other element of a wider array)."""
    wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), dtype=array.dtype)
    wide[..., ::2] = array
    return wide[..., ::2]


def read_only_strided(array: np.ndarray) -> np.ndarray:
    out = strided(array)
    out.flags.writeable = False
    return out


def big_endian(array: np.ndarray) -> np.ndarray:
    return np.asarray(array).astype(">f8")


def reversed_rows(array: np.ndarray) -> np.ndarray:
    """The same values in a view with negative strides."""
    return np.ascontiguousarray(array[::-1])[::-1]


FORMS = {"read-only": read_only, "strided": strided, "read-only-strided": read_only_strided,
         "fortran": np.asfortranarray, "big-endian": big_endian, "reversed": reversed_rows}
POINTS = np.random.default_rng(3).normal(size=(5, 2)) * 2
CHAIN = np.random.default_rng(4).normal(size=(2, 16, 3))
OPERATOR = np.array([[1.0, 0.3], [0.2, -0.7]])
NOISE = np.array([[0.5, 0.1], [0.1, 0.4]])
INIT = np.random.default_rng(5).normal(size=(4, 2))
LARGE_MEANS = np.random.default_rng(6).normal(size=(4, 1 << 18))   # 2^20 numbers: from_dict's .npz route


WELL_FORMED = {
    "log_density": lambda form: ring8().log_density(form(POINTS)),
    "log_density-chain16": lambda form: chain16().log_density(form(CHAIN)),
    "denoise": lambda form: oracle().denoise(form(POINTS), alpha=0.9, sigma=0.4),
    "denoise-per-row-levels": lambda form: oracle().denoise(form(POINTS), alpha=form(np.full(5, 0.9)),
                                                            sigma=form(np.linspace(0.3, 1.1, 5))),
    "evaluate": lambda form: oracle().evaluate(form(POINTS), t=form(np.linspace(0.1, 0.9, 5)), schedule="vp-cosine",
                                               covariance=True).posterior_covariance,
    "schedule": lambda form: tweedie.Schedule("vp-linear").alpha(form(np.linspace(0.1, 0.9, 6).reshape(2, 3))),
    "sample-init": lambda form: run(ring8(), count=4, init=form(INIT)),
    "sample-guided": lambda form: run(ring8(), count=4, init=INIT, guidance="pigdm", operator=form(OPERATOR),
                                      y=form(np.array([1.0, -0.5])), noise_covariance=form(NOISE)),
    "posterior": lambda form: tweedie.posterior(ring8(), operator=form(OPERATOR), y=form(np.array([1.0, -0.5])),
                                                noise_covariance=form(NOISE)).component_log_evidence,
    "evaluate-samples": lambda form: tweedie.evaluate(form(POINTS), ring8(), seed=1)["sliced_w2"].value,
    "likelihood": lambda form: tweedie.likelihood(form(POINTS[:2]), ring8(), schedule="vp-linear").log_likelihood,
    "from_dict": lambda form: tweedie.Model.from_dict(
        {"weights": form(np.array([0.25, 0.75])), "means": form(np.array([[0.0, 1.0], [2.0, -1.0]])),
         "covariance_type": "full", "covariances": form(np.array([[[1.0, 0.2], [0.2, 2.0]], [[0.5, 0.0], [0.0, 0.5]]])),
         "noise": {"type": "full", "covariance": form(NOISE)}}).log_density(POINTS),
    "from_dataset": lambda form: tweedie.Model.from_dataset(form(POINTS), scale="edm").means,
    "from_dataset-images": lambda form: tweedie.Model.from_dataset(form(CHAIN)).means,
    "pruned-denoise": lambda form: pruned().denoise(form(POINTS), alpha=0.9, sigma=form(np.linspace(0.05, 0.5, 5))).denoised,
    "from_dict-as-npz": lambda form: tweedie.Oracle(tweedie.Model.from_dict(
        {"weights": form(np.full(4, 0.25)), "means": form(LARGE_MEANS), "covariance_type": "dirac"})).denoise(
        LARGE_MEANS[:2] + 0.1, alpha=1.0, sigma=0.5),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("call", WELL_FORMED)
def test_odd_layouts_are_read_as_their_values(call, form):
    """Read-only, non-contiguous, Fortran-order, big-endian and negative-stride arrays are converted,
    never misread: the results of the plain array, bit for bit."""
    assert np.array_equal(WELL_FORMED[call](FORMS[form]), WELL_FORMED[call](lambda a: np.array(a, dtype=np.float64)))


@pytest.mark.parametrize("form", FORMS)
def test_odd_layouts_draw_the_same_picture(form, tmp_path):
    tweedie.plot_samples(ring8(), POINTS, tmp_path / "plain.svg")
    tweedie.plot_samples(ring8(), FORMS[form](POINTS), tmp_path / "odd.svg")
    assert (tmp_path / "odd.svg").read_bytes() == (tmp_path / "plain.svg").read_bytes()


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_other_number_types_are_converted(dtype):
    x = np.array([[1, 2], [3, 0]], dtype=dtype)
    assert np.array_equal(oracle().denoise(x, alpha=0.9, sigma=0.4),
                          oracle().denoise(x.astype(np.float64), alpha=0.9, sigma=0.4))


@pytest.mark.parametrize("output", [
    lambda y: y.astype(np.float32),
    lambda y: y.astype(np.float32).tolist(),
    lambda y: read_only(y.astype(np.float32)),
    lambda y: np.asfortranarray(y.astype(np.float32)),
    lambda y: strided(y.astype(np.float32)),
], ids=["float32", "list", "read-only", "fortran", "strided"])
def test_a_network_may_return_float32_lists_and_views(output):
    """A network's output of any layout or float type is its values: the samples of the same values
    returned as float64."""
    def exact(x, alpha, sigma):
        return oracle().denoise(x, alpha=alpha, sigma=sigma)
    common = dict(sampler="heun", schedule="edm", steps=6, count=50, seed=1, dimension=2)
    expected = tweedie.sample(lambda x, a, s: exact(x, a, s).astype(np.float32).astype(np.float64), **common)
    assert np.array_equal(tweedie.sample(lambda x, a, s: output(exact(x, a, s)), **common), expected)


def test_empty_batches_give_empty_results():
    """No points, with no levels, one level or no times: empty results (zero points with no levels
    ended the interpreter before the package passed the library one level for no rows)."""
    empty = np.zeros((0, 2))
    assert oracle().denoise(empty, alpha=np.array([]), sigma=np.array([])).shape == (0, 2)
    assert oracle().denoise(empty, alpha=1.0, sigma=1.0).shape == (0, 2)
    result = oracle().evaluate(empty, alpha=[], sigma=[], covariance=True, components=True)
    assert result.denoised.shape == (0, 2) and result.posterior_covariance.shape == (0, 2, 2)
    assert result.component_means.shape == (0, 8, 2) and result.responsibilities.shape == (0, 8)
    assert oracle().evaluate(empty, t=[], schedule="edm").log_density.shape == (0,)
    assert ring8().log_density(empty).shape == (0,)
    assert tweedie.likelihood(empty, ring8(), schedule="edm").log_likelihood.shape == (0,)
    assert tweedie.Schedule("edm").alpha(np.zeros((0, 3))).shape == (0, 3)
