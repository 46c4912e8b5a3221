import Foundation
import Testing
@testable import Tweedie

/// Bad models are rejected with an error naming the field or component; good edge cases pass.
@Suite struct ModelValidationTests {
    let means = Matrix([[0, 0], [1, 1]])
    let identity2 = Matrix.identity(2)

    func error(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func weightsMustBeAProbabilityVector() {
        #expect(error { _ = try GaussianMixture(weights: [0.5, 0.4], means: means, covariances: .dirac) }
            .contains("weights: sum to 0.9"))
        #expect(error { _ = try GaussianMixture(weights: [1.5, -0.5], means: means, covariances: .dirac) }
            .contains("weight 1 is negative"))
        #expect(error { _ = try GaussianMixture(weights: [.nan, 1], means: means, covariances: .dirac) }
            .contains("NaN"))
        // Within 1e-9 of one is accepted.
        #expect(error { _ = try GaussianMixture(weights: [0.5, 0.5 + 5e-10], means: means, covariances: .dirac) } == "")
    }

    @Test func covariancesMustBeSymmetricPositiveSemidefinite() {
        let asymmetric = Matrix([[1, 0.5], [0.4, 1]])
        let indefinite = Matrix([[1, 2], [2, 1]])
        let singular = Matrix([[1, 1], [1, 1]])
        #expect(error { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .full([identity2, asymmetric])) }
            .hasPrefix("covariances[1]: is not symmetric"))
        #expect(error { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .full([indefinite, identity2])) }
            .hasPrefix("covariances[0]: is not positive semi-definite"))
        #expect(error { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .full([singular, identity2])) } == "")
        #expect(error { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .diagonal(Matrix([[1, 1], [1, -1]]))) }
            .hasPrefix("covariances[1]: variance 1 is negative"))
        #expect(error { _ = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .spherical([1])) }
            .contains("2 variances"))
    }

    @Test func noiseCovarianceMustBePositiveDefiniteAndFit() {
        #expect(error { _ = try NoiseCovariance(.full(Matrix([[1, 1], [1, 1]])), dimension: 2) }
            .hasPrefix("noise_covariance: is not positive definite"))
        #expect(error { _ = try NoiseCovariance(.diagonal([1, 0]), dimension: 2) }
            .contains("variance 1 is not positive"))
        #expect(error { _ = try NoiseCovariance(.kronecker(.identity(3), blockSize: 3), dimension: 6) }
            .contains("does not fit dimension 6"))
        #expect(error { _ = try NoiseCovariance(.full(.identity(3)), dimension: 2) }.contains("must be 2×2"))
    }

    @Test func modelPartsMustAgree() throws {
        let prior = try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .dirac)
        #expect(error { _ = try MixtureModel(prior: prior, noise: .identity(dimension: 3)) }.hasPrefix("noise_covariance: has dimension 3"))
        #expect(error { _ = try MixtureModel(prior: prior, shape: [3, 1]) }.hasPrefix("shape:"))
    }
}
