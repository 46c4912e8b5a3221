import COpenBLAS

/// Thin, row-major wrappers over CBLAS (OpenBLAS). Every product in Tweedie goes through here.
///
/// The pointer forms serve the hot paths (they work on slices of larger buffers); the `Matrix`
/// forms serve everything else. Only `NoTrans` × `NoTrans` products are used on hot paths: with
/// OpenBLAS on one thread they give each row of the result bit for bit whatever the number of
/// rows, which the oracle's batch-size invariance relies on (checked by a test).
public enum BLAS {
    public enum Transpose: Sendable {
        case none, transpose
        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// C ← alpha · op(A) · op(B) + beta · C, all row-major with the given leading dimensions.
    public static func gemm(
        _ transA: Transpose = .none, _ transB: Transpose = .none,
        m: Int, n: Int, k: Int, alpha: Double = 1,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        pinSingleThreaded()
        cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C ← op(A) · op(B) + beta · C in single precision (SGEMM), row-major: for the opt-in
    /// Float32 mode of data-set oracles.
    public static func gemm(
        _ transA: Transpose = .none, _ transB: Transpose = .none,
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        pinSingleThreaded()
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k), 1,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// A · B for matrices.
    public static func product(_ a: Matrix, _ b: Matrix) -> Matrix {
        product(a, .none, b, .none)
    }

    /// op(A) · op(B) for matrices.
    public static func product(_ a: Matrix, _ transA: Transpose,
                               _ b: Matrix, _ transB: Transpose) -> Matrix {
        let (m, k) = transA == .none ? (a.rows, a.columns) : (a.columns, a.rows)
        let (k2, n) = transB == .none ? (b.rows, b.columns) : (b.columns, b.rows)
        precondition(k == k2, "inner dimensions disagree: \(k) vs \(k2)")
        var c = Matrix(rows: m, columns: n)
        if k == 0 { return c }
        a.elements.withUnsafeBufferPointer { pa in
            b.elements.withUnsafeBufferPointer { pb in
                c.elements.withUnsafeMutableBufferPointer { pc in
                    gemm(transA, transB, m: m, n: n, k: k, a: pa.baseAddress!, lda: a.columns,
                         b: pb.baseAddress!, ldb: b.columns, c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return c
    }

    public enum Side: Sendable { case left, right }

    /// B ← op(T)⁻¹ B (side `.left`) or B op(T)⁻¹ (side `.right`) for lower-triangular T (n × n),
    /// B being `rows × columns` with leading dimension `ldb`.
    public static func solveLowerTriangular(
        _ side: Side, _ trans: Transpose, n: Int, lower: UnsafePointer<Double>,
        rows: Int, columns: Int, b: UnsafeMutablePointer<Double>, ldb: Int
    ) {
        triangular(cblas_dtrsm, side, trans, n: n, lower: lower, rows: rows, columns: columns, b: b, ldb: ldb)
    }

    /// B ← op(T) B (side `.left`) or B op(T) (side `.right`) for lower-triangular T (n × n).
    public static func multiplyLowerTriangular(
        _ side: Side, _ trans: Transpose, n: Int, lower: UnsafePointer<Double>,
        rows: Int, columns: Int, b: UnsafeMutablePointer<Double>, ldb: Int
    ) {
        triangular(cblas_dtrmm, side, trans, n: n, lower: lower, rows: rows, columns: columns, b: b, ldb: ldb)
    }

    /// `dtrsm` and `dtrmm` share their arguments: row-major, lower, non-unit, scale 1.
    private typealias TriangularRoutine = (CBLAS_ORDER, CBLAS_SIDE, CBLAS_UPLO, CBLAS_TRANSPOSE, CBLAS_DIAG,
                                           Int32, Int32, Double, UnsafePointer<Double>?, Int32,
                                           UnsafeMutablePointer<Double>?, Int32) -> Void

    private static func triangular(_ routine: TriangularRoutine, _ side: Side, _ trans: Transpose, n: Int,
                                   lower: UnsafePointer<Double>, rows: Int, columns: Int,
                                   b: UnsafeMutablePointer<Double>, ldb: Int) {
        guard rows > 0, columns > 0 else { return }
        pinSingleThreaded()
        routine(CblasRowMajor, side == .left ? CblasLeft : CblasRight, CblasLower, trans.cblas,
                CblasNonUnit, Int32(rows), Int32(columns), 1, lower, Int32(n), b, Int32(ldb))
    }

    /// C ← alpha · Aᵀ A + beta · C (lower and upper triangles both filled), A is `k × n`.
    public static func gram(_ a: UnsafePointer<Double>, k: Int, n: Int, lda: Int, alpha: Double = 1,
                            beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard n > 0 else { return }
        pinSingleThreaded()
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(k), alpha, a, Int32(lda),
                    beta, c, Int32(ldc))
        for i in 0..<n { for j in 0..<i { c[i * ldc + j] = c[j * ldc + i] } }
    }

    /// Number of threads OpenBLAS uses for one call: always 1 in Tweedie.
    ///
    /// OpenBLAS's results (LAPACK's `dsyevd`, `dpotrf`, `dpotri`, and GEMM on some shapes) differ
    /// in the last bits with its thread count, so a multi-threaded OpenBLAS would make results
    /// depend on the machine's cores. Tweedie pins it to one thread before its first call and
    /// parallelizes over independent pieces itself (``Parallel``).
    public static var threadCount: Int {
        pinSingleThreaded()
        return Int(openblas_get_num_threads())
    }

    private static let pinned: Void = { openblas_set_num_threads(1) }()

    /// Pins OpenBLAS to one thread (once per process; a cheap check afterwards).
    @inline(__always)
    static func pinSingleThreaded() { _ = pinned }
}

/// The name of the kernel set OpenBLAS chose for this CPU (e.g. "Haswell", "Cooperlake").
public func openBLASCoreName() -> String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
}
