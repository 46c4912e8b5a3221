import Foundation
import TweedieLinearAlgebra

/// The streaming pass over Dirac components (Λ_k = 0, docs/math.md §2): the oracle of a data set.
///
/// Responsibilities are a softmax of log π_k − ‖y − αν_k‖²/(2σ²) and the denoiser is Σ_k r_k μ_k:
/// attention with queries y, keys αν_k and values μ_k. Components are taken in blocks; each
/// block costs two GEMMs (y·νᵀ for the distances, weights·[μ | ν] for the sums). With Σ = I,
/// ν_k = μ_k and the sums need only weights·μ: 4D flops per (point, component) instead of 6D.
///
/// Distances from the Gram expansion ‖y‖² − 2α yᵀν + α²‖ν‖² lose digits when σ is small
/// against ‖y‖. Whenever that loss could reach 1e-10 in a log-weight, the distances of every
/// component that can carry weight are recomputed directly, so t → 0 stays exact.
enum DiracKernel {
    static let blockSize = 512

    /// Per-model data: νᵀ (D×K) for the distance GEMM, [μ_k | ν_k] rows (K×2D) for the sums, or μ_k
    /// alone (K×D) when Σ = I.
    struct Tables: Sendable {
        let whitenedMeansTransposed: Matrix
        let meansAndWhitenedMeans: Matrix
        let squaredNorms: [Double]
        let largestSquaredNorm: Double
        /// Σ = I: ν_k = μ_k, and only the first D columns of the sums are accumulated.
        let meansAreWhitened: Bool

        init(_ mixture: WhitenedMixture) {
            let k = mixture.componentCount, d = mixture.dimension
            whitenedMeansTransposed = mixture.whitenedMeans.transposed
            meansAreWhitened = mixture.noise.isIdentity
            let width = meansAreWhitened ? d : 2 * d
            var joined = Matrix(rows: k, columns: width)
            var norms = [Double](repeating: 0, count: k)
            for c in 0..<k {
                for i in 0..<d {
                    joined[c, i] = mixture.means[c, i]
                    let v = mixture.whitenedMeans[c, i]
                    if !meansAreWhitened { joined[c, d + i] = v }
                    norms[c] += v * v
                }
            }
            meansAndWhitenedMeans = joined
            squaredNorms = norms
            largestSquaredNorm = norms.max() ?? 0
        }
    }

    static func stream(
        _ mixture: WhitenedMixture, tables: Tables, alpha: Double, sigma: Double, components: Range<Int>,
        y: UnsafePointer<Double>, rows n: Int, logits: UnsafeMutablePointer<Double>, state: inout StreamState
    ) {
        let d = mixture.dimension, kCount = mixture.componentCount
        let sigma2 = sigma * sigma, alpha2 = alpha * alpha
        let constant = -0.5 * Double(d) * log(sigma2) - mixture.noise.logDeterminantOfFactor
            - 0.5 * Double(d) * logTwoPi
        let gramError = 2 * Double(d + 4) * Double.ulpOfOne
        var yNorm = [Double](repeating: 0, count: n)
        for b in 0..<n { for i in 0..<d { yNorm[b] += y[b * d + i] * y[b * d + i] } }

        let capacity = n * min(blockSize, components.count)
        let gram = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
        let distance = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
        let weights = UnsafeMutablePointer<Double>.allocate(capacity: capacity)
        defer { gram.deallocate(); distance.deallocate(); weights.deallocate() }

        tables.whitenedMeansTransposed.elements.withUnsafeBufferPointer { nuT in
        tables.meansAndWhitenedMeans.elements.withUnsafeBufferPointer { joined in
        mixture.whitenedMeans.elements.withUnsafeBufferPointer { nuAll in
            var start = components.lowerBound
            while start < components.upperBound {
                let m = min(blockSize, components.upperBound - start)
                BLAS.gemm(m: n, n: m, k: d, a: y, lda: d, b: nuT.baseAddress! + start, ldb: kCount,
                          c: gram, ldc: m)
                for b in 0..<n {
                    var blockMax = -Double.infinity
                    for j in 0..<m {
                        let c = start + j
                        let dist = max(0, yNorm[b] - 2 * alpha * gram[b * m + j] + alpha2 * tables.squaredNorms[c])
                        distance[b * m + j] = dist
                        let a = mixture.logWeights[c] - dist / (2 * sigma2) + constant
                        logits[b * kCount + c] = a
                        blockMax = max(blockMax, a)
                    }
                    let logitError = gramError * (yNorm[b] + alpha2 * tables.largestSquaredNorm) / (2 * sigma2)
                    if logitError > 1e-10 {
                        let threshold = max(blockMax, state.rowMax[b]) - 40 - 2 * logitError
                        blockMax = -.infinity
                        for j in 0..<m {
                            let c = start + j
                            var a = logits[b * kCount + c]
                            if a >= threshold {
                                let nu = nuAll.baseAddress! + c * d
                                var dist = 0.0
                                for i in 0..<d {
                                    let e = y[b * d + i] - alpha * nu[i]
                                    dist += e * e
                                }
                                distance[b * m + j] = dist
                                a = mixture.logWeights[c] - dist / (2 * sigma2) + constant
                                logits[b * kCount + c] = a
                            }
                            blockMax = max(blockMax, a)
                        }
                    }
                    state.raiseMax(row: b, to: blockMax)
                    // ‖ŝ_k‖² = ‖y − αν_k‖²/σ⁴, divided twice so that σ⁴ never underflows.
                    var weightSum = 0.0, normSum = 0.0
                    for j in 0..<m {
                        let w = exp(logits[b * kCount + start + j] - state.rowMax[b])
                        weights[b * m + j] = w
                        weightSum += w
                        normSum += w * (distance[b * m + j] / sigma2 / sigma2)
                    }
                    state.weightSum[b] += weightSum
                    state.traceSum[b] += weightSum * (Double(d) / sigma2)
                    state.normSum[b] += normSum
                }
                state.accumulator.withUnsafeMutableBufferPointer { acc in
                    let width = tables.meansAndWhitenedMeans.columns
                    BLAS.gemm(m: n, n: width, k: m, a: weights, lda: m,
                              b: joined.baseAddress! + start * width, ldb: width,
                              beta: 1, c: acc.baseAddress!, ldc: 2 * d)
                }
                start += m
            }
        }}}
    }
}
