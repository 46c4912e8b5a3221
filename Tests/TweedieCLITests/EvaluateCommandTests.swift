import Foundation
import Testing
import Tweedie

@Suite struct EvaluateCommandTests {
    /// `tweedie evaluate` on the samples `tweedie sample` wrote prints the same report (same seed),
    /// and its JSON holds every measurement of the library with its floor.
    @Test func evaluatingASampleFileReproducesTheSampleReport() throws {
        let dir = try CLI.scratch()
        let samples = dir.appendingPathComponent("s.npy"), json = dir.appendingPathComponent("r.json")
        let sampled = try CLI.run(["sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "heun", "--steps", "6",
                                   "--count", "300", "--seed", "4", "--out", samples.path])
        #expect(sampled.status == 0, "\(sampled.stderr)")
        let evaluated = try CLI.run(["evaluate", "--model", "ring8", "--samples", samples.path, "--seed", "4", "--out", json.path])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        // `sample` adds the KL of a deterministic linear sampler, which needs the sampler: left out here.
        let table = { (text: String) in
            text.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("  KL(q_N") }.joined(separator: "\n")
        }
        #expect(!table(evaluated.stdout).isEmpty && table(evaluated.stdout) == table(sampled.stdout))
        let objects = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [[String: Any]])
        let names = objects.compactMap { $0["name"] as? String }
        let expected = try SampleEvaluation.measure(ArrayFile.readMatrix(samples), model: BuiltinModels.ring8(), seed: 4)
        #expect(names == expected.map(\.name))
        // Foundation's JSON reader on Linux may round a decimal off by an ulp: read the values'
        // text with Double(_:), which rounds correctly, to check they round-trip exactly.
        let text = try String(contentsOf: json, encoding: .utf8)
        let values = text.split(separator: "\n").compactMap { line -> Double? in
            guard let range = line.range(of: "\"value\" : ") else { return nil }
            return Double(line[range.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: " ,")))
        }
        #expect(values == expected.map(\.value))
        #expect(objects.count == expected.count)
    }

    @Test(arguments: [
        (["--samples", "three-columns"], "coordinates"),
        (["--samples", "missing"], "cannot read"),
        (["--out", "r.txt"], "--out must name a .json file"),
        (["--projections", "0"], "--projections"),
    ])
    func badInputIsOneLineAndNoOutput(change: [String], expected: String) throws {
        let dir = try CLI.scratch()
        let good = dir.appendingPathComponent("s.npy"), wide = dir.appendingPathComponent("wide.npy")
        try ArrayFile.write(Matrix(rows: 5, columns: 2, repeating: 0.5), to: good)
        try ArrayFile.write(Matrix(rows: 5, columns: 3, repeating: 0.5), to: wide)
        let resolved = change.map { argument -> String in
            switch argument {
            case "three-columns": wide.path
            case "missing": dir.appendingPathComponent("missing.npy").path
            case "r.txt": dir.appendingPathComponent("r.txt").path
            default: argument
            }
        }
        let out = dir.appendingPathComponent("r.json")
        let run = try CLI.run(["evaluate", "--model", "ring8", "--samples", good.path, "--out", out.path] + resolved)
        #expect(run.status != 0)
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(expected), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
