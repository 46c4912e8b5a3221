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

    /// Σ_k r_k ‖ŝ_k − ŝ‖² for one whitened point `y` with responsibilities `r` (K) and whitened
    /// score `score` (ŝ, D). Components with r_k = 0 add nothing and are skipped.
    static func varianceOfComponentScores(
        _ mixture: WhitenedMixture, scales: ComponentScales?, alpha: Double, sigma: Double,
        y: UnsafePointer<Double>, r: UnsafePointer<Double>, score: UnsafePointer<Double>
    ) -> Double {
        let d = mixture.dimension, k = mixture.componentCount
        var total = 0.0
        guard let scales else {
            // Dirac: ŝ_k − ŝ = α(ν_k − ν̄)/σ² with ν̄ = Σ_j r_j ν_j; no difference of large numbers.
            var meanNu = [Double](repeating: 0, count: d)
            mixture.whitenedMeans.elements.withUnsafeBufferPointer { nu in
                for c in 0..<k where r[c] > 0 {
                    for i in 0..<d { meanNu[i] += r[c] * nu[c * d + i] }
                }
                for c in 0..<k where r[c] > 0 {
                    var squared = 0.0
                    for i in 0..<d {
                        let e = nu[c * d + i] - meanNu[i]
                        squared += e * e
                    }
                    total += r[c] * squared
                }
            }
            let factor = alpha / sigma / sigma
            return factor * factor * total
        }
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
