import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// A forward process noising each normal mode of a molecule at its own rate (docs/math.md §13.4):
/// dx = −½ (H ⊗ I_d) x dt + dW, so that q(x_t | x_0) = N(A_t x_0, S_t) with A_t and S_t diagonal in
/// the eigenbasis of H: a_i(t) = e^{−λ_i t/2}, s_i²(t) = (1 − e^{−λ_i t})/λ_i.
///
/// H is symmetric positive semi-definite with null space spanned by 1 (a graph Laplacian); its zero
/// mode, the centre of mass, is dropped, so the process lives on the zero-centre-of-mass subspace V,
/// in the mode coordinates x̃ = (Uᵀ ⊗ I_d) x ∈ R^{(N−1)d} of its other N − 1 eigenvectors U.
public struct HarmonicProcess: Sendable {
    public let atoms: Int
    public let axes: Int
    /// λ_1 ≤ … ≤ λ_{N−1} > 0, the rates of the modes kept.
    public let rates: [Double]
    /// U, N × (N − 1): the eigenvectors of the modes kept, orthonormal and orthogonal to 1.
    public let basis: Matrix

    /// The process of `h` (N×N) on points of N atoms × `axes`; `field` names it in errors.
    public init(atomMatrix h: Matrix, axes: Int = 3, field: String = "harmonic") throws(ArgumentError) {
        let n = h.rows
        guard h.isSquare, n >= 2 else { throw ArgumentError(field, "needs a square matrix of at least 2 atoms") }
        guard axes >= 1, ShapeArithmetic.elementCount([n, axes]) != nil else {
            throw ArgumentError(field, "\(n) atoms × \(axes) axes is not a point shape")
        }
        try MemoryBudget.require(field, "the eigendecomposition of a \(n) × \(n) matrix", elements: [n, n, 4])
        guard h.elements.allSatisfy(\.isFinite) else { throw ArgumentError(field, "holds a NaN or an infinity") }
        let scale = h.elements.reduce(0) { max($0, abs($1)) }
        guard scale > 0 else { throw ArgumentError(field, "is zero") }
        for i in 0..<n {
            for j in 0..<i where abs(h[i, j] - h[j, i]) > 1e-12 * scale {
                throw ArgumentError(field, "is not symmetric (entries [\(i), \(j)] and [\(j), \(i)])")
            }
            let rowSum = (0..<n).reduce(0.0) { $0 + h[i, $1] }
            guard abs(rowSum) <= 1e-10 * scale * Double(n) else {
                throw ArgumentError(field, "row \(i) sums to \(rowSum): the centre of mass must be its null "
                                    + "space (H 1 = 0, as for a graph Laplacian)")
            }
        }
        let eigen: SymmetricEigendecomposition
        do { eigen = try SymmetricEigendecomposition(h.symmetrized) } catch { throw ArgumentError(field, "\(error)") }
        // Ascending: the first is the centre of mass (≈ 0); every other must be positive.
        let kept = Array(eigen.values.dropFirst())
        guard let smallest = kept.first, smallest > 1e-10 * scale * Double(n) else {
            throw ArgumentError(field, "has more than one zero eigenvalue: the atoms are not all connected")
        }
        var u = Matrix(rows: n, columns: n - 1)
        for i in 0..<n { for j in 1..<n { u[i, j - 1] = eigen.vectors[i, j] } }
        self.atoms = n
        self.axes = axes
        self.rates = kept
        self.basis = u
    }

    /// EigenFold's harmonic chain: H = κ L, L the Laplacian of the path 1 – 2 – … – N, κ = 3/3.8² Å⁻².
    public static func chain(atoms n: Int, strength kappa: Double = 3 / (3.8 * 3.8),
                             axes: Int = 3) throws(ArgumentError) -> HarmonicProcess {
        guard n >= 2, n <= 100_000 else { throw ArgumentError("atoms", "a chain needs 2 to 100000 atoms, got \(n)") }
        try MemoryBudget.require("atoms", "a chain of \(n) atoms (its \(n) × \(n) matrix)", elements: [n, n, 4])
        guard kappa.isFinite, kappa > 0 else { throw ArgumentError("strength", "must be finite and > 0, got \(kappa)") }
        var h = Matrix(rows: n, columns: n)
        for i in 0..<(n - 1) {
            h[i, i] += kappa
            h[i + 1, i + 1] += kappa
            h[i, i + 1] -= kappa
            h[i + 1, i] -= kappa
        }
        return try HarmonicProcess(atomMatrix: h, axes: axes, field: "strength")
    }

    /// D′ = (N − 1)·d.
    public var dimension: Int { (atoms - 1) * axes }

    /// a(t) and s²(t) per mode coordinate (each rate repeated for the d axes), t ≥ 0.
    public func coefficients(at t: Double) -> (scale: [Double], variance: [Double]) {
        var a = [Double](repeating: 0, count: dimension), s2 = a
        for (i, lambda) in rates.enumerated() {
            let ai = exp(-0.5 * lambda * t), vi = -expm1(-lambda * t) / lambda
            for c in 0..<axes {
                a[i * axes + c] = ai
                s2[i * axes + c] = vi
            }
        }
        return (a, s2)
    }

    /// x̃ = (Uᵀ ⊗ I_d) x for the rows of `points` (B × N d → B × D′); a point off V gives its projection's.
    public func modes(_ points: Matrix) -> Matrix {
        precondition(points.columns == atoms * axes, "modes: points of \(points.columns) coordinates")
        return Self.applyPerAtom(basis, transposed: true, to: points, atoms: atoms, outputAtoms: atoms - 1, axes: axes)
    }

    /// x = (U ⊗ I_d) x̃ for the rows of `modes` (B × D′ → B × N d), on V.
    public func points(_ modes: Matrix) -> Matrix {
        precondition(modes.columns == dimension, "points: modes of \(modes.columns) coordinates")
        return Self.applyPerAtom(basis, transposed: false, to: modes, atoms: atoms - 1, outputAtoms: atoms, axes: axes)
    }

    /// (M ⊗ I_d) applied to every row of `x` (B × n d, atom major) with one GEMM: the rows are laid
    /// side by side as the n × (B d) matrix [X_1 … X_B], multiplied by M (or Mᵀ), and laid back.
    static func applyPerAtom(_ m: Matrix, transposed: Bool, to x: Matrix, atoms n: Int, outputAtoms p: Int,
                             axes d: Int) -> Matrix {
        let rows = x.rows, width = rows * d
        var side = Matrix(rows: n, columns: width)
        for b in 0..<rows { for i in 0..<n { for c in 0..<d { side[i, b * d + c] = x[b, i * d + c] } } }
        let product = BLAS.product(m, transposed ? .transpose : .none, side, .none)  // p × (B d)
        var out = Matrix(rows: rows, columns: p * d)
        for b in 0..<rows { for i in 0..<p { for c in 0..<d { out[b, i * d + c] = product[i, b * d + c] } } }
        return out
    }
}
