import Foundation
import Testing
@testable import Tweedie

/// Guidance methods against the exact posterior (docs/math.md §11.4).
///
/// On a single Gaussian prior x_0 | x_t is Gaussian with covariance C = Cov[x_0 | x_t], so
/// p(y | x_t) = N(y; A x̂_0, A C Aᵀ + Σ_y) exactly and MMPS's guided denoiser *is* E[x_0 | x_t, y]
/// (TMPD's too when d_y = 1); DPS drops A C Aᵀ and is biased towards y at high noise.
@Suite struct GuidanceTests {
    /// One Gaussian N(μ, Λ) with a correlated forward noise Σ, D = 3.
    static func gaussian() throws -> MixtureModel {
        let lambda = Matrix([[1.0, 0.5, 0.2], [0.5, 1.5, -0.3], [0.2, -0.3, 0.8]])
        let noise = try NoiseCovariance(.full(Matrix([[1.0, 0.4, 0.1], [0.4, 0.8, -0.2], [0.1, -0.2, 0.6]])), dimension: 3)
        return try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[0.5, -1, 2]]), covariances: .full([lambda])),
                                noise: noise)
    }

    static func observation(rows: Int) throws -> LinearObservation {
        let a = Matrix(rows: rows, columns: 3, elements: [0.8, -0.5, 1.1, 0.3, 1.2, -0.4].prefix(rows * 3).map { $0 })
        let sigmaY = rows == 1 ? Matrix([[0.09]]) : Matrix([[0.09, 0.03], [0.03, 0.16]])
        return try LinearObservation(operator: a, y: rows == 1 ? [1.7] : [1.7, -0.9],
                                     noise: NoiseCovariance(.full(sigmaY), dimension: rows))
    }

    static func points(_ n: Int, scale: Double) -> Matrix {
        var x = Matrix(rows: n, columns: 3)
        for i in 0..<x.elements.count { x.elements[i] = scale * sin(Double(i) * 2.3 + 0.4) }
        return x
    }

    static let levels = [NoiseLevel(alpha: 1, sigma: 30), NoiseLevel(alpha: 0.95, sigma: 1.2),
                         NoiseLevel(alpha: 0.6, sigma: 0.3), NoiseLevel(alpha: 1, sigma: 1e-3)]

    static func maximumDifference(_ a: Matrix, _ b: Matrix) -> Double {
        zip(a.elements, b.elements).map { abs($0 - $1) }.max()!
    }

    @Test("on a Gaussian prior, MMPS (any d_y) and TMPD (d_y = 1) give E[x_0 | x_t, y] exactly; DPS, ΠGDM and TMPD with d_y = 2 do not")
    func exactOnGaussian() throws {
        let model = try Self.gaussian()
        let oracle = try Oracle(model)
        for rows in [1, 2] {
            let observation = try Self.observation(rows: rows)
            let exact = try Oracle(ExactPosterior(prior: model, observation: observation).model)
            for level in Self.levels {
                let x = Self.points(6, scale: 1 + level.sigma)
                let want = try exact.denoise(x, at: level)
                let scale = want.elements.map(abs).max()!
                for method in [GuidanceMethod.mmps, .tmpd, .pigdm, .dps] {
                    let got = try GuidedDenoiser(oracle, observation: observation, method: method).denoise(x, at: level)
                    let error = Self.maximumDifference(got, want)
                    if method == .mmps || (method == .tmpd && rows == 1) {
                        #expect(error <= 1e-11 * max(1, scale), "\(method) d_y=\(rows) σ=\(level.sigma): \(error)")
                    } else if level.sigma >= 1 {
                        // The approximations differ from the truth where the posterior of x_0 given x_t is wide.
                        #expect(error > 1e-3, "\(method) d_y=\(rows) σ=\(level.sigma) is unexpectedly exact (\(error))")
                    }
                }
            }
        }
    }

    /// Sampling with the guided denoiser, heun on 48 steps, 4000 samples: mean and covariance within
    /// Monte Carlo error of the exact posterior for MMPS and TMPD (d_y = 1); DPS's mean is off by
    /// many standard errors (its likelihood ignores A C Aᵀ and over-weights y early on).
    @Test func samplingReproducesThePosterior() throws {
        let model = try Self.gaussian()
        let oracle = try Oracle(model)
        let observation = try Self.observation(rows: 1)
        let posterior = try ExactPosterior(prior: model, observation: observation).model.prior
        let truthMean = posterior.means.row(0), truthCovariance = posterior.covariance(of: 0)
        let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: 48)
        let n = 4000
        for method in [GuidanceMethod.mmps, .tmpd, .dps, .exact] {
            let guided = try guidedModel(method, base: oracle, prior: model, observation: observation)
            let samples = try HeunSampler().run(count: n, model: guided, path: path, noise: NoiseStream(seed: 7)).samples
            var worstMean = 0.0, worstCovariance = 0.0
            let mean = (0..<3).map { i in (0..<n).reduce(0.0) { $0 + samples[$1, i] } / Double(n) }
            for i in 0..<3 {
                let se = (truthCovariance[i, i] / Double(n)).squareRoot()
                worstMean = max(worstMean, abs(mean[i] - truthMean[i]) / se)
                for j in 0...i {
                    let c = (0..<n).reduce(0.0) { $0 + (samples[$1, i] - mean[i]) * (samples[$1, j] - mean[j]) } / Double(n - 1)
                    // SE of a sample covariance of Gaussian data: √((C_ii C_jj + C_ij²)/n).
                    let se = ((truthCovariance[i, i] * truthCovariance[j, j] + truthCovariance[i, j] * truthCovariance[i, j]) / Double(n)).squareRoot()
                    worstCovariance = max(worstCovariance, abs(c - truthCovariance[i, j]) / se)
                }
            }
            if method == .dps {
                #expect(worstMean > 10 || worstCovariance > 10, "DPS unexpectedly matches: mean \(worstMean) SE, covariance \(worstCovariance) SE")
            } else {
                #expect(worstMean < 4.5 && worstCovariance < 4.5, "\(method): mean off by \(worstMean) SE, covariance by \(worstCovariance) SE")
            }
        }
    }

    /// `exact` guidance on a mixture (ring8 observed through its first coordinate): the samples'
    /// sliced W2 to exact posterior samples is within the noise floor, and the mode weights match p(k | y).
    @Test func exactGuidanceOnAMixture() throws {
        let model = BuiltinModels.ring8()
        let observation = try LinearObservation(operator: Matrix([[1, 0.3]]), y: [1.2], noiseStandardDeviation: 0.5)
        let posterior = try ExactPosterior(prior: model, observation: observation)
        let guided = try guidedModel(.exact, base: try Oracle(model), prior: model, observation: observation)
        let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: 40)
        let samples = try HeunSampler().run(count: 2000, model: guided, path: path, noise: NoiseStream(seed: 3)).samples
        let quality = try SampleQuality(samples: samples, mixture: posterior.model.prior, seed: 11, projections: 64)
        #expect(quality.slicedWasserstein < 2 * quality.slicedWassersteinFloor,
                "sliced W2 \(quality.slicedWasserstein) vs floor \(quality.slicedWassersteinFloor)")
        #expect(quality.modeWeights.totalVariation < 0.05, "TV of mode weights \(quality.modeWeights.totalVariation)")
        // The observation moves the weights well away from the prior's uniform 1/8.
        #expect(posterior.weights.max()! > 0.2)
    }

    /// Any denoiser, through finite differences of its Jacobian: the oracle wrapped as a plain
    /// network gives the same guided denoisers as the oracle's exact covariance products.
    @Test(arguments: [GuidanceMethod.dps, .pigdm, .tmpd, .mmps])
    func finiteDifferencesMatchExactProducts(_ method: GuidanceMethod) throws {
        let model = try Self.gaussian()
        let oracle = try Oracle(model)
        let network = PredictionModel(dimension: 3, noise: model.noise, predicting: .x0) { x, level in try oracle.denoise(x, at: level) }
        let observation = try Self.observation(rows: 2)
        for level in Self.levels where level.sigma > 1e-2 {
            let x = Self.points(5, scale: 1 + level.sigma)
            let exact = try GuidedDenoiser(oracle, observation: observation, method: method).denoise(x, at: level)
            let differenced = try GuidedDenoiser(FiniteDifferenceCovariance(network), observation: observation, method: method)
                .denoise(x, at: level)
            let scale = exact.elements.map(abs).max()!
            #expect(Self.maximumDifference(exact, differenced) <= 1e-6 * max(1, scale), "\(method) σ=\(level.sigma)")
        }
    }

    @Test("bad guidance arguments are refused with the argument named")
    func badArguments() throws {
        let model = try Self.gaussian()
        let oracle = try Oracle(model)
        let observation = try Self.observation(rows: 2)
        #expect(throws: ArgumentError.self) { _ = try GuidedDenoiser(oracle, observation: observation, method: .exact) }
        #expect(throws: ArgumentError.self) { _ = try GuidedDenoiser(oracle, observation: observation, method: .dps, zeta: .nan) }
        #expect(throws: ArgumentError.self) { _ = try GuidedDenoiser(oracle, observation: observation, method: .dps, zeta: 0) }
        let wrong = try LinearObservation(operator: Matrix([[1, 2]]), y: [0], noiseStandardDeviation: 1)
        #expect(throws: ArgumentError.self) { _ = try GuidedDenoiser(oracle, observation: wrong, method: .mmps) }
        let network = PredictionModel(dimension: 3, predicting: .x0) { x, _ in x }
        #expect(throws: ArgumentError.self) {
            _ = try guidedModel(.exact, base: FiniteDifferenceCovariance(network), prior: nil, observation: observation)
        }
        #expect(throws: ArgumentError.self) {
            _ = try FiniteDifferenceCovariance(network).denoise(Self.points(2, scale: 1), at: NoiseLevel(alpha: 0, sigma: 1),
                                                                covarianceTimes: Matrix(rows: 3, columns: 1, repeating: 1))
        }
        #expect(throws: ArgumentError.self) {
            _ = try oracle.denoise(Self.points(2, scale: 1), at: NoiseLevel(alpha: 1, sigma: 1), covarianceTimes: Matrix(rows: 2, columns: 1))
        }
    }
}
