/// The Python literals that appear in a `.npy` header, e.g.
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }`.
indirect enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dictionary([String: PythonLiteral])
}

/// A recursive-descent parser for the subset of Python literal syntax that NumPy writes:
/// quoted strings, integers, `True`, `False`, `None`, tuples, lists and string-keyed dictionaries.
struct PythonLiteralParser {
    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0

    /// Parses `text`, which must hold exactly one literal (plus whitespace).
    static func parse(_ text: [UInt8]) throws(FileError) -> PythonLiteral {
        var parser = PythonLiteralParser(bytes: text)
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else {
            throw parser.failure("unexpected text after the dictionary")
        }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func failure(_ reason: String) -> FileError {
        FileError(field: "header", "\(reason) at offset \(position)")
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { position += 1 }
    }

    private mutating func value() throws(FileError) -> PythonLiteral {
        skipWhitespace()
        guard let c = current else { throw failure("unexpected end") }
        depth += 1
        defer { depth -= 1 }
        guard depth <= 32 else { throw failure("nested too deeply") }
        switch c {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "("):
            let (items, count, trailingComma) = try sequence(closing: ")")
            // `(3)` is just 3 in Python; a one-element tuple needs the comma.
            return count == 1 && !trailingComma ? items[0] : .tuple(items)
        case UInt8(ascii: "["): return .list(try sequence(closing: "]").items)
        case UInt8(ascii: "{"): return try dictionary()
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try integer())
        default:
            for (word, literal) in [("True", PythonLiteral.boolean(true)), ("False", .boolean(false)), ("None", .none)]
            where bytes[position...].starts(with: word.utf8) {
                position += word.utf8.count
                return literal
            }
            throw failure("unexpected character '\(Character(Unicode.Scalar(c)))'")
        }
    }

    private mutating func string() throws(FileError) -> String {
        let quote = bytes[position]
        position += 1
        var scalars = String.UnicodeScalarView()
        while let c = current {
            position += 1
            if c == quote { return String(scalars) }
            if c == UInt8(ascii: "\\") {
                guard let escaped = current else { break }
                position += 1
                scalars.append(Unicode.Scalar(escaped))
            } else {
                scalars.append(Unicode.Scalar(c))
            }
        }
        throw failure("unterminated string")
    }

    private mutating func integer() throws(FileError) -> Int {
        var negative = false
        if current == UInt8(ascii: "-") || current == UInt8(ascii: "+") {
            negative = current == UInt8(ascii: "-")
            position += 1
        }
        var magnitude = 0
        var digits = 0
        while let c = current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw failure("integer too large") }
            magnitude = sum
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw failure("expected digits") }
        if current == UInt8(ascii: "L") { position += 1 }  // Python 2 long integers
        return negative ? -magnitude : magnitude
    }

    private mutating func sequence(closing: Unicode.Scalar) throws(FileError)
        -> (items: [PythonLiteral], count: Int, trailingComma: Bool) {
        position += 1
        var items: [PythonLiteral] = []
        var trailingComma = false
        while true {
            skipWhitespace()
            if current == UInt8(ascii: closing) {
                position += 1
                return (items, items.count, trailingComma)
            }
            items.append(try value())
            skipWhitespace()
            trailingComma = false
            if current == UInt8(ascii: ",") {
                position += 1
                trailingComma = true
            } else if current != UInt8(ascii: closing) {
                throw failure("expected ',' or '\(closing)'")
            }
        }
    }

    private mutating func dictionary() throws(FileError) -> PythonLiteral {
        position += 1
        var entries: [String: PythonLiteral] = [:]
        while true {
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                position += 1
                return .dictionary(entries)
            }
            guard case .string(let key) = try value() else { throw failure("dictionary keys must be strings") }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("expected ':' after '\(key)'") }
            position += 1
            guard entries.updateValue(try value(), forKey: key) == nil else { throw failure("duplicate key '\(key)'") }
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
            } else if current != UInt8(ascii: "}") {
                throw failure("expected ',' or '}'")
            }
        }
    }
}
