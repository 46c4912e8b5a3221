import ArgumentParser
import Foundation
import Tweedie

/// `chain`, `chain:strength=κ` or an N×N `.npy` matrix.
func harmonicProcess(_ text: String, atoms: Int, axes: Int) throws -> HarmonicProcess {
    do {
        if text == "chain" { return try .chain(atoms: atoms, axes: axes) }
        if text.hasPrefix("chain:strength=") {
            guard let kappa = Double(text.dropFirst("chain:strength=".count)) else {
                throw CommandFailure("--harmonic: '\(text)': the strength must be a number")
            }
            return try .chain(atoms: atoms, strength: kappa, axes: axes)
        }
        guard text.hasSuffix(".npy") else {
            throw CommandFailure("--harmonic: expected chain, chain:strength=κ or an N×N .npy matrix, "
                                 + "got '\(text)'")
        }
        let h = try ArrayFile.readMatrix(URL(fileURLWithPath: text))
        guard h.rows == atoms, h.columns == atoms else {
            throw CommandFailure("--harmonic: \(text) is \(h.rows)×\(h.columns); the model has \(atoms) atoms")
        }
        return try HarmonicProcess(atomMatrix: h, axes: axes)
    } catch let error as ArgumentError {
        throw CommandFailure("--harmonic: \(error.reason)")
    }
}

/// The oracle of `m` under the harmonic process `specification` (docs/math.md §13.4): the model's
/// points must be N atoms × d and its noise the identity (the process sets the noise).
func harmonicOracle(_ specification: String, model m: MixtureModel) throws -> HarmonicOracle {
    guard let shape = m.shape, shape.count == 2 else {
        throw CommandFailure("--harmonic needs a model whose points are N atoms × d; "
                             + "\(m.name ?? "the model") has no such shape")
    }
    guard m.noise.isIdentity else {
        throw CommandFailure("--harmonic: \(m.name ?? "the model") has its own noise covariance "
                             + "(\(m.noise.structure.name)); the harmonic process sets the noise, so give a "
                             + "model without one")
    }
    let process = try harmonicProcess(specification, atoms: shape[0], axes: shape[1])
    do {
        return try HarmonicOracle(prior: m.zeroCentreOfMass == nil ? m.prior : m.ambientPrior(), process: process)
    } catch let error as ArgumentError {
        throw CommandFailure("--model: \(error.reason)")
    }
}
