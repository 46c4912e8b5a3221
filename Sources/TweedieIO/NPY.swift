import Foundation
import TweedieLinearAlgebra
import TweedieDistributions

/// NumPy's `.npy` format: a magic string, a version, a Python-dictionary header, then the data.
///
/// Reading accepts format versions 1.0, 2.0 and 3.0, C-ordered arrays of little-endian
/// floats (`<f8`, `<f4`), integers (`<i8` … `|u1`, converted to `Double` exactly: a 64-bit
/// integer that Float64 cannot hold exactly is refused, not rounded), and fixed-width strings (`<U`, `|S`). Booleans,
/// big-endian data, Fortran-ordered arrays of two or more dimensions, zero-width strings, object
/// and structured arrays are rejected, and so is an array larger than the memory limit
/// (``MemoryBudget``), before anything is allocated.
/// Writing produces version 1.0 files with `<f8` numbers or `<U` strings, as `np.save` does.
public enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Reads a `.npy` file.
    public static func read(_ url: URL) throws(FileError) -> NPYValue {
        let data = try readContents(of: url)
        do { return try decode(data) } catch { throw error.inFile(url.displayName) }
    }

    /// Writes a `.npy` file atomically.
    public static func write(_ value: NPYValue, to url: URL) throws(FileError) {
        try AtomicFile.write(encode(value), to: url)
    }

    /// Decodes the bytes of a `.npy` file.
    public static func decode(_ data: Data) throws(FileError) -> NPYValue {
        try data.withUnsafeBytes { bytes in Result { () throws(FileError) in try decode(bytes) } }.get()
    }

    /// Where the header dictionary lies: after the magic string, the version and its length.
    private static func headerRange(_ bytes: UnsafeRawBufferPointer) throws(FileError) -> Range<Int> {
        guard bytes.count >= 10, bytes.starts(with: magic) else {
            throw FileError("not a .npy file (missing the \\x93NUMPY magic string)")
        }
        let (major, minor) = (bytes[6], bytes[7])
        switch major {
        case 1:
            return 10..<(10 + (Int(bytes[8]) | Int(bytes[9]) << 8))
        case 2, 3:
            guard bytes.count >= 12 else { throw FileError(field: "header", "truncated") }
            return 12..<(12 + (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) })
        default:
            throw FileError("unsupported .npy format version \(major).\(minor) (expected 1.0, 2.0 or 3.0)")
        }
    }

    /// The size of the whole `.npy` file its first bytes declare (preamble, header and data), or
    /// nil while `prefix` does not reach the end of the header. Lets a reader bound an archive
    /// entry before inflating it.
    static func declaredFileSize(prefix: Data) throws(FileError) -> Int? {
        try prefix.withUnsafeBytes { bytes in
            Result { () throws(FileError) -> Int? in
                guard bytes.count >= 12 || (bytes.count >= 10 && bytes[6] == 1) else { return nil }
                let range = try headerRange(bytes)
                guard range.upperBound <= bytes.count else { return nil }
                let header = try NPYHeader(parsing: Array(bytes[range]))
                let (data, overflow) = try elementCount(header.shape)
                    .multipliedReportingOverflow(by: header.elementType.size)
                guard !overflow, data <= Int.max - range.upperBound else {
                    throw FileError(field: "header", "shape \(pythonTuple(header.shape)) is too large")
                }
                return range.upperBound + data
            }
        }.get()
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer) throws(FileError) -> NPYValue {
        let range = try headerRange(bytes)
        let headerStart = range.lowerBound, headerLength = range.count
        let dataStart = range.upperBound
        guard dataStart <= bytes.count else {
            throw FileError(field: "header",
                            "truncated: needs \(headerLength) bytes, the file has \(bytes.count - headerStart)")
        }
        let header = try NPYHeader(parsing: Array(bytes[headerStart..<dataStart]))
        if header.fortranOrder && header.shape.count > 1 {
            throw FileError(field: "header",
                            "Fortran-ordered arrays are not supported; save np.ascontiguousarray(arr) instead")
        }
        let count = try elementCount(header.shape)
        let type = header.elementType
        do {
            // Strings cost far more than their bytes once decoded.
            try MemoryBudget.require("shape", "\(count) elements", elements: [count],
                                     bytesEach: type.isString ? 16 + type.size : 8)
        } catch {
            throw FileError(field: "header", "shape \(pythonTuple(header.shape)) is too large: \(error.reason)")
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: type.size)
        let available = bytes.count - dataStart
        guard !overflow, needed <= available else {
            throw FileError("truncated data: shape \(pythonTuple(header.shape)) of \(type.descr) "
                            + "needs \(overflow ? "more than \(Int.max)" : String(needed)) bytes, "
                            + "the file has \(available)")
        }
        guard needed == available else {
            throw FileError("too much data: shape \(pythonTuple(header.shape)) of \(type.descr) "
                            + "needs \(needed) bytes, the file has \(available)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[dataStart...])
        guard type.isString else {
            return .numbers(NDArray(shape: header.shape, values: try decodeNumbers(raw, count: count, type: type)))
        }
        return .strings(shape: header.shape, values: try decodeStrings(raw, count: count, type: type))
    }

    /// The bytes of a version 1.0 `.npy` file holding `value` (`<f8` numbers or `<U` strings).
    public static func encode(_ value: NPYValue) -> Data {
        switch value {
        case .numbers(let array):
            var data = preamble(NPYHeader(elementType: .float64, shape: array.shape))
            data.reserveCapacity(data.count + 8 * array.count)
            #if _endian(little)
            array.values.withUnsafeBytes { data.append(contentsOf: $0) }
            #else
            for v in array.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            #endif
            return data
        case .strings(let shape, let values):
            precondition(ShapeArithmetic.elementCount(shape) == values.count,
                         "shape \(shape) does not match \(values.count) strings")
            let width = max(1, values.map(\.unicodeScalars.count).max() ?? 1)
            let type = NPYElementType(kind: .unicode(characters: width), size: 4 * width)
            var data = preamble(NPYHeader(elementType: type, shape: shape))
            for string in values {
                let scalars = string.unicodeScalars.map(\.value)
                for code in scalars + [UInt32](repeating: 0, count: width - scalars.count) {
                    withUnsafeBytes(of: code.littleEndian) { data.append(contentsOf: $0) }
                }
            }
            return data
        }
    }

    /// The bytes of a version 1.0 `.npy` file of `|u1` values: numbers that are all integers in
    /// 0...255 (8-bit pixels), one byte each.
    static func encodeBytes(_ value: NPYValue) throws(FileError) -> Data {
        guard let array = value.numbers,
              let bytes = Optional(array.values.compactMap { UInt8(exactly: $0) }), bytes.count == array.count else {
            throw FileError("only integers in 0...255 can be stored as bytes")
        }
        var data = preamble(NPYHeader(elementType: NPYElementType(kind: .unsignedInteger, size: 1), shape: array.shape))
        data.append(contentsOf: bytes)
        return data
    }

    /// Magic string, version and header, padded with spaces and a newline to a multiple of 64 bytes.
    static func preamble(_ header: NPYHeader) -> Data {
        var text = Array(header.text.utf8)
        let fixed = text.count + 1 > Int(UInt16.max) - 64 ? 12 : 10  // version 2.0 for huge headers
        let padding = (64 - (fixed + text.count + 1) % 64) % 64
        text += [UInt8](repeating: 0x20, count: padding) + [0x0A]
        var data = Data(magic + [fixed == 10 ? 1 : 2, 0])
        for i in 0..<(fixed - 8) { data.append(UInt8(truncatingIfNeeded: text.count >> (8 * i))) }
        data.append(contentsOf: text)
        return data
    }

    private static func elementCount(_ shape: [Int]) throws(FileError) -> Int {
        guard let count = ShapeArithmetic.elementCount(shape) else {
            throw FileError(field: "header", "shape \(pythonTuple(shape)) is too large")
        }
        return count
    }

    private static func decodeNumbers(_ raw: UnsafeRawBufferPointer, count: Int,
                                      type: NPYElementType) throws(FileError) -> [Double] {
        func load<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
            [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
                for i in 0..<count {
                    buffer[i] = convert(T(littleEndian: raw.loadUnaligned(fromByteOffset: i * T.bitWidth / 8,
                                                                          as: T.self)))
                }
                initialized = count
            }
        }
        /// 64-bit integers beyond ±2⁵³ may have no exact Float64; those are refused.
        func exact<T: FixedWidthInteger>(_: T.Type) throws(FileError) -> [Double] {
            let values = load(T.self) { Double(exactly: $0) ?? .nan }
            if let i = values.firstIndex(where: \.isNaN) {
                let value = T(littleEndian: raw.loadUnaligned(fromByteOffset: i * T.bitWidth / 8, as: T.self))
                throw FileError("element \(i) = \(value) has no exact Float64 (integers beyond 2^53 lose digits)")
            }
            return values
        }
        switch (type.kind, type.size) {
        case (.float, 8): return load(UInt64.self) { Double(bitPattern: $0) }
        case (.float, _): return load(UInt32.self) { Double(Float(bitPattern: $0)) }
        case (.signedInteger, 1): return load(Int8.self) { Double($0) }
        case (.signedInteger, 2): return load(Int16.self) { Double($0) }
        case (.signedInteger, 4): return load(Int32.self) { Double($0) }
        case (.signedInteger, _): return try exact(Int64.self)
        case (.unsignedInteger, 1): return load(UInt8.self) { Double($0) }
        case (.unsignedInteger, 2): return load(UInt16.self) { Double($0) }
        case (.unsignedInteger, 4): return load(UInt32.self) { Double($0) }
        default: return try exact(UInt64.self)
        }
    }

    private static func decodeStrings(_ raw: UnsafeRawBufferPointer, count: Int,
                                      type: NPYElementType) throws(FileError) -> [String] {
        var strings: [String] = []
        strings.reserveCapacity(count)
        for i in 0..<count {
            let element = UnsafeRawBufferPointer(rebasing: raw[(i * type.size)..<((i + 1) * type.size)])
            if case .unicode(let characters) = type.kind {
                var scalars = String.UnicodeScalarView()
                for j in 0..<characters {
                    let code = UInt32(littleEndian: element.loadUnaligned(fromByteOffset: 4 * j, as: UInt32.self))
                    if code == 0 { break }
                    guard let scalar = Unicode.Scalar(code) else {
                        throw FileError("string \(i) holds an invalid code point \(code)")
                    }
                    scalars.append(scalar)
                }
                strings.append(String(scalars))
            } else {
                let end = element.firstIndex(of: 0) ?? element.count
                guard let string = String(validating: element[..<end], as: UTF8.self) else {
                    throw FileError("string \(i) is not valid UTF-8")
                }
                strings.append(string)
            }
        }
        return strings
    }
}
