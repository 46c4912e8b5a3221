import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// The sliced Wasserstein-2 distance between two equally sized point sets in R^D.
///
/// For unit directions u_1 … u_M, project both sets onto each direction, sort the projections,
/// a_(1) ≤ … ≤ a_(n) and b_(1) ≤ … ≤ b_(n) (the optimal 1-D coupling), and average:
///
///     SW₂(A, B)² = (1/M) Σ_j (1/n) Σ_i (a_(i)·u_j − b_(i)·u_j)²,   SW₂ = √(SW₂²).
///
/// This is a Monte Carlo estimate of ∫ W₂²(u#A, u#B) du over the uniform measure on the unit
/// sphere. Example: a shift b = a + δ has W₂² = (u·δ)² in every direction, and the sphere
/// average of (u·δ)² is ‖δ‖²/D, so SW₂ → ‖δ‖/√D.
///
/// Direction j is z/‖z‖ with z the D standard normals of `NoiseStream(seed)` at
/// (sample j, step 0), so the directions are a pure function of (seed, D, M).
public struct SlicedWasserstein: Sendable {
    /// u_j as the rows of an M×D matrix of unit vectors.
    public let directions: Matrix

    /// Projections used when none is given.
    public static let defaultProjections = 128

    /// More directions than this only add time: the Monte Carlo error of the average over
    /// directions is already far below the noise floor of any sample size.
    public static let maximumProjections = 100_000

    public init(dimension: Int, projections: Int = defaultProjections, seed: UInt64 = 0) throws(ArgumentError) {
        guard dimension >= 1 else { throw ArgumentError("dimension", "must be at least 1, got \(dimension)") }
        guard (1...Self.maximumProjections).contains(projections) else {
            throw ArgumentError("projections", "must lie in 1...\(Self.maximumProjections), got \(projections)")
        }
        try MemoryBudget.require("projections", "\(projections) directions × D = \(dimension)",
                                 elements: [projections, dimension])
        let stream = NoiseStream(seed: seed)
        var directions = Matrix(rows: projections, columns: dimension)
        for j in 0..<projections {
            var z = stream.normals(sample: j, step: 0, count: dimension)
            let norm = z.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 {
                z = z.map { $0 / norm }
            } else {
                z = (0..<dimension).map { $0 == 0 ? 1 : 0 }
            }
            directions.setRow(j, to: z)
        }
        self.directions = directions
    }

    public var dimension: Int { directions.columns }
    public var projectionCount: Int { directions.rows }

    /// SW₂(a, b)², for two n×D sets with finite coordinates.
    public func squaredDistance(_ a: Matrix, _ b: Matrix) throws(ArgumentError) -> Double {
        try check(a, "first set")
        try check(b, "second set")
        guard a.rows == b.rows else {
            throw ArgumentError("point sets", "must be of equal size, got \(a.rows) and \(b.rows)")
        }
        let n = a.rows, m = projectionCount
        guard n > 0 else { return 0 }
        // Row j of P = U Xᵀ holds the projections onto u_j; groups of directions run in parallel.
        let group = 8
        let sums = Parallel.array(count: m, chunk: group) { rows in
            let u = Matrix(
                rows: rows.count, columns: dimension,
                elements: Array(directions.elements[(rows.lowerBound * dimension)..<(rows.upperBound * dimension)]))
            let pa = BLAS.product(u, .none, a, .transpose), pb = BLAS.product(u, .none, b, .transpose)
            return (0..<rows.count).map { j in
                var sa = pa.row(j), sb = pb.row(j)
                sa.withUnsafeMutableBufferPointer { sortAscending($0) }
                sb.withUnsafeMutableBufferPointer { sortAscending($0) }
                var sum = 0.0
                for i in 0..<n { sum += (sa[i] - sb[i]) * (sa[i] - sb[i]) }
                return sum / Double(n)
            }
        }
        return sums.reduce(0, +) / Double(m)
    }

    /// SW₂(a, b) = √(SW₂²).
    public func distance(_ a: Matrix, _ b: Matrix) throws(ArgumentError) -> Double {
        try squaredDistance(a, b).squareRoot()
    }

    private func check(_ x: Matrix, _ name: String) throws(ArgumentError) {
        try requirePoints(x, dimension: dimension, name)
    }
}

/// SW₂(a, b) with `projections` directions drawn from `seed` (see ``SlicedWasserstein``).
public func slicedWassersteinDistance(_ a: Matrix, _ b: Matrix, projections: Int = SlicedWasserstein.defaultProjections,
                                      seed: UInt64 = 0) throws(ArgumentError) -> Double {
    try SlicedWasserstein(dimension: a.columns, projections: projections, seed: seed).distance(a, b)
}
