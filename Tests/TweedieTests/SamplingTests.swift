import Foundation
import Testing
@testable import Tweedie
@testable import TweedieDistributions

/// Exact sampling from p_0 (``MixtureSampler``).
@Suite struct SamplingTests {
    /// Λ = [[1, 1, 0], [1, 1, 0], [0, 0, 2]]: singular (null vector (1, −1, 0)), so its square
    /// root comes from the eigendecomposition.
    static let singular = Matrix([[1, 1, 0], [1, 1, 0], [0, 0, 2]])

    /// K = 3 in D = 3: a random SPD component, the singular one, and a thin ellipse.
    static func fullMixture() -> GaussianMixture {
        var random = TestRandom(seed: 11)
        let thin = Matrix([[0.04, 0.01, 0], [0.01, 0.09, 0.02], [0, 0.02, 0.5]])
        return try! GaussianMixture(weights: [0.5, 0.3, 0.2], means: random.matrix(3, 3, scale: 3),
                                    covariances: .full([random.spd(3), singular, thin]))
    }

    static func mixtures() -> [(String, GaussianMixture)] {
        var random = TestRandom(seed: 5)
        let means = random.matrix(4, 3, scale: 2)
        let weights = [0.1, 0.2, 0.3, 0.4]
        return [
            ("full", fullMixture()),
            ("tied", try! GaussianMixture(weights: weights, means: means, covariances: .tied(random.spd(3)))),
            ("tied-singular", try! GaussianMixture(weights: weights, means: means, covariances: .tied(singular))),
            ("diag", try! GaussianMixture(weights: weights, means: means, covariances: .diagonal(
                Matrix([[0.5, 1, 2], [0, 0.3, 1], [1, 1, 1], [4, 0.1, 0.2]])))),
            ("spherical", try! GaussianMixture(weights: weights, means: means, covariances: .spherical([0.2, 1, 0, 3]))),
            ("dirac", try! GaussianMixture(weights: weights, means: means, covariances: .dirac)),
        ]
    }

    /// S_k S_kᵀ = Λ_k to rounding (1e-13 relative to the largest |Λ_k|), for every kind of Λ.
    @Test func squareRootsReproduceTheCovariances() {
        for (name, mixture) in Self.mixtures() {
            let sampler = MixtureSampler(mixture)
            for k in 0..<mixture.componentCount {
                let s = sampler.squareRoot(of: k), lambda = mixture.covariance(of: k)
                let product = BLAS.product(s, .none, s, .transpose)
                let scale = max(lambda.elements.map(abs).max() ?? 0, 1e-300)
                #expect(maxAbsDifference(product.elements, lambda.elements) <= 1e-13 * scale, "\(name) k = \(k)")
            }
        }
    }

    /// The pivoted Cholesky factor: S Sᵀ = Λ to 1e-13 relative with the numerical rank, for a
    /// 60×60 SPD matrix (rank 60), a rank-7 Gram matrix B Bᵀ (B 60×7) and the singular 3×3.
    @Test func pivotedCholeskyFindsTheRank() {
        var random = TestRandom(seed: 17)
        let b = random.matrix(60, 7)
        for (lambda, rank) in [(random.spd(60), 60), (BLAS.product(b, .none, b, .transpose).symmetrized, 7),
                               (Self.singular, 2), (Matrix(rows: 4, columns: 4), 0)] {
            let factor = PivotedCholesky(lambda)
            #expect(factor.rank == rank)
            let s = factor.squareRoot
            let product = BLAS.product(s, .none, s, .transpose)
            let scale = max(lambda.elements.map(abs).max() ?? 0, 1e-300)
            #expect(maxAbsDifference(product.elements, lambda.elements) <= 1e-13 * scale, "rank \(rank)")
            #expect(Set(factor.permutation) == Set(0..<lambda.rows))
        }
    }

    /// The inverse CDF of the weights: intervals [π_0 + … + π_{k−1}, π_0 + … + π_k) map to k,
    /// and a zero-weight component is never chosen.
    @Test func componentChoiceIsTheInverseCDF() throws {
        let mixture = try GaussianMixture(weights: [0, 0.25, 0, 0.75], means: Matrix(rows: 4, columns: 1),
                                          covariances: .dirac)
        let sampler = MixtureSampler(mixture)
        for (u, k) in [(0x1p-54, 1), (0.1, 1), (0.25.nextDown, 1), (0.25, 3), (0.9, 3), (1 - 0x1p-54, 3)] {
            #expect(sampler.component(forUniform: u) == k, "u = \(u)")
        }
        let (_, components) = try mixture.sample(count: 2000, seed: 3)
        #expect(Set(components) == [1, 3])
    }

    /// Sample i depends only on (seed, i): a short batch is the prefix of a long one; batches of
    /// 1, 7 and 100 compose through `firstSample`; 1 or 2 threads give the same bits.
    @Test func samplesDoNotDependOnBatchOrThreads() throws {
        for (name, mixture) in Self.mixtures() {
            let sampler = MixtureSampler(mixture)
            let long = try sampler.sample(count: 1000, seed: 77)
            let short = try sampler.sample(count: 10, seed: 77)
            #expect(short.points.elements == Array(long.points.elements.prefix(10 * 3)), "\(name)")
            #expect(short.components == Array(long.components.prefix(10)), "\(name)")
            for batch in [1, 7, 100] {
                let stacked = try inBatches(count: 300, of: batch) { first, count in
                    try sampler.sample(count: count, seed: 77, firstSample: first).points
                }
                #expect(stacked.elements == Array(long.points.elements.prefix(300 * 3)), "\(name) batch \(batch)")
            }
            let one = try withThreads(1) { try sampler.sample(count: 1000, seed: 77) }
            let two = try withThreads(2) { try sampler.sample(count: 1000, seed: 77) }
            #expect(one.points == long.points && two.points == long.points, "\(name)")
            #expect(try sampler.sample(count: 5, seed: 78).points != Matrix(rows: 5, columns: 3, elements: Array(long.points.elements.prefix(15))))
        }
    }

    /// 150 000 samples of the full mixture: component counts within 5 binomial standard
    /// deviations of nπ_k; each component's sample mean and covariance (about μ_k) within 5
    /// standard errors of μ_k and Λ_k (Gaussian errors √(Λ_ii/n_k) and √((Λ_iiΛ_jj + Λ_ij²)/n_k));
    /// the singular component's samples have no spread along its null vector (1, −1, 0).
    @Test func fullMixtureSamplesHaveTheRightLaw() throws {
        let mixture = Self.fullMixture()
        let n = 150_000
        let (points, components) = try mixture.sample(count: n, seed: 2025)
        try checkLaw(mixture, points: points, components: components)
        let mu = mixture.means.row(1)
        var worst = 0.0
        for r in 0..<n where components[r] == 1 {
            worst = max(worst, abs((points[r, 0] - mu[0]) - (points[r, 1] - mu[1])))
        }
        #expect(worst < 1e-12, "samples of the singular component leave its support by \(worst)")
    }

    /// The same checks for tied, diagonal (with a zero variance), spherical (with a zero
    /// variance) and Dirac mixtures, with 60 000 samples each; Dirac samples are the means exactly.
    @Test func otherCovarianceTypesHaveTheRightLaw() throws {
        for (name, mixture) in Self.mixtures() where name != "full" {
            let (points, components) = try mixture.sample(count: 60_000, seed: 31)
            try checkLaw(mixture, points: points, components: components, label: name)
            if name == "dirac" {
                for r in 0..<100 { #expect(points.row(r) == mixture.means.row(components[r])) }
            }
        }
    }

    private func checkLaw(_ mixture: GaussianMixture, points: Matrix, components: [Int], label: String = "full",
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let n = Double(points.rows)
        for k in 0..<mixture.componentCount {
            let rows = components.indices.filter { components[$0] == k }
            let p = mixture.weights[k]
            let expected = n * p, bound = 5 * (n * p * (1 - p)).squareRoot()
            #expect(abs(Double(rows.count) - expected) <= bound,
                    "\(label): component \(k) drawn \(rows.count) times, expected \(expected) ± \(bound)",
                    sourceLocation: sourceLocation)
            let moments = SampleMoments(points, rows: rows, centre: mixture.means.row(k))
            let problems = monteCarloMismatches(moments, mean: mixture.means.row(k),
                                                covariance: mixture.covariance(of: k), gaussian: true)
            #expect(problems.isEmpty, "\(label) component \(k): \(problems)", sourceLocation: sourceLocation)
        }
    }

    @Test func badArgumentsAreNamed() {
        let mixture = Self.fullMixture()
        #expect(throws: ArgumentError.self) { try mixture.sample(count: -1, seed: 0) }
        do { _ = try mixture.sample(count: -1, seed: 0) } catch { #expect(error.argument == "count") }
        do { _ = try mixture.sample(count: 2, seed: 0, firstSample: -3) } catch { #expect(error.argument == "firstSample") }
        do { _ = try mixture.sample(count: 2, seed: 0, firstSample: .max) } catch { #expect(error.argument == "count") }
        #expect((try? mixture.sample(count: 0, seed: 0))?.points.rows == 0)
    }
}
