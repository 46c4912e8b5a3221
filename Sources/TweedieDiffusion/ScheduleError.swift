/// Why a schedule, a time or a time grid was rejected. Each `description` is one line naming the
/// schedule and the offending value, e.g. `t = 1.5 is outside the time range [0, 1] of vp-linear`.
public enum ScheduleError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A time outside the schedule's range. Times are never clamped.
    case timeOutOfRange(schedule: String, time: Double, range: ClosedRange<Double>)
    /// A log-SNR λ the schedule does not reach on its time range.
    case logSNROutOfRange(schedule: String, logSNR: Double, range: ClosedRange<Double>)
    /// A schedule name that `Schedule.named(_:)` does not know.
    case unknownName(String, known: [String])
    /// A bad parameter: `parameter` is its name as written in a specification string.
    case invalidParameter(schedule: String, parameter: String, reason: String)
    /// A time grid that cannot be built as requested.
    case invalidGrid(String)

    public var description: String {
        switch self {
        case let .timeOutOfRange(schedule, time, range):
            "t = \(time) is outside the time range \(format(range)) of \(schedule)"
        case let .logSNROutOfRange(schedule, logSNR, range):
            "log-SNR λ = \(logSNR) is outside the range \(format(range)) "
                + "that \(schedule) reaches"
        case let .unknownName(name, known):
            "unknown schedule '\(name)'; known schedules: \(known.joined(separator: ", "))"
        case let .invalidParameter(schedule, parameter, reason):
            "\(schedule): \(parameter) \(reason)"
        case let .invalidGrid(reason):
            "invalid time grid: \(reason)"
        }
    }

    private func format(_ range: ClosedRange<Double>) -> String {
        "[\(formatParameter(range.lowerBound)), \(formatParameter(range.upperBound))]"
    }
}
