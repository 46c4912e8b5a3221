import ArgumentParser
import Foundation
import Tweedie
#if canImport(Glibc)
import Glibc
#endif

struct StudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study",
        abstract: "Built-in studies measured against exact answers (sampler studies are `tweedie compare`).",
        subcommands: [InverseProblemStudyCommand.self, TruncationStudyCommand.self])
}

struct InverseProblemStudyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inverse",
        abstract: "Guidance methods on the Gaussian-mixture inverse problems of the posterior-sampling literature, "
            + "against the exact posterior.",
        discussion: """
        The setup of MCGdiff (Cardoso et al.) and TMPD (Boys et al.): a 25-mode grid mixture with unit \
        covariances in dimension D, random operators A (d_y×D) with uniform singular values, and a \
        noisy observation of a prior sample, all generated from --seed. Each guidance method drives \
        the same sampler from the same noise; its samples are compared with exact posterior samples \
        (sliced W2 and the TV distance of the posterior mode weights, each beside its noise floor). \
        Writes DIR/results.csv (one line per run), DIR/report.md (mean ± std over operators) and \
        DIR/sliced_w2_vs_dimension.svg.
        """)

    @Option(help: "Dimensions D (even), comma-separated.") var dimensions = "8,80,800"
    @Option(help: "Observed dimensions d_y, comma-separated.") var observed = "1,2,4"
    @Option(help: "Random operators per (D, d_y) cell.") var operators = 5
    @Option(help: "Samples per run.") var count = 1000
    @Option(help: "Seed of the problems and of the sampling noise.") var seed: UInt64 = 0
    @Option(help: "The sampler, with options as name:option=value.") var sampler = "heun"
    @Option(help: "Schedule.") var schedule = "vp-linear"
    @Option(help: "Steps of the sampler.") var steps = 50
    @Option(help: "Guidance methods, comma-separated.")
    var guidance = GuidanceMethod.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Random directions of the sliced Wasserstein distance.")
    var projections = SlicedWasserstein.defaultProjections
    @Option(name: .customLong("batch-size"), help: "Samples per batch (the samples do not depend on it).")
    var batchSize = 256
    @Option(help: "Output directory (created if missing).") var out: String

    private func integers(_ text: String, _ option: String) throws -> [Int] {
        try commaSeparated(text, option: option, invalid: { "'\($0)' is not a positive integer" }) {
            Int($0).flatMap { $0 >= 1 ? $0 : nil }
        }
    }

    private func studyConfiguration() throws -> InverseProblemStudy.Configuration {
        var c = InverseProblemStudy.Configuration()
        c.dimensions = try integers(dimensions, "--dimensions")
        c.observedDimensions = try integers(observed, "--observed")
        c.operators = operators
        c.count = count
        c.seed = seed
        c.sampler = sampler
        c.schedule = schedule
        c.steps = steps
        c.projections = projections
        c.batchSize = batchSize
        c.methods = try guidanceMethods(guidance)
        return c
    }

    func validate() throws {
        let c = try studyConfiguration()
        for (value, option) in [(operators, "--operators"), (steps, "--steps"), (batchSize, "--batch-size")]
        where value < 1 {
            throw ValidationError("\(option) must be at least 1, got \(value)")
        }
        guard count >= 2 else { throw ValidationError("--count must be at least 2, got \(count)") }
        guard (1...SlicedWasserstein.maximumProjections).contains(projections) else {
            throw ValidationError("--projections must lie in 1...\(SlicedWasserstein.maximumProjections), "
                                  + "got \(projections)")
        }
        do { _ = try InverseProblemStudy(c) } catch let error as ArgumentError {
            let option = ["dimensions": "--dimensions", "observed": "--observed", "steps": "--steps",
                          "sampler": "--sampler"][error.argument]
            throw ValidationError("\(option ?? "--\(error.argument)"): \(error.reason)")
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: out)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CommandFailure("--out: \(directory.path) is a file, not a directory")
        }
        let study = try InverseProblemStudy(try studyConfiguration())
        let bar = isatty(2) != 0 ? ProgressBar(total: 1000) : nil
        let rows = try study.run { bar?.update(Int($0 * 1000)) }
        bar?.finish()
        let report = study.markdown(rows)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try AtomicFile.writingTogether {
            try AtomicFile.write(Data(InverseProblemStudy.csv(rows).utf8),
                                 to: directory.appendingPathComponent("results.csv"))
            try AtomicFile.write(Data(report.utf8), to: directory.appendingPathComponent("report.md"))
            try inverseChart(study.configuration, rows: rows)
                .write(to: directory.appendingPathComponent("sliced_w2_vs_dimension.svg"))
        }
        print(report, terminator: "")
        print("\nwrote "
              + ["results.csv", "report.md", "sliced_w2_vs_dimension.svg"]
                  .map { directory.appendingPathComponent($0).path }.joined(separator: ", "))
    }
}

/// Sliced W2 to exact posterior samples against D, one line per method (mean over d_y and operators,
/// relative to the noise floor), on log-log axes.
func inverseChart(_ c: InverseProblemStudy.Configuration, rows: [InverseProblemStudy.Row]) -> SVGLineChart {
    var chart = SVGLineChart(title: "Guidance on the 25-mode grid mixture: \(c.sampler), \(c.schedule), "
                                 + "\(c.count) samples",
                             xLabel: "dimension D", yLabel: "sliced W2 to exact posterior samples")
    for (index, method) in c.methods.enumerated() {
        let points = c.dimensions.compactMap { d -> SIMD2<Double>? in
            let own = rows.filter { $0.dimension == d && $0.method == method && $0.slicedWasserstein.isFinite }
            guard !own.isEmpty else { return nil }
            return SIMD2(Double(d), InverseProblemStudy.summary(own.map(\.slicedWasserstein)).mean)
        }
        chart.series.append(.init(label: method.rawValue, points: points,
                                  color: SVGLineChart.palette[index % SVGLineChart.palette.count],
                                  isDashed: method == .exact))
    }
    let floors = rows.map(\.slicedWassersteinFloor).filter { $0 > 0 && $0.isFinite }
    if let low = floors.min(), let high = floors.max() {
        chart.floor = low...high
        chart.floorLabel = "noise floor (two exact sets)"
    }
    chart.caption = ["Mean over d_y ∈ {\(c.observedDimensions.map(String.init).joined(separator: ", "))} "
                     + "and \(c.operators) operators per cell. "
                     + "Dashed: exact guidance, the sampler's own error. Log-log axes."]
    return chart
}
