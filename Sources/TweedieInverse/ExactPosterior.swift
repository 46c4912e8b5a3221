import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The exact posterior p(x_0 | y) of a Gaussian-mixture prior under a linear Gaussian observation
/// (docs/math.md §11.2): again a Gaussian mixture, with the prior's forward noise Σ, so the exact
/// oracle of ``model`` is the exact conditional oracle of p_t(x_t | y).
///
/// ```swift
/// let posterior = try ExactPosterior(prior: model, observation: observation)
/// posterior.weights        // p(k | y)
/// posterior.logEvidence    // log p(y)
/// let oracle = try Oracle(posterior.model)   // E[x_0 | x_t, y], ∇ log p_t(x_t | y), …
/// ```
///
/// Each component is conditioned with the Cholesky factor of S_k = A Λ_k Aᵀ + Σ_y and triangular
/// solves (no inverse of Λ_k, which may be singular); its covariance is formed in Joseph's form as
/// a Gram matrix, positive semi-definite by construction. A Dirac prior (a data set) gives the same
/// atoms reweighted by N(y; A μ_k, Σ_y).
public struct ExactPosterior: Sendable {
    /// p(x_0 | y) as a mixture with the prior's noise covariance and point shape.
    public let model: MixtureModel
    /// The observation conditioned on.
    public let observation: LinearObservation
    /// log p(y) = log Σ_k π_k N(y; A μ_k, S_k).
    public let logEvidence: Double
    /// log N(y; A μ_k, S_k), the evidence of each component.
    public let componentLogEvidence: [Double]

    /// p(k | y), the posterior mode weights.
    public var weights: [Double] { model.prior.weights }

    public init(prior: MixtureModel, observation: LinearObservation) throws(ModelError) {
        let mixture = prior.prior
        let k = mixture.componentCount, d = mixture.dimension
        guard observation.dimension == d else {
            throw ModelError("operator", "has \(observation.dimension) columns, the model's dimension is \(d)")
        }
        // Components that share Λ_k share everything but their means: condition each Λ once.
        var groups: [Int] = []
        var conditioned: [ConditionedCovariance] = []
        switch mixture.covariances {
        case .dirac:
            groups = [Int](repeating: 0, count: k)
            conditioned = [ConditionedCovariance(dirac: observation)]
        case .tied(let lambda):
            groups = [Int](repeating: 0, count: k)
            conditioned = [try ConditionedCovariance(lambda, observation: observation, field: "covariances")]
        case .spherical(let variances):
            var index: [Double: Int] = [:]
            for c in 0..<k {
                if let g = index[variances[c]] { groups.append(g); continue }
                index[variances[c]] = conditioned.count
                groups.append(conditioned.count)
                conditioned.append(try ConditionedCovariance(mixture.covariance(of: c), observation: observation,
                                                             field: "covariances[\(c)]"))
            }
        case .full, .diagonal:
            for c in 0..<k {
                groups.append(c)
                conditioned.append(try ConditionedCovariance(mixture.covariance(of: c), observation: observation,
                                                             field: "covariances[\(c)]"))
            }
        }

        var means = Matrix(rows: k, columns: d)
        var evidence = [Double](repeating: 0, count: k)
        for c in 0..<k {
            let (mean, logEvidence) = conditioned[groups[c]].condition(mean: mixture.means.row(c),
                                                                       observation: observation)
            means.setRow(c, to: mean)
            evidence[c] = logEvidence
        }
        let joint = (0..<k).map { mixture.weights[$0] > 0 ? log(mixture.weights[$0]) + evidence[$0] : -Double.infinity }
        let total = logSumExp(joint)
        guard total.isFinite else {
            throw ModelError("y", "has zero likelihood under every component of the prior in Float64 "
                             + "(log p(y) = \(total)): y is implausibly far from A μ_k")
        }
        let weights = joint.map { $0 == -.infinity ? 0 : exp($0 - total) }

        let covariances: ComponentCovariances
        if case .dirac = mixture.covariances {
            covariances = .dirac
        } else if conditioned.count == 1 {
            covariances = .tied(conditioned[0].covariance)
        } else {
            covariances = .full(groups.map { conditioned[$0].covariance })
        }
        let posterior = try GaussianMixture(weights: weights, means: means, covariances: covariances)
        model = try MixtureModel(prior: posterior, noise: prior.noise, shape: prior.shape,
                                 name: prior.name.map { "\($0) | y" })
        self.observation = observation
        logEvidence = total
        componentLogEvidence = evidence
    }
}

/// The parts of conditioning N(μ, Λ) on y = A x + n that do not depend on μ (docs/math.md §11.2):
/// the Cholesky factor L_S of S = A Λ Aᵀ + Σ_y, G = L_S⁻¹ A Λ and the posterior covariance
/// C = (I − K A) Λ (I − K A)ᵀ + K Σ_y Kᵀ with K = Λ Aᵀ S⁻¹ = Gᵀ L_S⁻¹.
struct ConditionedCovariance {
    /// L_S, d_y×d_y lower triangular.
    let factor: Matrix
    let logDeterminantOfFactor: Double
    /// G = L_S⁻¹ A Λ (d_y×D); nil for a Dirac component (Λ = 0).
    let gain: Matrix?
    /// C, D×D.
    let covariance: Matrix

    /// Λ = 0: S = Σ_y, the mean is not moved and C = 0.
    init(dirac observation: LinearObservation) {
        factor = observation.noise.denseFactor
        logDeterminantOfFactor = observation.noise.logDeterminantOfFactor
        gain = nil
        covariance = Matrix(rows: observation.dimension, columns: observation.dimension)
    }

    init(_ lambda: Matrix, observation: LinearObservation, field: String) throws(ModelError) {
        let a = observation.forwardOperator
        let d = a.columns, dy = a.rows
        var aLambda = BLAS.product(a, lambda)                                   // A Λ, d_y×D
        let s = (BLAS.product(aLambda, .none, a, .transpose) + observation.noiseMatrix).symmetrized
        let cholesky: CholeskyFactor
        do { cholesky = try CholeskyFactor(s) } catch {
            throw ModelError(field, "A Λ Aᵀ + Σ_y is not numerically positive definite (\(error)); "
                             + "the observation noise is too small for this operator")
        }
        let l = cholesky.lower
        l.elements.withUnsafeBufferPointer { lp in
            aLambda.elements.withUnsafeMutableBufferPointer { g in
                BLAS.solveLowerTriangular(.left, .none, n: dy, lower: lp.baseAddress!, rows: dy, columns: d,
                                          b: g.baseAddress!, ldb: d)
            }
        }
        let g = aLambda                                                         // L_S⁻¹ A Λ
        var gainTransposed = g                                                  // Kᵀ = L_S⁻ᵀ G
        l.elements.withUnsafeBufferPointer { lp in
            gainTransposed.elements.withUnsafeMutableBufferPointer { kt in
                BLAS.solveLowerTriangular(.left, .transpose, n: dy, lower: lp.baseAddress!, rows: dy, columns: d,
                                          b: kt.baseAddress!, ldb: d)
            }
        }
        // Joseph's form as one Gram matrix: C = Z Zᵀ with Z = [(I − K A) S_Λ | K L_y].
        var f = BLAS.product(gainTransposed, .transpose, a, .none)
        for i in 0..<d { for j in 0..<d { f[i, j] = (i == j ? 1 : 0) - f[i, j] } }
        let root: Matrix
        do { root = try PivotedCholeskyFactor(lambda).squareRoot } catch {
            throw ModelError(field, "its square root failed (\(error))")
        }
        let first = BLAS.product(root, .transpose, f, .transpose)               // (F S_Λ)ᵀ, D×D
        let second = BLAS.product(observation.noise.denseFactor, .transpose, gainTransposed, .none)  // (K L_y)ᵀ, d_y×D
        let stacked = first.elements + second.elements
        var c = Matrix(rows: d, columns: d)
        stacked.withUnsafeBufferPointer { z in
            c.elements.withUnsafeMutableBufferPointer { cp in
                BLAS.gram(z.baseAddress!, k: d + dy, n: d, lda: d, c: cp.baseAddress!, ldc: d)
            }
        }
        factor = l
        logDeterminantOfFactor = cholesky.logDeterminant
        gain = g
        covariance = c
    }

    /// The posterior mean μ + Gᵀ L_S⁻¹(y − A μ) and the component evidence log N(y; A μ, S).
    func condition(mean mu: [Double], observation: LinearObservation) -> (mean: [Double], logEvidence: Double) {
        let dy = observation.observedDimension
        var u = observation.residuals(Matrix(rows: 1, columns: mu.count, elements: mu)).elements
        factor.elements.withUnsafeBufferPointer { lp in
            u.withUnsafeMutableBufferPointer { up in
                BLAS.solveLowerTriangular(.left, .none, n: dy, lower: lp.baseAddress!, rows: dy, columns: 1,
                                          b: up.baseAddress!, ldb: 1)
            }
        }
        let squaredNorm = u.reduce(0) { $0 + $1 * $1 }
        let logEvidence = -0.5 * squaredNorm - logDeterminantOfFactor - 0.5 * Double(dy) * logTwoPi
        guard let g = gain else { return (mu, logEvidence) }
        var mean = mu
        for i in 0..<dy { for j in 0..<mu.count { mean[j] += g[i, j] * u[i] } }
        return (mean, logEvidence)
    }
}
