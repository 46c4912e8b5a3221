import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// A linear measurement y = A x_0 + n with Gaussian noise n ~ N(0, Σ_y) (docs/math.md §11.1):
/// the forward operator A (d_y×D), the observed y (d_y values) and Σ_y (positive definite:
/// spherical σ_y² I, diagonal or full, held as its Cholesky factor).
public struct LinearObservation: Sendable, Equatable {
    /// A, d_y×D.
    public let forwardOperator: Matrix
    /// y, d_y values.
    public let y: [Double]
    /// Σ_y, the covariance of the measurement noise (d_y×d_y).
    public let noise: NoiseCovariance

    /// Checks the shapes and that every number is finite; throws a ``ModelError`` naming the field
    /// (`operator`, `y`, `noise_covariance`).
    public init(operator a: Matrix, y: [Double], noise: NoiseCovariance) throws(ModelError) {
        guard a.rows >= 1, a.columns >= 1 else {
            throw ModelError("operator", "must have at least one row and one column, got \(a.rows)×\(a.columns)")
        }
        if let i = a.elements.firstIndex(where: { !$0.isFinite }) {
            throw ModelError("operator",
                             "element (\(i / a.columns), \(i % a.columns)) is \(a.elements[i]) (NaN or infinity)")
        }
        guard y.count == a.rows else {
            throw ModelError("y", "has \(y.count) values, the operator has \(a.rows) rows (d_y)")
        }
        if let i = y.firstIndex(where: { !$0.isFinite }) {
            throw ModelError("y", "element \(i) is \(y[i]) (NaN or infinity)")
        }
        guard noise.dimension == a.rows else {
            throw ModelError("noise_covariance",
                             "is \(noise.dimension)×\(noise.dimension), the operator has \(a.rows) rows (d_y)")
        }
        // Conditioning on y (the exact posterior, guidance) works with d_y×d_y and D×D matrices.
        let n = max(a.rows, a.columns)
        do {
            try MemoryBudget.require("operator",
                                     "the \(n)×\(n) matrices of conditioning on a \(a.rows)×\(a.columns) operator",
                                     elements: [n, n, 2])
        } catch { throw ModelError("operator", error.reason) }
        forwardOperator = a
        self.y = y
        self.noise = noise
    }

    /// Σ_y = σ_y² I.
    public init(operator a: Matrix, y: [Double], noiseStandardDeviation sigma: Double) throws(ModelError) {
        guard sigma.isFinite, sigma > 0, (sigma * sigma).isNormal, (sigma * sigma).isFinite else {
            throw ModelError("noise_std", "must be positive with a finite, normal square, got \(sigma)")
        }
        let noise = try NoiseCovariance(.diagonal([Double](repeating: sigma * sigma, count: max(a.rows, 1))),
                                        dimension: max(a.rows, 1), field: "noise_std")
        try self.init(operator: a, y: y, noise: noise)
    }

    /// d_y.
    public var observedDimension: Int { forwardOperator.rows }
    /// D.
    public var dimension: Int { forwardOperator.columns }

    /// y − A x for each row of `x` (B×D): B×d_y residuals. Plain dot products, row by row: a
    /// row's residual is the same bit for bit whatever batch it is in.
    public func residuals(_ x: Matrix) -> Matrix {
        let d = dimension, dy = observedDimension
        var r = Matrix(rows: x.rows, columns: dy)
        for b in 0..<x.rows {
            for i in 0..<dy {
                var dot = 0.0
                for j in 0..<d { dot += forwardOperator[i, j] * x[b, j] }
                r[b, i] = y[i] - dot
            }
        }
        return r
    }

    /// Σ_y as a dense matrix.
    public var noiseMatrix: Matrix { noise.denseMatrix }
}
