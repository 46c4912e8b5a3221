"""Molecules from Python: zero-centre-of-mass models, molecular files, superposition, equivariance.

Independent routes: the zero-centre-of-mass normal of E(3)-equivariant diffusion written out in
numpy; a scikit-learn Gaussian mixture fitted to real conformers (examples/molecules, made by RDKit)
evaluated by scipy in an orthonormal basis of the subspace from scipy.linalg.null_space (not the
library's Helmert basis); scipy's Rotation.align_vectors for the superposition; and samples whose
atoms must sum to zero.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import null_space
from scipy.special import logsumexp
from scipy.spatial.transform import Rotation
from scipy.stats import multivariate_normal

import tweedie
from tweedie import TweedieError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "molecules"


@pytest.fixture(scope="module")
def butanol() -> tweedie.Conformers:
    return tweedie.read_molecules(EXAMPLES / "butanol.xyz")


def aligned(conformers: tweedie.Conformers) -> np.ndarray:
    first = conformers.frames[0]
    return np.stack([tweedie.superpose(f, first).aligned for f in conformers.frames])


def test_the_three_files_hold_the_same_conformers(butanol):
    sdf = tweedie.read_molecules(EXAMPLES / "butanol.sdf")
    pdb = tweedie.read_molecules(EXAMPLES / "butanol.pdb")
    assert butanol.frames.shape == (40, 15, 3) and butanol.symbols[:2] == ("O", "C")
    assert sdf.symbols == butanol.symbols == pdb.symbols
    np.testing.assert_allclose(sdf.frames, butanol.frames, atol=0.5e-4 + 1e-12)
    np.testing.assert_allclose(pdb.frames, butanol.frames, atol=0.5e-3 + 1e-12)


@pytest.mark.parametrize("suffix, atol", [(".xyz", 1e-8), (".sdf", 1e-4), (".pdb", 1e-3)])
def test_write_then_read(tmp_path, butanol, suffix, atol):
    path = tmp_path / f"out{suffix}"
    tweedie.write_molecules(path, butanol.frames[:5], butanol.symbols, titles=[f"frame {i}" for i in range(5)])
    back = tweedie.read_molecules(path)
    assert back.symbols == butanol.symbols
    np.testing.assert_allclose(back.frames, butanol.frames[:5], atol=atol / 2 + 1e-12)


def test_superpose_agrees_with_scipy(butanol):
    p, q = butanol.frames[3], butanol.frames[17]
    fit = tweedie.superpose(p, q)
    pc, qc = p - p.mean(0), q - q.mean(0)
    rotation, _ = Rotation.align_vectors(qc, pc)  # the rotation taking pc onto qc, by scipy
    np.testing.assert_allclose(fit.rotation, rotation.as_matrix(), atol=1e-10)
    rmsd = np.sqrt(np.mean(np.sum((rotation.apply(pc) - qc) ** 2, axis=1)))
    assert fit.rmsd == pytest.approx(rmsd, rel=1e-12)
    np.testing.assert_allclose(fit.aligned, rotation.apply(pc) + q.mean(0), atol=1e-12)


def test_zero_centre_of_mass_normal_is_edm_convention():
    n = 7
    model = tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0] * (3 * n)], "covariance_type": "spherical",
                                     "covariances": [1.0], "shape": [n, 3], "zero_centre_of_mass": True})
    assert model.zero_centre_of_mass and model.degrees_of_freedom == 3 * (n - 1) and model.dimension == 3 * n
    x = np.random.default_rng(0).normal(size=(4, n, 3))
    x -= x.mean(axis=1, keepdims=True)
    expected = -0.5 * np.sum(x ** 2, axis=(1, 2)) - 0.5 * 3 * (n - 1) * np.log(2 * np.pi)
    np.testing.assert_allclose(model.log_density(x), expected, rtol=1e-13)
    # Translations do not matter.
    np.testing.assert_allclose(model.log_density(x + np.array([3.0, -1.0, 8.0])), expected, rtol=1e-12)


def test_fitted_mixture_against_scipy_in_another_basis(butanol):
    from sklearn.mixture import GaussianMixture

    frames = aligned(butanol)
    flat = (frames - frames.mean(axis=1, keepdims=True)).reshape(40, 45)
    gm = GaussianMixture(n_components=2, covariance_type="full", reg_covar=1e-3, random_state=0).fit(flat)
    model = tweedie.Model.from_sklearn(gm, shape=(15, 3), zero_centre_of_mass=True, atom_symbols=butanol.symbols)
    assert model.degrees_of_freedom == 42 and model.atom_symbols == butanol.symbols
    q = null_space(np.kron(np.ones((1, 15)), np.eye(3)))  # 45 × 42, orthonormal, atoms sum to zero
    points = flat[:6] + 0.05 * np.random.default_rng(1).normal(size=(6, 45))
    expected = []
    for x in points:
        terms = [np.log(w) + multivariate_normal(q.T @ m, q.T @ c @ q).logpdf(q.T @ x)
                 for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_)]
        expected.append(logsumexp(terms))
    np.testing.assert_allclose(model.log_density(points.reshape(6, 15, 3)), expected, rtol=1e-10)
    bits = -model.log_density(points) / (model.degrees_of_freedom * np.log(2))
    assert np.all(np.isfinite(bits))


def test_conformer_data_set_samples_stay_centred(tmp_path, butanol):
    model = tweedie.Model.from_conformers(aligned(butanol), butanol.symbols, name="1-butanol")
    assert model.shape == (15, 3) and model.components == 40 and model.degrees_of_freedom == 42
    assert np.allclose(model.means.reshape(40, 15, 3).sum(axis=1), 0, atol=1e-12)
    samples = tweedie.sample(model, sampler="heun", schedule="edm", steps=12, count=8, seed=2)
    assert samples.shape == (8, 15, 3)
    assert np.abs(samples.sum(axis=1)).max() < 1e-12
    # init: standard normals in the model's 42 reduced coordinates.
    z = np.random.default_rng(3).normal(size=(8, 42))
    again = tweedie.sample(model, sampler="heun", schedule="edm", steps=12, count=8, init=z)
    assert again.shape == (8, 15, 3)
    with pytest.raises(TweedieError, match="init"):
        tweedie.sample(model, sampler="heun", schedule="edm", steps=12, count=8, init=np.zeros((8, 45)))
    path = tmp_path / "samples.xyz"
    tweedie.write_molecules(path, samples, model.atom_symbols)
    assert tweedie.read_molecules(path).frames.shape == (8, 15, 3)
    saved = tmp_path / "m.npz"
    model.save(saved)
    back = tweedie.Model.load(saved)
    assert back.zero_centre_of_mass and back.atom_symbols == butanol.symbols
    np.testing.assert_allclose(back.means, model.means, atol=1e-12)


def isotropic_model(n: int) -> tweedie.Model:
    return tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0] * (3 * n)], "covariance_type": "spherical",
                                    "covariances": [0.8], "shape": [n, 3], "zero_centre_of_mass": True})


def test_equivariance_of_the_exact_oracle_and_of_broken_denoisers():
    n = 6
    model = isotropic_model(n)
    oracle = tweedie.Oracle(model)
    x = np.random.default_rng(4).normal(size=(5, n, 3))

    def exact(y, sigma):
        return oracle.denoise(y.reshape(len(y), -1), alpha=1.0, sigma=sigma).reshape(y.shape)

    found = tweedie.equivariance(exact, x, sigma=0.7, centred=True, model=model)
    assert found.largest < 1e-13 and found.reference < 1e-13

    def shrink_x_axis(y, sigma):  # anisotropic: not rotation-equivariant
        out = exact(y, sigma)
        out[..., 0] *= 0.5
        return out

    assert tweedie.equivariance(shrink_x_axis, x, sigma=0.7, centred=True).largest > 0.05

    def uncentred(y, sigma):  # translation-equivariant network on R^{N×3}: y minus a fixed fraction
        return 0.6 * (y - y.mean(axis=1, keepdims=True)) + y.mean(axis=1, keepdims=True)

    assert tweedie.equivariance(uncentred, x, sigma=0.7).largest < 1e-13
    assert tweedie.equivariance(uncentred, x, sigma=0.7, centred=True).largest > 0.05
    with pytest.raises(TweedieError, match="denoiser: returned shape"):
        tweedie.equivariance(lambda y, s: y[:, :2], x, sigma=0.7)
    with pytest.raises(TweedieError, match=r"x: expected shape \(B, N, 3\)"):
        tweedie.equivariance(exact, x.reshape(5, -1), sigma=0.7)


def test_bad_molecular_calls(tmp_path):
    bad = tmp_path / "bad.xyz"
    bad.write_text("2\ncomment\nO 0 0 0\n")
    with pytest.raises(TweedieError, match="bad.xyz: line 1: a frame of 2 atoms"):
        tweedie.read_molecules(bad)
    with pytest.raises(TweedieError, match="expected a molecular file"):
        tweedie.read_molecules(tmp_path / "x.mol2")
    with pytest.raises(TweedieError, match="atoms: must be all or ca"):
        tweedie.read_molecules(EXAMPLES / "butanol.pdb", atoms="backbone")
    with pytest.raises(TweedieError, match="frames: 6 coordinates per frame for 3 atoms"):
        tweedie.write_molecules(tmp_path / "o.xyz", np.zeros((1, 6)), ["O", "H", "H"])
    with pytest.raises(TweedieError, match="moving, target"):
        tweedie.superpose(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(TweedieError, match=r"frames: expected shape \(F, N, 3\)"):
        tweedie.Model.from_conformers(np.zeros((4, 5)))
    with pytest.raises(TweedieError, match="atom_symbols"):
        tweedie.Model.from_conformers(np.zeros((2, 3, 3)), ["O", "H"])
    with pytest.raises(TweedieError, match="shape"):
        tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0] * 6], "covariance_type": "dirac",
                                 "zero_centre_of_mass": True})


def test_the_tour_prints_what_docs_molecules_shows(tmp_path):
    """examples/molecules/tour.py and harmonic.py, run from a copy of the repository's examples, print
    the lines docs/molecules.md shows (sklearn's fit is seeded; the numbers are the library's)."""
    import os
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "examples", tmp_path / "examples")
    (tmp_path / "out").mkdir()
    doc = (root / "docs" / "molecules.md").read_text()
    for script in ("tour.py", "harmonic.py"):
        run = subprocess.run([sys.executable, f"examples/molecules/{script}"], cwd=tmp_path, capture_output=True,
                             text=True, env=dict(os.environ), timeout=300)
        assert run.returncode == 0, run.stderr
        for line in run.stdout.strip().splitlines():
            assert line in doc, line


def test_harmonic_oracle_against_scipy_expm_fixture():
    """EigenFold's chain: the marginal of a data set of three chains, from the fixture computed with
    scipy.linalg.expm and a pseudo-inverse (scripts/make_molecule_fixtures.py)."""
    import json

    root = Path(__file__).resolve().parents[2]
    fixture = json.loads((root / "Tests/TweedieTests/Fixtures/zero_com_reference.json").read_text())["harmonic"]
    n = fixture["atoms"]
    chains = np.array(fixture["chains"]).reshape(3, n, 3)
    model = tweedie.Model.from_conformers(chains, zero_centre_of_mass=False)
    oracle = tweedie.HarmonicOracle(model, strength=fixture["strength"])
    for case in fixture["cases"]:
        x = np.array(case["points"]).reshape(4, n, 3)
        result = oracle.evaluate(x, case["t"])
        np.testing.assert_allclose(result.log_density, case["log_density"], rtol=1e-10)
        np.testing.assert_allclose(result.score.reshape(4, -1), np.array(case["score"]).reshape(4, -1),
                                   rtol=1e-9, atol=1e-9)
        assert np.abs(result.denoised.sum(axis=1)).max() < 1e-10
    # The same through an explicit H: the chain's Laplacian times κ.
    lap = np.diag([1.0] + [2.0] * (n - 2) + [1.0]) - np.eye(n, k=1) - np.eye(n, k=-1)
    explicit = tweedie.HarmonicOracle(model, atom_matrix=fixture["strength"] * lap)
    x = np.array(fixture["cases"][0]["points"]).reshape(4, n, 3)
    np.testing.assert_allclose(explicit.evaluate(x, 0.3).log_density, fixture["cases"][0]["log_density"], rtol=1e-10)
    with pytest.raises(TweedieError, match="not all connected|centre of mass"):
        tweedie.HarmonicOracle(model, atom_matrix=np.eye(n))
    with pytest.raises(TweedieError, match="t"):
        oracle.evaluate(x, 0.0)
    with pytest.raises(TweedieError, match="noise"):
        tweedie.HarmonicOracle(tweedie.Model.builtin("chain16"))


def test_harmonic_flow_likelihood_and_samples():
    """A Gaussian prior on a chain: the flow's log-likelihood equals the exact log p_{t_min}; samples
    are centred and their mean is the prior's."""
    n = 5
    mean = np.random.default_rng(5).normal(size=(n, 3)) * 2
    model = tweedie.Model.from_dict({"weights": [1.0], "means": [mean.ravel().tolist()],
                                     "covariance_type": "spherical", "covariances": [0.3], "shape": [n, 3]})
    oracle = tweedie.HarmonicOracle(model, strength=0.6)
    x = np.random.default_rng(6).normal(size=(3, n, 3))
    values = oracle.log_likelihood(x, t_min=0.05, t_max=4.0, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(values, oracle.evaluate(x, 0.05).log_density, rtol=1e-6)
    samples = oracle.sample(400, seed=2, t_max=6.0, t_min=1e-3)
    assert samples.shape == (400, n, 3) and np.abs(samples.sum(axis=1)).max() < 1e-12
    centred = mean - mean.mean(axis=0)
    assert np.abs(samples.mean(axis=0) - centred).max() < 0.15   # 0.3/√400 = 0.015 per coordinate, ×10
    with pytest.raises(TweedieError, match="t_min"):
        oracle.log_likelihood(x, t_min=1.0, t_max=0.5)


def test_harmonic_noise_has_the_forward_moments():
    """Noising one chain many times: the sample mean and covariance against the fixture's A_t x_0
    and S_t (scipy's matrix exponential), within Monte Carlo error."""
    import json

    root = Path(__file__).resolve().parents[2]
    fixture = json.loads((root / "Tests/TweedieTests/Fixtures/zero_com_reference.json").read_text())["harmonic"]
    n = fixture["atoms"]
    chains = np.array(fixture["chains"]).reshape(3, n, 3)
    oracle = tweedie.HarmonicOracle(tweedie.Model.from_conformers(chains, zero_centre_of_mass=False),
                                    strength=fixture["strength"])
    case = fixture["cases"][0]
    count = 20000
    x0 = np.repeat(chains[:1], count, axis=0)
    xt = oracle.noise(x0, case["t"], seed=3).reshape(count, -1)
    mean, cov = np.array(case["mean"]), np.array(case["covariance"]).reshape(3 * n, 3 * n)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(xt.mean(axis=0) - mean) < 5 * sd / np.sqrt(count) + 1e-12)
    assert np.abs(np.cov(xt.T) - cov).max() < 5 * sd.max() ** 2 * np.sqrt(2 / count)
    sde = oracle.sample(50, seed=1, t_max=5.0, t_min=1e-3, steps=200)
    assert sde.shape == (50, n, 3) and np.abs(sde.sum(axis=1)).max() < 1e-10
