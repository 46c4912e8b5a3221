import Foundation
import TweedieEvaluation
import TweedieLinearAlgebra
import TweedieDistributions
import TweedieDiffusion
import TweedieOracle
import TweedieSamplers
import TweedieInverse
import TweedieRandom

/// The empirical order of convergence of one sampler: error ∝ h^p for the step h ∝ 1/(N − 1),
/// with p the negated least-squares slope of log(error) against log(N − 1) over the usable
/// points. N steps make N − 1 intervals of the ODE or SDE between grid times, then a final
/// denoising step to σ = 0; a one-step row has no interval and is not fitted.
///
/// The error is the median path error (distance to the tightly solved ODE endpoint from the
/// same starting noise, see ``PathError``; the RMS `path_error` where the median is missing)
/// for a deterministic sampler, and for a stochastic one the noise-floor-corrected
/// distance √(d² − f²) of a distribution metric d with Monte Carlo floor f (`sliced_w2` by
/// default): independent estimation noise adds to a distance roughly in quadrature. Points at
/// or below the floor (path errors: below the reference's resolution) carry no signal and are
/// left out.
public struct StudyOrderFit: Sendable, Equatable {
    public var sampler: String
    /// The measurement the error comes from.
    public var metric: String
    /// Whether the error is floor-corrected (stochastic samplers).
    public var isFloorCorrected: Bool
    /// A fitted point: a step count, its model calls per sample, and the error.
    public struct Point: Sendable, Equatable {
        public var steps: Int
        public var modelCalls: Double
        public var error: Double
    }

    /// The points fitted, by increasing steps.
    public var points: [Point]
    /// Points left out: at or below the noise floor (or the reference's resolution), or not finite.
    public var excluded: Int
    /// One-step rows, which have no interval to fit.
    public var singleStepRows: Int
    /// The order p = −d log(error)/d log(N − 1); nil with fewer than two distinct step counts.
    public var order: Double?
    /// d log(error)/d log(model calls); nil with fewer than two distinct costs.
    public var slopeVersusModelCalls: Double?
}

public enum StudyOrder {
    /// The path error's measurement name.
    public static let pathErrorName = PathError.rmsName
    /// Path errors for deterministic samplers, in order of preference.
    public static let pathErrorMetrics = [PathError.medianName, pathErrorName]
    /// Distribution metrics for stochastic samplers, in order of preference.
    public static let distributionMetrics = ["sliced_w2", "tv_mode_weights"]

    /// The least-squares slope of y against x; nil with fewer than two points or no spread in x.
    public static func slope(_ x: [Double], _ y: [Double]) -> Double? {
        precondition(x.count == y.count, "slope: x and y differ in length")
        let n = Double(x.count)
        guard x.count >= 2 else { return nil }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxx = 0.0, sxy = 0.0
        for (a, b) in zip(x, y) {
            sxx += (a - mx) * (a - mx)
            sxy += (a - mx) * (b - my)
        }
        guard sxx > 1e-300 * max(1, mx * mx) else { return nil }
        return sxy / sxx
    }

    /// √(d² − f²) when d > f, else nil (at or below the floor).
    public static func floorCorrected(_ value: Double, floor: Double?) -> Double? {
        guard value.isFinite else { return nil }
        guard let floor, floor.isFinite else { return value > 0 ? value : nil }
        guard value > floor else { return nil }
        return (value * value - floor * floor).squareRoot()
    }

    /// The distribution metric used for stochastic samplers among `names`.
    public static func distributionMetric(among names: [String]) -> String? {
        distributionMetrics.first(where: names.contains)
    }

    /// The fit for each sampler of `rows` (in order of first appearance). Path errors at or
    /// below `pathErrorResolution` are excluded.
    public static func fits(_ rows: [StudyRow], pathErrorResolution: Double) -> [StudyOrderFit] {
        let names = StudyTable(rows: rows).measurementNames
        let metric = distributionMetric(among: names)
        let pathMetric = pathErrorMetrics.first(where: names.contains)
        var samplers: [String] = []
        for row in rows where !samplers.contains(row.sampler) { samplers.append(row.sampler) }
        return samplers.compactMap { sampler in
            let own = rows.filter { $0.sampler == sampler }.sorted { $0.steps < $1.steps }
            // A sampler is treated as deterministic when every row of it is.
            let deterministic = own.allSatisfy(\.isDeterministic)
            guard let name = deterministic ? pathMetric : metric else { return nil }
            var points: [StudyOrderFit.Point] = []
            var excluded = 0, singleStepRows = 0
            for row in own {
                guard row.steps >= 2 else { singleStepRows += 1; continue }
                guard let m = row.measurement(name) else { excluded += 1; continue }
                let error: Double?
                if deterministic {
                    error = m.value.isFinite && m.value > pathErrorResolution ? m.value : nil
                } else {
                    error = floorCorrected(m.value, floor: m.noiseFloor)
                }
                if let error {
                    points.append(.init(steps: row.steps, modelCalls: row.modelCallsPerSample, error: error))
                } else {
                    excluded += 1
                }
            }
            let logError = points.map { log($0.error) }
            let order = slope(points.map { log(Double($0.steps - 1)) }, logError).map { -$0 }
            let versusCalls = slope(points.map { log($0.modelCalls) }, logError)
            return StudyOrderFit(sampler: sampler, metric: name, isFloorCorrected: !deterministic, points: points,
                                 excluded: excluded, singleStepRows: singleStepRows, order: order,
                                 slopeVersusModelCalls: versusCalls)
        } + klFits(rows, samplers: samplers, measurement: "kl", metric: klMetric)
          + klFits(rows, samplers: samplers, measurement: "path_kl", metric: pathKLMetric)
    }

    /// The name of the KL fit's metric: √KL, which decreases at the sampler's order (KL is
    /// quadratic in the error of the map, docs/math.md §12.2).
    public static let klMetric = "sqrt_kl"
    /// The same for the path KL of stochastic samplers (docs/math.md §12.3).
    public static let pathKLMetric = "sqrt_path_kl"

    /// For each sampler with `measurement` (`kl` or `path_kl`) in every row: the order fitted on its
    /// square root over the rows where it is resolved (above twice its standard error, the floor column).
    static func klFits(_ rows: [StudyRow], samplers: [String], measurement name: String,
                       metric: String) -> [StudyOrderFit] {
        samplers.compactMap { sampler in
            let own = rows.filter { $0.sampler == sampler }.sorted { $0.steps < $1.steps }
            guard !own.isEmpty, own.allSatisfy({ $0.measurement(name) != nil }) else { return nil }
            var points: [StudyOrderFit.Point] = []
            var excluded = 0, singleStepRows = 0
            for row in own {
                guard row.steps >= 2 else { singleStepRows += 1; continue }
                let m = row.measurement(name)!
                if m.value.isFinite, m.value > 2 * (m.noiseFloor ?? 0), m.value > 0 {
                    points.append(.init(steps: row.steps, modelCalls: row.modelCallsPerSample,
                                        error: m.value.squareRoot()))
                } else {
                    excluded += 1
                }
            }
            let logError = points.map { log($0.error) }
            return StudyOrderFit(sampler: sampler, metric: metric, isFloorCorrected: false, points: points,
                                 excluded: excluded, singleStepRows: singleStepRows,
                                 order: slope(points.map { log(Double($0.steps - 1)) }, logError).map { -$0 },
                                 slopeVersusModelCalls: slope(points.map { log($0.modelCalls) }, logError))
        }
    }
}
