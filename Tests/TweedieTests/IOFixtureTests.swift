import Foundation
import Testing
import TweedieDistributions
import TweedieIO
import TweedieLinearAlgebra

/// Files written by NumPy itself (scripts/make_io_fixtures.py); the arrays are hard-coded in both.
@Suite("IO fixtures made by NumPy")
struct IOFixtureTests {
    static let float64 = NDArray(shape: [2, 3], values: [1.5, -2.0, 3.25, 0.1, 1e-300, -7.0])

    @Test("float64 in .npy format versions 1.0, 2.0 and 3.0", arguments: ["float64.npy", "version2.npy", "version3.npy"])
    func float64(file: String) throws {
        #expect(try ArrayFile.readArray(ioFixture(file)) == Self.float64)
        #expect(try ArrayFile.readMatrix(ioFixture(file)) == Matrix([[1.5, -2.0, 3.25], [0.1, 1e-300, -7.0]]))
    }

    @Test("float32 and integer arrays are converted to Double")
    func otherTypes() throws {
        #expect(try ArrayFile.readArray(ioFixture("float32.npy")) == NDArray([Double(Float(0.1)), -2.5, 3.0]))
        #expect(try ArrayFile.readArray(ioFixture("int64.npy")) == NDArray(shape: [2, 2], values: [1, -2, 3, 4]))
        #expect(try ArrayFile.readArray(ioFixture("int32.npy")) == NDArray([7, -8, 9]))
    }

    @Test("a (B, N, d) batch is read as B × (N·d)")
    func pointClouds() throws {
        #expect(try ArrayFile.readArray(ioFixture("points.npy")).shape == [2, 2, 3])
        #expect(try ArrayFile.readMatrix(ioFixture("points.npy"))
                == Matrix(rows: 2, columns: 6, elements: (0..<12).map(Double.init)))
    }

    @Test("np.array('full') is a 0-d <U4 string")
    func scalarString() throws {
        #expect(try NPY.read(ioFixture("scalar_string.npy")) == .string("full"))
        let url = try ioFixture("scalar_string.npy")
        expectIOFailure(file: "scalar_string.npy", "expected numbers") { _ = try ArrayFile.readMatrix(url) }
    }

    @Test("unsupported and damaged .npy files are rejected with one-line errors", arguments: [
        ("big_endian.npy", "big-endian dtype '>f8'"),
        ("fortran_order.npy", "Fortran-ordered"),
        ("object.npy", "object arrays ('|O')"),
        ("truncated.npy", "truncated data: shape (2, 3) of <f8 needs 48 bytes, the file has 43"),
        ("bad_magic.npy", "not a .npy file"),
    ])
    func rejected(file: String, problem: String) throws {
        let url = try ioFixture(file)
        expectIOFailure(file: file, problem) { _ = try ArrayFile.readMatrix(url) }
    }

    @Test("np.savez of scikit-learn's full-covariance attributes")
    func savezFull() throws {
        let model = try ModelFile.read(ioFixture("model_full.npz"))
        #expect(model.prior.weights == [0.25, 0.75])
        #expect(model.prior.means == Matrix([[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]]))
        #expect(model.prior.covariances == .full([
            Matrix([[2.0, 0.5, 0.0], [0.5, 1.0, 0.25], [0.0, 0.25, 3.0]]), .identity(3),
        ]))
        #expect(model.noise.isIdentity)
        #expect(model.shape == nil && model.name == nil)
    }

    @Test("np.savez_compressed (deflated entries) of a diagonal model")
    func savezCompressedDiag() throws {
        let model = try ModelFile.read(ioFixture("model_diag_compressed.npz"))
        #expect(model.prior.weights == [0.5, 0.25, 0.25])
        #expect(model.prior.means == Matrix([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
        #expect(model.prior.covariances == .diagonal(Matrix([[0.5, 1.5], [2.0, 0.25], [1.0, 1.0]])))
    }

    @Test("Kronecker noise with an integer shape array")
    func kronecker() throws {
        let model = try ModelFile.read(ioFixture("model_kronecker.npz"))
        let factor = Matrix([[2.0, 1.0, 0.0, 0.0], [1.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 1.0], [0.0, 0.0, 1.0, 2.0]])
        #expect(model.noise.structure == .kronecker(factor, blockSize: 2))
        #expect(model.shape == [4, 2])
        #expect(model.prior.covariances == .spherical([0.5, 2.0]))
        #expect(model.prior.means == Matrix([[Double]](arrayLiteral: Array(repeating: 0, count: 8), Array(repeating: 1, count: 8))))
    }

    @Test("hand-written JSON model")
    func json() throws {
        let model = try ModelFile.read(ioFixture("model_tied.json"))
        #expect(model.name == "tied example")
        #expect(model.prior.weights == [0.4, 0.6])
        #expect(model.prior.means == Matrix([[0.0, 0.0], [2.0, -1.0]]))
        #expect(model.prior.covariances == .tied(Matrix([[1.0, 0.3], [0.3, 2.0]])))
        #expect(model.noise.structure == .diagonal([1.0, 4.0]))
    }
}
