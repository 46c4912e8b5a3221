"""The C ABI of the Swift library (libTweedieC.so), loaded with ctypes.

Every call releases the GIL (ctypes.CDLL) and returns 0, or 1 with a one-line message from
``tweedie_last_error``, raised by :func:`check` as :class:`~tweedie.TweedieError`. ``_signatures``
is the binding's table, checked against include/tweedie.h by tests/test_header.py.
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ._errors import TweedieError

__all__ = ["lib", "MODEL_CALLBACK", "check", "pointer", "take_string", "TweedieError"]


def _find_library() -> str:
    """The path of libTweedieC.so: $TWEEDIE_LIBRARY, else the copy bundled in the package."""
    explicit = os.environ.get("TWEEDIE_LIBRARY")
    if explicit:
        return explicit
    bundled = Path(__file__).parent / "_lib" / "libTweedieC.so"
    if bundled.exists():
        return str(bundled)
    raise ImportError("libTweedieC.so is not bundled with this installation of tweedie; "
                      "reinstall with `pip install ./python` (needs Swift) or set TWEEDIE_LIBRARY")


lib = ctypes.CDLL(_find_library())

_p = ctypes.c_void_p
_d = ctypes.c_void_p   # float64 buffers are passed by address (array.ctypes.data): no pointer object per call
_i = ctypes.c_int32
_n = ctypes.c_ssize_t
_s = ctypes.c_char_p

_dp = ctypes.POINTER(ctypes.c_double)
MODEL_CALLBACK = ctypes.CFUNCTYPE(_i, _p, _dp, _n, _n, ctypes.c_double, ctypes.c_double, _dp)

_signatures = {
    "tweedie_last_error": ([], ctypes.c_char_p),
    "tweedie_string_free": ([_p], None),
    "tweedie_model_builtin": ([_s, ctypes.POINTER(_p)], _i),
    "tweedie_model_load": ([_s, ctypes.POINTER(_p)], _i),
    "tweedie_model_from_json": ([ctypes.c_char_p, _n, ctypes.POINTER(_p)], _i),
    "tweedie_model_to_json": ([_p, ctypes.POINTER(_p)], _i),
    "tweedie_model_save": ([_p, _s], _i),
    "tweedie_model_log_density": ([_p, _d, _n, _n, _d], _i),
    "tweedie_model_free": ([_p], None),
    "tweedie_model_from_npz": ([ctypes.c_char_p, _n, ctypes.POINTER(_p)], _i),
    "tweedie_model_subspace": ([_p, ctypes.POINTER(_n), ctypes.POINTER(_n), ctypes.POINTER(_n)], _i),
    "tweedie_molecules_read": ([_s, _s, ctypes.POINTER(_p)], _i),
    "tweedie_molecules_write": ([_s, _s, _d, _n, _n, _s], _i),
    "tweedie_superpose": ([_d, _d, _n, _d, _d, _d], _i),
    "tweedie_harmonic_new": ([_p, _d, ctypes.c_double, ctypes.POINTER(_p)], _i),
    "tweedie_harmonic_free": ([_p], None),
    "tweedie_harmonic_evaluate": ([_p, ctypes.c_double, _d, _n, _n, _d, _d, _d, _d], _i),
    "tweedie_harmonic_sample": ([_p, _n, ctypes.c_uint64, ctypes.c_double, ctypes.c_double, _n, ctypes.c_double,
                                 ctypes.c_double, _d], _i),
    "tweedie_harmonic_noise": ([_p, _d, _n, _n, ctypes.c_double, ctypes.c_uint64, _d], _i),
    "tweedie_harmonic_likelihood": ([_p, _d, _n, _n, ctypes.c_double, ctypes.c_double, ctypes.c_double,
                                     ctypes.c_double, _d], _i),
    "tweedie_model_sizes": ([_p, ctypes.POINTER(_n), ctypes.POINTER(_n), ctypes.POINTER(_n), _n, ctypes.POINTER(_n)], _i),
    "tweedie_oracle_new": ([_p, ctypes.c_char_p, ctypes.POINTER(_p)], _i),
    "tweedie_oracle_free": ([_p], None),
    "tweedie_oracle_evaluate": ([_p, _d, _n, _n, _d, _d, _n, _d, _d, _d, _d, _d, _d, _d, _d, _d], _i),
    "tweedie_oracle_denoise": ([_p, _d, _n, _n, _d, _d, _n, _d], _i),
    "tweedie_oracle_denoise_level": ([_p, _d, _n, _n, ctypes.c_double, ctypes.c_double, _d], _i),
    "tweedie_schedule_evaluate": ([_s, _d, _n, _d, _d, _d, _d, _d, _d], _i),
    "tweedie_observation_new": ([_d, _n, _n, _d, _d, ctypes.c_double, ctypes.POINTER(_p)], _i),
    "tweedie_observation_free": ([_p], None),
    "tweedie_sample": ([_p, MODEL_CALLBACK, _p, _s, _p, _d, _d], _i),
    "tweedie_sampler_path_kl": ([_p, _s, _s, _n, _n, ctypes.c_uint64, _d], _i),
    "tweedie_sampler_kl": ([_p, _s, _s, _n, _n, ctypes.c_uint64, _s, _d], _i),
    "tweedie_posterior": ([_p, _d, _n, _d, _d, ctypes.c_double, ctypes.POINTER(_p), _d, _d], _i),
    "tweedie_likelihood": ([_p, _s, _d, _n, _n, _s, _n, ctypes.c_uint64, ctypes.c_double, ctypes.c_double,
                            ctypes.c_double, ctypes.c_double, _d, _d, _d], _i),
    "tweedie_evaluate": ([_p, _d, _n, _n, ctypes.c_uint64, _n, ctypes.POINTER(_p)], _i),
    "tweedie_plot_samples": ([_p, _d, _n, _n, _s, _s], _i),
    "tweedie_pruned_new": ([_p, ctypes.c_double, ctypes.POINTER(_p)], _i),
    "tweedie_pruned_free": ([_p], None),
    "tweedie_pruned_denoise": ([_p, _d, _n, _n, _d, _d, _n, _d, _d, _d, _d], _i),
    "tweedie_last_certificate": ([_d], _i),
    "tweedie_truncation_study": ([_p, _d, _n, _n, ctypes.c_uint64, _s, _n, ctypes.POINTER(_p)], _i),
    "tweedie_grid_kl": ([_p, _s, _d, _n, _d, _d], _i),
    "tweedie_model_moments": ([_p, _d, _d], _i),
    "tweedie_gaussian_kl": ([_n, _d, _d, _d, _d, _d], _i),
    "tweedie_schedule_optimize": ([_p, _s, _n, _s, ctypes.c_double, ctypes.c_double, ctypes.c_int32,
                                   ctypes.POINTER(_p)], _i),
}
for _name, (_args, _result) in _signatures.items():
    _function = getattr(lib, _name)
    _function.argtypes = _args
    _function.restype = _result


def check(status: int) -> None:
    """Raises the library's last error when `status` is not 0."""
    if status != 0:
        message = lib.tweedie_last_error()
        raise TweedieError(message.decode("utf-8", "replace") if message else "unknown error")


def pointer(array: Optional[np.ndarray]) -> Optional[int]:
    """The address of a C-contiguous float64 array's data (None → NULL)."""
    if array is None:
        return None
    return array.ctypes.data


def take_string(handle: ctypes.c_void_p) -> str:
    """The text of a string the library returned, freed afterwards."""
    try:
        return (ctypes.cast(handle, ctypes.c_char_p).value or b"").decode("utf-8")
    finally:
        lib.tweedie_string_free(handle)
