import TweedieDistributions
import TweedieSamplers

/// A view of the page by the name its script asks for: `model`, `density-I` (slider position I),
/// `run-SAMPLER-STEPS` and `curve-SAMPLER`.
public enum ExplorerView: Equatable, Sendable {
    case model
    case density(Int)
    case run(SamplerConfiguration.Kind, steps: Int)
    case curve(SamplerConfiguration.Kind)

    /// The view a name denotes, or nil (names come from requests: any text must be safe here).
    public init?(name: String) {
        if name == "model" {
            self = .model
        } else if name.hasPrefix("density-"), let i = Int(name.dropFirst("density-".count)) {
            self = .density(i)
        } else if name.hasPrefix("run-") {
            // run-KIND-STEPS, the kind itself possibly holding dashes (dpmpp-2m): split at the last dash
            // after the prefix ("run-5" has none there).
            let rest = name.dropFirst("run-".count)
            guard let dash = rest.lastIndex(of: "-"), let steps = Int(rest[rest.index(after: dash)...]),
                  let kind = SamplerConfiguration.Kind(rawValue: String(rest[..<dash])) else { return nil }
            self = .run(kind, steps: steps)
        } else if name.hasPrefix("curve-"),
                  let kind = SamplerConfiguration.Kind(rawValue: String(name.dropFirst("curve-".count))) {
            self = .curve(kind)
        } else {
            return nil
        }
    }

    public var name: String {
        switch self {
        case .model: "model"
        case .density(let i): "density-\(i)"
        case .run(let kind, let steps): "run-\(kind.rawValue)-\(steps)"
        case .curve(let kind): "curve-\(kind.rawValue)"
        }
    }

    /// The view's JSON; an ``ArgumentError`` for a slider position or step count out of range.
    public func json(_ explorer: Explorer, isStatic: Bool = false) throws -> String {
        switch self {
        case .model:
            return explorer.modelView(isStatic: isStatic).description
        case .density(let i):
            guard explorer.times.indices.contains(i) else {
                throw ArgumentError("density", "slider position \(i) is outside 0..<\(explorer.times.count)")
            }
            return try explorer.densityView(at: explorer.times[i]).description
        case .run(let kind, let steps):
            return try explorer.runView(sampler: SamplerConfiguration(kind), steps: steps).description
        case .curve(let kind):
            return try explorer.curveView(sampler: SamplerConfiguration(kind)).description
        }
    }
}
