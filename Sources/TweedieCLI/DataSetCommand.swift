import ArgumentParser
import Foundation
import Tweedie

struct DataSetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Data sets as models: the ideal (empirical) denoiser of a training set.",
        subcommands: [Import.self])

    /// How stored values become coordinates.
    enum Scaling: String, ExpressibleByArgument, CaseIterable {
        /// x / 127.5 − 1: [0, 255] → [-1, 1], as EDM and most image diffusion models.
        case edm
        /// x / 255: [0, 255] → [0, 1].
        case unit
        /// The values as stored.
        case none

        var scaling: DataSetScaling {
            switch self {
            case .edm: .edm
            case .unit: .unit
            case .none: .none
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a data-set model (one Dirac component per item, equal weights) from an array or images.",
            discussion: """
                The input is a .npy file, an .npz archive (the array named by --key, or its only array) of \
                shape (N, D), (N, H, W) or (N, H, W, C), or a folder of PNG images of one size (read in the \
                order of their names; alpha is dropped, palettes expanded). The model keeps each item's shape. \
                A molecular file (.xyz, .extxyz, .sdf, .mol, .pdb) of frames of one molecule gives a model of \
                its conformers with points of shape (N, 3), the element symbols kept, and a zero centre of mass \
                unless --absolute is given (docs/math.md §13.1).
                """)

        @Argument(help: "A .npy or .npz file, a folder of .png images, or a molecular file.") var input: String
        @Option(help: "The model file to write (.npz or .json).") var out: String
        @Option(help: """
            Scaling of the stored values: edm (x/127.5 − 1, [0, 255] → [-1, 1]), unit (x/255) or none \
            (default: edm for PNG images, none for arrays).
            """)
        var scale: Scaling?
        @Option(help: "The array of an .npz archive to read (default: its only array).") var key: String?
        @Option(help: "Keep only the first N items.") var limit: Int?
        @Option(help: "The model's name (default: the input's file name).") var name: String?
        @Option(help: "Molecular files: the atoms of a PDB file to read: all, or ca (the Cα atoms).")
        var atoms: MolecularFile.Selection = .all
        @Flag(help: "Molecular files: superpose every frame on the first (Kabsch) before the model is made.")
        var align = false
        @Flag(help: "Molecular files: keep absolute positions (no zero centre of mass).") var absolute = false

        func validate() throws {
            guard out.hasSuffix(".npz") || out.hasSuffix(".json") else {
                throw ValidationError("--out must name a .npz or .json file, got '\(out)'")
            }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        }

        func run() throws {
            try OutputPaths.requireSafe(outputs: [("--out", out)], inputs: [("input", input)])
            let url = URL(fileURLWithPath: input)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw CommandFailure("\(input): no such file or folder")
            }
            if !isDirectory.boolValue, (try? MolecularFile.Format(url)) != nil {
                try importMolecules(url)
                return
            }
            if align || absolute || atoms != .all {
                throw CommandFailure("--align, --absolute and --atoms are for molecular files (.xyz, .sdf, .pdb)")
            }
            let (items, source, defaultScale) = try isDirectory.boolValue
                ? (DataSetFiles.readImages(url, limit: limit), "PNG images", Scaling.edm)
                : (DataSetFiles.readArray(url, key: key, limit: limit), "array", Scaling.none)
            let scaling = scale ?? defaultScale
            let (n, pointShape) = (items.shape[0], Array(items.shape.dropFirst()))
            let d = items.count / n
            let means = Matrix(rows: n, columns: d, elements: items.values.map(scaling.scaling.apply))
            let prior: GaussianMixture
            do {
                prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(n), count: n), means: means,
                                            covariances: .dirac)
            } catch { throw CommandFailure("\(input): \(error.field): \(error.reason)") }
            let model = try MixtureModel(prior: prior, shape: pointShape.count > 1 ? pointShape : nil,
                                         name: name ?? url.lastPathComponent)
            // 8-bit values are stored as bytes (with the scaling) when the model goes to an .npz file.
            let bytes = out.hasSuffix(".npz") && items.values.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() }
            if bytes {
                try ModelFile.writeDataSet(model, values: items.values, scaling: scaling.scaling,
                                           to: URL(fileURLWithPath: out))
            } else {
                try ModelFile.write(model, to: URL(fileURLWithPath: out))
            }
            let shapeText = "(" + pointShape.map(String.init).joined(separator: ", ")
                + (pointShape.count == 1 ? ",)" : ")")
            let range = (means.elements.min() ?? 0, means.elements.max() ?? 0)
            var lines = ["imported \(n) items of shape \(shapeText) (D = \(d)) "
                         + "from \(source) \(url.lastPathComponent), "
                         + "scaled \(scaling.rawValue): values in [\(format(range.0)), \(format(range.1))]",
                         "wrote \(out): a data-set model (Dirac components, K = \(n), equal weights)"
                            + (bytes ? ", its 8-bit values stored as bytes" : "")]
            if scaling == .none, range.1 > 2, items.values.allSatisfy({ $0 == $0.rounded() && $0 >= 0 && $0 <= 255 }) {
                lines.insert("note: the values look like 8-bit pixels; --scale edm maps them to [-1, 1]", at: 1)
            }
            print(lines.joined(separator: "\n"))
        }
    }
}

extension DataSetCommand.Import {
    /// The conformers of a molecular file as a data-set model on R^{N×3} or its zero-centre-of-mass
    /// subspace.
    func importMolecules(_ url: URL) throws {
        if scale != nil || key != nil { throw CommandFailure("--scale and --key are not for molecular files") }
        var conformers = try MolecularFile.read(url, selection: atoms)
        if let limit, limit < conformers.frameCount {
            conformers = Conformers(symbols: conformers.symbols,
                                    frames: Matrix(rows: limit, columns: conformers.frames.columns,
                                                   elements: Array(conformers.frames.elements.prefix(
                                                       limit * conformers.frames.columns))),
                                    titles: Array(conformers.titles.prefix(limit)))
        }
        let n = conformers.atomCount, f = conformers.frameCount
        var frames = conformers.frames
        var largestRMSD = 0.0
        if align, f > 1 {
            let reference = Matrix(rows: n, columns: 3, elements: frames.row(0))
            for i in 1..<f {
                let fit = try Superposition(moving: Matrix(rows: n, columns: 3, elements: frames.row(i)),
                                            onto: reference)
                frames.setRow(i, to: fit.aligned.elements)
                largestRMSD = max(largestRMSD, fit.rmsd)
            }
        }
        var model: MixtureModel
        do {
            let prior = try GaussianMixture(weights: [Double](repeating: 1 / Double(f), count: f), means: frames,
                                            covariances: .dirac)
            model = try MixtureModel(prior: prior, shape: [n, 3], name: name ?? url.lastPathComponent)
            try model.setAtomSymbols(conformers.symbols)
            if !absolute { model = try .centred(model) }
        } catch { throw CommandFailure("\(input): \(error.field): \(error.reason)") }
        try ModelFile.write(model, to: URL(fileURLWithPath: out))
        var counts: [String: Int] = [:]
        for s in conformers.symbols { counts[s, default: 0] += 1 }
        let formula = counts.keys.sorted().map { counts[$0]! == 1 ? $0 : "\($0)\(counts[$0]!)" }.joined()
        var lines = ["imported \(f) frames of \(n) atoms (\(formula)) from \(url.lastPathComponent)"]
        if align { lines.append("superposed on frame 0: largest RMSD \(format(largestRMSD)) (Kabsch)") }
        lines.append("wrote \(out): a data-set model (Dirac components, K = \(f), equal weights), "
                     + (absolute ? "points in R^{\(n)×3}, D = \(3 * n)"
                                 : "zero centre of mass: D′ = \(3 * (n - 1)) degrees of freedom"))
        print(lines.joined(separator: "\n"))
    }
}

extension MolecularFile.Selection: ExpressibleByArgument {}

/// Reading the items of a data set: arrays and folders of images.
enum DataSetFiles {
    /// The array of a .npy file or of an .npz archive (`key`, or its only array): N items first.
    static func readArray(_ url: URL, key: String?, limit: Int?) throws -> NDArray {
        let array: NDArray
        switch url.pathExtension.lowercased() {
        case "npy":
            if key != nil {
                throw CommandFailure("--key is for .npz archives; \(url.lastPathComponent) is a .npy file")
            }
            array = try ArrayFile.readArray(url)
        case "npz":
            let archive = try NPZArchive.read(url, keys: key.map { [$0] })
            let name: String
            if let key {
                guard archive.names.contains(key) else {
                    throw CommandFailure("\(url.lastPathComponent): no array '\(key)' (arrays: "
                                         + "\(archive.names.joined(separator: ", ")))")
                }
                name = key
            } else {
                guard archive.names.count == 1 else {
                    throw CommandFailure("\(url.lastPathComponent): holds \(archive.names.count) arrays "
                                         + "(\(archive.names.joined(separator: ", "))); name one with --key")
                }
                name = archive.names[0]
            }
            guard let numbers = archive[name]?.numbers else {
                throw CommandFailure("\(url.lastPathComponent): \(name): holds strings, not numbers")
            }
            array = numbers
        default:
            throw CommandFailure("\(url.lastPathComponent): expected a .npy or .npz file, or a folder of .png images")
        }
        guard array.dimensionCount >= 2, array.shape[0] >= 1 else {
            throw CommandFailure("\(url.lastPathComponent): shape \(array.shapeText): expected (N, D), (N, H, W) or "
                                 + "(N, H, W, C) with at least one item")
        }
        guard let d = ShapeArithmetic.elementCount(array.shape.dropFirst()), d >= 1 else {
            throw CommandFailure("\(url.lastPathComponent): shape \(array.shapeText): items have no coordinates")
        }
        if let i = array.values.firstIndex(where: { !$0.isFinite }) {
            throw CommandFailure("\(url.lastPathComponent): item \(i / d) holds \(array.values[i])")
        }
        guard let limit, limit < array.shape[0] else { return array }
        return NDArray(shape: [limit] + array.shape.dropFirst(), values: Array(array.values.prefix(limit * d)))
    }

    /// The .png images of a folder, in the order of their names, as an (N, H, W, C) array of 0…255.
    static func readImages(_ folder: URL, limit: Int?) throws -> NDArray {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.lowercased().hasSuffix(".png") }.sorted()
        guard !names.isEmpty else { throw CommandFailure("\(folder.lastPathComponent): holds no .png images") }
        let chosen = limit.map { Array(names.prefix($0)) } ?? names
        var values: [Double] = []
        var shape: [Int] = []
        for name in chosen {
            let image = try PNG.read(folder.appendingPathComponent(name))
            let itemShape = [image.height, image.width, image.channels]
            if shape.isEmpty {
                shape = itemShape
                try MemoryBudget.require("input", "\(chosen.count) images of \(itemShape)",
                                         elements: [chosen.count] + itemShape)
                values.reserveCapacity(chosen.count * image.pixels.count)
            } else if itemShape != shape {
                throw CommandFailure("\(name): an image of \(image.height)×\(image.width)×\(image.channels); "
                                     + "\(chosen[0]) is \(shape[0])×\(shape[1])×\(shape[2]) (all must agree)")
            }
            values.append(contentsOf: image.pixels.map(Double.init))
        }
        return NDArray(shape: [chosen.count] + shape, values: values)
    }
}
