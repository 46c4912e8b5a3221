import Foundation

/// A number as reports print it: `digits` significant digits, in exponent form below 1e-3 and
/// from 1e5 on, `0` for zero.
public func format(_ value: Double, _ digits: Int = 4) -> String {
    if value == 0 { return "0" }
    let magnitude = abs(value)
    if magnitude >= 1e5 || magnitude < 1e-3 { return String(format: "%.\(digits - 1)e", value) }
    return String(format: "%.\(digits)g", value)
}

/// The first `limit` numbers of `values` as `[a, b, … (n)]`.
public func format(_ values: [Double], _ digits: Int = 4, limit: Int = 6) -> String {
    let shown = values.prefix(limit).map { format($0, digits) }.joined(separator: ", ")
    return "[" + shown + (values.count > limit ? ", … (\(values.count))" : "") + "]"
}
