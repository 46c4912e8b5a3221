import Foundation
import COpenBLAS

/// A failure of a LAPACK factorization, with the routine's own diagnostic.
public enum LinearAlgebraError: Error, Equatable, Sendable {
    /// Cholesky failed: the leading minor of this order (1-based) is not positive definite.
    case notPositiveDefinite(leadingMinor: Int)
    /// The symmetric eigensolver did not converge.
    case eigenDecompositionFailed(info: Int)
}

/// The lower Cholesky factor L of a symmetric positive-definite A = L Lᵀ (LAPACK `dpotrf`).
public struct CholeskyFactor: Sendable {
    /// L, lower triangular, zeros above the diagonal.
    public let lower: Matrix

    /// Factorizes `a`, reading only its lower triangle.
    public init(_ a: Matrix) throws(LinearAlgebraError) {
        precondition(a.isSquare, "Cholesky needs a square matrix")
        let n = a.rows
        var l = a
        // Row-major lower = column-major upper of the same storage: no transposing copy.
        let info = l.elements.withUnsafeMutableBufferPointer { p in
            LAPACKE_dpotrf(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), p.baseAddress, Int32(n))
        }
        if info > 0 { throw .notPositiveDefinite(leadingMinor: Int(info)) }
        precondition(info == 0, "dpotrf: illegal argument \(-info)")
        for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { l[i, j] = 0 } }
        lower = l
    }

    public var dimension: Int { lower.rows }

    /// log |det L| = ½ log det A.
    public var logDeterminant: Double {
        (0..<dimension).reduce(0) { $0 + log(lower[$1, $1]) }
    }
}

/// A = U diag(values) Uᵀ for symmetric A (LAPACK `dsyevd`); eigenvalues ascending.
public struct SymmetricEigendecomposition: Sendable {
    public let values: [Double]
    /// U: column j is the eigenvector of `values[j]`.
    public let vectors: Matrix

    public init(_ a: Matrix) throws(LinearAlgebraError) {
        precondition(a.isSquare, "eigendecomposition needs a square matrix")
        let n = a.rows
        var storage = a.elements
        var w = [Double](repeating: 0, count: n)
        let info = storage.withUnsafeMutableBufferPointer { p in
            w.withUnsafeMutableBufferPointer { pw in
                LAPACKE_dsyevd(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")),
                               Int32(n), p.baseAddress, Int32(n), pw.baseAddress)
            }
        }
        if info > 0 { throw .eigenDecompositionFailed(info: Int(info)) }
        precondition(info == 0, "dsyevd: illegal argument \(-info)")
        // Column-major eigenvectors read row-major are Uᵀ.
        values = w
        vectors = Matrix(rows: n, columns: n, elements: storage).transposed
    }
}

extension CholeskyFactor {
    /// A⁻¹ from the factor (LAPACK `dpotri`). For model set-up and tests only: hot paths use
    /// triangular solves.
    public func inverse() -> Matrix {
        let n = dimension
        var storage = lower.elements
        let info = storage.withUnsafeMutableBufferPointer { p in
            LAPACKE_dpotri(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), p.baseAddress, Int32(n))
        }
        precondition(info == 0, "dpotri failed: \(info)")
        var result = Matrix(rows: n, columns: n, elements: storage)
        for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { result[i, j] = result[j, i] } }
        return result
    }
}
