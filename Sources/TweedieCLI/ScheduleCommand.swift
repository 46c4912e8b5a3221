import ArgumentParser
import Foundation
import Tweedie

struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Time grids judged by exact figures.",
        subcommands: [ScheduleOptimizeCommand.self])
}

struct ScheduleOptimizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize",
        abstract: "The time grid that minimises a sampler's exact KL(q_N ‖ p_0) on a Gaussian prior, "
            + "beside the published grids.",
        discussion: """
        For a deterministic linear sampler (euler, ddim with η = 0, heun without churn, dpmpp-2m) on a \
        Gaussian p_0 = N(μ, Λ) with any noise covariance Σ, the output law is Gaussian and its KL to p_0 is \
        a sum over the eigen-modes of L⁻¹ΛL⁻ᵀ, exact and differentiable in the grid (docs/math.md §12.5). \
        The grid of the model-call budget is optimised by L-BFGS from Karras ρ = 7, kl_optimal and uniform λ; \
        the first level stays at σ̃_max, the last is free above σ̃_min. A model with several components (or a \
        data set) is replaced by its Gaussian fit (the mixture's mean and covariance), which is said. Grids are \
        in σ̃ = σ/α, which does not depend on the schedule for these samplers; the schedule converts them to times.
        """)

    @Option(help: "A built-in model name or a .json/.npz model file (several components: its Gaussian fit).")
    var model: String
    @Option(help: "euler, ddim (η = 0), heun (no churn) or dpmpp-2m.") var sampler = "heun"
    @Option(help: "Model calls per sample (heun: 2N − 1 for N levels).") var calls = 10
    @Option(help: "Schedule that gives σ̃_max, σ̃_min and converts σ̃ to times.") var schedule = "edm"
    @Option(name: .customLong("sigma-max"), help: "σ̃_max (default: the schedule's).") var sigmaMax: Double?
    @Option(name: .customLong("sigma-min"), help: "σ̃_min (default: the schedule's).") var sigmaMin: Double?
    @Flag(name: .customLong("keep-end"), help: "Hold the last level at σ̃_min, as the published grids do.")
    var keepEnd = false
    @Option(help: "Write the grids and their KL to this .json file.") var out: String?
    @Option(help: "Write an SVG plot of KL against model calls, each grid, up to --plot-calls.") var plot: String?
    @Option(name: .customLong("plot-calls"), help: "Largest budget on the plot.") var plotCalls = 20

    func validate() throws {
        guard calls >= 1 else { throw ValidationError("--calls must be at least 1, got \(calls)") }
        if let out, !out.hasSuffix(".json") { throw ValidationError("--out must name a .json file, got '\(out)'") }
        if let plot, !plot.hasSuffix(".svg") { throw ValidationError("--plot must name a .svg file, got '\(plot)'") }
        guard plotCalls >= 1, plotCalls <= 2 * ExactGridKL.maximumLevels - 1 else {
            throw ValidationError("--plot-calls must be between 1 and \(2 * ExactGridKL.maximumLevels - 1)")
        }
    }

    func run() throws {
        try OutputPaths.requireSafe(outputs: [("--out", out), ("--plot", plot)].compactMap { name, path in
            path.map { (name, $0) }
        }, inputs: [("--model", model)])
        let configuration = try parsed { () throws(ArgumentError) in try SamplerConfiguration(parsing: sampler) }
        guard let method = ExactGridKL.Method(configuration) else {
            throw CommandFailure("--sampler: \(sampler) is not a deterministic linear sampler; the exact KL of a grid "
                                 + "needs euler, ddim (η = 0), heun without churn or dpmpp-2m")
        }
        let levelCount = method.levels(calls: calls)
        guard levelCount <= ExactGridKL.maximumLevels else {
            throw CommandFailure("--calls: at most \(method.modelCalls(levels: ExactGridKL.maximumLevels)) model calls "
                                 + "for \(method.rawValue) (\(ExactGridKL.maximumLevels) levels), got \(calls)")
        }
        let s = try Schedule.named(schedule)
        let range = try scaledNoiseRange(of: s)
        let top = sigmaMax ?? range.max
        let bottom = sigmaMin ?? range.min
        guard top.isFinite, top > 0 else { throw CommandFailure("--sigma-max must be finite and positive, got \(top)") }
        guard bottom.isFinite, bottom > 0, bottom < top else {
            throw CommandFailure("--sigma-min must be positive and below σ̃_max = \(format(top)), got \(bottom)")
        }
        let m = try loadModel(model)
        let start = Date()
        let objective = try parsed { () throws(ArgumentError) in
            try ExactGridKL(model: m, method: method, fitting: true)
        }
        let fitted = objective.usesGaussianFit
        let optimum = try parsed { () throws(ArgumentError) in
            try OptimalGrid(objective, count: levelCount, sigmaMax: top, sigmaMin: bottom, freeEnd: !keepEnd)
        }
        let elapsed = Date().timeIntervalSince(start)
        let name = m.name ?? model
        print("the grid of least exact KL for \(configuration) on \(name) (D = \(m.dimension)"
              + (fitted ? ", its Gaussian fit: the mixture's mean and covariance" : ", Gaussian") + "), "
              + "\(method.modelCalls(levels: levelCount)) model calls"
              + (method.modelCalls(levels: levelCount) < calls ? " (a budget of \(calls))" : "")
              + " (\(levelCount) levels, then x̂_0), "
              + "σ̃ from \(format(top)) to " + (keepEnd ? format(bottom) : "≥ \(format(bottom)) (the last level free)"))
        let floor = objective.initializationFloor(sigmaMax: top)
        print("KL(q_N ‖ p_0) = \(format(optimum.kl)) nats; the exact flow from the same start: \(format(floor)) nats "
              + "(the start's error alone)")
        print("L-BFGS from \(optimum.start.rawValue) (best of 3 starts, "
              + "\(optimum.iterations) iterations), gradient \(format(optimum.gradientNorm)); \(format(elapsed, 3)) s")
        print("")
        let times = try optimum.levels.map { try s.time(logSNR: -log($0)) }
        printTable(["level", "σ̃", "t (\(schedule))"],
                   optimum.levels.indices.map { ["\($0)", format(optimum.levels[$0], 6), format(times[$0], 6)] })
        print("")
        var rows = [["optimal", format(optimum.kl), "", levelText(optimum.levels)]]
        var published: [(PublishedGrid, [Double], Double)] = []
        for grid in PublishedGrid.allCases {
            let levels = grid.levels(count: levelCount, sigmaMax: top, sigmaMin: bottom)
            let kl = try parsed { () throws(ArgumentError) in try objective.divergence(levels: levels) }
            published.append((grid, levels, kl))
            rows.append([grid.rawValue, format(kl), percentText(100 * (kl - optimum.kl) / optimum.kl),
                         levelText(levels)])
        }
        printTable(["grid", "exact KL (nats)", "gap", "σ̃ levels"], rows)
        if let out {
            try writeJSON(out, optimum: optimum, times: times, published: published, fitted: fitted, floor: floor)
            print("")
            print("wrote \(out)")
        }
        if let plot {
            try writePlot(plot, objective: objective, method: method, top: top, bottom: bottom, name: name)
            if out == nil { print("") }
            print("wrote \(plot)")
        }
    }

    private func percentText(_ gap: Double) -> String {
        String(format: abs(gap) >= 100 ? "%+.0f%%" : "%+.1f%%", gap)
    }

    private func levelText(_ levels: [Double]) -> String {
        levels.count <= 6 ? levels.map { format($0, 3) }.joined(separator: ", ")
            : (levels.prefix(3) + levels.suffix(2)).map { format($0, 3) }.enumerated()
                .map { $0.offset == 3 ? "…, " + $0.element : $0.element }.joined(separator: ", ")
    }

    private func parsed<T>(_ body: () throws(ArgumentError) -> T) throws -> T {
        do { return try body() } catch {
            let option = ["model", "sampler", "levels", "sigma"].contains(error.argument) ? error.argument : "model"
            throw CommandFailure("--\(option == "levels" ? "calls" : option): \(error.reason)")
        }
    }

    private func writeJSON(_ path: String, optimum: OptimalGrid, times: [Double],
                           published: [(PublishedGrid, [Double], Double)], fitted: Bool, floor: Double) throws {
        func numbers(_ values: [Double]) -> String { "[" + values.map { "\($0)" }.joined(separator: ", ") + "]" }
        var text = "{\n"
        text += "  \"sampler\": \"\(sampler)\",\n  \"schedule\": \"\(schedule)\",\n  \"model_calls\": \(calls),\n"
        text += "  \"gaussian_fit\": \(fitted),\n  \"initialization_floor\": \(floor),\n"
        text += "  \"optimal\": {\"sigmas\": \(numbers(optimum.levels + [0])), \"times\": \(numbers(times)), "
            + "\"kl\": \(optimum.kl), \"gradient_norm\": \(optimum.gradientNorm)},\n"
        text += "  \"published\": {\n"
        text += published.map { grid, levels, kl in
            "    \"\(grid.rawValue)\": {\"sigmas\": \(numbers(levels + [0])), \"kl\": \(kl)}"
        }.joined(separator: ",\n")
        text += "\n  }\n}\n"
        try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: path))
    }

    /// KL against model calls for the optimal grid and each published one.
    private func writePlot(_ path: String, objective: ExactGridKL, method: ExactGridKL.Method,
                           top: Double, bottom: Double, name: String) throws {
        let budgets = Array(Set((1...plotCalls).map { method.levels(calls: $0) })).sorted()
        var chart = SVGLineChart(title: "exact KL(q_N ‖ p_0) of \(method.rawValue) on \(name)",
                                 xLabel: "model calls", yLabel: "KL (nats)")
        var optimal: [SIMD2<Double>] = []
        var series = [PublishedGrid: [SIMD2<Double>]]()
        for n in budgets {
            let x = Double(method.modelCalls(levels: n))
            if let grid = try? OptimalGrid(objective, count: n, sigmaMax: top, sigmaMin: bottom, freeEnd: !keepEnd) {
                optimal.append(SIMD2(x, grid.kl))
            }
            for grid in PublishedGrid.allCases {
                if let kl = try? objective.divergence(levels: grid.levels(count: n, sigmaMax: top, sigmaMin: bottom)) {
                    series[grid, default: []].append(SIMD2(x, kl))
                }
            }
        }
        chart.series = [.init(label: "optimal (exact KL)", points: optimal, color: SVGLineChart.palette[0])]
            + PublishedGrid.allCases.enumerated().map { i, grid in
                .init(label: grid.rawValue, points: series[grid] ?? [], color: SVGLineChart.palette[i + 1],
                      isDashed: true)
            }
        chart.caption = ["σ̃ from \(format(top)) to \(format(bottom)); the optimum keeps σ̃_max"
                         + (keepEnd ? " and σ̃_min" : " and frees the last level")]
        try chart.write(to: URL(fileURLWithPath: path))
    }
}
