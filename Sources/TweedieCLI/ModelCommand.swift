import ArgumentParser
import Foundation
import Tweedie

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "List, show and convert models (built-in names or .json/.npz files).",
        subcommands: [List.self, Show.self, Convert.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the built-in models.")
        func run() {
            let rows = BuiltinModels.all.map { entry -> [String] in
                let m = entry.make()
                return [entry.name, "\(m.dimension)", "\(m.componentCount)", m.prior.covarianceType.rawValue,
                        m.noise.structure.name, entry.summary]
            }
            printTable(["name", "D", "K", "covariance", "noise", "description"], rows)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a model: components, weights, covariances, noise.")
        @Argument(help: "A built-in model name or a .json/.npz model file.") var model: String
        func run() throws {
            let m = try loadModel(model)
            print(describe(m))
        }
    }

    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a model (built-in or file) to a .json or .npz file.")
        @Argument(help: "A built-in model name or a .json/.npz model file.") var model: String
        @Option(help: "Output file; the extension (.json or .npz) picks the format.") var out: String
        func run() throws {
            try OutputPaths.requireSafe(outputs: [("--out", out)], inputs: [("model", model)])
            let m = try loadModel(model, forDisplay: false)
            try ModelFile.write(m, to: URL(fileURLWithPath: out))
            print("wrote \(out)")
        }
    }
}

func describe(_ m: MixtureModel) -> String {
    let prior = m.prior
    var lines: [String] = []
    lines.append("model \(m.name ?? "(unnamed)")")
    if let s = m.zeroCentreOfMass {
        lines.append("  points \(s.atoms) atoms × \(s.axes) with zero centre of mass: "
                     + "D′ = \(s.dimension) degrees of freedom (held in Helmert coordinates; docs/math.md §13.1)")
    } else {
        lines.append("  dimension D = \(m.dimension)"
                     + (m.shape.map { "  (shape \($0.map(String.init).joined(separator: "×")))" } ?? ""))
    }
    lines.append("  components K = \(m.componentCount), covariance type \(prior.covarianceType.rawValue)")
    lines.append("  noise covariance Σ: \(m.noise.structure.name)" + noiseDetail(m.noise))
    let entropyHint = -prior.weights.filter { $0 > 0 }.reduce(0) { $0 + $1 * log($1) }
    lines.append("  weight entropy \(format(entropyHint)) nats; mean of p_0 "
                 + "\(format(m.embed(Matrix(rows: 1, columns: m.dimension, elements: prior.mean)).elements))")
    lines.append("")
    let shown = min(prior.componentCount, 12)
    let means = m.embed(prior.means)  // as the user gives points (on the subspace with a zero centre of mass)
    var rows: [[String]] = []
    for k in 0..<shown {
        var row = ["\(k)", format(prior.weights[k]), format(means.row(k), 4, limit: 3)]
        if prior.covarianceType == .dirac {
            row.append("point mass")
        } else {
            let values = (try? SymmetricEigendecomposition(prior.covariance(of: k)).values) ?? []
            let lo = values.first ?? 0, hi = values.last ?? 0
            row.append("eigenvalues \(format(lo, 3)) … \(format(hi, 3))"
                       + (lo > 0 ? ", cond \(format(hi / lo, 3))" : ""))
        }
        rows.append(row)
    }
    lines.append(tableText(["k", "weight", "mean", "covariance Λ_k"], rows))
    if prior.componentCount > shown { lines.append("  … \(prior.componentCount - shown) more components") }
    return lines.joined(separator: "\n")
}

private func noiseDetail(_ noise: NoiseCovariance) -> String {
    switch noise.structure {
    case .identity: return ""
    case .diagonal(let v): return ", variances \(format(v, 3, limit: 4))"
    case .full: return ", ½ log det Σ = \(format(noise.logDeterminantOfFactor))"
    case .kronecker(let a, let d):
        return " A ⊗ I_\(d), A \(a.rows)×\(a.rows), ½ log det Σ = \(format(noise.logDeterminantOfFactor))"
    }
}

func tableText(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
    func line(_ r: [String]) -> String {
        "  " + r.enumerated().map { c, s in s.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

func printTable(_ header: [String], _ rows: [[String]]) { print(tableText(header, rows)) }
