import Foundation
import TweedieEvaluation
import TweedieLinearAlgebra
import TweedieDistributions
import TweedieDiffusion
import TweedieOracle
import TweedieSamplers
import TweedieInverse
import TweedieRandom

/// The Markdown report of a sampler study (`report.md`): a table of the key figures of every
/// row, each beside its noise floor, and the fitted order of convergence of each sampler.
///
/// It depends only on the configuration and the rows (not on wall time, nor on how the rows were
/// sharded), so a merge of shards gives the same report as one run.
public enum StudyReport {
    /// The figures shown in the table, when present, in this order (`results.csv` has them all).
    public static let keyMetrics = ["path_error", "path_error_median", "kl", "path_kl", "sliced_w2", "energy_distance",
                                    "tv_mode_weights", "cross_entropy_gap"]

    /// Column headings of the key figures.
    static let headings = ["path_error": "path error (RMS)", "path_error_median": "path error (median)",
                           "kl": "KL(q_N ‖ p_0) (± SE)", "path_kl": "path KL (± SE)", "sliced_w2": "sliced W2",
                           "energy_distance": "energy distance",
                           "tv_mode_weights": "TV of mode weights", "cross_entropy_gap": "−log p_0 gap (nats)"]

    /// The path errors' resolution: points at or below it are left out of order fits.
    public static func pathErrorResolution(_ configuration: StudyConfiguration) -> Double {
        100 * configuration.referenceTolerance
    }

    public static func markdown(_ configuration: StudyConfiguration, rows: [StudyRow]) -> String {
        let c = configuration
        let table = StudyTable(rows: rows)
        let names = table.measurementNames
        let shown = keyMetrics.filter(names.contains)
        var lines: [String] = []
        lines.append("# Sampler study: \(c.model)")
        lines.append("")
        lines.append("- schedule `\(c.schedule)`, \(c.grid) grid; \(c.count) samples per run, seed \(c.seed); "
                     + "sample i starts from the same noise (seed, i) in every run")
        // A guided study is measured against the exact posterior.
        let target = c.guidance == nil ? "p_0" : "p(x_0 | y)"
        if let guidance = c.guidance, let observation = c.observation {
            lines.append("- guided by \(guidance.joined(separator: ", ")) towards an observation y = A x_0 + n "
                         + "with d_y = \(observation.y.count); "
                         + "every figure is against the exact posterior p(x_0 | y) (rows are named sampler+method)")
        }
        var coverage = "- rows: \(rows.count) of the grid's \(c.gridSize) "
            + "(samplers × \(c.guidance == nil ? "" : "guidance × ")steps)"
        if let shard = c.shard { coverage += ", shard \(shard)" }
        lines.append(coverage)
        lines.append("- NFE: model calls per sample")
        if names.contains(StudyOrder.pathErrorName) {
            lines.append("- path error (deterministic samplers): RMS and median over samples of the distance to the "
                         + "endpoint of the probability-flow ODE from the same starting noise, solved by rk45 at rtol "
                         + "= atol = \(c.referenceTolerance)")
        }
        if shown.contains("kl") {
            lines.append("- KL(q_N ‖ p_0) (deterministic linear samplers): from each sample's exact output density, "
                         + "its Jacobian carried through the sampler; the control-variate estimate, ± its standard "
                         + "error in parentheses (also `kl_se`; `kl_ess` is the effective sample size of p_0/q_N)")
        }
        if shown.contains("path_kl") {
            lines.append("- path KL (stochastic samplers with Gaussian steps): KL between the exact reverse chain on "
                         + "the grid and the sampler's chain, its starting mismatch included, along exact paths ± its "
                         + "standard error; it covers the grid levels (σ > 0), not the final denoising step, and "
                         + "bounds the KL of the sampler's law at its last grid level (also `path_kl_se`)")
        }
        if shown.contains("sliced_w2") {
            lines.append("- sliced W2: sliced Wasserstein-2 distance to \(c.count) exact samples of \(target) "
                         + "(\(c.projections) directions)")
        }
        if shown.contains("energy_distance") {
            lines.append("- energy distance: to exact samples of \(target) (unbiased)")
        }
        if shown.contains("tv_mode_weights") {
            lines.append("- TV of mode weights: total variation between the share of samples in each mode and "
                         + "\(c.guidance == nil ? "π" : "p(k | y)")")
        }
        if shown.contains("cross_entropy_gap") {
            lines.append("- −log p_0 gap: mean −log \(target) of the samples minus the entropy estimate "
                         + "(floor: its standard error)")
        }
        lines.append("- in parentheses: the noise floor, the same figure for an independent set of \(c.count) "
                     + "exact samples")
        lines.append("")
        let header = ["sampler", "steps", "NFE"] + shown.map { headings[$0] ?? $0 }
        lines.append("| " + header.map(cell).joined(separator: " | ") + " |")
        lines.append("|" + (["---", "---:", "---:"] + shown.map { _ in "---:" }).joined(separator: "|") + "|")
        for row in rows {
            var cells = [row.sampler, "\(row.steps)", number(row.modelCallsPerSample)]
            for name in shown {
                guard let m = row.measurement(name) else { cells.append("—"); continue }
                cells.append(number(m.value) + (m.noiseFloor.map { " (\(number($0)))" } ?? ""))
            }
            lines.append("| " + cells.map(cell).joined(separator: " | ") + " |")
        }
        let others = names.filter { !shown.contains($0) }
        if !others.isEmpty {
            lines.append("")
            lines.append("Also in results.csv: " + others.map { "`\($0)`" }.joined(separator: ", ") + ".")
        }

        lines.append("")
        lines.append("## Empirical order of convergence")
        lines.append("")
        let resolution = pathErrorResolution(c)
        let fits = StudyOrder.fits(rows, pathErrorResolution: resolution)
        if fits.isEmpty {
            lines.append("No sampler has an error to fit.")
        } else {
            lines.append("| sampler | error | points | order p | slope vs NFE | left out |")
            lines.append("|---|---|---:|---:|---:|---|")
            for fit in fits {
                let error = fit.isFloorCorrected ? "`\(fit.metric)`, floor-corrected" : "`\(fit.metric)`"
                var reasons: [String] = []
                if fit.excluded > 0 {
                    let why = fit.metric == StudyOrder.klMetric || fit.metric == StudyOrder.pathKLMetric
                        ? "not resolved (KL ≤ 2 SE)"
                        : fit.isFloorCorrected ? "at or below the floor" : "at or below \(number(resolution))"
                    reasons.append("\(fit.excluded) " + why)
                }
                if fit.singleStepRows > 0 { reasons.append("the 1-step row") }
                let leftOut = reasons.isEmpty ? "—" : reasons.joined(separator: "; ")
                let cells = [fit.sampler, error, "\(fit.points.count)", fit.order.map { fixed($0) } ?? "n/a",
                             fit.slopeVersusModelCalls.map { fixed($0) } ?? "n/a", leftOut]
                lines.append("| " + cells.map(cell).joined(separator: " | ") + " |")
            }
            lines.append("")
            lines.append("p is minus the least-squares slope of log(error) against log(N − 1), the number of intervals "
                         + "between the N grid times (the last step to σ = 0 only denoises), so error ∝ h^p with h ∝ "
                         + "1/(N − 1); 1-step rows have no interval and are left out. The slope against log(NFE) is "
                         + "the same fit per model call. Deterministic samplers: the error is the median path error "
                         + "(the RMS is dominated by the few samples that start near a boundary between modes and "
                         + "switch mode, whose share shrinks like h^p but whose distance does not, so it falls only "
                         + "like h^{p/2} until h resolves them), and points at or below \(number(resolution)) (100 × "
                         + "the reference tolerance) are left out. Stochastic samplers: the error is √(d² − f²) for "
                         + "the distribution metric d with noise floor f (independent estimation noise adds in "
                         + "quadrature), and points with d ≤ f are left out. `sqrt_kl` (deterministic linear "
                         + "samplers): √KL(q_N ‖ p_0) from the exact output density, which falls like h^p because KL "
                         + "is quadratic in the error of the sampler's map; rows with KL ≤ 2 SE are left out; "
                         + "`sqrt_path_kl` (stochastic samplers with Gaussian steps): the same fit on the path KL. "
                         + "n/a: fewer than two points with distinct steps (or NFE) remain.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Four significant digits ("0.01234", "1.235e-07").
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e5 || magnitude < 1e-3 { return String(format: "%.3e", value) }
        return String(format: "%.4g", value)
    }

    static func fixed(_ value: Double) -> String {
        String(format: "%.2f", value).replacingOccurrences(of: "-", with: "−")
    }

    /// Text safe inside a Markdown table cell.
    static func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
}
