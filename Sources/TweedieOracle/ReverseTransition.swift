import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra

/// The exact reverse transition of a mixture prior, from time t back to an earlier time s
/// (docs/math.md §4 composed with §2):
///
/// p(x_s | x_t) = ∫ q(x_s | x_t, x_0) p(x_0 | x_t) dx_0 = Σ_k r_k(x_t) N(a x_t + b m_k(x_t), c Σ + b² V_k),
///
/// where q(x_s | x_t, x_0) = N(a x_t + b x_0, c Σ) is ``DDPMPosterior`` (a = `xtCoefficient`,
/// b = `x0Coefficient`, c = `variance`). Sampling from it step after step is ancestral
/// sampling with no discretization error.
extension Oracle {
    /// The law of x_s given each row of `x` (at α_t, σ_t): one Gaussian mixture per point, with
    /// weights r_k(x_t), means a x_t + b m_k(x_t) and covariances c Σ + b² V_k.
    public func reverseTransitionLaw(from x: Matrix, at level: NoiseLevel,
                                     to target: NoiseLevel) throws(ArgumentError) -> [GaussianMixture] {
        let (alphaT, sigmaT) = (level.alpha, level.sigma)
        let bridge = try DDPMPosterior(from: level, to: target)
        let (a, b, c) = (bridge.xtCoefficient, bridge.x0Coefficient, bridge.variance)
        let result = try evaluate(x, alpha: alphaT, sigma: sigmaT, including: .componentMeans)
        let d = dimension, k = componentCount
        let sigmaMatrix = model.noise.denseMatrix
        // V_k does not depend on x: L U_k diag(σ_t²γ_k/d_k) U_kᵀ Lᵀ.
        let covariances: [Matrix] = (0..<k).map { component in
            var v = componentPosteriorCovariance(component, alpha: alphaT, sigma: sigmaT)
            for i in 0..<(d * d) { v.elements[i] = c * sigmaMatrix.elements[i] + b * b * v.elements[i] }
            return v.symmetrized
        }
        return try (0..<x.rows).map { p throws(ArgumentError) in
            var means = result.componentMeans![p]
            for component in 0..<k { for i in 0..<d { means[component, i] = a * x[p, i] + b * means[component, i] } }
            var weights = result.responsibilities.row(p)
            let total = weights.reduce(0, +)
            weights = weights.map { $0 / total }
            do {
                return try GaussianMixture(weights: weights, means: means, covariances: .full(covariances))
            } catch {
                throw ArgumentError("reverse transition", "\(error)")
            }
        }
    }

    /// V_k = L U_k diag(σ²γ_k/d_k) U_kᵀ Lᵀ, the covariance of p(x_0 | x_t, k) (docs/math.md §2).
    func componentPosteriorCovariance(_ k: Int, alpha: Double, sigma: Double) -> Matrix {
        var v = mixture.whitenedPosteriorCovariance(k, alpha: alpha, sigma: sigma)
        model.noise.apply(.unwhiten, to: &v)
        v = v.transposed
        model.noise.apply(.unwhiten, to: &v)
        return v.symmetrized
    }

    /// Draws x_s ~ p(x_s | x_t) for each row of `x`, exactly, from caller-supplied randomness:
    /// `uniforms[p]` ∈ (0, 1) picks the component, and row p of `normals` (B × 2D) supplies the
    /// Gaussian noise. Each row's result depends only on that row's inputs.
    ///
    /// In whitened coordinates, with z_k = U_kᵀ(y − α_t ν_k) and e_k = σ_t²γ_k/d_k:
    /// x_s = L [a y + b ν_k + b U_k(gain_k ⊙ z_k + √e_k ⊙ n₂) + √c n₁].
    public func sampleReverseTransition(from x: Matrix, at level: NoiseLevel, to target: NoiseLevel,
                                        uniforms: [Double], normals: Matrix) throws(ArgumentError) -> Matrix {
        let (alphaT, sigmaT) = (level.alpha, level.sigma)
        let bridge = try DDPMPosterior(from: level, to: target)
        let d = dimension, kCount = componentCount, count = x.rows
        guard uniforms.count == count, normals.rows == count, normals.columns == 2 * d else {
            throw ArgumentError("noise", "needs \(count) uniforms and a \(count)×\(2 * d) matrix of normals")
        }
        let r = try evaluate(x, alpha: alphaT, sigma: sigmaT).responsibilities
        let scales = mixture.isDirac ? nil : ComponentScales(mixture, alpha: alphaT, sigma: sigmaT)
        var y = model.noise.applying(.whiten, to: x)
        let (a, b, rootC) = (bridge.xtCoefficient, bridge.x0Coefficient, bridge.variance.squareRoot())
        for p in 0..<count {
            // Inverse CDF of r_p; a uniform past the (rounded) total picks the last positive weight.
            var k = 0, cumulative = 0.0
            for c in 0..<kCount where r[p, c] > 0 {
                k = c
                cumulative += r[p, c]
                if uniforms[p] < cumulative { break }
            }
            var w = [Double](repeating: 0, count: d)
            for i in 0..<d { w[i] = a * y[p, i] + b * mixture.whitenedMeans[k, i] + rootC * normals[p, i] }
            if let scales {
                var v = Matrix(rows: 1, columns: d,
                               elements: (0..<d).map { y[p, $0] - alphaT * mixture.whitenedMeans[k, $0] })
                let u = mixture.basis(of: k)
                if let u { v = BLAS.product(v, u) }
                for i in 0..<d {
                    let e = sigmaT * sigmaT * mixture.eigenvalues[k, i] * scales.inverseVariance[k, i]
                    v.elements[i] = scales.gain[k, i] * v.elements[i] + e.squareRoot() * normals[p, d + i]
                }
                if let u { v = BLAS.product(v, .none, u, .transpose) }
                for i in 0..<d { w[i] += b * v.elements[i] }
            }
            y.setRow(p, to: w)
        }
        model.noise.apply(.unwhiten, to: &y)
        return y
    }
}
