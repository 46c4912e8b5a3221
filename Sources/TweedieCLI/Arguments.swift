import Foundation
import ArgumentParser
import Tweedie

// The library's named choices as option values: `--help` lists them, and ArgumentParser refuses
// any other value with the list.
extension SamplerConfiguration.Kind: ExpressibleByArgument {}
extension GridKind: ExpressibleByArgument {}
extension DDPMSampler.Variance: ExpressibleByArgument {}
extension GuidanceMethod: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

/// The comma-separated entries of an option's value, each parsed by `parse` (nil: refused with
/// `invalid(entry)`), none listed twice: `--steps 5,10,20`, `--guidance mmps,dps`.
func commaSeparated<T: Equatable>(_ text: String, option: String, invalid: (String) -> String,
                                  _ parse: (String) -> T?) throws -> [T] {
    var values: [T] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let trimmed = part.trimmingCharacters(in: .whitespaces)
        guard let value = parse(trimmed) else { throw ValidationError("\(option): \(invalid(trimmed))") }
        guard !values.contains(value) else { throw ValidationError("\(option): \(value) is listed twice") }
        values.append(value)
    }
    return values
}

/// ``commaSeparated(_:option:invalid:_:)`` for guidance methods.
func guidanceMethods(_ text: String) throws -> [GuidanceMethod] {
    try commaSeparated(text, option: "--guidance",
                       invalid: { "unknown method '\($0)' "
                                  + "(known: \(GuidanceMethod.allCases.map(\.rawValue).joined(separator: ", ")))" },
                       GuidanceMethod.init(rawValue:))
}
