"""Tweedie: diffusion models with an exact oracle, from Python.

The Swift library does the work; this package is a thin front over its C ABI::

    import numpy as np, tweedie
    model = tweedie.Model.builtin("ring8")
    oracle = tweedie.Oracle(model)
    result = oracle.evaluate(np.array([[4.0, 0.0]]), t=0.3, schedule="vp-cosine")
    result.denoised, result.score, result.log_density

    samples = tweedie.sample(model, sampler="heun", schedule="vp-linear", steps=18, count=2000, seed=1)
    tweedie.evaluate(samples, model, seed=1)["sliced_w2"]

    post = tweedie.posterior(model, operator=[[1.0, 0.3]], y=[1.2], noise_std=0.5)   # exact p(x_0 | y)
    guided = tweedie.sample(model, sampler="heun", schedule="edm", steps=30, count=2000, guidance="mmps",
                            operator=[[1.0, 0.3]], y=[1.2], noise_std=0.5)

Every error is a :class:`TweedieError` (a ``ValueError``) with the library's one-line message.
"""
from __future__ import annotations

import ctypes
import io
import json
from dataclasses import dataclass
from os import fspath
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _native
from ._native import TweedieError, check, lib, pointer, points, take_string

__all__ = ["TweedieError", "Model", "Oracle", "OracleResult", "Schedule", "Measurement", "Likelihood", "Posterior",
           "sample", "evaluate", "likelihood", "posterior", "GUIDANCE_METHODS", "SamplerKL", "sampler_kl", "sampler_path_kl"]
__version__ = "0.1.0"

ArrayLike = Union[np.ndarray, Sequence[float], Sequence[Sequence[float]]]


_NPZ_NUMBERS = 1 << 20
_JSON_FIELDS = {"name", "weights", "means", "covariance_type", "covariances", "noise", "shape"}


def _npz_archive(description: Mapping[str, Any]) -> Optional[bytes]:
    """The model as the bytes of an .npz model file, for models given as numpy arrays of at least
    2^20 numbers (a data set): a text round trip of millions of numbers would cost gigabytes. The
    .npz format's keys: noise.type, noise.covariance and noise.block_size become noise_type,
    noise_covariance and block_size. None for anything else (the JSON route, whose messages name
    the JSON fields)."""
    fields = dict(description)
    arrays = [fields.get("means"), fields.get("covariances")]
    if set(fields) - _JSON_FIELDS or sum(a.size for a in arrays if isinstance(a, np.ndarray)) < _NPZ_NUMBERS:
        return None
    out: dict = {}
    for key in ("weights", "means", "covariances"):
        if fields.get(key) is not None:
            out[key] = np.asarray(fields[key], dtype=np.float64)
    for key in ("covariance_type", "name"):
        if fields.get(key) is not None:
            out[key] = np.array(str(fields[key]))
    if fields.get("shape") is not None:
        out["shape"] = np.asarray(fields["shape"], dtype=np.int64)
    noise = fields.get("noise")
    if noise is not None:
        if not isinstance(noise, Mapping) or set(noise) - {"type", "covariance", "block_size"}:
            return None
        if noise.get("type") is not None:
            out["noise_type"] = np.array(str(noise["type"]))
        if noise.get("covariance") is not None:
            out["noise_covariance"] = np.asarray(noise["covariance"], dtype=np.float64)
        if noise.get("block_size") is not None:
            out["block_size"] = np.array([noise["block_size"]], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **out)
    return buffer.getvalue()


class Model:
    """A Gaussian-mixture prior p_0 with the covariance Σ of the forward noise."""

    def __init__(self, handle: ctypes.c_void_p):
        self._handle = handle
        self._description: Optional[dict] = None
        dimension, components, rank = ctypes.c_ssize_t(), ctypes.c_ssize_t(), ctypes.c_ssize_t()
        shape = (ctypes.c_ssize_t * 16)()
        check(lib.tweedie_model_sizes(handle, ctypes.byref(dimension), ctypes.byref(components), shape, 16,
                                      ctypes.byref(rank)))
        self._dimension, self._components = dimension.value, components.value
        self._shape = tuple(shape[i] for i in range(min(rank.value, 16))) if rank.value else (dimension.value,)

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            lib.tweedie_model_free(handle)
            self._handle = None

    @classmethod
    def builtin(cls, name: str) -> "Model":
        """A built-in model: ``ring8``, ``chain16`` or ``spiral-dirac``."""
        handle = ctypes.c_void_p()
        check(lib.tweedie_model_builtin(name.encode(), ctypes.byref(handle)))
        return cls(handle)

    @classmethod
    def load(cls, path) -> "Model":
        """A model file: ``.json`` or ``.npz`` (the format of ``tweedie model convert``)."""
        handle = ctypes.c_void_p()
        check(lib.tweedie_model_load(fspath(path).encode(), ctypes.byref(handle)))
        return cls(handle)

    @classmethod
    def from_dict(cls, description: Mapping[str, Any]) -> "Model":
        """A model from the fields of the JSON model format (weights, means, covariance_type,
        covariances, noise, shape, name)."""
        def plain(value):
            if isinstance(value, np.ndarray):
                return value.tolist()
            if isinstance(value, (np.floating, np.integer)):
                return value.item()
            if isinstance(value, Mapping):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value
        handle = ctypes.c_void_p()
        archive = _npz_archive(description)
        if archive is not None:
            check(lib.tweedie_model_from_npz(archive, len(archive), ctypes.byref(handle)))
            return cls(handle)
        try:
            text = json.dumps(plain(dict(description)), allow_nan=False).encode()
        except (TypeError, ValueError) as error:
            raise TweedieError(f"model: {error}") from None
        check(lib.tweedie_model_from_json(text, len(text), ctypes.byref(handle)))
        return cls(handle)

    @classmethod
    def from_sklearn(cls, gm, noise: Optional[ArrayLike] = None, shape: Optional[Sequence[int]] = None,
                     name: Optional[str] = None) -> "Model":
        """A fitted ``sklearn.mixture.GaussianMixture`` (any covariance type) as the prior, with
        noise covariance ``noise``: None (identity), a (D,) diagonal or a (D, D) matrix."""
        for attribute in ("weights_", "means_", "covariances_", "covariance_type"):
            if not hasattr(gm, attribute):
                raise TweedieError(f"from_sklearn: {type(gm).__name__} has no {attribute} (is it a fitted GaussianMixture?)")
        description: dict = {"weights": np.asarray(gm.weights_, dtype=np.float64),
                             "means": np.asarray(gm.means_, dtype=np.float64),
                             "covariance_type": gm.covariance_type,
                             "covariances": np.asarray(gm.covariances_, dtype=np.float64)}
        # scikit-learn's weights sum to one only to rounding; the library checks within 1e-9.
        description["weights"] = description["weights"] / description["weights"].sum()
        if noise is not None:
            sigma = np.asarray(noise, dtype=np.float64)
            description["noise"] = {"type": "diagonal" if sigma.ndim == 1 else "full", "covariance": sigma}
        if shape is not None:
            description["shape"] = list(shape)
        if name is not None:
            description["name"] = name
        return cls.from_dict(description)

    def to_dict(self) -> dict:
        """The model's fields, as in the JSON model format."""
        if self._description is None:
            out = ctypes.c_void_p()
            check(lib.tweedie_model_to_json(self._handle, ctypes.byref(out)))
            self._description = json.loads(take_string(out))
        return self._description

    def save(self, path) -> None:
        """Writes the model (``.json`` or ``.npz``, atomically)."""
        check(lib.tweedie_model_save(self._handle, fspath(path).encode()))

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def components(self) -> int:
        return self._components

    @property
    def shape(self) -> tuple:
        """The shape of one point, e.g. (16, 3); (D,) when none is set."""
        return self._shape

    @property
    def weights(self) -> np.ndarray:
        return np.array(self.to_dict()["weights"], dtype=np.float64)

    @property
    def means(self) -> np.ndarray:
        return np.array(self.to_dict()["means"], dtype=np.float64)

    @property
    def covariance_type(self) -> str:
        return self.to_dict()["covariance_type"]

    @property
    def name(self) -> Optional[str]:
        return self.to_dict().get("name")

    def log_density(self, x: ArrayLike) -> np.ndarray:
        """log p_0(x) for each point, exactly (not for Dirac or singular components)."""
        array = points(x, self.dimension)
        out = np.empty(array.shape[0])
        check(lib.tweedie_model_log_density(self._handle, pointer(array), array.shape[0], array.shape[1], pointer(out)))
        return out

    def __repr__(self) -> str:
        return f"Model({self.name!r}, D={self.dimension}, K={self.components}, {self.covariance_type})"


def _levels(count: int, alpha, sigma, t, schedule) -> tuple[np.ndarray, np.ndarray]:
    """(α, σ) as arrays of 1 or `count` values, from alpha/sigma or t/schedule."""
    if t is None and schedule is None and type(alpha) is float and type(sigma) is float:
        return np.array([alpha]), np.array([sigma])
    if t is not None or schedule is not None:
        if t is None or schedule is None or alpha is not None or sigma is not None:
            raise TweedieError("give either t and schedule, or alpha and sigma")
        times = np.atleast_1d(np.asarray(t, dtype=np.float64))
        s = Schedule(schedule)
        return s.alpha(times), s.sigma(times)
    if alpha is None or sigma is None:
        raise TweedieError("give either t and schedule, or alpha and sigma")
    a = np.ascontiguousarray(np.atleast_1d(np.asarray(alpha, dtype=np.float64)).reshape(-1))
    s = np.ascontiguousarray(np.atleast_1d(np.asarray(sigma, dtype=np.float64)).reshape(-1))
    if a.size == 1 and s.size == count and count > 1:
        a = np.full(count, a[0])
    if s.size == 1 and a.size == count and count > 1:
        s = np.full(count, s[0])
    if a.size != s.size or a.size not in (1, count):
        raise TweedieError(f"alpha, sigma: need scalars or arrays of shape ({count},), got {a.shape} and {s.shape}")
    return a, s


@dataclass(frozen=True)
class OracleResult:
    """Every exact posterior quantity for a batch of B points."""
    log_density: np.ndarray          # (B,)
    responsibilities: np.ndarray     # (B, K)
    denoised: np.ndarray             # (B, D): E[x_0 | x_t]
    noise: np.ndarray                # (B, D): E[ε | x_t], ε = x_t − α x_0 ~ N(0, σ²Σ)
    standardized_noise: np.ndarray   # (B, D): E[z | x_t], z = R⁻¹ε/σ
    score: np.ndarray                # (B, D): ∇ log p_t
    divergence: np.ndarray           # (B,): tr(Σ ∇² log p_t)
    posterior_covariance: Optional[np.ndarray] = None   # (B, D, D)
    component_means: Optional[np.ndarray] = None        # (B, K, D)


class Oracle:
    """The exact oracle of a model: factorizes once, then evaluates any batch at any noise level.

    ``precision="float32"`` (data-set models only) runs :meth:`denoise`'s matrix products in single
    precision on centred data — within about 1e-5 of the data's spread of the Float64 result, and
    dependent on the batch at that level; :meth:`evaluate` stays in Float64."""

    def __init__(self, model: Model, precision: str = "float64"):
        if not isinstance(model, Model):
            raise TweedieError(f"Oracle: expected a tweedie.Model, got {type(model).__name__}")
        if not isinstance(precision, str):
            raise TweedieError(f"precision: expected 'float64' or 'float32', got {precision!r}")
        self.model = model
        self.precision = precision
        self._dimension = model.dimension
        self._components = model.components
        handle = ctypes.c_void_p()
        check(lib.tweedie_oracle_new(model._handle, precision.encode(), ctypes.byref(handle)))
        self._handle = handle

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            lib.tweedie_oracle_free(handle)
            self._handle = None

    @property
    def dimension(self) -> int:
        return self._dimension

    def evaluate(self, x: ArrayLike, *, t=None, schedule: Optional[str] = None, alpha=None, sigma=None,
                 covariance: bool = False, components: bool = False) -> OracleResult:
        """Every oracle output at time t of a schedule, or at scales alpha and sigma (scalars or
        one per point). ``covariance`` adds Cov[x_0 | x_t], ``components`` the component means."""
        array = points(x, self._dimension)
        b, d, k = array.shape[0], self._dimension, self._components
        a, s = _levels(b, alpha, sigma, t, schedule)
        out = {name: np.empty(shape) for name, shape in [
            ("log_density", (b,)), ("responsibilities", (b, k)), ("denoised", (b, d)), ("noise", (b, d)),
            ("standardized_noise", (b, d)), ("score", (b, d)), ("divergence", (b,))]}
        cov = np.empty((b, d, d)) if covariance else None
        means = np.empty((b, k, d)) if components else None
        check(lib.tweedie_oracle_evaluate(
            self._handle, pointer(array), b, d, pointer(a), pointer(s), a.size,
            *(pointer(out[name]) for name in ["log_density", "responsibilities", "denoised", "noise",
                                             "standardized_noise", "score", "divergence"]),
            pointer(cov), pointer(means)))
        return OracleResult(**out, posterior_covariance=cov, component_means=means)

    def denoise(self, x: ArrayLike, *, t=None, schedule: Optional[str] = None, alpha=None, sigma=None) -> np.ndarray:
        """E[x_0 | x_t] alone, the fast path (the same numbers as ``evaluate(...).denoised``)."""
        array = points(x, self._dimension)
        if t is None and schedule is None and type(alpha) is float and type(sigma) is float:
            # One level for every row, passed by value: the cheapest call (a sampler step).
            out = np.empty_like(array)
            check(lib.tweedie_oracle_denoise_level(self._handle, array.ctypes.data, array.shape[0], array.shape[1],
                                                   alpha, sigma, out.ctypes.data))
            return out
        a, s = _levels(array.shape[0], alpha, sigma, t, schedule)
        out = np.empty_like(array)
        check(lib.tweedie_oracle_denoise(self._handle, pointer(array), array.shape[0], array.shape[1],
                                         pointer(a), pointer(s), a.size, pointer(out)))
        return out


class Schedule:
    """A noise schedule by name (``vp-linear``, ``edm:sigma_max=160``, ``ddpm:steps=500``, …):
    α_t, σ_t, λ_t and their derivatives, vectorized over t."""

    def __init__(self, name: str):
        self.name = name
        bounds = np.empty(2)
        self._evaluate(np.empty(0), range_out=bounds)
        self.time_range = (float(bounds[0]), float(bounds[1]))

    def _evaluate(self, t, range_out=None) -> tuple:
        times = np.ascontiguousarray(np.asarray(t, dtype=np.float64))
        flat = times.reshape(-1)
        outs = [np.empty(flat.size) for _ in range(5)]
        check(lib.tweedie_schedule_evaluate(self.name.encode(), pointer(flat), flat.size,
                                            *(pointer(o) for o in outs), pointer(range_out)))
        return tuple(o.reshape(times.shape) for o in outs)

    def alpha(self, t) -> np.ndarray:
        return self._evaluate(t)[0]

    def sigma(self, t) -> np.ndarray:
        return self._evaluate(t)[1]

    def log_snr(self, t) -> np.ndarray:
        """λ_t = log(α_t/σ_t)."""
        return self._evaluate(t)[2]

    def alpha_derivative(self, t) -> np.ndarray:
        return self._evaluate(t)[3]

    def sigma_derivative(self, t) -> np.ndarray:
        return self._evaluate(t)[4]

    def __repr__(self) -> str:
        return f"Schedule({self.name!r})"


def _sampler_text(sampler: str, options: Mapping[str, Any]) -> str:
    parts = [sampler]
    for key, value in options.items():
        parts.append(f"{key.replace('_', '-')}={value}")
    return ":".join(parts)


GUIDANCE_METHODS = ("dps", "pigdm", "tmpd", "mmps", "exact")


class _Observation:
    """y = A x_0 + n as the C ABI takes it: A (d_y, D), y (d_y,), Σ_y (d_y, d_y) or σ_y."""

    def __init__(self, operator: ArrayLike, y: ArrayLike, noise_std: Optional[float],
                 noise_covariance: Optional[ArrayLike], dimension: int):
        a = np.asarray(operator)
        if a.dtype.kind not in "fiu":
            raise TweedieError(f"operator: expected numbers, got dtype {a.dtype}")
        a = np.ascontiguousarray(a, dtype=np.float64)
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2 or a.shape[1] != dimension or a.shape[0] < 1:
            raise TweedieError(f"operator: expected shape (d_y, {dimension}), got {a.shape}")
        values = np.asarray(y)
        if values.dtype.kind not in "fiu":
            raise TweedieError(f"y: expected numbers, got dtype {values.dtype}")
        values = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
        if values.shape[0] != a.shape[0]:
            raise TweedieError(f"y: {values.shape[0]} values, the operator has d_y = {a.shape[0]} rows")
        if (noise_std is None) == (noise_covariance is None):
            raise TweedieError("observation: give exactly one of noise_std and noise_covariance")
        self.covariance = None
        if noise_covariance is not None:
            cov = np.ascontiguousarray(np.asarray(noise_covariance, dtype=np.float64))
            if cov.shape != (a.shape[0], a.shape[0]):
                raise TweedieError(f"noise_covariance: expected shape {(a.shape[0], a.shape[0])}, got {cov.shape}")
            self.covariance = cov
        try:
            self.std = float("nan") if noise_std is None else float(noise_std)
        except (TypeError, ValueError):
            raise TweedieError(f"noise_std: expected a number, got {noise_std!r}") from None
        self.operator, self.y = a, values

    @property
    def arguments(self) -> tuple:
        return (pointer(self.operator), self.operator.shape[0], pointer(self.y), pointer(self.covariance), self.std)

    def handle(self) -> ctypes.c_void_p:
        """The observation as a library handle (free it with ``lib.tweedie_observation_free``)."""
        handle = ctypes.c_void_p()
        check(lib.tweedie_observation_new(pointer(self.operator), self.operator.shape[0], self.operator.shape[1],
                                          pointer(self.y), pointer(self.covariance), self.std, ctypes.byref(handle)))
        return handle


@dataclass(frozen=True)
class Posterior:
    """The exact posterior p(x_0 | y) of a mixture prior: a :class:`Model` (with the prior's noise
    covariance, so its oracle is the exact conditional oracle), log p(y), and per component
    log N(y; A μ_k, A Λ_k Aᵀ + Σ_y)."""
    model: Model
    log_evidence: float
    component_log_evidence: np.ndarray

    @property
    def weights(self) -> np.ndarray:
        """p(k | y)."""
        return self.model.weights


def posterior(model: Model, *, operator: ArrayLike, y: ArrayLike, noise_std: Optional[float] = None,
              noise_covariance: Optional[ArrayLike] = None) -> Posterior:
    """The exact posterior of ``model`` given y = A x_0 + n, n ~ N(0, Σ_y) with Σ_y = noise_std² I or
    ``noise_covariance`` (as ``tweedie posterior``)."""
    if not isinstance(model, Model):
        raise TweedieError(f"posterior: expected a tweedie.Model, got {type(model).__name__}")
    observation = _Observation(operator, y, noise_std, noise_covariance, model.dimension)
    handle = ctypes.c_void_p()
    evidence = np.empty(1)
    components = np.empty(model.components)
    check(lib.tweedie_posterior(model._handle, *observation.arguments, ctypes.byref(handle), pointer(evidence),
                                pointer(components)))
    return Posterior(Model(handle), float(evidence[0]), components)


def sample(model: Union[Model, Callable], *, sampler: str, schedule: str, count: int, steps: Optional[int] = None,
           seed: int = 0, init: Optional[ArrayLike] = None, grid: Optional[str] = None,
           dimension: Optional[int] = None, prediction: str = "x0", noise_model: Optional[Model] = None,
           batch_size: Optional[int] = None, guidance: Optional[str] = None, operator: Optional[ArrayLike] = None,
           y: Optional[ArrayLike] = None, noise_std: Optional[float] = None,
           noise_covariance: Optional[ArrayLike] = None, zeta: Optional[float] = None, precision: str = "float64",
           **sampler_options) -> np.ndarray:
    """Samples with one of Tweedie's samplers, bit for bit as ``tweedie sample`` from the same seed.

    ``model`` is a :class:`Model` (its exact oracle is the denoiser) or a callable
    ``f(x, alpha, sigma)`` (x of shape (B, D), alpha and sigma of shape (B,)) returning the
    network's output of type ``prediction`` (x0, epsilon, v, score, flow), in ``dimension`` D;
    ``noise_model`` supplies its noise covariance Σ (identity by default). Sampler options are
    keyword arguments (``eta=0.5``, ``s_churn=2``, ``rtol=1e-8``). ``batch_size`` (samples per
    model call; the samples do not depend on it) defaults to 4096, fewer above D = 256.
    ``precision="float32"`` runs a data-set model's oracle in single precision (see :class:`Oracle`;
    the samples then depend on the batch size at that level). Returns
    (count, D) samples, or (count, N, d) for a model with a point shape.

    With ``guidance`` (one of :data:`GUIDANCE_METHODS`) the sampler is guided towards the observation
    y = A x_0 + n given by ``operator``, ``y`` and ``noise_std`` or ``noise_covariance`` (``zeta``:
    DPS's strength, 1 when not given). A callable model's posterior covariances come from finite differences of its
    denoiser; ``exact`` needs a :class:`Model`."""
    request: dict[str, Any] = {"sampler": sampler, "sampler_options": sampler_options, "schedule": schedule,
                               "grid": grid, "steps": steps, "count": count, "seed": _seed(seed), "batch_size": batch_size,
                               "precision": precision}
    if isinstance(model, Model):
        handle, d, shape = model._handle, model.dimension, model.shape
    elif callable(model):
        if dimension is None:
            raise TweedieError("sample: a callable model needs dimension=")
        handle, d, shape = (noise_model._handle if noise_model is not None else None), int(dimension), (int(dimension),)
        request["network"] = {"prediction": prediction, "dimension": d}
    else:
        raise TweedieError(f"sample: expected a tweedie.Model or a callable, got {type(model).__name__}")
    if guidance is not None:
        request["guidance"] = {"method": guidance, "zeta": zeta}  # zeta None: left out (1 for dps)
    observation = None
    if operator is not None or y is not None or noise_std is not None or noise_covariance is not None:
        if operator is None or y is None:
            raise TweedieError("guidance: needs operator= and y= (and noise_std= or noise_covariance=)")
        observation = _Observation(operator, y, noise_std, noise_covariance, d)
    z = None if init is None else points(init, d, "init")
    if z is not None and z.shape[0] != _count(count):  # the library reads count × D numbers from it
        raise TweedieError(f"init: {z.shape[0]} rows, expected count = {count}")
    text = _request_json(request)
    try:
        out = np.empty((_count(count), d))
    except MemoryError:
        raise TweedieError(f"count: {count} samples × D = {d} do not fit in memory") from None
    callback_error: list = []
    callback = _native.MODEL_CALLBACK() if "network" not in request else _native.MODEL_CALLBACK(
        _network_bridge(model, callback_error))
    observation_handle = observation.handle() if observation is not None else None
    try:
        status = lib.tweedie_sample(handle, callback, None, text, observation_handle, pointer(z), pointer(out))
    finally:
        if observation_handle is not None:
            lib.tweedie_observation_free(observation_handle)
    if callback_error:
        error = callback_error[0]
        if isinstance(error, TweedieError):
            raise error
        raise TweedieError(f"the model raised {type(error).__name__}: {error}") from error
    check(status)
    return out.reshape((out.shape[0],) + tuple(shape))


def _seed(seed: Any) -> int:
    """A seed as the library's unsigned 64-bit integer (negative seeds wrap, as in numpy)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TweedieError(f"seed: expected an integer, got {seed!r}")
    return int(seed) & 0xFFFFFFFFFFFFFFFF


def _count(count: Any) -> int:
    """``count`` as an int (the library checks its range)."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise TweedieError(f"count: expected an integer, got {count!r}")
    return max(int(count), 0)


def _request_json(request: Mapping[str, Any]) -> bytes:
    """A sampling request as the library's JSON (None fields left out); numpy scalars become numbers."""
    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: plain(item) for key, item in value.items() if item is not None}
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):  # JSON has no NaN: the library reads these
            return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        return value
    try:
        return json.dumps(plain(request), allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise TweedieError(f"request: {error}") from None


def _network_bridge(model: Callable, errors: list) -> Callable:
    """The C callback around a Python network ``f(x, alpha, sigma)`` (alpha and sigma one per row);
    an exception is kept in ``errors`` and reported after the call, never lost."""
    def bridge(_context, x, rows, columns, alpha, sigma, out):
        try:
            xs = np.ctypeslib.as_array(x, shape=(rows, columns)).copy()
            result = np.asarray(model(xs, np.full(rows, alpha), np.full(rows, sigma)), dtype=np.float64)
            if result.shape != (rows, columns):
                raise TweedieError(f"the model returned shape {result.shape}, expected {(rows, columns)}")
            np.ctypeslib.as_array(out, shape=(rows, columns))[:] = result
            return 0
        except BaseException as error:  # reported after the call, never lost
            errors.append(error)
            return 1
    return bridge


@dataclass(frozen=True)
class Measurement:
    """A figure of a sample set against the exact p_0, with its Monte Carlo noise floor (the same
    figure for exact samples of the same size; None where it has none)."""
    name: str
    label: str
    value: Optional[float]
    noise_floor: Optional[float]


def evaluate(samples: ArrayLike, model: Model, *, seed: int = 0, projections: int = 128) -> dict:
    """The report of ``tweedie sample`` for any samples: {name: Measurement}."""
    if not isinstance(model, Model):
        raise TweedieError(f"evaluate: expected a tweedie.Model, got {type(model).__name__}")
    array = points(samples, model.dimension, "samples")
    out = ctypes.c_void_p()
    check(lib.tweedie_evaluate(model._handle, pointer(array), array.shape[0], array.shape[1],
                               int(seed) & 0xFFFFFFFFFFFFFFFF, int(projections), ctypes.byref(out)))
    return {m["name"]: Measurement(m["name"], m["label"], m["value"], m["noise_floor"]) for m in json.loads(take_string(out))}


@dataclass(frozen=True)
class SamplerKL:
    """KL(q_N ‖ p_0) of a deterministic sampler from the exact density of its samples: the
    control-variate estimate mean(w − 1 + log(1/w)), w = p_0/q_N, ± its standard error, the plain
    mean of log q_N − log p_0 ± its standard error, and the effective sample size of w. ``kl`` is the
    control-variate estimate where at least a tenth of the samples are effective, else the plain one."""
    control_variate_kl: float
    control_variate_standard_error: float
    plain_kl: float
    plain_standard_error: float
    effective_sample_size: float
    count: int
    #: KL(p_0 ‖ q_N) by importance weights with the same samples, and its standard error (None where
    #: the weights cannot be trusted).
    reverse_kl: Optional[float] = None
    reverse_standard_error: Optional[float] = None

    @property
    def trustworthy(self) -> bool:
        """At least a tenth of the samples are effective: the control-variate form can be trusted."""
        return self.effective_sample_size >= 0.1 * self.count

    @property
    def kl(self) -> float:
        return self.control_variate_kl if self.trustworthy else self.plain_kl

    @property
    def standard_error(self) -> float:
        return self.control_variate_standard_error if self.trustworthy else self.plain_standard_error


def sampler_kl(model: Model, *, sampler: str, schedule: str, count: int, steps: Optional[int] = None, seed: int = 0,
               start: str = "gaussian", **sampler_options) -> SamplerKL:
    """KL(q_N ‖ p_0) of ``sampler`` (euler, heun, dpmpp-2m, ddim with eta=0) on ``model``'s exact
    denoiser, from the same ``count`` samples ``sample`` draws from ``seed``: each sample's density
    comes from its Jacobian, carried through the sampler. ``start="marginal"`` starts from the exact
    p_{t_max} instead of N(0, σ_max²Σ), leaving the discretization error alone."""
    if not isinstance(model, Model):
        raise TweedieError(f"sampler_kl: expected a tweedie.Model, got {type(model).__name__}")
    out = np.empty(8)
    check(lib.tweedie_sampler_kl(model._handle, _sampler_text(sampler, sampler_options).encode(), schedule.encode(),
                                 -1 if steps is None else int(steps), int(count), int(seed) & 0xFFFFFFFFFFFFFFFF,
                                 start.encode(), pointer(out)))
    reverse = (None, None) if np.isnan(out[6]) else (float(out[6]), float(out[7]))
    return SamplerKL(float(out[0]), float(out[1]), float(out[2]), float(out[3]), float(out[4]), int(out[5]), *reverse)


def sampler_path_kl(model: Model, *, sampler: str, schedule: str, count: int, steps: int, seed: int = 0,
                    **sampler_options) -> dict:
    """KL between the exact reverse chain on the sampler's grid and the chain of a stochastic sampler
    with Gaussian steps (``ddpm``, ``ddim`` with eta > 0, ``euler-maruyama``), along ``count`` exact
    paths: {"path_kl", "path_kl_se", "start_kl", "start_kl_se"}. It covers the grid levels (not the
    final denoising step) and bounds the KL of the sampler's law at its last grid level."""
    if not isinstance(model, Model):
        raise TweedieError(f"sampler_path_kl: expected a tweedie.Model, got {type(model).__name__}")
    out = np.empty(4)
    check(lib.tweedie_sampler_path_kl(model._handle, _sampler_text(sampler, sampler_options).encode(), schedule.encode(),
                                      int(steps), int(count), int(seed) & 0xFFFFFFFFFFFFFFFF, pointer(out)))
    return {"path_kl": float(out[0]), "path_kl_se": float(out[1]), "start_kl": float(out[2]), "start_kl_se": float(out[3])}


@dataclass(frozen=True)
class Likelihood:
    """log p_{t_min}(x) per point by the probability-flow ODE, with its standard error (0 for the
    exact divergence) and the solver's function evaluations."""
    log_likelihood: np.ndarray
    standard_error: np.ndarray
    function_evaluations: np.ndarray


def likelihood(x: ArrayLike, model: Model, *, schedule: str, prior: str = "marginal", probes: Optional[int] = None,
               seed: int = 0, rtol: float = 1e-6, atol: float = 1e-6, t_min: Optional[float] = None,
               t_max: Optional[float] = None) -> Likelihood:
    """Exact log-likelihoods by integrating the probability-flow ODE with the oracle's exact
    divergence, or Hutchinson's estimate with ``probes`` probes; the prior at t_max is the exact
    marginal (``marginal``) or N(0, σ²Σ) (``gaussian``). Compare with ``model.log_density(x)``."""
    if not isinstance(model, Model):
        raise TweedieError(f"likelihood: expected a tweedie.Model, got {type(model).__name__}")
    array = points(x, model.dimension)
    b = array.shape[0]
    outs = [np.empty(b) for _ in range(3)]
    check(lib.tweedie_likelihood(model._handle, schedule.encode(), pointer(array), b, array.shape[1], prior.encode(),
                                 0 if probes is None else int(probes), int(seed) & 0xFFFFFFFFFFFFFFFF, float(rtol),
                                 float(atol), float("nan") if t_min is None else float(t_min),
                                 float("nan") if t_max is None else float(t_max), *(pointer(o) for o in outs)))
    return Likelihood(outs[0], outs[1], outs[2].astype(np.int64))
