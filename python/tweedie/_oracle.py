"""The exact oracle of a model, and the noise schedules that give its levels (α_t, σ_t)."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Optional

import numpy as np
import numpy.typing as npt

from ._arguments import numbers, points, text
from ._display import result_repr
from ._errors import TweedieError
from ._models import Model, require_model
from ._native import check, lib, pointer

__all__ = ["Schedule", "Oracle", "OracleResult"]

_FIELDS = ("log_density", "responsibilities", "denoised", "noise", "standardized_noise", "score", "divergence")


class Schedule:
    """A noise schedule: α_t, σ_t, λ_t and their derivatives, vectorized over t.

    Parameters
    ----------
    name : str
        The schedule's name, with options after colons as on the command line: ``vp-linear``,
        ``vp-cosine``, ``edm``, ``edm:sigma_max=160``, ``ddpm:steps=500``, ...

    Attributes
    ----------
    name : str
        The name given.
    time_range : tuple of float
        (t_min, t_max), the times the schedule is defined on.

    Raises
    ------
    TweedieTypeError
        If ``name`` is not a string.
    TweedieError
        If no schedule has that name, or an option is out of range.

    Examples
    --------
    >>> import tweedie
    >>> schedule = tweedie.Schedule("edm")
    >>> schedule.time_range
    (0.002, 80.0)
    >>> schedule.sigma([0.5, 2.0]).tolist()
    [0.5, 2.0]
    """

    def __init__(self, name: str) -> None:
        text(name, "schedule")
        self.name = name
        bounds = np.empty(2)
        self._evaluate(np.empty(0), range_out=bounds)
        self.time_range = (float(bounds[0]), float(bounds[1]))

    def _evaluate(self, t: npt.ArrayLike, range_out: Optional[np.ndarray] = None) -> tuple[np.ndarray, ...]:
        """(α, σ, λ, dα/dt, dσ/dt) at the times ``t``, each of t's shape."""
        times = np.ascontiguousarray(numbers(t, "t"))
        flat = times.reshape(-1)
        outs = [np.empty(flat.size) for _ in range(5)]
        check(lib.tweedie_schedule_evaluate(self.name.encode(), pointer(flat), flat.size,
                                            *(pointer(o) for o in outs), pointer(range_out)))
        return tuple(o.reshape(times.shape) for o in outs)

    def alpha(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """α_t, the scale of the data at time t.

        Parameters
        ----------
        t : array_like
            Times, of any shape.

        Returns
        -------
        ndarray of float64
            α_t, of the shape of ``t``.

        Raises
        ------
        TweedieTypeError
            If ``t`` is not an array of numbers.
        TweedieError
            If a time lies outside :attr:`time_range`.
        """
        return self._evaluate(t)[0]

    def sigma(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """σ_t, the scale of the noise at time t.

        Parameters
        ----------
        t : array_like
            Times, of any shape.

        Returns
        -------
        ndarray of float64
            σ_t, of the shape of ``t``.

        Raises
        ------
        TweedieTypeError
            If ``t`` is not an array of numbers.
        TweedieError
            If a time lies outside :attr:`time_range`.
        """
        return self._evaluate(t)[1]

    def log_snr(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """λ_t = log(α_t/σ_t), the log signal-to-noise ratio.

        Parameters
        ----------
        t : array_like
            Times, of any shape.

        Returns
        -------
        ndarray of float64
            λ_t, of the shape of ``t``.

        Raises
        ------
        TweedieTypeError
            If ``t`` is not an array of numbers.
        TweedieError
            If a time lies outside :attr:`time_range`.
        """
        return self._evaluate(t)[2]

    def alpha_derivative(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """dα_t/dt.

        Parameters
        ----------
        t : array_like
            Times, of any shape.

        Returns
        -------
        ndarray of float64
            dα/dt, of the shape of ``t``.

        Raises
        ------
        TweedieTypeError
            If ``t`` is not an array of numbers.
        TweedieError
            If a time lies outside :attr:`time_range`.
        """
        return self._evaluate(t)[3]

    def sigma_derivative(self, t: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """dσ_t/dt.

        Parameters
        ----------
        t : array_like
            Times, of any shape.

        Returns
        -------
        ndarray of float64
            dσ/dt, of the shape of ``t``.

        Raises
        ------
        TweedieTypeError
            If ``t`` is not an array of numbers.
        TweedieError
            If a time lies outside :attr:`time_range`.
        """
        return self._evaluate(t)[4]

    def __repr__(self) -> str:
        return f"Schedule({self.name!r})"


def _levels(count: int, alpha: Optional[npt.ArrayLike], sigma: Optional[npt.ArrayLike], t: Optional[npt.ArrayLike],
            schedule: Optional[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(α, σ) as arrays of as many values each, from alpha/sigma or t/schedule; the library checks
    that there is one value or one per point, and needs one at least: no points and no levels (one
    per point of none) pass one level, for no rows."""
    a, s = _given_levels(count, alpha, sigma, t, schedule)
    if a.size == 0 and count == 0:
        return np.ones(1), np.ones(1)
    return a, s


def _given_levels(count: int, alpha: Optional[npt.ArrayLike], sigma: Optional[npt.ArrayLike], t: Optional[npt.ArrayLike],
                  schedule: Optional[str]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(α, σ) as given, from alpha/sigma or t/schedule."""
    if t is None and schedule is None and type(alpha) is float and type(sigma) is float:
        return np.array([alpha]), np.array([sigma])
    if t is not None or schedule is not None:
        if t is None or schedule is None or alpha is not None or sigma is not None:
            raise TweedieError("give either t and schedule, or alpha and sigma")
        times = np.atleast_1d(numbers(t, "t"))
        if times.size not in (1, count):  # the library would name alpha and sigma
            raise TweedieError(f"t: need a scalar or an array of shape ({count},), got shape {times.shape}")
        named = Schedule(schedule)
        return named.alpha(times), named.sigma(times)
    if alpha is None or sigma is None:
        raise TweedieError("give either t and schedule, or alpha and sigma")
    a = np.ascontiguousarray(numbers(alpha, "alpha").reshape(-1))
    s = np.ascontiguousarray(numbers(sigma, "sigma").reshape(-1))
    if a.size == 1 and s.size == count and count > 1:
        a = np.full(count, a[0])
    if s.size == 1 and a.size == count and count > 1:
        s = np.full(count, s[0])
    if a.size != s.size:  # the library reads as many of each
        raise TweedieError(f"alpha, sigma: need scalars or arrays of shape ({count},), got {a.shape} and {s.shape}")
    return a, s


@dataclass(frozen=True, repr=False)
class OracleResult:
    """Every exact posterior quantity for a batch of B points, as :meth:`Oracle.evaluate` returns it.

    Attributes
    ----------
    log_density : ndarray of float64, shape (B,)
        log p_t(x_t).
    responsibilities : ndarray of float64, shape (B, K)
        p(k | x_t), the posterior weight of each component.
    denoised : ndarray of float64, shape (B, D)
        E[x_0 | x_t], the exact denoiser.
    noise : ndarray of float64, shape (B, D)
        E[ε | x_t], with ε = x_t − α x_0 ~ N(0, σ²Σ).
    standardized_noise : ndarray of float64, shape (B, D)
        E[z | x_t], with z = R⁻¹ε/σ (Σ = R Rᵀ): the ε-prediction of a network.
    score : ndarray of float64, shape (B, D)
        ∇ log p_t(x_t).
    divergence : ndarray of float64, shape (B,)
        tr(Σ ∇² log p_t(x_t)).
    posterior_covariance : ndarray of float64, shape (B, D, D), or None
        Cov[x_0 | x_t], when asked for with ``covariance=True``.
    component_means : ndarray of float64, shape (B, K, D), or None
        E[x_0 | x_t, k] for each component, when asked for with ``components=True``.
    """

    log_density: npt.NDArray[np.float64]
    responsibilities: npt.NDArray[np.float64]
    denoised: npt.NDArray[np.float64]
    noise: npt.NDArray[np.float64]
    standardized_noise: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    divergence: npt.NDArray[np.float64]
    posterior_covariance: Optional[npt.NDArray[np.float64]] = None
    component_means: Optional[npt.NDArray[np.float64]] = None

    def __repr__(self) -> str:
        return result_repr(self)


class Oracle:
    """The exact oracle of a model: factorizes once, then evaluates any batch at any noise level.

    At x_t = α x_0 + σ ε with x_0 ~ p_0 and ε ~ N(0, Σ), the oracle gives the exact denoiser,
    score, density and every other posterior quantity (:class:`OracleResult`). Calls release the
    GIL: threads may share an oracle.

    Parameters
    ----------
    model : Model
        The model whose oracle this is.
    precision : {"float64", "float32"}, default "float64"
        ``"float32"`` (data-set models only) runs :meth:`denoise`'s matrix products in single
        precision on centred data: within about 1e-5 of the data's spread of the float64 result,
        and dependent on the batch at that level. :meth:`evaluate` stays in float64.

    Attributes
    ----------
    model : Model
        The model.
    precision : str
        The precision of :meth:`denoise`.
    dimension : int
        D, the model's dimension.

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model` or ``precision`` is not a string.
    TweedieError
        If ``precision`` is unknown, or ``float32`` for a model that is not a data set.

    Examples
    --------
    >>> import tweedie
    >>> oracle = tweedie.Oracle(tweedie.Model.builtin("ring8"))
    >>> oracle.denoise([[4.0, 0.0]], alpha=0.9, sigma=0.4).shape
    (1, 2)
    """

    def __init__(self, model: Model, precision: str = "float64") -> None:
        require_model(model, "Oracle")
        encoded = text(precision, "precision")
        self.model = model
        self.precision = precision
        self._dimension = model.dimension
        self._components = model.components
        self._shape = model.shape
        handle = ctypes.c_void_p()
        check(lib.tweedie_oracle_new(model._handle, encoded, ctypes.byref(handle)))
        self._handle: Optional[ctypes.c_void_p] = handle

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            lib.tweedie_oracle_free(handle)
            self._handle = None

    @property
    def dimension(self) -> int:
        """D, the model's dimension."""
        return self._dimension

    def evaluate(self, x: npt.ArrayLike, *, t: Optional[npt.ArrayLike] = None, schedule: Optional[str] = None,
                 alpha: Optional[npt.ArrayLike] = None, sigma: Optional[npt.ArrayLike] = None,
                 covariance: bool = False, components: bool = False) -> OracleResult:
        """Every exact posterior quantity at x_t.

        The noise level is given either by ``t`` and ``schedule`` or by ``alpha`` and ``sigma``.

        Parameters
        ----------
        x : array_like, shape (B, D) or (D,)
            The noisy points x_t.
        t : array_like, optional
            The time, a scalar or one per point, of ``schedule``.
        schedule : str, optional
            A schedule's name (see :class:`Schedule`).
        alpha, sigma : array_like, optional
            The scales α and σ, each a scalar or one per point.
        covariance : bool, default False
            Whether to compute Cov[x_0 | x_t] (``posterior_covariance``, B D² numbers).
        components : bool, default False
            Whether to compute the component means (``component_means``, B K D numbers).

        Returns
        -------
        OracleResult

        Raises
        ------
        TweedieTypeError
            If ``x`` or a level is not an array of numbers.
        TweedieError
            If the points do not have D coordinates, a level is out of range, or neither or both
            ways of giving the level are used.

        Examples
        --------
        >>> import tweedie
        >>> oracle = tweedie.Oracle(tweedie.Model.builtin("ring8"))
        >>> result = oracle.evaluate([[4.0, 0.0]], t=0.3, schedule="vp-cosine")
        >>> result.denoised.shape, result.responsibilities.shape
        ((1, 2), (1, 8))
        """
        array = points(x, self._dimension, shape=self._shape)
        b, d, k = array.shape[0], self._dimension, self._components
        a, s = _levels(b, alpha, sigma, t, schedule)
        shapes = [(b,), (b, k), (b, d), (b, d), (b, d), (b, d), (b,)]
        try:
            out = {name: np.empty(shape) for name, shape in zip(_FIELDS, shapes)}
            cov = np.empty((b, d, d)) if covariance else None
            means = np.empty((b, k, d)) if components else None
        except (MemoryError, ValueError):  # ValueError: a size beyond numpy's
            asked = (", with covariances" if covariance else "") + (", with component means" if components else "")
            raise TweedieError(f"x: the outputs for {b} points (D = {d}, K = {k}{asked}) do not fit in memory") from None
        check(lib.tweedie_oracle_evaluate(self._handle, pointer(array), b, d, pointer(a), pointer(s), a.size,
                                          *(pointer(out[name]) for name in _FIELDS), pointer(cov), pointer(means)))
        return OracleResult(**out, posterior_covariance=cov, component_means=means)

    def denoise(self, x: npt.ArrayLike, *, t: Optional[npt.ArrayLike] = None, schedule: Optional[str] = None,
                alpha: Optional[npt.ArrayLike] = None, sigma: Optional[npt.ArrayLike] = None) -> npt.NDArray[np.float64]:
        """E[x_0 | x_t] alone: the fast path, the same numbers as ``evaluate(...).denoised``.

        Parameters
        ----------
        x : array_like, shape (B, D) or (D,)
            The noisy points x_t.
        t : array_like, optional
            The time, a scalar or one per point, of ``schedule``.
        schedule : str, optional
            A schedule's name (see :class:`Schedule`).
        alpha, sigma : array_like, optional
            The scales α and σ, each a scalar or one per point. Two Python floats are the
            cheapest call (one level for every row, as in a sampler's step).

        Returns
        -------
        ndarray of float64, shape (B, D)
            The denoised points.

        Raises
        ------
        TweedieTypeError
            If ``x`` or a level is not an array of numbers.
        TweedieError
            If the points do not have D coordinates, a level is out of range, or neither or both
            ways of giving the level are used.
        """
        array = points(x, self._dimension, shape=self._shape)
        out = np.empty_like(array)
        if t is None and schedule is None and type(alpha) is float and type(sigma) is float:
            # One level for every row, passed by value: the cheapest call (a sampler step).
            check(lib.tweedie_oracle_denoise_level(self._handle, array.ctypes.data, array.shape[0], array.shape[1],
                                                   alpha, sigma, out.ctypes.data))
            return out
        a, s = _levels(array.shape[0], alpha, sigma, t, schedule)
        check(lib.tweedie_oracle_denoise(self._handle, pointer(array), array.shape[0], array.shape[1],
                                         pointer(a), pointer(s), a.size, pointer(out)))
        return out
