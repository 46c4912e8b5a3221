import TweedieLinearAlgebra

/// Everything the exact oracle needs: the data distribution p_0 (a Gaussian mixture), the
/// covariance Σ of the forward noise, and optionally the shape of one point (e.g. [N, 3]).
///
/// A model with a zero centre of mass (docs/math.md §13.1) holds its prior and noise in the
/// reduced coordinates y = 𝐇 x of ``ZeroCentreOfMass``: `prior`, `noise` and ``dimension`` are
/// (N − 1)·d-dimensional, and every computation of the library runs there; ``shape`` and
/// ``pointDimension`` describe the points the user sees, which ``reduce(_:)`` and ``embed(_:)`` map.
public struct MixtureModel: Sendable, Equatable {
    public var name: String?
    public let prior: GaussianMixture
    public let noise: NoiseCovariance
    /// The shape of one point, row-major; its product is ``pointDimension``.
    public let shape: [Int]?
    /// Present when the model lives on the zero-centre-of-mass subspace (its prior and noise then
    /// in reduced coordinates).
    public let zeroCentreOfMass: ZeroCentreOfMass?
    /// The element symbol of each atom of points shaped [N, d] (metadata for molecular files).
    /// Set with ``setAtomSymbols(_:)``.
    public private(set) var atomSymbols: [String]?

    /// A model from its prior and noise in the coordinates the oracle computes in (reduced ones when
    /// `zeroCentreOfMass` is given; use ``centred(_:)`` to reduce a model on R^{N×d}).
    public init(prior: GaussianMixture, noise: NoiseCovariance? = nil, shape: [Int]? = nil,
                name: String? = nil, zeroCentreOfMass: ZeroCentreOfMass? = nil) throws(ModelError) {
        let d = prior.dimension
        let noise = noise ?? .identity(dimension: d)
        guard noise.dimension == d else {
            throw ModelError("noise_covariance", "has dimension \(noise.dimension), the mixture has \(d)")
        }
        if let subspace = zeroCentreOfMass {
            guard subspace.dimension == d else {
                throw ModelError("means", "a zero centre of mass of \(subspace.atoms) atoms × \(subspace.axes) "
                                 + "has \(subspace.dimension) degrees of freedom, the mixture has \(d)")
            }
            guard shape == nil || shape! == [subspace.atoms, subspace.axes] else {
                throw ModelError("shape", "\(shape!) is not [\(subspace.atoms), \(subspace.axes)], "
                                 + "the atoms of the zero centre of mass")
            }
        } else if let shape {
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
        self.zeroCentreOfMass = zeroCentreOfMass
        self.shape = zeroCentreOfMass.map { [$0.atoms, $0.axes] } ?? shape
    }

    /// `symbols` as the model's ``atomSymbols``: one per atom of a point shaped [N, d].
    public mutating func setAtomSymbols(_ symbols: [String]?) throws(ModelError) {
        guard let symbols else { atomSymbols = nil; return }
        guard let shape, shape.count == 2, symbols.count == shape[0] else {
            throw ModelError("atom_symbols", "\(symbols.count) symbols for points of shape "
                             + (shape.map { "\($0)" } ?? "[\(dimension)]") + " (one per atom of [N, d])")
        }
        if let bad = symbols.first(where: { $0.isEmpty || $0.count > 3 || !$0.allSatisfy({ $0.isLetter }) }) {
            throw ModelError("atom_symbols", "'\(bad)' is not an element symbol (1 to 3 letters)")
        }
        atomSymbols = symbols
    }

    /// The dimension the oracle computes in: D, or D′ = (N − 1)·d with a zero centre of mass.
    public var dimension: Int { prior.dimension }
    /// The length of a point as the user gives and receives it: D, or N·d with a zero centre of mass.
    public var pointDimension: Int { zeroCentreOfMass?.ambientDimension ?? prior.dimension }
    public var componentCount: Int { prior.componentCount }

    /// Points as given (B × ``pointDimension``) in the oracle's coordinates (B × ``dimension``):
    /// unchanged, or reduced (a point off the subspace is taken at its projection).
    public func reduce(_ points: Matrix) -> Matrix {
        guard let subspace = zeroCentreOfMass else { return points }
        return subspace.reduce(points)
    }

    /// Points or vectors in the oracle's coordinates back as the user sees them (on the subspace).
    public func embed(_ points: Matrix) -> Matrix {
        guard let subspace = zeroCentreOfMass else { return points }
        return subspace.embed(points)
    }

    /// The zero-centre-of-mass model of `model`, a model on R^{N×d} (its shape must be [N, d]): the
    /// law of the centred point P x_0 with centred noise P ε, held in reduced coordinates
    /// (docs/math.md §13.1).
    public static func centred(_ model: MixtureModel) throws(ModelError) -> MixtureModel {
        guard model.zeroCentreOfMass == nil else { return model }
        guard let shape = model.shape, shape.count == 2 else {
            throw ModelError("shape", "a zero centre of mass needs points shaped [N, d] (atoms × axes), got "
                             + (model.shape.map { "\($0)" } ?? "none"))
        }
        let subspace = try ZeroCentreOfMass(atoms: shape[0], axes: shape[1])
        let p = model.prior
        let covariances: ComponentCovariances
        switch p.covariances {
        case .full(let matrices): covariances = .full(matrices.map(subspace.reduceSymmetric))
        case .tied(let m): covariances = .tied(subspace.reduceSymmetric(m))
        case .diagonal(let v):
            covariances = .full((0..<v.rows).map { subspace.reduceSymmetric(.diagonal(v.row($0))) })
        case .spherical(let v): covariances = .spherical(v)
        case .dirac: covariances = .dirac
        }
        let prior = try GaussianMixture(weights: p.weights, means: subspace.reduce(p.means), covariances: covariances)
        let structure: NoiseCovariance.Structure
        switch model.noise.structure {
        case .identity: structure = .identity
        case .diagonal(let v): structure = .full(subspace.reduceSymmetric(.diagonal(v)))
        case .full(let m): structure = .full(subspace.reduceSymmetric(m))
        case .kronecker(let a, let block): structure = .kronecker(subspace.reduceAtomMatrix(a), blockSize: block)
        }
        let noise = try NoiseCovariance(structure, dimension: subspace.dimension, field: "noise_covariance")
        var centred = try MixtureModel(prior: prior, noise: noise, shape: shape, name: model.name,
                                       zeroCentreOfMass: subspace)
        try centred.setAtomSymbols(model.atomSymbols)
        return centred
    }

    /// The prior on R^{N×d}, embedded from the subspace (singular covariances, means centred): what a
    /// model file holds. The model itself where there is no zero centre of mass.
    public func ambientPrior() throws(ModelError) -> GaussianMixture {
        guard let subspace = zeroCentreOfMass else { return prior }
        let covariances: ComponentCovariances
        switch prior.covariances {
        case .full(let matrices): covariances = .full(matrices.map(subspace.embedSymmetric))
        case .tied(let m): covariances = .tied(subspace.embedSymmetric(m))
        case .diagonal(let v):
            covariances = .full((0..<v.rows).map { subspace.embedSymmetric(.diagonal(v.row($0))) })
        case .spherical(let v): covariances = .spherical(v)
        case .dirac: covariances = .dirac
        }
        return try GaussianMixture(weights: prior.weights, means: subspace.embed(prior.means),
                                    covariances: covariances)
    }

    /// The noise covariance on R^{N×d} whose centred reduction is `noise` (invertible, its part along
    /// the centre of mass arbitrary: 1 1ᵀ/N).
    public func ambientNoise() throws(ModelError) -> NoiseCovariance {
        guard let subspace = zeroCentreOfMass else { return noise }
        let structure: NoiseCovariance.Structure
        switch noise.structure {
        case .identity: structure = .identity
        case .diagonal(let v): structure = .full(subspace.embedInvertible(.diagonal(v)))
        case .full(let m): structure = .full(subspace.embedInvertible(m))
        case .kronecker(let a, let block): structure = .kronecker(subspace.embedAtomMatrix(a), blockSize: block)
        }
        return try NoiseCovariance(structure, dimension: subspace.ambientDimension, field: "noise_covariance")
    }
}
