import TweedieLinearAlgebra

extension MixtureModel {
    /// The model of the coordinates `coordinates` of x (docs/math.md §14.1): means P μ_k, covariances
    /// P Λ_k Pᵀ (Dirac components stay Dirac) and noise P Σ Pᵀ, where P keeps the named coordinates
    /// in the order given. Its p_t is the marginal of this model's p_t on those coordinates, at every t.
    ///
    /// Throws for an empty or repeated list, a coordinate outside 0..<D, or a model with a zero
    /// centre of mass (its coordinates are not the user's).
    public func marginal(onto coordinates: [Int]) throws(ModelError) -> MixtureModel {
        let d = dimension
        guard zeroCentreOfMass == nil else {
            throw ModelError("coordinates", "a model with a zero centre of mass holds reduced coordinates; "
                             + "its marginals on the user's coordinates are not supported")
        }
        guard !coordinates.isEmpty else { throw ModelError("coordinates", "name at least one coordinate") }
        if let bad = coordinates.first(where: { $0 < 0 || $0 >= d }) {
            throw ModelError("coordinates", "coordinate \(bad) is outside 0..<\(d) (the model's dimension is \(d))")
        }
        guard Set(coordinates).count == coordinates.count else {
            throw ModelError("coordinates", "\(coordinates) names a coordinate twice")
        }
        let m = coordinates.count
        func block(_ a: Matrix) -> Matrix {
            var out = Matrix(rows: m, columns: m)
            for (r, i) in coordinates.enumerated() { for (c, j) in coordinates.enumerated() { out[r, c] = a[i, j] } }
            return out
        }
        func columns(_ a: Matrix) -> Matrix {
            var out = Matrix(rows: a.rows, columns: m)
            for r in 0..<a.rows { for (c, j) in coordinates.enumerated() { out[r, c] = a[r, j] } }
            return out
        }
        let covariances: ComponentCovariances
        switch prior.covariances {
        case .full(let matrices): covariances = .full(matrices.map(block))
        case .tied(let a): covariances = .tied(block(a))
        case .diagonal(let v): covariances = .diagonal(columns(v))
        case .spherical(let v): covariances = .spherical(v)
        case .dirac: covariances = .dirac
        }
        let projected = try GaussianMixture(weights: prior.weights, means: columns(prior.means),
                                            covariances: covariances)
        let noiseBlock: NoiseCovariance
        switch noise.structure {
        case .identity: noiseBlock = .identity(dimension: m)
        case .diagonal(let v): noiseBlock = try NoiseCovariance(.diagonal(coordinates.map { v[$0] }), dimension: m)
        case .full, .kronecker: noiseBlock = try NoiseCovariance(.full(block(noise.denseMatrix)), dimension: m)
        }
        let label = (name ?? "model") + "[" + coordinates.map(String.init).joined(separator: ",") + "]"
        return try MixtureModel(prior: projected, noise: noiseBlock, name: label)
    }
}
