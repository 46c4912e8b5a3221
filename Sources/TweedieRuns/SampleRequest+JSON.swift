import Foundation
import TweedieInverse
import TweedieOracle
import TweedieSamplers

/// The JSON form of a request, the C ABI's and Python's:
///
/// ```json
/// {"sampler": "heun", "sampler_options": {"s_churn": 2}, "schedule": "edm", "grid": "karras",
///  "steps": 18, "count": 1000, "seed": 1, "batch_size": 256, "precision": "float64",
///  "guidance": {"method": "dps", "zeta": 0.5}, "network": {"prediction": "epsilon", "dimension": 2},
///  "prune": 1e-8}
/// ```
///
/// `sampler`, `schedule` and `count` are required; every other field may be left out (or null).
/// Option names are written with underscores or hyphens (`s_churn`, `s-churn`). An unknown field,
/// a value of the wrong type and a broken rule are each one ``RequestError``.
extension SampleRequest: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private static let fields = ["sampler", "sampler_options", "schedule", "grid", "steps", "times", "count",
                                 "seed", "batch_size", "precision", "guidance", "network", "prune"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let unknown = c.allKeys.first(where: { !Self.fields.contains($0.stringValue) }) {
            throw RequestError(unknown.stringValue,
                               "'\(unknown.stringValue)' is not a field of a sampling request "
                               + "(fields: \(Self.fields.joined(separator: ", ")))")
        }
        func value<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
            try c.decodeIfPresent(type, forKey: Key(name))
        }
        /// An integer field: a number with a fraction, or out of range, is one message.
        func integer<T: FixedWidthInteger & Decodable>(_ type: T.Type, _ name: String) throws -> T? {
            if let exact = try? c.decodeIfPresent(type, forKey: Key(name)) { return exact }
            if let number = try? c.decode(Double.self, forKey: Key(name)) {
                throw RequestError(name, "{\(name)} must be an integer in \(T.min)...\(T.max), got \(number)")
            }
            return try value(type, name)  // null, or the type error of a string or an object
        }
        func named<T: RawRepresentable & CaseIterable>(_ type: T.Type, _ name: String, _ text: String?) throws -> T?
        where T.RawValue == String {
            guard let text else { return nil }
            guard let result = T(rawValue: text) else {
                throw RequestError(name, "{\(name)}: unknown '\(text)' "
                                   + "(known: \(T.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return result
        }
        guard let samplerText = try value(String.self, "sampler") else {
            throw RequestError("sampler", "{sampler} is needed")
        }
        // `name[:option=value…]` is read as the command line writes it; sampler_options add to it.
        let written: SamplerConfiguration
        do { written = try SamplerConfiguration(parsing: samplerText) } catch {
            throw RequestError(requestField(error.argument), "{\(requestField(error.argument))}: \(error.reason)")
        }
        var options = written.options
        for (name, given) in try value([String: OptionValue].self, "sampler_options") ?? [:] {
            guard let option = SamplerConfiguration.Option(rawValue: name.replacingOccurrences(of: "_", with: "-"))
            else {
                let known = SamplerConfiguration.Option.allCases.map { requestField($0.rawValue) }
                throw RequestError(name, "'\(name)' is not a sampler option "
                                   + "(options: \(known.joined(separator: ", ")))")
            }
            options[option] = try given.value(for: option)
        }
        do { sampler = try SamplerConfiguration(written.kind, values: options) } catch {
            throw RequestError(requestField(error.argument), "{\(requestField(error.argument))} \(error.reason)")
        }
        guard let schedule = try value(String.self, "schedule") else {
            throw RequestError("schedule", "{schedule} is needed")
        }
        self.schedule = schedule
        grid = try named(GridKind.self, "grid", try value(String.self, "grid"))
        steps = try integer(Int.self, "steps")
        times = try value([Double].self, "times")
        guard let count = try integer(Int.self, "count") else { throw RequestError("count", "{count} is needed") }
        self.count = count
        seed = try integer(UInt64.self, "seed") ?? 0
        batchSize = try integer(Int.self, "batch_size")
        precision = try named(Precision.self, "precision", try value(String.self, "precision")) ?? .float64
        guidance = try value(GuidanceJSON.self, "guidance").map { try $0.guidance() }
        network = try value(NetworkJSON.self, "network").map { try $0.network() }
        prune = try value(Double.self, "prune")
        observation = nil
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(sampler.kind.rawValue, forKey: Key("sampler"))
        if !sampler.options.isEmpty {
            let options = Dictionary(uniqueKeysWithValues: sampler.options.map { option, value in
                (requestField(option.rawValue), OptionValue(value))
            })
            try c.encode(options, forKey: Key("sampler_options"))
        }
        try c.encode(schedule, forKey: Key("schedule"))
        try c.encodeIfPresent(grid?.rawValue, forKey: Key("grid"))
        try c.encodeIfPresent(steps, forKey: Key("steps"))
        try c.encodeIfPresent(times, forKey: Key("times"))
        try c.encode(count, forKey: Key("count"))
        try c.encode(seed, forKey: Key("seed"))
        try c.encodeIfPresent(batchSize, forKey: Key("batch_size"))
        try c.encode(precision.rawValue, forKey: Key("precision"))
        try c.encodeIfPresent(guidance.map { GuidanceJSON(method: $0.method.rawValue, zeta: $0.zeta) },
                              forKey: Key("guidance"))
        try c.encodeIfPresent(network.map { NetworkJSON(prediction: $0.prediction.rawValue, dimension: $0.dimension) },
                              forKey: Key("network"))
        try c.encodeIfPresent(prune, forKey: Key("prune"))
    }

    /// A request from its JSON form; throws a ``RequestError`` naming the field for anything that is
    /// not one (malformed JSON, an unknown field, a wrong type). The rules between fields are
    /// checked by ``validate()`` (and ``prepare(model:network:exactPosterior:)``), once the
    /// observation, if any, is attached.
    public init(json: Data) throws(RequestError) {
        let decoder = JSONDecoder()
        // Numbers JSON cannot write come as these strings (Python writes float("nan") so).
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity",
                                                                        negativeInfinity: "-Infinity", nan: "NaN")
        do {
            self = try decoder.decode(SampleRequest.self, from: json)
        } catch let error as RequestError {
            throw error
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            guard !context.codingPath.isEmpty else {
                throw RequestError("request", "{request}: not a JSON object of fields (found another JSON value)")
            }
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw RequestError(field, "{\(field)}: expected \(Self.describe(type))")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw RequestError(field, "{\(field)}: \(context.debugDescription)")
        } catch {
            throw RequestError("request", "{request}: not a JSON object (\(Self.firstLine(error)))")
        }
    }

    /// The JSON form, keys sorted.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity",
                                                                      negativeInfinity: "-Infinity", nan: "NaN")
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        default: "a value of another type"
        }
    }

    private static func firstLine(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
                .split(whereSeparator: \.isNewline).first.map(String.init) ?? "malformed"
        }
        return "\(error)".split(whereSeparator: \.isNewline).first.map(String.init) ?? "malformed"
    }
}

/// A sampler option's name as a request's field: `s-churn` is `s_churn`.
private func requestField(_ name: String) -> String { name.replacingOccurrences(of: "-", with: "_") }

/// A sampler option's JSON value: a number, or the DDPM variance's name.
private struct OptionValue: Codable {
    let number: Double?
    let text: String?

    init(_ value: SamplerConfiguration.Value) {
        switch value {
        case .number(let v): (number, text) = (v, nil)
        case .variance(let v): (number, text) = (nil, v.rawValue)
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let number = try? c.decode(Double.self) {
            (self.number, text) = (number, nil)
        } else {
            (number, text) = (nil, try c.decode(String.self))
        }
    }

    /// The value of `option`: a number, or for `variance` its name.
    func value(for option: SamplerConfiguration.Option) throws(RequestError) -> SamplerConfiguration.Value {
        let name = requestField(option.rawValue)
        if option == .variance {
            guard let text, let variance = DDPMSampler.Variance(rawValue: text) else {
                throw RequestError(name, "{\(name)} must be beta-tilde or beta, "
                                   + "got \(text.map { "'\($0)'" } ?? "\(number!)")")
            }
            return .variance(variance)
        }
        guard let number else { throw RequestError(name, "{\(name)} must be a number, got '\(text!)'") }
        return .number(number)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let number { try c.encode(number) } else { try c.encode(text!) }
    }
}

private struct GuidanceJSON: Codable {
    let method: String
    let zeta: Double?

    func guidance() throws(RequestError) -> SampleRequest.Guidance {
        guard let method = GuidanceMethod(rawValue: method) else {
            throw RequestError("guidance", "{guidance}: unknown method '\(method)' "
                               + "(known: \(GuidanceMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return SampleRequest.Guidance(method, zeta: zeta)
    }
}

private struct NetworkJSON: Codable {
    let prediction: String
    let dimension: Int

    func network() throws(RequestError) -> SampleRequest.Network {
        guard let type = PredictionType(rawValue: prediction) else {
            throw RequestError("prediction", "{prediction}: unknown '\(prediction)' "
                               + "(known: \(PredictionType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return SampleRequest.Network(prediction: type, dimension: dimension)
    }
}
