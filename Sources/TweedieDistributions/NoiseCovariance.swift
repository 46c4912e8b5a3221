import Foundation
import TweedieLinearAlgebra

/// The covariance Σ = L Lᵀ of the forward noise, q(x_t | x_0) = N(α_t x_0, σ_t² Σ) (docs/math.md §1).
///
/// Structure is kept so that whitening y = L⁻¹x costs what it must: nothing for `identity`, O(D)
/// for `diagonal`, O(D²) for `full`, and O(N²d) for `kronecker` (Σ = A ⊗ I_d on N×d data).
/// The factor is computed once, on construction.
public struct NoiseCovariance: Sendable, Equatable {
    public enum Structure: Sendable, Equatable {
        case identity
        /// Σ = diag(variances).
        case diagonal([Double])
        /// A dense D×D matrix.
        case full(Matrix)
        /// Σ = A ⊗ I_d: A is N×N, acting on the atoms of data shaped N×d.
        case kronecker(Matrix, blockSize: Int)

        public var name: String {
            switch self {
            case .identity: "identity"
            case .diagonal: "diagonal"
            case .full: "full"
            case .kronecker: "kronecker"
            }
        }
    }

    public let structure: Structure
    public let dimension: Int
    /// The Cholesky factor of the dense matrix (`full`) or of A (`kronecker`); √variances as a
    /// column for `diagonal`; empty for `identity`.
    let factor: Matrix
    /// log |det L| = ½ log det Σ.
    public let logDeterminantOfFactor: Double

    public static func identity(dimension: Int) -> NoiseCovariance {
        NoiseCovariance(structure: .identity, dimension: dimension, factor: Matrix(rows: 0, columns: 0),
                        logDeterminantOfFactor: 0)
    }

    private init(structure: Structure, dimension: Int, factor: Matrix, logDeterminantOfFactor: Double) {
        self.structure = structure
        self.dimension = dimension
        self.factor = factor
        self.logDeterminantOfFactor = logDeterminantOfFactor
    }

    /// Validates and factorizes Σ; `field` names it in errors.
    public init(_ structure: Structure, dimension: Int, field: String = "noise_covariance") throws(ModelError) {
        guard dimension >= 1 else { throw ModelError(field, "the dimension must be at least 1, got \(dimension)") }
        switch structure {
        case .identity:
            self = .identity(dimension: dimension)
        case .diagonal(let v):
            guard v.count == dimension else {
                throw ModelError(field, "diagonal noise needs \(dimension) variances, got \(v.count)")
            }
            try requireFinite(v, field)
            if let i = v.firstIndex(where: { $0 <= 0 }) {
                throw ModelError(field, "variance \(i) is not positive (\(v[i]))")
            }
            let roots = v.map { $0.squareRoot() }
            self.init(structure: structure, dimension: dimension,
                      factor: Matrix(rows: dimension, columns: 1, elements: roots),
                      logDeterminantOfFactor: roots.reduce(0) { $0 + log($1) })
        case .full(let m):
            guard m.rows == dimension, m.columns == dimension else {
                throw ModelError(field, "must be \(dimension)×\(dimension), got \(m.rows)×\(m.columns)")
            }
            let (s, l) = try Self.factorized(m, field: field)
            self.init(structure: .full(s), dimension: dimension, factor: l.lower,
                      logDeterminantOfFactor: l.logDeterminant)
        case .kronecker(let a, let d):
            guard d > 0, a.rows * d == dimension, a.isSquare else {
                throw ModelError(field, "Kronecker factor \(a.rows)×\(a.columns) with block size \(d) "
                                 + "does not fit dimension \(dimension)")
            }
            let (s, l) = try Self.factorized(a, field: field)
            self.init(structure: .kronecker(s, blockSize: d), dimension: dimension, factor: l.lower,
                      logDeterminantOfFactor: Double(d) * l.logDeterminant)
        }
    }

    private static func factorized(_ m: Matrix, field: String) throws(ModelError) -> (Matrix, CholeskyFactor) {
        try requireFinite(m.elements, field)
        let asymmetry = m.relativeAsymmetry
        guard asymmetry <= symmetryTolerance else {
            throw ModelError(field, "is not symmetric (relative asymmetry \(asymmetry))")
        }
        let s = m.symmetrized
        do { return (s, try CholeskyFactor(s)) } catch {
            throw ModelError(field, "is not positive definite (\(error))")
        }
    }

    public var isIdentity: Bool { structure == .identity }

    /// Σ as a dense D×D matrix (for tests and small problems).
    public var denseMatrix: Matrix {
        switch structure {
        case .identity: return .identity(dimension)
        case .diagonal(let v): return .diagonal(v)
        case .full(let m): return m
        case .kronecker(let a, let d):
            var m = Matrix(rows: dimension, columns: dimension)
            for i in 0..<a.rows { for j in 0..<a.rows { for c in 0..<d { m[i * d + c, j * d + c] = a[i, j] } } }
            return m
        }
    }

    /// L as a dense D×D matrix (for tests and small problems).
    public var denseFactor: Matrix {
        switch structure {
        case .identity: return .identity(dimension)
        case .diagonal: return .diagonal(factor.elements)
        case .full: return factor
        case .kronecker(let a, let d):
            var m = Matrix(rows: dimension, columns: dimension)
            for i in 0..<a.rows { for j in 0..<a.rows { for c in 0..<d { m[i * d + c, j * d + c] = factor[i, j] } } }
            return m
        }
    }

    /// The four ways the factor acts on a point.
    public enum FactorOperation: Sendable {
        /// y = L⁻¹ x (whitening).
        case whiten
        /// y = L⁻ᵀ x (a whitened score back to data coordinates).
        case whitenTransposed
        /// y = L x (a whitened point back to data coordinates; R z for noising).
        case unwhiten
        /// y = Lᵀ x.
        case unwhitenTransposed
    }

    /// Applies an operation of the factor to each of `rows` points stored with stride `dimension`,
    /// in place. Each row's result is independent of the other rows (bit for bit).
    public func apply(_ operation: FactorOperation, rows: Int, to x: UnsafeMutablePointer<Double>) {
        let n = dimension
        switch structure {
        case .identity:
            return
        case .diagonal:
            factor.elements.withUnsafeBufferPointer { s in
                for r in 0..<rows {
                    let row = x + r * n
                    switch operation {
                    case .whiten, .whitenTransposed: for i in 0..<n { row[i] /= s[i] }
                    case .unwhiten, .unwhitenTransposed: for i in 0..<n { row[i] *= s[i] }
                    }
                }
            }
        case .full:
            // Row form: (L⁻¹x)ᵀ = xᵀL⁻ᵀ, (L⁻ᵀx)ᵀ = xᵀL⁻¹, (Lx)ᵀ = xᵀLᵀ, (Lᵀx)ᵀ = xᵀL.
            factor.elements.withUnsafeBufferPointer { l in
                Self.applyRight(operation, n: n, lower: l.baseAddress!, rows: rows, x: x, ldx: n)
            }
        case .kronecker(let a, let d):
            // For x viewed as an N×d matrix X, (L_A ⊗ I_d) x = L_A X. Transposing each point,
            // Xᵀ (d×N) gets the right-side operation with L_A; stacking the points' Xᵀ makes
            // one (rows·d)×N triangular call.
            let atoms = a.rows
            var t = [Double](repeating: 0, count: rows * n)
            t.withUnsafeMutableBufferPointer { tp in
                let t = tp.baseAddress!
                for r in 0..<rows {
                    for i in 0..<atoms { for c in 0..<d { t[r * n + c * atoms + i] = x[r * n + i * d + c] } }
                }
                factor.elements.withUnsafeBufferPointer { l in
                    Self.applyRight(operation, n: atoms, lower: l.baseAddress!, rows: rows * d, x: t, ldx: atoms)
                }
                for r in 0..<rows {
                    for i in 0..<atoms { for c in 0..<d { x[r * n + i * d + c] = t[r * n + c * atoms + i] } }
                }
            }
        }
    }

    /// BLAS kernels may round a row differently when it falls in a trailing partial block of a
    /// call (OpenBLAS's Haswell TRMM treats a last odd row apart), so calls are made on a multiple
    /// of ``rowAlignment`` rows, padding with zero rows: a row's result is then the same in any
    /// batch.
    public static let rowAlignment = 8

    private static func applyRight(_ operation: FactorOperation, n: Int, lower: UnsafePointer<Double>,
                                   rows: Int, x: UnsafeMutablePointer<Double>, ldx: Int) {
        let padded = (rows + rowAlignment - 1) / rowAlignment * rowAlignment
        guard padded == rows else {
            var buffer = [Double](repeating: 0, count: padded * ldx)
            buffer.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.update(from: x, count: rows * ldx)
                applyRight(operation, n: n, lower: lower, rows: padded, x: b.baseAddress!, ldx: ldx)
                x.update(from: b.baseAddress!, count: rows * ldx)
            }
            return
        }
        switch operation {
        case .whiten:
            BLAS.solveLowerTriangular(.right, .transpose, n: n, lower: lower, rows: rows, columns: n, b: x, ldb: ldx)
        case .whitenTransposed:
            BLAS.solveLowerTriangular(.right, .none, n: n, lower: lower, rows: rows, columns: n, b: x, ldb: ldx)
        case .unwhiten:
            BLAS.multiplyLowerTriangular(.right, .transpose, n: n, lower: lower, rows: rows, columns: n, b: x, ldb: ldx)
        case .unwhitenTransposed:
            BLAS.multiplyLowerTriangular(.right, .none, n: n, lower: lower, rows: rows, columns: n, b: x, ldb: ldx)
        }
    }

    /// Applies an operation of the factor to every row of `x`.
    public func apply(_ operation: FactorOperation, to x: inout Matrix) {
        precondition(x.columns == dimension, "points have \(x.columns) coordinates, Σ is \(dimension)×\(dimension)")
        // Σ = I changes nothing: return before asking for the storage, which would copy a shared one.
        if case .identity = structure { return }
        let rows = x.rows
        x.elements.withUnsafeMutableBufferPointer { apply(operation, rows: rows, to: $0.baseAddress!) }
    }

    /// Returns the rows of `x` with an operation of the factor applied.
    public func applying(_ operation: FactorOperation, to x: Matrix) -> Matrix {
        var y = x
        apply(operation, to: &y)
        return y
    }
}
