"""Data sets: the ideal denoiser with certified pruning, the certificate of a pruned sampling run,
and what top-k truncation and single-precision distances drop from the exact denoiser."""
from __future__ import annotations

import ctypes
import json
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import numpy.typing as npt

from ._arguments import integer, number, numbers, points, text
from ._arguments import seed as _seed
from ._display import result_repr
from ._errors import TweedieError
from ._models import Model, require_model
from ._native import check, lib, pointer, take_string
from ._oracle import _levels

__all__ = ["PruningCertificate", "CertifiedDenoising", "PrunedDenoiser", "TruncationStudy", "truncation_study"]


@dataclass(frozen=True)
class PruningCertificate:
    """The certificate of a sampling run with certified pruning, as ``sample(..., prune=ε,
    return_certificate=True)`` returns it.

    Over every denoiser call of the run, point by point (a "point-call" is one point at one call):
    each pruned point-call's denoiser is within its certified bound of the exact E[x_0 | x_t].

    Attributes
    ----------
    largest_error_bound : float
        The largest certified bound on ‖x̂_0 − E[x_0 | x_t]‖ of any point-call.
    largest_relative_error_bound : float
        The largest bound relative to ‖x_t‖: at most ε, the tolerance asked for.
    largest_neglected_mass : float
        The largest certified bound on the posterior mass left out.
    weighed_share : float
        The share of the K components weighed exactly in the pruned point-calls (1 when none was
        pruned).
    exact_point_calls : int
        The point-calls answered by the exact sum over every component (nothing could be pruned).
    point_calls : int
        All point-calls: the number of samples times the denoiser calls of the sampler.
    """

    largest_error_bound: float
    largest_relative_error_bound: float
    largest_neglected_mass: float
    weighed_share: float
    exact_point_calls: int
    point_calls: int


def last_certificate() -> PruningCertificate:
    """The certificate of the last ``tweedie_sample`` on this thread, which must have pruned."""
    out = np.empty(6)
    check(lib.tweedie_last_certificate(pointer(out)))
    return PruningCertificate(float(out[0]), float(out[1]), float(out[2]), float(out[3]), int(out[4]), int(out[5]))


@dataclass(frozen=True, repr=False)
class CertifiedDenoising:
    """The pruned denoiser's answer for B points, with its certificate, as
    :meth:`PrunedDenoiser.denoise` returns it.

    Attributes
    ----------
    denoised : ndarray of float64, shape (B, *shape)
        x̂_0 of each point, within ``error_bound`` of the exact E[x_0 | x_t] (points of the
        model's shape).
    error_bound : ndarray of float64, shape (B,)
        The certified bound on ‖x̂_0 − E[x_0 | x_t]‖ of each point, at most tolerance · ‖x_t‖ (0
        where the point was answered exactly).
    neglected_mass : ndarray of float64, shape (B,)
        The certified bound on the posterior mass of the components left out.
    kept : ndarray of int64, shape (B,)
        The components weighed exactly: K where the point was answered exactly.
    """

    denoised: npt.NDArray[np.float64]
    error_bound: npt.NDArray[np.float64]
    neglected_mass: npt.NDArray[np.float64]
    kept: npt.NDArray[np.int64]

    def __repr__(self) -> str:
        return result_repr(self)


class PrunedDenoiser:
    """A data set's denoiser E[x_0 | x_t] with certified pruning: built once, then any batch at any
    noise level.

    For a data set (Dirac components, Σ = I) the posterior weights are a softmax over the K
    atoms, and at small σ almost all of them are negligible. The pruned denoiser proves which ones
    are (a screen in the data's principal directions, then one in single precision), weighs the rest
    exactly in float64, and certifies each point's answer within ``tolerance`` · ‖x_t‖ of the exact
    one (docs/math.md §2.8). Where nothing can be left out (large σ), a point is answered by the
    exact sum, with bound 0. Calls release the GIL: threads may share a denoiser (but not
    :meth:`close` it while another uses it).

    Parameters
    ----------
    model : Model
        A data-set model (Dirac components, e.g. from :meth:`Model.from_dataset`) with identity
        noise.
    tolerance : float
        ε > 0: each point's denoiser is certified within ε ‖x_t‖ of the exact one.

    Attributes
    ----------
    model : Model
        The model.
    tolerance : float
        ε.

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model` or ``tolerance`` is not a number.
    TweedieError
        If the model is not a data set with Σ = I, or ``tolerance`` is not positive and finite.

    See Also
    --------
    Oracle : the exact oracle (``Oracle(model).denoise`` is the exact sum over every atom).
    sample : ``prune=`` samples with this denoiser.

    Examples
    --------
    >>> import numpy as np, tweedie
    >>> model = tweedie.Model.builtin("spiral-dirac")
    >>> denoiser = tweedie.PrunedDenoiser(model, tolerance=1e-8)
    >>> result = denoiser.denoise(model.means[:3] + 0.001, alpha=1.0, sigma=0.01)
    >>> bool(np.all(result.error_bound <= 1e-8 * np.linalg.norm(model.means[:3] + 0.001, axis=1)))
    True
    """

    def __init__(self, model: Model, tolerance: float) -> None:
        require_model(model, "PrunedDenoiser")
        self._model = model
        self._tolerance = number(tolerance, "tolerance")
        if not (math.isfinite(self._tolerance) and self._tolerance > 0):
            raise TweedieError(f"tolerance: must be positive and finite, got {self._tolerance}")
        self._dimension = model.dimension
        self._shape = model.shape
        handle = ctypes.c_void_p()
        try:
            check(lib.tweedie_pruned_new(model._handle, self._tolerance, ctypes.byref(handle)))
        except TweedieError as error:  # the library names the sampling request's field, prune; here the model is at fault
            message = str(error)
            if message.startswith("prune: "):
                message = "model: " + message[len("prune: "):]
            raise TweedieError(message) from None
        self._handle: Optional[ctypes.c_void_p] = handle

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Frees the denoiser's memory (its screen and the single-precision copy of the atoms) now,
        not when it is collected; it cannot denoise afterwards. Closing twice is harmless."""
        handle = getattr(self, "_handle", None)
        if handle:
            lib.tweedie_pruned_free(handle)
            self._handle = None

    @property
    def model(self) -> Model:
        """The data-set model."""
        return self._model

    @property
    def tolerance(self) -> float:
        """ε: each point's denoiser is certified within ε ‖x_t‖ of the exact one."""
        return self._tolerance

    def denoise(self, x: npt.ArrayLike, *, alpha: Optional[npt.ArrayLike] = None,
                sigma: Optional[npt.ArrayLike] = None, t: Optional[npt.ArrayLike] = None,
                schedule: Optional[str] = None) -> CertifiedDenoising:
        """E[x_0 | x_t] within the certified tolerance, with each point's certificate.

        The noise level is given either by ``alpha`` and ``sigma`` or by ``t`` and ``schedule``,
        as for :meth:`Oracle.denoise`.

        Parameters
        ----------
        x : array_like, shape (B, D), (B, *shape) or (D,)
            The noisy points x_t.
        alpha, sigma : array_like, optional
            The scales α and σ, each a scalar or one per point.
        t : array_like, optional
            The time, a scalar or one per point, of ``schedule``.
        schedule : str, optional
            A schedule's name (see :class:`Schedule`).

        Returns
        -------
        CertifiedDenoising
            The denoised points (of the model's shape), and each point's error bound, bound on the
            neglected mass and number of components weighed.

        Raises
        ------
        TweedieTypeError
            If ``x`` or a level is not an array of numbers.
        TweedieError
            If the points do not have D coordinates, a level is out of range, neither or both ways
            of giving the level are used, or the denoiser is closed.
        """
        if not self._handle:
            raise TweedieError("PrunedDenoiser: closed; make a new one")
        array = points(x, self._dimension, shape=self._shape)
        b = array.shape[0]
        a, s = _levels(b, alpha, sigma, t, schedule)
        out = np.empty_like(array)
        bounds, masses, kept = np.empty(b), np.empty(b), np.empty(b)
        check(lib.tweedie_pruned_denoise(self._handle, pointer(array), b, array.shape[1], pointer(a), pointer(s),
                                         a.size, pointer(out), pointer(bounds), pointer(masses), pointer(kept)))
        return CertifiedDenoising(out.reshape((b,) + tuple(self._shape)), bounds, masses, kept.astype(np.int64))

    def __repr__(self) -> str:
        return f"PrunedDenoiser({self._model!r}, tolerance={self._tolerance!r})"


@dataclass(frozen=True, repr=False)
class TruncationStudy:
    """What top-k truncation and single-precision distances drop from a data set's exact denoiser,
    level by level, as :func:`truncation_study` returns it.

    Each figure is a pair [mean, largest] over the study's points x_t = α x_0 + σ z of p_t
    (x_0 drawn from the data) at each level of the sampler's grid.

    Attributes
    ----------
    ks : ndarray of int64, shape (n_k,)
        The truncations k (k ≥ K is the exact sum: zeros).
    sigma : ndarray of float64, shape (L,)
        σ of each level, from the largest.
    alpha : ndarray of float64, shape (L,)
        α of each level.
    neglected_mass : ndarray of float64, shape (L, n_k, 2)
        The posterior mass outside the k atoms of largest weight, [mean, largest].
    truncation_error : ndarray of float64, shape (L, n_k, 2)
        ‖x̂_top-k − E[x_0 | x_t]‖ of the renormalized top-k denoiser, [mean, largest].
    float32_weight_distance : ndarray of float64, shape (L, 2)
        The total-variation distance ½Σ|r̃_k − r_k| of single-precision weights (a float32
        ``cdist`` in the Gram form, then softmax) from the exact ones, [mean, largest].
    float32_error : ndarray of float64, shape (L, 2)
        ‖x̃_0 − E[x_0 | x_t]‖ of the single-precision denoiser, [mean, largest].
    radius : float
        R = max_k ‖μ_k − μ̄‖, the data's radius, against which the errors read (each top-k error
        is at most 2R times its neglected mass).
    count : int
        The points per level.
    """

    ks: npt.NDArray[np.int64]
    sigma: npt.NDArray[np.float64]
    alpha: npt.NDArray[np.float64]
    neglected_mass: npt.NDArray[np.float64]
    truncation_error: npt.NDArray[np.float64]
    float32_weight_distance: npt.NDArray[np.float64]
    float32_error: npt.NDArray[np.float64]
    radius: float
    count: int

    def __repr__(self) -> str:
        return result_repr(self)


def truncation_study(model: Model, *, k: npt.ArrayLike = (2000, 2048), count: int = 64,
                     seed: int = 0, schedule: str = "edm", steps: int = 18) -> TruncationStudy:
    """What the approximate ideal denoisers of the literature drop, against the exact one.

    For a data set and ``count`` points of p_t at each level of the grid of ``steps`` steps of
    ``schedule`` (the levels a sampler visits): the posterior mass that top-k truncation (the k
    atoms of largest weight, renormalized; k = 2000 or 2048 in published codes) neglects and the
    error of its denoiser, and the weight distance and error of a single-precision denoiser
    (float32 distances in the Gram form, softmax and weighted sum). Every figure is measured
    against the exact float64 posterior.

    Parameters
    ----------
    model : Model
        A data-set model (Dirac components) with identity noise.
    k : sequence of int, default (2000, 2048)
        The truncations to measure, each at least 1.
    count : int, default 64
        The points of p_t per level.
    seed : int, default 0
        The seed of the points.
    schedule : str, default "edm"
        A noise schedule (see :class:`Schedule`), whose grid gives the levels.
    steps : int, default 18
        The number of steps of the grid: as many levels.

    Returns
    -------
    TruncationStudy

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model`, or an argument has the wrong type.
    TweedieError
        If the model is not a data set with Σ = I, a k is not a positive integer, or ``count`` or
        ``steps`` is out of range.

    Examples
    --------
    >>> import tweedie
    >>> study = tweedie.truncation_study(tweedie.Model.builtin("spiral-dirac"), k=[10, 100], count=16, steps=6)
    >>> study.neglected_mass.shape, study.float32_error.shape
    ((6, 2, 2), (6, 2))
    """
    require_model(model, "truncation_study")
    ks = numbers(k, "k")
    if ks.ndim > 1:
        raise TweedieError(f"k: expected a sequence of integers, got an array of shape {ks.shape}")
    ks = np.ascontiguousarray(ks.reshape(-1))
    out = ctypes.c_void_p()
    check(lib.tweedie_truncation_study(model._handle, pointer(ks), ks.size, integer(count, "count"), _seed(seed),
                                       text(schedule, "schedule"), integer(steps, "steps"), ctypes.byref(out)))
    study = json.loads(take_string(out))
    levels, n_k = study["levels"], len(study["ks"])

    def per_level(key: str, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
        """A figure at every level, as an (L, *shape) array (JSON's null, a non-finite figure, as NaN)."""
        return np.array([level[key] for level in levels], dtype=np.float64).reshape((len(levels),) + shape)

    return TruncationStudy(np.array(study["ks"], dtype=np.int64), per_level("sigma", ()), per_level("alpha", ()),
                           per_level("neglected_mass", (n_k, 2)), per_level("truncation_error", (n_k, 2)),
                           per_level("float32_weight_distance", (2,)), per_level("float32_error", (2,)),
                           float(study["radius"]), int(study["count"]))
