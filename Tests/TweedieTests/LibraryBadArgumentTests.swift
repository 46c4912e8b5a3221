import Foundation
import Testing
@testable import Tweedie

/// The library's entry points (those a host process such as the Python package calls) given bad
/// arguments: each must throw an error naming the culprit, never trap (a trap would end this
/// test process, failing the run) and never return a non-finite number.
@Suite("Library entry points refuse bad arguments")
struct LibraryBadArgumentTests {
    static let ring8 = BuiltinModels.ring8()

    /// Expects `body` to throw an error whose description mentions every one of `words`.
    func refuses(_ words: String..., sourceLocation: SourceLocation = #_sourceLocation,
                 _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected an error mentioning \(words)", sourceLocation: sourceLocation)
        } catch {
            let text = "\(error)"
            #expect(!text.contains("\n"), "\(text)", sourceLocation: sourceLocation)
            for word in words {
                #expect(text.contains(word), "\(text) does not mention \(word)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("models: mismatched shapes, non-finite numbers, bad weights")
    func models() {
        let means = Matrix([[0, 0], [1, 1]])
        refuses("weights") { _ = try GaussianMixture(weights: [0.5, 0.3, 0.2], means: means, covariances: .dirac) }
        refuses("weights") { _ = try GaussianMixture(weights: [], means: Matrix(rows: 0, columns: 2), covariances: .dirac) }
        refuses("weights") { _ = try GaussianMixture(weights: [1.5, -0.5], means: means, covariances: .dirac) }
        refuses("weights") { _ = try GaussianMixture(weights: [.nan, 1], means: means, covariances: .dirac) }
        refuses("means") { _ = try GaussianMixture(weights: [0.5, 0.5], means: Matrix([[0, .infinity], [1, 1]]), covariances: .dirac) }
        refuses("covariances") {
            _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .full([.identity(2)]))
        }
        refuses("covariances") {
            _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .full([.identity(2), .identity(3)]))
        }
        refuses("covariances") { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .tied(.identity(3))) }
        refuses("covariances") {
            _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .diagonal(Matrix([[1, 1]])))
        }
        refuses("covariances") { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .spherical([1])) }
        refuses("covariances") { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .spherical([1, -1])) }
        refuses("noise_covariance") { _ = try NoiseCovariance(.diagonal([1, 2, 3]), dimension: 2) }
        refuses("noise_covariance") { _ = try NoiseCovariance(.diagonal([1, 0]), dimension: 2) }
        refuses("noise_covariance") { _ = try NoiseCovariance(.full(Matrix([[1, 2], [2, 1]])), dimension: 2) }
        refuses("noise_covariance") { _ = try NoiseCovariance(.full(.identity(3)), dimension: 2) }
        refuses("noise_covariance") { _ = try NoiseCovariance(.kronecker(.identity(3), blockSize: 1), dimension: 2) }
        refuses("noise_covariance") { _ = try NoiseCovariance(.kronecker(.identity(2), blockSize: 0), dimension: 2) }
        refuses("noise_covariance") { _ = try NoiseCovariance(.identity, dimension: -1) }
        refuses("shape") {
            let prior = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .dirac)
            _ = try MixtureModel(prior: prior, shape: [3, 1])
        }
        refuses("noise_covariance") {
            let prior = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .dirac)
            _ = try MixtureModel(prior: prior, noise: .identity(dimension: 3))
        }
    }

    @Test("files: bytes that are not a model or an array")
    func files() {
        for bytes in [Data(), Data([0x93]), Data("{".utf8), Data("PK\u{3}\u{4}".utf8), Data(repeating: 0xFF, count: 100)] {
            refuses { _ = try ModelFile.decode(bytes, as: .json) }
            refuses { _ = try ModelFile.decode(bytes, as: .npz) }
            refuses { _ = try NPY.decode(bytes) }
        }
    }

    @Test("the oracle: wrong dimensions, non-finite points, noise levels out of range")
    func oracle() throws {
        let oracle = try Oracle(Self.ring8)
        let x = Matrix([[1, 2], [3, 4]])
        refuses("x", "coordinates") { _ = try oracle.evaluate(Matrix([[1, 2, 3]]), alpha: 1, sigma: 1) }
        refuses("x", "nan") { _ = try oracle.evaluate(Matrix([[1, .nan]]), alpha: 1, sigma: 1) }
        for (alpha, sigma, culprit) in [(-1.0, 1.0, "alpha"), (.nan, 1, "alpha"), (.infinity, 1, "alpha"),
                                        (1e200, 1, "alpha"), (1, 0, "sigma"), (1, -1, "sigma"), (1, .nan, "sigma"),
                                        (1, 1e-200, "sigma"), (1, 1e200, "sigma")] {
            refuses(culprit) { _ = try oracle.evaluate(x, alpha: alpha, sigma: sigma) }
        }
        refuses("x", "point 1") { _ = try oracle.evaluate(Matrix([[0, 0], [1e300, 0]]), alpha: 1, sigma: 0.5) }
        refuses("t") { _ = try oracle.evaluate(x, at: 1.5, schedule: .vpLinear()) }
        refuses("t") { _ = try oracle.evaluate(x, at: .nan, schedule: .vpLinear()) }
        let empty = try oracle.evaluate(Matrix(rows: 0, columns: 2), alpha: 1, sigma: 1)
        #expect(empty.count == 0)
    }

    @Test("schedules and sampling paths")
    func schedules() {
        for name in ["", "nope", "vp-linear:beta_max", "vp-linear:beta_max=nan", "edm:sigma_min=0",
                     "edm:sigma_max=1e300", "ve:sigma_min=1e-300", "ddpm:steps=0", "ddpm:steps=1e12", "ddpm:steps=2.5",
                     "vp-linear:beta_min=1,beta_min=2", "flow:x=1"] {
            refuses { _ = try Schedule.named(name) }
        }
        let schedule = Schedule.vpLinear()
        refuses("t") { _ = try schedule.coefficients(at: -0.1) }
        refuses("t") { _ = try schedule.coefficients(at: .infinity) }
        for steps in [0, -3, Int.max, Int.min] {
            refuses("steps") { _ = try SamplingPath.make(.karras, schedule: schedule, steps: steps) }
        }
        refuses("grid") { _ = try SamplingPath.make(.trailing, schedule: schedule, steps: 10) }
    }

    @Test("sampling: counts, batches, starting noise and diverging options")
    func sampling() throws {
        let oracle = try Oracle(Self.ring8)
        let path = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 5)
        let noise = NoiseStream(seed: 1)
        refuses("count") { _ = try EulerSampler().run(count: -1, model: oracle, path: path, noise: noise) }
        refuses("count", "memory limit") { _ = try EulerSampler().run(count: Int.max, model: oracle, path: path, noise: noise) }
        refuses("batch-size") { _ = try EulerSampler().run(count: 4, model: oracle, path: path, noise: noise, batchSize: 0) }
        refuses("init") {
            _ = try EulerSampler().run(count: 4, model: oracle, path: path, noise: noise, standardNormals: Matrix(rows: 3, columns: 2))
        }
        let huge = try EulerSampler().run(count: 3, model: oracle, path: path, noise: noise, batchSize: Int.max)
        #expect(huge.samples.rows == 3)
        // Options out of range are refused before sampling; options in range that still make the
        // state explode are reported as a diverging sampler.
        for (sampler, option) in [(HeunSampler(churn: .nan) as any Sampler, "s-churn"), (HeunSampler(churnMinimum: 2, churnMaximum: 1), "s-tmax"),
                                  (DDIMSampler(eta: .infinity), "eta"), (PredictorCorrectorSampler(snr: 0), "snr"),
                                  (DPMSolverPlusPlus2MSDESampler(noiseScale: -1), "s-noise"), (RK45Sampler(relativeTolerance: .nan), "rtol")] {
            refuses(option) { _ = try sampler.run(count: 4, model: oracle, path: path, noise: noise) }
        }
        for sampler in [HeunSampler(churn: 1, noiseScale: 1e300) as any Sampler, PredictorCorrectorSampler(snr: 1e300)] {
            refuses("diverged") { _ = try sampler.run(count: 4, model: oracle, path: path, noise: noise) }
        }
        refuses("count") { _ = try MixtureSampler(Self.ring8.prior).sample(count: -1, seed: 0) }
        refuses("count", "memory limit") { _ = try MixtureSampler(Self.ring8.prior).sample(count: Int.max / 2, seed: 0) }
        refuses("count", "memory limit") { _ = try Self.ring8.sampleMarginal(count: Int.max, alpha: 1, sigma: 1, seed: 0) }
    }

    @Test("evaluation and likelihood")
    func evaluation() throws {
        let oracle = try Oracle(Self.ring8)
        refuses("samples") { _ = try SampleEvaluation.measure(Matrix([[1, 2, 3]]), model: Self.ring8, seed: 0) }
        refuses("samples") { _ = try SampleEvaluation.measure(Matrix([[1, .nan]]), model: Self.ring8, seed: 0) }
        refuses("projections") {
            _ = try SampleEvaluation.measure(Matrix([[1, 2], [3, 4]]), model: Self.ring8, seed: 0,
                                            options: .init(projections: 0))
        }
        refuses("rtol") { _ = try ProbabilityFlowLikelihood(oracle: oracle, schedule: .vpLinear(), relativeTolerance: 0) }
        refuses("t_min") { _ = try ProbabilityFlowLikelihood(oracle: oracle, schedule: .vpLinear(), startTime: .nan) }
        for probes in [1, Int.max, Int.min] {
            refuses("probes") {
                _ = try ProbabilityFlowLikelihood(oracle: oracle, schedule: .vpLinear(),
                                                  divergence: .hutchinson(probes: probes, seed: 0))
            }
        }
        let likelihood = try ProbabilityFlowLikelihood(oracle: oracle, schedule: .vpLinear())
        refuses("x") { _ = try likelihood.logLikelihood(Matrix([[1, 2, 3]])) }
        refuses("x") { _ = try likelihood.logLikelihood(Matrix([[1, .infinity]])) }
    }
}
