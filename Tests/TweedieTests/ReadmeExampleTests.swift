import Foundation
import Testing
import Tweedie

/// The README's library example, kept compiling and checked for sense.
@Suite struct ReadmeExampleTests {
    @Test func libraryExample() throws {
        let model = BuiltinModels.ring8()
        let oracle = try Oracle(model)
        let x = Matrix([[4, 0], [0, 0]])
        let result = try oracle.evaluate(x, at: 0.3, schedule: .vpCosine())
        #expect(result.denoised.rows == 2 && result.responsibilities.columns == 8)
        let full = try oracle.evaluate(x, alpha: 0.8, sigma: 0.6, including: [.posteriorCovariance, .componentMeans])
        #expect(full.posteriorCovariance?.count == 2 && full.componentMeans?.count == 2)

        let prior = try GaussianMixture(weights: [0.3, 0.7],
                                        means: Matrix([[0, 0], [3, 1]]),
                                        covariances: .full([Matrix([[1, 0.2], [0.2, 0.5]]), .identity(2)]))
        let noise = try NoiseCovariance(.full(Matrix([[1, 0.5], [0.5, 1]])), dimension: 2)
        let custom = try MixtureModel(prior: prior, noise: noise)
        #expect(custom.dimension == 2)
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
}
