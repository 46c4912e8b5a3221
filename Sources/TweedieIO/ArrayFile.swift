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
        try readPoints(url).points
    }

    /// A batch of points and the shape of one point: (B, D) → [D]; (B, N, d) → [N, d]; a 1-D
    /// array is one point. A point must have at least one coordinate.
    public static func readPoints(_ url: URL) throws(FileError) -> (points: Matrix, pointShape: [Int]) {
        let array = try readArray(url)
        switch array.dimensionCount {
        case 0:
            throw FileError(file: url.displayName, "expected an array of points (B, D), got a scalar")
        case 1:
            return (Matrix(rows: 1, columns: array.count, elements: array.values), array.shape)
        default:
            let pointShape = Array(array.shape.dropFirst())
            guard let columns = ShapeArithmetic.elementCount(pointShape) else {
                throw FileError(file: url.displayName,
                                "shape \(array.shapeText): a point of shape \(pythonTuple(pointShape)) is too large")
            }
            guard columns > 0 else {
                let reason = "points of shape \(pythonTuple(pointShape)) have no coordinates"
                throw FileError(file: url.displayName, "shape \(array.shapeText): \(reason)")
            }
            return (Matrix(rows: array.shape[0], columns: columns, elements: array.values), pointShape)
        }
    }

    /// Writes a batch of points as a `<f8` `.npy` file, atomically.
    ///
    /// - Parameter shape: the shape of one point (one row), e.g. `[16, 3]`, giving a file of shape
    ///   (B, 16, 3); by default the file has shape (B, D).
    public static func write(_ matrix: Matrix, to url: URL, shape: [Int]? = nil) throws(FileError) {
        let pointShape = shape ?? [matrix.columns]
        guard pointShape.allSatisfy({ $0 >= 0 }), ShapeArithmetic.elementCount(pointShape) == matrix.columns else {
            throw FileError(file: url.displayName, field: "shape",
                            "\(pointShape) does not multiply to the \(matrix.columns) columns of the matrix")
        }
        try NPY.write(.numbers(NDArray(shape: [matrix.rows] + pointShape, values: matrix.elements)), to: url)
    }

    /// A `<f8` `.npy` file of `rows` points of shape `pointShape`, written batch by batch (so a
    /// result larger than memory can be saved) and renamed into place by ``finish()``.
    public final class RowWriter {
        private let stream: AtomicFile.Stream
        private let url: URL
        private let rows: Int
        private let columns: Int
        private var written = 0

        public init(_ url: URL, rows: Int, pointShape: [Int]) throws(FileError) {
            guard let values = ShapeArithmetic.elementCount([rows] + pointShape), values <= Int.max / 8 - 65_536,
                  let columns = ShapeArithmetic.elementCount(pointShape) else {
                throw FileError(file: url.displayName, "shape \(pythonTuple([rows] + pointShape)) is too large")
            }
            let header = NPY.preamble(NPYHeader(elementType: .float64, shape: [rows] + pointShape))
            stream = try AtomicFile.openStream(to: url, bytes: header.count + 8 * values)
            try stream.write(header)
            self.url = url
            self.rows = rows
            self.columns = columns
        }

        /// Appends the next rows (a B×D batch).
        public func append(_ batch: Matrix) throws(FileError) {
            guard batch.columns == columns, batch.rows <= rows - written else {
                throw FileError(file: url.displayName, "a batch of \(batch.rows)×\(batch.columns) "
                                + "does not fit \(rows - written) more rows of \(columns)")
            }
            #if _endian(little)
            try stream.write(batch.elements.withUnsafeBytes { Data($0) })
            #else
            try stream.write(Data(batch.elements.flatMap { v in
                withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init)
            }))
            #endif
            written += batch.rows
        }

        /// Checks that every row was written and returns the file staged (``AtomicFile/Staged/commit()``
        /// renames it into place).
        public func finish() throws(FileError) -> AtomicFile.Staged {
            guard written == rows else {
                throw FileError(file: url.displayName, "\(written) of \(rows) rows were written")
            }
            return try stream.finish()
        }
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
