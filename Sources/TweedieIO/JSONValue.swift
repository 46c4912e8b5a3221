import Foundation
import TweedieLinearAlgebra

/// A parsed JSON document, walked with typed accessors that name the field in every error.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses a JSON document (RFC 8259). Errors are one line with the line and column: a
    /// syntax error, a key given twice in one object, a number beyond Float64's range, or
    /// nesting deeper than ``JSONParser/maximumDepth``.
    static func parse(_ data: Data) throws(FileError) -> JSONValue {
        var parser = JSONParser(Array(data))
        return try parser.document()
    }

    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A JSON value together with its path in the document (`covariances[2][1]`), for error messages.
struct JSONField {
    let value: JSONValue
    let path: String

    func failure(_ reason: String) -> FileError { FileError(field: path, reason) }

    private func mismatch(_ expected: String) -> FileError {
        failure("expected \(expected), got \(value.typeName)")
    }

    var isNull: Bool { value == .null }

    func number() throws(FileError) -> Double {
        guard case .number(let x) = value else { throw mismatch("a number") }
        return x
    }

    func positiveInteger() throws(FileError) -> Int {
        let x = try number()
        guard x >= 1, x <= Double(Int32.max), x.rounded() == x else {
            throw failure("expected a positive integer, got \(x)")
        }
        return Int(x)
    }

    func bool() throws(FileError) -> Bool {
        guard case .bool(let b) = value else { throw mismatch("true or false") }
        return b
    }

    func string() throws(FileError) -> String {
        guard case .string(let s) = value else { throw mismatch("a string") }
        return s
    }

    func elements() throws(FileError) -> [JSONField] {
        guard case .array(let items) = value else { throw mismatch("an array") }
        return items.enumerated().map { JSONField(value: $1, path: "\(path)[\($0)]") }
    }

    /// The members of an object, rejecting keys outside `allowed`.
    func members(allowed: [String]) throws(FileError) -> [String: JSONField] {
        guard case .object(let fields) = value else { throw mismatch("an object") }
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw failure("unknown field '\(unknown)' (known: \(allowed.joined(separator: ", ")))")
        }
        return fields.reduce(into: [:]) { result, member in
            result[member.key] = JSONField(value: member.value,
                                           path: path.isEmpty ? member.key : "\(path).\(member.key)")
        }
    }

    /// An array of numbers, of length `count` when given.
    func numbers(count: Int? = nil) throws(FileError) -> [Double] {
        let items = try elements()
        if let count, items.count != count { throw failure("expected \(count) numbers, got \(items.count)") }
        var values: [Double] = []
        for item in items { values.append(try item.number()) }
        return values
    }

    /// A matrix given as an array of rows; `rows` and `columns` are checked when given, and
    /// the rows must have equal lengths.
    func matrix(rows: Int? = nil, columns: Int? = nil) throws(FileError) -> Matrix {
        let items = try elements()
        if let rows, items.count != rows { throw failure("expected \(rows) rows, got \(items.count)") }
        var elements: [Double] = []
        var width = columns
        for item in items {
            let row = try item.numbers(count: width)
            width = row.count
            elements += row
        }
        return Matrix(rows: items.count, columns: width ?? 0, elements: elements)
    }
}

/// A strict recursive-descent JSON reader; unlike Foundation's decoders it refuses duplicate keys
/// and says which number cannot be represented.
struct JSONParser {
    /// Deeper nesting is refused (a model file nests four levels deep).
    static let maximumDepth = 64

    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0
    /// Where the parser stands, as `JSONField` spells it (`weights[1]`, `noise.matrix[0][2]`), so
    /// that a number out of range names its field.
    private var path: [String] = []

    private var pathText: String {
        path.reduce("") { text, part in part.hasPrefix("[") || text.isEmpty ? text + part : text + "." + part }
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(FileError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        let value = try self.value()
        skipWhitespace()
        guard position == bytes.count else { throw failure("unexpected text after the JSON value") }
        return value
    }

    private func failure(_ reason: String, at offset: Int? = nil) -> FileError {
        let end = min(offset ?? position, bytes.count)
        var line = 1, column = 1
        for b in bytes[..<end] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return FileError("invalid JSON: \(reason) (line \(line), column \(column))")
    }

    private mutating func skipWhitespace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func value() throws(FileError) -> JSONValue {
        skipWhitespace()
        guard position < bytes.count else { throw failure("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw failure("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
        }
    }

    private mutating func literal(_ word: String) throws(FileError) {
        let expected = Array(word.utf8)
        guard bytes.count - position >= expected.count,
              Array(bytes[position..<(position + expected.count)]) == expected else {
            throw failure("unexpected text (expected \(word))")
        }
        position += expected.count
    }

    private mutating func enter() throws(FileError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw failure("nested deeper than \(Self.maximumDepth) levels") }
    }

    private mutating func object() throws(FileError) -> JSONValue {
        var members: [String: JSONValue] = [:]
        try elements(closing: UInt8(ascii: "}"), in: "an object") { (parser: inout JSONParser) throws(FileError) in
            parser.skipWhitespace()
            guard parser.position < parser.bytes.count else {
                throw parser.failure("unexpected end of input in an object")
            }
            let keyStart = parser.position
            guard parser.bytes[parser.position] == UInt8(ascii: "\"") else {
                throw parser.failure("expected a string key")
            }
            let key = try parser.string()
            guard members[key] == nil else {
                throw parser.failure("key '\(key)' appears twice in one object", at: keyStart)
            }
            parser.skipWhitespace()
            guard parser.position < parser.bytes.count, parser.bytes[parser.position] == UInt8(ascii: ":") else {
                throw parser.failure("expected ':' after a key")
            }
            parser.position += 1
            parser.path.append(key)
            defer { parser.path.removeLast() }
            members[key] = try parser.value()
        }
        return .object(members)
    }

    private mutating func array() throws(FileError) -> JSONValue {
        var items: [JSONValue] = []
        try elements(closing: UInt8(ascii: "]"), in: "an array") { (parser: inout JSONParser) throws(FileError) in
            parser.path.append("[\(items.count)]")
            defer { parser.path.removeLast() }
            items.append(try parser.value())
        }
        return .array(items)
    }

    /// The comma-separated elements of an object or array, from its opening bracket to `close`;
    /// `element` reads one element (it is not called for an empty one).
    private mutating func elements(closing close: UInt8, in what: String,
                                   _ element: (inout JSONParser) throws(FileError) -> Void) throws(FileError) {
        try enter()
        defer { depth -= 1 }
        position += 1
        skipWhitespace()
        if position < bytes.count, bytes[position] == close { position += 1; return }
        while true {
            try element(&self)
            skipWhitespace()
            guard position < bytes.count else { throw failure("unexpected end of input in \(what)") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == close { position += 1; return }
            throw failure("expected ',' or '\(Character(Unicode.Scalar(close)))' in \(what)")
        }
    }

    private mutating func number() throws(FileError) -> Double {
        let start = position
        func digits() -> Int {
            let first = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                position += 1
            }
            return position - first
        }
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        let integerStart = position
        guard digits() > 0 else { throw failure("malformed number", at: start) }
        if bytes[integerStart] == UInt8(ascii: "0"), position - integerStart > 1 {
            throw failure("numbers must not have leading zeros", at: start)
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard digits() > 0 else { throw failure("malformed number", at: start) }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits() > 0 else { throw failure("malformed number", at: start) }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            let error = failure("the number \(text) is beyond Float64's range (±1.8e308)", at: start)
            throw path.isEmpty ? error : error.within(field: pathText)
        }
        return value
    }

    private mutating func string() throws(FileError) -> String {
        let start = position
        position += 1
        var scalars = String.UnicodeScalarView()
        var runStart = position
        func flush(_ end: Int) throws(FileError) {
            guard let text = String(validating: bytes[runStart..<end], as: UTF8.self) else {
                throw failure("a string is not valid UTF-8", at: start)
            }
            scalars.append(contentsOf: text.unicodeScalars)
        }
        while true {
            guard position < bytes.count else { throw failure("unterminated string", at: start) }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                try flush(position)
                position += 1
                return String(scalars)
            }
            if b < 0x20 { throw failure("control character in a string") }
            if b != UInt8(ascii: "\\") { position += 1; continue }
            try flush(position)
            position += 1
            guard position < bytes.count else { throw failure("unterminated string", at: start) }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code) {
                    guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u") else {
                        throw failure("unpaired surrogate in a string")
                    }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate in a string") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw failure("invalid \\u escape in a string") }
                scalars.append(scalar)
            default:
                throw failure("invalid escape in a string")
            }
            runStart = position
        }
    }

    private mutating func hex4() throws(FileError) -> UInt32 {
        guard bytes.count - position >= 4,
              let code = UInt32(String(decoding: bytes[position..<(position + 4)], as: UTF8.self), radix: 16) else {
            throw failure("invalid \\u escape in a string")
        }
        position += 4
        return code
    }
}
