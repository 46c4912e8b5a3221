import Foundation

/// A dense matrix of `Double` stored row-major, the layout of a C-ordered NumPy array.
///
/// A batch of points is a `Matrix` with one point per row (B × D), so `x[b]` is point `b`.
/// Products and factorizations go through ``BLAS`` and ``LAPACK``; this type only owns storage.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// Elements in row-major order: element (i, j) is `elements[i * columns + j]`.
    public var elements: [Double]

    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        precondition(rows >= 0 && columns >= 0, "matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        self.elements = [Double](repeating: value, count: rows * columns)
    }

    public init(rows: Int, columns: Int, elements: [Double]) {
        precondition(elements.count == rows * columns,
                     "expected \(rows * columns) elements for a \(rows)×\(columns) matrix, got \(elements.count)")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// A matrix from nested rows, e.g. `Matrix([[1, 2], [3, 4]])`.
    public init(_ nestedRows: [[Double]]) {
        let columns = nestedRows.first?.count ?? 0
        precondition(nestedRows.allSatisfy { $0.count == columns }, "rows of unequal length")
        self.init(rows: nestedRows.count, columns: columns, elements: nestedRows.flatMap { $0 })
    }

    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.elements[i * n + i] = 1 }
        return m
    }

    public static func diagonal(_ values: [Double]) -> Matrix {
        var m = Matrix(rows: values.count, columns: values.count)
        for (i, v) in values.enumerated() { m.elements[i * values.count + i] = v }
        return m
    }

    public subscript(row: Int, column: Int) -> Double {
        get { elements[row * columns + column] }
        set { elements[row * columns + column] = newValue }
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Double] {
        Array(elements[(i * columns)..<((i + 1) * columns)])
    }

    public mutating func setRow(_ i: Int, to values: [Double]) {
        precondition(values.count == columns)
        elements.replaceSubrange((i * columns)..<((i + 1) * columns), with: values)
    }

    /// The mean of each column (zeros for a matrix without rows).
    public var columnMeans: [Double] {
        var mean = [Double](repeating: 0, count: columns)
        guard rows > 0 else { return mean }
        for r in 0..<rows { for i in 0..<columns { mean[i] += elements[r * columns + i] } }
        return mean.map { $0 / Double(rows) }
    }

    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        for i in 0..<rows {
            for j in 0..<columns { t.elements[j * rows + i] = elements[i * columns + j] }
        }
        return t
    }

    public var diagonalElements: [Double] {
        (0..<Swift.min(rows, columns)).map { elements[$0 * columns + $0] }
    }

    public var isSquare: Bool { rows == columns }

    /// Largest |A_ij − A_ji| relative to the largest |A_ij|; 0 for an exactly symmetric matrix.
    public var relativeAsymmetry: Double {
        precondition(isSquare)
        var scale = 0.0, worst = 0.0
        for i in 0..<rows {
            for j in 0..<columns {
                scale = Swift.max(scale, abs(self[i, j]))
                worst = Swift.max(worst, abs(self[i, j] - self[j, i]))
            }
        }
        return scale == 0 ? 0 : worst / scale
    }

    /// The symmetric part ½(A + Aᵀ).
    public var symmetrized: Matrix {
        var s = self
        for i in 0..<rows {
            for j in 0..<i {
                let v = 0.5 * (self[i, j] + self[j, i])
                s[i, j] = v
                s[j, i] = v
            }
        }
        return s
    }

    public var allFinite: Bool { elements.allSatisfy { $0.isFinite } }
}

extension Matrix: CustomStringConvertible {
    public var description: String {
        (0..<rows).map { i in row(i).map { String(format: "%.6g", $0) }.joined(separator: " ") }
            .joined(separator: "\n")
    }
}
