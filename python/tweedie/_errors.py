"""The exceptions of the package: one for bad input, one for input of the wrong type."""
from __future__ import annotations

__all__ = ["TweedieError", "TweedieTypeError"]


class TweedieError(ValueError):
    """Bad input or a failed computation, with the library's one-line message.

    Every error the package raises is a ``TweedieError``: the Swift library checks every argument
    and returns a one-line message, which is raised as this exception. It is a ``ValueError``, so
    code that catches ``ValueError`` catches it too.

    Examples
    --------
    >>> import tweedie
    >>> try:
    ...     tweedie.Model.builtin("ring9")
    ... except tweedie.TweedieError as error:
    ...     print("not a built-in model" in str(error))
    True
    """


class TweedieTypeError(TweedieError, TypeError):
    """An argument of the wrong type: not a number, not an array of numbers, not a string, not a
    :class:`~tweedie.Model`, not a callable.

    It is both a :class:`TweedieError` (so ``except TweedieError`` catches every error of the
    package) and a ``TypeError`` (as numpy and scikit-learn raise for arguments of the wrong type).

    Examples
    --------
    >>> import tweedie
    >>> try:
    ...     tweedie.Oracle("ring8")
    ... except TypeError as error:
    ...     print(type(error).__name__)
    TweedieTypeError
    """
