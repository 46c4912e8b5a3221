import Foundation
import Testing
@testable import Tweedie

/// The oracle against an independent reference: the dense formulas (information form
/// where Λ_k ≻ 0) evaluated by numpy/scipy, and by 50-digit mpmath for the ill-conditioned,
/// far-separated and small-σ cases. Made by scripts/make_oracle_fixtures.py; each field carries
/// a tolerance derived from its conditioning and the reference's own error.
@Suite struct OracleFixtureTests {
    struct Case: @unchecked Sendable, CustomStringConvertible {
        let json: [String: Any]
        var description: String { json["name"] as! String }
    }

    static let cases: [Case] = {
        guard let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/oracle_reference.json"),
              let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else { return [] }
        return cases.map(Case.init)
    }()

    static func numbers(_ any: Any?) -> [Double] {
        if let v = any as? Int { return [Double(v)] }
        if let v = any as? Double { return [v] }
        if let v = any as? NSNumber { return [v.doubleValue] }
        if let a = any as? [Any] { return a.flatMap { numbers($0) } }
        return []
    }

    static func matrix(_ any: Any?, rows: Int, columns: Int) -> Matrix {
        Matrix(rows: rows, columns: columns, elements: numbers(any))
    }

    static func model(_ c: [String: Any]) throws -> MixtureModel {
        let d = c["dimension"] as! Int, k = c["components"] as! Int
        let weights = numbers(c["weights"])
        let means = matrix(c["means"], rows: k, columns: d)
        let covariances: ComponentCovariances
        switch c["covariance_type"] as! String {
        case "full":
            let all = numbers(c["covariances"])
            covariances = .full((0..<k).map { Matrix(rows: d, columns: d, elements: Array(all[($0 * d * d)..<(($0 + 1) * d * d)])) })
        case "tied": covariances = .tied(matrix(c["covariances"], rows: d, columns: d))
        case "diag": covariances = .diagonal(matrix(c["covariances"], rows: k, columns: d))
        case "spherical": covariances = .spherical(numbers(c["covariances"]))
        default: covariances = .dirac
        }
        let noise = c["noise"] as! [String: Any]
        let structure: NoiseCovariance.Structure
        switch noise["type"] as! String {
        case "identity": structure = .identity
        case "diagonal": structure = .diagonal(numbers(noise["covariance"]))
        case "full": structure = .full(matrix(noise["covariance"], rows: d, columns: d))
        default:
            let block = noise["block_size"] as! Int
            structure = .kronecker(matrix(noise["covariance"], rows: d / block, columns: d / block), blockSize: block)
        }
        return try MixtureModel(prior: GaussianMixture(weights: weights, means: means, covariances: covariances),
                                noise: NoiseCovariance(structure, dimension: d))
    }

    @Test func fixtureIsPresent() {
        #expect(Self.cases.count >= 12)
    }

    @Test(arguments: cases)
    func matchesReference(_ fixture: Case) throws {
        let c = fixture.json
        let model = try Self.model(c)
        let d = model.dimension, b = c["batch"] as! Int
        let x = Self.matrix(c["x"], rows: b, columns: d)
        var extras: OracleExtras = []
        if c["posterior_covariance"] != nil { extras.insert(.posteriorCovariance) }
        if c["component_means"] != nil { extras.insert(.componentMeans) }
        let result = try Oracle(model).evaluate(x, alpha: Self.numbers(c["alpha"])[0], sigma: Self.numbers(c["sigma"])[0],
                                                including: extras)
        let tolerances = c["tolerances"] as! [String: [String: Double]]
        let computed: [String: [Double]] = [
            "log_density": result.logDensity,
            "responsibilities": result.responsibilities.elements,
            "denoised": result.denoised.elements,
            "noise_prediction": result.noise.elements,
            "standardized_noise": result.standardizedNoise.elements,
            "score": result.score.elements,
            "divergence": result.divergence,
            "posterior_covariance": result.posteriorCovariance?.flatMap(\.elements) ?? [],
            "component_means": result.componentMeans?.flatMap(\.elements) ?? [],
        ]
        for (field, tolerance) in tolerances {
            let expected = Self.numbers(c[field])
            let got = computed[field]!
            #expect(got.count == expected.count, "\(fixture) \(field)")
            let rtol = tolerance["rtol"]!, atol = tolerance["atol"]!
            let worst = zip(got, expected).map { abs($0 - $1) / (atol + rtol * abs($1)) }.max() ?? 0
            #expect(worst <= 1, "\(fixture) \(field): worst error is \(worst) × tolerance")
        }
    }
}
