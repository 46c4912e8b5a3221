import Foundation
import TweedieLinearAlgebra

/// The arithmetic precision of an oracle's denoiser (docs/math.md §2.7).
public enum Precision: String, Sendable, CaseIterable {
    /// Float64 throughout: the exact oracle.
    case float64
    /// For data-set (Dirac) models, an opt-in speed-up of ``Oracle/denoise(_:at:)``, the call a
    /// sampler makes: the two matrix products in single precision on centred data, everything else
    /// in Float64, near-winning distances recomputed in Float64. ``Oracle/evaluate(_:at:including:)``
    /// stays in Float64.
    case float32
}

extension DiracKernel {
    /// Float32 data for ``Precision/float32``: the means with the data's own mean subtracted
    /// (ν̃_k = ν_k − ν̄, μ̃_k = μ_k − μ̄), so that single precision carries the spread of the data
    /// rather than its offset.
    struct SinglePrecisionTables: Sendable {
        let whitenedCentre: [Double]
        let meanCentre: [Double]
        /// ν̃ᵀ (D×K) for the distance product.
        let centredWhitenedMeansTransposed: [Float]
        /// μ̃ (K×D) for the sums.
        let centredMeans: [Float]
        /// ‖ν̃_k‖² of the Float32 values, in Float64.
        let squaredNorms: [Double]
        let largestNorm: Double

        /// From the Float64 tables (whose centre ν̄ and centred ν̃ᵀ are rounded here).
        init(_ mixture: WhitenedMixture, tables: Tables) {
            let k = mixture.componentCount, d = mixture.dimension
            whitenedCentre = tables.whitenedCentre
            meanCentre = mixture.means.columnMeans
            let nuT = tables.centredWhitenedMeansTransposed.elements.map { Float($0) }
            var mu = [Float](repeating: 0, count: k * d)
            var norms = [Double](repeating: 0, count: k)
            for r in 0..<k {
                for i in 0..<d { mu[r * d + i] = Float(mixture.means[r, i] - meanCentre[i]) }
                // Over chunks, as the binary64 term of the bound (``gramRoundingBound``) assumes.
                norms[r] = chunkedSquaredNorm(count: d) { Double(nuT[$0 * k + r]) }
            }
            centredWhitenedMeansTransposed = nuT
            centredMeans = mu
            squaredNorms = norms
            largestNorm = (norms.max() ?? 0).squareRoot()
        }
    }

    /// Above this bound on the Float32 error of a log-weight (nats), near-winning distances are
    /// recomputed in Float64.
    static let singlePrecisionTolerance = 1e-3
    /// At most this many near-winners per point and block are recomputed: more means that the
    /// weight is spread over many components, whose independent rounding errors average out.
    static let singlePrecisionRecomputations = 32
    /// Components per block of the single-precision pass: larger than the Float64 pass's, so that
    /// the sum product (B × block × D) runs longer per call and its output is added to the Float64
    /// sums fewer times.
    static let singlePrecisionBlockSize = 2048

    /// The denoiser's sums Σ_k w_k μ_k for the components `components`, in the first D columns of
    /// the accumulator, with the products in single precision (docs/math.md §2.7).
    ///
    /// With ỹ = y − αν̄ rounded to Float32: ‖y − αν_k‖² = ‖ỹ‖² − 2α ỹ·ν̃_k + α²‖ν̃_k‖², the dot
    /// products from one SGEMM per block; a_k in Float64. The Float32 products are off by at most
    /// (D + 2) u ‖ỹ‖ ‖ν̃_k‖ (u = 2⁻²⁴), so a log-weight by E = 2α (D + 2) u ‖ỹ‖ max‖ν̃‖ / (2σ²).
    /// Where E exceeds ``singlePrecisionTolerance``, the components within 40 + 2E nats of the
    /// point's best are recomputed in Float64 by direct subtraction, if there are at most
    /// ``singlePrecisionRecomputations`` of them (small σ: few components carry weight, and their
    /// weights come out as in Float64). The weights, rounded to Float32, multiply μ̃ in a second
    /// SGEMM; each block's sums and μ̄ Σ_k w_k are added in Float64.
    static func streamSinglePrecision(
        _ mixture: WhitenedMixture, tables: SinglePrecisionTables, alpha: Double, sigma: Double,
        components: Range<Int>, y: UnsafePointer<Double>, rows n: Int, logits: UnsafeMutablePointer<Double>,
        state: inout StreamState
    ) {
        let d = mixture.dimension, kCount = mixture.componentCount, width = state.width
        let sigma2 = sigma * sigma
        let constant = -0.5 * Double(d) * log(sigma2) - mixture.noise.logDeterminantOfFactor
            - 0.5 * Double(d) * logTwoPi
        let unit32 = Double(Float.ulpOfOne) / 2
        let blockCapacity = min(singlePrecisionBlockSize, components.count)
        let centred = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        let gram = UnsafeMutablePointer<Float>.allocate(capacity: n * blockCapacity)
        let weights = UnsafeMutablePointer<Float>.allocate(capacity: n * blockCapacity)
        let blockSums = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
        let candidates = UnsafeMutablePointer<Int>.allocate(capacity: blockCapacity)
        defer {
            centred.deallocate(); gram.deallocate(); weights.deallocate(); blockSums.deallocate()
            candidates.deallocate()
        }
        var yNorm = [Double](repeating: 0, count: n), logitError = [Double](repeating: 0, count: n)
        for b in 0..<n {
            for i in 0..<d {
                let v = Float(y[b * d + i] - alpha * tables.whitenedCentre[i])
                centred[b * d + i] = v
                yNorm[b] += Double(v) * Double(v)
            }
            let float32Error = 2 * alpha * Double(d + 2) * unit32 * yNorm[b].squareRoot() * tables.largestNorm
            let float64Error = gramRoundingBound(dimension: d, yNorm: yNorm[b], alpha: alpha,
                                                 squaredNorm: tables.largestNorm * tables.largestNorm)
            logitError[b] = (float32Error + float64Error) / (2 * sigma2)
        }

        tables.centredWhitenedMeansTransposed.withUnsafeBufferPointer { nuT in
        tables.centredMeans.withUnsafeBufferPointer { mu in
        mixture.whitenedMeans.elements.withUnsafeBufferPointer { nuAll in
            var start = components.lowerBound
            while start < components.upperBound {
                let m = min(singlePrecisionBlockSize, components.upperBound - start)
                BLAS.gemm(m: n, n: m, k: d, a: centred, lda: d, b: nuT.baseAddress! + start, ldb: kCount,
                          c: gram, ldc: m)
                for b in 0..<n {
                    var blockMax = blockLogits(mixture, gram: gram + b * m, yNorm: yNorm[b],
                                               squaredNorms: tables.squaredNorms, alpha: alpha, sigma2: sigma2,
                                               constant: constant, start: start, count: m,
                                               logits: logits + b * kCount)
                    if logitError[b] > singlePrecisionTolerance {
                        let threshold = max(blockMax, state.rowMax[b]) - 40 - 2 * logitError[b]
                        var count = 0
                        for j in 0..<m where logits[b * kCount + start + j] >= threshold {
                            if count == singlePrecisionRecomputations { count += 1; break }
                            candidates[count] = j
                            count += 1
                        }
                        if count <= singlePrecisionRecomputations {
                            for index in 0..<count {
                                let c = start + candidates[index]
                                let dist = squaredDistance(y + b * d, nuAll.baseAddress! + c * d, alpha: alpha,
                                                           dimension: d)
                                logits[b * kCount + c] = mixture.logWeights[c] - dist / (2 * sigma2) + constant
                            }
                            blockMax = -.infinity
                            for j in 0..<m { blockMax = max(blockMax, logits[b * kCount + start + j]) }
                        }
                    }
                    state.raiseMax(row: b, to: blockMax)
                    var weightSum = 0.0
                    for j in 0..<m {
                        let w = exp(logits[b * kCount + start + j] - state.rowMax[b])
                        weights[b * m + j] = Float(w)
                        weightSum += w
                    }
                    state.weightSum[b] += weightSum
                    // μ̄ Σ_k w_k: the centre's share of this block, in Float64.
                    for i in 0..<d { state.accumulator[b * width + i] += tables.meanCentre[i] * weightSum }
                }
                BLAS.gemm(m: n, n: d, k: m, a: weights, lda: m, b: mu.baseAddress! + start * d, ldb: d,
                          c: blockSums, ldc: d)
                for b in 0..<n {
                    for i in 0..<d { state.accumulator[b * width + i] += Double(blockSums[b * d + i]) }
                }
                start += m
            }
        }}}
    }
}
