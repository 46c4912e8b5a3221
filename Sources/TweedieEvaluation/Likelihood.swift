import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// Exact log-likelihoods through the probability-flow ODE (docs/math.md §5), with the mixture oracle as
/// the score model.
///
/// Along a trajectory of dx/dt = v_t(x) = h_t x − ½ g_t² Σ ∇log p_t(x) the marginal density obeys
/// d/dt log p_t(x(t)) = −∇·v_t(x(t)), ∇·v_t = h_t D − ½ g_t² tr(Σ H_t) (H_t = ∇² log p_t). So the
/// augmented state (x, ℓ) with dℓ/dt = ∇·v_t, integrated from x(t_min) = x_0, ℓ = 0 up to t_max,
/// gives
///
///     log p_{t_min}(x_0) = log p_{t_max}(x(t_max)) + ℓ(t_max).
///
/// The flow transports p_{t_max} to p_{t_min} exactly, so with the ``Prior/exactMarginal`` prior
/// the result *is* log p_{t_min}(x_0) up to integration error; it approaches log p_0(x_0) as
/// t_min → the data end (σ_{t_min} → 0), with a gap of order σ_{t_min}² tr(Σ Λ_k⁻¹) for a
/// component of covariance Λ_k. With ``Prior/gaussian`` it is the estimate used in the literature
/// (Song et al. 2021), whose prior ignores the remaining signal α_{t_max} x_0.
///
/// The divergence is either the oracle's exact tr(Σ H) (docs/math.md §3; ``Divergence/exact``) or
/// Hutchinson's estimator (``Divergence/hutchinson(probes:seed:distribution:)``), which needs only
/// scores: with probes z (E[z zᵀ] = I) and w = L z, tr(Σ H) = tr(Lᵀ H L) = E[wᵀ H w], and H w is
/// the central difference (∇log p_t(x + δw) − ∇log p_t(x − δw)) / 2δ at δ =
/// ``finiteDifferenceStep`` · σ_t (exact for a Gaussian, whose score is linear; otherwise an
/// O(δ²) error, far below the probe noise). Each probe keeps its z for the whole trajectory
/// (FFJORD's construction), so each probe's ℓ_p is an unbiased estimate of ℓ; the result is their
/// mean with the standard error of the mean over the probes.
///
/// Each point is integrated on its own by adaptive ``DormandPrince`` steps (error norm over the
/// whole augmented state), and its probes are keyed by (seed, `firstPoint` + row, probe), so a
/// point's result does not depend on the batch it is in.
///
/// ```swift
/// let likelihood = try ProbabilityFlowLikelihood(oracle: Oracle(model), schedule: .vpLinear())
/// let results = try likelihood.logLikelihood(x0)
/// results[0].logLikelihood   // ≈ log p_{t_min}(x0[0])
/// ```
public struct ProbabilityFlowLikelihood: Sendable {
    /// The density of x(t_max).
    public enum Prior: String, Sendable, CaseIterable {
        /// N(0, σ_{t_max}² Σ), the usual choice for a trained model; it ignores the α_{t_max} x_0
        /// still in x_{t_max} (and α_{t_max}² Λ_k), an error of order α_{t_max}².
        case gaussian
        /// The exact marginal p_{t_max} from the oracle (docs/math.md §2): no prior error.
        case exactMarginal
    }

    /// The distribution of Hutchinson's probes z.
    public enum ProbeDistribution: String, Sendable, CaseIterable {
        /// Independent ±1, the lower-variance choice.
        case rademacher
        /// Independent N(0, 1).
        case gaussian
    }

    /// How tr(Σ H) is obtained at each function evaluation.
    public enum Divergence: Sendable, Equatable {
        /// The oracle's exact tr(Σ H) (docs/math.md §3).
        case exact
        /// Hutchinson's estimator with `probes` ≥ 2 probes drawn from the noise stream of `seed`.
        case hutchinson(probes: Int, seed: UInt64, distribution: ProbeDistribution = .rademacher)
    }

    public let oracle: Oracle
    public let schedule: Schedule
    public let prior: Prior
    public let divergence: Divergence
    public let relativeTolerance: Double
    public let absoluteTolerance: Double
    /// t_min: the time of the density computed, where the ODE starts.
    public let startTime: Double
    /// t_max: where the prior is evaluated.
    public let endTime: Double

    /// δ / σ_t of Hutchinson's central differences.
    public static let finiteDifferenceStep = 1e-4

    /// Checks every parameter; throws an ``ArgumentError`` naming the culprit (`rtol`, `atol`,
    /// `t_min`, `t_max`, `probes`). Times default to ``defaultStartTime(for:)`` and
    /// ``defaultEndTime(for:)``.
    public init(oracle: Oracle, schedule: Schedule, prior: Prior = .exactMarginal, divergence: Divergence = .exact,
                relativeTolerance: Double = 1e-6, absoluteTolerance: Double = 1e-6,
                startTime: Double? = nil, endTime: Double? = nil) throws(ArgumentError) {
        guard relativeTolerance > 0, relativeTolerance.isFinite else {
            throw ArgumentError("rtol", "must be finite and positive, got \(relativeTolerance)")
        }
        guard absoluteTolerance > 0, absoluteTolerance.isFinite else {
            throw ArgumentError("atol", "must be finite and positive, got \(absoluteTolerance)")
        }
        let range = schedule.timeRange
        let start = startTime ?? Self.defaultStartTime(for: schedule)
        let end = endTime ?? Self.defaultEndTime(for: schedule)
        for (name, t) in [("t_min", start), ("t_max", end)] where !range.contains(t) {
            throw ArgumentError(name, "\(t) is outside the time range \(range.lowerBound)…\(range.upperBound) "
                                + "of \(schedule.name)")
        }
        guard start < end else { throw ArgumentError("t_min", "must be below t_max = \(end), got \(start)") }
        guard schedule.sigma(start) > 0 else {
            throw ArgumentError("t_min", "σ vanishes at t = \(start) of \(schedule.name), "
                                + "so p_t has no density there; take a later time")
        }
        guard schedule.alpha(end) > 0, schedule.drift(end).isFinite else {
            throw ArgumentError("t_max", "α vanishes at t = \(end) of \(schedule.name), "
                                + "where the drift is infinite; take an earlier time")
        }
        if case let .hutchinson(probes, _, _) = divergence, probes < 2 {
            throw ArgumentError("probes", "a standard error needs at least 2 probes, got \(probes)")
        }
        if case let .hutchinson(probes, _, _) = divergence {
            guard probes < NoiseStream.reservedSteps.lowerBound else {
                throw ArgumentError("probes", "must be below \(NoiseStream.reservedSteps.lowerBound), got \(probes)")
            }
            // The augmented state holds (1 + probes) × D numbers, and the solver keeps 9 copies
            // of it for each point integrated at once (one per core).
            try MemoryBudget.require("probes", "\(probes) probes × D = \(oracle.dimension) "
                                     + "(solver stages, \(Parallel.maximumThreads) points at once)",
                                     elements: [probes + 1, oracle.dimension, 9, Parallel.maximumThreads])
        }
        self.oracle = oracle
        self.schedule = schedule
        self.prior = prior
        self.divergence = divergence
        self.relativeTolerance = relativeTolerance
        self.absoluteTolerance = absoluteTolerance
        self.startTime = start
        self.endTime = end
    }

    /// The lower end of the schedule's usable range (``Schedule/usableTimeRange``).
    public static func defaultStartTime(for schedule: Schedule) -> Double { schedule.usableTimeRange.lowerBound }

    /// The upper end of the schedule's usable range (``Schedule/usableTimeRange``).
    public static func defaultEndTime(for schedule: Schedule) -> Double { schedule.usableTimeRange.upperBound }

    /// log p_{t_min}(x_0) for each row x_0 of `x0` (B×D), each with its standard error (0 for the
    /// exact divergence) and cost. Row r uses the probes of sample `firstPoint` + r. Points are
    /// integrated in parallel, each on its own.
    public func logLikelihood(_ x0: Matrix, firstPoint: Int = 0) throws -> [LikelihoodResult] {
        try requirePoints(x0, dimension: oracle.dimension, "x")
        guard firstPoint >= 0 else { throw ArgumentError("firstPoint", "must be non-negative, got \(firstPoint)") }
        let count = x0.rows
        var results = [LikelihoodResult?](repeating: nil, count: count)
        var errors = [(any Error)?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { resultBuffer in
            errors.withUnsafeMutableBufferPointer { errorBuffer in
                let out = UncheckedSendable((resultBuffer.baseAddress!, errorBuffer.baseAddress!))
                Parallel.forEach(count) { r in
                    do {
                        out.value.0[r] = try integrate(x0.row(r), sample: firstPoint + r)
                    } catch let error as DormandPrince.StepSizeUnderflow {
                        out.value.1[r] = ArgumentError("x", "point \(r): \(error)")
                    } catch {
                        out.value.1[r] = error
                    }
                }
            }
        }
        if let error = errors.compactMap({ $0 }).first { throw error }
        return results.map { $0! }
    }

    /// One point: the augmented ODE from t_min to t_max, then the prior at x(t_max).
    private func integrate(_ x: [Double], sample: Int) throws -> LikelihoodResult {
        let d = x.count
        let sde = DiffusionSDE(schedule: schedule, noise: oracle.model.noise)
        let stepper = DormandPrince(relativeTolerance: relativeTolerance, absoluteTolerance: absoluteTolerance)
        let solution: DormandPrince.Solution
        let probeCount: Int
        switch divergence {
        case .exact:
            probeCount = 1
            solution = try stepper.integrate(x + [0], from: startTime, to: endTime) { y, t in
                let point = Matrix(rows: 1, columns: d, elements: Array(y[0..<d]))
                let c = try schedule.coefficients(at: t)
                let r = try oracle.evaluate(point, alpha: c.alpha, sigma: c.sigma)
                let velocity = try sde.probabilityFlowVelocity(point, at: t, score: r.score)
                let divergence = try sde.probabilityFlowDivergence(at: t, traceOfCovarianceHessian: r.divergence)
                return velocity.elements + divergence
            }
        case let .hutchinson(probes, seed, distribution):
            probeCount = probes
            let stream = NoiseStream(seed: seed)
            var z = Matrix(rows: probes, columns: d)
            for p in 0..<probes {
                let row: [Double]
                switch distribution {
                case .rademacher:
                    row = (0..<d).map { stream.uniform(sample: sample, step: p, index: $0) < 0.5 ? -1 : 1 }
                case .gaussian: row = stream.normals(sample: sample, step: p, count: d)
                }
                z.setRow(p, to: row)
            }
            let w = oracle.model.noise.applying(.unwhiten, to: z)
            solution = try stepper.integrate(x + [Double](repeating: 0, count: probes), from: startTime,
                                             to: endTime) { y, t in
                let c = try schedule.coefficients(at: t)
                let delta = Self.finiteDifferenceStep * c.sigma
                // Rows: x, then x + δw_p and x − δw_p for each probe.
                var points = Matrix(rows: 1 + 2 * probes, columns: d)
                for i in 0..<d { points.elements[i] = y[i] }
                for p in 0..<probes {
                    for i in 0..<d {
                        points.elements[(1 + 2 * p) * d + i] = y[i] + delta * w.elements[p * d + i]
                        points.elements[(2 + 2 * p) * d + i] = y[i] - delta * w.elements[p * d + i]
                    }
                }
                let scores = try oracle.evaluate(points, alpha: c.alpha, sigma: c.sigma).score
                let point = Matrix(rows: 1, columns: d, elements: Array(y[0..<d]))
                let velocity = try sde.probabilityFlowVelocity(
                    point, at: t, score: Matrix(rows: 1, columns: d, elements: scores.row(0)))
                // wᵀ H w ≈ wᵀ (s(x + δw) − s(x − δw)) / 2δ.
                let quadraticForms = (0..<probes).map { p in
                    var sum = 0.0
                    for i in 0..<d {
                        sum += w.elements[p * d + i]
                            * (scores.elements[(1 + 2 * p) * d + i] - scores.elements[(2 + 2 * p) * d + i])
                    }
                    return sum / (2 * delta)
                }
                return velocity.elements
                    + (try sde.probabilityFlowDivergence(at: t, traceOfCovarianceHessian: quadraticForms))
            }
        }
        let end = Array(solution.state[0..<d])
        let logPrior = try priorLogDensity(end)
        let integrals = Array(solution.state[d...])
        let estimate = MeanEstimate(integrals)
        return LikelihoodResult(logLikelihood: logPrior + estimate.mean,
                                standardError: probeCount > 1 ? estimate.standardError : 0,
                                priorLogDensity: logPrior, divergenceIntegral: estimate.mean, endPoint: end,
                                functionEvaluations: solution.evaluations, acceptedSteps: solution.acceptedSteps,
                                rejectedSteps: solution.rejectedSteps)
    }

    /// log of the prior at x(t_max): the exact marginal, or
    /// log N(x; 0, σ²Σ) = −½‖L⁻¹x‖²/σ² − D log σ − log|det L| − (D/2) log 2π.
    private func priorLogDensity(_ x: [Double]) throws -> Double {
        let d = x.count
        let point = Matrix(rows: 1, columns: d, elements: x)
        switch prior {
        case .exactMarginal:
            return try oracle.evaluate(point, at: endTime, schedule: schedule).logDensity[0]
        case .gaussian:
            let noise = oracle.model.noise
            let sigma = schedule.sigma(endTime)
            let y = noise.applying(.whiten, to: point).elements
            let squared = y.reduce(0) { $0 + $1 * $1 }
            return -0.5 * squared / (sigma * sigma) - Double(d) * log(sigma) - noise.logDeterminantOfFactor
                - 0.5 * Double(d) * log(2 * Double.pi)
        }
    }
}

/// The probability-flow log-likelihood of one point (``ProbabilityFlowLikelihood``).
public struct LikelihoodResult: Sendable, Equatable {
    /// The estimate of log p_{t_min}(x_0), in nats: ``priorLogDensity`` + ``divergenceIntegral``.
    public var logLikelihood: Double
    /// The standard error of ``logLikelihood`` over Hutchinson's probes; 0 for the exact divergence.
    public var standardError: Double
    /// log of the prior at ``endPoint``.
    public var priorLogDensity: Double
    /// ∫ ∇·v_t dt from t_min to t_max along the trajectory (the mean over probes for Hutchinson).
    public var divergenceIntegral: Double
    /// x(t_max), where the ODE ended.
    public var endPoint: [Double]
    /// Evaluations of the ODE's right-hand side (each one oracle call, on 1 + 2P points with
    /// Hutchinson's P probes).
    public var functionEvaluations: Int
    public var acceptedSteps: Int
    public var rejectedSteps: Int
}
