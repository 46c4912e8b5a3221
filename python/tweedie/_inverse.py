"""Inverse problems: an observation y = A x_0 + n, and the exact posterior p(x_0 | y) it gives."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from ._arguments import number, numbers
from ._display import compact
from ._errors import TweedieError
from ._models import Model, require_model
from ._native import check, lib, pointer

__all__ = ["Posterior", "posterior"]


def _operator(operator: npt.ArrayLike, dimension: int) -> npt.NDArray[np.float64]:
    """A as a (d_y, D) array (one row from a (D,) vector); its columns must be the model's D."""
    a = np.ascontiguousarray(numbers(operator, "operator"))
    if a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != dimension:
        raise TweedieError(f"operator: expected shape (d_y, {dimension}), got {a.shape}")
    return a


def _observed(y: npt.ArrayLike, rows: int) -> npt.NDArray[np.float64]:
    """y as d_y values, one per row of A (the library reads as many)."""
    values = np.ascontiguousarray(numbers(y, "y")).reshape(-1)
    if values.shape[0] != rows:
        raise TweedieError(f"y: {values.shape[0]} values, the operator has d_y = {rows} rows")
    return values


def _noise_covariance(noise_covariance: Optional[npt.ArrayLike], rows: int) -> Optional[npt.NDArray[np.float64]]:
    """Σ_y as a (d_y, d_y) array (the library reads as many numbers), or None."""
    if noise_covariance is None:
        return None
    cov = np.ascontiguousarray(numbers(noise_covariance, "noise_covariance"))
    if cov.shape != (rows, rows):
        raise TweedieError(f"noise_covariance: expected shape {(rows, rows)}, got {cov.shape}")
    return cov


class _Observation:
    """y = A x_0 + n as the C ABI takes it: A (d_y, D), y (d_y,), Σ_y (d_y, d_y) or σ_y."""

    def __init__(self, operator: npt.ArrayLike, y: npt.ArrayLike, noise_std: Optional[float],
                 noise_covariance: Optional[npt.ArrayLike], dimension: int) -> None:
        a = _operator(operator, dimension)
        values = _observed(y, a.shape[0])
        if (noise_std is None) == (noise_covariance is None):
            raise TweedieError("observation: give exactly one of noise_std and noise_covariance")
        self.covariance = _noise_covariance(noise_covariance, a.shape[0])
        self.std = float("nan") if noise_std is None else number(noise_std, "noise_std")
        self.operator, self.y = a, values

    @property
    def arguments(self) -> tuple[Any, ...]:
        """The observation as the arguments of ``tweedie_posterior``: A, d_y, y, Σ_y, σ_y."""
        return (pointer(self.operator), self.operator.shape[0], pointer(self.y), pointer(self.covariance), self.std)

    def handle(self) -> ctypes.c_void_p:
        """The observation as a library handle (free it with ``lib.tweedie_observation_free``)."""
        handle = ctypes.c_void_p()
        check(lib.tweedie_observation_new(pointer(self.operator), self.operator.shape[0], self.operator.shape[1],
                                          pointer(self.y), pointer(self.covariance), self.std, ctypes.byref(handle)))
        return handle


@dataclass(frozen=True, repr=False)
class Posterior:
    """The exact posterior p(x_0 | y) of a mixture prior, as :func:`posterior` returns it.

    Attributes
    ----------
    model : Model
        The posterior as a model, with the prior's noise covariance Σ: its :class:`Oracle` is the
        exact conditional oracle.
    log_evidence : float
        log p(y).
    component_log_evidence : ndarray of float64, shape (K,)
        log N(y; A μ_k, A Λ_k Aᵀ + Σ_y) for each component k of the prior.
    """

    model: Model
    log_evidence: float
    component_log_evidence: npt.NDArray[np.float64]

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        """p(k | y), the posterior's mixture weights, shape (K,)."""
        return self.model.weights

    def __repr__(self) -> str:
        return (f"Posterior(model={self.model!r}, log_evidence={self.log_evidence!r}, "
                f"component_log_evidence={compact(self.component_log_evidence)})")


def posterior(model: Model, *, operator: npt.ArrayLike, y: npt.ArrayLike, noise_std: Optional[float] = None,
              noise_covariance: Optional[npt.ArrayLike] = None) -> Posterior:
    """The exact posterior of a model given a linear observation, as ``tweedie posterior``.

    The observation is y = A x_0 + n with n ~ N(0, Σ_y), Σ_y = ``noise_std``² I or
    ``noise_covariance``; give exactly one of the two.

    Parameters
    ----------
    model : Model
        The prior p_0.
    operator : array_like, shape (d_y, D) or (D,)
        The operator A.
    y : array_like, shape (d_y,)
        The observation.
    noise_std : float, optional
        σ_y, for Σ_y = σ_y² I.
    noise_covariance : array_like, shape (d_y, d_y), optional
        Σ_y.

    Returns
    -------
    Posterior

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model`, or an argument is not a number or an array of numbers.
    TweedieError
        If the shapes do not agree, neither or both noises are given, or the noise is not positive
        definite.

    Examples
    --------
    >>> import tweedie
    >>> post = tweedie.posterior(tweedie.Model.builtin("ring8"), operator=[[1.0, 0.3]], y=[1.2], noise_std=0.5)
    >>> post.model.components, round(float(post.weights.sum()), 12)
    (8, 1.0)
    """
    require_model(model, "posterior")
    observation = _Observation(operator, y, noise_std, noise_covariance, model.dimension)
    handle = ctypes.c_void_p()
    evidence = np.empty(1)
    components = np.empty(model.components)
    check(lib.tweedie_posterior(model._handle, *observation.arguments, ctypes.byref(handle), pointer(evidence),
                                pointer(components)))
    return Posterior(Model(handle), float(evidence[0]), components)
