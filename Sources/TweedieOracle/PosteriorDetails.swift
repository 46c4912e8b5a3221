import Foundation
import TweedieLinearAlgebra

/// The optional outputs: component posterior means m_k and the posterior covariance
/// Cov[x_0 | x_t] = Σ_k r_k (V_k + m_k m_kᵀ) − x̂_0 x̂_0ᵀ (docs/math.md §2–§3), computed in whitened
/// coordinates as Σ_k r_k P_k + Σ_k r_k (m̃_k − ŷ)(m̃_k − ŷ)ᵀ, then mapped back as L · Lᵀ.
/// Here P_k = U_k diag(σ²γ_k/d_k) U_kᵀ, m̃_k = ν_k + U_k(gain_k ⊙ z_k) and ŷ = L⁻¹x̂_0; the
/// centred form avoids the cancellation of Σ r_k m_k m_kᵀ − x̂_0 x̂_0ᵀ.
struct PosteriorDetails: Sendable {
    let mixture: WhitenedMixture
    let scales: ComponentScales?
    let alpha: Double
    let covariance: Bool
    /// P_k flattened as rows of a K×D² matrix (absent for Dirac components, where P_k = 0).
    let whitenedCovariances: Matrix?

    init(_ mixture: WhitenedMixture, scales: ComponentScales?, alpha: Double, sigma: Double, covariance: Bool) {
        self.mixture = mixture
        self.scales = scales
        self.alpha = alpha
        self.covariance = covariance
        let k = mixture.componentCount, d = mixture.dimension
        guard covariance, scales != nil else {
            whitenedCovariances = nil
            return
        }
        var p = Matrix(rows: k, columns: d * d)
        for c in 0..<k {
            p.setRow(c, to: mixture.whitenedPosteriorCovariance(c, alpha: alpha, sigma: sigma).elements)
        }
        whitenedCovariances = p
    }

    /// m̃_k for the rows of a tile (n×D, whitened coordinates).
    private func whitenedComponentMeans(_ k: Int, y: UnsafePointer<Double>, rows n: Int) -> Matrix {
        let d = mixture.dimension
        var m = Matrix(rows: n, columns: d)
        let nu = mixture.whitenedMeans.row(k)
        guard let scales else {
            for b in 0..<n { m.setRow(b, to: nu) }
            return m
        }
        var z = Matrix(rows: n, columns: d)
        z.elements.withUnsafeMutableBufferPointer { z in
            for b in 0..<n { for i in 0..<d { z[b * d + i] = y[b * d + i] - alpha * nu[i] } }
        }
        let u = mixture.basis(of: k)
        if let u { z = BLAS.product(z, u) }
        let gain = scales.gain.row(k)
        z.elements.withUnsafeMutableBufferPointer { z in
            for b in 0..<n { for i in 0..<d { z[b * d + i] *= gain[i] } }
        }
        if let u { z = BLAS.product(z, .none, u, .transpose) }
        m.elements.withUnsafeMutableBufferPointer { m in
            z.elements.withUnsafeBufferPointer { z in
                for b in 0..<n { for i in 0..<d { m[b * d + i] = nu[i] + z[b * d + i] } }
            }
        }
        return m
    }

    /// The extras for the real rows of a finished tile (its responsibilities and denoiser in
    /// place); products run on the whole padded tile, as in the oracle.
    func evaluate(_ tile: Tile, output: OutputBuffers) {
        let n = tile.rows.count, np = tile.paddedRows, d = mixture.dimension, k = mixture.componentCount
        let first = tile.rows.lowerBound
        let responsibilities = tile.logits
        let wantsMeans = output.componentMeans != nil
        // Dirac components need no per-point means: m̃_k = ν_k.
        let means: [Matrix]? = (scales != nil)
            ? (0..<k).map { whitenedComponentMeans($0, y: tile.whitened, rows: np) } : nil

        if wantsMeans {
            for b in 0..<n {
                var perPoint = Matrix(rows: k, columns: d)
                for c in 0..<k { perPoint.setRow(c, to: means?[c].row(b) ?? mixture.whitenedMeans.row(c)) }
                mixture.noise.apply(.unwhiten, to: &perPoint)
                output.componentMeans![first + b] = perPoint
            }
        }
        guard covariance else { return }

        var meanPart = Matrix(rows: np, columns: d * d)
        if let p = whitenedCovariances {
            p.elements.withUnsafeBufferPointer { pp in
                meanPart.elements.withUnsafeMutableBufferPointer { out in
                    BLAS.gemm(m: np, n: d * d, k: k, a: responsibilities, lda: k, b: pp.baseAddress!, ldb: d * d,
                              c: out.baseAddress!, ldc: d * d)
                }
            }
        }
        var posteriorMean = Array(UnsafeBufferPointer(start: tile.denoised, count: np * d))
        posteriorMean.withUnsafeMutableBufferPointer { mixture.noise.apply(.whiten, rows: np, to: $0.baseAddress!) }
        for b in 0..<n {
            let active = (0..<k).filter { responsibilities[b * k + $0] > 0 }
            var deviations = [Double](repeating: 0, count: active.count * d)
            for (row, c) in active.enumerated() {
                let root = responsibilities[b * k + c].squareRoot()
                for i in 0..<d {
                    let m = means?[c][b, i] ?? mixture.whitenedMeans[c, i]
                    deviations[row * d + i] = root * (m - posteriorMean[b * d + i])
                }
            }
            var cov = Matrix(rows: d, columns: d, elements: Array(meanPart.elements[(b * d * d)..<((b + 1) * d * d)]))
            deviations.withUnsafeBufferPointer { dev in
                cov.elements.withUnsafeMutableBufferPointer { c in
                    BLAS.gram(dev.baseAddress!, k: active.count, n: d, lda: d, beta: 1, c: c.baseAddress!, ldc: d)
                }
            }
            // L Cov Lᵀ: unwhiten the rows, transpose, unwhiten the rows again.
            mixture.noise.apply(.unwhiten, to: &cov)
            cov = cov.transposed
            mixture.noise.apply(.unwhiten, to: &cov)
            output.posteriorCovariance![first + b] = cov.symmetrized
        }
    }
}
