import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieEvaluation
import TweedieIO
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRandom
import TweedieSamplers

/// The numbers of `tweedie explore`'s page for a 2-D model (docs/math.md §14): log p_t and the score on
/// a grid of the plane at a time of the slider, and a sampler's trajectories, mode weights and KL for
/// a step count. Each view is a JSON object; the page, its static copy and `tweedie explore --state`
/// all print these same objects, so what the page shows is what the command line prints.
public struct Explorer: Sendable {
    /// The step counts of the error-vs-model-calls plot (and of the page's step slider).
    public static let stepLadder = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
    /// The samplers the page offers: every sampler that takes a step count (rk45 is adaptive; the
    /// exact sampler has no discretization to show).
    public static let samplers: [SamplerConfiguration.Kind] = SamplerConfiguration.Kind.allCases.filter {
        !$0.isAdaptive && $0 != .exact
    }

    public let model: MixtureModel
    public let scheduleName: String
    public let schedule: Schedule
    /// The slider's times, ascending, uniform in λ = log(α/σ) over the schedule's usable range.
    public let times: [Double]
    public let xRange: ClosedRange<Double>
    public let yRange: ClosedRange<Double>
    /// Nodes per side of the density grid.
    public let gridSize: Int
    /// Arrows per side of the score field.
    public let arrowGridSize: Int
    /// Trajectories drawn (the first samples of a run; at most ``sampleCount``).
    public let trajectoryCount: Int
    /// Samples behind the mode weights and the KL.
    public let sampleCount: Int
    public let seed: UInt64
    private let oracle: Oracle

    /// Throws unless `model` is 2-D (use ``MixtureModel/marginal(onto:)`` first) and the sizes are sensible.
    public init(model: MixtureModel, schedule scheduleName: String, sliderPositions: Int = 101, gridSize: Int = 96,
                arrowGridSize: Int = 19, trajectoryCount: Int = 40, sampleCount: Int = 2000, seed: UInt64 = 0) throws {
        guard model.dimension == 2, model.zeroCentreOfMass == nil else {
            throw ArgumentError("model", "has dimension D = \(model.pointDimension); the explorer draws a plane: "
                                + "name two coordinates to project on (--project i,j)")
        }
        guard (2...1001).contains(sliderPositions) else {
            throw ArgumentError("slider-positions", "must be in 2...1001, got \(sliderPositions)")
        }
        guard (2...400).contains(gridSize) else {
            throw ArgumentError("grid-size", "must be in 2...400, got \(gridSize)")
        }
        guard (2...60).contains(arrowGridSize) else {
            throw ArgumentError("arrow-grid-size", "must be in 2...60, got \(arrowGridSize)")
        }
        guard (2...100_000).contains(sampleCount) else {
            throw ArgumentError("samples", "must be in 2...100000, got \(sampleCount)")
        }
        guard trajectoryCount >= 0 else {
            throw ArgumentError("trajectories", "must be non-negative, got \(trajectoryCount)")
        }
        self.model = model
        self.scheduleName = scheduleName
        schedule = try Schedule.named(scheduleName)
        let usable = schedule.usableTimeRange
        times = try TimeGrid.times(.logSNR, for: schedule, count: sliderPositions,
                                   from: usable.upperBound, to: usable.lowerBound).reversed()
        (xRange, yRange) = Self.box(model)
        self.gridSize = gridSize
        self.arrowGridSize = arrowGridSize
        self.trajectoryCount = min(trajectoryCount, sampleCount)
        self.sampleCount = sampleCount
        self.seed = seed
        oracle = try Oracle(model)
    }

    /// A square covering every component's mean ± 4 sd and ±4 √Σ_ii about the origin (where VP
    /// processes end), padded by 4 %.
    static func box(_ model: MixtureModel) -> (ClosedRange<Double>, ClosedRange<Double>) {
        var low = [Double](repeating: .infinity, count: 2), high = [Double](repeating: -.infinity, count: 2)
        let noise = model.noise.denseMatrix
        for axis in 0..<2 {
            let reach = 4 * noise[axis, axis].squareRoot()
            low[axis] = -reach
            high[axis] = reach
        }
        for k in 0..<model.componentCount where model.prior.weights[k] > 0 {
            let c = model.prior.covariance(of: k)
            for axis in 0..<2 {
                let sd = max(c[axis, axis], 0).squareRoot()
                low[axis] = min(low[axis], model.prior.means[k, axis] - 4 * sd)
                high[axis] = max(high[axis], model.prior.means[k, axis] + 4 * sd)
            }
        }
        let span = max(high[0] - low[0], high[1] - low[1])
        let pad = 0.04 * span
        let centre = [(low[0] + high[0]) / 2, (low[1] + high[1]) / 2]
        return ((centre[0] - span / 2 - pad)...(centre[0] + span / 2 + pad),
                (centre[1] - span / 2 - pad)...(centre[1] + span / 2 + pad))
    }

    /// The page's description of the model, the schedule and its choices.
    public func modelView(isStatic: Bool = false) -> JSONWriter {
        var w = JSONWriter.object()
        w.add("name", string: model.name ?? "model")
        w.add("components", model.componentCount)
        w.add("covariance_type", string: model.prior.covarianceType.rawValue)
        w.add("weights", model.prior.weights)
        w.add("means_x", (0..<model.componentCount).map { model.prior.means[$0, 0] })
        w.add("means_y", (0..<model.componentCount).map { model.prior.means[$0, 1] })
        w.add("schedule", string: scheduleName)
        w.add("times", times)
        w.add("x_range", [xRange.lowerBound, xRange.upperBound])
        w.add("y_range", [yRange.lowerBound, yRange.upperBound])
        w.add("samplers", strings: Self.samplers.map(\.rawValue))
        w.add("steps", Self.stepLadder.map(Double.init))
        w.add("sample_count", sampleCount)
        w.add("trajectory_count", trajectoryCount)
        w.add("seed", Double(seed))
        w.add("static", bool: isStatic)
        return w
    }

    /// log p_t on the gridSize² nodes of the plane (rows of constant y, bottom first) and the score
    /// ∇ log p_t at arrowGridSize² nodes, at time `t` of the schedule's usable range.
    public func densityView(at t: Double) throws -> JSONWriter {
        let usable = schedule.usableTimeRange
        guard t.isFinite, usable.contains(t) else {
            throw ArgumentError("t", "\(t) is outside the usable times \(usable.lowerBound)...\(usable.upperBound) "
                                + "of \(scheduleName)")
        }
        let level = NoiseLevel(alpha: schedule.alpha(t), sigma: schedule.sigma(t))
        let plane = ScalarGrid(nx: gridSize, ny: gridSize, xRange: xRange, yRange: yRange) { _, _ in 0 }
        let density = try oracle.evaluate(plane.nodes, at: level)
        let arrows = ScalarGrid(nx: arrowGridSize, ny: arrowGridSize, xRange: xRange, yRange: yRange) { _, _ in 0 }
            .nodes
        let field = try oracle.evaluate(arrows, at: level)
        var w = JSONWriter.object()
        w.add("t", t)
        w.add("alpha", level.alpha)
        w.add("sigma", level.sigma)
        w.add("log_snr", log(level.alpha / level.sigma))
        w.add("x", (0..<gridSize).map(plane.x))
        w.add("y", (0..<gridSize).map(plane.y))
        w.add("log_density", rows: density.logDensity, columns: gridSize)
        w.add("arrow_x", (0..<arrows.rows).map { arrows[$0, 0] })
        w.add("arrow_y", (0..<arrows.rows).map { arrows[$0, 1] })
        w.add("score_x", (0..<arrows.rows).map { field.score[$0, 0] })
        w.add("score_y", (0..<arrows.rows).map { field.score[$0, 1] })
        return w
    }

    /// What a sampler's run is measured by: the mode weights of its samples beside π, and the KL to
    /// p_0 where it is available.
    public struct Figures: Sendable {
        public let steps: Int
        public let modelCalls: Double
        public let modeWeights: ModeWeights
        /// E TV of `sampleCount` exact draws (docs/math.md §7).
        public let totalVariationFloor: Double
        /// KL(q_N ‖ p_0): exact (single Gaussian component) or estimated from exact densities.
        public let kl: Double?
        public let klStandardError: Double?
        public let klKind: String

        func write(into w: inout JSONWriter) {
            w.add("steps", steps)
            w.add("model_calls", modelCalls)
            w.add("mode_weights", modeWeights.estimated)
            w.add("unassigned", modeWeights.unassigned)
            w.add("total_variation", modeWeights.totalVariation)
            w.add("total_variation_floor", totalVariationFloor)
            w.add("kl", kl ?? .nan)
            w.add("kl_standard_error", klStandardError ?? .nan)
            w.add("kl_kind", string: klKind)
        }
    }

    private func path(_ sampler: SamplerConfiguration, steps: Int) throws -> SamplingPath {
        guard Self.samplers.contains(sampler.kind) else {
            throw ArgumentError("sampler", "\(sampler.kind.rawValue) is not offered by the explorer "
                                + "(\(Self.samplers.map(\.rawValue).joined(separator: ", ")))")
        }
        guard (1...1000).contains(steps) else { throw ArgumentError("steps", "must be in 1...1000, got \(steps)") }
        return try sampler.path(schedule: schedule, steps: steps)
    }

    private func figures(_ sampler: SamplerConfiguration, path: SamplingPath, run: SamplingRun) throws -> Figures {
        let weights = ModeWeights(of: run.samples, mixture: model.prior)
        let floor = ModeWeights.expectedSamplingTotalVariation(weights: model.prior.weights, count: sampleCount)
        let made = sampler.makeSampler()
        var kl: Double?, error: Double?
        var kind: String
        if case .dirac = model.prior.covariances {
            kind = "none: Dirac components, p_0 has no density"
        } else if model.componentCount == 1, GaussianOutputLaw.isSupported(made) {
            let law = try GaussianOutputLaw(model: model, sampler: made, path: path)
            kl = try GaussianKL.divergence(mean: law.mean, covariance: law.covariance,
                                           referenceMean: law.targetMean, referenceCovariance: law.targetCovariance)
            error = 0
            kind = "exact: the sampler's Gaussian output law (docs/math.md §12.4)"
        } else if SamplerOutputDensity.isSupported(made) {
            let density = try SamplerOutputDensity(model: model, sampler: made, path: path, count: sampleCount,
                                                   seed: seed)
            let prior = try PriorDensity(model.prior)
            let estimate = try SamplerKL(logSamplerDensity: density.logDensity,
                                         logTargetDensity: prior.logDensity(density.samples))
            kl = estimate.kl
            error = estimate.standardError
            kind = "estimate from the exact output density, \(sampleCount) samples (docs/math.md §12.2)"
        } else {
            kind = "none: a stochastic sampler's output has no closed-form density here"
        }
        return Figures(steps: path.steps, modelCalls: run.modelCallsPerSample, modeWeights: weights,
                       totalVariationFloor: floor, kl: kl, klStandardError: error, klKind: kind)
    }

    /// `sampler` with `steps` steps from the seeded starting noise: the first ``trajectoryCount``
    /// trajectories (the state at each grid time, then the sample), every sample, and its ``Figures``.
    public func runView(sampler: SamplerConfiguration, steps: Int) throws -> JSONWriter {
        try runAndFigures(sampler, steps: steps).view
    }

    private func runAndFigures(_ sampler: SamplerConfiguration,
                               steps: Int) throws -> (view: JSONWriter, figures: Figures) {
        let path = try path(sampler, steps: steps)
        let run = try sampler.makeSampler().run(count: sampleCount, model: oracle, path: path,
                                                noise: NoiseStream(seed: seed), recordsTrajectory: true)
        var w = JSONWriter.object()
        w.add("sampler", string: sampler.description)
        w.add("times", path.times)
        var trajectoriesX: [[Double]] = [], trajectoriesY: [[Double]] = []
        for i in 0..<trajectoryCount {
            trajectoriesX.append(run.trajectory.map { $0[i, 0] })
            trajectoriesY.append(run.trajectory.map { $0[i, 1] })
        }
        w.add("trajectories_x", nested: trajectoriesX)
        w.add("trajectories_y", nested: trajectoriesY)
        w.add("samples_x", (0..<run.samples.rows).map { run.samples[$0, 0] })
        w.add("samples_y", (0..<run.samples.rows).map { run.samples[$0, 1] })
        let figures = try figures(sampler, path: path, run: run)
        figures.write(into: &w)
        return (w, figures)
    }

    /// Every view of a sampler's step ladder: the run at each count of ``stepLadder`` (as
    /// ``runView(sampler:steps:)``) and the curve of their ``Figures`` against model calls. The runs
    /// are independent and computed side by side.
    public func ladder(sampler: SamplerConfiguration) throws -> (runs: [Int: JSONWriter], curve: JSONWriter) {
        let counts = Self.stepLadder
        let results = LadderResults(count: counts.count)
        // The longest runs first, so that the two cores finish together.
        let order = Array(counts.indices.reversed())
        DispatchQueue.concurrentPerform(iterations: order.count) { i in
            let index = order[i]
            results.set(index, Result { try runAndFigures(sampler, steps: counts[index]) })
        }
        var runs: [Int: JSONWriter] = [:]
        var rows: [JSONWriter] = []
        for (index, steps) in counts.enumerated() {
            let (view, figures) = try results.get(index)
            runs[steps] = view
            var row = JSONWriter.object()
            figures.write(into: &row)
            rows.append(row)
        }
        var curve = JSONWriter.object()
        curve.add("sampler", string: sampler.description)
        curve.add("points", objects: rows)
        return (runs, curve)
    }

    /// The ``Figures`` of `sampler` at every count of ``stepLadder``: error against model calls.
    public func curveView(sampler: SamplerConfiguration) throws -> JSONWriter {
        try ladder(sampler: sampler).curve
    }
}

/// The outcomes of a ladder's runs, filled from several threads.
private final class LadderResults: @unchecked Sendable {
    private var values: [Result<(view: JSONWriter, figures: Explorer.Figures), any Error>?]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Result<(view: JSONWriter, figures: Explorer.Figures), any Error>) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }
    func get(_ i: Int) throws -> (view: JSONWriter, figures: Explorer.Figures) {
        lock.lock()
        defer { lock.unlock() }
        return try values[i]!.get()
    }
}

/// A JSON object written in order, numbers in Swift's shortest form that reads back to the same
/// Double (JavaScript's `JSON.parse` reads the same value); NaN and ±∞ are written as null.
public struct JSONWriter: Sendable, CustomStringConvertible {
    private var members: [String] = []

    public static func object() -> JSONWriter { JSONWriter() }

    public var description: String { "{" + members.joined(separator: ",") + "}" }

    /// A number at round-trip precision; NaN and ±∞, which JSON lacks, as null.
    public static func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

    /// A JSON string literal (``jsonStringLiteral(_:)``).
    public static func quoted(_ s: String) -> String { jsonStringLiteral(s) }

    private mutating func put(_ key: String, _ value: String) { members.append(Self.quoted(key) + ":" + value) }

    public mutating func add(_ key: String, _ x: Double) { put(key, Self.number(x)) }
    public mutating func add(_ key: String, _ n: Int) { put(key, String(n)) }
    public mutating func add(_ key: String, bool: Bool) { put(key, bool ? "true" : "false") }
    public mutating func add(_ key: String, string: String) { put(key, Self.quoted(string)) }
    public mutating func add(_ key: String, _ xs: [Double]) {
        put(key, "[" + xs.map(Self.number).joined(separator: ",") + "]")
    }
    public mutating func add(_ key: String, strings: [String]) {
        put(key, "[" + strings.map(Self.quoted).joined(separator: ",") + "]")
    }
    public mutating func add(_ key: String, nested: [[Double]]) {
        let rows = nested.map { "[" + $0.map(Self.number).joined(separator: ",") + "]" }
        put(key, "[" + rows.joined(separator: ",") + "]")
    }
    /// `values` (rows × columns, row-major) as an array of rows.
    public mutating func add(_ key: String, rows values: [Double], columns: Int) {
        let rows = stride(from: 0, to: values.count, by: columns).map {
            Array(values[$0..<min($0 + columns, values.count)])
        }
        add(key, nested: rows)
    }
    public mutating func add(_ key: String, object: JSONWriter) { put(key, object.description) }
    public mutating func add(_ key: String, objects: [JSONWriter]) {
        put(key, "[" + objects.map(\.description).joined(separator: ",") + "]")
    }
}
