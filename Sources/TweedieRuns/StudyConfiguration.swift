import Foundation
import TweedieEvaluation
import TweedieLinearAlgebra
import TweedieDistributions
import TweedieDiffusion
import TweedieOracle
import TweedieSamplers
import TweedieInverse
import TweedieRandom

/// Everything that determines the rows of a sampler study (`config.json`): two directories can
/// be merged only when these agree (``isSameStudy(as:)``).
///
/// The grid is every (sampler, step count) pair, samplers outer: row index
/// `s · steps.count + k` is sampler `samplers[s]` at `steps[k]`. Shard i of n holds the indices
/// ≡ i − 1 (mod n).
public struct StudyConfiguration: Codable, Sendable, Equatable {
    /// The file format's version.
    public var version = 1
    /// The model as given (a built-in name or a file path), with its dimension and mode count.
    public var model: String
    public var dimension: Int
    public var components: Int
    public var schedule: String
    /// The time grid (``GridKind`` raw value).
    public var grid: String
    public var samplers: [String]
    public var steps: [Int]
    public var count: Int
    public var seed: UInt64
    public var projections: Int
    /// rtol = atol of the rk45 solve whose endpoint the path errors are measured against.
    public var referenceTolerance: Double
    /// The part of the grid this directory holds (nil: the whole grid, or a merge).
    public var shard: StudyShard?
    /// Samples per batch (does not change any result).
    public var batchSize: Int
    /// Guidance methods (``GuidanceMethod`` raw values) crossed with the samplers, with the
    /// observation they are guided towards; rows are then measured against the exact posterior.
    public var guidance: [String]?
    public var observation: StudyObservation?

    public init(model: String, dimension: Int, components: Int, schedule: String, grid: String, samplers: [String],
                steps: [Int], count: Int, seed: UInt64, projections: Int, referenceTolerance: Double,
                shard: StudyShard? = nil, batchSize: Int, guidance: [String]? = nil,
                observation: StudyObservation? = nil) {
        self.model = model
        self.dimension = dimension
        self.components = components
        self.schedule = schedule
        self.grid = grid
        self.samplers = samplers
        self.steps = steps
        self.count = count
        self.seed = seed
        self.projections = projections
        self.referenceTolerance = referenceTolerance
        self.shard = shard
        self.batchSize = batchSize
        self.guidance = guidance
        self.observation = observation
    }

    enum CodingKeys: String, CodingKey {
        case version, model, dimension, components, schedule, grid, samplers, steps, count, seed, projections
        case referenceTolerance = "reference_tolerance", shard, batchSize = "batch_size", guidance, observation
    }

    /// The rows' names: the samplers, or with guidance every `sampler+method` (samplers outer).
    public var rowNames: [String] {
        guard let guidance else { return samplers }
        return samplers.flatMap { sampler in guidance.map { "\(sampler)+\($0)" } }
    }

    /// A row name split into its sampler and its guidance method (nil without guidance).
    public func parts(of rowName: String) -> (sampler: String, guidance: String?) {
        guard guidance != nil, let plus = rowName.lastIndex(of: "+") else { return (rowName, nil) }
        return (String(rowName[..<plus]), String(rowName[rowName.index(after: plus)...]))
    }

    /// The number of (row name, steps) rows of the whole grid.
    public var gridSize: Int { rowNames.count * steps.count }

    /// The grid index of a row, or nil if the row is not in the grid.
    public func index(sampler: String, steps: Int) -> Int? {
        guard let s = rowNames.firstIndex(of: sampler), let k = self.steps.firstIndex(of: steps) else { return nil }
        return s * self.steps.count + k
    }

    /// The (row name, steps) pair at a grid index.
    public func entry(_ index: Int) -> (sampler: String, steps: Int) {
        (rowNames[index / steps.count], steps[index % steps.count])
    }

    /// The grid indices a shard runs (all of them without a shard).
    public func indices(in shard: StudyShard?) -> [Int] {
        (0..<gridSize).filter { shard?.contains($0) ?? true }
    }

    /// Whether the two describe the same study: equal in every field but the shard and the batch size.
    public func isSameStudy(as other: StudyConfiguration) -> Bool { firstDifference(from: other) == nil }

    /// The first field that differs between two studies (shard and batch size aside), as
    /// "name: this vs other".
    public func firstDifference(from other: StudyConfiguration) -> String? {
        func text<T>(_ v: T) -> String {
            if let list = v as? [Any] { return "[" + list.map { "\($0)" }.joined(separator: ",") + "]" }
            return "\(v)"
        }
        let fields: [(String, Bool, String, String)] = [
            ("version", version == other.version, text(version), text(other.version)),
            ("model", model == other.model, model, other.model),
            ("dimension", dimension == other.dimension, text(dimension), text(other.dimension)),
            ("components", components == other.components, text(components), text(other.components)),
            ("schedule", schedule == other.schedule, schedule, other.schedule),
            ("grid", grid == other.grid, grid, other.grid),
            ("samplers", samplers == other.samplers, text(samplers), text(other.samplers)),
            ("steps", steps == other.steps, text(steps), text(other.steps)),
            ("count", count == other.count, text(count), text(other.count)),
            ("seed", seed == other.seed, text(seed), text(other.seed)),
            ("projections", projections == other.projections, text(projections), text(other.projections)),
            ("reference_tolerance", referenceTolerance == other.referenceTolerance,
             text(referenceTolerance), text(other.referenceTolerance)),
            ("guidance", guidance == other.guidance, text(guidance ?? []), text(other.guidance ?? [])),
            ("observation", observation == other.observation, observation == nil ? "none" : "given",
             other.observation == nil ? "none" : "given (different)"),
        ]
        return fields.first { !$0.1 }.map { "\($0.0): \($0.2) vs \($0.3)" }
    }

    // MARK: JSON

    /// Pretty-printed JSON with sorted keys.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain numbers, strings and arrays cannot fail.
        return (try? encoder.encode(self)).map { $0 + Data("\n".utf8) } ?? Data()
    }

    public init(json data: Data) throws(StudyError) {
        do {
            self = try JSONDecoder().decode(StudyConfiguration.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw StudyError("missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw StudyError("field '\(path)' has the wrong type")
        } catch {
            throw StudyError("not a valid configuration (invalid JSON)")
        }
        guard version == 1 else { throw StudyError("version \(version) is not supported (expected 1)") }
        guard !samplers.isEmpty, !steps.isEmpty else { throw StudyError("samplers and steps must not be empty") }
        guard Set(samplers).count == samplers.count, Set(steps).count == steps.count else {
            throw StudyError("samplers and steps must not repeat")
        }
        guard (guidance == nil) == (observation == nil) else {
            throw StudyError("guidance and observation go together")
        }
        if let guidance {
            guard !guidance.isEmpty, Set(guidance).count == guidance.count else {
                throw StudyError("guidance must be a non-empty list without repeats")
            }
        }
    }
}

/// The observation y = A x_0 + n of a guided study, with its numbers (so that config.json alone
/// describes the study).
public struct StudyObservation: Codable, Sendable, Equatable {
    /// A as d_y rows of D numbers.
    public var forwardOperator: [[Double]]
    public var y: [Double]
    /// Σ_y as d_y rows of d_y numbers.
    public var noiseCovariance: [[Double]]

    public init(forwardOperator: [[Double]], y: [Double], noiseCovariance: [[Double]]) {
        self.forwardOperator = forwardOperator
        self.y = y
        self.noiseCovariance = noiseCovariance
    }

    enum CodingKeys: String, CodingKey {
        case forwardOperator = "operator", y, noiseCovariance = "noise_covariance"
    }
}

/// Part i of n of a study grid (1-based), written `i/n`.
public struct StudyShard: Codable, Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(StudyError) {
        guard count >= 1, index >= 1, index <= count else {
            throw StudyError("shard \(index)/\(count): need 1 ≤ i ≤ n")
        }
        self.index = index
        self.count = count
    }

    /// Parses `i/n`.
    public init(_ text: String) throws(StudyError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw StudyError("shard '\(text)': expected i/n, e.g. 1/4")
        }
        try self.init(index: i, count: n)
    }

    /// Whether grid index `index` (0-based) belongs to this shard.
    public func contains(_ gridIndex: Int) -> Bool { gridIndex % count == index - 1 }

    public var description: String { "\(index)/\(count)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
