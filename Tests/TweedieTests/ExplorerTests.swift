import Foundation
import Testing
import Tweedie

/// The numbers behind `tweedie explore` (docs/math.md §14).
@Suite struct ExplorerTests {
    private static func parse(_ w: JSONWriter) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(w.description.utf8)) as? [String: Any])
    }

    /// §14.1: the marginal model's p_t at a point is the 2-D Gaussian mixture with covariances
    /// α² P Λ_k Pᵀ + σ² P Σ Pᵀ, written out here by hand (2×2 determinant and inverse), for chain16's
    /// full covariances and Kronecker noise on coordinates (5, 17).
    @Test func marginalModelHasTheProjectedDensity() throws {
        let full = BuiltinModels.chain16()
        let (i, j) = (5, 17)
        let marginal = try full.marginal(onto: [i, j])
        #expect(marginal.dimension == 2 && marginal.componentCount == full.componentCount)
        let (alpha, sigma) = (0.8, 0.6)
        let point = [0.3, -0.4]
        let noise = full.noise.denseMatrix
        var terms: [Double] = []
        for k in 0..<full.componentCount {
            let c = full.prior.covariance(of: k)
            let a = alpha * alpha * c[i, i] + sigma * sigma * noise[i, i]
            let b = alpha * alpha * c[i, j] + sigma * sigma * noise[i, j]
            let d = alpha * alpha * c[j, j] + sigma * sigma * noise[j, j]
            let det = a * d - b * b
            let u = point[0] - alpha * full.prior.means[k, i], v = point[1] - alpha * full.prior.means[k, j]
            let quadratic = (d * u * u - 2 * b * u * v + a * v * v) / det
            terms.append(log(full.prior.weights[k]) - log(2 * Double.pi) - 0.5 * log(det) - 0.5 * quadratic)
        }
        let top = terms.max()!
        let expected = top + log(terms.map { exp($0 - top) }.reduce(0, +))
        let result = try Oracle(marginal).evaluate(Matrix(rows: 1, columns: 2, elements: point), alpha: alpha, sigma: sigma)
        #expect(abs(result.logDensity[0] - expected) <= 1e-12 * max(1, abs(expected)))
    }

    @Test func marginalKeepsDiracAndRefusesBadCoordinates() throws {
        let spiral = BuiltinModels.named("spiral-dirac")!
        let flipped = try spiral.marginal(onto: [1, 0])
        #expect(flipped.prior.covarianceType == .dirac)
        #expect(flipped.prior.means[3, 0] == spiral.prior.means[3, 1])
        for bad in [[], [0, 0], [0, 2], [-1, 1]] {
            #expect(throws: ModelError.self) { try spiral.marginal(onto: bad) }
        }
    }

    /// The density view is a density: exp(log p_t) sums to 1 over the plane (trapezoid rule on 200²
    /// nodes; the box holds all but a negligible tail at σ_t ≈ 0.46).
    @Test func densityViewIntegratesToOne() throws {
        let explorer = try Explorer(model: BuiltinModels.ring8(), schedule: "vp-cosine", gridSize: 200, sampleCount: 10)
        let view = try Self.parse(explorer.densityView(at: 0.3))
        let x = try #require(view["x"] as? [Double]), y = try #require(view["y"] as? [Double])
        let rows = try #require(view["log_density"] as? [[Double]])
        let hx = x[1] - x[0], hy = y[1] - y[0]
        var total = 0.0
        for (r, row) in rows.enumerated() {
            for (c, value) in row.enumerated() {
                let weight = (r == 0 || r == rows.count - 1 ? 0.5 : 1) * (c == 0 || c == row.count - 1 ? 0.5 : 1)
                total += weight * exp(value)
            }
        }
        #expect(abs(total * hx * hy - 1) < 1e-3, "∫ p_t = \(total * hx * hy)")
        #expect(throws: ArgumentError.self) { try explorer.densityView(at: 1.5) }
        #expect(throws: ArgumentError.self) { try explorer.densityView(at: .nan) }
    }

    /// A ladder's runs are the runs the page asks for one at a time (computed side by side, the same to
    /// the bit), its curve holds their figures, and each trajectory ends at its sample.
    @Test func ladderAgreesWithSingleRuns() throws {
        let explorer = try Explorer(model: BuiltinModels.ring8(), schedule: "vp-linear", trajectoryCount: 3,
                                    sampleCount: 60, seed: 5)
        let heun = try SamplerConfiguration(.heun)
        let (runs, curve) = try explorer.ladder(sampler: heun)
        #expect(runs.count == Explorer.stepLadder.count)
        for steps in [1, 8, 64] {
            #expect(runs[steps]?.description == (try explorer.runView(sampler: heun, steps: steps)).description)
        }
        let run = try Self.parse(explorer.runView(sampler: heun, steps: 8))
        let points = try #require(try Self.parse(curve)["points"] as? [[String: Any]])
        let eight = try #require(points.first { ($0["steps"] as? Int) == 8 })
        #expect(eight["total_variation"] as? Double == run["total_variation"] as? Double)
        #expect(eight["model_calls"] as? Double == 15)
        let ends = try #require(run["trajectories_x"] as? [[Double]])
        let samples = try #require(run["samples_x"] as? [Double])
        #expect(ends.count == 3 && ends[2].count == 9 && ends[2].last == samples[2])
    }

    /// On a single Gaussian the KL is exact and Heun's falls at its order: KL ∝ h⁴ (W₂ ∝ h²), so
    /// doubling the steps from 16 to 32 divides it by about 16.
    @Test func exactKLOfHeunFallsAtItsOrder() throws {
        let prior = try GaussianMixture(weights: [1], means: Matrix([[1, -0.5]]),
                                        covariances: .full([Matrix([[0.5, 0.2], [0.2, 0.3]])]))
        let explorer = try Explorer(model: MixtureModel(prior: prior, name: "gaussian"), schedule: "vp-linear",
                                    sampleCount: 10)
        let (_, curve) = try explorer.ladder(sampler: SamplerConfiguration(.heun))
        let points = try #require(try Self.parse(curve)["points"] as? [[String: Any]])
        func kl(_ steps: Int) throws -> Double {
            try #require(points.first { ($0["steps"] as? Int) == steps }?["kl"] as? Double)
        }
        #expect((points.first?["kl_kind"] as? String)?.hasPrefix("exact") == true)
        let ratio = try kl(16) / kl(32)
        #expect(ratio > 10 && ratio < 24, "KL(16)/KL(32) = \(ratio)")
    }

    /// The names the page asks the server for: every view names itself back, and malformed names (which
    /// come from requests) are nil, never a trap ("run-5" once split the name at the prefix's own dash).
    @Test func viewNamesParseSafely() {
        let views: [ExplorerView] = [.model, .density(3), .run(.heun, steps: 4), .run(.dpmpp2M, steps: 12),
                                     .curve(.euler), .curve(.dpmpp2MSDE)]
        for view in views { #expect(ExplorerView(name: view.name) == view, "\(view.name)") }
        for name in ["", "-", "run-5", "run-", "run--", "run-heun-", "run-heun--4", "run--4", "curve-", "curve-5",
                     "density-", "density-x", "density-99999999999999999999", "models", "run-heun-4\u{0}"] {
            #expect(ExplorerView(name: name) == nil, "\(name)")
        }
    }

    @Test func jsonNumbersReadBackExactly() throws {
        var w = JSONWriter.object()
        let values = [0.1, 1e-300, -2.5e300, 1 / 3, 5e-324, .nan, .infinity]
        w.add("v", values)
        w.add("s", string: "a\"b\\c\u{1}\u{2028}")
        let back = try Self.parse(w)
        let read = try #require(back["v"] as? [Any])
        for (value, parsed) in zip(values.prefix(5), read) { #expect(parsed as? Double == value) }
        #expect(read[5] is NSNull && read[6] is NSNull)
        #expect(back["s"] as? String == "a\"b\\c\u{1}\u{2028}")
    }

    @Test func explorerRefusesWhatItCannotDraw() throws {
        #expect(throws: ArgumentError.self) { try Explorer(model: BuiltinModels.chain16(), schedule: "vp-cosine") }
        #expect(throws: (any Error).self) { try Explorer(model: BuiltinModels.ring8(), schedule: "nope") }
        #expect(throws: ArgumentError.self) { try Explorer(model: BuiltinModels.ring8(), schedule: "edm", gridSize: 1) }
        let explorer = try Explorer(model: BuiltinModels.ring8(), schedule: "edm", sampleCount: 4)
        #expect(throws: ArgumentError.self) { try explorer.runView(sampler: SamplerConfiguration(.rk45), steps: 4) }
        #expect(throws: ArgumentError.self) { try explorer.runView(sampler: SamplerConfiguration(.heun), steps: 0) }
    }
}
