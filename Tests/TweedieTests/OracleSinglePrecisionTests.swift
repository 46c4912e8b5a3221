import Foundation
import Testing
@testable import Tweedie

/// `Precision.float32` for data-set models (docs/math.md §2.7): its denoiser against the Float64
/// oracle at every noise level, its small-σ limit, its dependence on the batch, and its refusals.
@Suite struct OracleSinglePrecisionTests {
    /// K points in D dimensions around an offset of 5 (which centring must remove), spread ≈ 1.
    static func dataSet(k: Int = 3000, d: Int = 48, correlatedNoise: Bool) throws -> MixtureModel {
        var means = Matrix(rows: k, columns: d)
        for r in 0..<k { for i in 0..<d { means[r, i] = 5 + sin(Double(r * 31 + i * 7) * 0.37) + 0.3 * cos(Double(r) * 0.11 + Double(i)) } }
        let weights = (0..<k).map { 1 + Double($0 % 5) }
        let total = weights.reduce(0, +)
        let prior = try GaussianMixture(weights: weights.map { $0 / total }, means: means, covariances: .dirac)
        guard correlatedNoise else { return try MixtureModel(prior: prior) }
        return try MixtureModel(prior: prior, noise: NoiseCovariance(.full(OracleFastPathTests.spd(d, seed: 3)), dimension: d))
    }

    /// Points near the data (α μ_j + σ z) and far from it.
    static func points(_ model: MixtureModel, alpha: Double, sigma: Double, count: Int) -> Matrix {
        let d = model.dimension
        var x = Matrix(rows: count, columns: d)
        for r in 0..<count {
            let j = (r * 97) % model.componentCount
            for i in 0..<d {
                let z = sin(Double(r * d + i) * 1.7) * 1.2
                x[r, i] = alpha * model.prior.means[j, i] + sigma * z + (r % 4 == 3 ? 3 : 0)
            }
        }
        return x
    }

    @Test(arguments: [false, true])
    func denoiserMatchesFloat64(correlatedNoise: Bool) throws {
        let model = try Self.dataSet(correlatedNoise: correlatedNoise)
        let exact = try Oracle(model), single = try Oracle(model, precision: .float32)
        // The spread of the data around its mean: the scale of the stated error.
        var spread = 0.0
        for r in 0..<model.componentCount {
            for i in 0..<model.dimension { spread = max(spread, abs(model.prior.means[r, i] - 5)) }
        }
        var worst = 0.0
        for sigma in [1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 100] {
            let alpha = 1 / (1 + sigma * sigma).squareRoot()
            let x = Self.points(model, alpha: alpha, sigma: sigma, count: 64)
            let level = NoiseLevel(alpha: alpha, sigma: sigma)
            let a = try single.denoise(x, at: level), b = try exact.denoise(x, at: level)
            let error = zip(a.elements, b.elements).map { abs($0 - $1) }.max()! / spread
            worst = max(worst, error)
            #expect(error < 2e-5, "σ = \(sigma): Float32 denoiser off by \(error) of the data's spread")
        }
        #expect(worst > 0, "the Float32 path was not taken")
    }

    @Test func smallNoiseFindsTheNearestPointExactly() throws {
        let model = try Self.dataSet(correlatedNoise: false)
        let single = try Oracle(model, precision: .float32)
        let sigma = 1e-5, alpha = 1.0
        let x = Self.points(model, alpha: alpha, sigma: sigma, count: 32)
        let denoised = try single.denoise(x, at: NoiseLevel(alpha: alpha, sigma: sigma))
        for r in 0..<x.rows where r % 4 != 3 {
            let j = (r * 97) % model.componentCount
            for i in 0..<model.dimension {
                // The winner's weight is 1, the rest underflow: μ̄ + Float32(μ_j − μ̄), to within its rounding.
                #expect(abs(denoised[r, i] - model.prior.means[j, i]) <= 4e-7 * 2, "row \(r)")
            }
        }
    }

    /// Single-precision GEMM kernels round a row differently depending on its place in the call
    /// (OpenBLAS's Haswell SGEMM: the row's position modulo 12), so unlike Float64 mode the result
    /// depends on the batch at the level of Float32 rounding; a repeated call is bitwise the same.
    @Test func batchesAgreeToFloat32RoundingAndEvaluateIsUnchanged() throws {
        let model = try Self.dataSet(k: 1500, d: 20, correlatedNoise: true)
        let exact = try Oracle(model), single = try Oracle(model, precision: .float32)
        let level = NoiseLevel(alpha: 0.8, sigma: 0.6)
        let x = Self.points(model, alpha: 0.8, sigma: 0.6, count: 300)
        let all = try single.denoise(x, at: level)
        #expect(try single.denoise(x, at: level) == all)
        for r in [0, 7, 256, 299] {
            let alone = try single.denoise(Matrix(rows: 1, columns: x.columns, elements: x.row(r)), at: level)
            let difference = zip(alone.elements, all.row(r)).map { abs($0 - $1) }.max()!
            #expect(difference < 1e-5, "row \(r): \(difference)")
        }
        #expect(try single.evaluate(x, at: level).denoised == exact.evaluate(x, at: level).denoised)
    }

    @Test func gaussianModelsAreRefused() throws {
        let model = BuiltinModels.ring8()
        #expect(throws: ModelError.self) { _ = try Oracle(model, precision: .float32) }
        do { _ = try Oracle(model, precision: .float32) } catch {
            #expect(error.field == "precision")
        }
    }
}
