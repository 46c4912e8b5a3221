import Foundation
import Testing
@testable import Tweedie
@testable import TweedieIO

/// The oracle at the edges of its range against 60-digit mpmath: points up to 1e8 from the data,
/// σ from 1e-8 to 1e3, α = 0, Dirac atoms with an exact tie, a correlated noise covariance. Made by
/// scripts/make_edge_fixtures.py (direct dense route, not the whitened one the library uses).
///
/// A value passes if |got − expected| ≤ atol + rtol · max(|expected|, scale), with rtol/atol per
/// field and a per-point scale (the size of what the formulas add up: Σ r_k‖s_k‖ for the score,
/// the norm of the means plus the pull term for the denoiser, Σ r_k tr(ΣC_k⁻¹) for the divergence).
@Suite struct OracleEdgeNumericsTests {
    typealias Case = OracleFixtureTests.Case

    static let cases = fixtureCases("oracle_edge_reference.json")

    /// The "cases" of a fixture in Tests/TweedieTests/Fixtures, read with Tweedie's own JSON reader.
    static func fixtureCases(_ name: String) -> [Case] {
        guard let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(name)"),
              let data = try? Data(contentsOf: url),
              let parsed = try? JSONValue.parse(data),
              let root = foundationObject(parsed) as? [String: Any],
              let cases = root["cases"] as? [[String: Any]] else { return [] }
        return cases.map(Case.init)
    }

    /// The fixture as Foundation objects, its numbers read by Tweedie's own JSON reader, which
    /// rounds every decimal correctly (Foundation's JSONSerialization on Linux can be an ulp off,
    /// and these points sit 1e-8 from a mean, where one ulp of x is 4e-8 of x − μ). Whole numbers
    /// become Int, the rest Double.
    static func foundationObject(_ value: JSONValue) -> Any {
        switch value {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let x):
            if x == x.rounded(), abs(x) < 9e15 { return Int(x) }
            return x
        case .string(let s): return s
        case .array(let items): return items.map(foundationObject)
        case .object(let members): return members.mapValues(foundationObject)
        }
    }

    static func numbers(_ any: Any?) -> [Double] {
        if let v = any as? Int { return [Double(v)] }
        if let v = any as? Double { return [v] }
        if let a = any as? [Any] { return a.flatMap { numbers($0) } }
        return []
    }

    /// ring8, built from the fixture's parameters (not from ``BuiltinModels``).
    static func ring8() throws -> MixtureModel {
        let fixture = try #require(cases.first { $0.description == "ring8_far_points" }, "missing ring8 case")
        return try OracleFixtureTests.model(fixture.json)
    }

    @Test func fixtureIsPresent() {
        #expect(Self.cases.count >= 9)
    }

    @Test(arguments: cases)
    func matchesReference(_ fixture: Case) throws {
        let c = fixture.json
        let model = try OracleFixtureTests.model(c)
        let d = model.dimension, b = c["batch"] as! Int
        let x = OracleFixtureTests.matrix(c["x"], rows: b, columns: d)
        let alpha = Self.numbers(c["alpha"])[0], sigma = Self.numbers(c["sigma"])[0]
        let result = try Oracle(model).evaluate(x, alpha: alpha, sigma: sigma)
        let computed: [String: [Double]] = [
            "log_density": result.logDensity,
            "score": result.score.elements,
            "denoised": result.denoised.elements,
            "divergence": result.divergence,
        ]
        let tolerances = try #require(c["tolerances"] as? [String: Any], "\(fixture): no tolerances")
        let scales = try #require(c["scales"] as? [String: Any], "\(fixture): no scales")
        let ties = Set(Self.numbers(c["exact_tie_points"]).map { Int($0) })
        for (field, width) in [("log_density", 1), ("score", d), ("denoised", d), ("divergence", 1)] {
            let expected = Self.numbers(c[field])
            let got = try #require(computed[field])
            let scale = Self.numbers(scales[field])
            let tolerance = try #require(tolerances[field] as? [String: Any], "\(fixture): no tolerance for \(field)")
            let rtol = Self.numbers(tolerance["rtol"])[0], atol = Self.numbers(tolerance["atol"])[0]
            try #require(expected.count == b * width && got.count == b * width && scale.count == b,
                         "\(fixture) \(field): \(got.count) values computed, \(expected.count) expected, \(scale.count) scales")
            for p in 0..<b {
                let note = ties.contains(p) ? " (exact tie between two atoms)" : ""
                for i in 0..<width {
                    let e = expected[p * width + i], g = got[p * width + i]
                    let allowed = atol + rtol * max(abs(e), scale[p])
                    let error = abs(g - e)
                    let name = width == 1 ? field : "\(field)[\(i)]"
                    #expect(error <= allowed,
                            "\(fixture) point \(p) \(x.row(p))\(note) \(name): got \(g), expected \(e), error \(error) > tolerance \(allowed) (rtol \(rtol), scale \(scale[p]))")
                }
            }
        }
    }

    @Test("noise levels whose squares are not representable are refused")
    func unrepresentableNoiseLevelsAreRefused() throws {
        let oracle = try Oracle(Self.ring8())
        let x = Matrix(rows: 2, columns: 2, elements: [1, 0, -3, 2])
        let levels: [(alpha: Double, sigma: Double)] = [
            (1, 1e-155), (1, 1e155), (1e155, 1), (1, 0), (1, -1), (1, .nan), (.infinity, 1),
        ]
        for (alpha, sigma) in levels {
            #expect(throws: (any Error).self, "α = \(alpha), σ = \(sigma) must be refused") {
                _ = try oracle.evaluate(x, alpha: alpha, sigma: sigma)
            }
        }
    }

    @Test func pointWithUnrepresentableDensityThrows() throws {
        // log p_t ≈ −(1e200)²/(2·0.3) overflows Float64: an ArgumentError naming the point, never
        // −∞ or NaN in the results, alone or in a batch with ordinary points.
        let oracle = try Oracle(Self.ring8())
        for alpha in [0.8, 1.0] {
            for x in [Matrix(rows: 1, columns: 2, elements: [1e200, 0]),
                      Matrix(rows: 3, columns: 2, elements: [4, 0, 1e200, 0, -1, 2])] {
                let error = #expect(throws: ArgumentError.self, "α = \(alpha), x = \(x.elements)") {
                    _ = try oracle.evaluate(x, alpha: alpha, sigma: 0.5)
                }
                #expect(error?.argument == "x", "α = \(alpha): \(String(describing: error))")
            }
        }
    }
}
