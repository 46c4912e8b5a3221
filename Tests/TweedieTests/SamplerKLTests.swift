import Foundation
import Testing
@testable import Tweedie
@testable import TweedieEvaluation

/// The exact output density of deterministic samplers from carried Jacobians, and KL(q_N ‖ p_0)
/// (docs/math.md §12).
@Suite struct SamplerKLTests {
    /// One Gaussian with a correlated forward noise Σ.
    static func gaussian() throws -> MixtureModel {
        let noise = try NoiseCovariance(.full(Matrix([[1.0, 0.4, 0.1], [0.4, 0.8, -0.2], [0.1, -0.2, 0.6]])), dimension: 3)
        return try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[0.5, -1, 2]]),
                                                       covariances: .full([Matrix([[1.0, 0.5, 0.2], [0.5, 1.5, -0.3], [0.2, -0.3, 0.8]])])),
                                noise: noise)
    }

    static func logGaussian(_ x: [Double], mean: [Double], covariance: Matrix) throws -> Double {
        let l = try CholeskyFactor(covariance)
        var u = zip(x, mean).map { $0 - $1 }
        let n = u.count
        l.lower.elements.withUnsafeBufferPointer { lp in
            u.withUnsafeMutableBufferPointer { up in
                BLAS.solveLowerTriangular(.left, .none, n: n, lower: lp.baseAddress!, rows: n, columns: 1, b: up.baseAddress!, ldb: 1)
            }
        }
        return -0.5 * u.reduce(0) { $0 + $1 * $1 } - l.logDeterminant - 0.5 * Double(n) * logTwoPi
    }

    /// On a Gaussian the sampler is affine: its output law is N(c, S) exactly (GaussianOutputLaw,
    /// from probes of the map), so log q_N at every sample must equal log N(x; c, S), and the KL
    /// estimate must equal the closed-form KL(N(c, S) ‖ p_0) within its standard error.
    @Test(arguments: ["euler", "heun", "dpmpp-2m"])
    func gaussianKLMatchesTheClosedForm(_ name: String) throws {
        let model = try Self.gaussian()
        let sampler = try SamplerConfiguration(parsing: name).makeSampler()
        let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: 6)
        let law = try GaussianOutputLaw(model: model, sampler: sampler, path: path)
        let density = try SamplerOutputDensity(model: model, sampler: sampler, path: path, count: 2000, seed: 4)
        // The same samples as a plain run from the same seed.
        let plain = try sampler.run(count: 2000, model: Oracle(model), path: path, noise: NoiseStream(seed: 4)).samples
        #expect(zip(plain.elements, density.samples.elements).map { abs($0 - $1) }.max()! <= 1e-12)
        for i in stride(from: 0, to: 2000, by: 97) {
            let want = try Self.logGaussian(density.samples.row(i), mean: law.mean, covariance: law.covariance)
            #expect(abs(density.logDensity[i] - want) <= 1e-9 * max(1, abs(want)), "\(name) sample \(i)")
        }
        let logP = try PriorDensity(model.prior).logDensity(density.samples)
        let kl = try SamplerKL(logSamplerDensity: density.logDensity, logTargetDensity: logP)
        let closed = try GaussianKL.divergence(mean: law.mean, covariance: law.covariance,
                                               referenceMean: law.targetMean, referenceCovariance: law.targetCovariance)
        #expect(abs(kl.kl - closed) <= 4 * kl.standardError, "\(name): \(kl.kl) ± \(kl.standardError) vs \(closed)")
        #expect(kl.standardError <= 0.2 * closed, "\(name): SE \(kl.standardError) for KL \(closed)")
        #expect(kl.isTrustworthy)
        // The other direction, by importance sampling with the same weights.
        let reverse = try GaussianKL.divergence(mean: law.targetMean, covariance: law.targetCovariance,
                                                referenceMean: law.mean, referenceCovariance: law.covariance)
        let estimate = try #require(kl.reverseKL), se = try #require(kl.reverseStandardError)
        #expect(abs(estimate - reverse) <= 4 * se + 0.02 * reverse, "\(name): reverse \(estimate) ± \(se) vs \(reverse)")
    }

    /// On a 1-D two-mode mixture, q_N from the Jacobians against a histogram of 400 000 samples of
    /// the same sampler: in each well-filled bin, the mean of q_N over the bin's samples equals the
    /// histogram's density within 4 standard errors (plus the bins' second-order width bias).
    @Test func densityMatchesAHistogram() throws {
        let model = try MixtureModel(prior: GaussianMixture(weights: [0.3, 0.7], means: Matrix([[-2], [1.5]]),
                                                            covariances: .full([Matrix([[0.25]]), Matrix([[0.6]])])))
        let sampler = EulerSampler()
        let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: 5)   // coarse: q_N ≠ p_0 visibly
        let n = 400_000
        let density = try SamplerOutputDensity(model: model, sampler: sampler, path: path, count: n, seed: 9, batchSize: 4096)
        let q = density.logDensity.map(exp)
        let width = 0.05
        var counts: [Int: Int] = [:], sums: [Int: Double] = [:]
        for i in 0..<n {
            let bin = Int((density.samples[i, 0] / width).rounded(.down))
            counts[bin, default: 0] += 1
            sums[bin, default: 0] += q[i]
        }
        var checked = 0
        for (bin, c) in counts where c >= 4000 {
            let histogram = Double(c) / (Double(n) * width)
            let se = histogram / Double(c).squareRoot()
            let mean = sums[bin]! / Double(c)
            #expect(abs(mean - histogram) <= 4 * se + 0.01 * histogram, "bin \(bin): q̄ \(mean) vs histogram \(histogram)")
            checked += 1
        }
        #expect(checked >= 20)
        // And q_N is not p_0 here: the comparison above can tell them apart.
        let logP = try PriorDensity(model.prior).logDensity(density.samples)
        let kl = try SamplerKL(logSamplerDensity: density.logDensity, logTargetDensity: logP)
        #expect(kl.kl > 10 * kl.standardError)
    }

    /// KL decreases at twice the sampler's order (KL is quadratic in the error of the map): √KL at
    /// order ≈ 1 for euler and ≈ 2 for heun and dpmpp-2m, from the exact p_{t_0} (discretization
    /// alone), on ring8 with 1000 samples; every estimate is ≥ 0 within 2 SE and resolved (SE < 0.4 KL,
    /// where the plain mean of log q_N − log p_0 has SEs larger than KL itself from 32 steps on).
    @Test(arguments: [("euler", 1.0), ("heun", 2.0), ("dpmpp-2m", 2.0)])
    func klDecreasesAtTheSamplersOrder(_ name: String, _ order: Double) throws {
        let model = BuiltinModels.ring8()
        let sampler = try SamplerConfiguration(parsing: name).makeSampler()
        let density = try PriorDensity(model.prior)
        var points: [(Double, Double)] = []
        for steps in [16, 32, 64] {
            let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: steps)
            let run = try SamplerOutputDensity(model: model, sampler: sampler, path: path, count: 1000, seed: 2, start: .marginal)
            let kl = try SamplerKL(logSamplerDensity: run.logDensity, logTargetDensity: density.logDensity(run.samples))
            #expect(kl.kl >= -2 * kl.standardError)
            #expect(kl.standardError < 0.4 * kl.kl, "\(name) at \(steps): \(kl.kl) ± \(kl.standardError)")
            points.append((log(Double(steps)), 0.5 * log(max(kl.kl, 1e-300))))
        }
        let slope = (points[2].1 - points[0].1) / (points[2].0 - points[0].0)
        #expect(abs(-slope - order) <= 0.4, "\(name): √KL order \(-slope), expected \(order)")
    }

    @Test func estimatorIdentitiesAndRefusals() throws {
        let same = [-1.0, 0.5, 2.0, -3.0]
        let zero = try SamplerKL(logSamplerDensity: same, logTargetDensity: same)
        #expect(zero.kl == 0 && zero.standardError == 0 && zero.plainKL == 0 && zero.effectiveSampleSize == 4)
        #expect(zero.reverseKL == 0)
        for l in [-1e-3, -0.999e-3, 1e-3, 0.999e-3, 1e-9, -5.0, 30.0] { #expect(SamplerKL.reverseTerm(l) >= 0) }
        #expect(abs(SamplerKL.reverseTerm(0.999_999e-3) - SamplerKL.reverseTerm(1.000_001e-3)) < 1e-11)
        // The control-variate terms are ≥ 0 and continuous across the series/direct switch.
        for l in [-1e-3, -0.999e-3, 1e-3, 0.999e-3, 1e-9, -5.0, 30.0] {
            #expect(SamplerKL.controlVariateTerm(l) >= 0)
        }
        #expect(abs(SamplerKL.controlVariateTerm(0.999_999e-3) - SamplerKL.controlVariateTerm(1.000_001e-3)) < 1e-11)
        #expect(throws: ArgumentError.self) { _ = try SamplerKL(logSamplerDensity: [1], logTargetDensity: [1]) }
        #expect(throws: ArgumentError.self) { _ = try SamplerKL(logSamplerDensity: [1, .infinity], logTargetDensity: [1, 1]) }
        let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: 4)
        #expect(throws: ArgumentError.self) {
            _ = try SamplerOutputDensity(model: BuiltinModels.ring8(), sampler: DDPMSampler(), path: path, count: 4, seed: 0)
        }
        #expect(throws: ArgumentError.self) {
            _ = try SamplerOutputDensity(model: BuiltinModels.ring8(), sampler: EulerSampler(), path: path, count: 0, seed: 0)
        }
    }
}

/// The path KL of stochastic samplers (docs/math.md §12.3).
@Suite struct SamplerPathKLTests {
    /// On a single Gaussian with correlated Σ the sampler's law at its last positive level is
    /// Gaussian (affine steps plus Gaussian noise, propagated exactly here from probes of its
    /// transition mean), so KL(p_{t_{N−1}} ‖ q_{N−1}) has a closed form; the path KL bounds it.
    @Test(arguments: ["ddpm", "ddim:eta=1", "euler-maruyama"])
    func pathKLBoundsTheMarginalKL(_ name: String) throws {
        let model = try SamplerKLTests.gaussian()
        let sampler = try #require(try SamplerConfiguration(parsing: name).makeSampler() as? any GaussianStepSampler)
        let oracle = try Oracle(model)
        let d = model.dimension
        for steps in [8, 32] {
            let path = try SamplingPath.make(.uniform, schedule: .vpLinear(), steps: steps)
            let last = path.levels.count - 1   // the grid's last level; x̂_0 follows
            // Propagate N(mean, cov) through x' = A x + c + s R z from N(0, σ_0² Σ).
            var mean = [Double](repeating: 0, count: d)
            var covariance = (path.levels[0].sigma * path.levels[0].sigma) * model.noise.denseMatrix
            for i in 0..<last {
                var probes = Matrix(rows: d + 1, columns: d)
                for j in 0..<d { probes[j + 1, j] = 1 }
                let (m, s) = try sampler.transition(probes, denoised: try oracle.denoise(probes, at: path.levels[i]), interval: i, path: path)
                var a = Matrix(rows: d, columns: d)
                for j in 0..<d { for k in 0..<d { a[k, j] = m[j + 1, k] - m[0, k] } }
                mean = (0..<d).map { k in m[0, k] + (0..<d).reduce(0) { $0 + a[k, $1] * mean[$1] } }
                covariance = (BLAS.product(BLAS.product(a, covariance), .none, a, .transpose) + (s * s) * model.noise.denseMatrix).symmetrized
            }
            let level = path.levels[last]
            let exactMean = model.prior.means.row(0).map { level.alpha * $0 }
            let exactCovariance = ((level.alpha * level.alpha) * model.prior.covariance(of: 0)
                                   + (level.sigma * level.sigma) * model.noise.denseMatrix).symmetrized
            let marginal = try GaussianKL.divergence(mean: exactMean, covariance: exactCovariance,
                                                     referenceMean: mean, referenceCovariance: covariance)
            let pathKL = try SamplerPathKL(model: model, sampler: sampler, path: path, count: 4000, seed: 3)
            #expect(pathKL.intervals.count == last)
            #expect(pathKL.total.mean >= marginal - 3 * pathKL.total.standardError,
                    "\(name) \(steps) steps: path KL \(pathKL.total.mean) ± \(pathKL.total.standardError) < marginal KL \(marginal)")
            for (i, term) in pathKL.intervals.enumerated() {
                #expect(term.mean >= -4 * term.standardError - 1e-12, "\(name) interval \(i): \(term.mean) ± \(term.standardError)")
            }
        }
    }

    /// The path KL falls as the grid is refined, and is resolved.
    @Test func pathKLFallsWithSteps() throws {
        let model = BuiltinModels.ring8()
        var values: [Double] = []
        for steps in [10, 40] {
            let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: steps)
            let kl = try SamplerPathKL(model: model, sampler: DDPMSampler(), path: path, count: 2000, seed: 5)
            #expect(kl.total.standardError < 0.3 * kl.total.mean)
            values.append(kl.total.mean)
        }
        #expect(values[1] < 0.5 * values[0], "\(values)")
    }
}
