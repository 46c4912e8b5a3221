import TweedieLinearAlgebra

/// An n-dimensional array of numbers in C (row-major) order, as loaded from or saved to `.npy`.
///
/// A 0-dimensional array (`shape == []`) holds one value.
public struct NDArray: Sendable, Equatable {
    public var shape: [Int]
    /// Elements in C order: the last index varies fastest.
    public var values: [Double]

    /// An array of the given shape; `values.count` must be the product of `shape`.
    public init(shape: [Int], values: [Double]) {
        precondition(ShapeArithmetic.elementCount(shape) == values.count,
                     "shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    /// A one-dimensional array.
    public init(_ values: [Double]) {
        self.init(shape: [values.count], values: values)
    }

    /// A 0-dimensional array holding `value`.
    public init(scalar value: Double) {
        self.init(shape: [], values: [value])
    }

    /// A two-dimensional array with the matrix's rows and columns.
    public init(matrix: Matrix) {
        self.init(shape: [matrix.rows, matrix.columns], values: matrix.elements)
    }

    /// A three-dimensional array stacking equally sized matrices, e.g. K full covariances.
    public init(stacking matrices: [Matrix], rows: Int, columns: Int) {
        precondition(matrices.allSatisfy { $0.rows == rows && $0.columns == columns }, "matrices of unequal size")
        self.init(shape: [matrices.count, rows, columns], values: matrices.flatMap(\.elements))
    }

    public var dimensionCount: Int { shape.count }
    public var count: Int { values.count }

    /// The array as a matrix; throws unless it is two-dimensional.
    public func matrix() throws(FileError) -> Matrix {
        guard shape.count == 2 else {
            throw FileError("expected a 2-dimensional array, got shape \(shapeText)")
        }
        return Matrix(rows: shape[0], columns: shape[1], elements: values)
    }

    /// The shape as NumPy prints it, e.g. `(3,)` or `(2, 3)`.
    public var shapeText: String { pythonTuple(shape) }
}

/// The contents of one `.npy` file: numbers, or fixed-width strings (NumPy's `<U` dtype).
public enum NPYValue: Sendable, Equatable {
    case numbers(NDArray)
    /// Strings in C order; `values.count` is the product of `shape`.
    case strings(shape: [Int], values: [String])

    /// A 0-dimensional string array, what NumPy saves for `np.array("full")`.
    public static func string(_ value: String) -> NPYValue {
        .strings(shape: [], values: [value])
    }

    public var shape: [Int] {
        switch self {
        case .numbers(let array): array.shape
        case .strings(let shape, _): shape
        }
    }

    /// The numeric array, or `nil` for strings.
    public var numbers: NDArray? {
        if case .numbers(let array) = self { array } else { nil }
    }

    /// The single string of a string array with one element (shape `()` or `(1,)`), else `nil`.
    public var singleString: String? {
        if case .strings(_, let values) = self, values.count == 1 { values[0] } else { nil }
    }
}

/// A shape written as a Python tuple: `()`, `(3,)`, `(2, 3)`.
func pythonTuple(_ shape: [Int]) -> String {
    shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
