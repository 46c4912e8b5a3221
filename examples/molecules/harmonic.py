"""The harmonic section of docs/molecules.md: the oracle, likelihood and samplers of EigenFold's harmonic
process on 32 synthetic chains (examples/molecules/chains-synthetic.xyz). Run from the repository's root:

    python examples/molecules/harmonic.py
"""
import numpy as np
import tweedie

chains = tweedie.read_molecules("examples/molecules/chains-synthetic.xyz").frames        # (32, 12, 3)
frames = np.stack([tweedie.superpose(f, chains[0]).aligned for f in chains])
model = tweedie.Model.from_conformers(frames, name="chains")                            # zero centre of mass
harmonic = tweedie.HarmonicOracle(model)                                                # EigenFold's chain, κ = 3/3.8²
x = harmonic.noise(frames[:4], t=0.5, seed=1)                                           # x_t = A_t x_0 + S_t^½ z
r = harmonic.evaluate(x, 0.5)
print("log p_t:", np.round(r.log_density, 3), " p(k = source | x_t):", np.round(r.responsibilities[np.arange(4), np.arange(4)], 3))
print("log p_0.01 by the flow:", np.round(harmonic.log_likelihood(x, t_min=0.01, t_max=20.0), 3),
      " exact:", np.round(harmonic.evaluate(x, 0.01).log_density, 3))
ode = harmonic.sample(256, seed=2, t_max=20.0, t_min=0.01)                             # probability-flow ODE
sde = harmonic.sample(256, seed=2, t_max=20.0, t_min=0.01, steps=200)                  # EigenFold's reverse SDE
nearest = lambda s: min(tweedie.superpose(s, f).rmsd for f in frames)
print(f"median RMSD to the nearest chain: ODE {np.median([nearest(s) for s in ode]):.3f} Å, "
      f"SDE (200 steps) {np.median([nearest(s) for s in sde]):.3f} Å")
