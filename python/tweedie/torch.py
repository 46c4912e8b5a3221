"""PyTorch adapters: the exact oracle where a network would go.

* :class:`KDiffusionDenoiser` has k-diffusion's denoiser signature ``model(x, sigma) -> denoised``
  (the EDM/VE convention, α = 1, one σ per row), so every ``k_diffusion.sampling.sample_*`` runs on
  the exact denoiser.
* :class:`DiffusersModel` is called like a UNet inside a diffusers scheduler loop,
  ``model(x, t).sample``, returning ε (or v for a ``v_prediction`` scheduler) from the scheduler's
  own ``alphas_cumprod``.

Tensors go to the library as float64 on the CPU and come back in the input's dtype and device.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from . import Model, Oracle, TweedieError, TweedieTypeError
from ._conformance import Conformance
from ._conformance import conformance as _conformance
from ._conformance import standard_conformance_prior
from ._molecules import Equivariance
from ._molecules import equivariance as _equivariance

__all__ = ["KDiffusionDenoiser", "DiffusersModel", "k_diffusion_sampling", "conformance", "equivariance"]


def k_diffusion_sampling() -> types.ModuleType:
    """``k_diffusion.sampling``, imported without running the package's ``__init__``.

    k-diffusion's ``__init__`` imports its training stack (wandb, clip, ...); the samplers need
    only torch, scipy, torchdiffeq, torchsde and tqdm (and torchvision for ``k_diffusion.utils``).

    Returns
    -------
    module
        ``k_diffusion.sampling``, with ``sample_euler``, ``sample_heun``, ``get_sigmas_karras``, ...

    Raises
    ------
    ImportError
        If k-diffusion is not installed.
    """
    if "k_diffusion.sampling" in sys.modules:
        return sys.modules["k_diffusion.sampling"]
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("k-diffusion is not installed (pip install --no-deps k-diffusion)")
    root = Path(spec.submodule_search_locations[0])
    if "k_diffusion" not in sys.modules:
        package = types.ModuleType("k_diffusion")
        package.__path__ = [str(root)]
        package.__spec__ = importlib.util.spec_from_loader("k_diffusion", loader=None, is_package=True)
        package.__spec__.submodule_search_locations = [str(root)]
        sys.modules["k_diffusion"] = package
    return importlib.import_module("k_diffusion.sampling")


def _numpy(tensor: torch.Tensor) -> npt.NDArray[np.float64]:
    """A tensor as a float64 numpy array on the CPU."""
    return tensor.detach().to("cpu", torch.float64).numpy()


def _rows(x: torch.Tensor, dimension: int) -> npt.NDArray[np.float64]:
    """A batch of points as (B, D) float64 rows; the model's D is required."""
    flat = _numpy(x).reshape(x.shape[0], -1)
    if flat.shape[1] != dimension:
        raise TweedieError(f"x: points have {flat.shape[1]} coordinates, the model has {dimension}")
    return flat


class KDiffusionDenoiser(torch.nn.Module):
    """The exact denoiser E[x_0 | x_σ] with k-diffusion's signature ``model(x, sigma)``.

    For x_σ = x_0 + σ R z (α = 1, the EDM/VE convention), so every
    ``k_diffusion.sampling.sample_*`` runs on the exact denoiser.

    Parameters
    ----------
    model : Model
        The model whose exact oracle denoises.

    Attributes
    ----------
    oracle : Oracle
        The model's oracle.

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`~tweedie.Model`.
    """

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.oracle = Oracle(model)

    def forward(self, x: torch.Tensor, sigma: Any, **_extra_args: Any) -> torch.Tensor:
        """E[x_0 | x_σ] for a batch.

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
            The noisy points; each row holds D numbers.
        sigma : torch.Tensor or float
            σ, one value or one per row.
        **_extra_args
            Ignored (k-diffusion passes ``extra_args`` through to the model).

        Returns
        -------
        torch.Tensor
            The denoised points, in the shape, dtype and device of ``x``.

        Raises
        ------
        TweedieError
            If the rows do not hold D numbers, or ``sigma`` is neither one value nor one per row.
        """
        rows = _rows(x, self.oracle.dimension)
        sigmas = _numpy(torch.as_tensor(sigma)).reshape(-1)
        if sigmas.size == 1:
            sigmas = np.full(rows.shape[0], sigmas[0])
        elif sigmas.size != rows.shape[0]:
            raise TweedieError(f"sigma: need one value or one per row ({rows.shape[0]}), got {sigmas.size}")
        # k-diffusion passes one σ repeated on every row: then one level, passed by value.
        level = float(sigmas[0]) if sigmas.size and (sigmas == sigmas[0]).all() else sigmas
        denoised = self.oracle.denoise(rows, alpha=1.0, sigma=level)
        return torch.from_numpy(denoised).reshape(x.shape).to(dtype=x.dtype, device=x.device)


@dataclass
class UNetOutput:
    """What a diffusers UNet returns: the prediction in ``.sample``.

    Attributes
    ----------
    sample : torch.Tensor
        The prediction: ε, or v for a ``v_prediction`` scheduler.
    """

    sample: torch.Tensor


class DiffusersModel:
    """The exact ε (or v) prediction at a diffusers timestep, called as ``model(x, t).sample``
    like a UNet.

    The level of timestep t is α_t = √ᾱ_t and σ_t = √(1 − ᾱ_t), from the scheduler's own
    ``alphas_cumprod``.

    Parameters
    ----------
    model : Model
        The model whose exact oracle predicts.
    scheduler : diffusers scheduler
        A scheduler with ``alphas_cumprod`` and ``config.prediction_type`` (``epsilon`` or
        ``v_prediction``).

    Attributes
    ----------
    oracle : Oracle
        The model's oracle.
    alphas_cumprod : torch.Tensor
        ᾱ_t by timestep, float64.
    prediction_type : str
        ``epsilon`` or ``v_prediction``.

    Raises
    ------
    TweedieTypeError
        If ``model`` is not a :class:`~tweedie.Model`.
    TweedieError
        If the scheduler predicts something other than ε or v.
    """

    def __init__(self, model: Model, scheduler: Any) -> None:
        self.oracle = Oracle(model)
        self.alphas_cumprod = torch.as_tensor(scheduler.alphas_cumprod).to(torch.float64)
        self.prediction_type = getattr(scheduler.config, "prediction_type", "epsilon")
        if self.prediction_type not in ("epsilon", "v_prediction"):
            raise TweedieError(f"DiffusersModel: prediction_type '{self.prediction_type}' is not epsilon or v_prediction")

    def __call__(self, x: torch.Tensor, timestep: Any, *args: Any, **kwargs: Any) -> UNetOutput:
        """The prediction at ``timestep``, as a UNet's output.

        Parameters
        ----------
        x : torch.Tensor, shape (B, ...)
            The noisy points; each row holds D numbers.
        timestep : torch.Tensor or int
            The diffusers timestep, one or one per row.
        *args, **kwargs
            Ignored (a UNet's conditioning arguments).

        Returns
        -------
        UNetOutput
            ``.sample`` holds ε (or v), in the shape, dtype and device of ``x``.

        Raises
        ------
        TweedieError
            If the rows do not hold D numbers.
        """
        rows = _rows(x, self.oracle.dimension)
        t = torch.as_tensor(timestep).reshape(-1).to(torch.long).cpu()
        alpha_bar = self.alphas_cumprod[t].numpy()
        alpha, sigma = np.sqrt(alpha_bar), np.sqrt(1 - alpha_bar)
        result = self.oracle.evaluate(rows, alpha=alpha, sigma=sigma)
        prediction = result.standardized_noise
        if self.prediction_type == "v_prediction":
            alpha_rows = np.broadcast_to(np.atleast_1d(alpha), (rows.shape[0],))[:, None]
            sigma_rows = np.broadcast_to(np.atleast_1d(sigma), (rows.shape[0],))[:, None]
            prediction = alpha_rows * prediction - sigma_rows * result.denoised
        return UNetOutput(torch.from_numpy(np.ascontiguousarray(prediction)).reshape(x.shape).to(dtype=x.dtype, device=x.device))


def conformance(sample: Any, model: Model | None = None, **options: Any) -> Conformance:
    """:func:`tweedie.conformance` for a sampler with k-diffusion's signature.

    ``sample(denoiser, x, sigmas, disable=True)`` is called with :class:`KDiffusionDenoiser` of the
    prior, x and sigmas as float64 tensors, after ``torch.manual_seed(seed)`` (k-diffusion's
    stochastic samplers draw their noise from torch's global generator).

    Parameters
    ----------
    sample : callable
        E.g. ``k_diffusion.sampling.sample_heun``, or ``functools.partial(sample_dpmpp_2m_sde, eta=1.0)``.
    model : Model, optional
        The prior; :func:`tweedie.standard_conformance_prior` by default.
    **options
        ``steps``, ``count``, ``seed``, ``sigma_min``, ``sigma_max`` as for :func:`tweedie.conformance`.

    Returns
    -------
    Conformance

    Raises
    ------
    TweedieTypeError
        If ``sample`` is not callable.
    """
    if not callable(sample):
        raise TweedieTypeError(f"sample: expected a callable, got {type(sample).__name__}")
    prior = standard_conformance_prior() if model is None else model
    denoiser = KDiffusionDenoiser(prior)

    def run(x: npt.NDArray[np.float64], sigmas: npt.NDArray[np.float64], seed: int) -> npt.NDArray[np.float64]:
        torch.manual_seed(seed)
        out = sample(denoiser, torch.from_numpy(x), torch.from_numpy(sigmas), disable=True)
        return _numpy(out)

    return _conformance(run, prior, **options)


def equivariance(module: Any, x: Any, *, sigma: float, **options: Any) -> Equivariance:
    """:func:`tweedie.equivariance` for a torch denoiser of molecules.

    ``module(x, sigma)`` is called with x a float64 tensor of shape (B, N, 3) and sigma a tensor
    of B equal noise levels (k-diffusion's convention), under ``torch.no_grad()``; it returns the
    denoised molecules, shape (B, N, 3).

    Parameters
    ----------
    module : callable
        A ``torch.nn.Module`` or any callable on tensors.
    x : array_like or torch.Tensor, shape (B, N, 3)
        The noisy molecules at which to check.
    sigma : float
        The noise level.
    **options
        ``draws``, ``centred``, ``model``, ``alpha``, ``seed`` as for :func:`tweedie.equivariance`.

    Returns
    -------
    Equivariance
    """
    if not callable(module):
        raise TweedieTypeError(f"module: expected a callable, got {type(module).__name__}")
    points = _numpy(x) if isinstance(x, torch.Tensor) else x

    def run(y: npt.NDArray[np.float64], level: float) -> npt.NDArray[np.float64]:
        with torch.no_grad():
            tensor = torch.from_numpy(np.ascontiguousarray(y))
            out = module(tensor, torch.full((len(y),), level, dtype=torch.float64))
        if not isinstance(out, torch.Tensor):
            raise TweedieTypeError(f"module: returned {type(out).__name__}, expected a tensor")
        return _numpy(out)

    return _equivariance(run, points, sigma=sigma, **options)

