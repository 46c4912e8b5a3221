import Foundation
import Tweedie

/// The report of `tweedie sample` and `tweedie evaluate`: each figure of the samples beside the same
/// figure for exact samples of p_0 (its noise floor), then the mode weights.
func sampleReport(_ q: SampleQuality, mixture: GaussianMixture, seed: UInt64, target: String = "p_0") -> [String] {
    var lines: [String] = []
    var rows: [[String]] = []
    if let samples = q.negativeLogDensity, let entropy = q.entropy, let excess = q.excessNegativeLogDensity {
        rows.append(["mean −log \(target) (nats)", "\(fixed(samples.mean, 3)) ± \(fixed(samples.standardError, 3))",
                     "\(fixed(entropy.mean, 3)) ± \(fixed(entropy.standardError, 3))",
                     "entropy estimate; difference \(excess.mean >= 0 ? "+" : "")\(fixed(excess.mean, 3)) "
                        + "± \(fixed(excess.standardError, 3))"])
    } else {
        rows.append(["mean −log \(target)", "unavailable", "", q.densityUnavailable.map { "\($0)" } ?? ""])
    }
    rows.append(["TV distance of mode weights", fixed(q.modeWeights.totalVariation, 4),
                 fixed(q.referenceModeWeights.totalVariation, 4),
                 target == "p_0" ? "noise floor: exact samples vs π" : "noise floor: exact samples vs p(k | y)"])
    rows.append(["sliced W2 to exact samples", fixed(q.slicedWasserstein, 4), fixed(q.slicedWassersteinFloor, 4),
                 "noise floor: two exact sets (\(q.projections) projections)"])
    lines.append(tableText(["figure", "samples", "exact \(target)", ""], rows))
    lines.append("  exact references: \(q.count) samples of \(target) per set, seeds derived from \(seed)")
    let k = mixture.componentCount
    if k <= 12 {
        lines.append("")
        let estimated = q.modeWeights.estimated, reference = q.referenceModeWeights.estimated
        let modeRows = (0..<k).map { c in
            ["\(c)", fixed(mixture.weights[c], 4), fixed(estimated[c], 4), fixed(reference[c], 4)]
        }
        lines.append(tableText(["mode k", target == "p_0" ? "π_k" : "p(k | y)", "ŵ_k samples", "ŵ_k exact"], modeRows))
        lines.append("  ŵ_k: share of points with k = argmax p(k | x_0) under \(target)")
    } else {
        lines.append("  (\(k) modes: weights table omitted; ŵ_k is the share of points with k = argmax p(k | x_0))")
    }
    if q.modeWeights.unassigned > 0 {
        lines.append("  \(q.modeWeights.unassigned) samples have non-finite coordinates (counted against TV)")
    }
    return lines
}


/// A fixed number of decimals, so that a column of figures lines up.
func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
