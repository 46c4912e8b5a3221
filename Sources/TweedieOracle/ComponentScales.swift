import Foundation
import TweedieLinearAlgebra

/// The per-call, per-component vectors of docs/math.md §2 for one (α, σ): O(K·D) work, no
/// factorization. With d_k = α²γ_k + σ² and z_k = U_kᵀ(y − αν_k):
/// log π_k N(x; αμ_k, C_k) = `logNormalizer[k]` − ½ Σ_i z_{k,i}²/d_{k,i}.
struct ComponentScales: Sendable {
    let alpha: Double
    let sigma: Double
    /// 1/d_k as rows (K×D).
    let inverseVariance: Matrix
    /// The gain αγ_k/d_k as rows (K×D): m_k = μ_k + L U_k (gain ⊙ z_k).
    let gain: Matrix
    /// log π_k − ½ Σ_i log d_{k,i} − log|det L| − (D/2) log 2π.
    let logNormalizer: [Double]
    /// Σ_i 1/d_{k,i}, the first term of the divergence (docs/math.md §3).
    let traceInverseVariance: [Double]

    init(_ mixture: WhitenedMixture, alpha: Double, sigma: Double) {
        self.alpha = alpha
        self.sigma = sigma
        let k = mixture.componentCount, d = mixture.dimension
        let sigma2 = sigma * sigma, alpha2 = alpha * alpha
        var inverse = Matrix(rows: k, columns: d)
        var gain = Matrix(rows: k, columns: d)
        var normalizer = [Double](repeating: 0, count: k)
        var trace = [Double](repeating: 0, count: k)
        let constant = -mixture.noise.logDeterminantOfFactor - 0.5 * Double(d) * logTwoPi
        for c in 0..<k {
            var logDet = 0.0, tr = 0.0
            for i in 0..<d {
                let gamma = mixture.eigenvalues[c, i]
                let variance = alpha2 * gamma + sigma2
                inverse[c, i] = 1 / variance
                gain[c, i] = alpha * gamma / variance
                logDet += log(variance)
                tr += 1 / variance
            }
            normalizer[c] = mixture.logWeights[c] - 0.5 * logDet + constant
            trace[c] = tr
        }
        inverseVariance = inverse
        self.gain = gain
        logNormalizer = normalizer
        traceInverseVariance = trace
    }
}
