import Foundation
import TweedieLinearAlgebra

/// The variance part of the divergence, Σ_k r_k ‖ŝ_k − ŝ‖², computed directly for one point
/// (docs/math.md §3).
///
/// The streaming pass gets it as Σ_k r_k ‖ŝ_k‖² − ‖ŝ‖², which subtracts two numbers of the size
/// of ‖ŝ‖² and, far from the data (|x| ≫ the spread of the means, or σ small against a point's
/// distance to a Dirac atom), keeps none of the digits of a result of order tr(ΣH). This form
/// adds non-negative terms and never cancels. It costs one pass over the components with
/// O(D²) work each (O(D) for shared and Dirac bases), so it is used only for the points where
/// the short form could lose more than ``tolerance`` relative to the trace part.
enum DivergenceRefinement {
    /// The relative error the short form may carry before a point is refined.
    static let tolerance = 1e-11

    /// Whether Σ r_k ‖ŝ_k‖² − ‖ŝ‖², with `secondMoment` = Σ r_k ‖ŝ_k‖² and `trace` = Σ r_k Σ_i 1/d_{k,i},
    /// may have lost more than ``tolerance`` relative to `trace`: its rounding error is at most
    /// a few D·ε·`secondMoment` (the rotation by U_k is orthogonal only to rounding).
    static func isNeeded(secondMoment: Double, trace: Double, dimension d: Int) -> Bool {
        16 * Double(d + 4) * Double.ulpOfOne * secondMoment > tolerance * trace
    }

    /// The variance part of the divergence for Dirac components, (α²/σ⁴) Σ_k r_k ‖ν_k − ν̄_r‖² with
    /// ν̄_r = Σ_k r_k ν_k, for one point (docs/math.md §3.4).
    ///
    /// The short form Σ_k r_k ‖ν̃_k‖² − ‖c‖² (ν̃_k = ν_k − ν̄ centred on the data's mean, c = ν̄_r − ν̄)
    /// involves the data alone, not the point, so it is as accurate far from the data as near it.
    /// `secondMoment` is Σ_k r_k ‖ν̃_k‖² from the stream; `meanSums` times `inverseWeightSum` is ν̄_r,
    /// exactly as the score uses it. Where the short form could lose more than ``tolerance``·D/σ² (a
    /// tight posterior far from the data's mean), the direct sum runs over the components with
    /// r_k > τ, τ chosen so that the terms left out add at most ``tolerance``·D/σ² too.
    static func varianceOfAtoms(
        _ mixture: WhitenedMixture, tables: DiracKernel.Tables, alpha: Double, sigma: Double,
        secondMoment: Double, meanSums: UnsafePointer<Double>, inverseWeightSum: Double,
        r: UnsafePointer<Double>
    ) -> Double {
        guard alpha > 0 else { return 0 }
        let d = mixture.dimension, k = mixture.componentCount
        let factor = alpha / sigma / sigma  // α/σ², divided twice so that σ⁴ never forms
        let snr = (alpha / sigma) * (alpha / sigma)
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: d) { meanNu in
            var offset = 0.0  // ‖c‖²
            for i in 0..<d {
                meanNu[i] = meanSums[i] * inverseWeightSum
                let c = meanNu[i] - tables.whitenedCentre[i]
                offset += c * c
            }
            let offsetNorm = offset.squareRoot()
            let magnitude = secondMoment + offsetNorm * (tables.largestNorm + tables.centreNorm)
            let budget = tolerance * Double(d)
            if 16 * Double(d + 4) * Double.ulpOfOne * snr * magnitude <= budget {
                return factor * factor * max(0, secondMoment - offset)
            }
            // Each left-out term is r_k ‖ν̃_k − c‖² ≤ τ (max‖ν̃_k‖ + ‖c‖)²; K of them add at most
            // (α²/σ⁴)·K τ (max‖ν̃_k‖ + ‖c‖)² = tolerance·D/σ² to tr(ΣH).
            let reach = tables.largestNorm + offsetNorm
            let threshold = budget / (Double(k) * snr * reach * reach)
            var total = 0.0
            mixture.whitenedMeans.elements.withUnsafeBufferPointer { nu in
                for c in 0..<k where r[c] > threshold {
                    var squared = 0.0
                    for i in 0..<d {
                        let e = nu[c * d + i] - meanNu[i]
                        squared += e * e
                    }
                    total += r[c] * squared
                }
            }
            return factor * factor * total
        }
    }

    /// Σ_k r_k ‖ŝ_k − ŝ‖² for one whitened point `y` with responsibilities `r` (K) and whitened
    /// score `score` (ŝ, D), for Gaussian components. Components with r_k = 0 add nothing and are
    /// skipped.
    static func varianceOfComponentScores(
        _ mixture: WhitenedMixture, scales: ComponentScales, alpha: Double, sigma: Double,
        y: UnsafePointer<Double>, r: UnsafePointer<Double>, score: UnsafePointer<Double>
    ) -> Double {
        let d = mixture.dimension, k = mixture.componentCount
        var total = 0.0
        // Gaussian components: ‖ŝ_k − ŝ‖² = ‖−z_k/d_k − U_kᵀŝ‖², all in the basis of U_k.
        var z = [Double](repeating: 0, count: d)
        var rotatedScore = [Double](repeating: 0, count: d)
        var difference = [Double](repeating: 0, count: d)
        mixture.whitenedMeans.elements.withUnsafeBufferPointer { nu in
            for c in 0..<k where r[c] > 0 {
                for i in 0..<d { difference[i] = y[i] - alpha * nu[c * d + i] }
                if let u = mixture.basis(of: c) {
                    u.elements.withUnsafeBufferPointer { u in
                        // (row vector) · U, in a fixed order for every point.
                        for i in 0..<d { z[i] = 0; rotatedScore[i] = 0 }
                        for j in 0..<d {
                            let dj = difference[j], sj = score[j]
                            for i in 0..<d {
                                z[i] += dj * u[j * d + i]
                                rotatedScore[i] += sj * u[j * d + i]
                            }
                        }
                    }
                } else {
                    for i in 0..<d { z[i] = difference[i]; rotatedScore[i] = score[i] }
                }
                var squared = 0.0
                for i in 0..<d {
                    let e = -z[i] * scales.inverseVariance[c, i] - rotatedScore[i]
                    squared += e * e
                }
                total += r[c] * squared
            }
        }
        return total
    }
}
