import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// The exact output density of a deterministic sampler (docs/math.md §12.1).
///
/// A deterministic sampler is a map x_N = T(x_start) of its starting state, built from linear
/// combinations of states and denoiser outputs. Its Jacobian is carried alongside each sample as
/// D tangent rows that the sampler steps exactly like states, while the denoiser answers a tangent
/// row dx with the exact Jacobian product (α/σ²) Cov[x_0 | x_t] Σ⁻¹ dx (§3.2). Then
///
///     log q_N(x_N) = log π_start(x_start) − log |det ∂x_N/∂x_start|,
///
/// for the same samples a run of the sampler draws from the same seed (Gaussian start).
public struct SamplerOutputDensity: Sendable {
    /// Where the sampler starts.
    public enum StartingLaw: String, Sendable, CaseIterable {
        /// N(0, σ_{t_0}² Σ), the sampler's usual start: the error then includes the starting mismatch.
        case gaussian
        /// The exact marginal p_{t_0}: the error is the discretization (and the final truncation) alone.
        case marginal
    }

    /// x_N, the sampler's outputs (n×D).
    public let samples: Matrix
    /// x_start (n×D).
    public let startingPoints: Matrix
    /// log π_start(x_start).
    public let startLogDensity: [Double]
    /// log |det ∂x_N/∂x_start| (−∞ where the map is singular).
    public let logAbsoluteDeterminant: [Double]
    public let start: StartingLaw

    /// log q_N(x_N) = log π_start − log |det J|; +∞ where the Jacobian is singular (no density).
    public var logDensity: [Double] { zip(startLogDensity, logAbsoluteDeterminant).map { $0 - $1 } }

    /// Whether `sampler` qualifies: deterministic, and every step a linear combination of states
    /// and denoiser outputs (euler, heun without churn, dpmpp-2m, ddim with η = 0).
    public static func isSupported(_ sampler: any Sampler) -> Bool { sampler.isDeterministic && sampler.isAffine }

    /// Runs `sampler` on `path` for `count` samples from `seed` (sample i from the noise of (seed, i), as ``Sampler``'s
    /// `run(count:model:path:noise:batchSize:standardNormals:recordsTrajectory:keepsSamples:onBatch:progress:)`),
    /// carrying each sample's Jacobian. Costs D + 1 rows per sample and a D×D×D product per sample
    /// and model call; `batchSize` samples at a time.
    public init(model: MixtureModel, sampler: any Sampler, path: SamplingPath, count: Int, seed: UInt64,
                start: StartingLaw = .gaussian, batchSize: Int = 64) throws {
        guard Self.isSupported(sampler) else {
            throw ArgumentError("sampler", "\(sampler.name) with these options is not a deterministic linear sampler "
                                + "(euler, heun without churn, dpmpp-2m, ddim with η = 0): "
                                + "its output has no Jacobian to carry")
        }
        guard count >= 1 else { throw ArgumentError("count", "must be at least 1, got \(count)") }
        guard batchSize >= 1 else { throw ArgumentError("batch-size", "must be at least 1, got \(batchSize)") }
        let d = model.dimension
        try MemoryBudget.require("count", "the Jacobians of \(min(count, batchSize)) samples (D = \(d))",
                                 elements: [min(count, batchSize), d + 1, d, 3])
        // The samples, their starts and two numbers per sample are kept.
        try MemoryBudget.require("count", "\(count) samples × D = \(d) and their starts", elements: [count, 2 * d + 2])
        let oracle = try Oracle(model)
        let first = path.levels[0]
        var samples = Matrix(rows: count, columns: d), starts = Matrix(rows: count, columns: d)
        var startDensity = [Double](repeating: 0, count: count), logDeterminant = startDensity
        var done = 0
        while done < count {
            let b = min(batchSize, count - done)
            let x: Matrix
            switch start {
            case .gaussian:
                x = try initialState(count: b, model: oracle, path: path, noise: NoiseStream(seed: seed),
                                     firstSample: done)
                // log N(x; 0, σ_0² Σ): the forward kernel's density about 0.
                let density = try ForwardKernel(alpha: 1, sigma: first.sigma, noise: model.noise)
                    .logDensity(of: x, given: Matrix(rows: b, columns: d))
                for r in 0..<b { startDensity[done + r] = density[r] }
            case .marginal:
                x = try model.sampleMarginal(count: b, alpha: first.alpha, sigma: first.sigma,
                                             seed: derivedSeed(seed, purpose: 7), firstSample: done).points
                let density = try oracle.evaluate(x, at: first).logDensity
                for r in 0..<b { startDensity[done + r] = density[r] }
            }
            // Rows 0..<b are the states; rows b + r·D + i carry ∂x/∂x_start,i of sample r (they start as e_i).
            var state = Matrix(rows: b * (d + 1), columns: d)
            state.elements.replaceSubrange(0..<(b * d), with: x.elements)
            for r in 0..<b { for i in 0..<d { state[b + r * d + i, i] = 1 } }
            let tangent = TangentModel(oracle: oracle, primalRows: b)
            let end = try sampler.sample(state, model: tangent, path: path, noise: NoiseStream(seed: seed),
                                         firstSample: done, monitor: SamplingMonitor())
            for r in 0..<b {
                for i in 0..<d {
                    samples[done + r, i] = end[r, i]
                    starts[done + r, i] = x[r, i]
                }
                // The block's rows are the columns of J: det Jᵀ = det J.
                let block = Matrix(rows: d, columns: d,
                                   elements: Array(end.elements[((b + r * d) * d)..<((b + (r + 1) * d) * d)]))
                logDeterminant[done + r] = LUFactor(block).logAbsoluteDeterminant
            }
            done += b
        }
        self.samples = samples
        startingPoints = starts
        startLogDensity = startDensity
        logAbsoluteDeterminant = logDeterminant
        self.start = start
    }
}

/// The oracle for a state whose first `primalRows` rows are points and whose other rows are
/// tangents, D per point: a point gets x̂_0, a tangent dx of point r gets the exact Jacobian
/// product ∂x̂_0/∂x_t · dx = (α/σ²) C_r Σ⁻¹ dx with C_r = Cov[x_0 | x_t = x_r] (docs/math.md §3.2).
struct TangentModel: DenoisingModel {
    let oracle: Oracle
    let primalRows: Int

    var dimension: Int { oracle.dimension }
    var noiseCovariance: NoiseCovariance { oracle.model.noise }

    func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix {
        let d = dimension, b = primalRows
        let points = Matrix(rows: b, columns: d, elements: Array(x.elements[0..<(b * d)]))
        let result = try oracle.evaluate(points, at: level, including: .posteriorCovariance)
        var out = Matrix(rows: x.rows, columns: d)
        out.elements.replaceSubrange(0..<(b * d), with: result.denoised.elements)
        let tangents = Matrix(rows: x.rows - b, columns: d, elements: Array(x.elements[(b * d)...]))
        let pulled = noiseCovariance.applyingInverseCovariance(to: tangents)   // rows Σ⁻¹ dx
        let scale = level.alpha / (level.sigma * level.sigma)
        for r in 0..<b {
            // Rows (Σ⁻¹dx)ᵀ C_r: C_r is symmetric, so these are the rows of C_r Σ⁻¹ dx.
            let block = Matrix(rows: d, columns: d, elements: Array(pulled.elements[(r * d * d)..<((r + 1) * d * d)]))
            let product = BLAS.product(block, result.posteriorCovariance![r])
            for k in 0..<(d * d) { out.elements[(b + r * d) * d + k] = scale * product.elements[k] }
        }
        return out
    }
}

/// KL(q_N ‖ p) from samples of q_N with both log-densities known (docs/math.md §12.2).
///
/// With l = log q_N(x) − log p(x) and w = e^{−l} = p/q_N, E_q[w] = 1, so both
/// mean(l) and mean(w − 1 + l) are unbiased for KL. The second (the control-variate form) has
/// non-negative terms, of second order in l where q_N ≈ p, so its relative error stays near √(2/n)
/// however small KL is, where the first's standard error √(Var l / n) ≈ √(2 KL / n) swamps KL once
/// KL < 2/n. Where q_N is narrower than p, w is heavy-tailed and the second form's mean and
/// standard error are dominated by a few samples: below an effective sample size of w of
/// ``trustworthyShare`` · n, ``kl`` falls back to the plain form.
public struct SamplerKL: Sendable, Equatable {
    /// The control-variate estimate mean(w − 1 + l) and its standard error.
    public let controlVariateKL: Double
    public let controlVariateStandardError: Double
    /// The plain estimate mean(l) and its standard error.
    public let plainKL: Double
    public let plainStandardError: Double
    /// (Σw)²/Σw², between 1 and n.
    public let effectiveSampleSize: Double
    /// The other direction, KL(p ‖ q_N) = E_q[w log w] = E_q[w log w − w + 1], by importance
    /// sampling with the same samples and weights, ± its standard error; nil where the weights are
    /// not trustworthy (the same effective-sample-size rule) or overflow.
    public let reverseKL: Double?
    public let reverseStandardError: Double?
    public let count: Int

    /// The estimate is flagged below this share of effective samples.
    public static let trustworthyShare = 0.1

    /// Whether the weights are well enough behaved for the control-variate estimate and its standard
    /// error to mean something: an effective sample size of at least ``trustworthyShare`` of the samples.
    public var isTrustworthy: Bool { effectiveSampleSize >= Self.trustworthyShare * Double(count) }

    /// The estimate to use: the control-variate form where it is trustworthy, else the plain one.
    public var kl: Double { isTrustworthy ? controlVariateKL : plainKL }
    /// The standard error of ``kl``.
    public var standardError: Double { isTrustworthy ? controlVariateStandardError : plainStandardError }

    /// From log q_N and log p at the same n ≥ 2 samples of q_N (finite values).
    public init(logSamplerDensity logQ: [Double], logTargetDensity logP: [Double]) throws(ArgumentError) {
        guard logQ.count == logP.count, logQ.count >= 2 else {
            throw ArgumentError("samples",
                                "need at least two samples with both densities, got \(logQ.count) and \(logP.count)")
        }
        let l = zip(logQ, logP).map { $0 - $1 }
        guard l.allSatisfy(\.isFinite) else {
            throw ArgumentError("samples", "a log-density ratio is not finite "
                                + "(a sample outside the support, or a singular Jacobian)")
        }
        let n = Double(l.count)
        let plain = MeanEstimate(l)
        plainKL = plain.mean
        plainStandardError = plain.standardError
        let terms = l.map(Self.controlVariateTerm)
        let controlled = MeanEstimate(terms)
        controlVariateKL = controlled.mean
        controlVariateStandardError = controlled.standardError
        // ESS of w = e^{−l}, shifted by the largest −l.
        let shift = l.map { -$0 }.max()!
        var sum = 0.0, sumOfSquares = 0.0
        for value in l {
            let w = exp(-value - shift)
            sum += w
            sumOfSquares += w * w
        }
        effectiveSampleSize = min(n, sum * sum / sumOfSquares)
        count = l.count
        let reverseTerms = l.map(Self.reverseTerm)
        if effectiveSampleSize >= Self.trustworthyShare * n, reverseTerms.allSatisfy(\.isFinite) {
            let reverse = MeanEstimate(reverseTerms)
            reverseKL = reverse.mean
            reverseStandardError = reverse.standardError
        } else {
            reverseKL = nil
            reverseStandardError = nil
        }
    }

    /// w log w − w + 1 ≥ 0 for w = e^{−l}, i.e. e^u (u − 1) + 1 with u = −l, by its Taylor series
    /// Σ_{k≥2} (k − 1) u^k / k! where |u| is small.
    static func reverseTerm(_ l: Double) -> Double {
        let u = -l
        if abs(u) < 1e-3 {
            let u2 = u * u
            return u2 * (0.5 + u / 3 + u2 / 8 + u2 * u / 30)
        }
        return exp(u) * (u - 1) + 1
    }

    /// KL(q_N ‖ p_0) of `sampler` on `path` for `model`, from the `count` samples a run from `seed`
    /// draws (Gaussian start); nil where it does not exist or cannot be computed: a sampler that is
    /// not deterministic and linear, fewer than two samples, a p_0 without a density (Dirac or
    /// singular components), or a singular Jacobian.
    public init?(model: MixtureModel, sampler: any Sampler, path: SamplingPath, count: Int, seed: UInt64,
                 start: SamplerOutputDensity.StartingLaw = .gaussian) throws {
        guard SamplerOutputDensity.isSupported(sampler), count >= 2,
              let density = try? PriorDensity(model.prior) else { return nil }
        let run = try SamplerOutputDensity(model: model, sampler: sampler, path: path, count: count, seed: seed,
                                           start: start)
        guard let kl = try? SamplerKL(logSamplerDensity: run.logDensity,
                                      logTargetDensity: density.logDensity(run.samples)) else {
            return nil
        }
        self = kl
    }

    /// e^{−l} − 1 + l ≥ 0, by its Taylor series where |l| is small (the direct form cancels there).
    static func controlVariateTerm(_ l: Double) -> Double {
        if abs(l) < 1e-3 {
            let l2 = l * l
            return l2 * (0.5 - l / 6 + l2 / 24 - l2 * l / 120)
        }
        return expm1(-l) + l
    }
}
