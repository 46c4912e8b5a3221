"""Short, one-line reprs of the result types: arrays as their shape, or their values when few."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

_SHOWN_VALUES = 6


def compact(value: Any) -> str:
    """``value`` on one line: a small 1-D array by its values, a larger one by its shape and dtype."""
    if isinstance(value, np.ndarray):
        if value.ndim <= 1 and value.size <= _SHOWN_VALUES:
            return f"array({np.array2string(value, separator=', ', precision=6, max_line_width=10**6)})"
        return f"array(shape={value.shape}, dtype={value.dtype})"
    return repr(value)


def result_repr(result: Any) -> str:
    """``Type(field=value, ...)`` of a dataclass result, each field shown by :func:`compact`."""
    shown = ", ".join(f"{field.name}={compact(getattr(result, field.name))}" for field in fields(result))
    return f"{type(result).__name__}({shown})"
