import Foundation
import Testing
import TweedieDistributions
import TweedieIO
import TweedieLinearAlgebra

/// Bad input gives a one-line error naming the file and the problem; failed writes leave nothing.
@Suite("IO errors")
struct IOErrorTests {
    static let validJSON = """
        {"weights": [0.5, 0.5], "means": [[0, 0, 0], [1, 1, 1]], "covariance_type": "full",
         "covariances": [[[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]]}
        """

    @Test("bad JSON models", arguments: [
        (#"{"weights": [0.5, 0.5], "means": [[0, 0, 0], [1, 1, 1]], "covariance_type": "full", "covariances": [[[1, 0, 0], [0, 1, 0], [0, 0, 1]], [[1, 0, 0], [0, 1, 0]]]}"#,
         "model.json: covariances[1]: expected 3 rows, got 2"),
        (#"{"weights": [0.5, 0.5], "means": [[0, 0, 0], [1, 1]], "covariance_type": "dirac"}"#,
         "model.json: means[1]: expected 3 numbers, got 2"),
        (#"{"weights": [0.5, 0.4], "means": [[0], [1]], "covariance_type": "dirac"}"#,
         "model.json: weights: sum to 0.9, not 1 (tolerance 1e-09)"),
        (#"{"weights": [1], "means": [[0]], "covariance_type": "banana"}"#,
         "model.json: covariance_type: unknown type 'banana' (expected full, tied, diag, spherical, dirac)"),
        (#"{"weights": [1], "means": [[0]], "covariance_type": "dirac", "noise": {"type": "blue"}}"#,
         "model.json: noise.type: unknown noise type 'blue' (expected identity, diagonal, full, kronecker)"),
        (#"{"weights": [1], "means": [[0]], "covariance_type": "dirac", "covariance": []}"#,
         "model.json: unknown field 'covariance' (known: name, weights, means, covariance_type, covariances, noise, shape, zero_centre_of_mass, atom_symbols)"),
        (#"{"means": [[0]], "covariance_type": "dirac"}"#, "model.json: weights: missing"),
        (#"{"weights": [1], "means": [[0]], "covariance_type": "spherical"}"#,
         "model.json: covariances: missing (needed for covariance_type 'spherical')"),
        (#"{"weights": ["1"], "means": [[0]], "covariance_type": "dirac"}"#,
         "model.json: weights[0]: expected a number, got a string"),
        (#"{"weights": [1], "means": [[0, 0]], "covariance_type": "dirac", "shape": [2.5]}"#,
         "model.json: shape[0]: expected a positive integer, got 2.5"),
        (#"{"weights": [1], "means": [[0, 0]], "covariance_type": "dirac", "shape": [3]}"#,
         "model.json: shape: [3] does not multiply to the dimension 2"),
        (#"{"weights": [1], "means": [[0, 0]], "covariance_type": "dirac", "noise": {"type": "diagonal", "covariance": [1, -1]}}"#,
         "model.json: noise.covariance: variance 1 is not positive (-1.0)"),
        (#"{"weights": [1], "means": [[0, 0, 0]], "covariance_type": "dirac", "noise": {"type": "kronecker", "covariance": [[1, 0], [0, 1]]}}"#,
         "model.json: noise.covariance: a 2×2 Kronecker factor does not divide the dimension 3"),
        (#"{"weights": [1], "means": [[0, 0]], "covariance_type": "tied", "covariances": [[1, 2], [2, 1]]}"#,
         "model.json: covariances: is not positive semi-definite"),
        (#"[1, 2]"#, "model.json: expected an object, got an array"),
        (#"{"weights": [1],"#, "model.json: invalid JSON: unexpected end of input in an object (line 1, column 17)"),
        (#"{"weights": [1e999]}"#, "model.json: weights[0]: invalid JSON: the number 1e999 is beyond Float64's range"),
        (#"{"weights": [1], "weights": [1]}"#, "model.json: invalid JSON: key 'weights' appears twice in one object (line 1, column 18)"),
        (#"{"weights": [1], "means": [[0, 0]], "covariance_type": "dirac", "name": "a\u0000b" "#,
         "model.json: invalid JSON: unexpected end of input in an object"),
        (String(repeating: "[", count: 100_000), "model.json: invalid JSON: nested deeper than 64 levels"),
        ("", "model.json: invalid JSON"),
    ])
    func badJSON(text: String, expected: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        let url = try scratch.write(text, to: "model.json")
        let message = try #require(ioFailure { _ = try ModelFile.read(url) })
        #expect(message.hasPrefix(expected), "\(message)")
        #expect(!message.contains("\n"))
    }

    @Test("the valid JSON used above loads")
    func validJSONLoads() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        #expect(try ModelFile.read(scratch.write(Self.validJSON, to: "model.json")).componentCount == 2)
    }

    /// A model archive with the given entries replaced (nil removes one).
    static func archive(_ changes: [String: NPYValue?]) throws -> NPZArchive {
        var entries: [String: NPYValue] = [
            "weights": .numbers(NDArray([0.25, 0.75])),
            "means": .numbers(NDArray(shape: [2, 3], values: [0, 1, 2, 3, 4, 5])),
            "covariances": .numbers(NDArray(shape: [2, 3], values: [1, 1, 1, 2, 2, 2])),
            "covariance_type": .strings(shape: [1], values: ["diag"]),
        ]
        for (key, value) in changes { entries[key] = value }
        return try NPZArchive(entries.keys.sorted().map { NPZArchive.Entry(name: $0, value: entries[$0]!) })
    }

    @Test("bad NPZ models", arguments: [
        (["weights": .numbers(NDArray([0.4, 0.5]))], "model.npz: weights: sum to 0.9, not 1 (tolerance 1e-09)"),
        (["weights": nil], "model.npz: weights: missing"),
        (["weights": .string("x")], "model.npz: weights: expected numbers, got a string array"),
        (["means": .numbers(NDArray([1, 2, 3]))], "model.npz: means: expected shape (K, D), got (3,)"),
        (["covariance_type": nil], "model.npz: covariance_type: missing (expected one of full, tied, diag, spherical, dirac)"),
        (["covariance_type": .string("ful")], "model.npz: covariance_type: unknown type 'ful'"),
        (["covariance_type": .numbers(NDArray([1]))], "model.npz: covariance_type: expected a string array of shape () or (1,)"),
        (["covariance_type": .string("full")], "model.npz: covariances: covariance_type 'full' needs shape (2, 3, 3), got (2, 3)"),
        (["covariance_type": .string("dirac")], "model.npz: covariances: must be absent for covariance_type 'dirac'"),
        (["covariances": .numbers(NDArray(shape: [2, 3], values: [1, 1, .nan, 2, 2, 2]))],
         "model.npz: covariances[0]: element 2 is nan (NaN or infinity)"),
        (["noise_type": .string("full")], "model.npz: noise_covariance: missing (needed for noise_type 'full')"),
        (["noise_type": .string("pink"), "noise_covariance": .numbers(NDArray([1, 1, 1]))],
         "model.npz: noise_type: unknown noise type 'pink'"),
        (["noise_type": .string("diagonal"), "noise_covariance": .numbers(NDArray([1, 1]))],
         "model.npz: noise_covariance: noise_type 'diagonal' needs shape (3,), got (2,)"),
        (["noise_covariance": .numbers(NDArray(shape: [3, 3], values: [1, 5, 0, 0, 1, 0, 0, 0, 1]))],
         "model.npz: noise_covariance: is not symmetric"),
        (["shape": .numbers(NDArray([2, 2]))], "model.npz: shape: [2, 2] does not multiply to the dimension 3"),
        (["shape": .numbers(NDArray([-3]))], "model.npz: shape: expected positive integers, got -3.0"),
    ] as [([String: NPYValue?], String)])
    func badNPZ(changes: [String: NPYValue?], expected: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        let url = scratch.url("model.npz")
        try Self.archive(changes).write(to: url)
        let message = try #require(ioFailure { _ = try ModelFile.read(url) })
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("the unchanged NPZ model loads, ignoring extra keys")
    func validNPZLoads() throws {
        let data = try Self.archive(["converged_": .numbers(NDArray(scalar: 1))]).encoded()
        #expect(try ModelFile.decode(data, as: .npz).prior.covariances == .diagonal(Matrix([[1, 1, 1], [2, 2, 2]])))
    }

    @Test("damaged .npy bytes", arguments: [
        (NPYBytes(bytes: []), "not a .npy file"),
        (NPYBytes(bytes: [0x93] + Array("NUMPY".utf8)), "not a .npy file"),
        (npy(version: 4, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }"), "unsupported .npy format version 4.0"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,) "), "header: expected ',' or '}'"),
        (npy("['descr']"), "header: is not a dictionary"),
        (npy("{'descr': '<f8', 'shape': (), }"), "header: has keys [descr, shape], expected"),
        (npy("{'descr': '<c16', 'fortran_order': False, 'shape': (), }"), "header: unsupported dtype '<c16'"),
        (npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (), }"), "header: structured dtypes"),
        (npy("{'descr': '<f8', 'fortran_order': 0, 'shape': (), }"), "header: fortran_order is not True or False"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }"), "header: shape must hold non-negative"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }"),
         "header: shape (99999999999, 99999999999, 99999999999) is too large"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", data: 9), "too much data: shape () of <f8 needs 8 bytes, the file has 9"),
        (npy("{'descr': '<U2', 'fortran_order': False, 'shape': (), }", data: 8, fill: 0xFF), "invalid code point"),
        (npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", headerLength: 999), "header: truncated"),
    ])
    func badNPY(file: NPYBytes, expected: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        let url = scratch.url("x.npy")
        try Data(file.bytes).write(to: url)
        expectIOFailure(file: "x.npy", expected) { _ = try NPY.read(url) }
    }

    /// The bytes of a test .npy file, shown by their header in test output.
    struct NPYBytes: Sendable, CustomTestStringConvertible {
        var bytes: [UInt8]
        var testDescription: String { String(decoding: bytes.dropFirst(10).prefix(80), as: UTF8.self) }
    }

    static func npy(version: UInt8 = 1, _ header: String, data: Int = 0, fill: UInt8 = 0,
                    headerLength: Int? = nil) -> NPYBytes {
        let length = headerLength ?? header.utf8.count
        return NPYBytes(bytes: [0x93] + Array("NUMPY".utf8) + [version, 0, UInt8(length & 0xFF), UInt8(length >> 8)]
                        + Array(header.utf8) + [UInt8](repeating: fill, count: data))
    }

    @Test("damaged .npz files")
    func badNPZFiles() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        let good = try Self.archive([:]).encoded()
        let notZip = scratch.url("a.npz"), truncated = scratch.url("b.npz"), flipped = scratch.url("c.npz")
        try Data("hello".utf8).write(to: notZip)
        try good.prefix(good.count - 30).write(to: truncated)
        var corrupt = good
        let index = try #require(corrupt.firstRange(of: Data("<f8".utf8))).lowerBound
        corrupt[index + 100] ^= 0x01
        try corrupt.write(to: flipped)
        expectIOFailure(file: "a.npz", "not a ZIP archive") { _ = try NPZArchive.read(notZip) }
        expectIOFailure(file: "b.npz", "not a ZIP archive") { _ = try NPZArchive.read(truncated) }
        expectIOFailure(file: "c.npz", "CRC-32 mismatch") { _ = try NPZArchive.read(flipped) }

        let badEntry = try ioFixture("bad_entry.npz")
        expectIOFailure(file: "bad_entry.npz", "weights: truncated") { _ = try NPZArchive.read(badEntry) }
        // A model archive is checked for its required arrays before any entry is inflated.
        expectIOFailure(file: "bad_entry.npz", "means: missing") { _ = try ModelFile.read(badEntry) }
    }

    @Test("missing files and unknown extensions")
    func missingFiles() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        expectIOFailure(file: "none.npz", "cannot read", "No such file") { _ = try ModelFile.read(scratch.url("none.npz")) }
        expectIOFailure(file: "none.npy", "cannot read") { _ = try ArrayFile.readMatrix(scratch.url("none.npy")) }
        expectIOFailure(file: "model.txt", "needs the extension .json or .npz, not '.txt'") { _ = try ModelFile.read(scratch.url("model.txt")) }
        let model = try IOModels.model(.dirac, noise: "identity")
        expectIOFailure(file: "model", "needs the extension .json or .npz") { try ModelFile.write(model, to: scratch.url("model")) }
        #expect(scratch.contents().isEmpty)
    }

    @Test("a failed write leaves no file behind")
    func failedWrites() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        let model = try IOModels.model(.full, noise: "full")
        let missing = scratch.url("no/such/dir/model.npz")
        expectIOFailure(file: "model.npz", "cannot create a temporary file") { try ModelFile.write(model, to: missing) }

        // The destination is a directory: refused before anything is written.
        let directory = scratch.url("taken.json")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        expectIOFailure(file: "taken.json", "not a regular file") { try ModelFile.write(model, to: directory) }
        expectIOFailure(file: "taken.npy", "not a regular file") {
            try FileManager.default.createDirectory(at: scratch.url("taken.npy"), withIntermediateDirectories: false)
            try ArrayFile.write(Matrix([[1]]), to: scratch.url("taken.npy"))
        }
        expectIOFailure(file: "points.npy", "shape", "does not multiply to the 2 columns") {
            try ArrayFile.write(Matrix([[1, 2]]), to: scratch.url("points.npy"), shape: [3])
        }
        expectIOFailure(file: "arrays.npz", "x: appears twice") {
            try ArrayFile.writeArchive([("x", NDArray([1])), ("x", NDArray([2]))], to: scratch.url("arrays.npz"))
        }
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(scratch.contents() == ["taken.json", "taken.npy"], "no temporary or partial files")
    }
}
