import Foundation
import COpenBLAS

/// A failure of a LAPACK factorization, with the routine's own diagnostic.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Cholesky failed: the leading minor of this order (1-based) is not positive definite.
    case notPositiveDefinite(leadingMinor: Int)
    /// The symmetric eigensolver did not converge.
    case eigenDecompositionFailed(info: Int)
    /// The singular value decomposition did not converge.
    case singularValueDecompositionFailed(info: Int)

    public var description: String {
        switch self {
        case .notPositiveDefinite(let order): "the leading \(order)×\(order) block is not positive definite"
        case .eigenDecompositionFailed(let info):
            "the symmetric eigensolver did not converge (LAPACK dsyevd info \(info))"
        case .singularValueDecompositionFailed(let info):
            "the singular value decomposition did not converge (LAPACK dgesvd info \(info))"
        }
    }
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
        BLAS.pinSingleThreaded()
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
        BLAS.pinSingleThreaded()
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

/// A = U diag(values) Vᵀ for any m×n A (LAPACK `dgesvd`, full U and V); singular values descending.
public struct SingularValueDecomposition: Sendable {
    public let values: [Double]
    /// U, m×m.
    public let u: Matrix
    /// Vᵀ, n×n.
    public let vt: Matrix

    public init(_ a: Matrix) throws(LinearAlgebraError) {
        let m = a.rows, n = a.columns
        var storage = a.elements
        var s = [Double](repeating: 0, count: min(m, n))
        var u = [Double](repeating: 0, count: m * m), vt = [Double](repeating: 0, count: n * n)
        var superb = [Double](repeating: 0, count: max(min(m, n) - 1, 1))
        BLAS.pinSingleThreaded()
        let info = storage.withUnsafeMutableBufferPointer { p in
            s.withUnsafeMutableBufferPointer { ps in
                u.withUnsafeMutableBufferPointer { pu in
                    vt.withUnsafeMutableBufferPointer { pv in
                        superb.withUnsafeMutableBufferPointer { pw in
                            LAPACKE_dgesvd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "A")), CChar(UInt8(ascii: "A")),
                                           Int32(m), Int32(n), p.baseAddress, Int32(max(n, 1)), ps.baseAddress,
                                           pu.baseAddress, Int32(max(m, 1)), pv.baseAddress, Int32(max(n, 1)),
                                           pw.baseAddress)
                        }
                    }
                }
            }
        }
        if info > 0 { throw .singularValueDecompositionFailed(info: Int(info)) }
        precondition(info == 0, "dgesvd: illegal argument \(-info)")
        values = s
        self.u = Matrix(rows: m, columns: m, elements: u)
        self.vt = Matrix(rows: n, columns: n, elements: vt)
    }
}

extension CholeskyFactor {
    /// A⁻¹ from the factor (LAPACK `dpotri`). For model set-up and tests only: hot paths use
    /// triangular solves.
    public func inverse() -> Matrix {
        let n = dimension
        var storage = lower.elements
        BLAS.pinSingleThreaded()
        let info = storage.withUnsafeMutableBufferPointer { p in
            LAPACKE_dpotri(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), p.baseAddress, Int32(n))
        }
        precondition(info == 0, "dpotri failed: \(info)")
        var result = Matrix(rows: n, columns: n, elements: storage)
        for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { result[i, j] = result[j, i] } }
        return result
    }
}

/// The pivoted Cholesky factorization Pᵀ A P = L Lᵀ of a symmetric positive semi-definite A
/// (LAPACK `dpstrf`, complete pivoting on the diagonal), stopping at the numerical rank r
/// (pivot ≤ n ε max A_ii). S = P L is a square root, S Sᵀ = A, with n − r zero columns.
public struct PivotedCholeskyFactor: Sendable {
    /// Lᵀ row-major (row b is column b of L, zero before position b); rows ≥ ``rank`` are zero.
    public let transposedFactor: Matrix
    /// Row a of Pᵀ A P is row `permutation[a]` of A.
    public let permutation: [Int]
    public let rank: Int

    public init(_ a: Matrix) throws(LinearAlgebraError) {
        precondition(a.isSquare, "pivoted Cholesky needs a square matrix")
        let n = a.rows
        var storage = a.elements
        var pivots = [Int32](repeating: 0, count: n)
        var rank: Int32 = 0
        BLAS.pinSingleThreaded()
        // The symmetric input read column-major is the same matrix; column-major L read
        // row-major is Lᵀ.
        let info = storage.withUnsafeMutableBufferPointer { p in
            pivots.withUnsafeMutableBufferPointer { piv in
                LAPACKE_dpstrf(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), p.baseAddress, Int32(n),
                               piv.baseAddress, &rank, -1)
            }
        }
        guard info >= 0 else { preconditionFailure("dpstrf: illegal argument \(-info)") }
        var factor = Matrix(rows: n, columns: n)
        for b in 0..<Int(rank) { for i in b..<n { factor[b, i] = storage[b * n + i] } }
        transposedFactor = factor
        permutation = pivots.map { Int($0) - 1 }
        self.rank = Int(rank)
    }

    /// S = P L as a dense matrix: S[permutation[i], b] = L[i, b].
    public var squareRoot: Matrix {
        let n = transposedFactor.rows
        var s = Matrix(rows: n, columns: n)
        for b in 0..<rank { for i in b..<n { s[permutation[i], b] = transposedFactor[b, i] } }
        return s
    }
}

/// P A = L U with partial pivoting (LAPACK `dgetrf`), for determinants of square matrices.
public struct LUFactor: Sendable {
    /// log |det A|; −∞ when A is exactly singular (a zero pivot).
    public let logAbsoluteDeterminant: Double
    /// The sign of det A (0 when singular).
    public let determinantSign: Double

    public init(_ a: Matrix) {
        precondition(a.isSquare, "LU needs a square matrix")
        let n = a.rows
        var storage = a.elements
        var pivots = [Int32](repeating: 0, count: max(n, 1))
        BLAS.pinSingleThreaded()
        // Row-major A read column-major is Aᵀ, whose determinant is the same.
        let info = storage.withUnsafeMutableBufferPointer { p in
            pivots.withUnsafeMutableBufferPointer { piv in
                LAPACKE_dgetrf(LAPACK_COL_MAJOR, Int32(n), Int32(n), p.baseAddress, Int32(n), piv.baseAddress)
            }
        }
        precondition(info >= 0, "dgetrf: illegal argument \(-info)")
        var logDet = 0.0, sign = 1.0
        for i in 0..<n {
            let u = storage[i * n + i]
            if u == 0 { sign = 0; logDet = -.infinity; break }
            logDet += log(abs(u))
            if u < 0 { sign = -sign }
            if Int(pivots[i]) != i + 1 { sign = -sign }
        }
        logAbsoluteDeterminant = logDet
        determinantSign = sign
    }
}
