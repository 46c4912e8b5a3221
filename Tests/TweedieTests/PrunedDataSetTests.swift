import Foundation
import Testing
@testable import Tweedie
@testable import TweedieOracle

/// Certified pruning of a data set's denoiser (docs/math.md §2.8) against the exact binary64 sum
/// over every component: the certified bound must hold at every point — near-ties, duplicates,
/// points at and beyond the edge of the data, σ from 10⁻³ to 10 — and pruning must actually skip
/// components where the posterior is concentrated.
@Suite struct PrunedDataSetTests {
    /// A clustered set (synthetic, labelled as such): 24 clusters in D = 48 with a low-rank
    /// structure, exact duplicates, and a pair of atoms mirrored about a point (a tie).
    static func clusteredSet() throws -> MixtureModel {
        var random = TestRandom(seed: 21)
        let (clusters, perCluster, d) = (24, 25, 48)
        let directions = random.matrix(6, d)
        var rows: [[Double]] = []
        for _ in 0..<clusters {
            let weights = random.normals(6).map { $0 * 3 }
            let centre = (0..<d).map { j in (0..<6).reduce(0) { $0 + weights[$1] * directions[$1, j] } }
            for _ in 0..<perCluster { rows.append(centre.map { $0 + 0.3 * random.normal() }) }
        }
        rows.append(rows[3])  // an exact duplicate
        rows.append(rows[40])
        let tie = rows[100]
        let offset = random.normals(d).map { $0 * 0.05 }
        rows.append(zip(tie, offset).map { $0 + $1 })
        rows.append(zip(tie, offset).map { $0 - $1 })
        let k = rows.count
        let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(k), count: k),
                                        means: Matrix(rows), covariances: .dirac)
        return try MixtureModel(prior: prior, name: "clustered (synthetic)")
    }

    /// Query points: noised atoms, the midpoint of the mirrored pair, midpoints between clusters,
    /// and points far beyond the data.
    static func queries(_ model: MixtureModel, alpha: Double, sigma: Double, seed: UInt64) -> Matrix {
        var random = TestRandom(seed: seed)
        let means = model.prior.means
        let (k, d) = (means.rows, means.columns)
        var rows: [[Double]] = []
        for i in stride(from: 0, to: k, by: 37) {
            rows.append((0..<d).map { alpha * means[i, $0] + sigma * random.normal() })
        }
        rows.append((0..<d).map { alpha * 0.5 * (means[k - 1, $0] + means[k - 2, $0]) })
        rows.append((0..<d).map { alpha * 0.5 * (means[0, $0] + means[300, $0]) })
        rows.append((0..<d).map { alpha * means[5, $0] })
        rows.append((0..<d).map { 10 * alpha * means[7, $0] + sigma * random.normal() })
        rows.append((0..<d).map { _ in 40 * random.normal() })
        return Matrix(rows)
    }

    @Test(arguments: [1e-3, 1e-2, 0.05, 0.2, 1, 10])
    func certifiedBoundHolds(sigma: Double) throws {
        let model = try Self.clusteredSet()
        let oracle = try Oracle(model)
        for tolerance in [1e-8, 1e-4] {
            let pruned = try PrunedDataSetDenoiser(oracle, tolerance: tolerance)
            for alpha in [1.0, 0.6] {
                let level = NoiseLevel(alpha: alpha, sigma: sigma)
                let x = Self.queries(model, alpha: alpha, sigma: sigma, seed: UInt64(sigma * 1e4) + 7)
                let exact = try oracle.denoise(x, at: level)
                let result = try pruned.denoiseCertified(x, at: level)
                let d = x.columns
                for b in 0..<x.rows {
                    var error = 0.0, norm = 0.0, scale = 0.0
                    for j in 0..<d {
                        let e = result.denoised[b, j] - exact[b, j]
                        error += e * e
                        norm += x[b, j] * x[b, j]
                        scale = max(scale, abs(exact[b, j]))
                    }
                    let bound = result.errorBounds[b]
                    // The certificate, plus the rounding of two binary64 sums of atoms.
                    #expect(error.squareRoot() <= bound + 1e-12 * scale * Double(d),
                            "σ = \(sigma), α = \(alpha), ε = \(tolerance), point \(b): error \(error.squareRoot()) > bound \(bound)")
                    #expect(bound <= tolerance * norm.squareRoot() * (1 + 1e-12),
                            "σ = \(sigma), point \(b): bound \(bound) above ε‖x‖ = \(tolerance * norm.squareRoot())")
                    #expect(result.neglectedMass[b] >= 0 && result.neglectedMass[b] < 1)
                }
            }
        }
    }

    /// The neglected mass is certified too: the exact responsibilities of the skipped components
    /// sum to at most δ̂. The kept set is recovered from the exact responsibilities: at a tight σ
    /// every kept component's share is above the threshold and the bound is compared directly.
    @Test func neglectedMassBoundsTheExactMassOutsideTheKeptSet() throws {
        let model = try Self.clusteredSet()
        let oracle = try Oracle(model)
        let pruned = try PrunedDataSetDenoiser(oracle, tolerance: 1e-6)
        let level = NoiseLevel(alpha: 1, sigma: 0.4)
        let x = Self.queries(model, alpha: 1, sigma: 0.4, seed: 3)
        let result = try pruned.denoiseCertified(x, at: level)
        let exact = try oracle.evaluate(x, at: level)
        let k = model.componentCount
        for b in 0..<x.rows where !result.answeredExactly[b] {
            let shares = (0..<k).map { exact.responsibilities[b, $0] }.sorted(by: >)
            // The kept set holds |S_b| components; the mass outside any set of that size is at
            // least the mass outside the |S_b| largest shares.
            let outside = shares.dropFirst(result.keptCounts[b]).reduce(0, +)
            #expect(outside <= result.neglectedMass[b] + 1e-15, "point \(b): \(outside) > δ̂ = \(result.neglectedMass[b])")
        }
    }

    @Test func prunesWhereThePosteriorIsConcentrated() throws {
        let model = try Self.clusteredSet()
        let pruned = try PrunedDataSetDenoiser(Oracle(model), tolerance: 1e-8)
        let x = Self.queries(model, alpha: 1, sigma: 0.01, seed: 5)
        let result = try pruned.denoiseCertified(x, at: NoiseLevel(alpha: 1, sigma: 0.01))
        let k = model.componentCount
        #expect(result.answeredExactly.allSatisfy { !$0 })
        #expect(result.keptCounts.max()! <= k / 20, "kept \(result.keptCounts) of \(k)")
        // At σ = 10 nothing can be skipped: the exact oracle answers, with bound 0.
        let far = try pruned.denoiseCertified(Self.queries(model, alpha: 1, sigma: 10, seed: 6),
                                              at: NoiseLevel(alpha: 1, sigma: 10))
        #expect(far.answeredExactly.contains(true))
        #expect(zip(far.answeredExactly, far.errorBounds).allSatisfy { !$0 || $1 == 0 })
    }

    @Test func eachPointIsAnsweredAsIfAlone() throws {
        let model = try Self.clusteredSet()
        let pruned = try PrunedDataSetDenoiser(Oracle(model), tolerance: 1e-8)
        for sigma in [0.02, 0.5, 5] {
            let level = NoiseLevel(alpha: 1, sigma: sigma)
            let x = Self.queries(model, alpha: 1, sigma: sigma, seed: 9)
            let batch = try pruned.denoiseCertified(x, at: level)
            for b in [0, 3, x.rows - 1] {
                let alone = try pruned.denoiseCertified(Matrix([x.row(b)]), at: level)
                #expect(alone.denoised.row(0) == batch.denoised.row(b), "σ = \(sigma), point \(b)")
                #expect(alone.errorBounds[0] == batch.errorBounds[b])
            }
        }
    }

    /// The kept set S = {a_k ≥ max a − L − 1} does not depend on the screen that found the
    /// candidates: with and without the single-precision screen, points pruned both ways come out
    /// bit for bit the same, and the single-precision screen prunes points the first screen cannot.
    @Test func theKeptSetDoesNotDependOnTheScreen() throws {
        let model = try Self.clusteredSet()
        let oracle = try Oracle(model)
        let both = try PrunedDataSetDenoiser(oracle, tolerance: 1e-8)
        let first = try PrunedDataSetDenoiser(oracle, tolerance: 1e-8, rank: 2, singlePrecisionScreen: false)
        let second = try PrunedDataSetDenoiser(oracle, tolerance: 1e-8, rank: 2)
        var handedOn = 0
        for sigma in [0.005, 0.05, 0.2, 0.5] {
            let level = NoiseLevel(alpha: 1, sigma: sigma)
            let x = Self.queries(model, alpha: 1, sigma: sigma, seed: 13)
            let results = try [both, first, second].map { try $0.denoiseCertified(x, at: level) }
            for b in 0..<x.rows {
                let pruned = results.indices.filter { !results[$0].answeredExactly[b] }
                for i in pruned.dropFirst() {
                    #expect(results[i].denoised.row(b) == results[pruned[0]].denoised.row(b), "σ = \(sigma), point \(b)")
                }
                if results[1].answeredExactly[b] && !results[2].answeredExactly[b] { handedOn += 1 }
            }
        }
        #expect(handedOn > 0, "the single-precision screen never pruned a point the rank-2 screen could not")
    }

    @Test func refusesWhatItCannotCertify() throws {
        #expect(throws: ArgumentError.self) { try PrunedDataSetDenoiser(Oracle(BuiltinModels.named("ring8")!), tolerance: 1e-8) }
        let model = try Self.clusteredSet()
        #expect(throws: ArgumentError.self) { try PrunedDataSetDenoiser(Oracle(model), tolerance: 0) }
        #expect(throws: ArgumentError.self) { try PrunedDataSetDenoiser(Oracle(model), tolerance: .nan) }
        let correlated = try MixtureModel(prior: model.prior, noise: .init(.diagonal([Double](repeating: 2, count: 48)),
                                                                          dimension: 48, field: "noise"))
        #expect(throws: ArgumentError.self) { try PrunedDataSetDenoiser(Oracle(correlated), tolerance: 1e-8) }
    }
}

/// The figures of `tweedie study truncation` against a Float80 computation of the same weights.
@Suite struct TruncationStudyTests {
    @Test func truncationFiguresMatchAnExtendedPrecisionReference() throws {
        var random = TestRandom(seed: 4)
        let (k, d) = (40, 3)
        let atoms = (0..<(k * d)).map { _ in random.normal() }
        // Weights of a point at a few scales, from Float80 log-sum-exp.
        for spread in [0.5, 5.0, 60.0] {
            let logits = (0..<k).map { _ in Float80(spread * random.normal()) }
            let top = logits.max()!
            let exps = logits.map { Float80(exp(Double($0 - top))) }
            let total = exps.reduce(0, +)
            let r = exps.map { Double($0 / total) }
            let figures = r.withUnsafeBufferPointer { rp in
                atoms.withUnsafeBufferPointer { ap in TruncationStudy.truncations(weights: rp, atoms: ap, dimension: d, ks: [1, 5, k]) }
            }
            let order = (0..<k).sorted { r[$0] > r[$1] }
            for (i, keep) in [1, 5, k].enumerated() {
                let rest = order.dropFirst(keep)
                let mass = rest.reduce(Float80(0)) { $0 + Float80(r[$1]) }
                var exact = [Float80](repeating: 0, count: d), truncated = exact
                var kept = Float80(0)
                for c in 0..<k { for j in 0..<d { exact[j] += Float80(r[c]) * Float80(atoms[c * d + j]) } }
                for c in order.prefix(keep) {
                    kept += Float80(r[c])
                    for j in 0..<d { truncated[j] += Float80(r[c]) * Float80(atoms[c * d + j]) }
                }
                let error = (0..<d).reduce(Float80(0)) { $0 + pow(truncated[$1] / kept - exact[$1], 2) }.squareRoot()
                #expect(abs(figures[i].0 - Double(mass)) <= 1e-14 * max(Double(mass), 1e-300) + 1e-300,
                        "spread \(spread), k = \(keep): mass \(figures[i].0) vs \(Double(mass))")
                #expect(abs(figures[i].1 - Double(error)) <= 1e-12 * Double(error) + 1e-15 * 4,  // |μ| ≲ 4
                        "spread \(spread), k = \(keep): error \(figures[i].1) vs \(Double(error))")
            }
        }
    }

    @Test func truncationAtOrAboveKIsExactAndSinglePrecisionIsClose() throws {
        let model = try PrunedDataSetTests.clusteredSet()
        let levels = [NoiseLevel(alpha: 1, sigma: 5), NoiseLevel(alpha: 1, sigma: 0.3), NoiseLevel(alpha: 1, sigma: 0.01)]
        let study = try TruncationStudy(model: model, levels: levels, ks: [3, 50, 10_000], count: 16, seed: 2)
        for level in study.levels {
            #expect(level.neglectedMass[2].largest == 0 && level.truncationError[2].largest == 0)
            #expect(level.neglectedMass[0].mean >= level.neglectedMass[1].mean)
            // ‖x̂_top − x̂_0‖ ≤ 2R·m (the identity of the certified bound, docs/math.md §2.8).
            for i in 0..<2 {
                #expect(level.truncationError[i].largest <= 2 * study.radius * level.neglectedMass[i].largest * (1 + 1e-9) + 1e-15)
            }
            #expect(level.singlePrecisionError.largest < 1e-4 * study.radius)
        }
        #expect(study.levels[0].neglectedMass[0].mean > 0.5)  // σ = 5: three atoms hold little
    }
}

/// Data sets of 8-bit values keep them as bytes on disk and read back bit for bit.
@Suite struct DataSetFileTests {
    @Test func eightBitValuesRoundTripThroughBytes() throws {
        var random = TestRandom(seed: 8)
        let (k, d) = (500, 12)
        let values = (0..<(k * d)).map { _ in Double(Int(random.uniform() * 256) % 256) }
        for scaling in [DataSetScaling.edm, .unit, .none] {
            let means = Matrix(rows: k, columns: d, elements: values.map(scaling.apply))
            let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(k), count: k), means: means,
                                            covariances: .dirac)
            let model = try MixtureModel(prior: prior, shape: [2, 2, 3], name: "bytes")
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("bytes-\(UUID().uuidString).npz")
            defer { try? FileManager.default.removeItem(at: url) }
            try ModelFile.writeDataSet(model, values: values, scaling: scaling, to: url)
            let read = try ModelFile.read(url)
            #expect(read == model)
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
            #expect(size < k * d * 2, "\(size) bytes for \(k * d) 8-bit values")
        }
        #expect(throws: FileError.self) {
            try ModelFile.writeDataSet(try MixtureModel(prior: GaussianMixture(weights: [1], means: Matrix([[0.5]]),
                                                                                covariances: .dirac)),
                                       values: [0.5], scaling: .none,
                                       to: FileManager.default.temporaryDirectory.appendingPathComponent("x.npz"))
        }
    }
}

/// The data-set kernel's recomputation margin (docs/math.md §2.5): on near-copies far from the data's
/// centre, at levels where the Gram expansion's rounding bound exceeds 10⁻⁹ nats and many atoms lie
/// within 40 nats of the best, the denoiser agrees with a Float80 sum by direct subtraction to the
/// accepted 2R·10⁻⁹ (R the data's radius), and the margin is what the bound says.
@Suite struct DiracRecomputationTests {
    @Test func nearCopiesAgreeWithAnExtendedPrecisionSum() throws {
        var random = TestRandom(seed: 41)
        let (k, d) = (1500, 96)
        let base = random.normals(d).map { 30 * $0 }
        let directions = random.matrix(3, d)
        var rows: [[Double]] = []
        // Two far clusters (so the centred Gram expansion rounds at ~300 × 300) of near-copies (so
        // hundreds of atoms lie within 40 nats of the best at σ ≤ 1).
        for i in 0..<k {
            let c = random.normals(3).map { 0.05 * $0 }
            let sign = i % 2 == 0 ? 1.0 : -1.0
            rows.append((0..<d).map { j in sign * base[j] + (0..<3).reduce(0) { $0 + c[$1] * directions[$1, j] }
                                     + 0.01 * random.normal() })
        }
        let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(k), count: k), means: Matrix(rows),
                                        covariances: .dirac)
        let oracle = try Oracle(MixtureModel(prior: prior))
        let radius = rows.map { r in r.reduce(0) { $0 + $1 * $1 } }.max()!.squareRoot()
        for sigma in [0.05, 0.2, 1.0] {
            let points = Matrix((0..<6).map { i in rows[i * 98].map { $0 + sigma * random.normal() } })
            let denoised = try oracle.denoise(points, at: NoiseLevel(alpha: 1, sigma: sigma))
            for b in 0..<points.rows {
                let y = points.row(b)
                let logits = rows.map { r in -zip(y, r).reduce(Float80(0)) { $0 + Float80($1.0 - $1.1) * Float80($1.0 - $1.1) }
                    / Float80(2 * sigma * sigma) }
                let top = logits.max()!
                let w = logits.map { exp($0 - top) }
                let total = w.reduce(0, +)
                let exact = (0..<d).map { j in Double((0..<k).reduce(Float80(0)) { $0 + w[$1] * Float80(rows[$1][j]) } / total) }
                let error = zip(denoised.row(b), exact).map { abs($0 - $1) }.max()!
                #expect(error <= 2 * radius * 1e-9, "σ = \(sigma), point \(b): \(error)")
            }
        }
        #expect(DiracKernel.recomputationMargin(logitError: 1e-9, componentCount: 1) == 0)
        #expect(abs(DiracKernel.recomputationMargin(logitError: 3e-9, componentCount: 50_000) - log(1.5e5)) < 1e-12)
        #expect(DiracKernel.recomputationMargin(logitError: 1e6, componentCount: 1_000_000) == 40)
    }
}
