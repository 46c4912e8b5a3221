import TweedieLinearAlgebra

/// Everything the exact oracle needs: the data distribution p_0 (a Gaussian mixture), the
/// covariance Σ of the forward noise, and optionally the shape of one point (e.g. [N, 3]).
public struct MixtureModel: Sendable, Equatable {
    public var name: String?
    public let prior: GaussianMixture
    public let noise: NoiseCovariance
    /// The shape of one point, row-major; its product is the dimension D.
    public let shape: [Int]?

    public init(prior: GaussianMixture, noise: NoiseCovariance? = nil, shape: [Int]? = nil,
                name: String? = nil) throws(ModelError) {
        let d = prior.dimension
        let noise = noise ?? .identity(dimension: d)
        guard noise.dimension == d else {
            throw ModelError("noise_covariance", "has dimension \(noise.dimension), the mixture has \(d)")
        }
        if let shape {
            guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), ShapeArithmetic.elementCount(shape) == d else {
                throw ModelError("shape", "\(shape) does not multiply to the dimension \(d)")
            }
        }
        if case .kronecker(_, let block) = noise.structure, let shape, shape.count == 2, shape[1] != block {
            throw ModelError("shape", "\(shape) disagrees with the Kronecker block size \(block)")
        }
        self.name = name
        self.prior = prior
        self.noise = noise
        self.shape = shape
    }

    public var dimension: Int { prior.dimension }
    public var componentCount: Int { prior.componentCount }
}
