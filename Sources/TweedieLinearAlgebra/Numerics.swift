import Foundation

/// log Σ exp(values), stable for any range of values; −∞ for an empty input or all −∞.
public func logSumExp(_ values: some Collection<Double>) -> Double {
    guard let m = values.max(), m.isFinite else { return values.max() ?? -.infinity }
    var s = 0.0
    for v in values { s += exp(v - m) }
    return m + log(s)
}

/// log(2π).
public let logTwoPi = log(2.0 * Double.pi)
