"""Time grids judged by exact figures: a sampler's exact KL(q_N ‖ p_0) on a Gaussian prior as a
function of its grid, and the grid that minimises it (docs/math.md §12.5)."""
from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ._arguments import flag, integer, numbers, optional_number, text
from ._display import result_repr
from ._errors import TweedieError
from ._models import Model, require_model
from ._native import check, lib, pointer, take_string

__all__ = ["OptimalGrid", "grid_kl", "optimal_grid"]


def _levels(sigmas: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The levels of a grid given as k-diffusion writes it (N levels then 0) or without the 0."""
    levels = numbers(sigmas, "sigmas")
    if levels.ndim != 1:
        raise TweedieError(f"sigmas: expected a 1-D sequence of noise levels, got an array of shape {levels.shape}")
    if levels.size > 1 and levels[-1] == 0:
        levels = levels[:-1]
    return np.ascontiguousarray(levels)


def grid_kl(model: Model, sigmas: npt.ArrayLike, *, sampler: str = "heun") -> tuple[float, npt.NDArray[np.float64]]:
    """The exact KL(q_N ‖ p_0) of a deterministic sampler run on the grid ``sigmas``, with its gradient.

    For ``euler``, ``ddim`` (η = 0), ``heun`` (no churn) and ``dpmpp-2m`` on a Gaussian p_0 (a model
    of several components is replaced by its Gaussian fit, the mixture's mean and covariance), the
    sampler's output is Gaussian and its KL to p_0 is a sum over the whitened eigen-modes, exact
    and differentiable in the levels.

    Parameters
    ----------
    model : Model
        A Gaussian model (one component with a non-singular covariance), or a mixture to fit.
    sigmas : array_like
        The levels σ/α the sampler visits, strictly decreasing, as k-diffusion's ``get_sigmas_*``
        return them (a final 0 is dropped).
    sampler : str, default "heun"
        ``euler``, ``ddim``, ``heun`` or ``dpmpp-2m``.

    Returns
    -------
    kl : float
        KL(q_N ‖ p_0) in nats.
    gradient : ndarray of shape (N,)
        ∂KL/∂σ̃_i for each level.

    Examples
    --------
    >>> import tweedie
    >>> gaussian = tweedie.Model.from_dict({"weights": [1], "means": [[0, 0]], "covariance_type": "full",
    ...                                     "covariances": [[[1, 0], [0, 1]]]})
    >>> kl, gradient = tweedie.grid_kl(gaussian, [80.0, 5.0, 1.0, 0.1, 0.002, 0.0], sampler="ddim")
    >>> gradient.shape
    (5,)
    """
    require_model(model, "grid_kl")
    levels = _levels(sigmas)
    kl = ctypes.c_double()
    gradient = np.zeros(levels.size)
    check(lib.tweedie_grid_kl(model._handle, text(sampler, "sampler"), pointer(levels), levels.size,
                              ctypes.byref(kl), pointer(gradient)))
    return kl.value, gradient


@dataclass(frozen=True)
class OptimalGrid:
    """The grid of least exact KL for a sampler and a budget of model calls, as
    :func:`optimal_grid` returns it, beside the published grids.

    Attributes
    ----------
    sigmas : ndarray of shape (N + 1,)
        The optimal levels σ/α, then 0 (k-diffusion's convention: pass it to ``sample_heun`` etc.).
    times : ndarray of shape (N,)
        The schedule's times of the levels.
    kl : float
        Its exact KL(q_N ‖ p_0), nats.
    gradient_norm : float
        The largest gradient component in the optimiser's parameters at the end (≈ 0 at an optimum).
    model_calls : int
        Model calls of a run on the grid.
    gaussian_fit : bool
        Whether p_0 was the Gaussian fit of a mixture.
    initialization_floor : float
        The KL of the exact probability-flow map from the same start N(0, σ_max² Σ): the start's error
        alone (not a lower bound: a grid's discretization error can offset part of it).
    intervals_at_floor : list of int
        Intervals held at the shortest length allowed (where the exact optimum would merge levels).
    published : dict of str to (ndarray, float)
        Each published grid (``karras``, ``kl-optimal``, ``uniform-lambda``, ``ays``) as its sigmas
        (then 0) and exact KL.
    """

    sigmas: npt.NDArray[np.float64]
    times: npt.NDArray[np.float64]
    kl: float
    gradient_norm: float
    model_calls: int
    gaussian_fit: bool
    initialization_floor: float
    intervals_at_floor: list[int] = field(default_factory=list)
    published: dict[str, tuple[npt.NDArray[np.float64], float]] = field(default_factory=dict)

    def gap(self, name: str) -> float:
        """How much larger a published grid's exact KL is than the optimum's.

        Parameters
        ----------
        name : str
            ``karras``, ``kl-optimal``, ``uniform-lambda`` or ``ays``.

        Returns
        -------
        float
            100 (KL − KL_optimal) / KL_optimal, in %.
        """
        if name not in self.published:
            raise TweedieError(f"name: unknown grid {name!r} (known: {', '.join(self.published)})")
        return 100 * (self.published[name][1] - self.kl) / self.kl

    def __repr__(self) -> str:
        return result_repr(self)


def optimal_grid(model: Model, *, sampler: str = "heun", calls: int = 10, schedule: str = "edm",
                 sigma_max: float | None = None, sigma_min: float | None = None,
                 keep_end: bool = False) -> OptimalGrid:
    """The time grid that minimises a sampler's exact KL(q_N ‖ p_0), beside the published grids.

    The first level stays at σ_max (it sets the start N(0, σ_max² Σ)); the others are optimised by
    L-BFGS on the exact KL and its exact gradient, from Karras ρ = 7, ``kl_optimal`` and uniform λ,
    the last level free above σ_min unless ``keep_end``.

    Parameters
    ----------
    model : Model
        A Gaussian model, or a mixture or data set, replaced by its Gaussian fit.
    sampler : str, default "heun"
        ``euler``, ``ddim``, ``heun`` or ``dpmpp-2m``.
    calls : int, default 10
        The budget of model calls per sample (heun makes 2N − 1 for N levels).
    schedule : str, default "edm"
        The schedule that gives σ_max and σ_min and converts levels to times.
    sigma_max, sigma_min : float, optional
        The ends of the levels (σ/α); the schedule's by default.
    keep_end : bool, default False
        Hold the last level at σ_min, as the published grids do.

    Returns
    -------
    OptimalGrid

    Examples
    --------
    >>> import tweedie
    >>> gaussian = tweedie.Model.from_dict({"weights": [1], "means": [[0, 0]], "covariance_type": "full",
    ...                                     "covariances": [[[1, 0], [0, 1]]]})
    >>> grid = tweedie.optimal_grid(gaussian, sampler="ddim", calls=6, keep_end=True)
    >>> round(grid.gap("kl-optimal"), 3)  # kl_optimal is the exact optimum of DDIM on N(0, I)
    0.0
    """
    require_model(model, "optimal_grid")
    out = ctypes.c_void_p()
    check(lib.tweedie_schedule_optimize(model._handle, text(sampler, "sampler"), integer(calls, "calls"),
                                        text(schedule, "schedule"), optional_number(sigma_max, "sigma_max"),
                                        optional_number(sigma_min, "sigma_min"), int(flag(keep_end, "keep_end")),
                                        ctypes.byref(out)))
    result = json.loads(take_string(out))
    return OptimalGrid(np.array(result["sigmas"], dtype=np.float64), np.array(result["times"], dtype=np.float64),
                       float(result["kl"]), float(result["gradient_norm"]), int(result["model_calls"]),
                       bool(result["gaussian_fit"]), float(result["initialization_floor"]), [int(i) for i in result["intervals_at_floor"]],
                       {name: (np.array(grid["sigmas"], dtype=np.float64), float(grid["kl"]))
                        for name, grid in result["published"].items()})
