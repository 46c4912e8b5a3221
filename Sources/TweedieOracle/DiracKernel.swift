import Foundation
import TweedieLinearAlgebra

/// The streaming pass over Dirac components (Λ_k = 0, docs/math.md §2): the oracle of a data set.
///
/// Responsibilities are a softmax of log π_k − ‖y − αν_k‖²/(2σ²) and the denoiser is Σ_k r_k μ_k:
/// attention with queries y, keys αν_k and values μ_k. Components are taken in blocks; each
/// block costs two GEMMs (y·νᵀ for the distances, weights·[μ | ν] for the sums). With Σ = I,
/// ν_k = μ_k and the sums need only weights·μ: 4D flops per (point, component) instead of 6D.
///
/// Distances come from the Gram expansion on data centred at its mean,
/// ‖ỹ‖² − 2α ỹ·ν̃_k + α²‖ν̃_k‖² (ỹ = y − αν̄, ν̃_k = ν_k − ν̄), which loses digits when σ is small
/// against ‖ỹ‖; the dot products are summed over chunks of ``gramChunk`` coordinates to keep the
/// loss's bound small (docs/math.md §2.5). A component group is streamed in three passes: every
/// log-weight from the Gram expansion; where the loss could reach ``gramTolerance`` in a
/// log-weight, the distances of the components that can carry weight recomputed directly (so
/// t → 0 stays exact); then the weights and the sums.
enum DiracKernel {
    /// Components per GEMM of the stream.
    static let blockSize = 2048
    /// The fewest components of a group streamed as a task of its own (each group costs a merge per
    /// point); a group spans blocks, the last one shorter.
    static let smallestGroup = 512

    /// Per-model data: ν̃ᵀ (D×K) for the distance GEMM, with ν̃_k = ν_k − ν̄ centred on the data's
    /// mean (smaller numbers, smaller rounding in the Gram expansion); [μ_k | ν_k] rows (K×2D) for
    /// the sums, or μ_k alone (K×D) when Σ = I.
    struct Tables: Sendable {
        let whitenedCentre: [Double]
        let centredWhitenedMeansTransposed: Matrix
        let meansAndWhitenedMeans: Matrix
        /// ‖ν̃_k‖².
        let squaredNorms: [Double]
        let largestSquaredNorm: Double
        /// max_k ‖ν̃_k‖ and ‖ν̄‖, for the rounding bound of the divergence (docs/math.md §3.4).
        let largestNorm: Double
        let centreNorm: Double
        /// Σ = I: ν_k = μ_k, and only the first D columns of the sums are accumulated.
        let meansAreWhitened: Bool

        init(_ mixture: WhitenedMixture) {
            let k = mixture.componentCount, d = mixture.dimension
            let centre = mixture.whitenedMeans.columnMeans
            whitenedCentre = centre
            meansAreWhitened = mixture.noise.isIdentity
            let width = meansAreWhitened ? d : 2 * d
            var centredTransposed = Matrix(rows: d, columns: k)
            // With Σ = I the joined table is the means themselves: shared, not copied (a data set is
            // held once more only for the centred transposed atoms the GEMMs read).
            var joined = meansAreWhitened ? mixture.means : Matrix(rows: k, columns: width)
            var norms = [Double](repeating: 0, count: k)
            for c in 0..<k {
                for i in 0..<d {
                    if !meansAreWhitened {
                        joined[c, i] = mixture.means[c, i]
                        joined[c, d + i] = mixture.whitenedMeans[c, i]
                    }
                    centredTransposed[i, c] = mixture.whitenedMeans[c, i] - centre[i]
                }
                norms[c] = chunkedSquaredNorm(count: d) { mixture.whitenedMeans[c, $0] - centre[$0] }
            }
            centredWhitenedMeansTransposed = centredTransposed
            meansAndWhitenedMeans = joined
            squaredNorms = norms
            largestSquaredNorm = norms.max() ?? 0
            largestNorm = largestSquaredNorm.squareRoot()
            centreNorm = centre.reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
    }

    /// Above this bound on the rounding of a log-weight by the Gram expansion (nats), the distances
    /// of the components that can carry weight are recomputed by direct subtraction.
    static let gramTolerance = 1e-9

    /// Dot products ỹ·ν̃_k longer than this are formed as partial products over chunks of this many
    /// coordinates, one GEMM each, added in order here: whatever order BLAS sums a chunk in, a term
    /// then goes through at most ``gramChunk`` + ⌈D / ``gramChunk``⌉ − 1 roundings instead of D, and
    /// the rounding bound of the Gram expansion shrinks by that ratio (docs/math.md §2.5).
    static let gramChunk = 512

    /// The length of the longest chain of roundings a term of ỹ·ν̃_k goes through: D for one
    /// product, c + ⌈D/c⌉ − 1 for partial products over chunks of c = ``gramChunk`` coordinates.
    static func summationDepth(dimension d: Int) -> Int {
        d <= gramChunk ? d : gramChunk + (d + gramChunk - 1) / gramChunk - 1
    }

    /// Σ_i v_i² for i < `d`, summed over chunks of ``gramChunk`` terms added in order, like the Gram
    /// products: its rounding is bounded by γ_h, h = ``summationDepth(dimension:)`` (docs/math.md §2.5).
    @inline(__always)
    static func chunkedSquaredNorm(count d: Int, _ v: (Int) -> Double) -> Double {
        var total = 0.0, partial = 0.0
        for i in 0..<d {
            let x = v(i)
            partial += x * x
            if (i + 1) % gramChunk == 0 || i == d - 1 {
                total += partial
                partial = 0
            }
        }
        return total
    }

    /// γ_n = n u / (1 − n u), u = 2⁻⁵³: the relative bound of n chained binary64 roundings.
    @inline(__always)
    static func gamma(_ n: Int) -> Double {
        let nu = Double(n) * Double.ulpOfOne / 2
        return nu / (1 - nu)
    }

    /// The bound on the binary64 rounding of ‖ỹ‖² − 2α ỹ·ν̃_k + α²‖ν̃_k‖² that differs between the
    /// components of one point, with ‖ỹ‖² = `yNorm` and ‖ν̃_k‖² = `squaredNorm` (docs/math.md §2.5):
    /// the dot product's γ_{h+2}‖ỹ‖‖ν̃_k‖ (times 2α; h = ``summationDepth(dimension:)``, the two more
    /// roundings for the products by α), the norm's γ_{h+2}‖ν̃_k‖² (times α², the norm summed over the
    /// same chunks) and the three
    /// additions' 3u(‖ỹ‖ + α‖ν̃_k‖)². The rounding of ‖ỹ‖² itself is the same for every component and
    /// leaves the responsibilities and x̂_0 unchanged. Divided by 2σ², a bound on the error of a
    /// log-weight's differences; with the largest ‖ν̃_k‖², a bound for every component of the point.
    @inline(__always)
    static func gramRoundingBound(dimension d: Int, yNorm: Double, alpha: Double, squaredNorm: Double) -> Double {
        let (y, nu) = (yNorm.squareRoot(), alpha * squaredNorm.squareRoot())
        return gamma(summationDepth(dimension: d) + 2) * (2 * y * nu + nu * nu)
            + 1.5 * Double.ulpOfOne * (y + nu) * (y + nu)
    }

    /// How far below the best log-weight (nats) the Gram distances are recomputed when their rounding
    /// bound e exceeds ``gramTolerance`` (docs/math.md §2.5): the components left have total weight at
    /// most K e^(−L) of the whole, so with L = log(K e / gramTolerance) their rounding moves the
    /// weighted log-weights by at most ``gramTolerance`` — what is accepted from every component when
    /// e itself is below it. Never more than 40 nats.
    @inline(__always)
    static func recomputationMargin(logitError: Double, componentCount k: Int) -> Double {
        min(40, max(0, log(Double(k) * logitError / gramTolerance)))
    }

    /// ‖y − αν‖² by direct subtraction (no Gram expansion): the exact recomputation.
    @inline(__always)
    static func squaredDistance(_ y: UnsafePointer<Double>, _ nu: UnsafePointer<Double>, alpha: Double,
                                dimension d: Int) -> Double {
        var dist = 0.0
        for i in 0..<d {
            let e = y[i] - alpha * nu[i]
            dist += e * e
        }
        return dist
    }

    /// Row b's log-weights of block components `start..<start+m` from its Gram row (ỹ·ν̃_k, in
    /// either precision): a_k = log π_k − ‖ỹ − αν̃_k‖²/(2σ²) + constant, the squared distance clamped
    /// at 0. Writes a_k to `logits`; returns the block's largest a_k.
    @inline(__always)
    static func blockLogits<G: BinaryFloatingPoint>(
        _ mixture: WhitenedMixture, gram: UnsafePointer<G>, yNorm: Double, squaredNorms: [Double],
        alpha: Double, sigma2: Double, constant: Double, start: Int, count m: Int,
        logits: UnsafeMutablePointer<Double>
    ) -> Double {
        var blockMax = -Double.infinity
        for j in 0..<m {
            let c = start + j
            let dist = max(0, yNorm - 2 * alpha * Double(gram[j]) + alpha * alpha * squaredNorms[c])
            let a = mixture.logWeights[c] - dist / (2 * sigma2) + constant
            logits[c] = a
            blockMax = max(blockMax, a)
        }
        return blockMax
    }

    /// gram = ỹ · ν̃ᵀ for `count` components (row-major, n × count; `nuT` the block's first column
    /// of ν̃ᵀ, D × `total`), over chunks of ``gramChunk`` coordinates when D is longer: the first
    /// chunk's product written into `gram`, each further one into `partial` and added, in order
    /// (docs/math.md §2.5).
    static func gramProduct(_ centred: UnsafePointer<Double>, rows n: Int, _ nuT: UnsafePointer<Double>,
                            count m: Int, of total: Int, dimension d: Int, gram: UnsafeMutablePointer<Double>,
                            partial: UnsafeMutablePointer<Double>) {
        guard d > gramChunk else {
            BLAS.gemm(m: n, n: m, k: d, a: centred, lda: d, b: nuT, ldb: total, c: gram, ldc: m)
            return
        }
        var first = 0
        while first < d {
            let width = min(gramChunk, d - first)
            BLAS.gemm(m: n, n: m, k: width, a: centred + first, lda: d, b: nuT + first * total, ldb: total,
                      c: first == 0 ? gram : partial, ldc: m)
            if first > 0 {
                for i in 0..<(n * m) { gram[i] += partial[i] }
            }
            first += width
        }
    }

    static func stream(
        _ mixture: WhitenedMixture, tables: Tables, alpha: Double, sigma: Double, components: Range<Int>,
        y: UnsafePointer<Double>, rows n: Int, logits: UnsafeMutablePointer<Double>,
        levels: UnsafeMutablePointer<Double>, levelStride: Int, state: inout StreamState, workspace: Workspace
    ) {
        let d = mixture.dimension, kCount = mixture.componentCount
        let sigma2 = sigma * sigma
        let constant = -0.5 * Double(d) * log(sigma2) - mixture.noise.logDeterminantOfFactor
            - 0.5 * Double(d) * logTwoPi
        // ỹ = y − αν̄: ‖y − αν_k‖² = ‖ỹ − αν̃_k‖² = ‖ỹ‖² − 2α ỹ·ν̃_k + α²‖ν̃_k‖².
        let capacity = n * min(blockSize, components.count)
        let scratch = workspace.take(n * d + 2 * capacity)
        defer { workspace.give(scratch) }
        let centred = scratch
        var yNorm = [Double](repeating: 0, count: n)
        for b in 0..<n {
            for i in 0..<d {
                let v = y[b * d + i] - alpha * tables.whitenedCentre[i]
                centred[b * d + i] = v
                yNorm[b] += v * v
            }
        }

        let gram = scratch + n * d, weights = gram + capacity

        tables.centredWhitenedMeansTransposed.elements.withUnsafeBufferPointer { nuT in
        tables.meansAndWhitenedMeans.elements.withUnsafeBufferPointer { joined in
        mixture.whitenedMeans.elements.withUnsafeBufferPointer { nuAll in
            // Pass 1: every log-weight of the group from the Gram expansion, and each row's largest.
            var groupMax = [Double](repeating: -.infinity, count: n)
            var start = components.lowerBound
            while start < components.upperBound {
                let m = min(blockSize, components.upperBound - start)
                gramProduct(centred, rows: n, nuT.baseAddress! + start, count: m, of: kCount, dimension: d,
                            gram: gram, partial: weights)
                for b in 0..<n {
                    let blockMax = blockLogits(mixture, gram: gram + b * m, yNorm: yNorm[b],
                                               squaredNorms: tables.squaredNorms, alpha: alpha, sigma2: sigma2,
                                               constant: constant, start: start, count: m,
                                               logits: logits + b * kCount)
                    groupMax[b] = max(groupMax[b], blockMax)
                }
                start += m
            }
            // Pass 2: where the Gram rounding could move a log-weight by more than the tolerance, the
            // components within the margin of the group's best whose own bound exceeds it are
            // recomputed by direct subtraction (docs/math.md §2.5).
            for b in 0..<n {
                let logitError = gramRoundingBound(dimension: d, yNorm: yNorm[b], alpha: alpha,
                                                   squaredNorm: tables.largestSquaredNorm) / (2 * sigma2)
                if logitError > gramTolerance {
                    let threshold = groupMax[b] - recomputationMargin(logitError: logitError, componentCount: kCount)
                        - 2 * logitError
                    var rowMax = -Double.infinity
                    for c in components {
                        var a = logits[b * kCount + c]
                        if a >= threshold, gramRoundingBound(dimension: d, yNorm: yNorm[b], alpha: alpha,
                                                             squaredNorm: tables.squaredNorms[c])
                            > gramTolerance * (2 * sigma2) {
                            let dist = squaredDistance(y + b * d, nuAll.baseAddress! + c * d, alpha: alpha,
                                                       dimension: d)
                            a = mixture.logWeights[c] - dist / (2 * sigma2) + constant
                            logits[b * kCount + c] = a
                        }
                        rowMax = max(rowMax, a)
                    }
                    groupMax[b] = rowMax
                }
                state.raiseMax(row: b, to: groupMax[b])
                // The weights stay in `logits`, with the maximum they are relative to in `levels`
                // (row b's slot for this group): the responsibilities need no second exponential.
                levels[b * levelStride] = state.rowMax[b]
            }
            // Pass 3: weights relative to the group's best and the sums, a GEMM per block.
            let width = tables.meansAndWhitenedMeans.columns
            start = components.lowerBound
            while start < components.upperBound {
                let m = min(blockSize, components.upperBound - start)
                for b in 0..<n {
                    // Σ w_k ‖ν̃_k‖², the data-only second moment of the divergence (docs/math.md §3.4).
                    var weightSum = 0.0, normSum = 0.0
                    for j in 0..<m {
                        let w = exp(logits[b * kCount + start + j] - state.rowMax[b])
                        logits[b * kCount + start + j] = w
                        weights[b * m + j] = w
                        weightSum += w
                        normSum += w * tables.squaredNorms[start + j]
                    }
                    state.weightSum[b] += weightSum
                    state.traceSum[b] += weightSum * (Double(d) / sigma2)
                    state.normSum[b] += normSum
                }
                BLAS.gemm(m: n, n: width, k: m, a: weights, lda: m, b: joined.baseAddress! + start * width, ldb: width,
                          beta: 1, c: state.accumulator, ldc: 2 * d)
                start += m
            }
        }}}
    }
}
