import Foundation
import Testing
@testable import Tweedie

/// Models with a zero centre of mass (docs/math.md §13.1): the Helmert coordinates against the
/// explicit matrix, translation invariance, the conventions of E(3)-equivariant diffusion and a
/// mixture under Kronecker noise against scipy in another basis of the subspace
/// (scripts/make_molecule_fixtures.py), the score against finite differences of log p along the
/// subspace, the probability-flow likelihood in D′ degrees of freedom, and files.
@Suite struct ZeroCentreOfMassTests {
    nonisolated(unsafe) static let fixture: [String: Any] = {
        guard let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/zero_com_reference.json"),
              let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return root
    }()

    static func numbers(_ any: Any?) -> [Double] { OracleFixtureTests.numbers(any) }

    /// The Helmert matrix written out row by row, as docs/math.md §13.1 defines it.
    static func helmert(_ n: Int) -> Matrix {
        var h = Matrix(rows: n - 1, columns: n)
        for j in 1..<n {
            let s = 1 / (Double(j) * Double(j + 1)).squareRoot()
            for i in 0..<j { h[j - 1, i] = s }
            h[j - 1, j] = -Double(j) * s
        }
        return h
    }

    static func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64, scale: Double = 1) -> Matrix {
        var g = TestRandom(seed: seed)
        return g.matrix(rows, columns, scale: scale)
    }

    @Test func fixtureIsPresent() {
        #expect((Self.fixture["molecules"] as? [Any])?.count == 2)
        #expect(Self.fixture["mixture"] != nil)
    }

    @Test(arguments: [(2, 1), (5, 3), (9, 3), (17, 2)])
    func reduceAndEmbedAreTheHelmertMatrix(atoms n: Int, axes d: Int) throws {
        let s = try ZeroCentreOfMass(atoms: n, axes: d)
        let h = Self.helmert(n)
        // H Hᵀ = I and H 1 = 0: the definition is orthonormal and centred.
        let hht = BLAS.product(h, .none, h, .transpose)
        for i in 0..<(n - 1) { for j in 0..<(n - 1) { #expect(abs(hht[i, j] - (i == j ? 1 : 0)) < 1e-14) } }
        let x = Self.randomMatrix(4, n * d, seed: 7)
        let y = s.reduce(x)
        for b in 0..<4 {
            for j in 0..<(n - 1) {
                for c in 0..<d {
                    var expected = 0.0
                    for i in 0..<n { expected += h[j, i] * x[b, i * d + c] }
                    #expect(abs(y[b, j * d + c] - expected) < 1e-13)
                }
            }
        }
        // embed is Hᵀ; embed ∘ reduce is the centring projector, reduce ∘ embed the identity.
        let back = s.embed(y)
        for b in 0..<4 {
            for c in 0..<d {
                let mean = (0..<n).reduce(0) { $0 + x[b, $1 * d + c] } / Double(n)
                for i in 0..<n { #expect(abs(back[b, i * d + c] - (x[b, i * d + c] - mean)) < 1e-13) }
            }
        }
        let again = s.reduce(back)
        for e in again.elements.indices { #expect(abs(again.elements[e] - y.elements[e]) < 1e-13) }
    }

    @Test func reducedCoordinatesIgnoreTranslations() throws {
        let s = try ZeroCentreOfMass(atoms: 7, axes: 3)
        let x = Self.randomMatrix(3, 21, seed: 11)
        var moved = x
        let shift = [40.0, -12.5, 3.25]
        for b in 0..<3 { for i in 0..<7 { for c in 0..<3 { moved[b, i * 3 + c] += shift[c] } } }
        let y = s.reduce(x), z = s.reduce(moved)
        for e in y.elements.indices { #expect(abs(y.elements[e] - z.elements[e]) < 1e-12 * 40) }
    }

    @Test func conventionsOfEquivariantDiffusion() throws {
        let molecules = try #require(Self.fixture["molecules"] as? [[String: Any]])
        for molecule in molecules {
            let n = molecule["atoms"] as! Int
            let x = Matrix(rows: 1, columns: 3 * n, elements: Self.numbers(molecule["x"]))
            let ambient = try MixtureModel(
                prior: GaussianMixture(weights: [1], means: Matrix(rows: 1, columns: 3 * n),
                                       covariances: .spherical([1])), shape: [n, 3])
            let m = try MixtureModel.centred(ambient)
            #expect(m.dimension == 3 * (n - 1) && m.pointDimension == 3 * n)
            let logP = try PriorDensity(m.prior).logDensity(m.reduce(x))[0]
            let expected = Self.numbers(molecule["log_normal"])[0]
            #expect(abs(logP - expected) <= 1e-12 * abs(expected), "\(molecule["name"]!): \(logP) vs \(expected)")
            let alpha = Self.numbers(molecule["alpha"])[0], sigma = Self.numbers(molecule["sigma"])[0]
            let kl = try GaussianKL.divergence(means: alpha * m.reduce(x), variance: sigma * sigma,
                                               referenceMeans: Matrix(rows: 1, columns: m.dimension),
                                               referenceVariance: 1, noise: m.noise)[0]
            let expectedKL = Self.numbers(molecule["prior_kl"])[0]
            #expect(abs(kl - expectedKL) <= 1e-10 * abs(expectedKL), "\(molecule["name"]!): \(kl) vs \(expectedKL)")
        }
    }

    static func fixtureModel() throws -> MixtureModel {
        let c = try #require(fixture["mixture"] as? [String: Any])
        let data = try JSONSerialization.data(withJSONObject: c["model"]!)
        return try ModelFile.decode(data, as: .json)
    }

    @Test func mixtureUnderKroneckerNoiseAgainstScipyInAnotherBasis() throws {
        let c = try #require(Self.fixture["mixture"] as? [String: Any])
        let m = try Self.fixtureModel()
        #expect(m.zeroCentreOfMass == (try ZeroCentreOfMass(atoms: 5, axes: 3)))
        guard case .kronecker(let a, let block) = m.noise.structure else { Issue.record("noise"); return }
        #expect(a.rows == 4 && block == 3)
        let points = Matrix(rows: 4, columns: 15, elements: Self.numbers(c["points"]))
        let alpha = Self.numbers(c["alpha"])[0], sigma = Self.numbers(c["sigma"])[0]
        let r = try Oracle(m).evaluate(m.reduce(points), alpha: alpha, sigma: sigma)
        let logs = Self.numbers(c["log_density"]), scores = Self.numbers(c["score"])
        let score = m.embed(r.score)
        for b in 0..<4 {
            #expect(abs(r.logDensity[b] - logs[b]) <= 1e-10 * max(1, abs(logs[b])), "point \(b)")
            let norm = (0..<15).reduce(0) { $0 + scores[b * 15 + $1] * scores[b * 15 + $1] }.squareRoot()
            for i in 0..<15 { #expect(abs(score[b, i] - scores[b * 15 + i]) <= 1e-9 * max(1, norm)) }
        }
    }

    @Test func scoreIsTheGradientOfLogDensityAlongTheSubspace() throws {
        let m = try Self.fixtureModel()
        let oracle = try Oracle(m)
        let s = m.zeroCentreOfMass!
        let x = s.embed(Self.randomMatrix(1, 12, seed: 3))
        let r = try oracle.evaluate(m.reduce(x), alpha: 0.9, sigma: 0.5)
        let score = m.embed(r.score)
        // Atoms of the score sum to zero on each axis.
        for c in 0..<3 { #expect(abs((0..<5).reduce(0) { $0 + score[0, $1 * 3 + c] }) < 1e-12) }
        for seed in 0..<3 as Range<UInt64> {
            let v = s.embed(Self.randomMatrix(1, 12, seed: 100 + seed))  // a direction inside V
            let h = 1e-5
            func logP(_ t: Double) throws -> Double {
                var p = x
                for i in 0..<15 { p.elements[i] += t * v.elements[i] }
                return try oracle.evaluate(m.reduce(p), alpha: 0.9, sigma: 0.5).logDensity[0]
            }
            let difference = (try logP(h) - logP(-h)) / (2 * h)
            let directional = (0..<15).reduce(0) { $0 + score.elements[$1] * v.elements[$1] }
            #expect(abs(difference - directional) < 1e-6 * max(1, abs(directional)), "\(difference) vs \(directional)")
        }
    }

    @Test func probabilityFlowLikelihoodCountsTheDegreesOfFreedom() throws {
        // p_0 = N(0, v I) on V: log p_t(x) = −‖x‖²/(2(α²v + σ²)) − (D′/2) log 2π(α²v + σ²), D′ = 3(N − 1).
        let n = 6, v = 0.7
        let ambient = try MixtureModel(
            prior: GaussianMixture(weights: [1], means: Matrix(rows: 1, columns: 3 * n), covariances: .spherical([v])),
            shape: [n, 3])
        let m = try MixtureModel.centred(ambient)
        let schedule = try Schedule.named("ve")
        let likelihood = try ProbabilityFlowLikelihood(oracle: Oracle(m), schedule: schedule,
                                                       relativeTolerance: 1e-8, absoluteTolerance: 1e-8,
                                                       startTime: 0.01)
        let x = m.zeroCentreOfMass!.embed(Self.randomMatrix(2, 15, seed: 5))
        let results = try likelihood.logLikelihood(m.reduce(x))
        let a = schedule.alpha(0.01), s = schedule.sigma(0.01), variance = a * a * v + s * s
        for b in 0..<2 {
            let squared = x.row(b).reduce(0) { $0 + $1 * $1 }
            let exact = -squared / (2 * variance) - 7.5 * Foundation.log(2 * Double.pi * variance)
            #expect(abs(results[b].logLikelihood - exact) < 1e-5 * abs(exact), "\(results[b].logLikelihood) vs \(exact)")
        }
    }

    @Test func polynomialScheduleOfEquivariantDiffusion() throws {
        let c = try #require(Self.fixture["polynomial"] as? [String: Any])
        let steps = (c["steps"] as! [Any]).map { ($0 as! NSNumber).intValue }
        let expected = Self.numbers(c["alphas2"])
        let schedule = try Schedule.named("polynomial")
        #expect(schedule.description.hasPrefix("polynomial"))
        for (i, step) in steps.enumerated() {
            let t = Double(step) / 1000
            let a = schedule.alpha(t), s = schedule.sigma(t)
            #expect(abs(a * a - expected[i]) <= 1e-12 * expected[i], "step \(step): \(a * a) vs \(expected[i])")
            #expect(abs(s * s - (1 - expected[i])) <= 1e-12, "step \(step)")
        }
        // The level at a knot is found again from its log-SNR; above the first knot, t = 0.
        let lambda = schedule.logSNR(0.5)
        #expect(abs(try schedule.time(logSNR: lambda) - 0.5) < 1e-12)
        #expect(try schedule.time(logSNR: 40) == 0)
        for bad in ["polynomial:power=0", "polynomial:precision=0.5", "polynomial:clip=1", "polynomial:steps=0"] {
            #expect(throws: ScheduleError.self) { try Schedule.named(bad) }
        }
    }

    @Test(arguments: ["json", "npz"])
    func filesKeepTheModel(format: String) throws {
        let m = try Self.fixtureModel()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zero-com-\(UUID()).\(format)")
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(m, to: url)
        let back = try ModelFile.read(url)
        #expect(back.zeroCentreOfMass == m.zeroCentreOfMass && back.shape == [5, 3])
        #expect(back.prior.means.elements.indices.allSatisfy {
            abs(back.prior.means.elements[$0] - m.prior.means.elements[$0]) < 1e-12
        })
        guard case .full(let c0) = m.prior.covariances, case .full(let c1) = back.prior.covariances else {
            Issue.record("covariances"); return
        }
        for k in 0..<2 { #expect(c0[k].elements.indices.allSatisfy { abs(c0[k].elements[$0] - c1[k].elements[$0]) < 1e-12 }) }
        guard case .kronecker(let a0, _) = m.noise.structure, case .kronecker(let a1, _) = back.noise.structure else {
            Issue.record("noise"); return
        }
        #expect(a0.elements.indices.allSatisfy { abs(a0.elements[$0] - a1.elements[$0]) < 1e-12 })
    }

    @Test(arguments: [
        (#"{"weights": [1], "means": [[0, 0, 0]], "covariance_type": "dirac", "zero_centre_of_mass": true}"#,
         "shape: a zero centre of mass needs points shaped [N, d]"),
        (#"{"weights": [1], "means": [[0, 0, 0]], "covariance_type": "dirac", "shape": [1, 3], "zero_centre_of_mass": true}"#,
         "at least 2 atoms"),
        (#"{"weights": [1], "means": [[0, 0, 0, 0]], "covariance_type": "dirac", "shape": [2, 2], "zero_centre_of_mass": 1}"#,
         "zero_centre_of_mass: expected true or false"),
    ])
    func badFilesSayWhy(text: String, message: String) {
        do {
            _ = try ModelFile.decode(Data(text.utf8), as: .json)
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }
}
