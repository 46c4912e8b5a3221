"""The C header (include/tweedie.h) and the Python binding's table (_native._signatures) agree:
the same functions, and for each the same number of arguments, of the same kinds, and the same
result."""
import ctypes
import re
from pathlib import Path

import pytest

from tweedie import _native

HEADER = Path(__file__).resolve().parents[2] / "include" / "tweedie.h"
HANDLES = {"tweedie_model", "tweedie_oracle", "tweedie_observation", "tweedie_pruned", "tweedie_harmonic"}


def c_kind(declaration: str) -> str:
    """The kind of a C type (a parameter's name, if any, dropped): pointer, string, size, double, u64,
    i32, callback or void."""
    constant = re.search(r"\bconst\b", declaration) is not None
    words = re.sub(r"\bconst\b", "", declaration).replace("*", " * ").split()
    stars = words.count("*")
    names = [w for w in words if w != "*"]
    base = names[0]
    if base == "tweedie_model_callback":
        return "callback"
    if stars == 1 and constant and base in ("char", "uint8_t"):
        return "string"
    if stars or base in HANDLES:
        return "pointer"
    return {"ptrdiff_t": "size", "double": "double", "uint64_t": "u64", "int32_t": "i32", "void": "void"}[base]


def python_kind(kind) -> str:
    if kind is None:
        return "void"
    if isinstance(kind, type) and issubclass(kind, ctypes._CFuncPtr):
        return "callback"
    return {ctypes.c_void_p: "pointer", ctypes.c_char_p: "string", ctypes.c_ssize_t: "size",
            ctypes.c_double: "double", ctypes.c_uint64: "u64", ctypes.c_int32: "i32"}.get(
        kind, "pointer" if hasattr(kind, "_type_") else "unknown")


def header_functions() -> dict:
    """Each declared function: its parameters' kinds and its result's kind."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    functions = {}
    for statement in " ".join(text.split()).split(";"):
        match = re.fullmatch(r"\s*(?!typedef)([\w\s\*]+?)\b(tweedie_\w+)\s*\((.*)\)\s*", statement)
        if not match:
            continue
        result, name, parameters = match.groups()
        kinds = [] if parameters.strip() in ("", "void") else [c_kind(p) for p in parameters.split(",")]
        functions[name] = (kinds, c_kind(result))
    return functions


def test_the_header_parses_every_declaration():
    functions = header_functions()
    assert "tweedie_sample" in functions and "tweedie_last_error" in functions
    assert functions["tweedie_sample"][0] == ["pointer", "callback", "pointer", "string", "pointer", "pointer",
                                              "pointer"]


@pytest.mark.parametrize("name", sorted(_native._signatures))
def test_each_binding_matches_its_declaration(name):
    functions = header_functions()
    assert name in functions, f"{name} is bound in Python but not declared in include/tweedie.h"
    arguments, result = _native._signatures[name]
    kinds, result_kind = functions[name]
    assert [python_kind(a) for a in arguments] == kinds, name
    assert python_kind(result) == result_kind, name


def test_every_declaration_is_bound():
    assert set(header_functions()) == set(_native._signatures)
