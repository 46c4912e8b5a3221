"""Writes the example inputs of `make demo` and the docs, for the built-in ring8 model:
examples/ring8-points.npy, a few points x_t around it, and examples/A.npy and examples/y.npy, the
linear observation y = A x_0 + n of docs/inverse-problems.md (one combination of the coordinates).

Run: python3 scripts/make_examples.py   (needs numpy)
"""
import numpy as np

points = np.array([
    [4.0, 0.0],      # on mode 0 (the lightest)
    [2.9, 2.7],      # near mode 1
    [-2.8, -2.9],    # near mode 5
    [0.0, -3.6],     # inside the ring, near mode 6
    [3.5, -1.5],     # between modes 0 and 7
    [0.0, 0.0],      # the centre, far from every mode
    [9.0, 9.0],      # far outside
], dtype="<f8")
np.save("examples/ring8-points.npy", points)

# y = A x_0 + n: A = [[1, 0.3]] (d_y = 1, D = 2), y = [1.2].
np.save("examples/A.npy", np.array([[1.0, 0.3]], dtype="<f8"))
np.save("examples/y.npy", np.array([1.2], dtype="<f8"))
