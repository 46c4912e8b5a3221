#!/usr/bin/env python3
"""Writes Tests/TweedieTests/Fixtures/diffusers_trajectories.json, read by
Tests/TweedieTests/SamplerDiffusersTests.swift: deterministic sampler trajectories of
HuggingFace diffusers' Flax (JAX) schedulers on a 2-D Gaussian prior whose exact ε-prediction
is computed here in closed form.

Run from the repository root:  python3 scripts/make_diffusers_fixtures.py
Needs (CPU only, no torch):     pip install jax jaxlib flax "diffusers==0.35.2"
Made with Python 3.11.7, numpy 2.4.6, jax/jaxlib 0.10.2, flax 0.12.8, diffusers 0.35.2.
diffusers 0.42 no longer ships the Flax schedulers, hence the pinned version.

The model: p_0 = N(μ, Λ) in 2-D with identity noise Σ = I (diffusers assumes isotropic noise).
With ᾱ the scheduler's own alphas_cumprod at the timestep, α = √ᾱ, σ = √(1 − ᾱ) and
C = α²Λ + σ²I, the exact denoiser is x̂_0 = μ + αΛC⁻¹(x − αμ) and the exact ε-prediction
ε̂ = (x − α x̂_0)/σ = σ C⁻¹(x − αμ).

Everything runs in float64 (jax_enable_x64, schedulers built with dtype=jnp.float64); by
default diffusers builds its betas and cumulative product in float32, which moves the results
by ~1e-6 relative (measured here and stored as `float32_deviation` per run, for the record).

Schedulers and settings (beta_schedule="linear", beta_start=1e-4, beta_end=0.02,
num_train_timesteps=1000, prediction_type="epsilon"):
  - FlaxDDIMScheduler, η = 0, clip_sample=False; it has no timestep_spacing option (always
    `leading`: j·(T div N) + steps_offset); set_alpha_to_one True (final step to ᾱ = 1, i.e.
    x̂_0) and False (final step to alphas_cumprod[0]); steps_offset 0 and 1.
  - FlaxEulerDiscreteScheduler, timestep_spacing "linspace" (fractional timesteps, σ̃
    interpolated linearly in the timestep) and "leading" (j·(T div N) + 1); it has no
    "trailing". Its `sample` is the scaled variable x̃ = x/α (model input x̃/√(σ̃² + 1)).
  - FlaxDPMSolverMultistepScheduler, algorithm_type "dpmsolver++", solver_order 2,
    solver_type "midpoint", lower_order_final True (applies only for N < 15), spacings
    "linspace", "leading", "trailing". Its last step goes to timestep 0, not to σ = 0.

For each run the fixture stores the timesteps, the per-step (ᾱ or σ̃) the model was evaluated
at, the standard normals z, the starting sample (z · init_noise_sigma) and every sample after
each step (states[0] is the start, states[N] the final output), in the scheduler's own variables.
"""
import json
import os
import sys

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import diffusers  # noqa: E402
from diffusers import (  # noqa: E402
    FlaxDDIMScheduler,
    FlaxDPMSolverMultistepScheduler,
    FlaxEulerDiscreteScheduler,
)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TweedieTests", "Fixtures",
                   "diffusers_trajectories.json")

MU = np.array([1.0, -0.5])
LAMBDA = np.array([[1.0, 0.3], [0.3, 0.5]])
# Fixed standard normals, one row per sample.
Z = np.random.default_rng(20240611).standard_normal((3, 2))

COMMON = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
              prediction_type="epsilon")


def epsilon(x, alpha_bar):
    """Exact ε̂(x_t) for rows of x at ᾱ: σ C⁻¹(x − αμ)."""
    alpha_bar = float(alpha_bar)
    a, s = np.sqrt(alpha_bar), np.sqrt(1.0 - alpha_bar)
    c = a * a * LAMBDA + s * s * np.eye(2)
    r = np.asarray(x, dtype=np.float64) - a * MU
    return s * np.linalg.solve(c, r.T).T


def run_ddim(steps, set_alpha_to_one, steps_offset, dtype):
    sched = FlaxDDIMScheduler(**COMMON, clip_sample=False, set_alpha_to_one=set_alpha_to_one,
                              steps_offset=steps_offset, dtype=dtype)
    state = sched.create_state()
    state = sched.set_timesteps(state, steps, Z.shape)
    x = jnp.asarray(Z, dtype=dtype) * state.init_noise_sigma
    states, levels = [np.asarray(x, dtype=np.float64)], []
    for t in state.timesteps:
        alpha_bar = state.common.alphas_cumprod[int(t)]
        levels.append(float(alpha_bar))
        eps = jnp.asarray(epsilon(sched.scale_model_input(state, x, t), alpha_bar), dtype=dtype)
        out = sched.step(state, eps, t, x, eta=0.0)
        x, state = out.prev_sample, out.state
        states.append(np.asarray(x, dtype=np.float64))
    return dict(timesteps=[int(t) for t in state.timesteps], alpha_bars=levels,
                init_noise_sigma=float(state.init_noise_sigma), states=states)


def run_euler(steps, spacing, dtype):
    sched = FlaxEulerDiscreteScheduler(**COMMON, timestep_spacing=spacing, dtype=dtype)
    state = sched.create_state()
    state = sched.set_timesteps(state, steps, Z.shape)
    x = jnp.asarray(Z, dtype=dtype) * state.init_noise_sigma
    states = [np.asarray(x, dtype=np.float64)]
    for i, t in enumerate(state.timesteps):
        scaled_sigma = float(state.sigmas[i])
        model_input = sched.scale_model_input(state, x, t)
        # The network sees x_t = x̃/√(σ̃² + 1) at ᾱ = 1/(1 + σ̃²).
        eps = jnp.asarray(epsilon(model_input, 1.0 / (1.0 + scaled_sigma ** 2)), dtype=dtype)
        out = sched.step(state, eps, t, x)
        x, state = out.prev_sample, out.state
        states.append(np.asarray(x, dtype=np.float64))
    return dict(timesteps=[float(t) for t in state.timesteps], scaled_sigmas=[float(s) for s in state.sigmas],
                init_noise_sigma=float(state.init_noise_sigma), states=states)


def run_dpm(steps, spacing, dtype):
    sched = FlaxDPMSolverMultistepScheduler(**COMMON, algorithm_type="dpmsolver++", solver_order=2,
                                            solver_type="midpoint", lower_order_final=True,
                                            timestep_spacing=spacing, dtype=dtype)
    # The Flax DPM-Solver reads config.steps_offset for "leading" but does not declare it
    # (AttributeError in diffusers 0.35.2); register the default 0.
    sched.register_to_config(steps_offset=0)
    state = sched.create_state()
    state = sched.set_timesteps(state, steps, Z.shape)
    # With jax_enable_x64 the scheduler's int32 timesteps meet an int64 literal in its
    # lax.select(…, 0, timesteps[i + 1]) and JAX refuses; int64 timesteps (same values) avoid it.
    state = state.replace(timesteps=state.timesteps.astype(jnp.int64))
    x = jnp.asarray(Z, dtype=dtype) * state.init_noise_sigma
    states, levels = [np.asarray(x, dtype=np.float64)], []
    for t in state.timesteps:
        alpha_bar = state.common.alphas_cumprod[int(t)]
        levels.append(float(alpha_bar))
        eps = jnp.asarray(epsilon(sched.scale_model_input(state, x, t), alpha_bar), dtype=dtype)
        out = sched.step(state, eps, t, x)
        x, state = out.prev_sample, out.state
        states.append(np.asarray(x, dtype=np.float64))
    return dict(timesteps=[int(t) for t in state.timesteps], alpha_bars=levels,
                final_timestep=0, init_noise_sigma=float(state.init_noise_sigma), states=states)


def relative(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / (1 + np.abs(b))))


def main():
    runs = []

    def add(name, scheduler, settings, fn, *args):
        r64 = fn(*args, jnp.float64)
        r32 = fn(*args, jnp.float32)
        run = dict(name=name, scheduler=scheduler, settings=settings, steps=len(r64["timesteps"]))
        run.update({k: v for k, v in r64.items() if k != "states"})
        run["states"] = [s.tolist() for s in r64["states"]]
        run["float32_deviation"] = relative(r32["states"][-1], r64["states"][-1])
        runs.append(run)
        print(f"{name:40s} timesteps {run['timesteps'][:4]}… final {r64['states'][-1][0]} "
              f"float32 dev {run['float32_deviation']:.2e}", file=sys.stderr)

    for n in (10, 25):
        add(f"ddim-leading-{n}", "FlaxDDIMScheduler",
            dict(eta=0.0, set_alpha_to_one=True, steps_offset=0, timestep_spacing="leading"), run_ddim, n, True, 0)
    add("ddim-leading-10-offset1", "FlaxDDIMScheduler",
        dict(eta=0.0, set_alpha_to_one=True, steps_offset=1, timestep_spacing="leading"), run_ddim, 10, True, 1)
    add("ddim-leading-10-alpha-not-one", "FlaxDDIMScheduler",
        dict(eta=0.0, set_alpha_to_one=False, steps_offset=0, timestep_spacing="leading"), run_ddim, 10, False, 0)
    for spacing in ("linspace", "leading"):
        for n in (10, 25):
            add(f"euler-{spacing}-{n}", "FlaxEulerDiscreteScheduler", dict(timestep_spacing=spacing),
                run_euler, n, spacing)
    for spacing in ("trailing", "linspace", "leading"):
        for n in (10, 25):
            add(f"dpmpp-2m-{spacing}-{n}", "FlaxDPMSolverMultistepScheduler",
                dict(algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint", lower_order_final=True,
                     timestep_spacing=spacing, steps_offset=0), run_dpm, n, spacing)

    fixture = dict(
        generator="scripts/make_diffusers_fixtures.py",
        versions=dict(python=sys.version.split()[0], numpy=np.__version__, jax=jax.__version__,
                      flax=__import__("flax").__version__, diffusers=diffusers.__version__),
        dtype="float64 (jax_enable_x64, dtype=jnp.float64)",
        schedule=COMMON,
        prior=dict(mean=MU.tolist(), covariance=LAMBDA.tolist(), noise="identity"),
        z=Z.tolist(),
        runs=runs,
    )
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
