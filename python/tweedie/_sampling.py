"""Sampling with Tweedie's samplers, and the KL of a sampler's output to the exact p_0.

:func:`sample` sends the library one JSON sampling request (the C ABI's ``tweedie_sample``); the
library checks every field and every rule between them.
"""
from __future__ import annotations

import ctypes
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, Callable, Optional, Union, cast

import numpy as np
import numpy.typing as npt

from . import _native
from ._arguments import flag, integer, number, numbers, one_line, points, shown, text
from ._arguments import seed as _seed
from ._datasets import PruningCertificate, last_certificate
from ._errors import TweedieError, TweedieTypeError
from ._inverse import _Observation
from ._models import Model, require_model
from ._native import check, lib, pointer

__all__ = ["GUIDANCE_METHODS", "sample", "SamplerKL", "sampler_kl", "SamplerPathKL", "sampler_path_kl"]

#: The methods of guided sampling (``sample(..., guidance=...)``): DPS, ΠGDM, TMPD, MMPS, and the
#: exact posterior's own oracle.
GUIDANCE_METHODS = ("dps", "pigdm", "tmpd", "mmps", "exact")

Network = Callable[[np.ndarray, np.ndarray, np.ndarray], npt.ArrayLike]


def sample(model: Union[Model, Network], *, sampler: str, schedule: str, count: int, steps: Optional[int] = None,
           seed: int = 0, init: Optional[npt.ArrayLike] = None, grid: Optional[str] = None,
           times: Optional[npt.ArrayLike] = None,
           dimension: Optional[int] = None, prediction: str = "x0", noise_model: Optional[Model] = None,
           batch_size: Optional[int] = None, guidance: Optional[str] = None, operator: Optional[npt.ArrayLike] = None,
           y: Optional[npt.ArrayLike] = None, noise_std: Optional[float] = None,
           noise_covariance: Optional[npt.ArrayLike] = None, zeta: Optional[float] = None, precision: str = "float64",
           prune: Optional[float] = None, return_certificate: bool = False,
           **sampler_options: Any) -> Union[npt.NDArray[np.float64], tuple[npt.NDArray[np.float64], PruningCertificate]]:
    """Samples with one of Tweedie's samplers, bit for bit as ``tweedie sample`` from the same seed.

    The denoiser is a :class:`Model`'s exact oracle or a Python callable (a network). With
    ``guidance``, the sampler is guided towards an observation y = A x_0 + n given by
    ``operator``, ``y`` and ``noise_std`` or ``noise_covariance``. With ``prune``, a data set's
    oracle skips the components it proves negligible (see :class:`PrunedDenoiser`).

    Parameters
    ----------
    model : Model or callable
        A :class:`Model`, whose exact oracle is the denoiser, or a callable ``f(x, alpha, sigma)``
        (x of shape (B, D), alpha and sigma of shape (B,)) returning the network's output of type
        ``prediction``, shape (B, D).
    sampler : str
        ``euler``, ``heun``, ``dpmpp-2m``, ``ddim``, ``ddpm``, ``dpmpp-2m-sde``,
        ``euler-maruyama``, ``pc``, ``rk45`` or ``exact``; options may follow after colons
        (``ddim:eta=1``) or be given as keyword arguments.
    schedule : str
        A noise schedule (see :class:`Schedule`).
    count : int
        The number of samples.
    steps : int, optional
        The number of steps (not for the adaptive ``rk45``).
    seed : int, default 0
        The seed; negative seeds wrap to 64 bits, as in numpy.
    init : array_like, shape (count, D), optional
        The standard normals of the starting noise, instead of those drawn from ``seed`` (for a
        model with a zero centre of mass, shape (count, model.degrees_of_freedom): the noise in
        its reduced coordinates).
    grid : str, optional
        The time grid: ``uniform``, ``log-snr``, ``karras``, ``linspace``, ``leading`` or
        ``trailing`` (the schedule's default when None).
    times : array_like, optional
        An explicit grid instead of ``steps`` and ``grid``: the times t_0 > … > t_{N−1} of the
        schedule (σ for ``edm``; a final 0 is dropped), e.g. ``optimal_grid(...).sigmas``; every
        sampler then ends at σ = 0.
    dimension : int, optional
        D, for a callable ``model`` (required then).
    prediction : {"x0", "epsilon", "v", "score", "flow"}, default "x0"
        What a callable ``model`` predicts.
    noise_model : Model, optional
        For a callable ``model``: the model whose noise covariance Σ is the network's (the
        identity when None).
    batch_size : int, optional
        Samples per model call (the samples do not depend on it); 4096 by default, fewer above
        D = 256.
    guidance : str, optional
        One of :data:`GUIDANCE_METHODS`. A callable's posterior covariances come from finite
        differences of its denoiser; ``exact`` needs a :class:`Model`.
    operator : array_like, shape (d_y, D), optional
        The operator A of the observation.
    y : array_like, shape (d_y,), optional
        The observation.
    noise_std : float, optional
        σ_y, for the observation noise Σ_y = σ_y² I.
    noise_covariance : array_like, shape (d_y, d_y), optional
        Σ_y.
    zeta : float, optional
        DPS's guidance strength (1 when not given; for ``guidance="dps"`` only).
    precision : {"float64", "float32"}, default "float64"
        ``"float32"`` runs a data-set model's oracle in single precision (see :class:`Oracle`;
        the samples then depend on the batch size at that level).
    prune : float, optional
        ε > 0: certified pruning of a data-set model's oracle (Dirac components, Σ = I; float64,
        unguided): each denoiser call is certified within ε ‖x_t‖ of the exact one, point by
        point. None for the exact sum over every component.
    return_certificate : bool, default False
        Whether to return the run's :class:`PruningCertificate` with the samples (needs
        ``prune``).
    **sampler_options
        The sampler's options: ``eta=0.5``, ``s_churn=2``, ``s_noise``, ``s_tmin``, ``s_tmax``,
        ``variance``, ``snr``, ``rtol=1e-8``, ``atol``.

    Returns
    -------
    ndarray of float64, shape (count, D)
        The samples; (count, N, d) for a model whose points have the shape (N, d).
    PruningCertificate
        With ``return_certificate=True`` only, after the samples (a tuple): the largest certified
        error of any denoiser call, and how much was pruned.

    Raises
    ------
    TweedieTypeError
        If ``model`` is neither a :class:`Model` nor a callable, or ``seed``, ``count``, ``steps``,
        ``batch_size``, ``dimension``, ``zeta``, a string or an array argument has the wrong type.
    TweedieError
        If the request breaks one of the library's rules (the message names the argument), the
        callable raises (KeyboardInterrupt and SystemExit pass through as they are) or returns
        anything but a finite array of numbers of shape (B, D), or ``return_certificate`` is
        asked for without ``prune``.

    Examples
    --------
    >>> import tweedie
    >>> model = tweedie.Model.builtin("ring8")
    >>> tweedie.sample(model, sampler="heun", schedule="vp-linear", steps=18, count=100, seed=1).shape
    (100, 2)
    """
    _check_types(sampler=sampler, schedule=schedule, grid=grid, prediction=prediction, precision=precision,
                 guidance=guidance, steps=steps, batch_size=batch_size, zeta=zeta)
    if flag(return_certificate, "return_certificate") and prune is None:
        raise TweedieError("return_certificate: needs prune= (only a pruned run has a certificate)")
    request: dict[str, Any] = {"sampler": sampler, "sampler_options": sampler_options, "schedule": schedule,
                               "grid": grid, "steps": steps, "times": _times(times), "count": count, "seed": _seed(seed), "batch_size": batch_size,
                               "precision": precision, "prune": None if prune is None else number(prune, "prune")}
    handle, d, shape = _driver(model, dimension, prediction, noise_model, request)
    if guidance is not None:
        request["guidance"] = {"method": guidance, "zeta": zeta}  # zeta None: left out (1 for dps)
    observation = _observation(operator, y, noise_std, noise_covariance, d)
    if isinstance(model, Model) and model.zero_centre_of_mass:
        # Standard normals in the model's reduced coordinates: one per degree of freedom (§13.1).
        z = _initial(init, count, model.degrees_of_freedom, (model.degrees_of_freedom,))
    else:
        z = _initial(init, count, d, shape)
    encoded = _request_json(request)
    out = _output(count, d)
    callback_error: list[BaseException] = []
    callback = _native.MODEL_CALLBACK() if "network" not in request else _native.MODEL_CALLBACK(
        _network_bridge(cast(Network, model), callback_error))
    status = _run(handle, callback, encoded, observation, z, out)
    _raise_callback_error(callback_error)
    check(status)
    samples = out.reshape((out.shape[0],) + tuple(shape))
    if return_certificate:  # the library keeps it per thread: read it on this one, right after the run
        return samples, last_certificate()
    return samples


def _times(times: Optional[npt.ArrayLike]) -> Optional[list[float]]:
    """An explicit grid as a list of floats, a final 0 (k-diffusion's last level) dropped."""
    if times is None:
        return None
    array = numbers(times, "times").ravel()
    if not np.all(np.isfinite(array)):
        raise TweedieError("times: must be finite numbers")
    values = array.tolist()
    return values[:-1] if values and values[-1] == 0 else values


def _check_types(*, steps: Optional[int], batch_size: Optional[int], zeta: Optional[float],
                 **strings: Optional[str]) -> None:
    """Raises :class:`~tweedie.TweedieTypeError` for an argument of :func:`sample` of the wrong type
    (the library checks the values): strings, integers and ζ, each when given."""
    for name, value in strings.items():
        if value is not None:
            text(value, name)
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if value is not None:
            integer(value, name)
    if zeta is not None:
        number(zeta, "zeta")


def _driver(model: Any, dimension: Any, prediction: str, noise_model: Optional[Model],
            request: dict[str, Any]) -> tuple[Optional[ctypes.c_void_p], int, tuple[int, ...]]:
    """(model handle, D, point shape) of what drives the sampler; a callable adds the request's
    ``network`` (its handle is the noise model's, if any)."""
    if isinstance(model, Model):
        return model._handle, model.dimension, model.shape
    if not callable(model):
        raise TweedieTypeError(f"sample: expected a tweedie.Model or a callable, got {type(model).__name__}")
    if dimension is None:
        raise TweedieError("sample: a callable model needs dimension=")
    handle = require_model(noise_model, "noise_model")._handle if noise_model is not None else None
    d = integer(dimension, "dimension")
    request["network"] = {"prediction": prediction, "dimension": d}
    return handle, d, (d,)


def _observation(operator: Optional[npt.ArrayLike], y: Optional[npt.ArrayLike], noise_std: Optional[float],
                 noise_covariance: Optional[npt.ArrayLike], dimension: int) -> Optional[_Observation]:
    """The observation guidance steers towards, or None when none is given."""
    if operator is None and y is None and noise_std is None and noise_covariance is None:
        return None
    if operator is None or y is None:
        raise TweedieError("guidance: needs operator= and y= (and noise_std= or noise_covariance=)")
    return _Observation(operator, y, noise_std, noise_covariance, dimension)


def _initial(init: Optional[npt.ArrayLike], count: Any, dimension: int,
             shape: tuple[int, ...]) -> Optional[npt.NDArray[np.float64]]:
    """The starting standard normals as a (count, D) array, or None."""
    z = None if init is None else points(init, dimension, "init", shape)
    if z is not None and z.shape[0] != _count(count):  # the library reads count × D numbers from it
        raise TweedieError(f"init: {z.shape[0]} rows, expected count = {count}")
    return z


def _output(count: Any, dimension: int) -> npt.NDArray[np.float64]:
    """The (count, D) buffer the library writes the samples to (empty for a count or a D the library
    refuses: it says why)."""
    rows = _count(count)
    try:
        return np.empty((rows, max(dimension, 0)))
    except (MemoryError, ValueError):  # ValueError: a size beyond numpy's
        raise TweedieError(f"count: {count} samples × D = {dimension} do not fit in memory") from None


def _run(handle: Optional[ctypes.c_void_p], callback: Any, request: bytes, observation: Optional[_Observation],
         z: Optional[np.ndarray], out: np.ndarray) -> int:
    """Calls ``tweedie_sample``; returns its status."""
    observation_handle = observation.handle() if observation is not None else None
    try:
        return int(lib.tweedie_sample(handle, callback, None, request, observation_handle, pointer(z), pointer(out)))
    finally:
        if observation_handle is not None:
            lib.tweedie_observation_free(observation_handle)


def _raise_callback_error(errors: list[BaseException]) -> None:
    """Raises what a Python network raised during the call: a :class:`TweedieError` as it is, any
    other exception as a TweedieError (on one line) caused by it; KeyboardInterrupt and SystemExit
    pass through unchanged."""
    if errors:
        error = errors[0]
        if isinstance(error, TweedieError) or not isinstance(error, Exception):
            raise error
        raise TweedieError(f"the model raised {type(error).__name__}: {one_line(error)}") from error


def _count(count: Any) -> int:
    """``count`` as an int (the library checks its range)."""
    return max(integer(count, "count"), 0)


def _request_json(request: Mapping[str, Any]) -> bytes:
    """A sampling request as the library's JSON (None fields left out); numpy scalars become numbers,
    and numpy arrays lists (the library names the field that cannot take one)."""
    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: plain(item) for key, item in value.items() if item is not None}
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):  # JSON has no NaN: the library reads these
            return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        return value
    try:
        return json.dumps(plain(request), allow_nan=False).encode()
    except TypeError as error:
        raise TweedieTypeError(f"request: {error}") from None
    except ValueError as error:
        raise TweedieError(f"request: {error}") from None


def _network_bridge(model: Network, errors: list[BaseException]) -> Callable[..., int]:
    """The C callback around a Python network ``f(x, alpha, sigma)`` (alpha and sigma one per row);
    an exception is kept in ``errors`` and reported after the call, never lost."""
    def bridge(_context: Any, x: Any, rows: int, columns: int, alpha: float, sigma: float, out: Any) -> int:
        try:
            xs = np.ctypeslib.as_array(x, shape=(rows, columns)).copy()
            returned = model(xs, np.full(rows, alpha), np.full(rows, sigma))
            result = _network_output(returned, rows, columns, alpha, sigma)
            np.ctypeslib.as_array(out, shape=(rows, columns))[:] = result
            return 0
        except BaseException as error:  # reported after the call, never lost
            errors.append(error)
            return 1
    return bridge


def _network_output(returned: Any, rows: int, columns: int, alpha: float, sigma: float) -> npt.NDArray[np.float64]:
    """What a Python network returned, as the (rows, columns) float64 array the sampler reads: an array
    of numbers (float32 and integers converted; not bool, complex, strings or objects), of that shape,
    finite."""
    result = numbers(returned, "the model's output")
    if result.shape != (rows, columns):
        raise TweedieError(f"the model returned shape {result.shape}, expected {(rows, columns)}")
    bad = np.flatnonzero(~np.isfinite(result))
    if bad.size:
        row, column = divmod(int(bad[0]), columns)
        raise TweedieError(f"the model returned {result[row, column]} at row {row}, coordinate {column} "
                           f"(α = {alpha}, σ = {sigma})")
    return result


def _sampler_text(sampler: str, options: Mapping[str, Any]) -> bytes:
    """A sampler with its options as the library parses it: ``name:option=value:...``."""
    parts = [text(sampler, "sampler").decode()]
    for key, value in options.items():
        option = f"{key.replace('_', '-')}={value}"
        if option.count("=") != 1 or ":" in option:  # would read as another option
            raise TweedieError(f"{key}: {shown(value)} is not the value of an option (it holds ':' or '=')")
        parts.append(option)
    return ":".join(parts).encode()


def _steps(steps: Any) -> int:
    """``steps`` for the C ABI, which reads a negative count as "not given"."""
    value = integer(steps, "steps")
    if value < 0:
        raise TweedieError(f"steps: must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class SamplerKL:
    """KL(q_N ‖ p_0) of a deterministic sampler, from the exact density of its samples.

    As :func:`sampler_kl` returns it. With w = p_0/q_N at each sample, the control-variate estimate
    is mean(w − 1 + log(1/w)) and the plain estimate mean(log q_N − log p_0); :attr:`kl` is the
    control-variate estimate where at least a tenth of the samples are effective, else the plain one.

    Attributes
    ----------
    control_variate_kl : float
        The control-variate estimate of KL(q_N ‖ p_0).
    control_variate_standard_error : float
        Its standard error.
    plain_kl : float
        The plain estimate, mean(log q_N − log p_0).
    plain_standard_error : float
        Its standard error.
    effective_sample_size : float
        The effective sample size of the weights w.
    count : int
        The number of samples.
    reverse_kl : float or None
        KL(p_0 ‖ q_N) by importance weights with the same samples (None where the weights cannot
        be trusted).
    reverse_standard_error : float or None
        Its standard error.
    """

    control_variate_kl: float
    control_variate_standard_error: float
    plain_kl: float
    plain_standard_error: float
    effective_sample_size: float
    count: int
    reverse_kl: Optional[float] = None
    reverse_standard_error: Optional[float] = None

    @property
    def trustworthy(self) -> bool:
        """At least a tenth of the samples are effective: the control-variate form can be trusted."""
        return self.effective_sample_size >= 0.1 * self.count

    @property
    def kl(self) -> float:
        """The estimate of KL(q_N ‖ p_0): control-variate if :attr:`trustworthy`, else plain."""
        return self.control_variate_kl if self.trustworthy else self.plain_kl

    @property
    def standard_error(self) -> float:
        """The standard error of :attr:`kl`."""
        return self.control_variate_standard_error if self.trustworthy else self.plain_standard_error


@dataclass(frozen=True, eq=False)
class SamplerPathKL(Mapping[str, float]):
    """The path KL of a stochastic sampler to the exact reverse chain, as :func:`sampler_path_kl`
    returns it.

    It is also a read-only mapping of its four fields (``result["path_kl"]``, ``dict(result)``),
    as :func:`sampler_path_kl` returned a dict before.

    Attributes
    ----------
    path_kl : float
        The KL between the exact reverse chain on the sampler's grid and the sampler's chain.
    path_kl_se : float
        Its standard error.
    start_kl : float
        The starting mismatch KL(p_{t_0} ‖ N(0, σ_{t_0}² Σ)), part of ``path_kl``.
    start_kl_se : float
        Its standard error.
    """

    path_kl: float
    path_kl_se: float
    start_kl: float
    start_kl_se: float

    def __getitem__(self, name: str) -> float:
        if name not in self._names():
            raise KeyError(name)
        return float(getattr(self, name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(field.name for field in fields(self))


def sampler_kl(model: Model, *, sampler: str, schedule: str, count: int, steps: Optional[int] = None, seed: int = 0,
               start: str = "gaussian", **sampler_options: Any) -> SamplerKL:
    """KL(q_N ‖ p_0) of a deterministic sampler on a model's exact denoiser.

    The samples are those :func:`sample` draws from ``seed``; the density of each comes from its
    Jacobian, carried through the sampler.

    Parameters
    ----------
    model : Model
        The model; p_0 must have a density (no Dirac or singular components).
    sampler : str
        A deterministic linear sampler: ``euler``, ``heun`` (without churn), ``dpmpp-2m``, or
        ``ddim`` with eta = 0.
    schedule : str
        A noise schedule (see :class:`Schedule`).
    count : int
        The number of samples (at least 2).
    steps : int, optional
        The number of steps.
    seed : int, default 0
        The seed.
    start : {"gaussian", "marginal"}, default "gaussian"
        The starting law: N(0, σ_max²Σ), or the exact p_{t_max} (leaving the discretization error
        alone).
    **sampler_options
        The sampler's options, as for :func:`sample`.

    Returns
    -------
    SamplerKL

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model`, or an argument has the wrong type.
    TweedieError
        If the sampler is not deterministic and linear, p_0 has no density, or another argument is
        out of range.

    Examples
    --------
    >>> import tweedie
    >>> kl = tweedie.sampler_kl(tweedie.Model.builtin("ring8"), sampler="heun", schedule="edm", steps=32, count=200)
    >>> kl.count, kl.kl > 0
    (200, True)
    """
    require_model(model, "sampler_kl")
    out = np.empty(8)
    check(lib.tweedie_sampler_kl(model._handle, _sampler_text(sampler, sampler_options), text(schedule, "schedule"),
                                 -1 if steps is None else _steps(steps), integer(count, "count"),
                                 _seed(seed), text(start, "start"), pointer(out)))
    reverse = (None, None) if np.isnan(out[6]) else (float(out[6]), float(out[7]))
    return SamplerKL(float(out[0]), float(out[1]), float(out[2]), float(out[3]), float(out[4]), int(out[5]), *reverse)


def sampler_path_kl(model: Model, *, sampler: str, schedule: str, count: int, steps: int, seed: int = 0,
                    **sampler_options: Any) -> SamplerPathKL:
    """The path KL of a stochastic sampler with Gaussian steps to the exact reverse chain.

    The KL between the exact reverse chain on the sampler's grid and the sampler's chain, along
    ``count`` exact paths. It covers the grid levels (not the final denoising step) and bounds the
    KL of the sampler's law at its last grid level.

    Parameters
    ----------
    model : Model
        The model (a data set is fine: the path KL lives at σ > 0).
    sampler : str
        A sampler with Gaussian steps: ``ddpm``, ``ddim`` with eta > 0, ``euler-maruyama``.
    schedule : str
        A noise schedule (see :class:`Schedule`).
    count : int
        The number of paths.
    steps : int
        The number of steps.
    seed : int, default 0
        The seed.
    **sampler_options
        The sampler's options, as for :func:`sample`.

    Returns
    -------
    SamplerPathKL
        ``path_kl``, ``path_kl_se``, ``start_kl``, ``start_kl_se``; also readable as a mapping.

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`Model`, or an argument has the wrong type.
    TweedieError
        If the sampler does not take Gaussian steps, or an argument is out of range.

    Examples
    --------
    >>> import tweedie
    >>> kl = tweedie.sampler_path_kl(tweedie.Model.builtin("ring8"), sampler="ddpm", schedule="edm", steps=10, count=100)
    >>> kl.path_kl > 0, kl["path_kl"] == kl.path_kl
    (True, True)
    """
    require_model(model, "sampler_path_kl")
    out = np.empty(4)
    check(lib.tweedie_sampler_path_kl(model._handle, _sampler_text(sampler, sampler_options), text(schedule, "schedule"),
                                      _steps(steps), integer(count, "count"), _seed(seed), pointer(out)))
    return SamplerPathKL(float(out[0]), float(out[1]), float(out[2]), float(out[3]))
