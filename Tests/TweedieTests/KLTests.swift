import Foundation
import Testing
@testable import Tweedie

/// Gaussian KL divergences (docs/math.md §4) against numerical integration of ∫ p log(p/q), and the
/// Σ-shaped closed form against the dense one.
@Suite struct KLTests {
    /// ∫ p log(p/q) on a uniform grid (trapezoid; Gaussian integrands make it spectrally
    /// accurate), p = N(m1, s1), q = N(m2, s2) in 1-D.
    static func integratedKL1D(_ m1: Double, _ s1: Double, _ m2: Double, _ s2: Double) -> Double {
        let sd = s1.squareRoot(), n = 20001, half = 16 * sd, h = 2 * half / Double(n - 1)
        var total = 0.0
        for k in 0..<n {
            let x = m1 - half + Double(k) * h
            let logP = -0.5 * (x - m1) * (x - m1) / s1 - 0.5 * log(2 * .pi * s1)
            let logQ = -0.5 * (x - m2) * (x - m2) / s2 - 0.5 * log(2 * .pi * s2)
            total += exp(logP) * (logP - logQ)
        }
        return total * h
    }

    static let cases1D: [(a: Double, u2: Double, b: Double, v2: Double, c: Double)] = [
        (0, 1, 0, 1, 1), (0.3, 1, -0.4, 1, 0.5), (1.0, 0.2, 0.0, 1.7, 2.0), (-2.0, 3.0, 1.0, 0.4, 0.8),
        (0.5, 1e-3, 0.5001, 1.2e-3, 1.3),
    ]

    /// KL(N(a, u²c) ‖ N(b, v²c)) in 1-D: the Σ-shaped form, the dense form, and the integral
    /// agree to 1e-10 (absolute, plus 1e-9 relative).
    @Test(arguments: cases1D)
    func oneDimensionalAgainstIntegral(_ p: (a: Double, u2: Double, b: Double, v2: Double, c: Double)) throws {
        let noise = try NoiseCovariance(.diagonal([p.c]), dimension: 1)
        let shaped = try GaussianKL.divergence(means: Matrix([[p.a]]), variance: p.u2, referenceMeans: Matrix([[p.b]]),
                                               referenceVariance: p.v2, noise: noise)[0]
        let dense = try GaussianKL.divergence(mean: [p.a], covariance: Matrix([[p.u2 * p.c]]),
                                              referenceMean: [p.b], referenceCovariance: Matrix([[p.v2 * p.c]]))
        let integral = Self.integratedKL1D(p.a, p.u2 * p.c, p.b, p.v2 * p.c)
        #expect(abs(shaped - integral) <= 1e-10 + 1e-9 * integral, "shaped \(shaped) vs integral \(integral)")
        #expect(abs(dense - integral) <= 1e-10 + 1e-9 * integral, "dense \(dense) vs integral \(integral)")
    }

    /// The dense form with non-proportional full covariances against a 2-D grid integral
    /// (601², ±12 standard deviations of p along each eigen-direction's bounding box).
    /// Tolerance 1e-8.
    @Test func denseTwoDimensionalAgainstIntegral() throws {
        let m1 = [0.3, -0.2], s1 = Matrix([[0.8, 0.3], [0.3, 0.5]])
        let m2 = [-0.1, 0.4], s2 = Matrix([[1.2, -0.4], [-0.4, 0.9]])
        let n = 601
        let half = [12 * s1[0, 0].squareRoot(), 12 * s1[1, 1].squareRoot()]
        let h = half.map { 2 * $0 / Double(n - 1) }
        let p = try ClosedFormSupport.DenseGaussian(mean: m1, covariance: s1)
        let q = try ClosedFormSupport.DenseGaussian(mean: m2, covariance: s2)
        var total = 0.0
        for a in 0..<n {
            for b in 0..<n {
                let x = [m1[0] - half[0] + Double(a) * h[0], m1[1] - half[1] + Double(b) * h[1]]
                let logP = p.logDensity(x), logQ = q.logDensity(x)
                total += exp(logP) * (logP - logQ)
            }
        }
        let integral = total * h[0] * h[1]
        let dense = try GaussianKL.divergence(mean: m1, covariance: s1, referenceMean: m2, referenceCovariance: s2)
        #expect(abs(dense - integral) < 1e-8, "dense \(dense) vs integral \(integral)")
    }

    /// The Σ-shaped form equals the dense form with covariances u²Σ and v²Σ for a random full
    /// Σ in D = 5, and for Kronecker Σ; tolerance 1e-11 relative.
    @Test(arguments: ["full", "kronecker", "diagonal"])
    func shapedMatchesDense(structure: String) throws {
        var rng = TestRandom(seed: 11)
        let d = 6
        let noise: NoiseCovariance
        switch structure {
        case "full": noise = try NoiseCovariance(.full(rng.spd(d)), dimension: d)
        case "kronecker": noise = try NoiseCovariance(.kronecker(rng.spd(3), blockSize: 2), dimension: d)
        default: noise = try NoiseCovariance(.diagonal((0..<d).map { _ in 0.2 + rng.uniform() }), dimension: d)
        }
        let a = rng.matrix(4, d), b = rng.matrix(4, d)
        for (u2, v2) in [(0.3, 0.3), (0.05, 0.7), (2.0, 0.5)] {
            let shaped = try GaussianKL.divergence(means: a, variance: u2, referenceMeans: b, referenceVariance: v2, noise: noise)
            for r in 0..<4 {
                let dense = try GaussianKL.divergence(
                    mean: a.row(r), covariance: ClosedFormSupport.scaled(noise.denseMatrix, u2),
                    referenceMean: b.row(r), referenceCovariance: ClosedFormSupport.scaled(noise.denseMatrix, v2))
                #expect(abs(shaped[r] - dense) <= 1e-11 * (1 + dense), "\(structure) u²=\(u2) v²=\(v2): \(shaped[r]) vs \(dense)")
            }
        }
    }

    /// KL(P ‖ P) = 0; KL ≥ 0; a point mass against a density is +∞; shape and definiteness
    /// errors throw.
    @Test func propertiesAndErrors() throws {
        let noise = try ClosedFormSupport.correlatedNoise()
        let a = Matrix([[0.4, -1.0]])
        #expect(try GaussianKL.divergence(means: a, variance: 0.3, referenceMeans: a, referenceVariance: 0.3, noise: noise)[0] == 0)
        #expect(try GaussianKL.divergence(means: a, variance: 0, referenceMeans: a, referenceVariance: 0.3, noise: noise)[0] == .infinity)
        let s = noise.denseMatrix
        #expect(abs(try GaussianKL.divergence(mean: [1, 2], covariance: s, referenceMean: [1, 2], referenceCovariance: s)) < 1e-15)
        #expect(throws: ArgumentError.self) {
            try GaussianKL.divergence(means: a, variance: 0.3, referenceMeans: Matrix([[1.0]]), referenceVariance: 0.3,
                                      noise: .identity(dimension: 1))
        }
        #expect(throws: ArgumentError.self) {
            try GaussianKL.divergence(means: a, variance: 0.3, referenceMeans: a, referenceVariance: 0, noise: noise)
        }
        #expect(throws: LinearAlgebraError.self) {
            try GaussianKL.divergence(mean: [0, 0], covariance: Matrix([[1, 0], [0, 0]]), referenceMean: [0, 0],
                                      referenceCovariance: s)
        }
    }
}
