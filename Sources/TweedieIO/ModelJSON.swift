import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The JSON form of a ``MixtureModel``; see ``ModelFile`` for the schema.
enum ModelJSON {
    static let fields = ["name", "weights", "means", "covariance_type", "covariances", "noise", "shape",
                         "zero_centre_of_mass", "atom_symbols"]
    static let noiseFields = ["type", "covariance", "block_size"]

    static func decode(_ data: Data) throws(FileError) -> MixtureModel {
        let root = try JSONField(value: JSONValue.parse(data), path: "").members(allowed: fields)
        func required(_ key: String) throws(FileError) -> JSONField {
            guard let field = root[key], !field.isNull else { throw FileError(field: key, "missing") }
            return field
        }
        let name = try root["name"].flatMap { $0.isNull ? nil : $0 }?.string()
        let weights = try required("weights").numbers()
        let means = try required("means").matrix()
        let k = weights.count, d = means.columns
        let typeField = try required("covariance_type")
        let type = try covarianceType(typeField.string(), field: typeField)
        let covariances = try decodeCovariances(root["covariances"], type: type, components: k, dimension: d)
        let noise = try root["noise"].flatMap { $0.isNull ? nil : $0 }.map { (field) throws(FileError) in
            try decodeNoise(field, dimension: d)
        }
        let shape = try root["shape"].flatMap { $0.isNull ? nil : $0 }.map { (field) throws(FileError) in
            try field.elements().map { (item) throws(FileError) in try item.positiveInteger() }
        }
        try checkShape(shape, dimension: d)
        let centred = try root["zero_centre_of_mass"].flatMap { $0.isNull ? nil : $0 }?.bool() ?? false
        let symbols = try root["atom_symbols"].flatMap { $0.isNull ? nil : $0 }.map { (field) throws(FileError) in
            try field.elements().map { (item) throws(FileError) in try item.string() }
        }
        do {
            let prior = try GaussianMixture(weights: weights, means: means, covariances: covariances)
            var model = try MixtureModel(prior: prior, noise: noise, shape: shape, name: name)
            try model.setAtomSymbols(symbols)
            return centred ? try MixtureModel.centred(model) : model
        } catch {
            throw FileError(file: "", error)
        }
    }

    static func covarianceType(_ text: String, field: JSONField) throws(FileError) -> CovarianceType {
        guard let type = CovarianceType(rawValue: text) else {
            throw field.failure("unknown type '\(text)' "
                                + "(expected \(CovarianceType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return type
    }

    private static func decodeCovariances(_ field: JSONField?, type: CovarianceType, components k: Int,
                                          dimension d: Int) throws(FileError) -> ComponentCovariances {
        let present = field.flatMap { $0.isNull ? nil : $0 }
        guard let field = present else {
            if type == .dirac { return .dirac }
            throw FileError(field: "covariances", "missing (needed for covariance_type '\(type.rawValue)')")
        }
        switch type {
        case .full:
            let items = try field.elements()
            guard items.count == k else { throw field.failure("expected \(k) matrices, got \(items.count)") }
            var matrices: [Matrix] = []
            for item in items { matrices.append(try item.matrix(rows: d, columns: d)) }
            return .full(matrices)
        case .tied: return .tied(try field.matrix(rows: d, columns: d))
        case .diag: return .diagonal(try field.matrix(rows: k, columns: d))
        case .spherical: return .spherical(try field.numbers(count: k))
        case .dirac: throw field.failure("must be omitted or null for covariance_type 'dirac'")
        }
    }

    private static func decodeNoise(_ field: JSONField, dimension d: Int) throws(FileError) -> NoiseCovariance {
        let members = try field.members(allowed: noiseFields)
        guard let typeField = members["type"] else { throw FileError(field: "noise.type", "missing") }
        let type = try typeField.string()
        let covariance = members["covariance"].flatMap { $0.isNull ? nil : $0 }
        let path = "noise.covariance"
        func required() throws(FileError) -> JSONField {
            guard let covariance else { throw FileError(field: path, "missing (needed for noise type '\(type)')") }
            return covariance
        }
        if members["block_size"] != nil, type != "kronecker" {
            throw FileError(field: "noise.block_size", "is only used by noise type 'kronecker'")
        }
        let structure: NoiseCovariance.Structure
        switch type {
        case "identity":
            if covariance != nil { throw FileError(field: path, "must be omitted for noise type 'identity'") }
            structure = .identity
        case "diagonal": structure = .diagonal(try required().numbers(count: d))
        case "full": structure = .full(try required().matrix(rows: d, columns: d))
        case "kronecker":
            let factor = try required().matrix()
            let blockSize = try members["block_size"].map { (field) throws(FileError) in try field.positiveInteger() }
            structure = .kronecker(factor, blockSize: try kroneckerBlockSize(blockSize, factor: factor, dimension: d,
                                                                           field: path))
        default:
            throw typeField.failure("unknown noise type '\(type)' (expected identity, diagonal, full, kronecker)")
        }
        do {
            return try NoiseCovariance(structure, dimension: d, field: path)
        } catch {
            throw FileError(file: "", error)
        }
    }

    /// `model` as written: a model with a zero centre of mass in its ambient form (§13.1), flagged.
    static func encode(_ model: MixtureModel) throws(FileError) -> Data {
        let stored = try ModelFile.ambientForm(model)
        var data = encode(ambient: stored)
        if model.zeroCentreOfMass != nil {
            data.removeLast(3)  // "\n}\n"
            data.append(Data(",\n  \"zero_centre_of_mass\": true\n}\n".utf8))
        }
        return data
    }

    private static func encode(ambient model: MixtureModel) -> Data {
        let prior = model.prior
        var lines: [String] = []
        if let name = model.name { lines.append("\"name\": \(quoted(name))") }
        lines.append("\"weights\": \(row(prior.weights))")
        lines.append("\"means\": \(rows(prior.means, indent: 2))")
        lines.append("\"covariance_type\": \(quoted(prior.covarianceType.rawValue))")
        switch prior.covariances {
        case .full(let matrices):
            let nested = matrices.map { rows($0, indent: 4) }.joined(separator: ",\n    ")
            lines.append("\"covariances\": [\n    \(nested)\n  ]")
        case .tied(let m): lines.append("\"covariances\": \(rows(m, indent: 2))")
        case .diagonal(let m): lines.append("\"covariances\": \(rows(m, indent: 2))")
        case .spherical(let v): lines.append("\"covariances\": \(row(v))")
        case .dirac: break
        }
        var noise = ["\"type\": \(quoted(model.noise.structure.name))"]
        switch model.noise.structure {
        case .identity: break
        case .diagonal(let v): noise.append("\"covariance\": \(row(v))")
        case .full(let m): noise.append("\"covariance\": \(rows(m, indent: 4))")
        case .kronecker(let a, let blockSize):
            noise.append("\"covariance\": \(rows(a, indent: 4))")
            noise.append("\"block_size\": \(blockSize)")
        }
        if !model.noise.isIdentity { lines.append("\"noise\": {\n    " + noise.joined(separator: ",\n    ") + "\n  }") }
        if let shape = model.shape { lines.append("\"shape\": [\(shape.map(String.init).joined(separator: ", "))]") }
        if let symbols = model.atomSymbols {
            lines.append("\"atom_symbols\": [\(symbols.map(quoted).joined(separator: ", "))]")
        }
        return Data(("{\n  " + lines.joined(separator: ",\n  ") + "\n}\n").utf8)
    }

    /// Numbers as JSON: Swift's shortest representation that reads back to the same `Double`.
    private static func row(_ values: [Double]) -> String {
        "[" + values.map(\.description).joined(separator: ", ") + "]"
    }

    /// A matrix as an array of rows, one per line, for a value indented by `indent` spaces.
    private static func rows(_ m: Matrix, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return "[\n" + (0..<m.rows).map { "\(pad)  \(row(m.row($0)))" }.joined(separator: ",\n") + "\n\(pad)]"
    }

    private static func quoted(_ text: String) -> String { jsonStringLiteral(text) }
}

/// The block size d of Σ = A ⊗ I_d: the given one, or D / N when omitted.
func kroneckerBlockSize(_ given: Int?, factor: Matrix, dimension d: Int, field: String) throws(FileError) -> Int {
    if let given { return given }
    guard factor.rows > 0, d % factor.rows == 0 else {
        throw FileError(field: field,
                        "a \(factor.rows)×\(factor.columns) Kronecker factor does not divide the dimension \(d)")
    }
    return d / factor.rows
}

/// `text` as a JSON string literal: quotes, backslashes and control characters escaped, and U+007F,
/// U+2028 and U+2029 too (so that the literal is also safe inside JavaScript).
public func jsonStringLiteral(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
            out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
