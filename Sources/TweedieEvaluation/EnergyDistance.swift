import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The energy distance (Székely and Rizzo 2013) between the laws of X and Y,
///
///     E(X, Y) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖  ≥ 0,
///
/// zero exactly when the laws agree, estimated from an m×D set X and an n×D set Y by the
/// unbiased U-statistic
///
///     Ê = 2/(mn) Σ_{i,j} ‖x_i − y_j‖ − 1/(m(m−1)) Σ_{i≠j} ‖x_i − x_j‖ − 1/(n(n−1)) Σ_{i≠j} ‖y_i − y_j‖,
///
/// which can be slightly negative for equal laws (its spread is of order 1/n). Example: two point
/// masses at a and b give Ê = 2‖a − b‖ exactly. The sums are blocked GEMMs (see `PairwiseSums`),
/// so memory stays bounded for tens of thousands of points.
public enum EnergyDistance {
    /// Ê(X, Y) for an m×D and an n×D set (m, n ≥ 2, finite coordinates).
    public static func estimate(_ x: Matrix, _ y: Matrix) throws(ArgumentError) -> Double {
        try MaximumMeanDiscrepancy.validate(x, y)
        return combine(within: PairwiseSums.within(x, kernels: [.distance])[0], x.rows,
                       within: PairwiseSums.within(y, kernels: [.distance])[0], y.rows,
                       cross: PairwiseSums.cross(x, y, kernels: [.distance])[0])
    }

    /// Ê from S_XX = Σ_{i≠j} ‖x_i − x_j‖, S_YY and S_XY = Σ_{i,j} ‖x_i − y_j‖.
    static func combine(within sxx: Double, _ m: Int, within syy: Double, _ n: Int, cross sxy: Double) -> Double {
        let (m, n) = (Double(m), Double(n))
        return 2 * sxy / (m * n) - sxx / (m * (m - 1)) - syy / (n * (n - 1))
    }
}
