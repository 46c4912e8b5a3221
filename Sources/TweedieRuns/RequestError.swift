/// A request that breaks one of its rules, with one message wherever it is hit.
///
/// The message names the request's fields by their snake_case keys (`steps`, `batch_size`,
/// `noise_std`); each door spells them its own way when it prints the message: the command line
/// as options (`--steps`, `--batch-size`), Python as keywords (`steps`, `batch_size`):
///
/// ```swift
/// error.message { "--" + $0.replacingOccurrences(of: "_", with: "-") }
/// // "--steps must be at least 1, got 0"
/// ```
public struct RequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The field the rule is about (the first one the message names).
    public let field: String
    /// The message, with each field written `{field}`.
    let template: String

    /// A message about `field`: the template names fields as `{name}`.
    init(_ field: String, _ template: String) {
        self.field = field
        self.template = template
    }

    /// The message with each `{field}` spelled by `spelling`.
    public func message(spelling: (String) -> String) -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            result += spelling(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// The message with the fields as they are written in a request's JSON.
    public var description: String { message { $0 } }
}
