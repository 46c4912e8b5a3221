import Foundation
import TweedieLinearAlgebra

/// A parsed JSON document, walked with typed accessors that name the field in every error.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses a JSON document; syntax errors are reported on one line.
    static func parse(_ data: Data) throws(FileError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            // JSONDecoder says only "not valid JSON"; JSONSerialization says where.
            var detail = ""
            do { _ = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) } catch {
                detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? ""
            }
            throw FileError(detail.isEmpty ? "invalid JSON" : "invalid JSON (\(detail))")
        }
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
            result[member.key] = JSONField(value: member.value, path: path.isEmpty ? member.key : "\(path).\(member.key)")
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
