/// Invalid model data, naming the field or component at fault, e.g.
/// `covariances[3]: not positive semi-definite (smallest eigenvalue -0.2)`.
public struct ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Where the problem is: a field (`weights`), a component (`covariances[3]`), a file.
    public var field: String
    public var reason: String

    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }

    /// The same error, placed inside `context` (a file name or an enclosing field).
    public func within(_ context: String) -> ModelError {
        ModelError(field.isEmpty ? context : "\(context): \(field)", reason)
    }
}

/// Relative asymmetry allowed before a covariance is rejected as non-symmetric.
public let symmetryTolerance = 1e-8
/// Allowed |Σ π_k − 1|.
public let weightSumTolerance = 1e-9

func requireFinite(_ values: [Double], _ field: String) throws(ModelError) {
    if let i = values.firstIndex(where: { !$0.isFinite }) {
        throw ModelError(field, "element \(i) is \(values[i]) (NaN or infinity)")
    }
}
