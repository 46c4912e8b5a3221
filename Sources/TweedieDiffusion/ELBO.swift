import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The variational bound of a discrete DDPM (Ho et al. 2020, eq. 5; docs/math.md §4 with Σ), for a
/// reverse model whose prediction of x_0 is any denoiser:
///
///     −ELBO(x_0) = L_T + Σ_{i=2}^{T} L_{i−1} + L_0 ≥ −log p_θ(x_0),
///
/// - **prior matching** L_T = KL(q(x_T | x_0) ‖ N(0, Σ)), in closed form (no parameters);
/// - **denoising matching** L_{i−1} = E_{x_i ~ q(x_i | x_0)} KL(q(x_{i−1} | x_i, x_0) ‖ p_θ(x_{i−1} | x_i))
///   for i = 2 … T, where q(x_{i−1} | x_i, x_0) = N(μ̃_i(x_i, x_0), β̃_i Σ) (``DDPMPosterior``)
///   and the model is p_θ(x_{i−1} | x_i) = N(μ̃_i(x_i, x̂_0(x_i, i)), v_i Σ): the posterior mean
///   with the clean point replaced by its prediction, and v_i = β̃_i or β_i
///   (``ReverseVariance``). By the Σ-shaped KL (``GaussianKL``) each term is
///   ½[D(β̃_i/v_i − 1 − log(β̃_i/v_i)) + b_i² ‖L⁻¹(x_0 − x̂_0)‖²/v_i], b_i the x_0 coefficient of μ̃_i;
/// - **reconstruction** L_0 = E_{x_1 ~ q(x_1 | x_0)}[−log p_θ(x_0 | x_1)] with
///   p_θ(x_0 | x_1) = N(x̂_0(x_1, 1), β_1 Σ): μ̃_1 = x̂_0 since ᾱ_0 = 1, and the variance is β_1
///   for both choices of v (β̃_1 = 0 would be degenerate). The decoder is continuous, so L_0 is a
///   density, not a probability of a discretized pixel.
///
/// The expectations are Monte Carlo: `drawsPerStep` draws of x_i for each point and step, x_i =
/// √ᾱ_i x_0 + √(1 − ᾱ_i) L z with z the normals of a ``NoiseStream`` at (sample, step i) where
/// sample = b · drawsPerStep + j for draw j of point b (``ForwardKernel/sample(from:seed:step:firstSample:)``).
/// Draws of different steps are independent, so the variance of the total is the sum of the
/// terms' variances. All values are in nats.
///
/// Averaged over x_0 ~ p_0, E[−ELBO] − H(p_0) = KL(q(x_{0:T}) ‖ p_θ(x_{0:T})) ≥ 0.
///
/// ```swift
/// let bound = DDPMVariationalBound(schedule: try DiscreteSchedule(discretizing: .vpLinear(), steps: 1000),
///                                  noise: model.noise)
/// let terms = try bound.terms(of: x0, denoiser: { x, i in ... }, drawsPerStep: 4, seed: 1)
/// terms.negativeELBO[0].value
/// ```
public struct DDPMVariationalBound: Sendable {
    /// The variance v_i of the reverse model p_θ(x_{i−1} | x_i) = N(μ_θ, v_i Σ) (Ho et al. §3.2).
    ///
    /// Even with the exact denoiser the choice matters for data with a smooth density: at early
    /// steps, where the data look flat at the noise scale, the true reverse variance is ≈ β_i,
    /// and β̃_i = β_i(1 − ᾱ_{i−1})/(1 − ᾱ_i) ≈ β_i(i − 1)/i costs ½Σ_k(1/k − log(1 + 1/k)) = γ/2
    /// ≈ 0.29 nats per dimension that does not vanish as T grows, while the gap of β_i does
    /// (measured in the tests: ELBOTests).
    public enum ReverseVariance: Sendable, Hashable {
        /// v_i = β̃_i, the variance of q(x_{i−1} | x_i, x_0): optimal for a point-mass x_0.
        case posterior
        /// v_i = β_i: optimal for x_0 ~ N(0, Σ).
        case forward
    }

    /// A model's x_0-prediction at step i for each row of a batch of x_i (B×D).
    public typealias Denoiser = (_ x: Matrix, _ step: Int) throws -> Matrix

    /// A Monte Carlo estimate and its standard error.
    public struct Estimate: Sendable, Equatable {
        public var value: Double
        public var standardError: Double
    }

    /// The terms of −ELBO for each of B points.
    public struct Terms: Sendable {
        /// L_T of each point, exact.
        public var priorMatching: [Double]
        /// L_{i−1} for i = 2 … T: row b, column i − 2 (B×(T−1)), Monte Carlo means.
        public var denoisingMatching: Matrix
        /// The standard errors of ``denoisingMatching``.
        public var denoisingMatchingStandardErrors: Matrix
        /// L_0 of each point.
        public var reconstruction: [Estimate]
        /// −ELBO = L_T + Σ L_{i−1} + L_0 of each point; its standard error combines the terms'.
        public var negativeELBO: [Estimate]

        /// L_{i−1} of point `b`, for step i ∈ 2 … T.
        public func denoisingMatching(step i: Int, point b: Int) -> Estimate {
            Estimate(value: denoisingMatching[b, i - 2], standardError: denoisingMatchingStandardErrors[b, i - 2])
        }
    }

    public let schedule: DiscreteSchedule
    /// Σ = L Lᵀ, the covariance shape of the forward noise and of the reverse model.
    public let noise: NoiseCovariance
    public let reverseVariance: ReverseVariance

    public init(schedule: DiscreteSchedule, noise: NoiseCovariance, reverseVariance: ReverseVariance = .posterior) {
        self.schedule = schedule
        self.noise = noise
        self.reverseVariance = reverseVariance
    }

    /// v_i, the multiple of Σ in p_θ(x_{i−1} | x_i): β̃_i or β_i for i ≥ 2 (``reverseVariance``),
    /// and β_1 for the decoder p_θ(x_0 | x_1) at i = 1.
    public func modelVariance(step i: Int) throws(ArgumentError) -> Double {
        guard (1...schedule.stepCount).contains(i) else {
            throw ArgumentError("step", "must be in 1...\(schedule.stepCount), got \(i)")
        }
        if i == 1 || reverseVariance == .forward { return schedule.beta(step: i) }
        return try DDPMPosterior(step: i, schedule: schedule).variance
    }

    /// The terms of −ELBO(x_0) for each row of `x0` (B×D), with `drawsPerStep` ≥ 2 Monte Carlo
    /// draws of x_i per point and step from the noise stream `seed`.
    public func terms(of x0: Matrix, denoiser: Denoiser, drawsPerStep: Int, seed: UInt64) throws -> Terms {
        try requireColumns(x0, noise.dimension, "x0")
        guard drawsPerStep >= 2 else {
            throw ArgumentError("drawsPerStep", "must be ≥ 2 to estimate a standard error, got \(drawsPerStep)")
        }
        let count = x0.rows, d = noise.dimension, draws = drawsPerStep, steps = schedule.stepCount
        // Row b · draws + j holds x_0 of point b.
        var repeated = Matrix(rows: count * draws, columns: d)
        for b in 0..<count {
            for j in 0..<draws { repeated.setRow(b * draws + j, to: x0.row(b)) }
        }

        // L_T = KL(N(√ᾱ_T x_0, (1 − ᾱ_T) Σ) ‖ N(0, Σ)).
        let last = try ForwardKernel(toStep: steps, schedule: schedule, noise: noise)
        let priorMatching = try GaussianKL.divergence(
            means: last.mean(given: x0), variance: last.variance,
            referenceMeans: Matrix(rows: count, columns: d), referenceVariance: 1, noise: noise)

        var matching = Matrix(rows: count, columns: max(steps - 1, 0))
        var matchingErrors = matching
        var reconstruction: [Estimate] = []
        for i in 1...steps {
            let kernel = try ForwardKernel(toStep: i, schedule: schedule, noise: noise)
            let xi = try kernel.sample(from: repeated, seed: seed, step: i)
            let predicted = try denoiser(xi, i)
            guard predicted.rows == xi.rows, predicted.columns == d else {
                throw ArgumentError("denoiser", "returned \(predicted.rows)×\(predicted.columns) "
                                    + "for \(xi.rows)×\(d) points at step \(i)")
            }
            let values: [Double]
            if i == 1 {
                // L_0 = −log N(x_0; x̂_0(x_1), β_1 Σ).
                let decoder = try ForwardKernel(alpha: 1, sigma: schedule.beta(step: 1).squareRoot(), noise: noise)
                values = try decoder.logDensity(of: repeated, given: predicted).map { -$0 }
            } else {
                // L_{i−1} = KL(N(μ̃_i(x_i, x_0), β̃_i Σ) ‖ N(μ̃_i(x_i, x̂_0), v_i Σ)).
                let posterior = try DDPMPosterior(step: i, schedule: schedule)
                values = try GaussianKL.divergence(
                    means: posterior.mean(xt: xi, x0: repeated), variance: posterior.variance,
                    referenceMeans: posterior.mean(xt: xi, x0: predicted), referenceVariance: modelVariance(step: i),
                    noise: noise)
            }
            for b in 0..<count {
                let estimate = Self.estimate(values[(b * draws)..<((b + 1) * draws)])
                if i == 1 {
                    reconstruction.append(estimate)
                } else {
                    matching[b, i - 2] = estimate.value
                    matchingErrors[b, i - 2] = estimate.standardError
                }
            }
        }

        let negativeELBO = (0..<count).map { b in
            var value = priorMatching[b] + reconstruction[b].value
            var variance = reconstruction[b].standardError * reconstruction[b].standardError
            for c in 0..<matching.columns {
                value += matching[b, c]
                variance += matchingErrors[b, c] * matchingErrors[b, c]
            }
            return Estimate(value: value, standardError: variance.squareRoot())
        }
        return Terms(priorMatching: priorMatching, denoisingMatching: matching,
                     denoisingMatchingStandardErrors: matchingErrors, reconstruction: reconstruction,
                     negativeELBO: negativeELBO)
    }

    /// The sample mean of `values` and its standard error √(s²/n), s² the unbiased sample variance.
    static func estimate(_ values: ArraySlice<Double>) -> Estimate {
        let n = Double(values.count)
        let mean = values.reduce(0, +) / n
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return Estimate(value: mean, standardError: (squares / (n - 1) / n).squareRoot())
    }
}

extension DiscreteSchedule {
    /// The discrete schedule of T = `steps` steps at the knots t_i = i/T of a continuous
    /// variance-preserving schedule: ᾱ_i = α(t_i)² and β_i = 1 − ᾱ_i/ᾱ_{i−1}, computed as
    /// −expm1(2(log α(t_i) − log α(t_{i−1}))). As T grows its DDPM process converges to the
    /// schedule's SDE (docs/math.md §5), so bounds at increasing T have a continuum limit.
    ///
    /// β_i is capped at `maxBeta` (where α reaches 0, e.g. vp-cosine at t = 1); only capped
    /// steps leave ᾱ_i ≠ α(t_i)². Throws if the schedule does not run over [0, 1] or is not
    /// variance preserving (|α² + σ² − 1| > 1e-9 at a knot), or if `steps` < 1.
    public init(discretizing schedule: Schedule, steps: Int, maxBeta: Double = 0.999) throws(ScheduleError) {
        let name = "discretized \(schedule.name)"
        guard steps >= 1 else {
            throw .invalidParameter(schedule: name, parameter: "steps", reason: "must be ≥ 1, got \(steps)")
        }
        guard maxBeta > 0, maxBeta < 1 else {
            throw .invalidParameter(schedule: name, parameter: "max_beta", reason: "must lie in (0, 1), got \(maxBeta)")
        }
        guard schedule.timeRange == 0...1 else {
            throw .invalidParameter(schedule: name, parameter: "schedule",
                                    reason: "must run over [0, 1], runs over \(schedule.timeRange)")
        }
        var logAlphas: [Double] = []
        for i in 0...steps {
            let c = try schedule.coefficients(at: Double(i) / Double(steps))
            let excess = c.alpha * c.alpha + c.sigma * c.sigma - 1
            guard abs(excess) <= 1e-9 else {
                throw .invalidParameter(schedule: name, parameter: "schedule",
                                        reason: "is not variance preserving: α² + σ² − 1 = \(excess) at t = \(c.t)")
            }
            logAlphas.append(log(c.alpha))
        }
        let betas = (1...steps).map { i in min(-expm1(2 * (logAlphas[i] - logAlphas[i - 1])), maxBeta) }
        try self.init(betas: betas)
    }
}
