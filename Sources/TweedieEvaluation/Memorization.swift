import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// How closely samples copy the training set of a data-set (Dirac) model p_0 = Σ_k π_k δ(x − μ_k),
/// whose atoms μ_k of positive weight are the training points.
///
/// For each sample x, d₁(x) and d₂(x) are its Euclidean distances to the nearest and the
/// second-nearest training point. The figures:
///
/// - fraction memorized within τ: the share of samples with d₁ ≤ τ, where τ defaults to one third
///   of the median nearest-neighbour distance between training points (each training point's
///   distance to its nearest other training point; the median over all of them, or over a seeded
///   subsample of ``medianSubsample`` when there are more);
/// - mean nearest-neighbour ratio: the mean of d₁/d₂ (0 for a sample on a training point, near
///   1 for a sample between training points);
/// - fraction with d₁/d₂ < 1/3: the memorization criterion of the diffusion-model memorization
///   literature (e.g. Gu et al. 2023, "On Memorization in Diffusion Models"): a sample counts as
///   memorized when it is three times closer to its nearest training point than to the next.
///
/// Exact samples of a Dirac model *are* training points (d₁ = 0), so their figures — the noise
/// floors — are "fully memorized": fractions 1 and mean ratio 0. A model that generalizes sits
/// away from that floor; these figures measure the distance from memorization, not from p_0.
///
/// Nearest neighbours come from blocked GEMMs (‖x − μ‖² = ‖x‖² − 2xᵀμ + ‖μ‖², rows in blocks of
/// 256 on all cores); d₁ and d₂ of the two candidates found are then recomputed by direct
/// subtraction, so a sample equal to a training point has d₁ = 0 exactly.
public struct Memorization: Sendable, Equatable {
    /// τ, the distance within which a sample counts as a copy.
    public let radius: Double
    /// d₁ of each sample.
    public let nearestDistances: [Double]
    /// d₂ of each sample.
    public let secondNearestDistances: [Double]
    /// The nearest training point of each sample, as the index of its component in the model.
    public let nearestComponents: [Int]

    /// Training points used for the median nearest-neighbour distance when there are more.
    public static let medianSubsample = 2000
    /// The ratio threshold of the literature criterion, d₁/d₂ < 1/3.
    public static let ratioThreshold = 1.0 / 3

    /// Measures the rows of `samples` (n×D, finite) against the atoms of positive weight of a
    /// Dirac `mixture` (at least two). `radius` defaults to ⅓ of
    /// ``medianNearestNeighbourDistance(of:seed:)`` with `seed`.
    public init(samples: Matrix, mixture: GaussianMixture, radius: Double? = nil,
                seed: UInt64 = 0) throws(ArgumentError) {
        let training = try Self.trainingPoints(of: mixture)
        try PairwiseSums.check(samples, "samples", dimension: mixture.dimension)
        if let radius, !(radius >= 0 && radius.isFinite) {
            throw ArgumentError("radius", "must be non-negative and finite, got \(radius)")
        }
        self.radius = radius ?? Self.medianNearestNeighbourDistance(of: training, seed: seed) / 3
        let kept = (0..<mixture.componentCount).filter { mixture.weights[$0] > 0 }
        let found = Self.twoNearest(samples, training, excludingSelf: false)
        (nearestDistances, secondNearestDistances) = (found.0, found.1)
        nearestComponents = found.2.map { $0 >= 0 ? kept[$0] : -1 }
    }

    /// The training points of a Dirac mixture: its atoms of positive weight (at least two).
    public static func trainingPoints(of mixture: GaussianMixture) throws(ArgumentError) -> Matrix {
        guard case .dirac = mixture.covariances else {
            throw ArgumentError("model", "memorization needs a data-set (Dirac) model")
        }
        let kept = (0..<mixture.componentCount).filter { mixture.weights[$0] > 0 }
        guard kept.count >= 2 else {
            throw ArgumentError("model", "memorization needs at least two training points, got \(kept.count)")
        }
        var points = Matrix(rows: kept.count, columns: mixture.dimension)
        for (r, k) in kept.enumerated() { points.setRow(r, to: mixture.means.row(k)) }
        return points
    }

    /// The median over training points of the distance to their nearest other training point
    /// (over a subsample of ``medianSubsample`` points, chosen without replacement by `seed`,
    /// when there are more).
    public static func medianNearestNeighbourDistance(of training: Matrix, seed: UInt64 = 0) -> Double {
        let total = training.rows
        var order = Array(0..<total)
        let count = min(total, medianSubsample)
        if count < total {
            let stream = NoiseStream(seed: seed)
            for i in 0..<count {
                let j = i + min(Int(stream.uniform(sample: i, step: 0) * Double(total - i)), total - i - 1)
                order.swapAt(i, j)
            }
        }
        var queries = Matrix(rows: count, columns: training.columns)
        for r in 0..<count { queries.setRow(r, to: training.row(order[r])) }
        // Each query's own row is excluded by index; duplicates of it elsewhere count (distance 0).
        var nearest = twoNearest(queries, training, excludingSelf: true, queryIndices: Array(order.prefix(count))).0
        return PairwiseSums.median(&nearest)
    }

    /// The share of samples with d₁ ≤ τ.
    public var fractionWithinRadius: Double {
        fraction { d1, _ in d1 <= radius }
    }

    /// d₁/d₂ of each sample: 0 when d₁ = 0 (also when a duplicated training point makes d₂ = 0).
    public var ratios: [Double] {
        zip(nearestDistances, secondNearestDistances).map { d1, d2 in d1 == 0 ? 0 : d1 / d2 }
    }

    /// The mean of d₁/d₂.
    public var meanRatio: Double {
        let r = ratios
        return r.isEmpty ? .nan : r.reduce(0, +) / Double(r.count)
    }

    /// The share of samples with d₁/d₂ < 1/3.
    public var fractionBelowRatioThreshold: Double {
        let r = ratios
        return r.isEmpty ? .nan : Double(r.filter { $0 < Self.ratioThreshold }.count) / Double(r.count)
    }

    private func fraction(_ predicate: (Double, Double) -> Bool) -> Double {
        guard !nearestDistances.isEmpty else { return .nan }
        let hits = zip(nearestDistances, secondNearestDistances).filter { predicate($0, $1) }.count
        return Double(hits) / Double(nearestDistances.count)
    }

    /// d₁ and d₂ of each row of `queries` among the rows of `points` (at least two), skipping
    /// with `excludingSelf` the row of `points` whose index is the query's entry of `queryIndices`.
    static func twoNearest(_ queries: Matrix, _ points: Matrix, excludingSelf: Bool,
                           queryIndices: [Int] = []) -> ([Double], [Double], [Int]) {
        let b = queries.rows, d = queries.columns, k = points.rows
        let pointNorms = PairwiseSums.squaredNorms(points)
        let chunk = 256
        var first = [Double](repeating: .infinity, count: b), second = first
        var nearest = [Int](repeating: -1, count: b)
        first.withUnsafeMutableBufferPointer { firstOut in
            second.withUnsafeMutableBufferPointer { secondOut in
              nearest.withUnsafeMutableBufferPointer { nearestOut in
                let out = UncheckedSendable((firstOut.baseAddress!, secondOut.baseAddress!, nearestOut.baseAddress!))
                Parallel.forEachChunk(of: b, size: chunk) { rows in
                    let block = Matrix(rows: rows.count, columns: d,
                                       elements: Array(queries.elements[(rows.lowerBound * d)..<(rows.upperBound * d)]))
                    let cross = BLAS.product(block, .none, points, .transpose)
                    for r in 0..<rows.count {
                        let query = rows.lowerBound + r
                        let own = excludingSelf ? queryIndices[query] : -1
                        // ‖x‖² is common to every candidate: rank by ‖μ‖² − 2 xᵀμ.
                        var best = -1, runnerUp = -1
                        var bestScore = Double.infinity, runnerUpScore = Double.infinity
                        for c in 0..<k where c != own {
                            let score = pointNorms[c] - 2 * cross[r, c]
                            if score < bestScore {
                                (runnerUp, runnerUpScore) = (best, bestScore)
                                (best, bestScore) = (c, score)
                            } else if score < runnerUpScore {
                                (runnerUp, runnerUpScore) = (c, score)
                            }
                        }
                        func distance(_ c: Int) -> Double {
                            guard c >= 0 else { return .infinity }
                            var s = 0.0
                            for i in 0..<d {
                                let e = queries.elements[query * d + i] - points.elements[c * d + i]
                                s += e * e
                            }
                            return s.squareRoot()
                        }
                        let (d1, d2) = (distance(best), distance(runnerUp))
                        out.value.0[query] = min(d1, d2)
                        out.value.1[query] = max(d1, d2)
                        out.value.2[query] = d1 <= d2 ? best : runnerUp
                    }
                }
              }
            }
        }
        return (first, second, nearest)
    }
}
