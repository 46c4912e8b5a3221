/// An invalid argument to a computation (a point batch, a time, a scale), naming it:
/// `sigma: must be positive, got 0`.
public struct ArgumentError: Error, Equatable, Sendable, CustomStringConvertible {
    public var argument: String
    public var reason: String

    public init(_ argument: String, _ reason: String) {
        self.argument = argument
        self.reason = reason
    }

    public var description: String { "\(argument): \(reason)" }
}
