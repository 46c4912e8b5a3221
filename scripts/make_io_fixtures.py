#!/usr/bin/env python3
"""Writes the NumPy-made fixtures read by Tests/TweedieTests/IOFixtureTests.swift.

Run from the repository root:  python3 scripts/make_io_fixtures.py
Needs only NumPy (2.x). The model files emulate what a scikit-learn GaussianMixture
exposes (weights_, means_, covariances_, covariance_type) without requiring scikit-learn.
The arrays below are hard-coded in the Swift tests too; change both together.
"""
import io
import json
import os
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TweedieTests", "Fixtures", "io")


def path(name):
    return os.path.join(OUT, name)


def write_version(name, array, version):
    with open(path(name), "wb") as f:
        np.lib.format.write_array(f, array, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)

    # Plain arrays.
    float64 = np.array([[1.5, -2.0, 3.25], [0.1, 1e-300, -7.0]], dtype="<f8")
    np.save(path("float64.npy"), float64)
    np.save(path("float32.npy"), np.array([0.1, -2.5, 3.0], dtype="<f4"))
    np.save(path("int64.npy"), np.array([[1, -2], [3, 4]], dtype="<i8"))
    np.save(path("int32.npy"), np.array([7, -8, 9], dtype="<i4"))
    np.save(path("points.npy"), np.arange(12, dtype="<f8").reshape(2, 2, 3))
    np.save(path("scalar_string.npy"), np.array("full"))
    write_version("version2.npy", float64, (2, 0))
    write_version("version3.npy", float64, (3, 0))

    # Inputs that must be rejected.
    np.save(path("big_endian.npy"), float64.astype(">f8"))
    np.save(path("fortran_order.npy"), np.asfortranarray(float64))
    np.save(path("object.npy"), np.array([1, "a"], dtype=object), allow_pickle=True)
    buffer = io.BytesIO()
    np.save(buffer, float64)
    with open(path("truncated.npy"), "wb") as f:
        f.write(buffer.getvalue()[:-5])
    with open(path("bad_magic.npy"), "wb") as f:
        f.write(b"\x93NUMPZ\x01\x00" + buffer.getvalue()[8:])

    # An archive whose weights entry is a truncated .npy (the ZIP itself is sound).
    with zipfile.ZipFile(path("bad_entry.npz"), "w") as archive:
        archive.writestr("weights.npy", buffer.getvalue()[:-5])

    # A full-covariance model as np.savez writes scikit-learn's attributes (K=2, D=3).
    np.savez(
        path("model_full.npz"),
        weights=np.array([0.25, 0.75]),
        means=np.array([[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]]),
        covariances=np.array([
            [[2.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 3.0]],
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        ]),
        covariance_type="full",
    )

    # A diagonal-covariance model, deflated by np.savez_compressed (K=3, D=2).
    np.savez_compressed(
        path("model_diag_compressed.npz"),
        weights=np.array([0.5, 0.25, 0.25]),
        means=np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
        covariances=np.array([[0.5, 1.5], [2.0, 0.25], [1.0, 1.0]]),
        covariance_type=np.array("diag"),
    )

    # Spherical components with Kronecker noise on 4 atoms in 2-D (D = 8); shape stored as int64.
    np.savez(
        path("model_kronecker.npz"),
        weights=np.array([0.5, 0.5]),
        means=np.array([[0.0] * 8, [1.0] * 8]),
        covariances=np.array([0.5, 2.0]),
        covariance_type=np.array(["spherical"]),
        noise_type="kronecker",
        noise_covariance=np.array([
            [2.0, 1.0, 0.0, 0.0],
            [1.0, 2.0, 1.0, 0.0],
            [0.0, 1.0, 2.0, 1.0],
            [0.0, 0.0, 1.0, 2.0],
        ]),
        shape=np.array([4, 2], dtype=np.int64),
    )

    # A hand-written JSON model: tied covariance with diagonal noise (K=2, D=2).
    model = {
        "name": "tied example",
        "weights": [0.4, 0.6],
        "means": [[0.0, 0.0], [2.0, -1.0]],
        "covariance_type": "tied",
        "covariances": [[1.0, 0.3], [0.3, 2.0]],
        "noise": {"type": "diagonal", "covariance": [1.0, 4.0]},
    }
    with open(path("model_tied.json"), "w") as f:
        json.dump(model, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
