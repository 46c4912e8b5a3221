import Foundation
import Testing
import Tweedie

/// Molecules through the command line: conformers imported as a zero-centre-of-mass data set,
/// samples written back as molecular files with their atoms summing to zero, noising on the
/// subspace, and the oracle's fields on R^{N×3} equal to the library's in reduced coordinates.
@Suite struct MoleculeCommandTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/molecules")

    static func centreOfMass(_ x: Matrix, row: Int, atoms n: Int) -> [Double] {
        (0..<3).map { c in (0..<n).reduce(0.0) { $0 + x[row, 3 * $1 + c] } / Double(n) }
    }

    @Test func conformersInSamplesOutOnTheSubspace() throws {
        let dir = try CLI.scratch()
        let model = dir.appendingPathComponent("butanol.json")
        let imported = try CLI.run(["dataset", "import", Self.examples.appendingPathComponent("butanol.sdf").path,
                                    "--align", "--out", model.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("40 frames of 15 atoms (C4H10O)") && imported.stdout.contains("D′ = 42"))
        let m = try ModelFile.read(model)
        #expect(m.zeroCentreOfMass?.atoms == 15 && m.dimension == 42 && m.atomSymbols?.first == "O")
        let samples = dir.appendingPathComponent("s.npy"), pdb = dir.appendingPathComponent("s.pdb")
        let run = try CLI.run(["sample", "--model", model.path, "--sampler", "heun", "--schedule", "edm", "--steps", "8",
                               "--count", "6", "--seed", "3", "--out", samples.path, "--xyz", pdb.path])
        #expect(run.status == 0, "\(run.stderr)")
        let x = try ArrayFile.readMatrix(samples)
        #expect(x.rows == 6 && x.columns == 45)
        for b in 0..<6 { #expect(Self.centreOfMass(x, row: b, atoms: 15).allSatisfy { abs($0) < 1e-13 }) }
        let frames = try MolecularFile.read(pdb)
        #expect(frames.symbols == m.atomSymbols! && frames.frameCount == 6)
        for e in x.elements.indices { #expect(abs(frames.frames.elements[e] - x.elements[e]) <= 0.5e-3 + 1e-12) }
    }

    @Test func noiseAndOracleOnTheSubspace() throws {
        let dir = try CLI.scratch()
        let model = dir.appendingPathComponent("m.json")
        let json = #"{"weights": [0.4, 0.6], "means": [[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1], [1, 1, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0]], "covariance_type": "spherical", "covariances": [0.2, 0.1], "shape": [4, 3], "zero_centre_of_mass": true}"#
        try Data(json.utf8).write(to: model)
        let x0 = dir.appendingPathComponent("x0.npy"), xt = dir.appendingPathComponent("xt.npy")
        // Given points far from their centre: x_0 is centred, the noise drawn on the subspace.
        var points = Matrix(rows: 3, columns: 12)
        for e in points.elements.indices { points.elements[e] = 10 + Double(e % 7) }
        try ArrayFile.write(points, to: x0, shape: [4, 3])
        let noised = try CLI.run(["noise", "--model", model.path, "--x0", x0.path, "--alpha", "0.9", "--sigma", "0.5",
                                  "--out", xt.path, "--quiet"])
        #expect(noised.status == 0, "\(noised.stderr)")
        let y = try ArrayFile.readMatrix(xt)
        for b in 0..<3 { #expect(Self.centreOfMass(y, row: b, atoms: 4).allSatisfy { abs($0) < 1e-13 }) }
        let out = dir.appendingPathComponent("o.npz")
        let oracle = try CLI.run(["oracle", "--model", model.path, "--x", xt.path, "--alpha", "0.9", "--sigma", "0.5",
                                  "--out", out.path, "--components"])
        #expect(oracle.status == 0, "\(oracle.stderr)")
        #expect(oracle.stdout.contains("D′ = 9 degrees of freedom"))
        let archive = try NPZArchive.read(out)
        let m = try ModelFile.read(model)
        let r = try Oracle(m).evaluate(m.reduce(y), alpha: 0.9, sigma: 0.5)
        let denoised = try #require(archive["denoised"]?.numbers), score = try #require(archive["score"]?.numbers)
        #expect(denoised.shape == [3, 12] && score.shape == [3, 12])
        #expect(denoised.values == m.embed(r.denoised).elements && score.values == m.embed(r.score).elements)
        #expect(archive["log_density"]?.numbers?.values == r.logDensity)
        #expect(archive["component_means"]?.numbers?.shape == [3, 2, 12])
    }

    @Test func harmonicNoiseAndOracle() throws {
        let dir = try CLI.scratch()
        let model = dir.appendingPathComponent("chains.json")
        let imported = try CLI.run(["dataset", "import",
                                    Self.examples.appendingPathComponent("chains-synthetic.xyz").path,
                                    "--limit", "8", "--out", model.path])
        #expect(imported.status == 0, "\(imported.stderr)")
        let xt = dir.appendingPathComponent("xt.npy"), x0 = dir.appendingPathComponent("x0.npy")
        let noised = try CLI.run(["noise", "--model", model.path, "--count", "5", "--harmonic", "chain", "--t", "0.7",
                                  "--seed", "4", "--out", xt.path, "--also-x0", x0.path])
        #expect(noised.status == 0, "\(noised.stderr)")
        // The library's own noising from the same standard normals, bit for bit.
        let m = try ModelFile.read(model)
        let oracle = try HarmonicOracle(prior: m.ambientPrior(), process: .chain(atoms: 12))
        let clean = try ArrayFile.readMatrix(x0), noisy = try ArrayFile.readMatrix(xt)
        let stream = NoiseStream(seed: 4)
        var z = Matrix(rows: 5, columns: 33)
        for b in 0..<5 { z.setRow(b, to: stream.normals(sample: b, step: 0, count: 33)) }
        #expect(try oracle.noise(clean, standardNormals: z, at: 0.7) == noisy)
        for b in 0..<5 { #expect(Self.centreOfMass(noisy, row: b, atoms: 12).allSatisfy { abs($0) < 1e-12 }) }
        let out = dir.appendingPathComponent("h.npz")
        let run = try CLI.run(["oracle", "--model", model.path, "--x", xt.path, "--harmonic", "chain", "--t", "0.7",
                               "--out", out.path, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let archive = try NPZArchive.read(out)
        #expect(archive["log_density"]?.numbers?.values == (try oracle.evaluate(noisy, at: 0.7)).logDensity)
        let bad = try CLI.run(["noise", "--model", model.path, "--count", "2", "--harmonic", "chain", "--t", "1",
                               "--schedule", "edm", "--out", xt.path])
        #expect(bad.status != 0 && bad.stderr.contains("--harmonic takes the time --t alone"))
    }
}
