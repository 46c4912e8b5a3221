import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

// Products with Σ = L Lᵀ and with Σ⁻¹ through the factor (docs/math.md §2): two triangular
// operations per row, never an inverse. Used by the SDE drifts, Tweedie's formula and the
// Σ-shaped KL divergence.

extension NoiseCovariance {
    /// Σ v for each row v of `x`, computed as L (Lᵀ v) (docs/math.md §5: "Σ s = L ∇_y log p̃").
    public func applyingCovariance(to x: Matrix) -> Matrix {
        var y = x
        apply(.unwhitenTransposed, to: &y)
        apply(.unwhiten, to: &y)
        return y
    }

    /// Σ⁻¹ v for each row v of `x`, computed as L⁻ᵀ (L⁻¹ v) by two triangular solves.
    public func applyingInverseCovariance(to x: Matrix) -> Matrix {
        var y = x
        apply(.whiten, to: &y)
        apply(.whitenTransposed, to: &y)
        return y
    }

    /// vᵀ Σ⁻¹ v = ‖L⁻¹ v‖² for each row v of `x`: the squared Mahalanobis norm under Σ.
    public func squaredMahalanobisNorms(of x: Matrix) -> [Double] {
        let y = applying(.whiten, to: x)
        let d = dimension
        return (0..<x.rows).map { r in
            var sum = 0.0
            for i in 0..<d { sum += y.elements[r * d + i] * y.elements[r * d + i] }
            return sum
        }
    }
}

/// Checks that `x` holds points of dimension `dimension`, naming `argument` otherwise.
func requireColumns(_ x: Matrix, _ dimension: Int, _ argument: String) throws(ArgumentError) {
    guard x.columns == dimension else {
        throw ArgumentError(argument, "points have \(x.columns) coordinates, Σ is \(dimension)×\(dimension)")
    }
}

/// Checks that `a` and `b` have the same shape, naming `argument` (the second) otherwise.
func requireSameShape(_ a: Matrix, _ b: Matrix, _ argument: String) throws(ArgumentError) {
    guard a.rows == b.rows, a.columns == b.columns else {
        throw ArgumentError(argument, "is \(b.rows)×\(b.columns), expected \(a.rows)×\(a.columns)")
    }
}
