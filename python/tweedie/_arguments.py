"""Arguments as the C ABI takes them: arrays of float64, integers, numbers, strings and paths.

Each helper converts one argument or raises :class:`~tweedie.TweedieTypeError` naming it; the
rules on values (ranges, shapes between arguments) are the library's, which checks them all.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

from ._errors import TweedieError, TweedieTypeError

_SEED_MASK = 0xFFFFFFFFFFFFFFFF


def shown(value: Any) -> str:
    """``value`` for a one-line message: its repr when short, else its type's name."""
    text = repr(value)
    if len(text) > 40 or "\n" in text:
        return f"a {type(value).__name__}"
    return text


def numbers(value: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """``value`` as a float64 array of any shape; anything but numbers is refused."""
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise TweedieTypeError(f"{name}: expected numbers, got dtype {array.dtype}")
    return np.asarray(array, dtype=np.float64)


def points(x: npt.ArrayLike, dimension: Optional[int] = None, name: str = "x") -> npt.NDArray[np.float64]:
    """``x`` as a C-contiguous float64 (B, D) array: (B, N, d) flattened per point, (D,) as one point.
    float32 and non-contiguous inputs are converted, never misread; anything else is refused."""
    if type(x) is np.ndarray and x.dtype == np.float64 and x.ndim == 2 and x.flags.c_contiguous:
        if dimension is not None and x.shape[1] != dimension:
            raise TweedieError(f"{name}: points have {x.shape[1]} coordinates, the model has {dimension}")
        return x
    array = np.ascontiguousarray(numbers(x, name))
    if array.ndim == 0:
        raise TweedieError(f"{name}: expected points (B, D), got a scalar")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    elif array.ndim > 2:
        array = array.reshape(array.shape[0], -1)
    if dimension is not None and array.shape[1] != dimension:
        raise TweedieError(f"{name}: points have {array.shape[1]} coordinates, the model has {dimension}")
    return array


def integer(value: Any, name: str) -> int:
    """``value`` as an int: a Python or numpy integer (not a bool, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TweedieTypeError(f"{name}: expected an integer, got {shown(value)}")
    return int(value)


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
    """``value`` as a float, None as NaN (the C ABI's "not given")."""
    return float("nan") if value is None else number(value, name)


def text(value: Any, name: str) -> bytes:
    """A string argument, encoded for the C ABI."""
    if not isinstance(value, str):
        raise TweedieTypeError(f"{name}: expected a string, got {shown(value)}")
    return value.encode()


def path(value: Any) -> bytes:
    """A file path (a string or an ``os.PathLike``), encoded for the C ABI."""
    try:
        return os.fsencode(value)
    except TypeError:
        raise TweedieTypeError(f"path: expected a string or an os.PathLike, got {shown(value)}") from None
