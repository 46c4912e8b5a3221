import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

// Probability-flow ODE samplers in the scaled variables x̃ = x/α, σ̃ = σ/α (EDM), where
// dx̃/dσ̃ = (x̃ − x̂_0)/σ̃. Each interval ends at α_{i+1} x̃; the final interval (to σ̃ = 0)
// returns x̂_0.

/// `euler`: first-order steps of the probability-flow ODE. In unscaled variables a step is
/// x_{i+1} = (σ_{i+1}/σ_i) x_i + (α_{i+1} − α_i σ_{i+1}/σ_i) x̂_0, i.e. DDIM with η = 0.
public struct EulerSampler: Sampler {
    public let name = "euler"
    public var isDeterministic: Bool { true }
    public var isAffine: Bool { true }
    public init() {}

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        try denoisingLoop(x, model: model, path: path, monitor: monitor) { i, x, denoised in
            let (now, next) = (path.levels[i], path.levels[i + 1])
            // x̃' = x̃ + (σ̃' − σ̃) d with d = (x̃ − x̂_0)/σ̃, written without a difference:
            // x' = (σ'/σ) x + (α' − α σ'/σ) x̂_0.
            let ratio = next.sigma / now.sigma
            return ratio * x + (next.alpha - now.alpha * ratio) * denoised
        }
    }
}

/// `heun`: EDM's second-order sampler (Karras et al. 2022, Algorithm 2) with stochastic churn:
/// where S_tmin ≤ σ̃_i ≤ S_tmax, noise raises σ̃_i to σ̂ = (1 + γ)σ̃_i, γ = min(S_churn/N, √2 − 1),
/// by adding √(σ̂² − σ̃_i²) S_noise R z (σ̂ is capped at the schedule's largest σ̃); then an Euler step to σ̃_{i+1}
/// corrected by the trapezoidal rule, except on the final interval to σ̃ = 0. N steps make 2N − 1 model calls.
public struct HeunSampler: Sampler {
    public let name = "heun"
    public var isDeterministic: Bool { churn == 0 || noiseScale == 0 }
    public var isAffine: Bool { true }
    public var churn: Double
    public var churnMinimum: Double
    public var churnMaximum: Double
    public var noiseScale: Double

    public init(churn: Double = 0, churnMinimum: Double = 0, churnMaximum: Double = .infinity, noiseScale: Double = 1) {
        self.churn = churn
        self.churnMinimum = churnMinimum
        self.churnMaximum = churnMaximum
        self.noiseScale = noiseScale
    }

    public func validateOptions() throws(ArgumentError) {
        try requireOption("s-churn", churn, atLeast: 0)
        try requireOption("s-tmin", churnMinimum, atLeast: 0)
        guard churnMaximum >= churnMinimum else {
            throw ArgumentError("s-tmax", "must be at least s-tmin = \(churnMinimum), got \(churnMaximum)")
        }
        try requireOption("s-noise", noiseScale, atLeast: 0)
    }

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        let n = path.steps
        let keyed = StepNoise(stream: noise, firstSample: firstSample, rows: x.rows, dimension: model.dimension)
        var x = x
        monitor.record(x, step: 0, of: n)
        let gamma = min(churn / Double(n), 2.0.squareRoot() - 1)
        for i in 0..<n {
            var level = path.levels[i]
            let sigma = path.scaledSigma(i)
            var scaled = x / level.alpha
            var sigmaHat = sigma
            if churn > 0, sigma >= churnMinimum, sigma <= churnMaximum {
                // Raise the noise to σ̂ = (1 + γ)σ̃, never beyond the schedule's noisiest level.
                sigmaHat = min(sigma * (1 + gamma), path.largestScaledSigma)
                level = try path.level(scaledSigma: sigmaHat)
                let z = keyed.correlated(interval: i, .churn, noise: model.noiseCovariance)
                scaled += ((sigmaHat * sigmaHat - sigma * sigma).squareRoot() * noiseScale) * z
            }
            let denoised = try monitor.denoise(model, level.alpha * scaled, at: level)
            if i == n - 1 {
                x = denoised
            } else {
                // Euler step to σ̃', then the trapezoidal correction with the slope there.
                let next = path.levels[i + 1], sigmaNext = path.scaledSigma(i + 1)
                let dt = sigmaNext - sigmaHat
                let d = derivative(x: scaled, sigma: sigmaHat, denoised: denoised)
                let euler = scaled + dt * d
                let denoisedNext = try monitor.denoise(model, next.alpha * euler, at: next)
                let dNext = derivative(x: euler, sigma: sigmaNext, denoised: denoisedNext)
                x = next.alpha * (scaled + (0.5 * dt) * (d + dNext))
            }
            monitor.record(x, step: i + 1, of: n)
        }
        return x
    }
}

/// `dpmpp-2m`: DPM-Solver++(2M) (Lu et al. 2022; as k-diffusion's sample_dpmpp_2m), multistep
/// second order in λ = −log σ̃, with a first-order first step and final interval.
public struct DPMSolverPlusPlus2MSampler: Sampler {
    public let name = "dpmpp-2m"
    public var isDeterministic: Bool { true }
    public var isAffine: Bool { true }
    public init() {}

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        var previous: Matrix?
        var previousStep = 0.0
        return try denoisingLoop(x, model: model, path: path, monitor: monitor) { i, x, denoised in
            let (now, next) = (path.levels[i], path.levels[i + 1])
            // h = λ' − λ in λ = −log σ̃; D is x̂_0, extrapolated linearly in λ once there is a
            // previous step: D = (1 + 1/2r) x̂_0 − (1/2r) x̂_0,prev with r = h_prev/h.
            let h = log(path.scaledSigma(i)) - log(path.scaledSigma(i + 1))
            var estimate = denoised
            if let previous {
                let r = previousStep / h
                estimate = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
            }
            previous = denoised
            previousStep = h
            // x̃' = (σ̃'/σ̃) x̃ − expm1(−h) D, then x' = α' x̃'.
            return (next.sigma / now.sigma) * x - (next.alpha * expm1(-h)) * estimate
        }
    }
}
