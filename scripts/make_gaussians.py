#!/usr/bin/env python3
"""Writes two Gaussian models for docs/schedules.md:

- examples/iris-gaussian.json: the Gaussian fit of scikit-learn's bundled iris measurements (150
  flowers × 4 lengths in cm, standardized per column), mean and maximum-likelihood covariance
  (sklearn.mixture.GaussianMixture with one full component), a real prior with unequal eigenvalues;
- examples/standard-normal.json: N(0, I) in D = 2, where Align Your Steps' kl_optimal is exact.

Run with any Python that has scikit-learn and NumPy:  python3 scripts/make_gaussians.py
"""
import json
import os

import numpy as np
from sklearn.datasets import load_iris
from sklearn.mixture import GaussianMixture

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, "..", "examples")

x = load_iris().data
x = (x - x.mean(axis=0)) / x.std(axis=0)
fit = GaussianMixture(1, covariance_type="full", reg_covar=0.0, random_state=0).fit(x)
iris = {"name": "iris-gaussian", "weights": [1.0], "means": fit.means_.tolist(), "covariance_type": "full",
        "covariances": fit.covariances_.tolist()}
normal = {"name": "standard-normal", "weights": [1.0], "means": [[0.0, 0.0]], "covariance_type": "full",
          "covariances": [[[1.0, 0.0], [0.0, 1.0]]]}
for name, model in [("iris-gaussian.json", iris), ("standard-normal.json", normal)]:
    with open(os.path.join(EXAMPLES, name), "w") as file:
        json.dump(model, file, indent=1)
        file.write("\n")
    print("wrote examples/" + name)
