import Foundation
import TweedieDistributions

/// A file that could not be read or written, e.g.
/// `model.npz: weights: sum to 0.9, not 1 (tolerance 1e-09)`.
///
/// The description is always one line: the file name, then the field or entry at fault (when
/// there is one), then the reason.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file's name (its last path component), or empty for in-memory data.
    public var file: String
    /// The field, archive entry or array at fault, e.g. `covariances[2]`; empty for the whole file.
    public var field: String
    public var reason: String

    public init(file: String = "", field: String = "", _ reason: String) {
        self.file = file
        self.field = field
        self.reason = reason
    }

    /// A model validation error, placed in `file`.
    public init(file: String, _ error: ModelError) {
        self.init(file: file, field: error.field, error.reason)
    }

    public var description: String {
        let line = [file, field, reason].filter { !$0.isEmpty }.joined(separator: ": ")
        return line.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The same error, placed inside `outer` (an enclosing field or archive entry).
    func within(field outer: String) -> FileError {
        FileError(file: file, field: field.isEmpty ? outer : "\(outer): \(field)", reason)
    }

    /// The same error, attributed to `name` (a file name) unless it already names a file.
    func inFile(_ name: String) -> FileError {
        FileError(file: file.isEmpty ? name : file, field: field, reason)
    }
}

extension URL {
    /// The name used for this file in error messages.
    var displayName: String { lastPathComponent.isEmpty ? path : lastPathComponent }
}
