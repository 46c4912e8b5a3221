import Foundation
import TweedieLinearAlgebra
import TweedieDistributions

/// Reads and writes a ``MixtureModel`` as JSON (`.json`) or a NumPy archive (`.npz`).
///
/// **JSON**, small and hand-editable. Unknown fields are rejected so that typos do not pass
/// silently:
///
/// ```
/// {
///   "name": "optional label",
///   "weights": [π_1, …, π_K],
///   "means": [[μ_11, …, μ_1D], …],                  // K rows of D numbers
///   "covariance_type": "full" | "tied" | "diag" | "spherical" | "dirac",
///   "covariances": …,                               // full: K × D × D; tied: D × D; diag: K × D;
///                                                   // spherical: [K]; dirac: omitted or null
///   "noise": {                                      // optional; identity when omitted
///     "type": "identity" | "diagonal" | "full" | "kronecker",
///     "covariance": …,                              // diagonal: [D]; full: D × D; kronecker: N × N
///     "block_size": d                               // kronecker only; optional, D / N by default
///   },
///   "shape": [N, d],                                // optional shape of one point
///   "atom_symbols": ["C", "H", …],                  // optional element of each atom (shape [N, d])
///   "zero_centre_of_mass": true                     // optional: the model of the centred point
/// }                                                 // and noise (docs/math.md §13.1); needs shape [N, d]
/// ```
///
/// **NPZ**, as `np.savez` writes it, with the keys `weights` (K), `means` (K, D), `covariances`
/// (shaped as scikit-learn's `covariances_`: full (K, D, D), tied (D, D), diag (K, D), spherical
/// (K,); absent for dirac), `covariance_type` (a string array of shape () or (1,)), and optionally
/// `noise_type` (identity, diagonal, full or kronecker), `noise_covariance` (diagonal (D,), full
/// (D, D), kronecker (N, N); when `noise_type` is absent the structure follows from this shape),
/// `block_size` (kronecker; D / N by default), `shape` (float or integer array), `name`, and
/// `zero_centre_of_mass` (0 or 1) and `atom_symbols` (one string, the symbols separated by spaces).
/// Other keys are ignored, so a fitted scikit-learn model saved with
/// `np.savez(path, weights=gm.weights_, means=gm.means_, covariances=gm.covariances_,
/// covariance_type=gm.covariance_type)` loads as is.
///
/// Errors are ``FileError``s naming the file and the field, e.g.
/// `model.json: covariances[2]: expected 3 rows, got 2`.
public enum ModelFile {
    /// The file formats, chosen by extension.
    public enum Format: String, Sendable, CaseIterable {
        case json, npz

        /// The format for `url`'s extension (case-insensitive).
        public init(_ url: URL) throws(FileError) {
            guard let format = Format(rawValue: url.pathExtension.lowercased()) else {
                let found = url.pathExtension.isEmpty ? "" : ", not '.\(url.pathExtension)'"
                throw FileError(file: url.displayName, "a model file needs the extension .json or .npz\(found)")
            }
            self = format
        }
    }

    /// Reads a model; the format follows the extension.
    public static func read(_ url: URL) throws(FileError) -> MixtureModel {
        let format = try Format(url)
        let name = url.displayName
        do {
            switch format {
            case .json: return try ModelJSON.decode(readContents(of: url))
            case .npz: return try ModelNPZ.read(url)
            }
        } catch {
            throw error.inFile(name)
        }
    }

    /// Writes a model atomically; the format follows the extension.
    public static func write(_ model: MixtureModel, to url: URL) throws(FileError) {
        switch try Format(url) {
        case .json: try AtomicFile.write(try ModelJSON.encode(model), to: url)
        case .npz: try ModelNPZ.encode(model).write(to: url)
        }
    }

    /// Writes a data-set model whose atoms are 8-bit values v (pixels), μ = offset + scale · v, to an
    /// `.npz` file that stores v as bytes (`means` of dtype `|u1`, with `means_scale` and
    /// `means_offset`): a CIFAR-sized set takes 150 MB on disk instead of 1.2 GB.
    public static func writeDataSet(_ model: MixtureModel, values: [Double], scaling: DataSetScaling,
                                    to url: URL) throws(FileError) {
        guard case .npz = try Format(url) else {
            throw FileError(file: url.displayName, "8-bit data sets are stored in .npz files")
        }
        guard model.zeroCentreOfMass == nil else {
            throw FileError(file: url.displayName, "8-bit data sets have no zero centre of mass")
        }
        let (k, d) = (model.componentCount, model.dimension)
        guard values.count == k * d else { throw FileError(file: url.displayName, "values do not match the model") }
        var entries = try ModelNPZ.encode(model).entries.filter { $0.name != "means" }
        entries.append(.init(name: "means", value: .numbers(NDArray(shape: [k, d], values: values)), storesBytes: true))
        entries.append(.init(name: "means_scale", value: .numbers(NDArray(scalar: scaling.scale))))
        entries.append(.init(name: "means_offset", value: .numbers(NDArray(scalar: scaling.offset))))
        do { try NPZArchive(entries).write(to: url) } catch { throw error.inFile(url.displayName) }
    }

    /// The model in the given format, as bytes.
    public static func encode(_ model: MixtureModel, as format: Format) throws(FileError) -> Data {
        switch format {
        case .json: try ModelJSON.encode(model)
        case .npz: try ModelNPZ.encode(model).encoded()
        }
    }

    /// The model as a file holds it: itself, or for a zero centre of mass its form on R^{N×d}
    /// (docs/math.md §13.1), which reading with `zero_centre_of_mass` reduces back.
    static func ambientForm(_ model: MixtureModel) throws(FileError) -> MixtureModel {
        guard model.zeroCentreOfMass != nil else { return model }
        do {
            var ambient = try MixtureModel(prior: model.ambientPrior(), noise: model.ambientNoise(),
                                           shape: model.shape, name: model.name)
            try ambient.setAtomSymbols(model.atomSymbols)
            return ambient
        } catch {
            throw FileError(file: "", error)
        }
    }

    /// Decodes a model from bytes in the given format.
    public static func decode(_ data: Data, as format: Format) throws(FileError) -> MixtureModel {
        switch format {
        case .json: try ModelJSON.decode(data)
        case .npz: try ModelNPZ.decode(NPZArchive.decode(data))
        }
    }
}

/// Rejects a point shape whose product overflows, which the model's own check cannot handle.
func checkShape(_ shape: [Int]?, dimension d: Int) throws(FileError) {
    if let shape, ShapeArithmetic.elementCount(shape) == nil {
        throw FileError(field: "shape", "\(shape) does not multiply to the dimension \(d)")
    }
}

/// How stored values v become coordinates: x = offset + scale · v (one rounding), the same when
/// a data set is imported and when its 8-bit file is read back.
public struct DataSetScaling: Sendable, Equatable {
    public let scale: Double
    public let offset: Double

    public init(scale: Double, offset: Double) {
        self.scale = scale
        self.offset = offset
    }

    /// [0, 255] → [-1, 1], as EDM and most image diffusion models.
    public static let edm = DataSetScaling(scale: 1 / 127.5, offset: -1)
    /// [0, 255] → [0, 1].
    public static let unit = DataSetScaling(scale: 1 / 255, offset: 0)
    /// The values as stored.
    public static let none = DataSetScaling(scale: 1, offset: 0)

    @inline(__always)
    public func apply(_ v: Double) -> Double { offset + scale * v }
}
