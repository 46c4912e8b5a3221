import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// One figure of a sample set against the exact distribution, with its Monte Carlo noise floor:
/// the same figure for an independent exact sample set of the same size (nil where the figure
/// has no sampling noise, e.g. a path error against the solved ODE).
public struct Measurement: Sendable, Equatable {
    /// A short snake_case key, used as a CSV column (e.g. `tv_mode_weights`).
    public var name: String
    /// What it is, for reports (e.g. "TV distance of mode weights").
    public var label: String
    public var value: Double
    public var noiseFloor: Double?

    public init(name: String, label: String, value: Double, noiseFloor: Double?) {
        self.name = name
        self.label = label
        self.value = value
        self.noiseFloor = noiseFloor
    }
}

extension SampleQuality {
    /// The report's figures as measurements.
    public var measurements: [Measurement] {
        var out: [Measurement] = []
        if let excess = excessNegativeLogDensity, let entropy, let negativeLogDensity {
            out.append(Measurement(name: "cross_entropy", label: "mean −log p_0 (nats)",
                                   value: negativeLogDensity.mean, noiseFloor: entropy.mean))
            out.append(Measurement(name: "cross_entropy_gap", label: "mean −log p_0 − entropy estimate (nats)",
                                   value: excess.mean, noiseFloor: excess.standardError))
        }
        out.append(Measurement(name: "tv_mode_weights", label: "TV distance of mode weights",
                               value: modeWeights.totalVariation, noiseFloor: referenceModeWeights.totalVariation))
        out.append(Measurement(name: "sliced_w2", label: "sliced W2 to exact samples",
                               value: slicedWasserstein, noiseFloor: slicedWassersteinFloor))
        return out
    }
}

extension Measurement {
    /// Measurements as a JSON array of `{"name", "label", "value", "noise_floor"}` objects (keys
    /// sorted; a non-finite value or a missing floor is null), as `tweedie evaluate --out` writes them.
    public static func json(_ measurements: [Measurement]) -> Data {
        let objects: [[String: Any]] = measurements.map { m in
            ["name": m.name, "label": m.label, "value": m.value.isFinite ? m.value as Any : NSNull(),
             "noise_floor": m.noiseFloor.map { $0.isFinite ? $0 as Any : NSNull() } ?? NSNull()]
        }
        // Strings, finite numbers and nulls always serialize.
        return (try? JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys]))
            ?? Data("[]".utf8)
    }
}
