/// An element type of a `.npy` file, from the header's `descr`, e.g. `<f8` or `<U4`.
struct NPYElementType: Equatable {
    enum Kind: Equatable {
        case float, signedInteger, unsignedInteger, boolean
        /// Fixed-width UCS-4 strings; `characters` code points per element.
        case unicode(characters: Int)
        /// Fixed-width byte strings (`|S`).
        case bytes
    }

    var kind: Kind
    /// Bytes per element.
    var size: Int

    static let float64 = NPYElementType(kind: .float, size: 8)

    var isString: Bool {
        switch kind {
        case .unicode, .bytes: true
        default: false
        }
    }

}

extension NPYElementType {
    static let supportedList = "<f8, <f4, <i8, <i4, <i2, |i1, <u8, <u4, <u2, |u1, <U (strings), |S (bytes)"

    /// Parses a `descr` string; throws for big-endian, structured and other unsupported types.
    init(descr: String) throws(FileError) {
        let unsupported = FileError(field: "header",
                                    "unsupported dtype '\(descr)' (supported: \(Self.supportedList))")
        guard let order = descr.first, "<>|=".contains(order), descr.count >= 2 else { throw unsupported }
        let code = descr[descr.index(after: descr.startIndex)]
        let digits = descr.dropFirst(2)
        guard let width = Int(digits.isEmpty ? "-" : String(digits)), width >= 0 else {
            if code == "O" {
                throw FileError(field: "header", "object arrays ('\(descr)') are not supported: they need pickle")
            }
            throw unsupported
        }
        switch (code, width) {
        case ("f", 4), ("f", 8): self.init(kind: .float, size: width)
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8): self.init(kind: .signedInteger, size: width)
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8): self.init(kind: .unsignedInteger, size: width)
        case ("b", 1):
            throw FileError(field: "header",
                            "boolean arrays ('\(descr)') are not numbers; save arr.astype(float) instead")
        case ("U", 0), ("S", 0):
            throw FileError(field: "header", "zero-width strings ('\(descr)') are not supported")
        case ("U", _):
            let (size, overflow) = width.multipliedReportingOverflow(by: 4)
            guard !overflow else { throw unsupported }
            self.init(kind: .unicode(characters: width), size: size)
        case ("S", _): self.init(kind: .bytes, size: width)
        default: throw unsupported
        }
        if order == ">" && size > 1 && kind != .bytes {
            throw FileError(field: "header",
                            "big-endian dtype '\(descr)' is not supported; "
                            + "save it with arr.astype('<\(descr.dropFirst())')")
        }
    }

    /// The `descr` NumPy writes for this type.
    var descr: String {
        switch kind {
        case .float: "<f\(size)"
        case .signedInteger: size == 1 ? "|i1" : "<i\(size)"
        case .unsignedInteger: size == 1 ? "|u1" : "<u\(size)"
        case .boolean: "|b1"
        case .unicode(let characters): "<U\(characters)"
        case .bytes: "|S\(size)"
        }
    }
}

/// The header of a `.npy` file: element type, memory order and shape.
struct NPYHeader: Equatable {
    var elementType: NPYElementType
    var fortranOrder: Bool
    var shape: [Int]

    /// Parses the header dictionary, e.g. `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }`.
    init(parsing text: [UInt8]) throws(FileError) {
        guard case .dictionary(let fields) = try PythonLiteralParser.parse(text) else {
            throw FileError(field: "header", "is not a dictionary")
        }
        let expected: Set<String> = ["descr", "fortran_order", "shape"]
        guard Set(fields.keys) == expected else {
            let keys = fields.keys.sorted().joined(separator: ", ")
            throw FileError(field: "header", "has keys [\(keys)], expected [descr, fortran_order, shape]")
        }
        switch fields["descr"] {
        case .string(let descr)?: elementType = try NPYElementType(descr: descr)
        default: throw FileError(field: "header", "structured dtypes are not supported (descr is not a string)")
        }
        guard case .boolean(let fortran)? = fields["fortran_order"] else {
            throw FileError(field: "header", "fortran_order is not True or False")
        }
        fortranOrder = fortran
        guard case .tuple(let dimensions)? = fields["shape"] else {
            throw FileError(field: "header", "shape is not a tuple")
        }
        shape = []
        for dimension in dimensions {
            guard case .integer(let n) = dimension, n >= 0 else {
                throw FileError(field: "header", "shape must hold non-negative integers")
            }
            shape.append(n)
        }
    }

    init(elementType: NPYElementType, shape: [Int]) {
        self.elementType = elementType
        self.fortranOrder = false
        self.shape = shape
    }

    /// The header dictionary as NumPy writes it.
    var text: String {
        "{'descr': '\(elementType.descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), "
            + "'shape': \(pythonTuple(shape)), }"
    }
}
