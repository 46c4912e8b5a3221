import ArgumentParser
import Foundation
import Tweedie

@main
struct TweedieCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tweedie",
        abstract: "Diffusion models with an exact oracle: Gaussian-mixture data, linear-Gaussian noise.",
        subcommands: [ModelCommand.self, OracleCommand.self, NoiseCommand.self, SampleCommand.self,
                      PosteriorCommand.self, StudyCommand.self, EvaluateCommand.self, CompareCommand.self,
                      LikelihoodCommand.self, DataSetCommand.self, ScheduleCommand.self, ConformanceCommand.self,
                      ExploreCommand.self])

    /// Runs a command; any failure is one line on stderr and a non-zero exit (help and
    /// version requests print as usual).
    static func main() {
        AtomicFile.removeTemporariesOnSignals()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }
            FileHandle.standardError.write(Data("tweedie: error: \(oneLine(self.message(for: error)))\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

/// An error message on one line. ArgumentParser lists the values of an option on lines of their
/// own ("Please provide one of the following:" then "- euler", …): they are joined with commas.
func oneLine(_ message: String) -> String {
    let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    guard let first = lines.first else { return message }
    let rest = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
    guard !rest.isEmpty else { return first }
    return first.hasSuffix(":") ? first + " " + rest.joined(separator: ", ") : ([first] + rest).joined(separator: " ")
}

/// A failure reported as one line on stderr with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--model`: a built-in name or a .json/.npz file. With `forDisplay`, the model's name has its
/// control characters escaped (`\u{1B}`), so that printing it cannot drive the terminal.
func loadModel(_ specification: String, forDisplay: Bool = true) throws -> MixtureModel {
    if let model = BuiltinModels.named(specification) { return model }
    let url = URL(fileURLWithPath: specification)
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw CommandFailure("model '\(specification)': "
                             + "not a built-in model (\(BuiltinModels.names.joined(separator: ", "))) and no such file")
    }
    var model = try ModelFile.read(url)
    if model.name == nil { model.name = url.deletingPathExtension().lastPathComponent }
    if forDisplay { model.name = model.name.map(printable) }
    return model
}

/// Points read from `file` (B × the model's point dimension) in the model's own coordinates: reduced
/// for a model with a zero centre of mass (docs/math.md §13.1), else as read.
func modelPoints(_ m: MixtureModel, _ x: Matrix, file: String) throws -> Matrix {
    guard let subspace = m.zeroCentreOfMass else { return x }
    guard x.columns == subspace.ambientDimension else {
        throw CommandFailure("\(file): points of \(x.columns) coordinates; the model's are \(subspace.atoms) atoms "
                             + "× \(subspace.axes) = \(subspace.ambientDimension)")
    }
    return m.reduce(x)
}

/// "D = 12" or, with a zero centre of mass, "N × d = 4 × 3, D′ = 9 degrees of freedom".
func dimensionText(_ m: MixtureModel) -> String {
    guard let s = m.zeroCentreOfMass else { return "D = \(m.dimension)" }
    return "\(s.atoms) atoms × \(s.axes), zero centre of mass: D′ = \(s.dimension) degrees of freedom"
}

/// `text` with control characters escaped as `\u{…}`.
func printable(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        if scalar.properties.generalCategory == .control {
            result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        } else {
            result.unicodeScalars.append(scalar)
        }
    }
    return result
}

