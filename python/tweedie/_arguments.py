"""Arguments as the C ABI takes them: arrays of float64, integers, numbers, strings and paths.

Each helper converts one argument or raises :class:`~tweedie.TweedieTypeError` naming it, or a
:class:`~tweedie.TweedieError` for a value the C ABI cannot carry as it is (a string with a NUL, an
integer beyond 64 bits, an array too large for float64); the rules on values (ranges, shapes between
arguments) are the library's, which checks them all.
"""
from __future__ import annotations

import math
import os
from typing import Any, Optional, Sequence

import numpy as np
import numpy.typing as npt

from ._errors import TweedieError, TweedieTypeError

_SEED_MASK = 0xFFFFFFFFFFFFFFFF
_INT64 = range(-(1 << 63), 1 << 63)


def shown(value: Any) -> str:
    """``value`` for a one-line message: its repr when short, else its type's name."""
    text = repr(value)
    if len(text) > 40 or "\n" in text:
        return f"a {type(value).__name__}"
    return text


def one_line(text: Any) -> str:
    """``text`` on one line: its runs of white space (new lines included) as single spaces."""
    return " ".join(str(text).split())


def _array(value: npt.ArrayLike, name: str) -> np.ndarray:
    """``value`` as an array of numbers (of its own dtype): anything else is refused, naming ``name``."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:  # ragged nested sequences, objects numpy cannot read
        raise TweedieError(f"{name}: not an array of numbers ({one_line(error)})") from None
    if array.dtype.kind not in "fiu":
        raise TweedieTypeError(f"{name}: expected numbers, got dtype {array.dtype}")
    return array


def _float64(array: np.ndarray, name: str) -> npt.NDArray[np.float64]:
    """``array`` as a C-contiguous float64 array of its shape (itself when it is one already)."""
    try:
        return np.asarray(array, dtype=np.float64, order="C")
    except ValueError:  # numpy refuses a float64 array whose shape overflows, even an empty one: (0, 2**62)
        raise TweedieError(f"{name}: an array of shape {array.shape} is too large for float64") from None


def numbers(value: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """``value`` as a C-contiguous float64 array of any shape; anything but numbers is refused."""
    return _float64(_array(value, name), name)


def points(x: npt.ArrayLike, dimension: Optional[int] = None, name: str = "x",
           shape: Optional[Sequence[int]] = None) -> npt.NDArray[np.float64]:
    """``x`` as a C-contiguous float64 (B, D) array: (B, *shape) flattened per point, (D,) as one point.
    float32 and non-contiguous inputs are converted, never misread; anything else is refused. With the
    model's point ``shape`` (N, d), a (B, ...) array of points of another shape is refused, even when
    it holds D numbers a point."""
    if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 2 and x.flags.c_contiguous:
        if dimension is not None and x.shape[1] != dimension:
            raise TweedieError(f"{name}: points have {x.shape[1]} coordinates, the model has {dimension}")
        return x
    array = _array(x, name)
    if array.ndim == 0:
        raise TweedieError(f"{name}: expected points (B, D), got a scalar")
    # The shape is checked before the conversion: an empty (0, 2**59, 3) has no float64 copy, and
    # reshape(B, -1) cannot infer the -1 of an empty array.
    rows, columns = (1, array.shape[0]) if array.ndim == 1 else (array.shape[0], math.prod(array.shape[1:]))
    if dimension is not None and columns != dimension:
        raise TweedieError(f"{name}: points have {columns} coordinates, the model has {dimension}")
    if array.ndim > 2 and shape is not None and len(shape) > 1 and array.shape[1:] != tuple(shape):
        raise TweedieError(f"{name}: points of shape {array.shape[1:]}, the model's have shape {tuple(shape)}")
    return _float64(array, name).reshape(rows, columns)


def integer(value: Any, name: str) -> int:
    """``value`` as an int: a Python or numpy integer (not a bool, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TweedieTypeError(f"{name}: expected an integer, got {shown(value)}")
    if int(value) not in _INT64:  # ctypes would wrap it silently
        raise TweedieError(f"{name}: must be a 64-bit integer, got {int(value)}")
    return int(value)


def flag(value: Any, name: str) -> bool:
    """``value`` as a bool: a Python or numpy bool (not an integer, a string or None)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TweedieTypeError(f"{name}: expected True or False, got {shown(value)}")
    return bool(value)


def seed(value: Any) -> int:
    """A seed as the library's unsigned 64-bit integer (negative seeds wrap, as in numpy)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TweedieTypeError(f"seed: expected an integer, got {shown(value)}")
    return int(value) & _SEED_MASK


def number(value: Any, name: str) -> float:
    """``value`` as a float: any real number (not a string)."""
    if isinstance(value, (str, bytes)):
        raise TweedieTypeError(f"{name}: expected a number, got {shown(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TweedieTypeError(f"{name}: expected a number, got {shown(value)}") from None


def optional_number(value: Any, name: str) -> float:
    """``value`` as a float, None as NaN (the C ABI's "not given"): a NaN given is refused, not
    taken for "not given"."""
    if value is None:
        return float("nan")
    result = number(value, name)
    if math.isnan(result):
        raise TweedieError(f"{name}: must be a number, got nan (None for the default)")
    return result


def text(value: Any, name: str) -> bytes:
    """A string argument, encoded for the C ABI (which would end it at a NUL character)."""
    if not isinstance(value, str):
        raise TweedieTypeError(f"{name}: expected a string, got {shown(value)}")
    try:
        encoded = value.encode()
    except UnicodeEncodeError as error:
        raise TweedieError(f"{name}: not valid Unicode text ({one_line(error)})") from None
    if b"\0" in encoded:
        raise TweedieError(f"{name}: embedded NUL character in {shown(value)}")
    return encoded


def path(value: Any) -> bytes:
    """A file path (a string or an ``os.PathLike``), encoded for the C ABI (which would end it at a
    NUL character, as ``open`` refuses)."""
    try:
        encoded = os.fsencode(value)
    except TypeError:
        raise TweedieTypeError(f"path: expected a string or an os.PathLike, got {shown(value)}") from None
    if b"\0" in encoded:
        raise TweedieError(f"path: embedded NUL character in {shown(value)}")
    return encoded
