import Foundation
import Testing
@testable import Tweedie
@testable import TweedieIO

/// The exact posterior p(x_0 | y) against the information form computed by numpy/scipy
/// (scripts/make_posterior_fixtures.py), and the oracle's covariance products against the dense
/// posterior covariances it also computes.
@Suite struct InversePosteriorTests {
    typealias Case = OracleFixtureTests.Case

    static let cases = OracleEdgeNumericsTests.fixtureCases("posterior_reference.json")

    static func numbers(_ any: Any?) -> [Double] { OracleEdgeNumericsTests.numbers(any) }

    static func observation(_ c: [String: Any], dimension d: Int) throws -> LinearObservation {
        let y = numbers(c["y"])
        let a = Matrix(rows: y.count, columns: d, elements: numbers(c["operator"]))
        let noise = c["observation_noise"] as! [String: Any]
        switch noise["type"] as! String {
        case "spherical":
            return try LinearObservation(operator: a, y: y, noiseStandardDeviation: numbers(noise["std"])[0])
        case "diagonal":
            return try LinearObservation(operator: a, y: y, noise: NoiseCovariance(.diagonal(numbers(noise["covariance"])), dimension: y.count))
        default:
            let m = Matrix(rows: y.count, columns: y.count, elements: numbers(noise["covariance"]))
            return try LinearObservation(operator: a, y: y, noise: NoiseCovariance(.full(m), dimension: y.count))
        }
    }

    @Test func fixtureIsPresent() { #expect(Self.cases.count == 6) }

    @Test(arguments: cases)
    func matchesInformationForm(_ fixture: Case) throws {
        let c = fixture.json
        let model = try OracleFixtureTests.model(c)
        let d = model.dimension, k = model.componentCount
        let posterior = try ExactPosterior(prior: model, observation: Self.observation(c, dimension: d))
        let expected = c["expected"] as! [String: Any]
        func close(_ got: Double, _ want: Double, _ tolerance: Double, _ what: String) {
            #expect(abs(got - want) <= tolerance * max(1, abs(want)), "\(fixture) \(what): \(got) vs \(want)")
        }
        #expect(posterior.weights.count == k && posterior.componentLogEvidence.count == k)
        #expect(Self.numbers(expected["means"]).count == k * d && Self.numbers(expected["covariances"]).count == k * d * d)
        close(posterior.logEvidence, Self.numbers(expected["log_evidence"])[0], 1e-10, "log p(y)")
        for (got, want) in zip(posterior.componentLogEvidence, Self.numbers(expected["component_log_evidence"])) {
            close(got, want, 1e-10, "component evidence")
        }
        for (got, want) in zip(posterior.weights, Self.numbers(expected["weights"])) { close(got, want, 1e-10, "weight") }
        for (got, want) in zip(posterior.model.prior.means.elements, Self.numbers(expected["means"])) {
            close(got, want, 1e-10, "mean")
        }
        let covariances = Self.numbers(expected["covariances"])
        for j in 0..<k {
            let got = posterior.model.prior.covariance(of: j).elements
            for (g, w) in zip(got, covariances[(j * d * d)..<((j + 1) * d * d)]) { close(g, w, 1e-10, "covariance \(j)") }
        }
        // The posterior keeps the prior's forward noise and structure where it can.
        #expect(posterior.model.noise == model.noise)
        switch model.prior.covarianceType {
        case .dirac: #expect(posterior.model.prior.covarianceType == .dirac)
        case .tied: #expect(posterior.model.prior.covarianceType == .tied)
        default: #expect(posterior.model.prior.covarianceType == .full)
        }
    }

    @Test("the posterior of an observation that no component explains is refused, not NaN")
    func implausibleObservation() throws {
        let model = BuiltinModels.ring8()
        let a = Matrix([[1, 0]])
        let observation = try LinearObservation(operator: a, y: [1e160], noiseStandardDeviation: 1e-3)
        #expect(throws: ModelError.self) { _ = try ExactPosterior(prior: model, observation: observation) }
        #expect(throws: ModelError.self) { _ = try LinearObservation(operator: a, y: [.nan], noiseStandardDeviation: 1) }
        #expect(throws: ModelError.self) { _ = try LinearObservation(operator: a, y: [1, 2], noiseStandardDeviation: 1) }
        #expect(throws: ModelError.self) { _ = try LinearObservation(operator: a, y: [1], noiseStandardDeviation: 0) }
        let wide = try LinearObservation(operator: Matrix([[1, 0, 0]]), y: [1], noiseStandardDeviation: 1)
        #expect(throws: ModelError.self) { _ = try ExactPosterior(prior: model, observation: wide) }
    }

    /// Cov[x_0 | x_t] V by the per-component route against the dense Cov[x_0 | x_t] (a separate
    /// route through the oracle's posterior covariance extras) times V.
    @Test(arguments: ["full", "tied", "diag", "spherical", "dirac"])
    func covarianceProductsMatchDenseCovariance(_ type: String) throws {
        let d = 3, k = 3
        // A correlated forward noise for every type.
        let noise = try NoiseCovariance(.full(Matrix([[1.0, 0.4, 0.1], [0.4, 0.8, -0.2], [0.1, -0.2, 0.6]])), dimension: d)
        let means = Matrix(rows: k, columns: d, elements: (0..<(k * d)).map { sin(Double($0)) * 2 })
        let covariances: ComponentCovariances
        switch type {
        case "full": covariances = .full((0..<k).map { c in Matrix([[1 + Double(c), 0.3, 0], [0.3, 0.5, 0.1], [0, 0.1, 0.7]]) })
        case "tied": covariances = .tied(Matrix([[1, 0.3, 0], [0.3, 0.5, 0.1], [0, 0.1, 0.7]]))
        case "diag": covariances = .diagonal(Matrix(rows: k, columns: d, elements: (0..<(k * d)).map { 0.2 + 0.1 * Double($0 % 5) }))
        case "spherical": covariances = .spherical((0..<k).map { 0.3 + 0.2 * Double($0) })
        default: covariances = .dirac
        }
        let model = try MixtureModel(prior: GaussianMixture(weights: [0.5, 0.3, 0.2], means: means, covariances: covariances), noise: noise)
        let oracle = try Oracle(model)
        var x = Matrix(rows: 5, columns: d)
        for i in 0..<x.elements.count { x.elements[i] = cos(Double(i) * 1.7) * 2 }
        let v = Matrix([[1, 0.5], [-0.3, 2], [0.2, 0.1]])
        for level in [NoiseLevel(alpha: 0.9, sigma: 0.4), NoiseLevel(alpha: 1, sigma: 3), NoiseLevel(alpha: 0.2, sigma: 0.05)] {
            let (denoised, products) = try oracle.denoise(x, at: level, covarianceTimes: v)
            let dense = try oracle.evaluate(x, at: level, including: .posteriorCovariance)
            #expect(denoised == dense.denoised)
            for b in 0..<x.rows {
                let want = BLAS.product(dense.posteriorCovariance![b], v)
                let scale = want.elements.map(abs).max()! + 1e-300
                let error = zip(products[b].elements, want.elements).map { abs($0 - $1) }.max()!
                #expect(error <= 1e-12 * max(1, scale), "\(type) σ=\(level.sigma) point \(b): error \(error)")
            }
        }
    }
}
