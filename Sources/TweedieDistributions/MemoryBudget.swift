import Foundation
import TweedieLinearAlgebra

/// The resource policy: how much memory one result may take, and the largest counts accepted.
///
/// Before allocating anything whose size a caller chooses (samples, trajectories, grids,
/// posterior covariances, probes, arrays read from files), Tweedie computes the bytes it needs
/// with overflow-checked arithmetic and refuses what exceeds ``limit`` with an ``ArgumentError``
/// that names the argument and the size, e.g.
/// `count: 1000000000 samples × D = 2 need 16 GB; the memory limit is 8 GB (TWEEDIE_MEMORY_LIMIT)`.
///
/// The limit is 8 GB unless the environment variable `TWEEDIE_MEMORY_LIMIT` sets it, in bytes or
/// with a suffix K, M, G or T (powers of 1000), e.g. `TWEEDIE_MEMORY_LIMIT=20G`.
public enum MemoryBudget {
    public static let environmentVariable = "TWEEDIE_MEMORY_LIMIT"
    public static let defaultLimit = 8_000_000_000

    /// The most time steps a sampler, grid or discrete schedule accepts: far beyond any use, low
    /// enough that a typo (`--steps 1000000000`) is refused instead of running for days.
    public static let maximumSteps = 1_000_000

    /// The limit in bytes: `TWEEDIE_MEMORY_LIMIT` when set, otherwise ``defaultLimit``. The
    /// environment is read once, at the first check (reading it costs more than a small oracle call).
    public static func limit() throws(ArgumentError) -> Int {
        try configuredLimit.get()
    }

    private static let configuredLimit: Result<Int, ArgumentError> = {
        guard let value = getenv(environmentVariable) else { return .success(defaultLimit) }
        let text = String(cString: value)
        guard let bytes = parseSize(text) else {
            return .failure(ArgumentError(environmentVariable, "cannot read '\(text)' "
                                          + "(write bytes, or a number with K, M, G or T, e.g. 20G)"))
        }
        return .success(bytes)
    }()

    /// `1000`, `512M`, `8G`, `1.5T`, `2e9` → bytes; nil for anything else.
    static func parseSize(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        var number = Substring(trimmed)
        var scale = 1.0
        if number.hasSuffix("B") { number = number.dropLast() }
        if let last = number.last, let power = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12][String(last)] {
            scale = power
            number = number.dropLast()
        }
        guard let value = Double(number), value.isFinite, value > 0 else { return nil }
        let bytes = value * scale
        return bytes < 9e18 ? Int(bytes) : nil
    }

    /// Throws unless `count` values of `bytesEach` bytes fit in the limit. `argument` names the
    /// option or parameter responsible, `what` describes the allocation ("samples × D = 2").
    public static func require(_ argument: String, _ what: String, elements: [Int],
                               bytesEach: Int = MemoryLayout<Double>.size) throws(ArgumentError) {
        let limit = try limit()
        if let n = elements.first(where: { $0 < 0 }) {
            throw ArgumentError(argument, "must not be negative, got \(n)")
        }
        let total = ShapeArithmetic.byteCount(elements, bytesEach: bytesEach)
        guard let bytes = total, bytes <= limit else {
            let size = total.map(formatBytes) ?? "more than \(formatBytes(Int.max))"
            throw ArgumentError(argument, "\(what) need \(size); "
                                + "the memory limit is \(formatBytes(limit)) (\(environmentVariable))")
        }
    }

    /// Throws unless `steps` lies in 1...``maximumSteps``.
    public static func requireSteps(_ argument: String, _ steps: Int) throws(ArgumentError) {
        guard steps >= 1, steps <= maximumSteps else {
            throw ArgumentError(argument, "must lie in 1...\(maximumSteps), got \(steps)")
        }
    }

    /// `16 GB`, `512 MB`, `1.5 kB`, `12 bytes`.
    public static func formatBytes(_ bytes: Int) -> String {
        let b = Double(bytes)
        for (unit, size) in [("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)]
        where b >= size {
            let value = b / size
            return value >= 100 ? "\(Int(value.rounded())) \(unit)" : "\(String(format: "%.3g", value)) \(unit)"
        }
        return "\(bytes) bytes"
    }
}
