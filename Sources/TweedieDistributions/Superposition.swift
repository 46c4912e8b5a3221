import Foundation
import TweedieLinearAlgebra

/// The optimal superposition of two conformers of the same atoms (Kabsch; docs/math.md §13.2):
/// the rotation that best maps one onto the other after both are centred, and their RMSD.
///
/// ```swift
/// let fit = try Superposition(moving: p, onto: q)   // N×3 each, row i = atom i
/// fit.rmsd; fit.rotation; fit.aligned               // p centred, rotated, moved to q's centre
/// ```
public struct Superposition: Sendable {
    /// R, 3×3, det R = +1, applied to the centred moving atoms as R p_i.
    public let rotation: Matrix
    /// The root-mean-square deviation after superposition.
    public let rmsd: Double
    /// The moving atoms centred, rotated and placed at the centre of the target (N×3).
    public let aligned: Matrix

    /// `moving` and `target`: N×3 (N ≥ 1), finite.
    public init(moving: Matrix, onto target: Matrix) throws(ArgumentError) {
        guard moving.columns == 3, target.columns == 3 else {
            throw ArgumentError("moving", "atoms need 3 coordinates, got \(moving.columns) and \(target.columns)")
        }
        guard moving.rows == target.rows, moving.rows >= 1 else {
            throw ArgumentError("moving", "\(moving.rows) atoms against \(target.rows)")
        }
        guard moving.elements.allSatisfy(\.isFinite), target.elements.allSatisfy(\.isFinite) else {
            throw ArgumentError("moving", "coordinates must be finite")
        }
        let n = moving.rows
        let (p, _) = Self.centred(moving), (q, centre) = Self.centred(target)
        let c = BLAS.product(p, .transpose, q, .none)  // C = Pᵀ Q, 3×3
        let svd: SingularValueDecomposition
        do { svd = try SingularValueDecomposition(c) } catch {
            throw ArgumentError("moving", "\(error)")
        }
        // R = V diag(1, 1, s) Uᵀ with s = sign det(V Uᵀ).
        let v = svd.vt.transposed, ut = svd.u.transposed
        let s: Double = Self.determinant(BLAS.product(v, .none, ut, .none)) < 0 ? -1 : 1
        var vs = v
        for i in 0..<3 { vs[i, 2] *= s }
        let r = BLAS.product(vs, .none, ut, .none)
        let rotated = BLAS.product(p, .none, r, .transpose)  // rows R p_i
        var squared = 0.0
        var aligned = rotated
        for i in 0..<n {
            for a in 0..<3 {
                let e = rotated[i, a] - q[i, a]
                squared += e * e
                aligned[i, a] += centre[a]
            }
        }
        rotation = r
        rmsd = (squared / Double(n)).squareRoot()
        self.aligned = aligned
    }

    /// The atoms less their mean, and the mean.
    static func centred(_ x: Matrix) -> (Matrix, [Double]) {
        var mean = [0.0, 0.0, 0.0]
        for i in 0..<x.rows { for a in 0..<3 { mean[a] += x[i, a] } }
        for a in 0..<3 { mean[a] /= Double(x.rows) }
        var out = x
        for i in 0..<x.rows { for a in 0..<3 { out[i, a] -= mean[a] } }
        return (out, mean)
    }

    static func determinant(_ m: Matrix) -> Double {
        m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
            - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
            + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0])
    }
}
