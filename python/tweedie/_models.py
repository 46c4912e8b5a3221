"""Models: a Gaussian-mixture prior p_0 with the covariance Σ of the forward noise."""
from __future__ import annotations

import ctypes
import io
import json
import math
import os
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import numpy.typing as npt

from ._arguments import _array, _float64, flag, numbers, one_line, points, shown, text
from ._arguments import path as _path
from ._errors import TweedieError, TweedieTypeError
from ._native import check, lib, pointer, take_string

__all__ = ["Model"]

_NPZ_NUMBERS = 1 << 20
_JSON_FIELDS = {"name", "weights", "means", "covariance_type", "covariances", "noise", "shape", "zero_centre_of_mass",
                "atom_symbols"}
_NOISE_FIELDS = {"type", "covariance", "block_size"}
_SKLEARN_ATTRIBUTES = ("weights_", "means_", "covariances_", "covariance_type")
#: from_dataset's maps of values: x → x/divisor + offset (None: as they are).
_DATASET_SCALES = {"none": None, "edm": (127.5, -1.0), "unit": (255.0, 0.0)}


def _npz_numbers(value: Any) -> np.ndarray:
    """``value`` as a C-ordered float64 array for the .npz route (which reads C order only); a
    ValueError for anything but real numbers (complex would lose its imaginary part)."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise ValueError(f"not real numbers: dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)


def _npz_noise(noise: Any, out: dict[str, Any]) -> bool:
    """Adds the noise fields of the .npz format to ``out``: noise.type, noise.covariance and
    noise.block_size become noise_type, noise_covariance and block_size. False for a noise the
    format does not hold (left to the JSON route and its messages)."""
    if not isinstance(noise, Mapping) or set(noise) - _NOISE_FIELDS:
        return False
    if noise.get("type") is not None:
        out["noise_type"] = np.array(str(noise["type"]))
    if noise.get("covariance") is not None:
        out["noise_covariance"] = _npz_numbers(noise["covariance"])
    if noise.get("block_size") is not None:
        out["block_size"] = np.array([noise["block_size"]], dtype=np.int64)
    return True


def _npz_archive(fields: Mapping[str, Any]) -> Optional[bytes]:
    """The model as the bytes of an .npz model file, for models given as numpy arrays of at least
    2^20 numbers (a data set): a text round trip of millions of numbers would cost gigabytes. None
    for anything else, or fields that are not numbers where numbers go (the JSON route, whose
    messages name the JSON fields)."""
    arrays = [fields.get("means"), fields.get("covariances")]
    if set(fields) - _JSON_FIELDS or sum(a.size for a in arrays if isinstance(a, np.ndarray)) < _NPZ_NUMBERS:
        return None
    out: dict[str, Any] = {}
    try:
        for key in ("weights", "means", "covariances"):
            if fields.get(key) is not None:
                out[key] = _npz_numbers(fields[key])
        if fields.get("shape") is not None:
            out["shape"] = np.asarray(fields["shape"], dtype=np.int64)
        if fields.get("noise") is not None and not _npz_noise(fields["noise"], out):
            return None
    except (TypeError, ValueError, OverflowError):
        return None
    for key in ("covariance_type", "name"):
        if fields.get(key) is not None:
            out[key] = np.array(str(fields[key]))
    if fields.get("zero_centre_of_mass") is not None:
        if not isinstance(fields["zero_centre_of_mass"], (bool, np.bool_)):
            return None  # the JSON route names the field
        out["zero_centre_of_mass"] = np.array(1.0 if fields["zero_centre_of_mass"] else 0.0)
    if fields.get("atom_symbols") is not None:
        symbols = fields["atom_symbols"]
        if isinstance(symbols, str) or not all(isinstance(s, str) and s and " " not in s for s in symbols):
            return None
        out["atom_symbols"] = np.array(" ".join(symbols))
    buffer = io.BytesIO()
    np.savez(buffer, **out)
    return buffer.getvalue()


def _dataset_points(data: Any, scale: str) -> tuple[npt.NDArray[np.float64], tuple[int, ...]]:
    """``data`` (N, ...) as the (N, D) float64 atoms of a data-set model, mapped by ``scale``, and the
    shape of one point; refuses what is not N ≥ 1 finite points of at least one coordinate."""
    text(scale, "scale")
    if scale not in _DATASET_SCALES:
        raise TweedieError(f"scale: expected 'none', 'edm' or 'unit', got {shown(scale)}")
    given = _array(data, "data")
    if given.ndim < 2:
        raise TweedieError(f"data: expected points (N, D), (N, H, W) or (N, H, W, C), got shape {given.shape}")
    rows, columns = given.shape[0], math.prod(given.shape[1:])
    if rows == 0:
        raise TweedieError(f"data: no points (shape {given.shape})")
    if columns == 0:
        raise TweedieError(f"data: points of shape {given.shape[1:]} have no coordinates")
    with np.errstate(over="ignore"):  # a long double beyond float64's range: refused below, not a warning
        array = _float64(given, "data")
    points = array.reshape(rows, columns)
    bad = np.flatnonzero(~np.isfinite(points))
    if bad.size:
        row, column = divmod(int(bad[0]), columns)
        value = given.reshape(rows, columns)[row, column]
        shown_value = points[row, column] if not np.isfinite(value) else f"{value!s}, beyond float64's range"
        raise TweedieError(f"data: point {row}, coordinate {column} is {shown_value}")
    mapping = _DATASET_SCALES[scale]
    if mapping is not None:
        points = points / mapping[0]   # a new array (data is never changed), then mapped in place
        points += mapping[1]
    return np.ascontiguousarray(points), tuple(given.shape[1:])


def _dataset_archive(points: npt.NDArray[np.float64], shape: tuple[int, ...], name: Optional[str]) -> bytes:
    """A data-set model (Dirac components at ``points``, equal weights) as the bytes of an .npz
    model file: millions of numbers go to the library without a text round trip."""
    out: dict[str, Any] = {"weights": np.full(points.shape[0], 1.0 / points.shape[0]), "means": points,
                           "covariance_type": np.array("dirac")}
    if len(shape) > 1:
        out["shape"] = np.asarray(shape, dtype=np.int64)
    if name is not None:
        out["name"] = np.array(name)
    buffer = io.BytesIO()
    np.savez(buffer, **out)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars as Python lists and numbers, for ``json.dumps``."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _unwritable(value: Any, path: str) -> Optional[tuple[str, Any]]:
    """(field, value) of the first value in ``value`` that JSON cannot hold: not a number, a string,
    a list or a mapping, or a NaN or an infinity (``weights[1]``, ``noise.covariance[0]``). None if
    there is none."""
    if isinstance(value, Mapping):
        items = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    elif value is None or isinstance(value, (str, bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return None
    else:
        return path or "model", value
    for field, item in items:
        found = _unwritable(item, field)
        if found is not None:
            return found
    return None


def _model_json(fields: Mapping[str, Any]) -> bytes:
    """The fields of the JSON model format as JSON text; a value JSON cannot hold is named by its field."""
    plain: Any = None
    try:
        plain = _plain(dict(fields))
        return json.dumps(plain, allow_nan=False).encode()
    except RecursionError:
        raise TweedieError("model: the fields are nested too deeply") from None
    except (TypeError, ValueError) as error:
        found = _unwritable(plain, "")
        if found is None:
            kind = TweedieTypeError if isinstance(error, TypeError) else TweedieError
            raise kind(f"model: {one_line(error)}") from None
        field, value = found
        if isinstance(value, float):
            raise TweedieError(f"{field}: expected a finite number, got {value}") from None
        raise TweedieTypeError(f"{field}: expected a number, a string or a list, got {shown(value)}") from None


def _sklearn_fields(gm: Any) -> dict[str, Any]:
    """The JSON model fields of a fitted ``sklearn.mixture.GaussianMixture``."""
    for attribute in _SKLEARN_ATTRIBUTES:
        if not hasattr(gm, attribute):
            raise TweedieTypeError(f"from_sklearn: {type(gm).__name__} has no {attribute} (is it a fitted GaussianMixture?)")
    weights = np.asarray(gm.weights_, dtype=np.float64)
    # scikit-learn's weights sum to one only to rounding; the library checks within 1e-9.
    return {"weights": weights / weights.sum(), "means": np.asarray(gm.means_, dtype=np.float64),
            "covariance_type": gm.covariance_type, "covariances": np.asarray(gm.covariances_, dtype=np.float64)}


class Model:
    """A Gaussian-mixture prior p_0 with the covariance Σ of the forward noise.

    Build a model with :meth:`builtin`, :meth:`load`, :meth:`from_dict`, :meth:`from_sklearn` or
    :meth:`from_dataset` (or get the exact posterior of one from :func:`~tweedie.posterior`); the
    constructor only wraps a handle of the C ABI.

    Parameters
    ----------
    handle : ctypes.c_void_p
        A model handle returned by the C ABI. The model owns it and frees it when collected.

    Attributes
    ----------
    dimension : int
        D, the number of coordinates of a point.
    components : int
        K, the number of mixture components.
    shape : tuple of int
        The shape of one point, ``(D,)`` unless the model sets one.

    See Also
    --------
    Oracle : the exact oracle of a model.
    sample : samples from a model with one of Tweedie's samplers.

    Examples
    --------
    >>> import tweedie
    >>> model = tweedie.Model.builtin("ring8")
    >>> model.dimension, model.components
    (2, 8)
    >>> model.log_density([[4.0, 0.0]]).shape
    (1,)
    """

    def __init__(self, handle: ctypes.c_void_p) -> None:
        self._handle: Optional[ctypes.c_void_p] = handle
        self._description: Optional[dict[str, Any]] = None
        dimension, components, rank = ctypes.c_ssize_t(), ctypes.c_ssize_t(), ctypes.c_ssize_t()
        shape = (ctypes.c_ssize_t * 16)()
        check(lib.tweedie_model_sizes(handle, ctypes.byref(dimension), ctypes.byref(components), shape, 16,
                                      ctypes.byref(rank)))
        self._dimension, self._components = dimension.value, components.value
        self._shape = tuple(shape[i] for i in range(min(rank.value, 16))) if rank.value else (dimension.value,)
        atoms, axes, freedom = ctypes.c_ssize_t(), ctypes.c_ssize_t(), ctypes.c_ssize_t()
        check(lib.tweedie_model_subspace(handle, ctypes.byref(atoms), ctypes.byref(axes), ctypes.byref(freedom)))
        self._degrees_of_freedom = freedom.value if atoms.value else dimension.value

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            lib.tweedie_model_free(handle)
            self._handle = None

    @classmethod
    def builtin(cls, name: str) -> Model:
        """A built-in model.

        Parameters
        ----------
        name : str
            ``"ring8"`` (eight Gaussians on a ring, D = 2), ``"chain16"`` (points of shape
            (16, 3)) or ``"spiral-dirac"`` (a data set: Dirac components).

        Returns
        -------
        Model

        Raises
        ------
        TweedieTypeError
            If ``name`` is not a string.
        TweedieError
            If no built-in model has that name.

        Examples
        --------
        >>> import tweedie
        >>> tweedie.Model.builtin("chain16").shape
        (16, 3)
        """
        handle = ctypes.c_void_p()
        check(lib.tweedie_model_builtin(text(name, "name"), ctypes.byref(handle)))
        return cls(handle)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """A model read from a file.

        Parameters
        ----------
        path : str or os.PathLike
            A ``.json`` or ``.npz`` model file (the formats of ``tweedie model convert`` and
            :meth:`save`).

        Returns
        -------
        Model

        Raises
        ------
        TweedieTypeError
            If ``path`` is not a path.
        TweedieError
            If the file cannot be read or does not hold a valid model.
        """
        handle = ctypes.c_void_p()
        check(lib.tweedie_model_load(_path(path), ctypes.byref(handle)))
        return cls(handle)

    @classmethod
    def from_dict(cls, description: Mapping[str, Any]) -> Model:
        """A model from the fields of the JSON model format.

        Numpy arrays and scalars are accepted wherever the format has numbers; models of at least
        2^20 numbers given as numpy arrays (a data set) go to the library as an in-memory ``.npz``
        file, without a text round trip.

        Parameters
        ----------
        description : mapping
            The fields ``weights`` (K,), ``means`` (K, D), ``covariance_type`` (``full``,
            ``tied``, ``diag``, ``spherical`` or ``dirac``), ``covariances``, and optionally
            ``noise`` (``{"type", "covariance", "block_size"}``), ``shape`` and ``name``.

        Returns
        -------
        Model

        Raises
        ------
        TweedieTypeError
            If ``description`` is not a mapping or holds values that are not numbers, lists or
            strings.
        TweedieError
            If the fields do not describe a valid model (the library's message names the field).

        Examples
        --------
        >>> import tweedie
        >>> model = tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0, 1.0]],
        ...                                  "covariance_type": "full", "covariances": [[[1.0, 0.0], [0.0, 2.0]]]})
        >>> model.dimension, model.components
        (2, 1)
        """
        try:
            fields = dict(description)
        except (TypeError, ValueError):
            raise TweedieTypeError(f"model: expected a mapping of the model's fields, got {type(description).__name__}") from None
        handle = ctypes.c_void_p()
        archive = _npz_archive(fields)
        if archive is not None:
            check(lib.tweedie_model_from_npz(archive, len(archive), ctypes.byref(handle)))
            return cls(handle)
        encoded = _model_json(fields)
        check(lib.tweedie_model_from_json(encoded, len(encoded), ctypes.byref(handle)))
        return cls(handle)

    @classmethod
    def from_sklearn(cls, gm: Any, noise: Optional[npt.ArrayLike] = None, shape: Optional[Sequence[int]] = None,
                     name: Optional[str] = None, *, zero_centre_of_mass: bool = False,
                     atom_symbols: Optional[Sequence[str]] = None) -> Model:
        """A fitted scikit-learn Gaussian mixture as the prior.

        Parameters
        ----------
        gm : sklearn.mixture.GaussianMixture
            A fitted mixture, of any covariance type.
        noise : array_like, optional
            The noise covariance Σ: None (the identity), a (D,) diagonal or a (D, D) matrix.
        shape : sequence of int, optional
            The shape of one point (its product is D).
        name : str, optional
            The model's name.
        zero_centre_of_mass : bool, default False
            The model of the centred points (``shape`` must be (N, d)): densities on the subspace
            where the atoms sum to zero, in (N − 1)·d degrees of freedom (docs/math.md §13.1).
        atom_symbols : sequence of str, optional
            The element of each of the N atoms, for molecular files.

        Returns
        -------
        Model
            A model whose :meth:`log_density` equals ``gm.score_samples`` (without a zero centre
            of mass).

        Raises
        ------
        TweedieTypeError
            If ``gm`` is not a fitted ``GaussianMixture``.
        TweedieError
            If the mixture or the noise is not a valid model.
        """
        description = _sklearn_fields(gm)
        if noise is not None:
            sigma = numbers(noise, "noise")
            description["noise"] = {"type": "diagonal" if sigma.ndim == 1 else "full", "covariance": sigma}
        if shape is not None:
            try:
                description["shape"] = list(shape)
            except TypeError:
                raise TweedieTypeError(f"shape: expected a sequence of integers, got {shown(shape)}") from None
        if name is not None:
            description["name"] = name
        if flag(zero_centre_of_mass, "zero_centre_of_mass"):
            description["zero_centre_of_mass"] = True
        if atom_symbols is not None:
            description["atom_symbols"] = _symbols(atom_symbols)
        return cls.from_dict(description)

    @classmethod
    def from_conformers(cls, frames: npt.ArrayLike, symbols: Optional[Sequence[str]] = None, *,
                        zero_centre_of_mass: bool = True, name: Optional[str] = None) -> Model:
        """Conformers of one molecule as a data set: a Dirac component at each, equal weights.

        Parameters
        ----------
        frames : array_like, shape (F, N, 3)
            F conformers of N atoms (e.g. :attr:`Conformers.frames` of :func:`read_molecules`,
            superposed first with :func:`superpose` if their orientation should not count).
        symbols : sequence of str, optional
            The N element symbols, kept for molecular files written from the model's samples.
        zero_centre_of_mass : bool, default True
            The model of the centred conformers, on the subspace where the atoms sum to zero
            (3(N − 1) degrees of freedom; docs/math.md §13.1); False keeps absolute positions.
        name : str, optional
            The model's name.

        Returns
        -------
        Model
            Points of shape (N, 3); with a zero centre of mass, :attr:`degrees_of_freedom` is 3(N − 1).

        Raises
        ------
        TweedieTypeError
            If ``frames`` is not an array of numbers or ``symbols`` not strings.
        TweedieError
            If ``frames`` is not (F, N, 3), holds a NaN or an infinity, or ``symbols`` is not N
            element symbols.
        """
        array = numbers(frames, "frames")
        if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
            raise TweedieError(f"frames: expected shape (F, N, 3) with F, N ≥ 1, got {array.shape}")
        count, atoms = array.shape[0], array.shape[1]
        description: dict[str, Any] = {"weights": np.full(count, 1.0 / count), "means": array.reshape(count, 3 * atoms),
                                       "covariance_type": "dirac", "shape": [atoms, 3]}
        if flag(zero_centre_of_mass, "zero_centre_of_mass"):
            description["zero_centre_of_mass"] = True
        if symbols is not None:
            description["atom_symbols"] = _symbols(symbols)
        if name is not None:
            description["name"] = text(name, "name").decode()
        return cls.from_dict(description)

    @classmethod
    def from_dataset(cls, data: npt.ArrayLike, *, scale: str = "none", name: Optional[str] = None) -> Model:
        """A data set as the prior: a Dirac component at each point, with equal weights.

        p_0 = (1/N) Σ_n δ(x − x_n) is the empirical law of the data, whose exact denoiser is the
        "ideal denoiser" of memorization studies, with Σ = I. The points go to the library as an
        in-memory ``.npz`` model file, without a text round trip.

        Parameters
        ----------
        data : array_like, shape (N, D), (N, H, W) or (N, H, W, C)
            The N points, of any real dtype (uint8 images included; not bool or complex). Points
            of more than one axis keep their shape as the model's :attr:`shape`.
        scale : {"none", "edm", "unit"}, default "none"
            How the values are mapped first: ``"edm"`` x → x/127.5 − 1 (8-bit pixels to [−1, 1],
            as EDM and most diffusion codes train), ``"unit"`` x → x/255 (to [0, 1]), ``"none"``
            as they are.
        name : str, optional
            The model's name.

        Returns
        -------
        Model
            A model of K = N Dirac components in D dimensions (the product of ``data.shape[1:]``).

        Raises
        ------
        TweedieTypeError
            If ``data`` is not an array of real numbers, or ``scale`` or ``name`` is not a string.
        TweedieError
            If ``data`` has fewer than two axes, no points or no coordinates, holds a NaN or an
            infinity, or ``scale`` is unknown.

        See Also
        --------
        PrunedDenoiser : the data set's denoiser with certified pruning.
        truncation_study : what top-k truncation and single precision drop from it.

        Examples
        --------
        >>> import numpy as np, tweedie
        >>> images = np.random.default_rng(0).integers(0, 256, size=(100, 8, 8), dtype=np.uint8)
        >>> model = tweedie.Model.from_dataset(images, scale="edm", name="noise")
        >>> model.shape, model.components, model.covariance_type
        ((8, 8), 100, 'dirac')
        """
        given_name = None if name is None else text(name, "name").decode()
        points, shape = _dataset_points(data, scale)
        archive = _dataset_archive(points, shape, given_name)
        del points
        handle = ctypes.c_void_p()
        check(lib.tweedie_model_from_npz(archive, len(archive), ctypes.byref(handle)))
        return cls(handle)

    def to_dict(self) -> dict[str, Any]:
        """The model's fields, as in the JSON model format.

        Returns
        -------
        dict
            ``weights``, ``means``, ``covariance_type``, ``covariances`` and, where set, ``noise``,
            ``shape`` and ``name``, as lists and numbers. The dict is cached: do not modify it.
        """
        if self._description is None:
            out = ctypes.c_void_p()
            check(lib.tweedie_model_to_json(self._handle, ctypes.byref(out)))
            self._description = json.loads(take_string(out))
        return self._description

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the model to a file, atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write; its extension, ``.json`` or ``.npz``, chooses the format.

        Raises
        ------
        TweedieTypeError
            If ``path`` is not a path.
        TweedieError
            If the extension is neither ``.json`` nor ``.npz`` or the file cannot be written.
        """
        check(lib.tweedie_model_save(self._handle, _path(path)))

    @property
    def dimension(self) -> int:
        """D, the number of coordinates of a point."""
        return self._dimension

    @property
    def components(self) -> int:
        """K, the number of mixture components."""
        return self._components

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one point, e.g. (16, 3); (D,) when none is set."""
        return self._shape

    @property
    def zero_centre_of_mass(self) -> bool:
        """Whether the model lives on the subspace where the atoms of a point sum to zero."""
        return self._degrees_of_freedom != self._dimension

    @property
    def degrees_of_freedom(self) -> int:
        """The dimension densities count: D, or (N − 1)·d with a zero centre of mass."""
        return self._degrees_of_freedom

    @property
    def atom_symbols(self) -> Optional[tuple[str, ...]]:
        """The element of each atom, or None."""
        symbols = self.to_dict().get("atom_symbols")
        return None if symbols is None else tuple(symbols)

    @property
    def weights(self) -> npt.NDArray[np.float64]:
        """The mixture weights, shape (K,)."""
        return np.array(self.to_dict()["weights"], dtype=np.float64)

    @property
    def means(self) -> npt.NDArray[np.float64]:
        """The component means, shape (K, D)."""
        return np.array(self.to_dict()["means"], dtype=np.float64)

    @property
    def covariance_type(self) -> str:
        """``full``, ``tied``, ``diag``, ``spherical`` or ``dirac``."""
        return str(self.to_dict()["covariance_type"])

    @property
    def name(self) -> Optional[str]:
        """The model's name, or None."""
        return self.to_dict().get("name")

    def log_density(self, x: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """log p_0(x) for each point, exactly.

        Parameters
        ----------
        x : array_like, shape (B, D) or (D,)
            The points (a point of shape :attr:`shape` may be given as it is: (B, 16, 3) for
            ``chain16``).

        Returns
        -------
        ndarray of float64, shape (B,)
            The log-density of each point.

        Raises
        ------
        TweedieTypeError
            If ``x`` is not an array of numbers.
        TweedieError
            If the points do not have D coordinates, or p_0 has no density (Dirac or singular
            components).
        """
        array = points(x, self.dimension, shape=self.shape)
        out = np.empty(array.shape[0])
        check(lib.tweedie_model_log_density(self._handle, pointer(array), array.shape[0], array.shape[1], pointer(out)))
        return out

    def __repr__(self) -> str:
        return f"Model({self.name!r}, D={self.dimension}, K={self.components}, {self.covariance_type})"


def _symbols(symbols: Any) -> list[str]:
    """Element symbols as a list of strings, or a :class:`~tweedie.TweedieTypeError` naming them."""
    if isinstance(symbols, (str, bytes)):
        raise TweedieTypeError(f"atom_symbols: expected a sequence of strings, got {shown(symbols)}")
    try:
        listed = list(symbols)
    except TypeError:
        raise TweedieTypeError(f"atom_symbols: expected a sequence of strings, got {shown(symbols)}") from None
    for s in listed:
        if not isinstance(s, str):
            raise TweedieTypeError(f"atom_symbols: expected strings, got {shown(s)}")
    return listed


def require_model(model: Any, caller: str) -> Model:
    """``model`` if it is a :class:`Model`; else a :class:`~tweedie.TweedieTypeError` naming ``caller``."""
    if not isinstance(model, Model):
        raise TweedieTypeError(f"{caller}: expected a tweedie.Model, got {type(model).__name__}")
    return model
