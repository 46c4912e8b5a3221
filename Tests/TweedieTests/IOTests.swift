import Foundation
import Testing
import TweedieDistributions
import TweedieIO
import TweedieLinearAlgebra

@Suite("IO round trips")
struct IOTests {
    @Test("model files round-trip every covariance and noise type",
          arguments: CovarianceType.allCases, ["json", "npz"])
    func modelRoundTrip(type: CovarianceType, format: String) throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        for noise in IOModels.noiseNames {
            let model = try IOModels.model(type, noise: noise, named: "\(type) with \(noise) noise")
            let url = scratch.url("model-\(noise).\(format)")
            try ModelFile.write(model, to: url)
            let loaded = try ModelFile.read(url)
            #expect(loaded == model, "\(type), \(noise) noise, .\(format)")
            #expect(loaded.name == model.name)
        }
        #expect(scratch.contents().count == IOModels.noiseNames.count, "no temporary files left")
    }

    @Test("JSON round trip is exact for awkward numbers and names")
    func jsonExactness() throws {
        let prior = try GaussianMixture(weights: [0.1, 0.2, 0.7], means: Matrix([[1e-300], [-0.0], [123456789.123456789]]),
                                        covariances: .spherical([.leastNonzeroMagnitude, 1e300, 0.1 + 0.2]))
        let model = try MixtureModel(prior: prior, name: "quote \" backslash \\ newline \n tab \t é")
        let data = try ModelFile.encode(model, as: .json)
        #expect(try ModelFile.decode(data, as: .json) == model)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"covariance_type\": \"spherical\""))
        #expect(!text.contains("\"noise\""), "identity noise is omitted")
    }

    @Test("JSON output is readable: one matrix row per line")
    func jsonLayout() throws {
        let model = try IOModels.model(.full, noise: "kronecker")
        let text = String(decoding: try ModelFile.encode(model, as: .json), as: UTF8.self)
        #expect(text.contains("\"weights\": [0.2, 0.3, 0.5]"))
        #expect(text.contains("\n    [0.1, -1.25, 3.0, 0.001],\n"))
        #expect(text.contains("\"block_size\": 2"))
        #expect(text.contains("\"shape\": [2, 2]"))
        #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [String: Any])
    }

    @Test("NPZ model files use scikit-learn's keys and shapes")
    func npzKeys() throws {
        let data = try ModelFile.encode(try IOModels.model(.full, noise: "kronecker", named: "m"), as: .npz)
        let archive = try NPZArchive.decode(data)
        #expect(archive.names == ["weights", "means", "covariances", "covariance_type", "noise_covariance",
                                  "block_size", "noise_type", "shape", "name"])
        #expect(archive["covariances"]?.shape == [3, 4, 4])
        #expect(archive["covariance_type"] == .string("full"))
        #expect(archive["noise_type"] == .string("kronecker"))
        #expect(archive["shape"] == .numbers(NDArray([2, 2])))
    }

    @Test("NPY round trip keeps shapes and bit patterns")
    func npyRoundTrip() throws {
        let arrays = [
            NDArray(scalar: -0.0),
            NDArray([]),
            NDArray([1, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]),
            NDArray(shape: [2, 1, 3], values: [1, 2, 3, 4, 5, 6]),
            NDArray(shape: [0, 3], values: []),
        ]
        for array in arrays {
            let data = NPY.encode(.numbers(array))
            #expect(data.count % 64 == 0 || array.count > 0, "the header is padded to 64 bytes")
            let decoded = try #require(try NPY.decode(data).numbers)
            #expect(decoded.shape == array.shape)
            #expect(decoded.values.map(\.bitPattern) == array.values.map(\.bitPattern))
        }
        let nan = try #require(try NPY.decode(NPY.encode(.numbers(NDArray([.nan])))).numbers)
        #expect(nan.values[0].isNaN)
    }

    @Test("NPY header is what np.save writes")
    func npyHeader() {
        let data = NPY.encode(.numbers(NDArray(matrix: Matrix([[1, 2, 3], [4, 5, 6]]))))
        #expect(Array(data.prefix(8)) == [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"))
        #expect(header.hasSuffix(" \n"))
        #expect(data.count == 10 + headerLength + 48)
    }

    @Test("NPY strings round-trip as <U")
    func npyStrings() throws {
        let value = NPYValue.strings(shape: [3], values: ["full", "", "héllo → ∑"])
        let data = NPY.encode(value)
        #expect(String(decoding: data.prefix(30), as: UTF8.self).contains("'<U9'"))
        #expect(try NPY.decode(data) == value)
        #expect(try NPY.decode(NPY.encode(.string("diag"))).singleString == "diag")
    }

    @Test("NPZ archives keep order, compressed or not")
    func npzRoundTrip() throws {
        let archive = try NPZArchive([
            .init(name: "z", value: .numbers(NDArray(shape: [2, 2], values: [1, 2, 3, 4]))),
            .init(name: "a", value: .string("tied")),
            .init(name: "m", value: .numbers(NDArray((0..<1000).map { Double($0 % 7) }))),
        ])
        for compressed in [false, true] {
            let data = try archive.encoded(compressed: compressed)
            #expect(try NPZArchive.decode(data) == archive)
            #expect(try archive.encoded(compressed: compressed) == data, "output is reproducible")
        }
        #expect(try archive.encoded(compressed: true).count < archive.encoded(compressed: false).count)
    }

    @Test("ArrayFile reads and writes batches of points")
    func arrayFiles() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        let points = Matrix(rows: 2, columns: 6, elements: (0..<12).map { Double($0) / 4 })
        let flat = scratch.url("flat.npy"), shaped = scratch.url("shaped.npy")
        try ArrayFile.write(points, to: flat)
        try ArrayFile.write(points, to: shaped, shape: [3, 2])
        #expect(try ArrayFile.readArray(flat).shape == [2, 6])
        #expect(try ArrayFile.readArray(shaped).shape == [2, 3, 2])
        #expect(try ArrayFile.readMatrix(flat) == points)
        #expect(try ArrayFile.readMatrix(shaped) == points)

        let single = scratch.url("single.npy")
        try NPY.write(.numbers(NDArray([1, 2, 3])), to: single)
        #expect(try ArrayFile.readMatrix(single) == Matrix([[1, 2, 3]]))

        let archive = scratch.url("out.npz")
        try ArrayFile.writeArchive([("x", NDArray(matrix: points)), ("t", NDArray(scalar: 0.5)), ("b", NDArray([]))],
                                   to: archive)
        let loaded = try NPZArchive.read(archive)
        #expect(loaded.names == ["x", "t", "b"])
        #expect(loaded["x"]?.numbers == NDArray(matrix: points))
        #expect(loaded["t"]?.numbers == NDArray(scalar: 0.5))
        #expect(scratch.contents() == ["flat.npy", "out.npz", "shaped.npy", "single.npy"])
    }

    @Test("AtomicFile replaces an existing file")
    func atomicReplace() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        let url = try scratch.write("old contents that are longer", to: "f.txt")
        try AtomicFile.write(Data("new".utf8), to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "new")
        #expect(scratch.contents() == ["f.txt"])
    }
}
