import Foundation
import TweedieLinearAlgebra

/// Batches of points as NumPy files: `.npy` for one array, `.npz` for several.
public enum ArrayFile {
    /// Reads a numeric `.npy` file.
    public static func readArray(_ url: URL) throws(FileError) -> NDArray {
        guard let array = try NPY.read(url).numbers else {
            throw FileError(file: url.displayName, "expected numbers, got a string array")
        }
        return array
    }

    /// Reads a batch of points: shape (B, D) as B × D, (D,) as one point (1 × D), and
    /// (B, N, d) — or any (B, …) — with each point flattened in C order, B × (N·d).
    public static func readMatrix(_ url: URL) throws(FileError) -> Matrix {
        let array = try readArray(url)
        switch array.dimensionCount {
        case 0:
            throw FileError(file: url.displayName, "expected an array of points (B, D), got a scalar")
        case 1:
            return Matrix(rows: 1, columns: array.count, elements: array.values)
        default:
            guard let columns = checkedProduct(array.shape.dropFirst()) else {
                throw FileError(file: url.displayName, "shape \(array.shapeText) is too large")
            }
            return Matrix(rows: array.shape[0], columns: columns, elements: array.values)
        }
    }

    /// Writes a batch of points as a `<f8` `.npy` file, atomically.
    ///
    /// - Parameter shape: the shape of one point (one row), e.g. `[16, 3]`, giving a file of shape
    ///   (B, 16, 3); by default the file has shape (B, D).
    public static func write(_ matrix: Matrix, to url: URL, shape: [Int]? = nil) throws(FileError) {
        let pointShape = shape ?? [matrix.columns]
        guard pointShape.allSatisfy({ $0 >= 0 }), checkedProduct(pointShape) == matrix.columns else {
            throw FileError(file: url.displayName, field: "shape",
                            "\(pointShape) does not multiply to the \(matrix.columns) columns of the matrix")
        }
        try NPY.write(.numbers(NDArray(shape: [matrix.rows] + pointShape, values: matrix.elements)), to: url)
    }

    /// Writes named arrays as an uncompressed `.npz` archive, atomically, keeping their order.
    public static func writeArchive(_ arrays: [(String, NDArray)], to url: URL) throws(FileError) {
        do {
            let archive = try NPZArchive(arrays.map { NPZArchive.Entry(name: $0.0, value: .numbers($0.1)) })
            try archive.write(to: url)
        } catch {
            throw error.inFile(url.displayName)
        }
    }
}
