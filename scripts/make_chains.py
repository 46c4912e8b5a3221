#!/usr/bin/env python3
"""examples/molecules/chains-synthetic.xyz: 32 synthetic Cα-like chains of 12 atoms (numpy only).

Each chain is a random walk of 3.8 Å steps (the Cα–Cα distance of proteins) whose direction turns
by a random angle of at most 60° at each atom: a synthetic stand-in for a set of protein backbones,
labelled as such, for the harmonic process of EigenFold (docs/molecules.md).

    python scripts/make_chains.py
"""
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "examples/molecules/chains-synthetic.xyz"


def chain(rng, atoms=12, step=3.8, turn=np.pi / 3):
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    points = [np.zeros(3)]
    for _ in range(atoms - 1):
        points.append(points[-1] + step * direction)
        # Turn by an angle uniform in [0, turn] about a random axis orthogonal to the direction.
        axis = np.cross(direction, rng.normal(size=3))
        axis /= np.linalg.norm(axis)
        angle = rng.uniform(0, turn)
        direction = direction * np.cos(angle) + np.cross(axis, direction) * np.sin(angle)
    return np.array(points)


def main():
    rng = np.random.default_rng(20261205)
    with open(OUT, "w") as f:
        for i in range(32):
            c = chain(rng)
            f.write(f"{len(c)}\nsynthetic chain {i}\n")
            for x, y, z in c:
                f.write(f"C {x:.8f} {y:.8f} {z:.8f}\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
