import Foundation
import Testing
@testable import Tweedie

/// The metrics of ``SampleQuality``: exact log p_0, mode weights, sliced Wasserstein-2.
@Suite struct EvaluationTests {
    // MARK: Helpers

    /// log p_0 by a second route: Λ_k = U diag(λ) Uᵀ by the eigensolver, the quadratic form
    /// Σ_i (u_iᵀ(x − μ))²/λ_i, and a plain (not log-space) sum of π_k N_k.
    static func referenceLogDensity(_ mixture: GaussianMixture, _ x: [Double]) -> Double {
        let d = mixture.dimension
        var total = 0.0
        for k in 0..<mixture.componentCount {
            let eig = try! SymmetricEigendecomposition(mixture.covariance(of: k))
            var quadratic = 0.0, logDeterminant = 0.0
            for i in 0..<d {
                var projection = 0.0
                for j in 0..<d { projection += eig.vectors[j, i] * (x[j] - mixture.means[k, j]) }
                quadratic += projection * projection / eig.values[i]
                logDeterminant += log(eig.values[i])
            }
            total += mixture.weights[k] * exp(-0.5 * quadratic - 0.5 * logDeterminant - 0.5 * Double(d) * log(2 * .pi))
        }
        return log(total)
    }

    /// Random PD mixtures of every covariance type with a density, K = 4 in D = 3.
    static func densityMixtures() -> [(String, GaussianMixture)] {
        var random = TestRandom(seed: 21)
        let means = random.matrix(4, 3, scale: 2)
        let weights = [0.1, 0.2, 0.3, 0.4]
        return [
            ("full", try! GaussianMixture(weights: weights, means: means,
                                          covariances: .full((0..<4).map { _ in random.spd(3) }))),
            ("tied", try! GaussianMixture(weights: weights, means: means, covariances: .tied(random.spd(3)))),
            ("diag", try! GaussianMixture(weights: weights, means: means, covariances: .diagonal(
                Matrix([[0.5, 1, 2], [0.2, 0.3, 1], [1, 1, 1], [4, 0.1, 0.2]])))),
            ("spherical", try! GaussianMixture(weights: weights, means: means, covariances: .spherical([0.2, 1, 0.5, 3]))),
        ]
    }

    /// ring8 with its covariances multiplied by `factor`.
    static func inflated(_ mixture: GaussianMixture, by factor: Double) -> GaussianMixture {
        let covariances = (0..<mixture.componentCount).map { k -> Matrix in
            var m = mixture.covariance(of: k)
            for i in 0..<m.elements.count { m.elements[i] *= factor }
            return m
        }
        return try! GaussianMixture(weights: mixture.weights, means: mixture.means, covariances: .full(covariances))
    }

    /// The mixture with component `k` removed (weight 0, the others renormalized).
    static func dropping(_ k: Int, from mixture: GaussianMixture) -> GaussianMixture {
        var weights = mixture.weights
        weights[k] = 0
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        let last = weights.lastIndex { $0 > 0 }!
        weights[last] = 1 - weights.enumerated().filter { $0.offset != last }.reduce(0) { $0 + $1.element }
        return try! GaussianMixture(weights: weights, means: mixture.means, covariances: mixture.covariances)
    }

    static let ring8 = BuiltinModels.ring8().prior

    // MARK: Exact log p_0

    /// log p_0 and p(k | x) agree with the eigendecomposition route to 1e-11, for every
    /// covariance type, at points near and far (log p_0 down to ≈ −200) from the modes.
    @Test func logDensityMatchesAnIndependentRoute() throws {
        var random = TestRandom(seed: 4)
        for (name, mixture) in Self.densityMixtures() {
            let density = try PriorDensity(mixture)
            let x = random.matrix(40, 3, scale: 4)
            let logDensity = density.logDensity(x)
            let posterior = density.componentPosterior(x)
            for r in 0..<x.rows {
                let expected = Self.referenceLogDensity(mixture, x.row(r))
                #expect(abs(logDensity[r] - expected) <= 1e-11 * max(1, abs(expected)), "\(name) row \(r)")
                let rowSum = posterior.row(r).reduce(0, +)
                #expect(abs(rowSum - 1) <= 1e-14, "\(name) row \(r)")
                // p(k | x) = π_k N_k / p_0, from the log-joint densities.
                let joint = density.logJointDensities(Matrix(rows: 1, columns: 3, elements: x.row(r)))
                for k in 0..<4 {
                    #expect(abs(posterior[r, k] - exp(joint[0, k] - logDensity[r])) <= 1e-12, "\(name) row \(r) k \(k)")
                }
            }
        }
    }

    /// A point far out (−log p_0 ≈ 10⁵) still gives a finite log-density and a one-hot posterior.
    @Test func farPointsStayFinite() throws {
        let density = try PriorDensity(Self.ring8)
        let x = Matrix([[300, -200]])
        let logDensity = density.logDensity(x)[0]
        #expect(logDensity.isFinite && logDensity < -1e5)
        let posterior = density.componentPosterior(x).row(0)
        #expect(abs(posterior.reduce(0, +) - 1) < 1e-14 && posterior.allSatisfy { $0.isFinite })
    }

    /// For one Gaussian, the mean of −log p over n exact samples estimates the entropy
    /// H = ½ log det(2πe Λ) = (D/2)(1 + log 2π) + ½ log det Λ, and its standard error is
    /// √(Var[−log p]/n) = √(D/(2n)) (−log p = const + ½χ²_D).
    @Test func meanNegativeLogDensityOfOneGaussianIsItsEntropy() throws {
        var random = TestRandom(seed: 8)
        let d = 3, n = 20_000
        let lambda = random.spd(d)
        let mixture = try GaussianMixture(weights: [1], means: random.matrix(1, d), covariances: .full([lambda]))
        let samples = try mixture.sample(count: n, seed: 12).points
        let estimate = try PriorDensity(mixture).meanNegativeLogDensity(samples)
        let logDeterminant = try SymmetricEigendecomposition(lambda).values.reduce(0) { $0 + log($1) }
        let entropy = 0.5 * Double(d) * (1 + log(2 * Double.pi)) + 0.5 * logDeterminant
        let expectedError = (Double(d) / (2 * Double(n))).squareRoot()
        #expect(abs(estimate.mean - entropy) < 4 * expectedError, "\(estimate.mean) vs \(entropy)")
        #expect(abs(estimate.standardError / expectedError - 1) < 0.05)
        #expect(estimate.count == n)
    }

    /// Dirac components and singular covariances have no density on R^D.
    @Test func densityIsUnavailableWithoutAbsoluteContinuity() throws {
        let means = Matrix([[0, 0], [3, 1]])
        let cases: [GaussianMixture] = [
            try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .dirac),
            try GaussianMixture(weights: [0.5, 0.5], means: means,
                                covariances: .full([Matrix.identity(2), Matrix([[1, 1], [1, 1]])])),
            try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .tied(Matrix([[1, 0], [0, 0]]))),
            try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .diagonal(Matrix([[1, 1], [0, 1]]))),
            try GaussianMixture(weights: [0.5, 0.5], means: means, covariances: .spherical([1, 0])),
        ]
        for mixture in cases {
            #expect(throws: DensityUnavailable.self) { try PriorDensity(mixture) }
        }
    }

    /// Two independent exact sets of ring8: the difference of mean −log p_0 is within 4 of its
    /// standard errors; samples with 4× inflated covariances sit far above the entropy, by
    /// ½ E_q[(x − μ)ᵀΛ⁻¹(x − μ)] − ½ E_p[(x − μ)ᵀΛ⁻¹(x − μ)] = ½(4D − D) = 3 nats in D = 2 (the
    /// modes being well separated).
    @Test func crossEntropyIsAtTheFloorOnlyForExactSamples() throws {
        let density = try PriorDensity(Self.ring8)
        let n = 4000
        let a = try Self.ring8.sample(count: n, seed: 1).points
        let b = try Self.ring8.sample(count: n, seed: 2).points
        let exact = density.meanNegativeLogDensity(a).subtracting(density.meanNegativeLogDensity(b))
        #expect(abs(exact.mean) < 4 * exact.standardError, "\(exact)")

        let wide = try Self.inflated(Self.ring8, by: 4).sample(count: n, seed: 3).points
        let excess = density.meanNegativeLogDensity(wide).subtracting(density.meanNegativeLogDensity(b))
        #expect(excess.mean > 20 * excess.standardError, "\(excess)")
        #expect(abs(excess.mean - 3) < 0.2, "\(excess)")
    }

    // MARK: Mode weights

    /// Exact samples of a well-separated mixture are assigned to the component they were drawn
    /// from; their TV to π is at its Monte Carlo floor; dropping a mode gives TV ≈ its weight.
    @Test func modeWeightsSeeADroppedMode() throws {
        let n = 4000
        let (points, components) = try Self.ring8.sample(count: n, seed: 5)
        let assigner = ModeAssigner(Self.ring8)
        let assigned = assigner.assign(points)
        let agreement = zip(assigned, components).filter { $0 == $1 }.count
        #expect(agreement >= n - 2, "\(n - agreement) of \(n) misassigned")

        let exact = ModeWeights(of: points, mixture: Self.ring8)
        #expect(exact.total == n && exact.unassigned == 0)
        let floor = ModeWeights.expectedSamplingTotalVariation(weights: Self.ring8.weights, count: n)
        #expect(exact.totalVariation < 2.5 * floor, "TV \(exact.totalVariation), floor \(floor)")

        let dropped = try Self.dropping(7, from: Self.ring8).sample(count: n, seed: 6).points
        let weights = ModeWeights(of: dropped, mixture: Self.ring8)
        #expect(weights.counts[7] == 0)
        #expect(abs(weights.totalVariation - Self.ring8.weights[7]) < 0.03, "TV \(weights.totalVariation)")
        #expect(weights.totalVariation > 8 * floor)
    }

    /// TV = ½ Σ|ŵ_k − π_k| + ½ n_unassigned/n, by hand; a non-finite point is unassigned.
    @Test func totalVariationByHand() throws {
        let weights = ModeWeights(counts: [3, 1, 0], unassigned: 1, expected: [0.5, 0.25, 0.25])
        #expect(weights.estimated == [0.6, 0.2, 0])
        #expect(abs(weights.totalVariation - 0.5 * (0.1 + 0.05 + 0.25 + 0.2)) < 1e-15)
        let assigned = ModeAssigner(Self.ring8).assign(Matrix([[4, 0], [.nan, 0], [0, -4]]))
        #expect(assigned == [0, -1, 6])
    }

    /// Dirac components: each point goes to its nearest atom (checked by brute force on jittered
    /// atoms of spiral-dirac), ties to the larger weight.
    @Test func diracPointsGoToTheNearestAtom() throws {
        let mixture = BuiltinModels.spiralDirac().prior
        var random = TestRandom(seed: 2)
        let (atoms, components) = try mixture.sample(count: 500, seed: 4)
        #expect(ModeAssigner(mixture).assign(atoms) == components)
        let jittered = Matrix(rows: 500, columns: 2, elements: zip(atoms.elements, random.normals(1000)).map { $0 + 0.3 * $1 })
        let assigned = ModeAssigner(mixture).assign(jittered)
        for r in 0..<500 {
            let distances = (0..<mixture.componentCount).map { k in
                pow(jittered[r, 0] - mixture.means[k, 0], 2) + pow(jittered[r, 1] - mixture.means[k, 1], 2)
            }
            #expect(assigned[r] == distances.indices.min { distances[$0] < distances[$1] }!, "row \(r)")
        }
        let tie = try GaussianMixture(weights: [0.3, 0.7], means: Matrix([[-1], [1]]), covariances: .dirac)
        #expect(ModeAssigner(tie).assign(Matrix([[0], [-0.1]])) == [1, 0])
    }

    /// Singular Gaussian components are assigned by the small-δ limit of their posterior: exact
    /// samples of well-separated singular components go back to their component.
    @Test func singularComponentsAreAssigned() throws {
        let mixture = try GaussianMixture(weights: [0.2, 0.3, 0.5], means: Matrix([[0, 0, 0], [10, 0, 0], [0, 10, 0]]),
                                          covariances: .tied(Matrix([[1, 1, 0], [1, 1, 0], [0, 0, 2]])))
        let (points, components) = try mixture.sample(count: 600, seed: 9)
        #expect(ModeAssigner(mixture).assign(points) == components)
    }

    // MARK: Sliced Wasserstein

    /// Directions are unit vectors, a pure function of (seed, D, M); SW₂(a, a) = 0; SW₂ is
    /// symmetric; unequal sizes and non-finite points are errors.
    @Test func slicedWassersteinBasics() throws {
        let sliced = try SlicedWasserstein(dimension: 5, projections: 64, seed: 3)
        for j in 0..<64 {
            #expect(abs(sliced.directions.row(j).reduce(0) { $0 + $1 * $1 } - 1) < 1e-14)
        }
        #expect(try SlicedWasserstein(dimension: 5, projections: 64, seed: 3).directions == sliced.directions)
        #expect(try SlicedWasserstein(dimension: 5, projections: 64, seed: 4).directions != sliced.directions)
        var random = TestRandom(seed: 1)
        let a = random.matrix(100, 5), b = random.matrix(100, 5, scale: 2)
        #expect(try sliced.distance(a, a) == 0)
        #expect(abs(try sliced.distance(a, b) - sliced.distance(b, a)) < 1e-14)
        #expect(throws: ArgumentError.self) { try sliced.distance(a, random.matrix(99, 5)) }
        var bad = a
        bad[3, 2] = .infinity
        #expect(throws: ArgumentError.self) { try sliced.distance(bad, b) }
    }

    /// A shift b = a + δ: in direction u both projections sort identically, so W₂² = (u·δ)²
    /// exactly, and SW₂² is the mean of (u_j·δ)² over the directions; over the sphere it
    /// averages to ‖δ‖²/D (with 4096 directions in D = 3: within 3%).
    @Test func slicedWassersteinOfAShiftIsTheClosedForm() throws {
        var random = TestRandom(seed: 6)
        let d = 3
        let delta = [1.0, -2.0, 0.5]
        let a = random.matrix(200, d)
        var b = a
        for r in 0..<b.rows { for i in 0..<d { b[r, i] += delta[i] } }
        let sliced = try SlicedWasserstein(dimension: d, projections: 4096, seed: 2)
        let squared = try sliced.squaredDistance(a, b)
        let overDirections = (0..<4096).map { j in
            pow((0..<d).reduce(0.0) { $0 + sliced.directions[j, $1] * delta[$1] }, 2)
        }.reduce(0, +) / 4096
        #expect(abs(squared - overDirections) < 1e-12 * overDirections)
        let closedForm = delta.reduce(0) { $0 + $1 * $1 } / Double(d)
        #expect(abs(squared / closedForm - 1) < 0.03, "\(squared) vs \(closedForm)")
    }

    /// Two independent Gaussian sets N(0, I) and N(δ, I): in direction u, W₂² is (u·δ̂)² plus
    /// the W₂² of the centred sets (order 1/n), δ̂ = b̄ − ā the shift of the sample means, so
    /// SW₂² is within 0.02 of the mean of (u_j·δ̂)² (n = 2000), and near ‖δ‖²/D; two sets of
    /// the same distribution give SW₂ near 0.
    @Test func slicedWassersteinOfShiftedGaussians() throws {
        var random = TestRandom(seed: 7)
        let d = 3, n = 2000
        let delta = [1.0, -2.0, 0.5]
        let a = random.matrix(n, d)
        var b = random.matrix(n, d)
        for r in 0..<n { for i in 0..<d { b[r, i] += delta[i] } }
        let shift = (0..<d).map { i in (0..<n).reduce(0.0) { $0 + b[$1, i] - a[$1, i] } / Double(n) }
        let sliced = try SlicedWasserstein(dimension: d, projections: 256, seed: 2)
        let squared = try sliced.squaredDistance(a, b)
        let overDirections = (0..<256).map { j in
            pow((0..<d).reduce(0.0) { $0 + sliced.directions[j, $1] * shift[$1] }, 2)
        }.reduce(0, +) / 256
        #expect(abs(squared - overDirections) < 0.02, "\(squared) vs \(overDirections)")
        let closedForm = delta.reduce(0) { $0 + $1 * $1 } / Double(d)
        #expect(abs(squared / closedForm - 1) < 0.15, "\(squared) vs \(closedForm)")
        let same = try sliced.distance(a, random.matrix(n, d))
        #expect(same < 0.12, "\(same)")   // vs SW₂ ≈ 1.32 for the shift
    }

    // MARK: The whole report

    /// Exact samples: every figure at its floor. A dropped mode and inflated covariances: each
    /// figure clearly above it.
    @Test func sampleQualitySeparatesRightFromWrong() throws {
        let n = 2000
        let exact = try SampleQuality(samples: Self.ring8.sample(count: n, seed: 100).points, mixture: Self.ring8, seed: 1)
        let excess = try #require(exact.excessNegativeLogDensity)
        #expect(abs(excess.mean) < 4 * excess.standardError)
        #expect(exact.modeWeights.totalVariation < 2.5 * ModeWeights.expectedSamplingTotalVariation(weights: Self.ring8.weights, count: n))
        #expect(exact.slicedWasserstein < 2 * exact.slicedWassersteinFloor,
                "\(exact.slicedWasserstein) vs floor \(exact.slicedWassersteinFloor)")
        #expect(exact.referenceSeed != exact.floorSeed && exact.referenceSeed != 1)

        let dropped = try SampleQuality(samples: Self.dropping(7, from: Self.ring8).sample(count: n, seed: 100).points,
                                        mixture: Self.ring8, seed: 1)
        #expect(dropped.modeWeights.totalVariation > 5 * dropped.referenceModeWeights.totalVariation)
        #expect(dropped.slicedWasserstein > 4 * dropped.slicedWassersteinFloor,
                "\(dropped.slicedWasserstein) vs floor \(dropped.slicedWassersteinFloor)")

        let wide = try SampleQuality(samples: Self.inflated(Self.ring8, by: 4).sample(count: n, seed: 100).points,
                                     mixture: Self.ring8, seed: 1)
        let wideExcess = try #require(wide.excessNegativeLogDensity)
        #expect(wideExcess.mean > 20 * wideExcess.standardError)
        // The floors depend only on (seed, n), not on the samples.
        #expect(wide.slicedWassersteinFloor == exact.slicedWassersteinFloor)
        #expect(wide.entropy == exact.entropy)

        // Well-separated modes make the SW₂ floor large (a mode's share fluctuates by ~1/√n and
        // moves quantiles across the gaps between modes), so a 3× wider spread needs n = 8000
        // to stand clearly above it.
        let large = 8000
        let wider = try SampleQuality(samples: Self.inflated(Self.ring8, by: 9).sample(count: large, seed: 100).points,
                                      mixture: Self.ring8, seed: 1)
        #expect(wider.slicedWasserstein > 2 * wider.slicedWassersteinFloor,
                "\(wider.slicedWasserstein) vs floor \(wider.slicedWassersteinFloor)")
    }

    /// Dirac models have no density: the cross-entropy figures are nil with the reason; the
    /// mode weights and SW₂ are still computed.
    @Test func diracModelsReportNoDensity() throws {
        let mixture = BuiltinModels.spiralDirac().prior
        let quality = try SampleQuality(samples: mixture.sample(count: 500, seed: 3).points, mixture: mixture, seed: 2)
        #expect(quality.negativeLogDensity == nil && quality.entropy == nil && quality.excessNegativeLogDensity == nil)
        #expect(quality.densityUnavailable?.reason.contains("Dirac") == true)
        #expect(quality.slicedWasserstein.isFinite && quality.modeWeights.total == 500)
    }
}
