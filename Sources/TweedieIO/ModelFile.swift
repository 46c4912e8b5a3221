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
///   "shape": [N, d]                                 // optional shape of one point
/// }
/// ```
///
/// **NPZ**, as `np.savez` writes it, with the keys `weights` (K), `means` (K, D), `covariances`
/// (shaped as scikit-learn's `covariances_`: full (K, D, D), tied (D, D), diag (K, D), spherical
/// (K,); absent for dirac), `covariance_type` (a string array of shape () or (1,)), and optionally
/// `noise_type` (identity, diagonal, full or kronecker), `noise_covariance` (diagonal (D,), full
/// (D, D), kronecker (N, N); when `noise_type` is absent the structure follows from this shape),
/// `block_size` (kronecker; D / N by default), `shape` (float or integer array) and `name`.
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
        case .json: try AtomicFile.write(ModelJSON.encode(model), to: url)
        case .npz: try ModelNPZ.encode(model).write(to: url)
        }
    }

    /// The model in the given format, as bytes.
    public static func encode(_ model: MixtureModel, as format: Format) throws(FileError) -> Data {
        switch format {
        case .json: ModelJSON.encode(model)
        case .npz: try ModelNPZ.encode(model).encoded()
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
