import TweedieDiffusion
import TweedieLinearAlgebra

extension Oracle {
    /// Evaluates at time `t` of `schedule` (α_t, σ_t of docs/math.md §1); a time outside the
    /// schedule's range is an error, never clamped.
    public func evaluate(_ x: Matrix, at t: Double, schedule: Schedule,
                         including extras: OracleExtras = []) throws -> OracleResult {
        try evaluate(x, at: schedule.level(at: t), including: extras)
    }
}
