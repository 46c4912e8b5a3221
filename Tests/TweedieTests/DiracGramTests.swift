import Foundation
import Testing
@testable import Tweedie
@testable import TweedieOracle

/// The Gram expansion of a data set's distances (docs/math.md §2.5) over chunks of coordinates, and
/// its rounding bound, against sums carried in Float80 (64-bit significands: an independent route).
@Suite struct DiracGramTests {
    @Test func summationDepthOverChunks() {
        #expect(DiracKernel.summationDepth(dimension: 64) == 64)
        #expect(DiracKernel.summationDepth(dimension: DiracKernel.gramChunk) == DiracKernel.gramChunk)
        // 3072 = 6 chunks of 512: 512 roundings within a chunk, 5 to add the chunks.
        #expect(DiracKernel.summationDepth(dimension: 3072) == 517)
        #expect(DiracKernel.summationDepth(dimension: 1100) == 514)
        #expect(DiracKernel.gamma(0) == 0)
        #expect(abs(DiracKernel.gamma(1000) / (1000 * 0x1p-53) - 1) < 1e-12)
    }

    @Test(arguments: [300, 1100, 1536])
    func chunkedProductWithinItsBound(dimension d: Int) {
        var random = TestRandom(seed: UInt64(d))
        let (n, total, start, m) = (5, 9, 2, 7)
        let centred = random.matrix(n, d, scale: 3)
        var nuT = random.matrix(d, total, scale: 2)
        for i in 0..<nuT.elements.count { nuT.elements[i] += 1 }
        var gram = [Double](repeating: .nan, count: n * m), partial = [Double](repeating: .nan, count: n * m)
        centred.elements.withUnsafeBufferPointer { a in
            nuT.elements.withUnsafeBufferPointer { b in
                DiracKernel.gramProduct(a.baseAddress!, rows: n, b.baseAddress! + start, count: m, of: total,
                                        dimension: d, gram: &gram, partial: &partial)
            }
        }
        let gamma = DiracKernel.gamma(DiracKernel.summationDepth(dimension: d))
        for r in 0..<n {
            for j in 0..<m {
                var exact: Float80 = 0, magnitude = 0.0
                for i in 0..<d {
                    exact += Float80(centred[r, i]) * Float80(nuT[i, start + j])
                    magnitude += abs(centred[r, i] * nuT[i, start + j])
                }
                let error = abs(Double(Float80(gram[r * m + j]) - exact))
                #expect(error <= gamma * magnitude, "D = \(d), (\(r), \(j)): \(error) > \(gamma * magnitude)")
            }
            // The squared norms, summed over the same chunks, within the same bound.
            let norm = DiracKernel.chunkedSquaredNorm(count: d) { centred[r, $0] }
            let exact = (0..<d).reduce(Float80(0)) { $0 + Float80(centred[r, $1]) * Float80(centred[r, $1]) }
            #expect(abs(Double(Float80(norm) - exact)) <= gamma * Double(exact), "D = \(d), row \(r)")
        }
    }

    /// K = 7000 atoms in four component groups, each weighed against its own maximum: the
    /// responsibilities put together across the groups, with log p_t and the denoiser, against the
    /// direct evaluation (no Gram expansion, no streaming).
    @Test(arguments: ["identity", "full"])
    func responsibilitiesAcrossGroups(noise: String) throws {
        let model = try OracleIdentityTests.randomModel(.dirac, noise: noise, k: 7000, d: 12, seed: 4)
        let oracle = try Oracle(model)
        #expect(oracle.componentGroups.count == 4)
        var random = TestRandom(seed: 8)
        let x = random.matrix(5, 12, scale: 3)
        for (alpha, sigma) in [(1.0, 2.0), (0.8, 0.3)] {
            let result = try oracle.evaluate(x, alpha: alpha, sigma: sigma)
            for b in 0..<x.rows {
                let reference = OracleHardCaseTests.BruteForceDirac(model, x: x.row(b), alpha: alpha, sigma: sigma)
                #expect(isClose(result.responsibilities.row(b), reference.responsibilities, rtol: 1e-8, atol: 1e-15))
                #expect(abs(result.logDensity[b] - reference.logDensity) < 1e-9 * (1 + abs(reference.logDensity)))
                #expect(isClose(result.denoised.row(b), reference.denoised, rtol: 1e-9, atol: 1e-10))
            }
        }
    }

    /// Clusters of near-copies in D = 1100 (three chunks), over two blocks of components and two
    /// groups, the clusters ±50 per coordinate from the data's mean (so that the Gram expansion
    /// rounds by far more than the tolerance at small σ): where the bound calls for it, the distances
    /// within the margin are recomputed, and the denoiser agrees with Float80 sums over every atom
    /// by direct subtraction.
    @Test(arguments: [0.05, 0.2, 1.0, 20.0])
    func nearCopiesAgainstFloat80(sigma: Double) throws {
        var random = TestRandom(seed: 7)
        let (clusters, perCluster, d) = (23, 100, 1100)
        var rows: [[Double]] = []
        for cluster in 0..<clusters {
            let centre = random.normals(d).map { $0 + (cluster % 2 == 0 ? 50 : -50) }
            for _ in 0..<perCluster { rows.append(centre.map { $0 + 0.05 * random.normal() }) }
        }
        let k = rows.count
        #expect(k > DiracKernel.blockSize)
        let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(k), count: k), means: Matrix(rows),
                                        covariances: .dirac)
        let oracle = try Oracle(MixtureModel(prior: prior, name: "near copies (synthetic)"))
        var x = Matrix(rows: 6, columns: d)
        for b in 0..<6 {
            let atom = rows[(b * 397) % k]
            for i in 0..<d { x[b, i] = atom[i] + sigma * random.normal() }
        }
        let denoised = try oracle.denoise(x, at: NoiseLevel(alpha: 1, sigma: sigma))
        for b in 0..<x.rows {
            var logits = [Float80](repeating: 0, count: k)
            for c in 0..<k {
                var dist: Float80 = 0
                for i in 0..<d {
                    let e = Float80(x[b, i]) - Float80(rows[c][i])
                    dist += e * e
                }
                logits[c] = -dist / Float80(2 * sigma * sigma)
            }
            let top = logits.max()!
            let weights = logits.map { Float80(exp(Double($0 - top))) }
            let total = weights.reduce(0, +)
            var worst = 0.0
            for i in 0..<d {
                var sum: Float80 = 0
                for c in 0..<k where weights[c] != 0 { sum += weights[c] * Float80(rows[c][i]) }
                worst = max(worst, abs(Double(sum / total) - denoised[b, i]))
            }
            #expect(worst < 1e-11, "σ = \(sigma), point \(b): max |Δ| = \(worst)")
        }
    }
}
