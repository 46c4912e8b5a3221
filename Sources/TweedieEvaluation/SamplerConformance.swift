import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// Does a sampler converge to the exact law, and at what order (docs/math.md §12.6)?
///
/// The sampler runs on the exact denoiser of a prior with identity noise, in k-diffusion's convention
/// (the edm process, x_σ = x_0 + σ ε), on Karras levels from σ_max to σ_min then 0, at growing step
/// counts, always from the same start: σ_max z with z of sample mean 0 and sample covariance I exactly,
/// so that a deterministic sampler's output moments are those of its output law. For a Gaussian prior
/// the output's moments are compared by the Gaussian KL with q_ref, the law every consistent sampler on
/// those levels tends to; for a mixture, only the moment errors against p_0 are measured.
///
/// ```swift
/// let check = try SamplerConformance(model: model)
/// let report = try check.check(SamplerConfiguration(.heun).makeSampler(), expectedOrder: 2)
/// print(report.verdict)   // converges at order ≈ 2.00 (KL to q_ref … at 1024 steps)
/// ```
public struct SamplerConformance: Sendable {
    /// What a check found, per step count and as a verdict.
    public struct Report: Sendable {
        public let sampler: String
        public let steps: [Int]
        /// Model calls per sample at each step count.
        public let modelCalls: [Double]
        /// KL(N(m̂, Ŝ) ‖ q_ref) of the output's sample moments (NaN for a mixture prior).
        public let kl: [Double]
        /// KL(N(m̂, Ŝ) ‖ p_0) (NaN for a mixture prior).
        public let klToPrior: [Double]
        /// ‖m̂ − μ‖ / √tr Λ and ‖Ŝ − Λ‖_F / ‖Λ‖_F against the moments of p_0.
        public let meanError: [Double]
        public let covarianceError: [Double]
        /// KL(q_ref ‖ p_0): what stopping at σ_min leaves (NaN for a mixture prior).
        public let gridFloor: Double
        /// The figure of exact draws of q_ref (0 for a deterministic sampler).
        public let noiseFloor: Double
        public let deterministic: Bool
        /// p from KL ∝ N^(−2p); NaN if undetermined (and for a mixture prior).
        public let order: Double
        /// Whether the KL falls at order ≥ 0.5 down to the largest N, or reaches the floor; false for a
        /// mixture prior, which is not judged (only its moment errors are measured).
        public let converges: Bool
        public let expectedOrder: Double?
        /// Whether it converges at no less than the expected order − 0.3.
        public let conforms: Bool
        public let verdict: String
    }

    /// 4, 8, …, 1024.
    public static let defaultSteps = (2...10).map { 1 << $0 }

    public let model: MixtureModel
    public let sigmaMin: Double
    public let sigmaMax: Double
    public let count: Int
    public let seed: UInt64
    /// The mean and covariance of p_0.
    public let priorMean: [Double]
    public let priorCovariance: Matrix
    /// q_ref = N(referenceMean, referenceCovariance) (meaningful for a Gaussian prior).
    public let referenceMean: [Double]
    public let referenceCovariance: Matrix
    /// z, count × D: sample mean 0 and sample covariance I (divisor count), exactly up to rounding.
    public let start: Matrix
    public var isGaussian: Bool { model.componentCount == 1 }

    /// Throws an ``ArgumentError`` naming `model`, `count`, `sigma-min` or `sigma-max` when the check
    /// cannot be made.
    public init(model: MixtureModel, sigmaMin: Double = 0.05, sigmaMax: Double = 80, count: Int = 4096,
                seed: UInt64 = 0) throws {
        let d = model.dimension
        guard model.noise.isIdentity else {
            throw ArgumentError("model", "conformance runs in k-diffusion's convention x_σ = x_0 + σ ε "
                                + "(identity noise); this model's noise is not the identity")
        }
        guard model.zeroCentreOfMass == nil else {
            throw ArgumentError("model", "conformance needs a model on all of R^D (not a zero-centre-of-mass one)")
        }
        guard sigmaMin > 0, sigmaMin < sigmaMax, sigmaMax.isFinite else {
            throw ArgumentError("sigma-min", "need 0 < σ_min < σ_max < ∞, got \(sigmaMin), \(sigmaMax)")
        }
        guard count >= d + 2, count <= 1 << 22 else {
            throw ArgumentError("count", "must be in \(d + 2)...\(1 << 22) (at least D + 2 for a covariance), "
                                + "got \(count)")
        }
        try MemoryBudget.require("count", "\(count) samples × D = \(d)", elements: [count, d])
        self.model = model
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.count = count
        self.seed = seed
        priorMean = model.prior.mean
        priorCovariance = model.prior.covariance
        (referenceMean, referenceCovariance) = try Self.reference(mean: priorMean, covariance: priorCovariance,
                                                                  sigmaMin: sigmaMin, sigmaMax: sigmaMax,
                                                                  requiresDefinite: model.componentCount == 1)
        start = try Self.whitenedStart(count: count, dimension: d, noise: NoiseStream(seed: seed))
    }

    /// q_ref of docs/math.md §12.6: with Λ = U diag(γ) Uᵀ and T = U diag(γ_j/√((γ_j + σ_min²)(γ_j + σ_max²))) Uᵀ
    /// (the exact flow from σ_max to σ_min, then x̂_0), q_ref = N(μ − T μ, σ_max² T Tᵀ).
    public static func reference(mean: [Double], covariance: Matrix, sigmaMin: Double, sigmaMax: Double,
                                 requiresDefinite: Bool) throws -> (mean: [Double], covariance: Matrix) {
        let d = mean.count
        let eigen = try SymmetricEigendecomposition(covariance)
        let largest = eigen.values.max() ?? 0
        if requiresDefinite, !((eigen.values.min() ?? 0) > 1e-12 * largest) {
            throw ArgumentError("model", "the prior covariance is singular; its KL is infinite")
        }
        let gains = eigen.values.map { g -> Double in
            let gamma = max(g, 0)
            return gamma / ((gamma + sigmaMin * sigmaMin).squareRoot() * (gamma + sigmaMax * sigmaMax).squareRoot())
        }
        // T = U diag(g) Uᵀ and σ_max² T Tᵀ = U diag(σ_max² g²) Uᵀ, each as one product of scaled columns.
        var scaled = eigen.vectors, scaledSquared = eigen.vectors
        for i in 0..<d {
            for j in 0..<d {
                scaled[i, j] *= gains[j]
                scaledSquared[i, j] *= sigmaMax * sigmaMax * gains[j] * gains[j]
            }
        }
        let transfer = BLAS.product(scaled, .none, eigen.vectors, .transpose)
        let referenceCovariance = BLAS.product(scaledSquared, .none, eigen.vectors, .transpose).symmetrized
        var referenceMean = mean
        for i in 0..<d {
            for j in 0..<d { referenceMean[i] -= transfer[i, j] * mean[j] }
        }
        return (referenceMean, referenceCovariance)
    }

    /// Standard normals of (seed, sample i, step 0), centred, then whitened by the Cholesky factor of their
    /// sample covariance (divisor n): sample mean 0 and sample covariance I.
    static func whitenedStart(count: Int, dimension d: Int, noise: NoiseStream) throws -> Matrix {
        var z = Matrix(rows: count, columns: d)
        for i in 0..<count {
            let row = noise.normals(sample: i, step: 0, count: d)
            for j in 0..<d { z[i, j] = row[j] }
        }
        let (mean, covariance) = sampleMoments(z)
        for i in 0..<count {
            for j in 0..<d { z[i, j] -= mean[j] }
        }
        let factor = try CholeskyFactor(covariance)
        // Row i ← L⁻¹ zᵢ for all rows at once: Z ← Z L⁻ᵀ.
        factor.lower.elements.withUnsafeBufferPointer { l in
            z.elements.withUnsafeMutableBufferPointer { p in
                BLAS.solveLowerTriangular(.right, .transpose, n: d, lower: l.baseAddress!, rows: count, columns: d,
                                          b: p.baseAddress!, ldb: d)
            }
        }
        return z
    }

    /// The sample mean and the sample covariance with divisor n (the moments of the empirical law).
    static func sampleMoments(_ x: Matrix) -> (mean: [Double], covariance: Matrix) {
        let (n, d) = (x.rows, x.columns)
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d { mean[j] += x[i, j] }
        }
        for j in 0..<d { mean[j] /= Double(n) }
        var centred = x
        for i in 0..<n {
            for j in 0..<d { centred[i, j] -= mean[j] }
        }
        var covariance = BLAS.product(centred, .transpose, centred, .none)
        for k in covariance.elements.indices { covariance.elements[k] /= Double(n) }
        return (mean, covariance.symmetrized)
    }

    /// The four figures of one output: KL to q_ref, KL to p_0, mean error, covariance error. A singular or
    /// non-finite sample covariance (a collapsed or exploded output) is infinitely far from any Gaussian.
    func figures(_ x: Matrix) -> (kl: Double, klToPrior: Double, meanError: Double, covarianceError: Double) {
        let d = x.columns
        let (m, s) = Self.sampleMoments(x)
        let traceOfPrior = (0..<d).reduce(0) { $0 + priorCovariance[$1, $1] }
        let meanError = zip(m, priorMean).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            / traceOfPrior.squareRoot()
        let difference = zip(s.elements, priorCovariance.elements).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let norm = priorCovariance.elements.reduce(0) { $0 + $1 * $1 }
        let covarianceError = (difference / norm).squareRoot()
        guard isGaussian else { return (.nan, .nan, meanError, covarianceError) }
        let trace = (0..<d).reduce(0) { $0 + s[$1, $1] }
        let smallest = (try? SymmetricEigendecomposition(s))?.values.min() ?? -.infinity
        guard s.elements.allSatisfy(\.isFinite), smallest > 1e-14 * max(trace, 1e-300) else {
            return (.infinity, .infinity, meanError, covarianceError)
        }
        let kl = (try? GaussianKL.divergence(mean: m, covariance: s, referenceMean: referenceMean,
                                             referenceCovariance: referenceCovariance)) ?? .infinity
        let klToPrior = (try? GaussianKL.divergence(mean: m, covariance: s, referenceMean: priorMean,
                                                    referenceCovariance: priorCovariance)) ?? .infinity
        return (kl, klToPrior, meanError, covarianceError)
    }

    /// The sampler's output at `steps` Karras levels from the start (noise of `seed`).
    func output(_ sampler: any Sampler, steps: Int, oracle: Oracle, seed: UInt64) throws -> SamplingRun {
        let schedule = Schedule.edm(sigmaMin: sigmaMin, sigmaMax: sigmaMax)
        let times = steps == 1 ? [sigmaMax] : try TimeGrid.karras(schedule, count: steps, rho: 7,
                                                                    from: sigmaMax, to: sigmaMin)
        let path = try SamplingPath(schedule: schedule, times: times)
        return try sampler.run(count: count, model: oracle, path: path, noise: NoiseStream(seed: seed),
                               standardNormals: start)
    }

    /// Runs `sampler` at each of `steps` (increasing) and gives the verdict of docs/math.md §12.6.
    public func check(_ sampler: any Sampler, steps: [Int] = defaultSteps,
                      expectedOrder: Double? = nil) throws -> Report {
        guard steps.count >= 2, steps.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }),
              zip(steps, steps.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ArgumentError("steps", "expected at least two increasing step counts in 1...65536, got \(steps)")
        }
        if let expectedOrder, !(expectedOrder.isFinite && expectedOrder > 0) {
            throw ArgumentError("order", "must be a finite positive number, got \(expectedOrder)")
        }
        let oracle = try Oracle(model)
        var kl: [Double] = [], klToPrior: [Double] = [], meanError: [Double] = [], covarianceError: [Double] = []
        var calls: [Double] = []
        var first: Matrix?
        for n in steps {
            let run = try output(sampler, steps: n, oracle: oracle, seed: seed)
            if first == nil { first = run.samples }
            let f = figures(run.samples)
            kl.append(f.kl)
            klToPrior.append(f.klToPrior)
            meanError.append(f.meanError)
            covarianceError.append(f.covarianceError)
            calls.append(run.modelCallsPerSample)
        }
        let again = try output(sampler, steps: steps[0], oracle: oracle, seed: seed &+ 1).samples
        let deterministic = again.elements == first?.elements
        let gridFloor = isGaussian
            ? (try? GaussianKL.divergence(mean: referenceMean, covariance: referenceCovariance,
                                          referenceMean: priorMean, referenceCovariance: priorCovariance)) ?? .nan
            : .nan
        let floor = deterministic || !isGaussian ? 0 : try noiseFloor()
        let order = isGaussian ? Self.order(steps: steps, metric: kl, floor: floor) : .nan
        let verdict = isGaussian
            ? Self.verdict(steps: steps, metric: kl, floor: floor, order: order, expectedOrder: expectedOrder,
                           meanError: meanError.last ?? .nan, covarianceError: covarianceError.last ?? .nan)
            : (converges: false, conforms: false,
               text: "not judged: a mixture has no exact reference law here; at \(steps.last!) steps the "
               + "mean error is \(Self.shortNumber(meanError.last!)) and the covariance error "
               + "\(Self.shortNumber(covarianceError.last!)) against p_0 (grid ends and sample noise included)")
        return Report(sampler: sampler.name, steps: steps, modelCalls: calls, kl: kl, klToPrior: klToPrior,
                      meanError: meanError, covarianceError: covarianceError, gridFloor: gridFloor,
                      noiseFloor: floor, deterministic: deterministic, order: order, converges: verdict.converges,
                      expectedOrder: expectedOrder, conforms: verdict.conforms, verdict: verdict.text)
    }

    /// The KL to q_ref of `count` exact draws of q_ref, averaged over 8 draws: below three times this a
    /// stochastic sampler's figure is sample noise.
    func noiseFloor() throws -> Double {
        let d = model.dimension
        let factor = try CholeskyFactor(referenceCovariance)
        let noise = NoiseStream(seed: seed &+ 0x5EED)
        var total = 0.0
        for draw in 0..<8 {
            var x = Matrix(rows: count, columns: d)
            for i in 0..<count {
                let z = noise.normals(sample: i, step: draw, count: d)
                for j in 0..<d { x[i, j] = z[j] }
            }
            // Row i ← L zᵢ for all rows at once (X ← Z Lᵀ), then the mean.
            factor.lower.elements.withUnsafeBufferPointer { l in
                x.elements.withUnsafeMutableBufferPointer { p in
                    BLAS.multiplyLowerTriangular(.right, .transpose, n: d, lower: l.baseAddress!, rows: count,
                                                 columns: d, b: p.baseAddress!, ldb: d)
                }
            }
            for i in 0..<count {
                for j in 0..<d { x[i, j] += referenceMean[j] }
            }
            total += figures(x).kl
        }
        return total / 8
    }

    /// p = −½ × the least-squares slope of log figure against log N over the trailing run (at most three)
    /// of step counts whose figure is above max(3 × floor, 10⁻²⁴); NaN with fewer than two.
    public static func order(steps: [Int], metric: [Double], floor: Double) -> Double {
        var run: [Int] = []
        for i in steps.indices.reversed() {
            guard metric[i] > max(3 * floor, 1e-24), metric[i].isFinite else {
                if run.isEmpty { continue } else { break }
            }
            run.append(i)
            if run.count == 3 { break }
        }
        guard run.count >= 2 else { return .nan }
        let xs = run.map { log(Double(steps[$0])) }, ys = run.map { log(metric[$0]) }
        let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
        let sxy = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let sxx = xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        return -0.5 * sxy / sxx
    }

    /// Converges: the figure at the largest N is at most 3× the floor, or it fell at least in proportion to N
    /// over the last step with order ≥ 0.5. Conforms: converges at no less than the claimed order − 0.3.
    static func verdict(steps: [Int], metric: [Double], floor: Double, order: Double, expectedOrder: Double?,
                        meanError: Double, covarianceError: Double) -> (converges: Bool, conforms: Bool, text: String) {
        let name = "KL to q_ref"
        let (last, previous) = (metric[metric.count - 1], metric[metric.count - 2])
        let (n, nPrevious) = (steps[steps.count - 1], steps[steps.count - 2])
        let finite = last.isFinite && previous.isFinite
        let atFloor = finite && last <= 3 * floor + 1e-24
        let falling = finite && last <= previous * Double(nPrevious) / Double(n)
        let converges = atFloor || (falling && !(order < 0.5))
        let conforms = converges && (atFloor || expectedOrder == nil || order >= expectedOrder! - 0.3)
        let text: String
        if !finite {
            text = "does not converge: the output collapses or blows up "
                + "(\(name) \(shortNumber(last)) at \(n) steps)"
        } else if atFloor {
            text = "converges: the \(name) reaches the sample-noise floor (\(shortNumber(floor))) by \(n) steps"
                + (order.isNaN ? "" : " (order ≈ \(String(format: "%.2f", order)) above it)")
        } else if converges && !conforms {
            text = "converges at order ≈ \(String(format: "%.2f", order)), below the expected "
                + "\(shortNumber(expectedOrder!)) (\(name) \(shortNumber(last)) at \(n) steps)"
        } else if converges {
            text = "converges at order ≈ \(String(format: "%.2f", order)) (\(name) \(shortNumber(last)) at \(n) steps)"
        } else {
            text = "does not converge: the \(name) \(last > previous ? "grows" : "stalls") "
                + "(\(shortNumber(previous)) at \(nPrevious) steps, \(shortNumber(last)) at \(n)); "
                + "mean error \(shortNumber(meanError)), covariance error \(shortNumber(covarianceError))"
        }
        return (converges, conforms, text)
    }

    /// Three significant digits, as printf's %.3g.
    static func shortNumber(_ x: Double) -> String { String(format: "%.3g", x) }
}
