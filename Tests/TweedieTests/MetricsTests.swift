import Foundation
import Testing
@testable import Tweedie
@testable import TweedieEvaluation

private typealias Measurement = TweedieEvaluation.Measurement

/// The metrics of ``SampleEvaluation`` beyond ``SampleQuality``: per-mode moments, MMD, energy
/// distance, memorization, and the path error.
@Suite struct MetricsTests {
    static let ring8 = BuiltinModels.ring8()

    /// ring8 with its means moved by `shift` (the same for every mode).
    static func shifted(_ mixture: GaussianMixture, by shift: [Double]) -> GaussianMixture {
        var means = mixture.means
        for k in 0..<means.rows { for i in 0..<means.columns { means[k, i] += shift[i] } }
        return try! GaussianMixture(weights: mixture.weights, means: means, covariances: mixture.covariances)
    }

    fileprivate static func byName(_ measurements: [Measurement]) -> [String: Measurement] {
        Dictionary(uniqueKeysWithValues: measurements.map { ($0.name, $0) })
    }

    // MARK: Pairwise sums

    /// The blocked GEMM sums equal a brute-force double loop, with blocks (7 rows) smaller than
    /// the sets so that partial and off-diagonal blocks are exercised.
    @Test func pairwiseSumsMatchBruteForce() throws {
        var random = TestRandom(seed: 31)
        let x = random.matrix(30, 3, scale: 2), y = random.matrix(23, 3)
        let h = 1.7
        func distance(_ a: [Double], _ b: [Double]) -> Double {
            zip(a, b).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        }
        var within = [0.0, 0.0], cross = [0.0, 0.0]
        for i in 0..<30 {
            for j in 0..<30 where j != i {
                let r = distance(x.row(i), x.row(j))
                within[0] += exp(-r * r / (2 * h * h))
                within[1] += r
            }
            for j in 0..<23 {
                let r = distance(x.row(i), y.row(j))
                cross[0] += exp(-r * r / (2 * h * h))
                cross[1] += r
            }
        }
        let kernels: [PairwiseKernel] = [.gaussian(bandwidth: h), .distance]
        for blockSize in [7, 1024] {
            let w = PairwiseSums.within(x, kernels: kernels, blockSize: blockSize)
            let c = PairwiseSums.cross(x, y, kernels: kernels, blockSize: blockSize)
            for q in 0..<2 {
                #expect(abs(w[q] - within[q]) < 1e-11 * within[q], "block \(blockSize) kernel \(q)")
                #expect(abs(c[q] - cross[q]) < 1e-11 * cross[q], "block \(blockSize) kernel \(q)")
            }
        }
        // The median heuristic over all 53 pooled points, by hand.
        var distances: [Double] = []
        let pooled = (0..<30).map { x.row($0) } + (0..<23).map { y.row($0) }
        for i in 0..<53 { for j in (i + 1)..<53 { distances.append(distance(pooled[i], pooled[j])) } }
        distances.sort()
        let median = distances[distances.count / 2]   // 1378 pairs: an even count
        let expected = 0.5 * (distances[distances.count / 2 - 1] + median)
        #expect(abs(try MaximumMeanDiscrepancy.bandwidth(pooling: x, y) - expected) < 1e-12)
        // Quickselect medians against sorting, odd and even counts, with ties.
        for count in [1, 2, 5, 6, 101, 400] {
            var values = (0..<count).map { _ in (random.uniform() * 20).rounded() }
            let sorted = values.sorted()
            let expected = count % 2 == 1 ? sorted[count / 2] : 0.5 * (sorted[count / 2 - 1] + sorted[count / 2])
            #expect(PairwiseSums.median(&values) == expected, "count \(count)")
        }
        // A subsample is seeded: the same seed, the same bandwidth.
        let a = try MaximumMeanDiscrepancy.bandwidth(pooling: x, y, subsample: 20, seed: 5)
        #expect(try MaximumMeanDiscrepancy.bandwidth(pooling: x, y, subsample: 20, seed: 5) == a)
    }

    /// The non-generic sort behind the sliced Wasserstein distance agrees with the standard
    /// library's, across the insertion-sort cutoff, with ties and with all values equal.
    @Test func sortAgreesWithTheStandardLibrary() {
        var random = TestRandom(seed: 3)
        for count in [0, 1, 2, 15, 16, 17, 100, 5000] {
            for kind in 0..<3 {
                var values: [Double] = (0..<count).map { _ in
                    kind == 0 ? random.normal() : kind == 1 ? (random.uniform() * 5).rounded() : 1
                }
                let expected = values.sorted()
                values.withUnsafeMutableBufferPointer { sortAscending($0) }
                #expect(values == expected, "count \(count), kind \(kind)")
            }
        }
    }

    // MARK: Closed forms

    /// Point masses at a and b: Ê = 2‖a − b‖ (the within-set terms vanish) and
    /// MMD²_u = 1 + 1 − 2 exp(−‖a − b‖²/(2h²)).
    @Test func pointMassesHaveClosedForms() throws {
        let a = [1.0, -2.0, 0.5], b = [3.0, 0.0, -0.5]
        let x = Matrix(rows: 40, columns: 3, elements: Array([[Double]](repeating: a, count: 40).joined()))
        let y = Matrix(rows: 25, columns: 3, elements: Array([[Double]](repeating: b, count: 25).joined()))
        let gap = zip(a, b).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let energy = try EnergyDistance.estimate(x, y)
        #expect(abs(energy - 2 * gap.squareRoot()) < 1e-6, "\(energy) vs \(2 * gap.squareRoot())")
        let mmd = try MaximumMeanDiscrepancy(bandwidth: 2)
        let expected = 2 - 2 * exp(-gap / 8)
        #expect(abs(try mmd.squaredDistance(x, y) - expected) < 1e-12)
        // Equal point masses: both are 0 (up to the rounding of √ of a cancelled square).
        #expect(abs(try EnergyDistance.estimate(x, x)) < 1e-6)
        #expect(abs(try mmd.squaredDistance(x, x)) < 1e-12)
    }

    /// One set against itself: with k̄ the mean kernel value over pairs i ≠ j,
    /// MMD²_u(X, X) = 2k̄ − 2(n(n−1)k̄ + n)/n² = −(2/n)(1 − k̄) exactly — the unbiased
    /// estimator's diagonal correction, of order 1/n. Two independent sets of one law: MMD²_u and
    /// Ê within a few times that order of 0; a shifted law: far above.
    @Test func identicalLawsGiveZeroUpToNoise() throws {
        var random = TestRandom(seed: 41)
        let n = 800
        let x = random.matrix(n, 2), y = random.matrix(n, 2)
        let mmd = try MaximumMeanDiscrepancy(pooling: x, y)
        let kbar = PairwiseSums.within(x, kernels: [mmd.kernel])[0] / Double(n * (n - 1))
        let selfDistance = try mmd.squaredDistance(x, x)
        #expect(abs(selfDistance + 2 / Double(n) * (1 - kbar)) < 1e-12, "\(selfDistance)")
        let same = try mmd.squaredDistance(x, y), sameEnergy = try EnergyDistance.estimate(x, y)
        var z = random.matrix(n, 2)
        for r in 0..<n { z[r, 0] += 0.5 }
        let shifted = try mmd.squaredDistance(x, z), shiftedEnergy = try EnergyDistance.estimate(x, z)
        // Covariance inflated ×2: N(0, 2I).
        let wide = Matrix(rows: n, columns: 2, elements: random.normals(2 * n).map { $0 * 2.0.squareRoot() })
        let wideMMD = try mmd.squaredDistance(x, wide), wideEnergy = try EnergyDistance.estimate(x, wide)
        print("MMD² same \(same) shifted \(shifted) wide \(wideMMD); energy same \(sameEnergy) shifted \(shiftedEnergy) wide \(wideEnergy); h \(mmd.bandwidth)")
        #expect(abs(same) < 2 / Double(n), "\(same)")
        #expect(abs(sameEnergy) < 4 / Double(n), "\(sameEnergy)")
        #expect(shifted > 10 / Double(n) && wideMMD > 10 / Double(n), "\(shifted), \(wideMMD)")
        #expect(shiftedEnergy > 20 / Double(n) && wideEnergy > 20 / Double(n), "\(shiftedEnergy), \(wideEnergy)")
    }

    // MARK: The whole report

    /// Exact samples of ring8 (n = 1000): every figure within its stated Monte Carlo tolerance
    /// of its floor. A dropped mode, covariances inflated ×2, and means shifted by (0.2, −0.1):
    /// the figures that see each defect stand clearly above their floors. (With the
    /// median-heuristic bandwidth, h ≈ 5 ≫ the modes' 0.15–0.35 spreads, MMD and the energy
    /// distance see the dropped mode but not the within-mode defects; the per-mode moments and
    /// the cross-entropy do.)
    @Test func everyFigureSeparatesRightFromWrong() throws {
        let n = 1000
        let model = Self.ring8, prior = model.prior
        func measure(_ mixture: GaussianMixture) throws -> [String: Measurement] {
            let list = try SampleEvaluation.measure(mixture.sample(count: n, seed: 100).points, model: model, seed: 1)
            #expect(list.map(\.name) == ["cross_entropy", "cross_entropy_gap", "tv_mode_weights", "mode_mean_error",
                                         "mode_covariance_error", "sliced_w2", "mmd2", "energy_distance"])
            return Self.byName(list)
        }
        let exact = try measure(prior)
        let dropped = try measure(EvaluationTests.dropping(7, from: prior))
        let wide = try measure(EvaluationTests.inflated(prior, by: 2))
        let moved = try measure(Self.shifted(prior, by: [0.2, -0.1]))
        func value(_ set: [String: Measurement], _ name: String) -> Double { set[name]!.value }
        func floor(_ set: [String: Measurement], _ name: String) -> Double { set[name]!.noiseFloor! }
        for (label, set) in [("exact", exact), ("dropped", dropped), ("wide", wide), ("moved", moved)] {
            print(label, set.values.sorted { $0.name < $1.name }.map { "\($0.name) \($0.value) (floor \($0.noiseFloor ?? .nan))" })
        }

        // Exact: at the floor. The gap within 4 standard errors; TV within 3× its expected value;
        // the moment errors and SW₂ within 2× the exact set's; MMD²_u and Ê within 2/n and 10/n
        // of 0 (their spreads for equal laws are of order 1/n times the kernel's and the
        // distances' scale, ≈ 1 and ≈ 5 here).
        let tvExpected = ModeWeights.expectedSamplingTotalVariation(weights: prior.weights, count: n)
        #expect(abs(value(exact, "cross_entropy_gap")) < 4 * floor(exact, "cross_entropy_gap"))
        #expect(value(exact, "tv_mode_weights") < 3 * tvExpected)
        for name in ["mode_mean_error", "mode_covariance_error", "sliced_w2"] {
            #expect(value(exact, name) < 2 * floor(exact, name), "\(name)")
        }
        #expect(abs(value(exact, "mmd2")) < 2 / Double(n) && abs(floor(exact, "mmd2")) < 2 / Double(n))
        #expect(abs(value(exact, "energy_distance")) < 10 / Double(n) && abs(floor(exact, "energy_distance")) < 10 / Double(n))

        // A dropped mode (weight 8/36): mode weights, SW₂, MMD, energy.
        #expect(value(dropped, "tv_mode_weights") > 5 * floor(dropped, "tv_mode_weights"))
        #expect(value(dropped, "sliced_w2") > 4 * floor(dropped, "sliced_w2"))
        #expect(value(dropped, "mmd2") > 20 / Double(n))
        #expect(value(dropped, "energy_distance") > 100 / Double(n))
        // Covariances ×2: the cross-entropy gap (E_q[−log p_0] − H(p_0) = (D/2)(2 − 1) = 1 nat
        // for well-separated modes) and the covariance error (‖2Λ − Λ‖_F/‖Λ‖_F = 1).
        #expect(value(wide, "cross_entropy_gap") > 10 * floor(wide, "cross_entropy_gap"))
        #expect(abs(value(wide, "cross_entropy_gap") - 1) < 0.15)
        #expect(value(wide, "mode_covariance_error") > 5 * floor(wide, "mode_covariance_error"))
        #expect(abs(value(wide, "mode_covariance_error") - 1) < 0.15)
        // Means shifted by ‖(0.2, −0.1)‖ = 0.224 (about one mode spread): the mean error.
        #expect(value(moved, "mode_mean_error") > 5 * floor(moved, "mode_mean_error"))
        #expect(abs(value(moved, "mode_mean_error") - 0.05.squareRoot()) < 0.03)
    }

    /// Per-mode moments by hand: twelve points of mode 0 whose mean and covariance are known,
    /// and four of mode 1, too few to compare (nil).
    @Test func modeMomentsByHand() throws {
        let mixture = try GaussianMixture(weights: [0.25, 0.75], means: Matrix([[0.0, 0.0], [10.0, 0.0]]),
                                          covariances: .spherical([1, 2]))
        // Mode 0: ±1 on each axis, three times; mode 1: 4 points, below the minimum of 10.
        var rows: [[Double]] = []
        for _ in 0..<3 { rows += [[1, 0], [-1, 0], [0, 1], [0, -1]] }
        rows += [[10, 0], [11, 0], [10, 1], [9, 0]]
        let points = Matrix(rows)
        let assignments = [Int](repeating: 0, count: 12) + [1, 1, 1, 1]
        let moments = ModeMoments(of: points, assignments: assignments, mixture: mixture)
        #expect(moments.counts == [12, 4] && moments.comparedModes == 1)
        #expect(moments.meanErrors[1] == nil && moments.covarianceErrors[1] == nil)
        // Ŝ = (6/11) I (each axis: six ±1 values, sum of squares 6, over n − 1 = 11), Λ = I:
        // ‖Ŝ − I‖_F/‖I‖_F = (5/11)·√2/√2 = 5/11.
        #expect(abs(moments.meanErrors[0]! - 0) < 1e-15)
        #expect(abs(moments.covarianceErrors[0]! - 5.0 / 11) < 1e-14)
        #expect(moments.covarianceError == moments.covarianceErrors[0])
    }

    // MARK: Memorization

    /// spiral-dirac (200 training points): its exact samples are all memorized (d₁ = 0, ratio 0,
    /// both fractions 1), which is also the floor SampleEvaluation reports; samples of its
    /// Gaussian smoothing (standard deviation 0.3, about twice the spacing of neighbouring
    /// training points) are not. τ defaults to ⅓ of the median nearest-neighbour distance.
    @Test func exactDiracSamplesAreMemorizedSmoothedOnesAreNot() throws {
        let model = BuiltinModels.spiralDirac(), prior = model.prior
        let n = 1000
        let exact = try prior.sample(count: n, seed: 8).points
        let memorized = try Memorization(samples: exact, mixture: prior)
        let training = try Memorization.trainingPoints(of: prior)
        #expect(abs(memorized.radius - Memorization.medianNearestNeighbourDistance(of: training) / 3) < 1e-15)
        #expect(memorized.fractionWithinRadius == 1 && memorized.meanRatio == 0
                && memorized.fractionBelowRatioThreshold == 1)
        #expect(memorized.nearestDistances.allSatisfy { $0 == 0 })

        let smoothing = try GaussianMixture(weights: prior.weights, means: prior.means,
                                            covariances: .spherical([Double](repeating: 0.09, count: prior.componentCount)))
        let smooth = try smoothing.sample(count: n, seed: 9).points
        let generalized = try Memorization(samples: smooth, mixture: prior)
        print("radius \(memorized.radius); smoothed: within τ \(generalized.fractionWithinRadius), mean ratio \(generalized.meanRatio), ratio < 1/3 \(generalized.fractionBelowRatioThreshold)")
        #expect(generalized.fractionWithinRadius < 0.2)
        #expect(generalized.meanRatio > 0.6)
        #expect(generalized.fractionBelowRatioThreshold < 0.1)

        let report = Self.byName(try SampleEvaluation.measure(smooth, model: model, seed: 3))
        for name in ["memorized_fraction", "memorized_ratio_fraction"] {
            let m = try #require(report[name])
            #expect(m.noiseFloor == 1 && m.value < 0.2, "\(name): \(m.value)")
        }
        let ratio = try #require(report["nn_distance_ratio"])
        #expect(ratio.noiseFloor == 0 && ratio.value > 0.6)
        #expect(report["cross_entropy"] == nil && report["mode_covariance_error"] == nil)
        #expect(throws: ArgumentError.self) { try Memorization(samples: smooth, mixture: Self.ring8.prior) }
    }

    // MARK: Path error

    /// √((1/C) Σ‖x_r − y_r‖²) by hand; no noise floor; mismatched shapes are an error.
    @Test func pathErrorIsTheRootMeanSquareDistance() throws {
        let reference = Matrix([[0, 0], [1, 1], [2, -1]])
        let samples = Matrix([[3, 4], [1, 1], [2, -1 + 2]])
        let error = try PathError.rms(samples: samples, reference: reference)
        #expect(abs(error.value - ((25.0 + 0 + 4) / 3).squareRoot()) < 1e-15)
        #expect(error.name == "path_error" && error.noiseFloor == nil)
        #expect(throws: ArgumentError.self) {
            try PathError.rms(samples: samples, reference: Matrix(rows: 2, columns: 2))
        }
    }
}
