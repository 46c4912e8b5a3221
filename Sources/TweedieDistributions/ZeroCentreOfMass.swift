import Foundation
import TweedieLinearAlgebra

/// The subspace V of point clouds of N atoms in d coordinates whose atoms sum to zero on each axis,
/// and its Helmert coordinates y = 𝐇 x ∈ R^{(N−1)d} (docs/math.md §13.1).
///
/// 𝐇 = H ⊗ I_d with H the (N−1)×N Helmert matrix: orthonormal rows orthogonal to 1, so that 𝐇 is an
/// isometry from V onto R^{(N−1)d} with inverse 𝐇ᵀ. Neither is formed: ``reduce(_:)`` and
/// ``embed(_:)`` cost O(N d) a point by prefix and suffix sums. Points are flattened row-major as
/// everywhere (atom i, axis c at index i·d + c), and so are reduced points (row j, axis c at j·d + c).
public struct ZeroCentreOfMass: Sendable, Equatable, Hashable {
    /// N ≥ 2.
    public let atoms: Int
    /// d ≥ 1.
    public let axes: Int

    /// `field` names the option or field in errors.
    public init(atoms: Int, axes: Int, field: String = "shape") throws(ModelError) {
        guard atoms >= 2 else {
            throw ModelError(field, "a zero centre of mass needs at least 2 atoms, got \(atoms)")
        }
        guard axes >= 1, ShapeArithmetic.elementCount([atoms, axes]) != nil else {
            throw ModelError(field, "\(atoms) atoms × \(axes) axes is not a point shape")
        }
        self.atoms = atoms
        self.axes = axes
    }

    /// N·d, the length of a point x.
    public var ambientDimension: Int { atoms * axes }
    /// D′ = (N − 1)·d, the degrees of freedom: the length of a reduced point y.
    public var dimension: Int { (atoms - 1) * axes }

    /// 1/√(j(j+1)) for j = 1…N−1: the scale of Helmert row j.
    private func rowScale(_ j: Int) -> Double { 1 / (Double(j) * Double(j + 1)).squareRoot() }

    /// y = 𝐇 x for one point: y_j = (S_j − j x_{j+1})/√(j(j+1)), S_j the sum of the first j atoms.
    /// A point off V gives the coordinates of its projection.
    public func reduce(_ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>) {
        let d = axes
        var prefix = [Double](repeating: 0, count: d)
        for c in 0..<d { prefix[c] = x[c] }
        for j in 1..<atoms {
            let s = rowScale(j), jd = Double(j)
            for c in 0..<d {
                let next = x[j * d + c]
                y[(j - 1) * d + c] = (prefix[c] - jd * next) * s
                prefix[c] += next
            }
        }
    }

    /// x = 𝐇ᵀ y for one point: x_i = T_i − √((i−1)/i) y_{i−1}, T_i = Σ_{j ≥ i} y_j/√(j(j+1)).
    public func embed(_ y: UnsafePointer<Double>, into x: UnsafeMutablePointer<Double>) {
        let d = axes
        var suffix = [Double](repeating: 0, count: d)
        // Atom i (1-based) from N down to 1: T_N = 0, T_i = T_{i+1} + y_i/√(i(i+1)).
        for i in stride(from: atoms, through: 1, by: -1) {
            if i < atoms {
                let s = rowScale(i)
                for c in 0..<d { suffix[c] += y[(i - 1) * d + c] * s }
            }
            for c in 0..<d {
                var value = suffix[c]
                if i >= 2 { value -= (Double(i - 1) / Double(i)).squareRoot() * y[(i - 2) * d + c] }
                x[(i - 1) * d + c] = value
            }
        }
    }

    /// The rows of `points` (B × N d) in reduced coordinates (B × (N−1) d).
    public func reduce(_ points: Matrix) -> Matrix {
        precondition(points.columns == ambientDimension, "reduce: points of \(points.columns) coordinates")
        var out = Matrix(rows: points.rows, columns: dimension)
        let n = ambientDimension, m = dimension
        points.elements.withUnsafeBufferPointer { x in
            out.elements.withUnsafeMutableBufferPointer { y in
                for r in 0..<points.rows { reduce(x.baseAddress! + r * n, into: y.baseAddress! + r * m) }
            }
        }
        return out
    }

    /// The rows of `points` (B × (N−1) d) embedded in V (B × N d).
    public func embed(_ points: Matrix) -> Matrix {
        precondition(points.columns == dimension, "embed: points of \(points.columns) coordinates")
        var out = Matrix(rows: points.rows, columns: ambientDimension)
        let n = ambientDimension, m = dimension
        points.elements.withUnsafeBufferPointer { y in
            out.elements.withUnsafeMutableBufferPointer { x in
                for r in 0..<points.rows { embed(y.baseAddress! + r * m, into: x.baseAddress! + r * n) }
            }
        }
        return out
    }

    /// 𝐇 M 𝐇ᵀ for a symmetric N d × N d matrix M (a covariance on R^{N×d} seen in V).
    public func reduceSymmetric(_ m: Matrix) -> Matrix {
        let half = reduce(m)              // rows of M reduced: (N d) × D′, i.e. M 𝐇ᵀ
        return reduce(half.transposed)  // (𝐇 M 𝐇ᵀ)ᵀ = 𝐇 M 𝐇ᵀ
    }

    /// 𝐇ᵀ M 𝐇 for a symmetric D′ × D′ matrix M: the same covariance as a (singular) matrix on R^{N×d}.
    public func embedSymmetric(_ m: Matrix) -> Matrix {
        embed(embed(m).transposed)
    }

    /// 𝐇ᵀ M 𝐇 + (1 1ᵀ/N) ⊗ I_d: a positive-definite N d × N d matrix whose reduction is the
    /// positive-definite M again (the added term acts only on the centre of mass, off V). How a
    /// reduced noise covariance is written back as an ambient one.
    public func embedInvertible(_ m: Matrix) -> Matrix {
        var out = embedSymmetric(m)
        let n = ambientDimension, d = axes, mean = 1 / Double(atoms)
        for r in 0..<n { for c in stride(from: r % d, to: n, by: d) { out.elements[r * n + c] += mean } }
        return out
    }

    /// H A Hᵀ, (N−1)×(N−1), of an N×N matrix A: Σ = A ⊗ I_d reduces to (H A Hᵀ) ⊗ I_d.
    public func reduceAtomMatrix(_ a: Matrix) -> Matrix { perAtom.reduceSymmetric(a) }

    /// Hᵀ A′ H + 1 1ᵀ/N, N×N: the Kronecker factor written back (see ``embedInvertible(_:)``).
    public func embedAtomMatrix(_ a: Matrix) -> Matrix { perAtom.embedInvertible(a) }

    private var perAtom: ZeroCentreOfMass { ZeroCentreOfMass(uncheckedAtoms: atoms) }

    private init(uncheckedAtoms atoms: Int) {
        self.atoms = atoms
        self.axes = 1
    }
}
