/// Elementwise arithmetic on matrices of one shape, and scaling by a number, so that a sampler's
/// step reads as its paper writes it (`x + h * d`). Each result element is computed from the
/// corresponding operand elements alone, in the order written. Operands of different shapes are
/// a programming error, as an index out of range is for an array.
extension Matrix {
    private func combined(with other: Matrix, _ operation: (Double, Double) -> Double) -> Matrix {
        precondition(rows == other.rows && columns == other.columns,
                     "matrices of different shapes: \(rows)×\(columns) and \(other.rows)×\(other.columns)")
        var result = self
        result.elements.withUnsafeMutableBufferPointer { r in
            other.elements.withUnsafeBufferPointer { o in
                for i in r.indices { r[i] = operation(r[i], o[i]) }
            }
        }
        return result
    }

    private func mapped(_ operation: (Double) -> Double) -> Matrix {
        var result = self
        result.elements.withUnsafeMutableBufferPointer { r in
            for i in r.indices { r[i] = operation(r[i]) }
        }
        return result
    }

    public static func + (a: Matrix, b: Matrix) -> Matrix { a.combined(with: b, +) }
    public static func - (a: Matrix, b: Matrix) -> Matrix { a.combined(with: b, -) }
    public static func * (c: Double, a: Matrix) -> Matrix { a.mapped { c * $0 } }
    public static func * (a: Matrix, c: Double) -> Matrix { a.mapped { $0 * c } }
    public static func / (a: Matrix, c: Double) -> Matrix { a.mapped { $0 / c } }
    public static prefix func - (a: Matrix) -> Matrix { a.mapped { -$0 } }

    public static func += (a: inout Matrix, b: Matrix) { a = a + b }
    public static func -= (a: inout Matrix, b: Matrix) { a = a - b }
    public static func *= (a: inout Matrix, c: Double) { a = a * c }
    public static func /= (a: inout Matrix, c: Double) { a = a / c }
}
