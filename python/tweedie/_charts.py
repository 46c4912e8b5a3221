"""Charts: the same SVG pictures the command line draws."""
from __future__ import annotations

import os
from typing import Optional, Union

import numpy.typing as npt

from ._arguments import path as _path, points, text
from ._models import Model, require_model
from ._native import check, lib, pointer

__all__ = ["plot_samples"]


def plot_samples(model: Model, samples: npt.ArrayLike, path: Union[str, "os.PathLike[str]"],
                 title: Optional[str] = None) -> None:
    """Draws samples over contours of the model's exact density to an SVG file.

    The picture ``tweedie sample --plot`` draws: for D = 2 the plane itself, for D > 2 the first two
    principal axes of the model (the projected density is exact); for a data set (Dirac components)
    the contours are those of p_t at a small σ.

    Parameters
    ----------
    model : Model
        The model whose density is drawn.
    samples : array_like, shape (n, D) or (n, *model.shape)
        The points to draw.
    path : str or os.PathLike
        The ``.svg`` file to write (atomically: a failure leaves no file).
    title : str, optional
        The chart's title (default: the model's name and the number of samples).

    Returns
    -------
    None
        The picture is the file at ``path``.

    Raises
    ------
    TweedieTypeError
        If an argument has the wrong type.
    TweedieError
        If the samples do not match the model, or the file cannot be written.

    Examples
    --------
    >>> model = Model.builtin("ring8")
    >>> import tweedie, tempfile, os
    >>> x = tweedie.sample(model, sampler="heun", schedule="edm", steps=10, count=200, seed=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     plot_samples(model, x, os.path.join(folder, "ring8.svg"))
    """
    model = require_model(model, "plot_samples")
    x = points(samples, model.dimension, "samples", model.shape)
    label = title if title is not None else f"{model.name or 'model'}: {x.shape[0]} samples"
    check(lib.tweedie_plot_samples(model._handle, pointer(x), x.shape[0], x.shape[1], text(label, "title"),
                                   _path(path)))
