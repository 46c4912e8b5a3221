"""Molecules: molecular files in and out, superposition, and the equivariance of a denoiser.

The readers and writers (XYZ and extended XYZ, SDF V2000, PDB) and the Kabsch superposition are the
library's (docs/math.md §13); :func:`equivariance` runs any denoiser, a network or the exact oracle,
on rotated and translated copies of the same points.
"""
from __future__ import annotations

import ctypes
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import numpy.typing as npt

from ._arguments import flag, integer, number, numbers, points, seed as _seed, text
from ._arguments import path as _path
from ._display import result_repr
from ._errors import TweedieError
from ._models import _symbols
from ._native import check, lib, pointer, take_string

__all__ = ["Conformers", "read_molecules", "write_molecules", "Superposition", "superpose", "Equivariance",
           "equivariance", "HarmonicOracle", "HarmonicResult"]


@dataclass(frozen=True, repr=False)
class Conformers:
    """Frames of one molecule, as a molecular file holds them.

    Attributes
    ----------
    symbols : tuple of str
        The element symbol of each of the N atoms.
    frames : ndarray of float64, shape (F, N, 3)
        The coordinates of each frame (conformer, or step of a trajectory).
    titles : tuple of str
        Each frame's title or comment line.
    """

    symbols: tuple[str, ...]
    frames: npt.NDArray[np.float64]
    titles: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Conformers({self.frames.shape[0]} frames of {len(self.symbols)} atoms)"


def read_molecules(path: str | os.PathLike[str], *, atoms: str = "all") -> Conformers:
    """The frames of a molecular file: .xyz or .extxyz (multi-frame), .sdf or .mol (V2000), .pdb.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its extension chooses the format.
    atoms : {"all", "ca"}, default "all"
        For PDB files: every atom, or the Cα atoms of the amino-acid residues.

    Returns
    -------
    Conformers

    Raises
    ------
    TweedieError
        If the file cannot be read, is not of a known format, or its frames differ in their atoms;
        the message names the file and the line.

    Examples
    --------
    >>> import tweedie
    >>> c = tweedie.read_molecules("examples/molecules/butanol.xyz")   # doctest: +SKIP
    >>> c.frames.shape                                                  # doctest: +SKIP
    (40, 15, 3)
    """
    out = ctypes.c_void_p()
    check(lib.tweedie_molecules_read(_path(path), text(atoms, "atoms"), ctypes.byref(out)))
    parsed = json.loads(take_string(out))
    symbols = tuple(parsed["symbols"])
    frames = np.array(parsed["frames"], dtype=np.float64).reshape(len(parsed["frames"]), len(symbols), 3)
    return Conformers(symbols, frames, tuple(parsed["titles"]))


def write_molecules(path: str | os.PathLike[str], frames: npt.ArrayLike, symbols: Sequence[str], *,
                    titles: Optional[Sequence[str]] = None) -> None:
    """Writes frames to a molecular file, atomically; the extension (.xyz, .sdf, .pdb) chooses the format.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    frames : array_like, shape (F, N, 3) or (F, 3N)
        The coordinates (e.g. samples of a model of shape (N, 3)).
    symbols : sequence of str
        The N element symbols.
    titles : sequence of str, optional
        One title per frame.

    Returns
    -------
    None

    Raises
    ------
    TweedieError
        If the shapes disagree, a coordinate is not finite or does not fit the format, or the file
        cannot be written.
    """
    listed = _symbols(symbols)
    array = numbers(frames, "frames")
    if array.ndim == 3:
        array = array.reshape(array.shape[0], -1)
    if array.ndim != 2:
        raise TweedieError(f"frames: expected shape (F, N, 3) or (F, 3N), got {array.shape}")
    joined = None
    if titles is not None:
        names = [text(t, "titles").decode() for t in titles]
        if any("\n" in t for t in names):
            raise TweedieError("titles: a title may not hold a line break")
        joined = "\n".join(names).encode()
    check(lib.tweedie_molecules_write(_path(path), text(" ".join(listed), "symbols"), pointer(array), array.shape[0],
                                      array.shape[1], joined))


@dataclass(frozen=True, repr=False)
class Superposition:
    """The optimal superposition of one conformer onto another (Kabsch; docs/math.md §13.2).

    Attributes
    ----------
    rotation : ndarray, shape (3, 3)
        R, a proper rotation, applied to the centred moving atoms as R p.
    aligned : ndarray, shape (N, 3)
        The moving atoms centred, rotated and placed at the target's centre.
    rmsd : float
        The root-mean-square deviation after superposition.
    """

    rotation: npt.NDArray[np.float64]
    aligned: npt.NDArray[np.float64]
    rmsd: float

    def __repr__(self) -> str:
        return result_repr(self)


def superpose(moving: npt.ArrayLike, target: npt.ArrayLike) -> Superposition:
    """Superposes ``moving`` onto ``target`` (N×3 each) by the rotation of least RMSD.

    Parameters
    ----------
    moving, target : array_like, shape (N, 3)
        Two conformers of the same atoms, in the same order.

    Returns
    -------
    Superposition

    Raises
    ------
    TweedieError
        If the shapes differ or a coordinate is not finite.
    """
    p, q = numbers(moving, "moving"), numbers(target, "target")
    if p.ndim != 2 or p.shape[-1] != 3 or q.shape != p.shape:
        raise TweedieError(f"moving, target: expected two arrays of shape (N, 3), got {p.shape} and {q.shape}")
    rotation, aligned, rmsd = np.empty((3, 3)), np.empty_like(p), np.empty(1)
    check(lib.tweedie_superpose(pointer(p), pointer(q), p.shape[0], pointer(rotation), pointer(aligned),
                                pointer(rmsd)))
    return Superposition(rotation, aligned, float(rmsd[0]))


@dataclass(frozen=True, repr=False)
class Equivariance:
    """How far a denoiser is from E(3)-equivariance at one noise level (docs/math.md §13.2).

    Attributes
    ----------
    deviations : ndarray, shape (draws,)
        max over points of ‖D(R x + b) − (R D(x) + b)‖ / ‖D(x)‖ for each drawn rotation R and
        translation b (without the + b on the right for a ``centred`` denoiser).
    largest : float
        The largest deviation.
    reference : float or None
        The same figure for the exact oracle of ``model`` on the same draws, when a model is given:
        rounding where the model's law is invariant.
    """

    deviations: npt.NDArray[np.float64]
    largest: float
    reference: Optional[float]

    def __repr__(self) -> str:
        return result_repr(self)


def _rotations(count: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """``count`` rotations drawn uniformly: the Q factor of a Gaussian 3×3 matrix with the signs of
    R's diagonal moved into Q, and a reflection undone."""
    out = np.empty((count, 3, 3))
    for i in range(count):
        q, r = np.linalg.qr(rng.standard_normal((3, 3)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        out[i] = q
    return out


def equivariance(denoiser: Callable[[npt.NDArray[np.float64], float], Any], x: npt.ArrayLike, *, sigma: float,
                 draws: int = 16, centred: bool = False, model: Any = None, alpha: float = 1.0,
                 seed: int = 0) -> Equivariance:
    """The equivariance check of a denoiser under rotations and translations of the molecule.

    Parameters
    ----------
    denoiser : callable
        ``denoiser(x, sigma)`` with x of shape (B, N, 3) returns E[x_0 | x] of the same shape (a
        network's prediction of the clean molecule; see :func:`tweedie.torch.equivariance` for
        torch modules).
    x : array_like, shape (B, N, 3)
        Noisy points at which to check.
    sigma : float
        The noise level passed to the denoiser.
    draws : int, default 16
        The number of random rotations (each with a random translation b ~ N(0, I_3)).
    centred : bool, default False
        For a denoiser of a zero-centre-of-mass model: translations are to be ignored, so the
        check is D(R x + b) = R D(x).
    model : Model, optional
        A model whose exact oracle (at ``alpha``, ``sigma``) is checked on the same draws, for
        reference; its point shape must be (N, 3).
    alpha : float, default 1.0
        The signal scale of ``model``'s oracle.
    seed : int, default 0
        The seed of the draws.

    Returns
    -------
    Equivariance

    Raises
    ------
    TweedieError
        If ``x`` is not (B, N, 3), or the denoiser returns another shape or non-finite values.
    """
    noisy = numbers(x, "x")
    if noisy.ndim != 3 or noisy.shape[2] != 3:
        raise TweedieError(f"x: expected shape (B, N, 3), got {noisy.shape}")
    count, s = integer(draws, "draws"), number(sigma, "sigma")
    if count < 1:
        raise TweedieError(f"draws: must be at least 1, got {count}")
    centred_check = flag(centred, "centred")
    rng = np.random.default_rng(_seed(seed))
    rotations = _rotations(count, rng)
    shifts = rng.standard_normal((count, 3))

    def call(f: Callable[[npt.NDArray[np.float64], float], Any], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = np.asarray(f(y, s), dtype=np.float64)
        if out.shape != y.shape:
            raise TweedieError(f"denoiser: returned shape {out.shape} for points of shape {y.shape}")
        if not np.all(np.isfinite(out)):
            raise TweedieError("denoiser: returned a NaN or an infinity")
        return out

    def deviations(f: Callable[[npt.NDArray[np.float64], float], Any], centred_f: bool) -> npt.NDArray[np.float64]:
        base = call(f, noisy)
        scale = np.maximum(np.linalg.norm(base.reshape(len(base), -1), axis=1), 1e-300)
        out = np.empty(count)
        for i in range(count):
            r, b = rotations[i], shifts[i]
            moved = call(f, noisy @ r.T + b)
            expected = base @ r.T + (0.0 if centred_f else b)
            out[i] = float(np.max(np.linalg.norm((moved - expected).reshape(len(base), -1), axis=1) / scale))
        return out

    found = deviations(denoiser, centred_check)
    reference = None
    if model is not None:
        from ._models import require_model
        from ._oracle import Oracle

        m = require_model(model, "equivariance")
        if tuple(m.shape) != noisy.shape[1:]:
            raise TweedieError(f"model: points of shape {m.shape}, x has points of shape {noisy.shape[1:]}")
        oracle = Oracle(m)
        a = number(alpha, "alpha")

        def exact(y: npt.NDArray[np.float64], level: float) -> npt.NDArray[np.float64]:
            return oracle.denoise(y, alpha=a, sigma=level).reshape(y.shape)

        reference = float(np.max(deviations(exact, m.zero_centre_of_mass)))
    return Equivariance(found, float(np.max(found)), reference)


@dataclass(frozen=True, repr=False)
class HarmonicResult:
    """The oracle under a harmonic process at one time, for B points (docs/math.md §13.4).

    Attributes
    ----------
    log_density : ndarray, shape (B,)
        log p_t(x) on the zero-centre-of-mass subspace, in (N − 1)·d degrees of freedom.
    responsibilities : ndarray, shape (B, K)
        p(k | x_t).
    denoised : ndarray, shape (B, N, d)
        E[x_0 | x_t].
    score : ndarray, shape (B, N, d)
        ∇ log p_t(x).
    """

    log_density: npt.NDArray[np.float64]
    responsibilities: npt.NDArray[np.float64]
    denoised: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]

    def __repr__(self) -> str:
        return result_repr(self)


class HarmonicOracle:
    """The exact oracle of a model under a harmonic (matrix-valued) process (docs/math.md §13.4).

    The process dx = −½ (H ⊗ I_d) x dt + dW noises each normal mode of H at its own rate:
    a_i(t) = exp(−λ_i t/2), s_i²(t) = (1 − exp(−λ_i t))/λ_i, the centre of mass dropped. By default
    H is EigenFold's chain, κ L with L the Laplacian of the path of the atoms in their order.

    Parameters
    ----------
    model : Model
        A prior on points of shape (N, d) with the identity noise covariance (the process sets the
        noise); it is taken on the zero-centre-of-mass subspace.
    strength : float, optional
        κ of the chain (3/3.8² Å⁻² by default).
    atom_matrix : array_like, shape (N, N), optional
        H itself: symmetric, positive semi-definite, with H 1 = 0 (instead of the chain).

    Raises
    ------
    TweedieError
        If the model's points are not (N, d), it has its own noise covariance, or H is not a
        connected graph's Laplacian.
    """

    def __init__(self, model: Any, *, strength: Optional[float] = None,
                 atom_matrix: Optional[npt.ArrayLike] = None) -> None:
        from ._models import require_model

        self._handle: Optional[ctypes.c_void_p] = None
        self._model = require_model(model, "HarmonicOracle")
        if len(self._model.shape) != 2:
            raise TweedieError(f"model: a harmonic process needs points shaped (N, d), got {self._model.shape}")
        given = float("nan") if strength is None else number(strength, "strength")
        if strength is not None and not (math.isfinite(given) and given > 0):
            raise TweedieError(f"strength: must be finite and > 0, got {given}")
        matrix = None if atom_matrix is None else numbers(atom_matrix, "atom_matrix")
        if matrix is not None and matrix.shape != (self._model.shape[0],) * 2:
            raise TweedieError(f"atom_matrix: expected shape {(self._model.shape[0],) * 2}, got {matrix.shape}")
        handle = ctypes.c_void_p()
        check(lib.tweedie_harmonic_new(self._model._handle, pointer(matrix), given, ctypes.byref(handle)))
        self._handle = handle

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            lib.tweedie_harmonic_free(handle)
            self._handle = None

    def evaluate(self, x: npt.ArrayLike, t: float) -> HarmonicResult:
        """log p_t, p(k | x_t), E[x_0 | x_t] and the score at the points ``x`` and time ``t`` > 0.

        Parameters
        ----------
        x : array_like, shape (B, N, d) or (B, N·d)
            The noisy points (taken at their projection on the zero-centre-of-mass subspace).
        t : float
            The time of the process.

        Returns
        -------
        HarmonicResult
        """
        m = self._model
        array = points(x, m.dimension, shape=m.shape)
        rows = array.shape[0]
        log_density, responsibilities = np.empty(rows), np.empty((rows, m.components))
        denoised, score = np.empty_like(array), np.empty_like(array)
        check(lib.tweedie_harmonic_evaluate(self._handle, number(t, "t"),
                                            pointer(array), rows, array.shape[1], pointer(log_density),
                                            pointer(responsibilities), pointer(denoised), pointer(score)))
        shape = (rows,) + tuple(m.shape)
        return HarmonicResult(log_density, responsibilities, denoised.reshape(shape), score.reshape(shape))

    def sample(self, count: int, *, seed: int = 0, t_max: float = 10.0, t_min: float = 1e-3,
               steps: Optional[int] = None, rtol: float = 1e-6, atol: float = 1e-6) -> npt.NDArray[np.float64]:
        """Samples from exact draws of p_{t_max} to t_min, closed by E[x_0 | x_{t_min}]
        (docs/math.md §13.5): by the probability-flow ODE (the only error is the integrator's), or
        with ``steps`` by the reverse SDE (Euler–Maruyama, EigenFold's sampler) on the exact score.

        Parameters
        ----------
        count : int
            The number of samples.
        seed : int, default 0
            The seed.
        t_max, t_min : float, default 10 and 1e-3
            The times the flow runs between.
        steps : int, optional
            Euler–Maruyama steps of the reverse SDE; None integrates the probability-flow ODE.
        rtol, atol : float, default 1e-6
            Dormand–Prince's tolerances (the ODE).

        Returns
        -------
        ndarray of float64, shape (count, N, d)
            The samples, on the zero-centre-of-mass subspace.
        """
        m = self._model
        n = integer(count, "count")
        if n < 1:
            raise TweedieError(f"count: must be at least 1, got {n}")
        try:
            out = np.empty((n, m.dimension))
        except (MemoryError, ValueError):  # ValueError: a size beyond numpy's
            raise TweedieError(f"count: {n} samples × D = {m.dimension} do not fit in memory") from None
        check(lib.tweedie_harmonic_sample(self._handle, n, _seed(seed),
                                          number(t_max, "t_max"), number(t_min, "t_min"),
                                          0 if steps is None else integer(steps, "steps"), number(rtol, "rtol"),
                                          number(atol, "atol"), pointer(out)))
        return out.reshape((n,) + tuple(m.shape))

    def noise(self, x0: npt.ArrayLike, t: float, *, seed: int = 0) -> npt.NDArray[np.float64]:
        """x_t = A_t x_0 + S_t^{1/2} z: the points noised by the process at time t (on the subspace).

        Parameters
        ----------
        x0 : array_like, shape (B, N, d) or (B, N·d)
            Clean points (taken at their projection on the zero-centre-of-mass subspace).
        t : float
            The time, ≥ 0.
        seed : int, default 0
            The seed of z (one draw per point, in mode coordinates).

        Returns
        -------
        ndarray of float64, shape (B, N, d)
        """
        m = self._model
        array = points(x0, m.dimension, "x0", shape=m.shape)
        out = np.empty_like(array)
        check(lib.tweedie_harmonic_noise(self._handle, pointer(array),
                                         array.shape[0], array.shape[1], number(t, "t"), _seed(seed), pointer(out)))
        return out.reshape((array.shape[0],) + tuple(m.shape))

    def log_likelihood(self, x: npt.ArrayLike, *, t_min: float = 1e-3, t_max: float = 10.0, rtol: float = 1e-6,
                       atol: float = 1e-6) -> npt.NDArray[np.float64]:
        """log p_{t_min}(x) by the probability-flow ODE to t_max and the exact log p_{t_max}.

        Parameters
        ----------
        x : array_like, shape (B, N, d) or (B, N·d)
            The points (taken at their projection on the zero-centre-of-mass subspace).
        t_min, t_max : float, default 1e-3 and 10
            The times the flow runs between.
        rtol, atol : float, default 1e-6
            Dormand–Prince's tolerances.

        Returns
        -------
        ndarray of float64, shape (B,)
            The log-likelihoods, in (N − 1)·d degrees of freedom.
        """
        m = self._model
        array = points(x, m.dimension, shape=m.shape)
        out = np.empty(array.shape[0])
        check(lib.tweedie_harmonic_likelihood(self._handle, pointer(array),
                                              array.shape[0], array.shape[1], number(t_min, "t_min"),
                                              number(t_max, "t_max"), number(rtol, "rtol"), number(atol, "atol"),
                                              pointer(out)))
        return out

