import Foundation
import Testing
import Tweedie

/// The library examples of the README and docs/library.md, kept compiling and checked for sense.
@Suite struct ReadmeExampleTests {
    /// The README's "Hello, exact denoiser" in Swift, with the values its comments show.
    @Test func helloExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let oracle = try Oracle(BuiltinModels.ring8())
        let x = try ArrayFile.readMatrix(root.appendingPathComponent("examples/ring8-points.npy"))
        let result = try oracle.evaluate(x, at: 0.3, schedule: .vpCosine())
        let shown = [-4.38315161, -3.67969519, -2.75665758, -2.11308116, -6.09145906, -23.7870074, -181.655049]
        #expect(isClose(result.logDensity, shown, rtol: 1e-8, atol: 1e-8))
        #expect(isClose(result.denoised.row(0), [4.03906104, -9.94177423e-07], rtol: 1e-8, atol: 1e-14))
        #expect(isClose(result.denoised.row(5), [2.03519519, -1.9564157], rtol: 1e-8, atol: 1e-8))
    }

    @Test func libraryExample() throws {
        let model = BuiltinModels.ring8()
        let oracle = try Oracle(model)
        let x = Matrix([[4, 0], [0, 0]])
        let result = try oracle.evaluate(x, at: 0.3, schedule: .vpCosine())
        #expect(result.denoised.rows == 2 && result.responsibilities.columns == 8)
        let level = NoiseLevel(alpha: 0.8, sigma: 0.6)
        let full = try oracle.evaluate(x, at: level, including: [.posteriorCovariance, .componentMeans])
        #expect(full.posteriorCovariance?.count == 2 && full.componentMeans?.count == 2)
        let denoised = try oracle.denoise(x, at: level)
        #expect(denoised.elements == full.denoised.elements)

        let prior = try GaussianMixture(weights: [0.3, 0.7],
                                        means: Matrix([[0, 0], [3, 1]]),
                                        covariances: .full([Matrix([[1, 0.2], [0.2, 0.5]]), .identity(2)]))
        let noise = try NoiseCovariance(.full(Matrix([[1, 0.5], [0.5, 1]])), dimension: 2)
        let custom = try MixtureModel(prior: prior, noise: noise)
        #expect(custom.dimension == 2)
    }

    @Test func inverseProblemExample() throws {
        let path = try SamplingPath.make(.karras, schedule: .named("edm"), steps: 6)
        let observation = try LinearObservation(operator: Matrix([[1, 0.3]]), y: [1.2], noiseStandardDeviation: 0.5)
        let posterior = try ExactPosterior(prior: BuiltinModels.ring8(), observation: observation)
        #expect(abs(posterior.logEvidence - (-2.129)) < 5e-4)
        #expect(abs(posterior.weights.reduce(0, +) - 1) < 1e-12)
        let exact = try Oracle(posterior.model)
        #expect(exact.componentCount == 8)
        let mmps = try GuidedDenoiser(try Oracle(BuiltinModels.ring8()), observation: observation, method: .mmps)
        let guided = try HeunSampler().run(count: 20, model: mmps, path: path, noise: NoiseStream(seed: 1))
        #expect(guided.samples.rows == 20 && guided.samples.allFinite)
    }

    @Test func jsonExampleLoads() throws {
        let json = """
        {"name": "two", "weights": [0.3, 0.7], "means": [[0, 0], [3, 1]],
         "covariance_type": "full", "covariances": [[[1, 0.2], [0.2, 0.5]], [[1, 0], [0, 1]]],
         "noise": {"type": "kronecker", "covariance": [[1]], "block_size": 2}, "shape": [1, 2]}
        """
        let model = try ModelFile.decode(Data(json.utf8), as: .json)
        #expect(model.componentCount == 2 && model.shape == [1, 2])
    }

    @Test func samplingExample() throws {
        let oracle = try Oracle(BuiltinModels.ring8())
        let path = try SamplingPath.make(.karras, schedule: .vpLinear(), steps: 18)
        let noise = NoiseStream(seed: 1)
        let run = try HeunSampler().run(count: 100, model: oracle, path: path, noise: noise)
        #expect(run.modelCallsPerSample == 35)
        let ddim = try SamplerConfiguration(parsing: "ddim:eta=0.5")
        let ddimRun = try ddim.makeSampler().run(count: 100, model: oracle,
                                                 path: ddim.path(schedule: .vpLinear(), steps: 18), noise: noise)
        #expect(ddimRun.samples.rows == 100 && ddim.description == "ddim:eta=0.5")
        let network = PredictionModel(dimension: 2, predicting: .epsilon) { x, level in
            try oracle.evaluate(x, alpha: level.alpha, sigma: level.sigma).standardizedNoise
        }
        let fromNetwork = try DPMSolverPlusPlus2MSampler().run(count: 100, model: network, path: path, noise: noise)
        let measurements = try SampleEvaluation.measure(run.samples, model: BuiltinModels.ring8(), seed: 1)
        #expect(measurements.contains { $0.name == "tv_mode_weights" })
        let samples = run.samples, fromNetworkSamples = fromNetwork.samples
        #expect(samples.rows == 100 && fromNetworkSamples.rows == 100)
    }

    @Test func noisingAndClosedFormsExample() throws {
        let chain = BuiltinModels.chain16()
        let drawn = try chain.sampleMarginal(count: 20, t: 0.4, schedule: .vpLinear(), seed: 7)
        let kernel = try ForwardKernel(t: 0.4, schedule: .vpLinear(), noise: chain.noise)
        let xt = try kernel.sample(from: drawn.cleanPoints, seed: 8)
        let step = try DDPMPosterior(step: 10, schedule: .linear())
        let bridge = try DDPMPosterior(from: 0.6, to: 0.3, schedule: .vpCosine())
        #expect(step.variance > 0 && bridge.variance > 0)
        let chainOracle = try Oracle(chain)
        let laws = try chainOracle.reverseTransitionLaw(from: xt, at: NoiseLevel(alpha: kernel.alpha, sigma: kernel.sigma),
                                                        to: NoiseLevel(alpha: 0.9, sigma: 0.436))
        #expect(laws.count == 20)
        let sde = DiffusionSDE(schedule: .vpLinear(), noise: chain.noise)
        let velocity = try sde.probabilityFlowVelocity(xt, at: 0.4, score: chainOracle.evaluate(xt, at: 0.4, schedule: .vpLinear()).score)
        #expect(velocity.rows == 20)
        let discrete = try DiscreteSchedule(discretizing: .vpLinear(), steps: 20)
        let bound = DDPMVariationalBound(schedule: discrete, noise: chain.noise)
        let terms = try bound.terms(of: Matrix(rows: 2, columns: 48, elements: Array(drawn.cleanPoints.elements.prefix(96))), denoiser: { x, i in
            try chainOracle.evaluate(x, alpha: discrete.alpha(step: i), sigma: discrete.sigma(step: i)).denoised
        }, drawsPerStep: 2, seed: 1)
        #expect(terms.negativeELBO.count == 2)
    }
}
