"""The molecules tour of the README: 40 conformers of 1-butanol (examples/molecules, made by RDKit)
as a zero-centre-of-mass model; the exact log-density of held-out conformers in nats and bits per
degree of freedom; samples written back as XYZ. Run from the repository's root:

    python examples/molecules/tour.py
"""
import numpy as np
from sklearn.mixture import GaussianMixture

import tweedie

conformers = tweedie.read_molecules("examples/molecules/butanol.sdf")
first = conformers.frames[0]
frames = np.stack([tweedie.superpose(f, first).aligned for f in conformers.frames])  # Kabsch onto conformer 0
flat = (frames - frames.mean(axis=1, keepdims=True)).reshape(len(frames), -1)     # (40, 45), centred

train, held_out = flat[:32], flat[32:]
gm = GaussianMixture(n_components=2, covariance_type="diag", reg_covar=1e-3, random_state=0).fit(train)
model = tweedie.Model.from_sklearn(gm, shape=(15, 3), zero_centre_of_mass=True, atom_symbols=conformers.symbols,
                                   name="butanol-gmm")
log_p = model.log_density(held_out)                                                # exact, on the subspace
bits = -log_p / (model.degrees_of_freedom * np.log(2))
print(f"{model}: {model.degrees_of_freedom} degrees of freedom (15 atoms × 3, less the centre of mass)")
print(f"held-out conformers: log p = {log_p.mean():.3f} nats on average, {bits.mean():.4f} bits per degree of freedom")

samples = tweedie.sample(model, sampler="heun", schedule="edm", steps=18, count=16, seed=1)
tweedie.write_molecules("out/butanol-samples.xyz", samples, model.atom_symbols)
# The centre of each sample is zero up to rounding, whose last digits vary with the machine's BLAS kernels.
centre = np.abs(samples.sum(axis=1)).max()
print(f"16 Heun samples, shape {samples.shape}: atoms sum to {'< 1e-13' if centre < 1e-13 else f'{centre:.1e}'}; "
      f"RMSD to the nearest training conformer {min(tweedie.superpose(samples[0], f).rmsd for f in frames[:32]):.3f} Å "
      "for the first")
