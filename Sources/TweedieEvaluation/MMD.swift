import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The squared maximum mean discrepancy between two point sets X (m points) and Y (n points)
/// with the Gaussian kernel k(x, y) = exp(−‖x − y‖²/(2h²)), by the unbiased estimator
/// (Gretton et al. 2012, eq. 3)
///
///     MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j)
///              − 2/(mn) Σ_{i,j} k(x_i, y_j).
///
/// Its expectation is MMD²(P, Q) ≥ 0, zero exactly when P = Q; a single estimate can be slightly
/// negative (for P = Q it fluctuates around 0 with a spread of order 1/n).
///
/// The bandwidth h defaults to the median heuristic: the median pairwise distance of the pooled
/// sets X ∪ Y, over a seeded subsample of at most ``bandwidthSubsample`` pooled points when there
/// are more (see ``bandwidth(pooling:_:subsample:seed:)``). The Gram sums are blocked GEMMs
/// (see `PairwiseSums`), so memory stays bounded for tens of thousands of points.
public struct MaximumMeanDiscrepancy: Sendable, Equatable {
    /// h of the Gaussian kernel.
    public let bandwidth: Double

    /// Pooled points used for the median heuristic when there are more.
    public static let bandwidthSubsample = 1000

    public init(bandwidth: Double) throws(ArgumentError) {
        guard bandwidth > 0, bandwidth.isFinite else {
            throw ArgumentError("bandwidth", "must be positive and finite, got \(bandwidth)")
        }
        self.bandwidth = bandwidth
    }

    /// h = median ‖z_i − z_j‖ over pairs of the pooled rows of `x` and `y` (on at most
    /// `subsample` of them, chosen without replacement by `seed`); 1 when that median is 0 (all
    /// points equal), so the kernel stays defined.
    public static func bandwidth(pooling x: Matrix, _ y: Matrix, subsample: Int = bandwidthSubsample,
                                 seed: UInt64 = 0) throws(ArgumentError) -> Double {
        try PairwiseSums.check(x, "first set")
        try PairwiseSums.check(y, "second set", dimension: x.columns)
        guard x.rows + y.rows >= 2 else { throw ArgumentError("point sets", "need at least two points in all") }
        guard subsample >= 2 else { throw ArgumentError("subsample", "must be at least 2, got \(subsample)") }
        let median = PairwiseSums.medianDistance(pooling: x, y, limit: subsample, seed: seed)
        return median > 0 ? median : 1
    }

    /// The estimator with the median-heuristic bandwidth of `x` ∪ `y`.
    public init(pooling x: Matrix, _ y: Matrix, subsample: Int = bandwidthSubsample,
                seed: UInt64 = 0) throws(ArgumentError) {
        try self.init(bandwidth: Self.bandwidth(pooling: x, y, subsample: subsample, seed: seed))
    }

    var kernel: PairwiseKernel { .gaussian(bandwidth: bandwidth) }

    /// MMD²_u(X, Y) for an m×D and an n×D set (m, n ≥ 2, finite coordinates).
    public func squaredDistance(_ x: Matrix, _ y: Matrix) throws(ArgumentError) -> Double {
        try Self.validate(x, y)
        return combine(within: PairwiseSums.within(x, kernels: [kernel])[0], x.rows,
                       within: PairwiseSums.within(y, kernels: [kernel])[0], y.rows,
                       cross: PairwiseSums.cross(x, y, kernels: [kernel])[0])
    }

    /// MMD²_u from the three Gram sums S_XX = Σ_{i≠j} k(x_i, x_j), S_YY, S_XY = Σ_{i,j} k(x_i, y_j).
    func combine(within sxx: Double, _ m: Int, within syy: Double, _ n: Int, cross sxy: Double) -> Double {
        let (m, n) = (Double(m), Double(n))
        return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)
    }

    static func validate(_ x: Matrix, _ y: Matrix) throws(ArgumentError) {
        try PairwiseSums.check(x, "first set")
        try PairwiseSums.check(y, "second set", dimension: x.columns)
        guard x.rows >= 2, y.rows >= 2 else {
            throw ArgumentError("point sets", "need at least 2 points each, got \(x.rows) and \(y.rows)")
        }
    }
}
