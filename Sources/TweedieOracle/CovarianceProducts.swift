import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra

extension Oracle {
    /// The denoiser x̂_0(x_t) and, for each row of `x`, the product Cov[x_0 | x_t] V with a fixed
    /// D×m matrix `v` (docs/math.md §11.4): the posterior covariance acting on m directions,
    /// without forming any D×D matrix per point.
    ///
    /// Cov[x_0 | x_t] V = Σ_k r_k C_k V + Σ_k r_k δ_k (δ_kᵀ V), with δ_k = m_k(x_t) − x̂_0 (centred:
    /// no cancellation) and C_k = L P_k Lᵀ the component posterior covariance at this level, whose
    /// products C_k V are formed once per call (2D²m per component with its own eigenbasis).
    /// Each point then costs O(K D m). For an exact denoiser the Jacobian is
    /// ∂x̂_0/∂x_t = (α/σ²) Cov[x_0 | x_t] Σ⁻¹ (§3.2), so these products are its exact
    /// vector–Jacobian products too.
    public func denoise(_ x: Matrix, at level: NoiseLevel,
                        covarianceTimes v: Matrix) throws(ArgumentError) -> (denoised: Matrix, products: [Matrix]) {
        let d = dimension, m = v.columns
        guard v.rows == d, m >= 1 else {
            throw ArgumentError("directions", "must be D×m with D = \(d) and m ≥ 1, got \(v.rows)×\(v.columns)")
        }
        guard v.allFinite else { throw ArgumentError("directions", "contain NaN or infinity") }
        try MemoryBudget.require("x", "the covariance products of \(x.rows) points (\(x.rows) × \(d) × \(m))",
                                 elements: [x.rows, d, m])
        let result = try evaluate(x, at: level, including: .componentMeans)
        let componentProducts = componentCovarianceProducts(v, alpha: level.alpha, sigma: level.sigma)
        let k = componentCount
        let directions = v.transposed  // m×D: each direction contiguous
        let products: [Matrix] = Parallel.array(count: x.rows, chunk: 16) { rows in
            var delta = [Double](repeating: 0, count: d)
            return rows.map { b in
                var out = Matrix(rows: m, columns: d)  // (Cov V)ᵀ, transposed at the end
                let responsibilities = result.responsibilities.row(b)
                result.componentMeans![b].elements.withUnsafeBufferPointer { means in
                    result.denoised.elements.withUnsafeBufferPointer { denoised in
                        directions.elements.withUnsafeBufferPointer { vt in
                            out.elements.withUnsafeMutableBufferPointer { o in
                                delta.withUnsafeMutableBufferPointer { delta in
                                    for c in 0..<k {
                                        let r = responsibilities[c]
                                        guard r > 0 else { continue }
                                        for i in 0..<d { delta[i] = means[c * d + i] - denoised[b * d + i] }
                                        for j in 0..<m {
                                            var dot = 0.0
                                            for i in 0..<d { dot += delta[i] * vt[j * d + i] }
                                            let coefficient = r * dot
                                            for i in 0..<d { o[j * d + i] += coefficient * delta[i] }
                                        }
                                        guard let w = componentProducts?[c] else { continue }
                                        w.elements.withUnsafeBufferPointer { w in
                                            for i in 0..<(m * d) { o[i] += r * w[i] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                return out.transposed
            }
        }
        return (result.denoised, products)
    }

    /// (C_k V)ᵀ (m×D) for each component, C_k = L U_k diag(σ²γ_ki/(α²γ_ki + σ²)) U_kᵀ Lᵀ
    /// (docs/math.md §2.6); nil for Dirac components (C_k = 0).
    private func componentCovarianceProducts(_ v: Matrix, alpha: Double, sigma: Double) -> [Matrix]? {
        guard !mixture.isDirac else { return nil }
        let d = dimension, s2 = sigma * sigma, a2 = alpha * alpha
        // Rows of Vᵀ mapped by Lᵀ: the directions in whitened coordinates.
        let whitened = model.noise.applying(.unwhitenTransposed, to: v.transposed)
        var sharedProjection: Matrix?
        return (0..<componentCount).map { c in
            let u = mixture.basis(of: c)
            var z: Matrix
            if let u {
                if case .sharedBasis = mixture.structure {
                    if sharedProjection == nil { sharedProjection = BLAS.product(whitened, u) }
                    z = sharedProjection!
                } else {
                    z = BLAS.product(whitened, u)
                }
            } else {
                z = whitened
            }
            for i in 0..<d {
                let gamma = mixture.eigenvalues[c, i]
                let e = s2 * gamma / (a2 * gamma + s2)
                for j in 0..<z.rows { z[j, i] *= e }
            }
            if let u { z = BLAS.product(z, .none, u, .transpose) }
            return model.noise.applying(.unwhiten, to: z)
        }
    }
}
