import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieEvaluation
import TweedieIO
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRuns

/// error_vs_nfe.svg: for each sampler, its distribution metric (sliced W2 to exact samples)
/// against model calls per sample as a solid line, and for a deterministic sampler its path
/// error as a dashed line of the same colour; the metric's noise floor as a band (a line when
/// every row has the same floor). Both errors are distances in data units.
public func studyChart(_ configuration: StudyConfiguration, rows: [StudyRow]) -> SVGLineChart {
    let c = configuration
    let names = StudyTable(rows: rows).measurementNames
    let metric = StudyOrder.distributionMetric(among: names)
    let pathMetric = StudyOrder.pathErrorMetrics.first(where: names.contains)
    let metricText = metric == "sliced_w2" ? "sliced W2 to exact samples" : metric ?? "no distribution metric"
    var chart = SVGLineChart(title: "\(c.model), \(c.schedule), \(c.grid) grid: "
                                 + "error vs model calls (\(c.count) samples, seed \(c.seed))",
                             xLabel: "model calls per sample (NFE)", yLabel: "error")
    for (sampler, color, own) in samplerLines(c, rows) {
        if let metric {
            let points = own.compactMap { row in
                row.measurement(metric).map { SIMD2(row.modelCallsPerSample, $0.value) }
            }
            if !points.isEmpty { chart.series.append(.init(label: sampler, points: points, color: color)) }
        }
        // Path errors of the samplers fitted as deterministic (every row deterministic).
        let paths = !own.allSatisfy(\.isDeterministic) ? [] : own.compactMap { row in
            pathMetric.flatMap(row.measurement).map { SIMD2(row.modelCallsPerSample, $0.value) }
        }
        if !paths.isEmpty {
            chart.series.append(.init(label: "\(sampler): path error", points: paths, color: color, isDashed: true))
        }
    }
    if let metric {
        let floors = rows.compactMap { $0.measurement(metric)?.noiseFloor }.filter { $0 > 0 && $0.isFinite }
        if let low = floors.min(), let high = floors.max() {
            chart.floor = low...high
            chart.floorLabel = "noise floor (exact samples)"
        }
    }
    chart.caption = [
        "Solid: \(metricText), with its noise floor (the same figure for an independent set of exact samples). "
            + "Dashed: path error of deterministic samplers, "
            + "the \(pathMetric == PathError.medianName ? "median" : "RMS") "
            + "distance to the probability-flow ODE solved by rk45 "
            + "(rtol = atol = \(c.referenceTolerance)) from the same starting noise. Log-log axes.",
    ]
    return chart
}

/// kl_vs_nfe.svg: KL(q_N ‖ p_0) of each deterministic linear sampler (solid) and the path KL of each
/// stochastic sampler with Gaussian steps (dashed) against model calls, with ± 1 standard error
/// bars; nil when no row has either.
public func klChart(_ configuration: StudyConfiguration, rows: [StudyRow]) -> SVGLineChart? {
    let c = configuration
    let names = ["kl", "path_kl"]
    guard rows.contains(where: { row in names.contains { row.measurement($0) != nil } }) else { return nil }
    var chart = SVGLineChart(title: "\(c.model), \(c.schedule), \(c.grid) grid: "
                                 + "KL vs model calls (\(c.count) samples, seed \(c.seed))",
                             xLabel: "model calls per sample (NFE)", yLabel: "KL (nats)")
    for (sampler, color, own) in samplerLines(c, rows) {
        for name in names {
            let measured = own.compactMap { row in row.measurement(name).map { (row.modelCallsPerSample, $0) } }
            guard !measured.isEmpty else { continue }
            chart.series.append(.init(label: name == "kl" ? sampler : "\(sampler): path KL",
                                      points: measured.map { SIMD2($0.0, $0.1.value) }, color: color,
                                      isDashed: name == "path_kl", errors: measured.map { $0.1.noiseFloor ?? 0 }))
        }
    }
    chart.caption = [
        "Solid: KL(q_N ‖ p_0) of deterministic samplers, from the exact output density of each sample (its Jacobian "
            + "carried through the sampler). Dashed: the path KL of stochastic samplers to the exact reverse chain on "
            + "the grid (an upper bound on the KL of their law at the last grid level). ± 1 standard error; "
            + "no sample-based metric resolves these differences. Log-log axes.",
    ]
    return chart
}

/// Each row name's rows by increasing cost (names in order of first appearance), with the colour of
/// the name's place in the study, whichever rows are present.
private func samplerLines(_ c: StudyConfiguration, _ rows: [StudyRow]) -> [(String, String, [StudyRow])] {
    var samplers: [String] = []
    for row in rows where !samplers.contains(row.sampler) { samplers.append(row.sampler) }
    return samplers.map { sampler in
        let color = SVGLineChart.palette[(c.rowNames.firstIndex(of: sampler) ?? 0) % SVGLineChart.palette.count]
        let own = rows.filter { $0.sampler == sampler }
            .sorted { ($0.modelCallsPerSample, $0.steps) < ($1.modelCallsPerSample, $1.steps) }
        return (sampler, color, own)
    }
}
