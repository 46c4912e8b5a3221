#!/usr/bin/env python3
"""Writes examples/digits.npy: scikit-learn's bundled handwritten digits (load_digits, the test part
of the UCI optical recognition of handwritten digits set: 1797 images of 8×8 pixels, 17 grey
levels 0…16) as uint8 (1797, 8, 8, 1) arrays of 0…255 (v·255/16, rounded), the README's real data set.

Run with any Python that has scikit-learn and NumPy:  python3 scripts/make_digits.py
"""
import os

import numpy as np
from sklearn.datasets import load_digits

HERE = os.path.dirname(os.path.abspath(__file__))
images = np.rint(load_digits().images * (255 / 16)).astype(np.uint8)[..., None]
np.save(os.path.join(HERE, "..", "examples", "digits.npy"), images)
print("wrote examples/digits.npy", images.shape, images.dtype)
