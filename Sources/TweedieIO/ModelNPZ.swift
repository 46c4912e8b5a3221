import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The `.npz` form of a ``MixtureModel``; see ``ModelFile`` for the keys.
enum ModelNPZ {
    /// The arrays a model archive may hold (others are ignored, and not even inflated).
    static let keys: Set<String> = ["weights", "means", "covariances", "covariance_type", "noise_covariance",
                                    "noise_type", "block_size", "shape", "name", "means_scale", "means_offset",
                                    "zero_centre_of_mass", "atom_symbols"]
    static let requiredKeys = ["weights", "means"]
    /// Read first: the arrays whose size does not grow with the model (and `means`, which sets K and D).
    static let shapeKeys: Set<String> = ["means", "covariance_type", "noise_type", "block_size", "shape", "name",
                                         "means_scale", "means_offset", "zero_centre_of_mass",
                                         "atom_symbols"]

    /// Reads a model archive in two passes, so that no entry is inflated beyond what the model it
    /// describes can use: `means` (K×D) and the small arrays first, then `weights`, `covariances`
    /// and `noise_covariance`, each bounded by its size for that K and D (a "zip bomb" of a weights
    /// entry is refused from the archive's directory, before inflating).
    static func read(_ url: URL) throws(FileError) -> MixtureModel {
        let first = try NPZArchive.read(url, keys: shapeKeys, required: requiredKeys)
        var limits: [String: NPZArchive.EntryLimit] = [:]
        if case .numbers(let means)? = first["means"], means.dimensionCount == 2 {
            let k = means.shape[0], d = means.shape[1]
            let model = "a model with K = \(k) components of dimension D = \(d) can use"
            func bytes(_ factors: Int...) -> Int {
                var total = 8
                for f in factors {
                    let (product, overflow) = total.multipliedReportingOverflow(by: f)
                    guard !overflow else { return Int.max }
                    total = product
                }
                return total > Int.max - 65_536 ? Int.max : total + 65_536  // room for the .npy header
            }
            limits["weights"] = .init(bytes: bytes(k), reason: model)
            limits["covariances"] = .init(bytes: bytes(k, d, d), reason: model)
            limits["noise_covariance"] = .init(bytes: bytes(d, d), reason: model)
        }
        let second = try NPZArchive.read(url, keys: keys.subtracting(shapeKeys), limits: limits)
        do {
            return try decode(first.appending(second))
        } catch {
            throw error.inFile(url.displayName)
        }
    }

    static func decode(_ archive: NPZArchive) throws(FileError) -> MixtureModel {
        let reader = Reader(archive: archive)
        let weights = try reader.numbers("weights", dimensions: 1, expected: "(K,)")
        let means = try reader.numbers("means", dimensions: 2, expected: "(K, D)")
        let k = weights.count, d = means.shape[1]
        let type = try reader.covarianceType()
        let covariances = try decodeCovariances(reader, type: type, components: k, dimension: d)
        let noise = try decodeNoise(reader, dimension: d)
        let shape = try reader.optionalNumbers("shape", dimensions: 1,
                                               expected: "(n,)").map { (array) throws(FileError) in
            try array.values.map { (x) throws(FileError) in try integer(x, field: "shape") }
        }
        let name = try reader.optionalString("name")
        var meanMatrix = try means.matrix()
        // Means stored as 8-bit values v (data sets of images): μ = offset + scale · v.
        let scale = try reader.optionalNumbers("means_scale", dimensions: 0, expected: "()")?.values[0]
        let offset = try reader.optionalNumbers("means_offset", dimensions: 0, expected: "()")?.values[0]
        if scale != nil || offset != nil {
            guard let scale, let offset else {
                throw FileError(field: scale == nil ? "means_scale" : "means_offset",
                                "missing (means_scale and means_offset come together)")
            }
            guard scale.isFinite, scale > 0, offset.isFinite else {
                throw FileError(field: "means_scale",
                                "scale \(scale) and offset \(offset) must be finite, the scale positive")
            }
            meanMatrix.elements = meanMatrix.elements.map { DataSetScaling(scale: scale, offset: offset).apply($0) }
        }
        try checkShape(shape, dimension: d)
        let centred = try reader.optionalNumbers("zero_centre_of_mass").map { (array) throws(FileError) in
            guard array.count == 1, array.values[0] == 0 || array.values[0] == 1 else {
                throw FileError(field: "zero_centre_of_mass", "expected one boolean, got shape \(array.shapeText)")
            }
            return array.values[0] == 1
        } ?? false
        let symbols = try reader.optionalString("atom_symbols").map { $0.split(separator: " ").map(String.init) }
        do {
            let prior = try GaussianMixture(weights: weights.values, means: meanMatrix, covariances: covariances)
            var model = try MixtureModel(prior: prior, noise: noise, shape: shape, name: name)
            try model.setAtomSymbols(symbols)
            return centred ? try MixtureModel.centred(model) : model
        } catch {
            throw FileError(file: "", error)
        }
    }

    private static func decodeCovariances(_ reader: Reader, type: CovarianceType, components k: Int,
                                          dimension d: Int) throws(FileError) -> ComponentCovariances {
        guard let array = try reader.optionalNumbers("covariances") else {
            if type == .dirac { return .dirac }
            throw FileError(field: "covariances", "missing (needed for covariance_type '\(type.rawValue)')")
        }
        let expected: [Int] = switch type {
        case .full: [k, d, d]
        case .tied, .diag: type == .tied ? [d, d] : [k, d]
        case .spherical: [k]
        case .dirac: throw FileError(field: "covariances", "must be absent for covariance_type 'dirac'")
        }
        guard array.shape == expected else {
            throw FileError(field: "covariances",
                            "covariance_type '\(type.rawValue)' needs shape \(pythonTuple(expected)), "
                            + "got \(array.shapeText)")
        }
        switch type {
        case .full:
            return .full((0..<k).map {
                Matrix(rows: d, columns: d, elements: Array(array.values[($0 * d * d)..<(($0 + 1) * d * d)]))
            })
        case .tied: return .tied(Matrix(rows: d, columns: d, elements: array.values))
        case .diag: return .diagonal(Matrix(rows: k, columns: d, elements: array.values))
        default: return .spherical(array.values)
        }
    }

    private static func decodeNoise(_ reader: Reader, dimension d: Int) throws(FileError) -> NoiseCovariance? {
        let field = "noise_covariance"
        let covariance = try reader.optionalNumbers(field)
        var type = try reader.optionalString("noise_type")
        if type == nil, let covariance {
            // Infer the structure from the shape: (D,) diagonal, (D, D) full, (N, N) Kronecker.
            type = covariance.dimensionCount == 1 ? "diagonal" : covariance.shape == [d, d] ? "full" : "kronecker"
        }
        let blockSize = try reader.optionalNumbers("block_size").map { (array) throws(FileError) in
            guard array.count == 1 else {
                throw FileError(field: "block_size", "expected one number, got shape \(array.shapeText)")
            }
            return try integer(array.values[0], field: "block_size")
        }
        if blockSize != nil, type != "kronecker" {
            throw FileError(field: "block_size", "is only used by noise_type 'kronecker'")
        }
        guard let type, type != "identity" else {
            if covariance != nil { throw FileError(field: field, "must be absent for noise_type 'identity'") }
            return nil
        }
        guard let covariance else { throw FileError(field: field, "missing (needed for noise_type '\(type)')") }
        func expect(_ shape: [Int]) throws(FileError) {
            guard covariance.shape == shape else {
                throw FileError(field: field,
                                "noise_type '\(type)' needs shape \(pythonTuple(shape)), got \(covariance.shapeText)")
            }
        }
        let structure: NoiseCovariance.Structure
        switch type {
        case "diagonal":
            try expect([d])
            structure = .diagonal(covariance.values)
        case "full":
            try expect([d, d])
            structure = .full(Matrix(rows: d, columns: d, elements: covariance.values))
        case "kronecker":
            let n = covariance.shape.first ?? 0
            try expect([n, n])
            let factor = Matrix(rows: n, columns: n, elements: covariance.values)
            structure = .kronecker(factor, blockSize: try kroneckerBlockSize(blockSize, factor: factor, dimension: d,
                                                                           field: field))
        default:
            throw FileError(field: "noise_type",
                            "unknown noise type '\(type)' (expected identity, diagonal, full, kronecker)")
        }
        do {
            return try NoiseCovariance(structure, dimension: d, field: field)
        } catch {
            throw FileError(file: "", error)
        }
    }

    private static func integer(_ x: Double, field: String) throws(FileError) -> Int {
        guard x >= 1, x <= Double(Int32.max), x.rounded() == x else {
            throw FileError(field: field, "expected positive integers, got \(x)")
        }
        return Int(x)
    }

    /// `model` as stored: a model with a zero centre of mass in its ambient form (§13.1), flagged.
    static func encode(_ model: MixtureModel) throws(FileError) -> NPZArchive {
        var archive = encode(ambient: try ModelFile.ambientForm(model))
        if model.zeroCentreOfMass != nil {
            archive = (try? NPZArchive(archive.entries + [.init(name: "zero_centre_of_mass",
                                                                value: .numbers(NDArray(scalar: 1)))])) ?? archive
        }
        return archive
    }

    private static func encode(ambient model: MixtureModel) -> NPZArchive {
        let prior = model.prior
        var entries: [NPZArchive.Entry] = []
        func add(_ name: String, _ value: NPYValue) { entries.append(.init(name: name, value: value)) }
        add("weights", .numbers(NDArray(prior.weights)))
        add("means", .numbers(NDArray(matrix: prior.means)))
        switch prior.covariances {
        case .full(let m):
            add("covariances", .numbers(NDArray(stacking: m, rows: prior.dimension, columns: prior.dimension)))
        case .tied(let m), .diagonal(let m): add("covariances", .numbers(NDArray(matrix: m)))
        case .spherical(let v): add("covariances", .numbers(NDArray(v)))
        case .dirac: break
        }
        add("covariance_type", .string(prior.covarianceType.rawValue))
        switch model.noise.structure {
        case .identity: break
        case .diagonal(let v): add("noise_covariance", .numbers(NDArray(v)))
        case .full(let m): add("noise_covariance", .numbers(NDArray(matrix: m)))
        case .kronecker(let a, let blockSize):
            add("noise_covariance", .numbers(NDArray(matrix: a)))
            add("block_size", .numbers(NDArray(scalar: Double(blockSize))))
        }
        if !model.noise.isIdentity { add("noise_type", .string(model.noise.structure.name)) }
        if let shape = model.shape { add("shape", .numbers(NDArray(shape.map(Double.init)))) }
        if let name = model.name { add("name", .string(name)) }
        if let symbols = model.atomSymbols { add("atom_symbols", .string(symbols.joined(separator: " "))) }
        // The names above are distinct and valid, so this cannot fail.
        return (try? NPZArchive(entries)) ?? NPZArchive()
    }
}

/// Typed access to the arrays of a model archive, with errors naming the key.
private struct Reader {
    let archive: NPZArchive

    func optionalNumbers(_ key: String, dimensions: Int? = nil, expected: String = "") throws(FileError) -> NDArray? {
        guard let value = archive[key] else { return nil }
        guard let array = value.numbers else { throw FileError(field: key, "expected numbers, got a string array") }
        if let dimensions, array.dimensionCount != dimensions {
            throw FileError(field: key, "expected shape \(expected), got \(array.shapeText)")
        }
        return array
    }

    func numbers(_ key: String, dimensions: Int, expected: String) throws(FileError) -> NDArray {
        guard let array = try optionalNumbers(key, dimensions: dimensions, expected: expected) else {
            throw FileError(field: key, "missing")
        }
        return array
    }

    func optionalString(_ key: String) throws(FileError) -> String? {
        guard let value = archive[key] else { return nil }
        guard let string = value.singleString, value.shape.count <= 1 else {
            throw FileError(field: key, "expected a string array of shape () or (1,), "
                            + "got \(value.numbers == nil ? "strings" : "numbers") "
                            + "of shape \(pythonTuple(value.shape))")
        }
        return string
    }

    func covarianceType() throws(FileError) -> CovarianceType {
        let names = CovarianceType.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = try optionalString("covariance_type") else {
            throw FileError(field: "covariance_type", "missing (expected one of \(names))")
        }
        guard let type = CovarianceType(rawValue: text) else {
            throw FileError(field: "covariance_type", "unknown type '\(text)' (expected \(names))")
        }
        return type
    }
}
