import Foundation
import TweedieLinearAlgebra

/// The streaming passes over Gaussian components (docs/math.md §2), for one tile of whitened points.
///
/// For each component: z_k = U_kᵀ(y − αν_k) (one GEMM over the tile), its log-weight
/// a_k = log π_k + log N(x; αμ_k, C_k), and the weighted sums that give the score, the denoiser
/// (gain form) and the divergence. Log-weights are written to column k of `logits`.
enum GaussianKernels {
    /// Components with their own basis U_k: two GEMMs per component.
    ///
    /// With `denoiserOnly` only the denoiser's half of the sums is folded back (one D×D product per
    /// component instead of two: 4D² flops per point and component instead of 6D²); its numbers are
    /// those of the full pass, row for row.
    static func streamSeparateBases(
        _ mixture: WhitenedMixture, bases: [Matrix], basesTransposed: [Matrix],
        scales: ComponentScales, components: Range<Int>,
        y: UnsafePointer<Double>, rows n: Int, logits: UnsafeMutablePointer<Double>,
        state: inout StreamState, workspace: Workspace, denoiserOnly: Bool = false
    ) {
        let d = mixture.dimension, kCount = mixture.componentCount, width = state.width
        let alpha = scales.alpha
        let scratch = workspace.take(4 * n * d + n)
        defer { workspace.give(scratch) }
        let diff = scratch, z = diff + n * d, weighted = z + n * d, weights = weighted + 2 * n * d

        mixture.whitenedMeans.elements.withUnsafeBufferPointer { nuAll in
        mixture.means.elements.withUnsafeBufferPointer { muAll in
        scales.inverseVariance.elements.withUnsafeBufferPointer { invAll in
        scales.gain.elements.withUnsafeBufferPointer { gainAll in
            for k in components {
                guard mixture.logWeights[k] > -.infinity else {
                    for b in 0..<n { logits[b * kCount + k] = -.infinity }
                    continue
                }
                let nu = nuAll.baseAddress! + k * d, mu = muAll.baseAddress! + k * d
                let inv = invAll.baseAddress! + k * d
                let gain = gainAll.baseAddress! + k * d
                // Subtract before rotating: no cancellation between large y and αν_k.
                for b in 0..<n {
                    for i in 0..<d { diff[b * d + i] = y[b * d + i] - alpha * nu[i] }
                }
                bases[k].elements.withUnsafeBufferPointer { u in
                    BLAS.gemm(m: n, n: d, k: d, a: diff, lda: d, b: u.baseAddress!, ldb: d, c: z, ldc: d)
                }
                for b in 0..<n {
                    let zb = z + b * d
                    let (quadratic, scoreNorm) = Self.quadraticForms(zb, inv, d)
                    let a = scales.logNormalizer[k] - 0.5 * quadratic
                    logits[b * kCount + k] = a
                    let w = state.add(row: b, logWeight: a, trace: scales.traceInverseVariance[k], scoreNorm: scoreNorm)
                    weights[b] = w
                    if denoiserOnly {
                        let gainRow = weighted + b * d
                        for i in 0..<d { gainRow[i] = w * gain[i] * zb[i] }
                        continue
                    }
                    let scoreRow = weighted + 2 * b * d, gainRow = scoreRow + d
                    for i in 0..<d {
                        scoreRow[i] = w * zb[i] * inv[i]
                        gainRow[i] = w * gain[i] * zb[i]
                    }
                }
                basesTransposed[k].elements.withUnsafeBufferPointer { ut in
                    let sums = state.accumulator
                    // Row b of each product lands in its block of row b of the accumulator.
                    if denoiserOnly {
                        BLAS.gemm(m: n, n: d, k: d, a: weighted, lda: d, b: ut.baseAddress!, ldb: d,
                                  beta: 1, c: sums + d, ldc: width)
                    } else {
                        BLAS.gemm(m: n, n: d, k: d, a: weighted, lda: 2 * d, b: ut.baseAddress!, ldb: d,
                                  beta: 1, c: sums, ldc: width)
                        BLAS.gemm(m: n, n: d, k: d, a: weighted + d, lda: 2 * d, b: ut.baseAddress!, ldb: d,
                                  beta: 1, c: sums + d, ldc: width)
                    }
                    for b in 0..<n {
                        let row = sums + b * width + 2 * d
                        for i in 0..<d { row[i] += weights[b] * mu[i] }
                    }
                }
            }
        }}}}
    }

    /// Components sharing one basis U (or U = I): one GEMM in, O(D) per component, one GEMM out.
    static func streamSharedBasis(
        _ mixture: WhitenedMixture, basis: Matrix?, basisTransposed: Matrix?, projectedMeans: Matrix,
        scales: ComponentScales, y: UnsafePointer<Double>, rows n: Int,
        logits: UnsafeMutablePointer<Double>, state: inout StreamState, workspace: Workspace
    ) {
        let d = mixture.dimension, kCount = mixture.componentCount, width = state.width
        let alpha = scales.alpha
        let scratch = workspace.take(n * d + d)
        defer { workspace.give(scratch) }
        let rotated = scratch, z = scratch + n * d
        if let basis {
            basis.elements.withUnsafeBufferPointer { u in
                BLAS.gemm(m: n, n: d, k: d, a: y, lda: d, b: u.baseAddress!, ldb: d, c: rotated, ldc: d)
            }
        } else {
            rotated.update(from: y, count: n * d)
        }
        projectedMeans.elements.withUnsafeBufferPointer { pnuAll in
        mixture.means.elements.withUnsafeBufferPointer { muAll in
        scales.inverseVariance.elements.withUnsafeBufferPointer { invAll in
        scales.gain.elements.withUnsafeBufferPointer { gainAll in
            for k in 0..<kCount {
                guard mixture.logWeights[k] > -.infinity else {
                    for b in 0..<n { logits[b * kCount + k] = -.infinity }
                    continue
                }
                let pnu = pnuAll.baseAddress! + k * d, mu = muAll.baseAddress! + k * d
                let inv = invAll.baseAddress! + k * d
                let gain = gainAll.baseAddress! + k * d
                for b in 0..<n {
                    let yb = rotated + b * d
                    for i in 0..<d { z[i] = yb[i] - alpha * pnu[i] }
                    let (quadratic, scoreNorm) = Self.quadraticForms(z, inv, d)
                    let a = scales.logNormalizer[k] - 0.5 * quadratic
                    logits[b * kCount + k] = a
                    let w = state.add(row: b, logWeight: a, trace: scales.traceInverseVariance[k], scoreNorm: scoreNorm)
                    let scoreRow = state.accumulator + b * width, gainRow = scoreRow + d, meanRow = gainRow + d
                    for i in 0..<d {
                        scoreRow[i] += w * z[i] * inv[i]
                        gainRow[i] += w * gain[i] * z[i]
                        meanRow[i] += w * mu[i]
                    }
                }
            }
        }}}}
        // Back from the shared basis: the score and gain blocks of each row times Uᵀ (the means
        // are already in data coordinates).
        if let basisTransposed {
            let unrotated = workspace.take(n * width)
            defer { workspace.give(unrotated) }
            unrotated.update(from: state.accumulator, count: n * width)
            basisTransposed.elements.withUnsafeBufferPointer { ut in
                for block in 0..<2 {
                    BLAS.gemm(m: n, n: d, k: d, a: unrotated + block * d, lda: width,
                              b: ut.baseAddress!, ldb: d, c: state.accumulator + block * d, ldc: width)
                }
            }
        }
    }

    /// (Σ_i z_i²/d_i, Σ_i (z_i/d_i)²): the quadratic form of log N_k and ‖ŝ_k‖². Four partial
    /// sums in a fixed order (the same for every row) break the add latency chain.
    @inline(__always)
    static func quadraticForms(_ z: UnsafePointer<Double>, _ inverseVariance: UnsafePointer<Double>,
                               _ d: Int) -> (Double, Double) {
        var q0 = 0.0, q1 = 0.0, q2 = 0.0, q3 = 0.0
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= d {
            let u0 = z[i] * inverseVariance[i], u1 = z[i + 1] * inverseVariance[i + 1]
            let u2 = z[i + 2] * inverseVariance[i + 2], u3 = z[i + 3] * inverseVariance[i + 3]
            q0 += z[i] * u0; q1 += z[i + 1] * u1; q2 += z[i + 2] * u2; q3 += z[i + 3] * u3
            s0 += u0 * u0; s1 += u1 * u1; s2 += u2 * u2; s3 += u3 * u3
            i += 4
        }
        while i < d {
            let u = z[i] * inverseVariance[i]
            q0 += z[i] * u
            s0 += u * u
            i += 1
        }
        return ((q0 + q1) + (q2 + q3), (s0 + s1) + (s2 + s3))
    }
}
