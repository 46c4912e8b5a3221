"""Measurements of sample sets against the exact p_0, and likelihoods by the probability-flow ODE."""
from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Optional

import numpy as np
import numpy.typing as npt

from ._arguments import integer, number, optional_number, points, seed as _seed, text
from ._display import result_repr
from ._errors import TweedieError
from ._models import Model, require_model
from ._native import check, lib, pointer, take_string

__all__ = ["Measurement", "evaluate", "Likelihood", "likelihood"]


@dataclass(frozen=True)
class Measurement:
    """A figure of a sample set against the exact p_0, with its Monte Carlo noise floor.

    One entry of the report :func:`evaluate` returns.

    Attributes
    ----------
    name : str
        The figure's key, e.g. ``sliced_w2``, ``mmd2``, ``cross_entropy``.
    label : str
        Its description, as ``tweedie sample`` prints it.
    value : float or None
        The figure for the samples (None where it cannot be computed).
    noise_floor : float or None
        The same figure for exact samples of the same size: what sampling noise alone gives (None
        where the figure has none).
    """

    name: str
    label: str
    value: Optional[float]
    noise_floor: Optional[float]


def evaluate(samples: npt.ArrayLike, model: Model, *, seed: int = 0, projections: int = 128) -> dict[str, Measurement]:
    """The report of ``tweedie sample`` for any samples, against the model's exact p_0.

    Parameters
    ----------
    samples : array_like, shape (count, D)
        The samples (of any origin); points of the model's shape may be given as they are.
    model : Model
        The model whose p_0 the samples should follow.
    seed : int, default 0
        The seed of the reference samples and projections.
    projections : int, default 128
        The number of random projections of the sliced Wasserstein distance.

    Returns
    -------
    dict of str to Measurement
        Each figure by its name: ``cross_entropy``, ``tv_mode_weights``, ``sliced_w2``, ``mmd2``,
        ``energy_distance``, ...

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model`, ``samples`` is not an array of numbers, or ``seed``
        or ``projections`` is not an integer.
    TweedieError
        If the samples do not have D coordinates, or an argument is out of range.

    Examples
    --------
    >>> import tweedie
    >>> model = tweedie.Model.builtin("ring8")
    >>> samples = tweedie.sample(model, sampler="exact", schedule="vp-linear", steps=20, count=500, seed=2)
    >>> report = tweedie.evaluate(samples, model, seed=2)
    >>> report["sliced_w2"].value > 0
    True
    """
    require_model(model, "evaluate")
    array = points(samples, model.dimension, "samples", model.shape)
    out = ctypes.c_void_p()
    check(lib.tweedie_evaluate(model._handle, pointer(array), array.shape[0], array.shape[1], _seed(seed),
                               integer(projections, "projections"), ctypes.byref(out)))
    return {m["name"]: Measurement(m["name"], m["label"], m["value"], m["noise_floor"]) for m in json.loads(take_string(out))}


@dataclass(frozen=True, repr=False)
class Likelihood:
    """Log-likelihoods by the probability-flow ODE, as :func:`likelihood` returns them.

    Attributes
    ----------
    log_likelihood : ndarray of float64, shape (B,)
        log p_{t_min}(x) of each point.
    standard_error : ndarray of float64, shape (B,)
        Its standard error: 0 with the exact divergence, positive with Hutchinson's estimate.
    function_evaluations : ndarray of int64, shape (B,)
        The ODE solver's evaluations of the oracle, per point.
    """

    log_likelihood: npt.NDArray[np.float64]
    standard_error: npt.NDArray[np.float64]
    function_evaluations: npt.NDArray[np.int64]

    def __repr__(self) -> str:
        return result_repr(self)


def likelihood(x: npt.ArrayLike, model: Model, *, schedule: str, prior: str = "marginal", probes: Optional[int] = None,
               seed: int = 0, rtol: float = 1e-6, atol: float = 1e-6, t_min: Optional[float] = None,
               t_max: Optional[float] = None) -> Likelihood:
    """Log-likelihoods by integrating the probability-flow ODE on the exact oracle.

    The divergence along the path is the oracle's exact one, or Hutchinson's estimate with
    ``probes`` probes. Compare with :meth:`Model.log_density`.

    Parameters
    ----------
    x : array_like, shape (B, D) or (D,)
        The points.
    model : Model
        The model whose oracle drives the ODE.
    schedule : str
        A noise schedule (see :class:`Schedule`).
    prior : {"marginal", "gaussian"}, default "marginal"
        The law at t_max: the exact marginal p_{t_max}, or N(0, σ²Σ).
    probes : int, optional
        Hutchinson's probes per evaluation; None for the exact divergence.
    seed : int, default 0
        The seed of Hutchinson's probes.
    rtol, atol : float, default 1e-6
        The ODE solver's relative and absolute tolerances.
    t_min, t_max : float, optional
        The ends of the integration (the schedule's when None).

    Returns
    -------
    Likelihood

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model`, or an argument has the wrong type.
    TweedieError
        If the points do not have D coordinates, or an argument is out of range.

    Examples
    --------
    >>> import tweedie
    >>> model = tweedie.Model.builtin("ring8")
    >>> result = tweedie.likelihood([[4.0, 0.0]], model, schedule="edm:sigma_min=1e-5", rtol=1e-8, atol=1e-8)
    >>> bool(abs(result.log_likelihood[0] - model.log_density([[4.0, 0.0]])[0]) < 1e-4)
    True
    """
    require_model(model, "likelihood")
    array = points(x, model.dimension, shape=model.shape)
    b = array.shape[0]
    outs = [np.empty(b) for _ in range(3)]
    check(lib.tweedie_likelihood(model._handle, text(schedule, "schedule"), pointer(array), b, array.shape[1],
                                 text(prior, "prior"), _probes(probes), _seed(seed),
                                 number(rtol, "rtol"), number(atol, "atol"), optional_number(t_min, "t_min"),
                                 optional_number(t_max, "t_max"), *(pointer(o) for o in outs)))
    return Likelihood(outs[0], outs[1], outs[2].astype(np.int64))


def _probes(probes: Optional[int]) -> int:
    """``probes`` for the C ABI, which reads 0 or fewer as "the exact divergence" (None here)."""
    if probes is None:
        return 0
    value = integer(probes, "probes")
    if value < 1:
        raise TweedieError(f"probes: must be at least 1 (None for the exact divergence), got {value}")
    return value
