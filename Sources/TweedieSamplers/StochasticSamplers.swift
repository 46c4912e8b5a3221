import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// A sampler whose every interval but the last is a Gaussian step x_{i+1} ~ N(m(x_i, x̂_0(x_i)), s_i² Σ)
/// given the current state alone (a Markov chain with Gaussian transitions; the last interval
/// returns x̂_0): the law of its one-step transitions, used for its path KL (docs/math.md §12.3).
public protocol GaussianStepSampler: Sampler {
    /// The mean m and the scale s of the step from grid level i to i + 1 (i < N − 1), given the
    /// state `x` (B×D) and x̂_0(x).
    func transition(_ x: Matrix, denoised: Matrix, interval i: Int,
                    path: SamplingPath) throws -> (mean: Matrix, standardDeviation: Double)
}

/// `ddim` (Song et al. 2021): x_s = α_s x̂_0 + √(σ_s² − σ_η²) ε̂ + σ_η R z with
/// ε̂ = (x_t − α_t x̂_0)/σ_t and σ_η² = η² c, c the variance scale of q(x_s | x_t, x_0).
/// η = 0 is deterministic (and equals `euler`); η = 1 is ancestral sampling with β̃.
public struct DDIMSampler: GaussianStepSampler {
    public let name = "ddim"
    public var eta: Double
    public init(eta: Double = 0) { self.eta = eta }
    public var isDeterministic: Bool { eta == 0 }
    public var isAffine: Bool { true }

    public func validateOptions() throws(ArgumentError) { try requireOption("eta", eta, atLeast: 0) }

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        let keyed = StepNoise(stream: noise, firstSample: firstSample, rows: x.rows, dimension: model.dimension)
        return try denoisingLoop(x, model: model, path: path, monitor: monitor) { i, x, denoised in
            let (mean, deviation) = try transition(x, denoised: denoised, interval: i, path: path)
            guard deviation > 0 else { return mean }
            return mean + deviation * keyed.correlated(interval: i, .main, noise: model.noiseCovariance)
        }
    }

    /// x_s ~ N(α_s x̂_0 + √(σ_s² − σ_η²) ε̂, σ_η² Σ), σ_η² = η² c with c the variance scale of the
    /// bridge q(x_s | x_t, x_0).
    public func transition(_ x: Matrix, denoised: Matrix, interval i: Int,
                           path: SamplingPath) throws -> (mean: Matrix, standardDeviation: Double) {
        let (now, next) = (path.levels[i], path.levels[i + 1])
        let sigmaEta2 = eta * eta * (try DDPMPosterior(from: now, to: next)).variance
        let epsilon = (x - now.alpha * denoised) / now.sigma
        let mean = next.alpha * denoised + max(next.sigma * next.sigma - sigmaEta2, 0).squareRoot() * epsilon
        return (mean, sigmaEta2 > 0 ? sigmaEta2.squareRoot() : 0)
    }
}

/// `ddpm` (Ho et al. 2020): ancestral steps x_s ~ N(a x_t + b x̂_0, v Σ) with the posterior
/// variance v = c (β̃, diffusers' "fixed_small") or the forward variance v = σ²_{t|s}
/// (β, "fixed_large").
public struct DDPMSampler: GaussianStepSampler {
    public enum Variance: String, Sendable, CaseIterable { case posterior = "beta-tilde", forward = "beta" }
    public let name = "ddpm"
    public var variance: Variance
    public init(variance: Variance = .posterior) { self.variance = variance }
    public var isAffine: Bool { true }

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        let keyed = StepNoise(stream: noise, firstSample: firstSample, rows: x.rows, dimension: model.dimension)
        return try denoisingLoop(x, model: model, path: path, monitor: monitor) { i, x, denoised in
            let (mean, deviation) = try transition(x, denoised: denoised, interval: i, path: path)
            let z = keyed.correlated(interval: i, .main, noise: model.noiseCovariance)
            return mean + deviation * z
        }
    }

    /// x_s ~ N(a x_t + b x̂_0, v Σ): the bridge q(x_s | x_t, x_0) at x_0 = x̂_0.
    public func transition(_ x: Matrix, denoised: Matrix, interval i: Int,
                           path: SamplingPath) throws -> (mean: Matrix, standardDeviation: Double) {
        let (now, next) = (path.levels[i], path.levels[i + 1])
        let q = try DDPMPosterior(from: now, to: next)
        let v: Double
        switch variance {
        case .posterior: v = q.variance
        case .forward:
            let ratio = now.alpha / next.alpha
            v = now.sigma * now.sigma - ratio * ratio * next.sigma * next.sigma
        }
        return (q.xtCoefficient * x + q.x0Coefficient * denoised, max(v, 0).squareRoot())
    }
}

/// `dpmpp-2m-sde`: DPM-Solver++(2M) SDE with the midpoint correction (as k-diffusion's
/// sample_dpmpp_2m_sde, η = 1 by default), in x̃ = x/α, σ̃ = σ/α, λ = −log σ̃:
/// x̃' = (σ̃'/σ̃)e^{−ηh} x̃ + (1 − e^{−h−ηh}) D + ½(1 − e^{−h−ηh})(D − D_prev)/r
///      + σ̃' √(1 − e^{−2ηh}) S_noise R z.
public struct DPMSolverPlusPlus2MSDESampler: Sampler {
    public let name = "dpmpp-2m-sde"
    public var eta: Double
    public var noiseScale: Double
    public var isDeterministic: Bool { eta == 0 || noiseScale == 0 }
    public var isAffine: Bool { true }
    public init(eta: Double = 1, noiseScale: Double = 1) {
        self.eta = eta
        self.noiseScale = noiseScale
    }

    public func validateOptions() throws(ArgumentError) {
        try requireOption("eta", eta, atLeast: 0)
        try requireOption("s-noise", noiseScale, atLeast: 0)
    }

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        let keyed = StepNoise(stream: noise, firstSample: firstSample, rows: x.rows, dimension: model.dimension)
        var previous: Matrix?
        var previousStep = 0.0
        return try denoisingLoop(x, model: model, path: path, monitor: monitor) { i, x, denoised in
            let (now, next) = (path.levels[i], path.levels[i + 1])
            let sigma = path.scaledSigma(i), sigmaNext = path.scaledSigma(i + 1)
            let h = log(sigma) - log(sigmaNext), etaH = eta * h
            let gain = -expm1(-h - etaH)
            var scaled = (sigmaNext / sigma * exp(-etaH) / now.alpha) * x + gain * denoised
            if let previous {
                // Midpoint correction: ½(1 − e^{−h−ηh})(D − D_prev)/r, r = h_prev/h.
                scaled += (0.5 * gain / (previousStep / h)) * (denoised - previous)
            }
            if eta > 0 {
                let z = keyed.correlated(interval: i, .main, noise: model.noiseCovariance)
                scaled += (sigmaNext * (-expm1(-2 * etaH)).squareRoot() * noiseScale) * z
            }
            previous = denoised
            previousStep = h
            return next.alpha * scaled
        }
    }
}

/// `euler-maruyama`: the reverse SDE dx = (h_t x − g_t² Σ s) dt + g_t R dw̄ (docs/math.md §5), one
/// Euler–Maruyama step per interval in t; the final interval returns x̂_0.
public struct EulerMaruyamaSampler: GaussianStepSampler {
    public let name = "euler-maruyama"
    public var isAffine: Bool { true }
    public init() {}

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        let keyed = StepNoise(stream: noise, firstSample: firstSample, rows: x.rows, dimension: model.dimension)
        let sde = DiffusionSDE(schedule: path.schedule, noise: model.noiseCovariance)
        return try denoisingLoop(x, model: model, path: path, monitor: monitor) { i, x, denoised in
            let (mean, deviation) = try transition(x, denoised: denoised, interval: i, path: path, sde: sde)
            let z = keyed.correlated(interval: i, .main, noise: model.noiseCovariance)
            return mean + deviation * z
        }
    }

    /// x_s ~ N(x + dt · drift, g_t² |dt| Σ); dt < 0, the step running backwards in time.
    public func transition(_ x: Matrix, denoised: Matrix, interval i: Int,
                           path: SamplingPath) throws -> (mean: Matrix, standardDeviation: Double) {
        // The drift given Σs uses Σ only through its dimension.
        try transition(x, denoised: denoised, interval: i, path: path,
                       sde: DiffusionSDE(schedule: path.schedule, noise: .identity(dimension: x.columns)))
    }

    private func transition(_ x: Matrix, denoised: Matrix, interval i: Int, path: SamplingPath,
                            sde: DiffusionSDE) throws -> (mean: Matrix, standardDeviation: Double) {
        let (t, dt) = (path.times[i], path.times[i + 1] - path.times[i])
        let sigmaScore = TweedieFormula.covarianceTimesScore(x, denoised: denoised, at: path.levels[i])
        let drift = try sde.reverseDrift(x, at: t, covarianceTimesScore: sigmaScore)
        return (x + dt * drift, (path.schedule.diffusionSquared(t) * abs(dt)).squareRoot())
    }
}

/// `pc`: predictor–corrector (Song et al. 2021): at each grid level one Langevin corrector step
/// x ← x + ε Σs + √(2ε) R z with ε = 2 a (r ‖z‖/‖Lᵀs‖)² (r the signal-to-noise ratio, a the
/// one-step signal retention (α_i/α_{i+1})² ≤ 1, i.e. 1 − β_i, norms in whitened coordinates), then a
/// reverse-diffusion (ancestral, `ddpm`) predictor step. Two model calls per interval.
public struct PredictorCorrectorSampler: Sampler {
    public let name = "pc"
    public var snr: Double
    public init(snr: Double = 0.16) { self.snr = snr }

    public func validateOptions() throws(ArgumentError) { try requireOption("snr", snr, atLeast: 0, strict: true) }

    public func sample(_ x: Matrix, model: any DenoisingModel, path: SamplingPath, noise: NoiseStream,
                       firstSample: Int, monitor: SamplingMonitor) throws -> Matrix {
        let n = path.steps
        let keyed = StepNoise(stream: noise, firstSample: firstSample, rows: x.rows, dimension: model.dimension)
        let sigmaCov = model.noiseCovariance
        var x = x
        monitor.record(x, step: 0, of: n)
        for i in 0..<n {
            let now = path.levels[i]
            if i < n - 1 {
                // Corrector at level i.
                // 1 − β_i of Song et al.'s VP corrector: (α_t/α_s)² < 1 from this level to the next.
                let retention = pow(now.alpha / path.levels[i + 1].alpha, 2)
                let denoised = try monitor.denoise(model, x, at: now)
                let sigmaScore = TweedieFormula.covarianceTimesScore(x, denoised: denoised, at: now)
                let z = keyed.standard(interval: i, .corrector)
                let whitenedScore = sigmaCov.applying(.whiten, to: sigmaScore)  // L⁻¹Σs = Lᵀs
                var corrected = x
                let rz = sigmaCov.applying(.unwhiten, to: z)
                for r in 0..<x.rows {
                    var zNorm = 0.0, sNorm = 0.0
                    for j in 0..<x.columns {
                        zNorm += z[r, j] * z[r, j]
                        sNorm += whitenedScore[r, j] * whitenedScore[r, j]
                    }
                    let epsilon = sNorm > 0 ? 2 * retention * snr * snr * zNorm / sNorm : 0
                    for j in 0..<x.columns {
                        corrected[r, j] += epsilon * sigmaScore[r, j] + (2 * epsilon).squareRoot() * rz[r, j]
                    }
                }
                x = corrected
            }
            // Predictor: an ancestral step (the final interval returns x̂_0).
            let denoised = try monitor.denoise(model, x, at: now)
            if i == n - 1 {
                x = denoised
            } else {
                let q = try DDPMPosterior(from: now, to: path.levels[i + 1])
                let z = keyed.correlated(interval: i, .main, noise: sigmaCov)
                x = q.xtCoefficient * x + q.x0Coefficient * denoised + q.variance.squareRoot() * z
            }
            monitor.record(x, step: i + 1, of: n)
        }
        return x
    }
}
