import Foundation
import Testing
import TweedieDistributions
import TweedieIO
import TweedieLinearAlgebra

/// A fresh temporary directory, removed by `cleanUp()`.
struct IOScratch {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tweedie-io-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    func write(_ text: String, to name: String) throws -> URL {
        let url = url(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }
}

/// The URL of a fixture written by scripts/make_io_fixtures.py.
func ioFixture(_ name: String) throws -> URL {
    let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/io/\(name)")
    return try #require(url.flatMap { FileManager.default.fileExists(atPath: $0.path) ? $0 : nil },
                        "missing fixture \(name)")
}

/// The description of the error `body` throws, or nil if it succeeds.
func ioFailure(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as FileError {
        return error.description
    } catch {
        return "not a FileError: \(error)"
    }
}

/// Expects `body` to throw a one-line error starting with `file` and containing every phrase.
func expectIOFailure(file: String, _ phrases: String..., sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
    guard let message = ioFailure(body) else {
        Issue.record("expected an error for \(file)", sourceLocation: sourceLocation)
        return
    }
    #expect(message.hasPrefix("\(file): "), "\(message)", sourceLocation: sourceLocation)
    #expect(!message.contains("\n"), "\(message)", sourceLocation: sourceLocation)
    for phrase in phrases {
        #expect(message.contains(phrase), "'\(message)' lacks '\(phrase)'", sourceLocation: sourceLocation)
    }
}

/// Test models: every covariance type with every noise type, on D = 4 points shaped 2 × 2.
enum IOModels {
    static let weights = [0.2, 0.3, 0.5]
    static let means = Matrix([[0.1, -1.25, 3.0, 1e-3], [2.5, 0.0, -0.7, 4.2], [1.0 / 3.0, 2.0 / 3.0, -5.5, 0.125]])

    static func covariances(_ type: CovarianceType) -> ComponentCovariances {
        let a = Matrix([[2.0, 0.3, 0.0, 0.1], [0.3, 1.5, 0.2, 0.0], [0.0, 0.2, 1.0, 0.05], [0.1, 0.0, 0.05, 0.7]])
        return switch type {
        case .full: .full([a, .identity(4), .diagonal([0.1, 0.2, 0.3, 1.0 / 7.0])])
        case .tied: .tied(a)
        case .diag: .diagonal(Matrix([[0.5, 1.5, 2.0, 0.1], [1.0, 1.0, 1.0, 1.0], [0.3, 0.0, 0.2, 1.0 / 3.0]]))
        case .spherical: .spherical([0.5, 2.0, 0.1])
        case .dirac: .dirac
        }
    }

    static let noiseNames = ["identity", "diagonal", "full", "kronecker"]

    static func noise(_ name: String) throws -> NoiseCovariance? {
        switch name {
        case "diagonal": try NoiseCovariance(.diagonal([1.0, 2.0, 0.5, 0.25]), dimension: 4)
        case "full":
            try NoiseCovariance(.full(Matrix([[1.0, 0.2, 0, 0], [0.2, 1.0, 0, 0], [0, 0, 2.0, 0.1], [0, 0, 0.1, 0.5]])),
                                dimension: 4)
        case "kronecker": try NoiseCovariance(.kronecker(Matrix([[1.0, 0.4], [0.4, 2.0]]), blockSize: 2), dimension: 4)
        default: nil
        }
    }

    static func model(_ type: CovarianceType, noise: String, named name: String? = nil) throws -> MixtureModel {
        let prior = try GaussianMixture(weights: weights, means: means, covariances: covariances(type))
        return try MixtureModel(prior: prior, noise: try self.noise(noise), shape: noise == "kronecker" ? [2, 2] : nil,
                                name: name)
    }
}
