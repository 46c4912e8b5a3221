import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// The KL divergence between the exact reverse chain on a sampler's grid and the sampler's chain
/// (docs/math.md §12.3), for samplers with Gaussian one-step transitions (``GaussianStepSampler``:
/// ddpm, ddim with η > 0, euler-maruyama):
///
///     KL(p_path ‖ q_path) = KL(p_{t_0} ‖ π_start) + Σ_{i < N−1} E_p[ KL(p(x_{i+1} | x_i) ‖ q(x_{i+1} | x_i)) ],
///
/// estimated along exact paths, which are the forward process observed on the grid (x_0 ~ p_0, then
/// forward kernels up the grid: the same joint law as the exact reverse chain). The exact reverse
/// transition's log-density is log p_s(x_s) + log q(x_t | x_s) − log p_t(x_t), all exact. The sum
/// covers the N grid levels t_0 … t_{N−1} (all with σ > 0) and the N − 1 intervals between them; the
/// final step from t_{N−1} to σ = 0, which these samplers take deterministically as x̂_0, is not
/// covered. By data processing it bounds KL(p_{t_{N−1}} ‖ q_{N−1}), the error of the sampler's law
/// at its last grid level.
public struct SamplerPathKL: Sendable {
    /// KL(p_{t_0} ‖ π_start), π_start = N(0, σ_{t_0}² Σ), ± its standard error.
    public let start: MeanEstimate
    /// Each interval's expected transition KL, from level i to i + 1, i = 0 … N − 2.
    public let intervals: [MeanEstimate]
    /// The whole sum, ± the standard error of the per-path totals.
    public let total: MeanEstimate

    public init(model: MixtureModel, sampler: any GaussianStepSampler, path: SamplingPath, count: Int,
                seed: UInt64) throws {
        guard count >= 2 else { throw ArgumentError("count", "must be at least 2, got \(count)") }
        guard path.levels.count >= 2 else {
            throw ArgumentError("steps", "the path KL needs at least one interval between grid levels (2 steps)")
        }
        let d = model.dimension
        try MemoryBudget.require("count", "\(count) exact paths × D = \(d)", elements: [count, d, 4])
        let oracle = try Oracle(model)
        let levels = path.levels, times = path.times
        let last = levels.count - 1                     // the last grid level (σ > 0); x̂_0 follows
        // The exact chain, from x_0 up the grid: x at level `last`, then forward kernels to level 0.
        let clean = try MixtureSampler(model.prior).sample(count: count, seed: derivedSeed(seed, purpose: 11)).points
        var states = [Matrix](repeating: Matrix(rows: 0, columns: d), count: last + 1)
        states[last] = try ForwardKernel(alpha: levels[last].alpha, sigma: levels[last].sigma, noise: model.noise)
            .sample(from: clean, seed: seed, step: 2 * last)
        for i in stride(from: last - 1, through: 0, by: -1) {
            states[i] = try ForwardKernel(from: times[i + 1], to: times[i], schedule: path.schedule, noise: model.noise)
                .sample(from: states[i + 1], seed: seed, step: 2 * i)
        }
        let exact = try (0...last).map { i in try oracle.evaluate(states[i], at: levels[i]) }
        var totals = [Double](repeating: 0, count: count)

        // Start: log p_{t_0}(x) − log N(x; 0, σ_0² Σ).
        let startDensity = try ForwardKernel(alpha: 1, sigma: levels[0].sigma, noise: model.noise)
            .logDensity(of: states[0], given: Matrix(rows: count, columns: d))
        let startTerms = (0..<count).map { b in exact[0].logDensity[b] - startDensity[b] }
        for b in 0..<count { totals[b] += startTerms[b] }
        start = MeanEstimate(startTerms)

        var intervals: [MeanEstimate] = []
        for i in 0..<last {
            let (xt, xs) = (states[i], states[i + 1])
            let kernel = try ForwardKernel(from: times[i + 1], to: times[i], schedule: path.schedule,
                                           noise: model.noise)
            let forward = try kernel.logDensity(of: xt, given: xs)
            let (mean, deviation) = try sampler.transition(xt, denoised: exact[i].denoised, interval: i, path: path)
            guard deviation > 0, deviation.isFinite else {
                throw ArgumentError("sampler", "\(sampler.name) steps deterministically from level \(i): "
                                    + "its transitions have no density")
            }
            // q(x_s | x_t) = N(m, s² Σ): the forward kernel's density with α = 1 about m.
            let step = try ForwardKernel(alpha: 1, sigma: deviation, noise: model.noise).logDensity(of: xs, given: mean)
            let terms = (0..<count).map { b in
                exact[i + 1].logDensity[b] + forward[b] - exact[i].logDensity[b] - step[b]
            }
            for b in 0..<count { totals[b] += terms[b] }
            intervals.append(MeanEstimate(terms))
        }
        self.intervals = intervals
        total = MeanEstimate(totals)
    }
}
