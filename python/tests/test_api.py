"""The public API: every name in tweedie.__all__ exists and is documented (numpydoc sections that
name every parameter), an argument of the wrong type raises TweedieTypeError (a TweedieError and a
TypeError), results are frozen dataclasses with one-line reprs, and the package is marked typed."""
import dataclasses
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import tweedie
from tweedie import TweedieError, TweedieTypeError

PACKAGE = Path(tweedie.__file__).resolve().parent
RESULTS = ["OracleResult", "Posterior", "Measurement", "SamplerKL", "SamplerPathKL", "Likelihood", "PruningCertificate",
           "CertifiedDenoising", "TruncationStudy", "OptimalGrid"]


def section(doc: str, title: str) -> str:
    """The body of a numpydoc section ('' when the docstring has none)."""
    match = re.search(rf"^{title}\n-{{{len(title)}}}\n(.*?)(?=^\S[^\n]*\n-{{3,}}\n|\Z)", doc, flags=re.S | re.M)
    return match.group(1) if match else ""


def documented_names(doc: str, title: str) -> set:
    """The names a numpydoc section documents: ``a, b : type`` and ``**options`` lines."""
    names = set()
    for line in section(doc, title).splitlines():
        if line and not line[0].isspace():
            names.update(name.strip().lstrip("*") for name in line.split(" : ")[0].split(","))
    return names


def arguments(function) -> list:
    return [p.name for p in inspect.signature(function).parameters.values() if p.name not in ("self", "cls")]


def public_members(cls) -> list:
    """The public methods and properties a class defines itself."""
    return [(name, member) for name, member in vars(cls).items()
            if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, (classmethod, property)))]


def test_every_name_in_all_exists_once():
    assert len(set(tweedie.__all__)) == len(tweedie.__all__)
    for name in tweedie.__all__:
        assert hasattr(tweedie, name), name
    assert {"TweedieTypeError", "SamplerPathKL"} <= set(tweedie.__all__)
    assert tweedie.__version__


@pytest.mark.parametrize("name", tweedie.__all__)
def test_each_public_name_has_a_numpydoc_docstring(name):
    public = getattr(tweedie, name)
    if not callable(public):   # GUIDANCE_METHODS
        assert isinstance(public, tuple) and all(isinstance(method, str) for method in public)
        return
    doc = inspect.getdoc(public)
    assert doc and doc.strip(), name
    if isinstance(public, type) and issubclass(public, BaseException):
        return
    if dataclasses.is_dataclass(public):   # results: their fields are documented as attributes
        assert {field.name for field in dataclasses.fields(public)} <= documented_names(doc, "Attributes"), name
        return
    function = public.__init__ if isinstance(public, type) else public
    if arguments(function):
        assert section(doc, "Parameters"), f"{name} has no Parameters section"
        assert set(arguments(function)) <= documented_names(doc, "Parameters"), name
    if not isinstance(public, type):
        assert section(doc, "Returns"), f"{name} has no Returns section"


@pytest.mark.parametrize("qualified, member", [
    (f"{name}.{attribute}", member) for name in tweedie.__all__ if isinstance(getattr(tweedie, name), type)
    for attribute, member in public_members(getattr(tweedie, name))])
def test_each_public_method_and_property_is_documented(qualified, member):
    function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
    doc = inspect.getdoc(function)
    assert doc and doc.strip(), qualified
    if not isinstance(member, property) and arguments(function):
        assert set(arguments(function)) <= documented_names(doc, "Parameters"), qualified


@pytest.mark.parametrize("name", RESULTS)
def test_results_are_frozen_dataclasses(name):
    result = getattr(tweedie, name)
    assert dataclasses.is_dataclass(result) and result.__dataclass_params__.frozen, name


@pytest.fixture(scope="module")
def ring8():
    return tweedie.Model.builtin("ring8")


def test_results_have_one_line_reprs_and_cannot_be_changed(ring8):
    oracle = tweedie.Oracle(ring8)
    spiral = tweedie.Model.builtin("spiral-dirac")
    results = [oracle.evaluate(np.ones((50, 2)), alpha=1.0, sigma=0.5, covariance=True),
               tweedie.posterior(ring8, operator=[[1.0, 0.3]], y=[1.2], noise_std=0.5),
               tweedie.likelihood([[4.0, 0.0]], ring8, schedule="vp-linear"),
               tweedie.sampler_kl(ring8, sampler="heun", schedule="edm", steps=8, count=50),
               tweedie.sampler_path_kl(ring8, sampler="ddpm", schedule="edm", steps=8, count=50),
               tweedie.sample(spiral, sampler="heun", schedule="edm", steps=8, count=50, prune=1e-8,
                              return_certificate=True)[1],
               tweedie.PrunedDenoiser(spiral, 1e-8).denoise(np.ones((50, 2)), alpha=1.0, sigma=0.1),
               tweedie.truncation_study(spiral, k=[10, 100], count=8, steps=8)]
    for result in results:
        text = repr(result)
        assert "\n" not in text and text.startswith(type(result).__name__ + "("), text
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(result, dataclasses.fields(result)[0].name, None)
    assert "shape=(50, 2, 2)" in repr(results[0])
    assert "neglected_mass=array(shape=(8, 2, 2), dtype=float64)" in repr(results[-1])


def test_sampler_path_kl_still_reads_as_the_dict_it_was(ring8):
    result = tweedie.sampler_path_kl(ring8, sampler="ddpm", schedule="edm", steps=8, count=50, seed=1)
    assert isinstance(result, tweedie.SamplerPathKL)
    assert dict(result) == {"path_kl": result.path_kl, "path_kl_se": result.path_kl_se,
                            "start_kl": result.start_kl, "start_kl_se": result.start_kl_se}
    assert result["path_kl"] == result.path_kl and "start_kl" in result and "kl" not in result
    with pytest.raises(KeyError):
        result["kl"]


def _callable(x, alpha, sigma):
    return x


@pytest.mark.parametrize("call", [
    lambda m, o: tweedie.Oracle("ring8"),
    lambda m, o: tweedie.Oracle(m, precision=32),
    lambda m, o: o.denoise(["a", "b"], alpha=1.0, sigma=1.0),
    lambda m, o: o.evaluate([[1.0, 2.0]], alpha="1", sigma=1.0),
    lambda m, o: o.evaluate([[1.0, 2.0]], t="0.3", schedule="vp-linear"),
    lambda m, o: o.denoise([[1.0, 2.0]], t=0.3, schedule=7),
    lambda m, o: m.log_density([[True, False]]),
    lambda m, o: tweedie.Model.builtin(8),
    lambda m, o: tweedie.Model.load(3.5),
    lambda m, o: m.save(None),
    lambda m, o: tweedie.Model.from_dict(42),
    lambda m, o: tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0]], "covariance_type": "full",
                                          "covariances": [[[object()]]]}),
    lambda m, o: tweedie.Model.from_sklearn(object()),
    lambda m, o: tweedie.Schedule(1.0),
    lambda m, o: tweedie.Schedule("vp-linear").alpha("a"),
    lambda m, o: tweedie.sample(42, sampler="euler", schedule="edm", steps=3, count=3),
    lambda m, o: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, seed="1"),
    lambda m, o: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3.0),
    lambda m, o: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, init=[["a", "b"]] * 3),
    lambda m, o: tweedie.sample(_callable, sampler="euler", schedule="edm", steps=3, count=3, dimension="2"),
    lambda m, o: tweedie.sample(_callable, sampler="euler", schedule="edm", steps=3, count=3, dimension=2,
                                noise_model="ring8"),
    lambda m, o: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, eta=object()),
    lambda m, o: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, guidance="dps",
                                operator=[["a", "b"]], y=[1.0], noise_std=1.0),
    lambda m, o: tweedie.posterior("ring8", operator=[[1.0, 0.0]], y=[1.0], noise_std=1.0),
    lambda m, o: tweedie.posterior(m, operator=[[1.0, 0.0]], y=["1"], noise_std=1.0),
    lambda m, o: tweedie.posterior(m, operator=[[1.0, 0.0]], y=[1.0], noise_std="0.5"),
    lambda m, o: tweedie.posterior(m, operator=[[1.0, 0.0]], y=[1.0], noise_covariance=[["a"]]),
    lambda m, o: tweedie.evaluate(np.ones((4, 2)), "ring8"),
    lambda m, o: tweedie.evaluate(np.ones((4, 2)), m, projections=1.5),
    lambda m, o: tweedie.evaluate(np.ones((4, 2)), m, seed=0.5),
    lambda m, o: tweedie.likelihood([[1.0, 2.0]], m, schedule=3),
    lambda m, o: tweedie.likelihood([[1.0, 2.0]], m, schedule="vp-linear", rtol="1e-6"),
    lambda m, o: tweedie.likelihood([[1.0, 2.0]], m, schedule="vp-linear", probes=2.5),
    lambda m, o: tweedie.sampler_kl(m, sampler=None, schedule="edm", steps=5, count=10),
    lambda m, o: tweedie.sampler_kl(m, sampler="euler", schedule="edm", steps=5, count=10, start=1),
    lambda m, o: tweedie.sampler_path_kl(m, sampler="ddpm", schedule="edm", steps=10.0, count=10),
    lambda m, o: tweedie.sampler_path_kl(m, sampler="ddpm", schedule=b"edm", steps=10, count=10),
    lambda m, o: tweedie.Model.from_dataset([["a"]]),
    lambda m, o: tweedie.Model.from_dataset(np.ones((2, 2)), scale=1),
    lambda m, o: tweedie.PrunedDenoiser("spiral-dirac", 1e-8),
    lambda m, o: tweedie.PrunedDenoiser(tweedie.Model.builtin("spiral-dirac"), "1e-8"),
    lambda m, o: tweedie.sample(m, sampler="euler", schedule="edm", steps=3, count=3, prune="1e-8"),
    lambda m, o: tweedie.truncation_study(m, count=1.5),
])
def test_wrong_types_raise_tweedie_type_error(ring8, call):
    with pytest.raises(TweedieTypeError) as error:
        call(ring8, tweedie.Oracle(ring8))
    assert isinstance(error.value, TweedieError) and isinstance(error.value, TypeError)
    assert isinstance(error.value, ValueError)   # as every TweedieError
    assert str(error.value) and "\n" not in str(error.value)


def test_type_errors_are_caught_by_either_parent():
    with pytest.raises(TweedieError):
        tweedie.Oracle("ring8")
    with pytest.raises(TypeError):
        tweedie.Oracle("ring8")
    assert issubclass(TweedieTypeError, TweedieError) and issubclass(TweedieTypeError, TypeError)
    assert issubclass(TweedieError, ValueError) and not issubclass(TweedieError, TypeError)


def test_values_of_the_right_type_still_raise_plain_tweedie_error(ring8):
    """A bad value is not a wrong type: the library's message, as a TweedieError only."""
    with pytest.raises(TweedieError) as error:
        tweedie.Oracle(ring8).denoise([[1.0, 2.0]], alpha=1.0, sigma=-1.0)
    assert not isinstance(error.value, TypeError)


def test_the_package_is_marked_typed():
    assert (PACKAGE / "py.typed").is_file()


def test_the_build_configuration_packages_py_typed():
    pyproject = PACKAGE.parent / "pyproject.toml"
    if not pyproject.is_file() or sys.version_info < (3, 11):
        pytest.skip("needs the source tree's pyproject.toml and tomllib")
    import tomllib
    package_data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["tweedie"]
    assert "py.typed" in package_data and "_lib/*.so" in package_data
