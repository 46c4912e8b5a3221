import Foundation
import Testing
@testable import Tweedie

/// The harmonic (matrix-valued) process of docs/math.md §13.4 against EigenFold's chain computed with
/// scipy's matrix exponential and a pseudo-inverse (scripts/make_molecule_fixtures.py): its forward
/// moments, and the marginal log-density and score of a data set of chains; the score against finite
/// differences along the subspace; Tweedie's identity for this process; and bad input.
@Suite struct HarmonicProcessTests {
    static var fixture: [String: Any] { ZeroCentreOfMassTests.fixture["harmonic"] as? [String: Any] ?? [:] }
    static func numbers(_ any: Any?) -> [Double] { OracleFixtureTests.numbers(any) }

    static func setUp() throws -> (HarmonicProcess, HarmonicOracle) {
        let n = fixture["atoms"] as! Int
        let process = try HarmonicProcess.chain(atoms: n, strength: numbers(fixture["strength"])[0])
        let chains = Matrix(rows: 3, columns: 3 * n, elements: numbers(fixture["chains"]))
        let prior = try GaussianMixture(weights: [1.0 / 3, 1.0 / 3, 1.0 / 3], means: chains, covariances: .dirac)
        return (process, try HarmonicOracle(prior: prior, process: process))
    }

    @Test func forwardMomentsAgreeWithTheMatrixExponential() throws {
        let (process, _) = try Self.setUp()
        let n = process.atoms, d = 3 * n
        let chains = Self.numbers(Self.fixture["chains"])
        let x0 = Matrix(rows: 1, columns: d, elements: Array(chains[0..<d]))
        for c in try #require(Self.fixture["cases"] as? [[String: Any]]) {
            let t = Self.numbers(c["t"])[0]
            let (a, s2) = process.coefficients(at: t)
            var m = process.modes(x0)
            for j in 0..<m.columns { m[0, j] *= a[j] }
            let mean = process.points(m), expected = Self.numbers(c["mean"])
            for i in 0..<d { #expect(abs(mean[0, i] - expected[i]) < 1e-12 * 10) }
            let covariance = process.points(process.points(.diagonal(s2)).transposed)
            let expectedCovariance = Self.numbers(c["covariance"])
            for i in 0..<(d * d) { #expect(abs(covariance.elements[i] - expectedCovariance[i]) < 1e-12) }
        }
    }

    @Test func marginalOfADataSetOfChains() throws {
        let (process, oracle) = try Self.setUp()
        let d = 3 * process.atoms
        for c in try #require(Self.fixture["cases"] as? [[String: Any]]) {
            let t = Self.numbers(c["t"])[0]
            let points = Matrix(rows: 4, columns: d, elements: Self.numbers(c["points"]))
            let r = try oracle.evaluate(points, at: t)
            let logs = Self.numbers(c["log_density"]), scores = Self.numbers(c["score"])
            for b in 0..<4 {
                #expect(abs(r.logDensity[b] - logs[b]) <= 1e-10 * max(1, abs(logs[b])), "t \(t) point \(b)")
                let norm = (0..<d).reduce(0) { $0 + scores[b * d + $1] * scores[b * d + $1] }.squareRoot()
                for i in 0..<d { #expect(abs(r.score[b, i] - scores[b * d + i]) <= 1e-9 * max(1, norm)) }
            }
        }
    }

    @Test func scoreIsTheGradientAndTweediesIdentityHolds() throws {
        let (process, oracle) = try Self.setUp()
        let d = 3 * process.atoms, t = 0.8
        var random = TestRandom(seed: 21)
        let x = process.points(random.matrix(1, process.dimension, scale: 3))
        let r = try oracle.evaluate(x, at: t)
        for seed in 0..<3 as Range<UInt64> {
            var g = TestRandom(seed: 50 + seed)
            let v = process.points(g.matrix(1, process.dimension))
            let h = 1e-5
            func logP(_ e: Double) throws -> Double {
                var p = x
                for i in 0..<d { p.elements[i] += e * v.elements[i] }
                return try oracle.evaluate(p, at: t).logDensity[0]
            }
            let difference = (try logP(h) - logP(-h)) / (2 * h)
            let directional = (0..<d).reduce(0) { $0 + r.score.elements[$1] * v.elements[$1] }
            #expect(abs(difference - directional) < 1e-6 * max(1, abs(directional)), "\(difference) vs \(directional)")
        }
        // ∇ log p_t = S_t⁻¹ (A_t E[x_0 | x_t] − x_t), mode by mode.
        let (a, s2) = process.coefficients(at: t)
        let xm = process.modes(x), dm = process.modes(r.denoised), sm = process.modes(r.score)
        for j in 0..<process.dimension {
            let expected = (a[j] * dm[0, j] - xm[0, j]) / s2[j]
            #expect(abs(sm[0, j] - expected) < 1e-10 * max(1, abs(expected)))
        }
    }

    @Test func badInputSaysWhy() throws {
        var notLaplacian = Matrix.identity(3)
        notLaplacian[0, 1] = 0.5
        notLaplacian[1, 0] = 0.5
        #expect(throws: ArgumentError.self) { try HarmonicProcess(atomMatrix: notLaplacian) }
        let disconnected = Matrix(rows: 4, columns: 4, elements: [1, -1, 0, 0, -1, 1, 0, 0, 0, 0, 1, -1, 0, 0, -1, 1])
        do {
            _ = try HarmonicProcess(atomMatrix: disconnected)
            Issue.record("a disconnected graph was accepted")
        } catch { #expect(error.reason.contains("not all connected")) }
        let (_, oracle) = try Self.setUp()
        let x = Matrix(rows: 1, columns: 21)
        #expect(throws: ArgumentError.self) { try oracle.evaluate(x, at: 0) }
        do {
            _ = try oracle.evaluate(x, at: 1e6)
            Issue.record("t = 1e6 was accepted")
        } catch { #expect(error.argument == "t" && error.reason.contains("harmonic prior")) }
        #expect(throws: ArgumentError.self) { try oracle.evaluate(Matrix(rows: 1, columns: 20), at: 1) }
    }
}

/// The probability-flow ODE of the harmonic process (docs/math.md §13.5).
@Suite struct HarmonicFlowTests {
    /// A Gaussian prior N(μ, v I) on V: p_t is Gaussian mode by mode, N(a μ̃, a² v + s²), so both
    /// the likelihood and the samples' law have closed forms.
    static func gaussianOracle() throws -> HarmonicOracle {
        let process = try HarmonicProcess.chain(atoms: 5, strength: 0.6)
        var random = TestRandom(seed: 3)
        let mean = random.matrix(1, 15, scale: 2)
        let prior = try GaussianMixture(weights: [1], means: mean, covariances: .spherical([0.3]))
        return try HarmonicOracle(prior: prior, process: process)
    }

    @Test func likelihoodEqualsTheExactDensity() throws {
        let oracle = try Self.gaussianOracle()
        let flow = HarmonicFlow(oracle: oracle, relativeTolerance: 1e-9, absoluteTolerance: 1e-9)
        var random = TestRandom(seed: 4)
        let x = oracle.process.points(random.matrix(3, 12, scale: 1.5))
        let (values, _) = try flow.logLikelihood(x, from: 0.05, to: 4)
        let exact = try oracle.evaluate(x, at: 0.05).logDensity
        // Independently, the closed form mode by mode.
        let (a, s2) = oracle.process.coefficients(at: 0.05)
        let xm = oracle.process.modes(x), mu = oracle.modePrior.means
        for b in 0..<3 {
            var closed = 0.0
            for j in 0..<12 {
                let v = a[j] * a[j] * 0.3 + s2[j], e = xm[b, j] - a[j] * mu[0, j]
                closed += -0.5 * e * e / v - 0.5 * Foundation.log(2 * Double.pi * v)
            }
            #expect(abs(exact[b] - closed) < 1e-10 * abs(closed))
            #expect(abs(values[b] - closed) < 1e-6 * abs(closed), "\(values[b]) vs \(closed)")
        }
    }

    @Test func samplesHaveTheExactLaw() throws {
        let oracle = try Self.gaussianOracle()
        let flow = HarmonicFlow(oracle: oracle, relativeTolerance: 1e-8, absoluteTolerance: 1e-8)
        let count = 2000
        let samples = try flow.sample(count: count, seed: 11, from: 6, to: 1e-3)
        // Centred, and E[x_0 | x_{t_min}] of N(μ, 0.3 I): mean μ̃, variance 0.3² / (0.3 + s²/a²) per mode.
        for b in 0..<4 { for c in 0..<3 { #expect(abs((0..<5).reduce(0.0) { $0 + samples[b, 3 * $1 + c] }) < 1e-12) } }
        let m = oracle.process.modes(samples), mu = oracle.modePrior.means
        let (a, s2) = oracle.process.coefficients(at: 1e-3)
        for j in 0..<12 {
            let column = (0..<count).map { m[$0, j] }
            let mean = column.reduce(0, +) / Double(count)
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)
            let expected = 0.3 * 0.3 / (0.3 + s2[j] / (a[j] * a[j]))
            // 5 standard errors of a mean and of a variance from 2000 draws.
            #expect(abs(mean - mu[0, j]) < 5 * (expected / Double(count)).squareRoot(), "mode \(j) mean")
            #expect(abs(variance - expected) < 5 * expected * (2 / Double(count)).squareRoot(), "mode \(j) variance")
        }
    }

    @Test func reverseSDEConvergesToTheExactLaw() throws {
        // Euler–Maruyama's bias shrinks with the step: the variance error at 400 steps is below a
        // third of that at 25, and within the sample noise of the exact variance per mode.
        let oracle = try Self.gaussianOracle()
        let flow = HarmonicFlow(oracle: oracle)
        let (a, s2) = oracle.process.coefficients(at: 1e-3)
        func varianceError(steps: Int) throws -> Double {
            let m = oracle.process.modes(try flow.sampleSDE(count: 2000, seed: 5, from: 6, to: 1e-3, steps: steps))
            var worst = 0.0
            for j in 0..<12 {
                let column = (0..<2000).map { m[$0, j] }
                let mean = column.reduce(0, +) / 2000
                let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 1999
                let expected = 0.3 * 0.3 / (0.3 + s2[j] / (a[j] * a[j]))
                worst = max(worst, abs(variance - expected) / expected)
            }
            return worst
        }
        let coarse = try varianceError(steps: 25), fine = try varianceError(steps: 400)
        // Measured: 0.57 at 25 steps, 0.07 at 400 (the sample noise of a variance from 2000 draws,
        // largest of 12 modes, is about 0.08).
        #expect(fine < 0.12, "\(fine)")
        #expect(fine < coarse / 3, "coarse \(coarse), fine \(fine)")
    }
}
