import ArgumentParser
import Foundation
import Tweedie

/// A sampler of `compare --samplers`: a catalogue name with sampler options written
/// `name:option=value[:option=value]` (e.g. `ddim:eta=1`), built exactly as `tweedie sample`
/// builds it from the same options.
struct SamplerSpecification: Sendable {
    /// The text as listed: the sampler's name in results.
    let text: String
    let sampler: any Sampler

    init(_ text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        var arguments = ["--sampler", name]
        for option in parts.dropFirst() {
            let pair = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty, !pair[0].hasPrefix("-") else {
                throw CommandFailure("'\(text)': sampler options are written name:option=value, e.g. ddim:eta=1")
            }
            arguments += ["--" + pair[0], pair[1]]
        }
        // `tweedie sample` validates the sampler and its options; the other arguments are placeholders.
        let command: SampleCommand
        do {
            command = try SampleCommand.parse(arguments + ["--model", "unused", "--schedule", "unused", "--steps", "1",
                                                           "--count", "1", "--out", "unused.npy"])
        } catch {
            let message = SampleCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw CommandFailure("'\(text)': \(message)")
        }
        guard let entry = SamplerCatalogue.entry(name) else {
            throw CommandFailure("'\(text)': unknown sampler '\(name)'")
        }
        self.text = text
        sampler = entry.make(command)
    }
}
