import Foundation
import TweedieEvaluation
import TweedieLinearAlgebra
import TweedieDistributions
import TweedieDiffusion
import TweedieOracle
import TweedieSamplers
import TweedieInverse
import TweedieRandom

/// The study's figures are the evaluation module's measurements (not Foundation's units).
public typealias Measurement = TweedieEvaluation.Measurement

/// A sampler study that cannot be read, merged or fitted, described on one line.
public struct StudyError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) {
        self.description = description.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// One run of a sampler study: a sampler at a step count, its cost and its measurements.
public struct StudyRow: Sendable, Equatable {
    /// The sampler as listed (`heun`, or with options, `ddim:eta=0.5`).
    public var sampler: String
    public var steps: Int
    /// Whether the sampler ignores the noise stream (its samples depend on the starting state only).
    public var isDeterministic: Bool
    /// Model calls per sample (the mean, for adaptive samplers).
    public var modelCallsPerSample: Double
    /// Seconds spent sampling (not evaluating); differs between runs.
    public var wallTime: Double
    /// Every figure of the samples, the path error last for deterministic samplers.
    public var measurements: [Measurement]

    public init(sampler: String, steps: Int, isDeterministic: Bool, modelCallsPerSample: Double, wallTime: Double,
                measurements: [Measurement]) {
        self.sampler = sampler
        self.steps = steps
        self.isDeterministic = isDeterministic
        self.modelCallsPerSample = modelCallsPerSample
        self.wallTime = wallTime
        self.measurements = measurements
    }

    /// The measurement named `name`, if the row has it.
    public func measurement(_ name: String) -> Measurement? { measurements.first { $0.name == name } }
}

/// The rows of a study as `results.csv`: one row per sampler and step count, numbers with
/// every digit (Swift's shortest round-trip form), so that writing what was read gives the same
/// text.
///
/// Columns: `sampler, steps, deterministic, model_calls_per_sample, wall_time_s`, then for each
/// measurement `name` and `name_floor` (empty where a row lacks the measurement or the floor is
/// nil). Measurement columns come in order of first appearance over the rows.
public struct StudyTable: Sendable, Equatable {
    public static let fixedColumns = ["sampler", "steps", "deterministic", "model_calls_per_sample", "wall_time_s"]
    /// The suffix of a noise-floor column.
    public static let floorSuffix = "_floor"

    public var rows: [StudyRow]

    public init(rows: [StudyRow]) { self.rows = rows }

    /// Measurement names in order of first appearance.
    public var measurementNames: [String] {
        var names: [String] = []
        for row in rows {
            for m in row.measurements where !names.contains(m.name) { names.append(m.name) }
        }
        return names
    }

    /// Labels by measurement name (the first label seen for each).
    public var measurementLabels: [String: String] {
        var labels: [String: String] = [:]
        for row in rows {
            for m in row.measurements where labels[m.name] == nil { labels[m.name] = m.label }
        }
        return labels
    }

    // MARK: Writing

    public func csv() -> String {
        let names = measurementNames
        var lines = [(Self.fixedColumns + names.flatMap { [$0, $0 + Self.floorSuffix] })
                        .map(Self.field).joined(separator: ",")]
        for row in rows {
            var fields = [row.sampler, "\(row.steps)", row.isDeterministic ? "true" : "false",
                          Self.number(row.modelCallsPerSample), Self.number(row.wallTime)]
            for name in names {
                let m = row.measurement(name)
                fields.append(m.map { Self.number($0.value) } ?? "")
                fields.append(m?.noiseFloor.map(Self.number) ?? "")
            }
            lines.append(fields.map(Self.field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every digit: the shortest text that reads back as the same Double.
    public static func number(_ value: Double) -> String { "\(value)" }

    /// A CSV field, quoted when it holds a comma, a quote or a line break.
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: Reading

    /// Parses `results.csv` text; `labels` names the measurements for reports (the name itself
    /// where missing). Errors name the line and column.
    public init(csv text: String, labels: [String: String] = [:]) throws(StudyError) {
        let records = try Self.records(text)
        guard let header = records.first else { throw StudyError("empty file (no header line)") }
        guard header.count >= Self.fixedColumns.count,
              Array(header.prefix(Self.fixedColumns.count)) == Self.fixedColumns else {
            throw StudyError("line 1: the header must begin with \(Self.fixedColumns.joined(separator: ","))")
        }
        let extra = Array(header.dropFirst(Self.fixedColumns.count))
        guard extra.count % 2 == 0 else {
            throw StudyError("line 1: measurement columns must come in pairs name,name_floor")
        }
        var names: [String] = []
        for pair in stride(from: 0, to: extra.count, by: 2) {
            let name = extra[pair]
            guard !name.isEmpty, extra[pair + 1] == name + Self.floorSuffix else {
                throw StudyError("line 1: column '\(extra[pair + 1])' should be '\(name)\(Self.floorSuffix)'")
            }
            guard !names.contains(name) else { throw StudyError("line 1: measurement '\(name)' appears twice") }
            names.append(name)
        }
        var rows: [StudyRow] = []
        for (k, record) in records.enumerated().dropFirst() {
            let line = k + 1
            guard record.count == header.count else {
                throw StudyError("line \(line): \(record.count) fields, the header has \(header.count)")
            }
            func value(_ column: Int) throws(StudyError) -> Double {
                guard let v = Double(record[column]) else {
                    throw StudyError("line \(line): \(header[column]): '\(record[column])' is not a number")
                }
                return v
            }
            guard !record[0].isEmpty else { throw StudyError("line \(line): sampler: empty") }
            guard let steps = Int(record[1]), steps >= 1 else {
                throw StudyError("line \(line): steps: '\(record[1])' is not a positive integer")
            }
            guard record[2] == "true" || record[2] == "false" else {
                throw StudyError("line \(line): deterministic: '\(record[2])' is not true or false")
            }
            var measurements: [Measurement] = []
            for (j, name) in names.enumerated() {
                let column = Self.fixedColumns.count + 2 * j
                if record[column].isEmpty {
                    guard record[column + 1].isEmpty else {
                        throw StudyError("line \(line): \(name)\(Self.floorSuffix) is given without \(name)")
                    }
                    continue
                }
                let floor: Double? = record[column + 1].isEmpty ? nil : try value(column + 1)
                measurements.append(Measurement(name: name, label: labels[name] ?? name, value: try value(column),
                                                noiseFloor: floor))
            }
            rows.append(StudyRow(sampler: record[0], steps: steps, isDeterministic: record[2] == "true",
                                 modelCallsPerSample: try value(3), wallTime: try value(4), measurements: measurements))
        }
        self.rows = rows
    }

    /// The records of CSV text (RFC 4180 quoting; a final line break is optional; blank lines are skipped).
    static func records(_ text: String) throws(StudyError) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = [], field = ""
        var quoted = false, wasQuoted = false
        var line = 1
        var characters = Array(text).makeIterator()
        var pending: Character? = nil
        func next() -> Character? {
            if let c = pending { pending = nil; return c }
            return characters.next()
        }
        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].isEmpty && !wasQuoted) { records.append(record) }
            record = []
            field = ""
            wasQuoted = false
        }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let following = next() {
                        if following == "\"" { field.append("\"") } else { quoted = false; pending = following }
                    } else {
                        quoted = false
                    }
                } else {
                    if c.isNewline { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty else { throw StudyError("line \(line): a quote inside an unquoted field") }
                quoted = true
                wasQuoted = true
            case ",":
                record.append(field)
                field = ""
                wasQuoted = false
            case "\n", "\r\n", "\r":
                endRecord()
                line += 1
            default:
                field.append(c)
            }
        }
        guard !quoted else { throw StudyError("line \(line): a quoted field is not closed") }
        if !field.isEmpty || !record.isEmpty || wasQuoted { endRecord() }
        return records
    }
}
