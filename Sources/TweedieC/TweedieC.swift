import Foundation
import Tweedie

// The C ABI of Tweedie, for the Python package (python/tweedie/_native.py) and any other host.
//
// Conventions: every function returns 0 on success and 1 on failure, when
// `tweedie_last_error()` holds a one-line message for the calling thread. Objects are opaque
// handles released with their `_free` function. Arrays are row-major float64 buffers owned by the
// caller, read or written in place; sizes are passed beside them. No function traps on bad input:
// every argument is checked by the library, and errors come back as messages.

// MARK: Errors

/// The calling thread's last error, as a C string that stays valid until its next failing call.
private final class ErrorSlot: @unchecked Sendable {
    var buffer: UnsafeMutablePointer<CChar>?
    func set(_ message: String) {
        free(buffer)
        buffer = strdup(message.split(whereSeparator: \.isNewline).joined(separator: " "))
    }
}

private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { pointer in
        if let pointer { Unmanaged<ErrorSlot>.fromOpaque(pointer).release() }
    }
    return key
}()

private func errorSlot() -> ErrorSlot {
    if let pointer = pthread_getspecific(errorKey) {
        return Unmanaged<ErrorSlot>.fromOpaque(pointer).takeUnretainedValue()
    }
    let slot = ErrorSlot()
    pthread_setspecific(errorKey, Unmanaged.passRetained(slot).toOpaque())
    return slot
}

/// Runs `body`, turning a thrown error into status 1 and the thread's last error.
private func call(_ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return 0
    } catch {
        errorSlot().set("\(error)")
        return 1
    }
}

/// A failure of the C API itself (a null handle, a size that does not fit).
private struct CallError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@_cdecl("tweedie_last_error")
public func tweedie_last_error() -> UnsafePointer<CChar>? {
    UnsafePointer(errorSlot().buffer)
}

/// Frees a string returned by the API (JSON results).
@_cdecl("tweedie_string_free")
public func tweedie_string_free(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}

// MARK: Handles

private final class ModelBox { let model: MixtureModel; init(_ model: MixtureModel) { self.model = model } }
private final class OracleBox { let oracle: Oracle; init(_ oracle: Oracle) { self.oracle = oracle } }
private final class PrunedBox {
    let denoiser: PrunedDataSetDenoiser
    init(_ denoiser: PrunedDataSetDenoiser) { self.denoiser = denoiser }
}

private func model(_ handle: UnsafeMutableRawPointer?) throws -> MixtureModel {
    guard let handle else { throw CallError("model: null handle") }
    return Unmanaged<ModelBox>.fromOpaque(handle).takeUnretainedValue().model
}

private func oracle(_ handle: UnsafeMutableRawPointer?) throws -> Oracle {
    guard let handle else { throw CallError("oracle: null handle") }
    return Unmanaged<OracleBox>.fromOpaque(handle).takeUnretainedValue().oracle
}

private func string(_ text: UnsafePointer<CChar>?, _ name: String) throws -> String {
    guard let text else { throw CallError("\(name): null string") }
    return String(cString: text)
}

private func doubles(_ pointer: UnsafePointer<Double>?, _ count: Int, _ name: String) throws -> [Double] {
    guard count >= 0 else { throw CallError("\(name): negative size \(count)") }
    guard count > 0 else { return [] }
    guard let pointer else { throw CallError("\(name): null buffer") }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
}

private func matrix(_ pointer: UnsafePointer<Double>?, rows: Int, columns: Int, _ name: String) throws -> Matrix {
    guard rows >= 0, columns >= 0 else { throw CallError("\(name): negative shape \(rows)×\(columns)") }
    guard let count = ShapeArithmetic.elementCount([rows, columns]) else {
        throw CallError("\(name): shape \(rows)×\(columns) is too large")
    }
    return Matrix(rows: rows, columns: columns, elements: try doubles(pointer, count, name))
}

/// Points as the caller holds them (B × the model's point dimension) in the model's own coordinates:
/// reduced for a model with a zero centre of mass (docs/math.md §13.1), else as given.
private func modelPoints(_ m: MixtureModel, _ pointer: UnsafePointer<Double>?, rows: Int, columns: Int,
                         _ name: String) throws -> Matrix {
    let x = try matrix(pointer, rows: rows, columns: columns, name)
    guard m.zeroCentreOfMass != nil else { return x }
    guard columns == m.pointDimension else {
        throw CallError("\(name): points of \(columns) coordinates, the model's have \(m.pointDimension) "
                        + "(\(m.shape!.map(String.init).joined(separator: " × ")))")
    }
    return m.reduce(x)
}

/// The rows of D′×D′ matrices (posterior covariances) embedded on the subspace, flattened.
private func embeddedCovariances(_ m: MixtureModel, _ matrices: [Matrix]) -> [Double] {
    guard let subspace = m.zeroCentreOfMass else { return matrices.flatMap(\.elements) }
    return matrices.flatMap { subspace.embedSymmetric($0).elements }
}

private func write(_ values: [Double], to pointer: UnsafeMutablePointer<Double>?) {
    guard let pointer, !values.isEmpty else { return }
    values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
}

private func returnString(_ text: String, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) throws {
    guard let out else { throw CallError("out: null pointer") }
    out.pointee = strdup(text)
}

// MARK: Models

@_cdecl("tweedie_model_builtin")
public func tweedie_model_builtin(
    _ name: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> Int32 {
    call {
        let name = try string(name, "name")
        guard let m = BuiltinModels.named(name) else {
            throw CallError("model '\(name)': not a built-in model (\(BuiltinModels.names.joined(separator: ", ")))")
        }
        guard let out else { throw CallError("out: null pointer") }
        out.pointee = Unmanaged.passRetained(ModelBox(m)).toOpaque()
    }
}

@_cdecl("tweedie_model_load")
public func tweedie_model_load(
    _ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> Int32 {
    call {
        let url = URL(fileURLWithPath: try string(path, "path"))
        var m = try ModelFile.read(url)
        if m.name == nil { m.name = url.deletingPathExtension().lastPathComponent }
        guard let out else { throw CallError("out: null pointer") }
        out.pointee = Unmanaged.passRetained(ModelBox(m)).toOpaque()
    }
}

/// A model from bytes in the JSON model format (the Python package builds models this way).
@_cdecl("tweedie_model_from_json")
public func tweedie_model_from_json(_ bytes: UnsafePointer<UInt8>?, _ count: Int,
                                    _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    call {
        guard count >= 0, count == 0 || bytes != nil else { throw CallError("json: null or negative buffer") }
        let data = count == 0 ? Data() : Data(bytes: bytes!, count: count)
        let m = try ModelFile.decode(data, as: .json)
        guard let out else { throw CallError("out: null pointer") }
        out.pointee = Unmanaged.passRetained(ModelBox(m)).toOpaque()
    }
}

/// A model from the bytes of an .npz model file (the Python package builds large models this way:
/// no text round trip for millions of numbers).
@_cdecl("tweedie_model_from_npz")
public func tweedie_model_from_npz(_ bytes: UnsafePointer<UInt8>?, _ count: Int,
                                   _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    call {
        guard count > 0, let bytes else { throw CallError("npz: null or empty buffer") }
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes), count: count, deallocator: .none)
        let m = try ModelFile.decode(data, as: .npz)
        guard let out else { throw CallError("out: null pointer") }
        out.pointee = Unmanaged.passRetained(ModelBox(m)).toOpaque()
    }
}

/// D, K and the point shape of a model (`rank` entries, of which at most `capacity` are written
/// to `shape`; rank 0 when the model has none).
@_cdecl("tweedie_model_sizes")
public func tweedie_model_sizes(_ handle: UnsafeMutableRawPointer?, _ dimension: UnsafeMutablePointer<Int>?,
                                _ components: UnsafeMutablePointer<Int>?, _ shape: UnsafeMutablePointer<Int>?,
                                _ capacity: Int, _ rank: UnsafeMutablePointer<Int>?) -> Int32 {
    call {
        let m = try model(handle)
        dimension?.pointee = m.pointDimension
        components?.pointee = m.componentCount
        let sizes = m.shape ?? []
        rank?.pointee = sizes.count
        if let shape { for (i, n) in sizes.prefix(max(capacity, 0)).enumerated() { shape[i] = n } }
    }
}

/// The zero centre of mass of the model (docs/math.md §13.1): N atoms, d axes and D′ = (N − 1)·d
/// degrees of freedom, or three zeros for a model without one. Points go in and come out with
/// N·d coordinates (the dimension ``tweedie_model_sizes`` reports); standard normals given to
/// ``tweedie_sample`` have D′.
@_cdecl("tweedie_model_subspace")
public func tweedie_model_subspace(_ handle: UnsafeMutableRawPointer?, _ atoms: UnsafeMutablePointer<Int>?,
                                   _ axes: UnsafeMutablePointer<Int>?,
                                   _ degreesOfFreedom: UnsafeMutablePointer<Int>?) -> Int32 {
    call {
        let m = try model(handle)
        atoms?.pointee = m.zeroCentreOfMass?.atoms ?? 0
        axes?.pointee = m.zeroCentreOfMass?.axes ?? 0
        degreesOfFreedom?.pointee = m.zeroCentreOfMass == nil ? 0 : m.dimension
    }
}

/// The model in the JSON model format (a string freed with `tweedie_string_free`).
@_cdecl("tweedie_model_to_json")
public func tweedie_model_to_json(_ handle: UnsafeMutableRawPointer?,
                                  _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    call {
        let data = try ModelFile.encode(model(handle), as: .json)
        try returnString(String(decoding: data, as: UTF8.self), out)
    }
}

@_cdecl("tweedie_model_save")
public func tweedie_model_save(_ handle: UnsafeMutableRawPointer?, _ path: UnsafePointer<CChar>?) -> Int32 {
    call { try ModelFile.write(model(handle), to: URL(fileURLWithPath: try string(path, "path"))) }
}

/// log p_0(x) for the B rows of `x`, exactly, into `out` (B values); an error for priors without a
/// density (Dirac or singular components).
@_cdecl("tweedie_model_log_density")
public func tweedie_model_log_density(_ handle: UnsafeMutableRawPointer?, _ x: UnsafePointer<Double>?, _ rows: Int,
                                      _ columns: Int, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    call {
        let m = try model(handle)
        let points = try modelPoints(m, x, rows: rows, columns: columns, "x")
        try requirePoints(points, dimension: m.dimension, "x")
        guard out != nil || rows == 0 else { throw CallError("out: null buffer") }
        write(try PriorDensity(m.prior).logDensity(points), to: out)
    }
}

@_cdecl("tweedie_model_free")
public func tweedie_model_free(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<ModelBox>.fromOpaque(handle).release()
}

// MARK: Oracle

/// `precision` by name (null: float64).
private func parsePrecision(_ precision: UnsafePointer<CChar>?) throws -> Precision {
    let name = precision.map { String(cString: $0) } ?? Precision.float64.rawValue
    guard let parsed = Precision(rawValue: name) else {
        throw CallError("precision: unknown '\(name)' "
                        + "(known: \(Precision.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return parsed
}

/// An oracle for the model `handle`, in `precision` (float64, or float32 for data-set models; null
/// means float64), released with `tweedie_oracle_free`.
@_cdecl("tweedie_oracle_new")
public func tweedie_oracle_new(_ handle: UnsafeMutableRawPointer?, _ precision: UnsafePointer<CChar>?,
                               _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    call {
        let o = try Oracle(model(handle), precision: try parsePrecision(precision))
        guard let out else { throw CallError("out: null pointer") }
        out.pointee = Unmanaged.passRetained(OracleBox(o)).toOpaque()
    }
}

@_cdecl("tweedie_oracle_free")
public func tweedie_oracle_free(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<OracleBox>.fromOpaque(handle).release()
}

/// The rows of a batch grouped by their noise level: `levels` holds one (α, σ) for all rows
/// (count 1) or one per row (count B). Rows that share a level are evaluated in one call.
private func groupedByLevel(rows: Int, alpha: UnsafePointer<Double>?, sigma: UnsafePointer<Double>?,
                            levelCount: Int) throws -> [(level: NoiseLevel, rows: [Int])] {
    guard levelCount == 1 || levelCount == rows else {
        throw CallError("alpha, sigma: need 1 value or one per point (\(rows)), got \(levelCount)")
    }
    guard levelCount >= 1 else { return [] }  // no points and no levels: nothing to do
    let alphas = try doubles(alpha, levelCount, "alpha"), sigmas = try doubles(sigma, levelCount, "sigma")
    struct Key: Hashable { let alpha: UInt64, sigma: UInt64 }
    func key(_ r: Int) -> Key { Key(alpha: alphas[r].bitPattern, sigma: sigmas[r].bitPattern) }
    // One level repeated on every row (k-diffusion passes σ that way): one group, no table.
    if levelCount == 1 || (1..<levelCount).allSatisfy({ key($0) == key(0) }) {
        return [(NoiseLevel(alpha: alphas[0], sigma: sigmas[0]), Array(0..<rows))]
    }
    var groups: [(level: NoiseLevel, rows: [Int])] = []
    var index: [Key: Int] = [:]
    for r in 0..<rows {
        let key = key(r)
        if let g = index[key] { groups[g].rows.append(r) } else {
            index[key] = groups.count
            groups.append((NoiseLevel(alpha: alphas[r], sigma: sigmas[r]), [r]))
        }
    }
    return groups
}

private func gather(_ x: Matrix, _ rows: [Int]) -> Matrix {
    if rows.count == x.rows { return x }
    var out = Matrix(rows: rows.count, columns: x.columns)
    for (i, r) in rows.enumerated() { out.setRow(i, to: x.row(r)) }
    return out
}

private func scatter(_ values: [Double], width: Int, rows: [Int], total: Int,
                     into pointer: UnsafeMutablePointer<Double>?) {
    guard let pointer else { return }
    if rows.count == total { write(values, to: pointer); return }
    for (i, r) in rows.enumerated() {
        for j in 0..<width { pointer[r * width + j] = values[i * width + j] }
    }
}

/// Every oracle output for the B rows of `x` (B×D). Output buffers may be null to skip them;
/// `posterior_covariance` (B×D×D) and `component_means` (B×K×D) are computed only when given.
@_cdecl("tweedie_oracle_evaluate")
public func tweedie_oracle_evaluate(
    _ handle: UnsafeMutableRawPointer?, _ x: UnsafePointer<Double>?, _ rows: Int, _ columns: Int,
    _ alpha: UnsafePointer<Double>?, _ sigma: UnsafePointer<Double>?, _ levelCount: Int,
    _ logDensity: UnsafeMutablePointer<Double>?, _ responsibilities: UnsafeMutablePointer<Double>?,
    _ denoised: UnsafeMutablePointer<Double>?, _ noise: UnsafeMutablePointer<Double>?,
    _ standardizedNoise: UnsafeMutablePointer<Double>?, _ score: UnsafeMutablePointer<Double>?,
    _ divergence: UnsafeMutablePointer<Double>?, _ posteriorCovariance: UnsafeMutablePointer<Double>?,
    _ componentMeans: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let o = try oracle(handle), m = o.model
        let points = try modelPoints(m, x, rows: rows, columns: columns, "x")
        var extras: OracleExtras = []
        if posteriorCovariance != nil { extras.insert(.posteriorCovariance) }
        if componentMeans != nil { extras.insert(.componentMeans) }
        let d = columns, k = o.componentCount
        for group in try groupedByLevel(rows: rows, alpha: alpha, sigma: sigma, levelCount: levelCount) {
            let r = try o.evaluate(gather(points, group.rows), at: group.level, including: extras)
            scatter(r.logDensity, width: 1, rows: group.rows, total: rows, into: logDensity)
            scatter(r.responsibilities.elements, width: k, rows: group.rows, total: rows, into: responsibilities)
            scatter(m.embed(r.denoised).elements, width: d, rows: group.rows, total: rows, into: denoised)
            scatter(m.embed(r.noise).elements, width: d, rows: group.rows, total: rows, into: noise)
            scatter(m.embed(r.standardizedNoise).elements, width: d, rows: group.rows, total: rows,
                    into: standardizedNoise)
            scatter(m.embed(r.score).elements, width: d, rows: group.rows, total: rows, into: score)
            scatter(r.divergence, width: 1, rows: group.rows, total: rows, into: divergence)
            if let covariances = r.posteriorCovariance {
                scatter(embeddedCovariances(m, covariances), width: d * d, rows: group.rows, total: rows,
                        into: posteriorCovariance)
            }
            if let means = r.componentMeans {
                scatter(means.flatMap { m.embed($0).elements }, width: k * d, rows: group.rows, total: rows,
                        into: componentMeans)
            }
        }
    }
}

/// ``tweedie_oracle_denoise`` at one noise level (α, σ) for every row, passed by value: the
/// fast path of a sampler step from the host.
@_cdecl("tweedie_oracle_denoise_level")
public func tweedie_oracle_denoise_level(
    _ handle: UnsafeMutableRawPointer?, _ x: UnsafePointer<Double>?, _ rows: Int, _ columns: Int,
    _ alpha: Double, _ sigma: Double, _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let o = try oracle(handle)
        let points = try modelPoints(o.model, x, rows: rows, columns: columns, "x")
        guard out != nil || rows == 0 else { throw CallError("out: null buffer") }
        let denoised = try o.denoise(points, at: NoiseLevel(alpha: alpha, sigma: sigma))
        write(o.model.embed(denoised).elements, to: out)
    }
}

/// E[x_0 | x_t] alone (the fast path), into `out` (B×D).
@_cdecl("tweedie_oracle_denoise")
public func tweedie_oracle_denoise(
    _ handle: UnsafeMutableRawPointer?, _ x: UnsafePointer<Double>?, _ rows: Int, _ columns: Int,
    _ alpha: UnsafePointer<Double>?, _ sigma: UnsafePointer<Double>?, _ levelCount: Int,
    _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let o = try oracle(handle)
        let points = try modelPoints(o.model, x, rows: rows, columns: columns, "x")
        guard out != nil || rows == 0 else { throw CallError("out: null buffer") }
        for group in try groupedByLevel(rows: rows, alpha: alpha, sigma: sigma, levelCount: levelCount) {
            let denoised = o.model.embed(try o.denoise(gather(points, group.rows), at: group.level))
            scatter(denoised.elements, width: columns, rows: group.rows, total: rows, into: out)
        }
    }
}

// MARK: Certified pruning (data sets)

/// A data set's denoiser with certified pruning (docs/math.md §2.8): each point within
/// `tolerance` ‖x_t‖ of the exact one, certified. Built once (principal directions, a Float32 copy
/// of the atoms); free it with ``tweedie_pruned_free``.
@_cdecl("tweedie_pruned_new")
public func tweedie_pruned_new(_ handle: UnsafeMutableRawPointer?, _ tolerance: Double,
                               _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    call {
        let denoiser = try PrunedDataSetDenoiser(Oracle(try model(handle)), tolerance: tolerance)
        guard let out else { throw CallError("out: null pointer") }
        out.pointee = Unmanaged.passRetained(PrunedBox(denoiser)).toOpaque()
    }
}

@_cdecl("tweedie_pruned_free")
public func tweedie_pruned_free(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<PrunedBox>.fromOpaque(handle).release()
}

/// The pruned denoiser at one level per point or one for all (as ``tweedie_oracle_denoise``):
/// x̂_0 into `out` (B×D), and per point the certified error bound, the bound on the neglected
/// posterior mass and the number of components weighed (K where the point was answered exactly)
/// into `bounds`, `masses` and `kept` (B each; any of the three may be null).
@_cdecl("tweedie_pruned_denoise")
public func tweedie_pruned_denoise(
    _ handle: UnsafeMutableRawPointer?, _ x: UnsafePointer<Double>?, _ rows: Int, _ columns: Int,
    _ alpha: UnsafePointer<Double>?, _ sigma: UnsafePointer<Double>?, _ levelCount: Int,
    _ out: UnsafeMutablePointer<Double>?, _ bounds: UnsafeMutablePointer<Double>?,
    _ masses: UnsafeMutablePointer<Double>?, _ kept: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        guard let handle else { throw CallError("pruned: null handle") }
        let denoiser = Unmanaged<PrunedBox>.fromOpaque(handle).takeUnretainedValue().denoiser
        let m = denoiser.oracle.model
        let points = try modelPoints(m, x, rows: rows, columns: columns, "x")
        guard out != nil || rows == 0 else { throw CallError("out: null buffer") }
        for group in try groupedByLevel(rows: rows, alpha: alpha, sigma: sigma, levelCount: levelCount) {
            let result = try denoiser.denoiseCertified(gather(points, group.rows), at: group.level)
            scatter(m.embed(result.denoised).elements, width: columns, rows: group.rows, total: rows, into: out)
            scatter(result.errorBounds, width: 1, rows: group.rows, total: rows, into: bounds)
            scatter(result.neglectedMass, width: 1, rows: group.rows, total: rows, into: masses)
            scatter(result.keptCounts.map(Double.init), width: 1, rows: group.rows, total: rows, into: kept)
        }
    }
}

/// The certificate of the last ``tweedie_sample`` on this thread that pruned: 6 values into `out`
/// (the largest certified error bound, the largest bound relative to ‖x_t‖, the largest neglected
/// mass, the share of components weighed in pruned point-calls, the point-calls answered exactly,
/// all point-calls).
@_cdecl("tweedie_last_certificate")
public func tweedie_last_certificate(_ out: UnsafeMutablePointer<Double>?) -> Int32 {
    call {
        guard let values = Thread.current.threadDictionary[certificateKey] as? [Double] else {
            throw CallError("certificate: the last tweedie_sample on this thread did not prune")
        }
        write(values, to: out)
    }
}

private let certificateKey = "tweedie.last-certificate"

/// What top-k truncation and single-precision distances drop (``TruncationStudy``) on the levels
/// of `schedule`'s grid with `steps` intervals: a JSON object {"ks", "count", "radius", "levels":
/// [{"sigma", "alpha", "neglected_mass": [[mean, largest] per k], "truncation_error": [...],
/// "float32_weight_distance": [mean, largest], "float32_error": [mean, largest]}]} into `out`
/// (free it with ``tweedie_string_free``).
@_cdecl("tweedie_truncation_study")
public func tweedie_truncation_study(
    _ handle: UnsafeMutableRawPointer?, _ ks: UnsafePointer<Double>?, _ kCount: Int, _ count: Int, _ seed: UInt64,
    _ schedule: UnsafePointer<CChar>?, _ steps: Int, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    call {
        let m = try model(handle)
        let values = try doubles(ks, kCount, "k")
        guard values.allSatisfy({ $0 >= 1 && $0 <= 1e15 && $0 == $0.rounded() }) else {
            throw CallError("k: expected positive integers, got \(values)")
        }
        let grid = try Schedule.named(try string(schedule, "schedule"))
        let path = try SamplerConfiguration(parsing: "euler").path(schedule: grid, steps: steps)
        let study = try TruncationStudy(model: m, levels: path.levels, ks: values.map { Int($0) }, count: count,
                                        seed: seed)
        func pair(_ f: TruncationStudy.Figure) -> String { "[\(json(f.mean)), \(json(f.largest))]" }
        let levels = study.levels.map { level in
            "{\"sigma\": \(json(level.level.sigma)), \"alpha\": \(json(level.level.alpha)), "
                + "\"neglected_mass\": [\(level.neglectedMass.map(pair).joined(separator: ", "))], "
                + "\"truncation_error\": [\(level.truncationError.map(pair).joined(separator: ", "))], "
                + "\"float32_weight_distance\": \(pair(level.singlePrecisionWeightDistance)), "
                + "\"float32_error\": \(pair(level.singlePrecisionError))}"
        }
        try returnString("{\"ks\": [\(study.ks.map(String.init).joined(separator: ", "))], \"count\": \(study.count), "
                         + "\"radius\": \(json(study.radius)), \"levels\": [\(levels.joined(separator: ", "))]}", out)
    }
}

// MARK: Time grids by exact KL

/// The method of a sampler named as the command line names it, for the exact KL of a grid.
private func gridMethod(_ sampler: UnsafePointer<CChar>?) throws -> ExactGridKL.Method {
    let text = try string(sampler, "sampler")
    guard let method = ExactGridKL.Method(try SamplerConfiguration(parsing: text)) else {
        throw CallError("sampler: \(text) is not a deterministic linear sampler; the exact KL of a grid needs "
                        + "euler, ddim (eta = 0), heun without churn or dpmpp-2m")
    }
    return method
}

/// The exact KL(q_N ‖ p_0) of `sampler` on the grid of `count` levels σ̃ (decreasing, without the
/// final 0) and its gradient (`count` values; may be null). A model of several components is
/// replaced by its Gaussian fit.
@_cdecl("tweedie_grid_kl")
public func tweedie_grid_kl(
    _ handle: UnsafeMutableRawPointer?, _ sampler: UnsafePointer<CChar>?, _ levels: UnsafePointer<Double>?,
    _ count: Int, _ kl: UnsafeMutablePointer<Double>?, _ gradient: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        guard let kl else { throw CallError("kl: null buffer") }
        let objective = try ExactGridKL(model: try model(handle), method: try gridMethod(sampler), fitting: true)
        let result = try objective.divergenceAndGradient(levels: try doubles(levels, count, "levels"))
        kl.pointee = result.kl
        write(result.gradient, to: gradient)
    }
}

/// The mean (D) and covariance (D×D, row-major) of the model's p_0, by the law of total covariance
/// (either buffer may be null).
@_cdecl("tweedie_model_moments")
public func tweedie_model_moments(
    _ handle: UnsafeMutableRawPointer?, _ mean: UnsafeMutablePointer<Double>?,
    _ covariance: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let prior = try model(handle).prior
        write(prior.mean, to: mean)
        if covariance != nil {
            try MemoryBudget.require("model", "its covariance D × D", elements: [prior.dimension, prior.dimension])
            write(prior.covariance.elements, to: covariance)
        }
    }
}

/// KL(N(m1, s1) ‖ N(m2, s2)) in dimension `dimension` (covariances row-major, positive definite).
@_cdecl("tweedie_gaussian_kl")
public func tweedie_gaussian_kl(
    _ dimension: Int, _ m1: UnsafePointer<Double>?, _ s1: UnsafePointer<Double>?, _ m2: UnsafePointer<Double>?,
    _ s2: UnsafePointer<Double>?, _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        guard dimension >= 1 else { throw CallError("dimension: must be at least 1, got \(dimension)") }
        guard let out else { throw CallError("out: null buffer") }
        out.pointee = try GaussianKL.divergence(
            mean: try doubles(m1, dimension, "m1"),
            covariance: try matrix(s1, rows: dimension, columns: dimension, "s1"),
            referenceMean: try doubles(m2, dimension, "m2"),
            referenceCovariance: try matrix(s2, rows: dimension, columns: dimension, "s2"))
    }
}

/// The grid of least exact KL for `sampler` within `calls` model calls, beside the published
/// grids, as JSON (free with tweedie_string_free). sigma_max, sigma_min: NaN for the schedule's.
@_cdecl("tweedie_schedule_optimize")
public func tweedie_schedule_optimize(
    _ handle: UnsafeMutableRawPointer?, _ sampler: UnsafePointer<CChar>?, _ calls: Int,
    _ schedule: UnsafePointer<CChar>?, _ sigmaMax: Double, _ sigmaMin: Double, _ keepEnd: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    call {
        let method = try gridMethod(sampler)
        guard calls >= 1, method.levels(calls: calls) <= ExactGridKL.maximumLevels else {
            throw CallError("calls: between 1 and \(method.modelCalls(levels: ExactGridKL.maximumLevels)) for "
                            + "\(method.rawValue), got \(calls)")
        }
        let grid = try Schedule.named(try string(schedule, "schedule"))
        let range = try scaledNoiseRange(of: grid)
        let top = sigmaMax.isNaN ? range.max : sigmaMax, bottom = sigmaMin.isNaN ? range.min : sigmaMin
        let objective = try ExactGridKL(model: try model(handle), method: method, fitting: true)
        let n = method.levels(calls: calls)
        let optimum = try OptimalGrid(objective, count: n, sigmaMax: top, sigmaMin: bottom, freeEnd: keepEnd == 0)
        func numbers(_ values: [Double]) -> String { "[" + values.map(json).joined(separator: ", ") + "]" }
        let times = try optimum.levels.map { try grid.time(logSNR: -log($0)) }
        var published: [String] = []
        for kind in PublishedGrid.allCases {
            let levels = kind.levels(count: n, sigmaMax: top, sigmaMin: bottom)
            published.append("\"\(kind.rawValue)\": {\"sigmas\": \(numbers(levels + [0])), "
                             + "\"kl\": \(json(try objective.divergence(levels: levels)))}")
        }
        try returnString("{\"method\": \"\(method.rawValue)\", \"model_calls\": \(method.modelCalls(levels: n)), "
                         + "\"gaussian_fit\": \(objective.usesGaussianFit), "
                         + "\"initialization_floor\": \(json(objective.initializationFloor(sigmaMax: top))), "
                         + "\"sigmas\": \(numbers(optimum.levels + [0])), \"times\": \(numbers(times)), "
                         + "\"kl\": \(json(optimum.kl)), \"gradient_norm\": \(json(optimum.gradientNorm)), "
                         + "\"intervals_at_floor\": \(optimum.intervalsAtFloor), "
                         + "\"published\": {\(published.joined(separator: ", "))}}", out)
    }
}

/// A finite number as JSON writes it (the study's figures are finite).
private func json(_ value: Double) -> String { value.isFinite ? "\(value)" : "null" }

// MARK: Schedules

/// α, σ, λ, dα/dt, dσ/dt at each of `count` times of the schedule named `name`, into five
/// buffers of `count` values (any may be null).
@_cdecl("tweedie_schedule_evaluate")
public func tweedie_schedule_evaluate(
    _ name: UnsafePointer<CChar>?, _ times: UnsafePointer<Double>?, _ count: Int,
    _ alpha: UnsafeMutablePointer<Double>?, _ sigma: UnsafeMutablePointer<Double>?,
    _ logSNR: UnsafeMutablePointer<Double>?, _ alphaDerivative: UnsafeMutablePointer<Double>?,
    _ sigmaDerivative: UnsafeMutablePointer<Double>?, _ range: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let schedule = try Schedule.named(try string(name, "schedule"))
        if let range {
            range[0] = schedule.timeRange.lowerBound
            range[1] = schedule.timeRange.upperBound
        }
        for (i, t) in try doubles(times, count, "t").enumerated() {
            let c = try schedule.coefficients(at: t)
            alpha?[i] = c.alpha
            sigma?[i] = c.sigma
            logSNR?[i] = c.logSNR
            alphaDerivative?[i] = schedule.alphaDerivative(t)
            sigmaDerivative?[i] = schedule.sigmaDerivative(t)
        }
    }
}

// MARK: Sampling

/// A host-language model: `callback(context, x, rows, columns, alpha, sigma, out)` writes the
/// model's output for the rows of x (B×D, all at the level α, σ) into `out` (B×D) and returns 0,
/// or non-zero after setting its own error (which the sampler then reports).
public typealias TweedieModelCallback = @convention(c) (
    UnsafeMutableRawPointer?, UnsafePointer<Double>?, Int, Int, Double, Double, UnsafeMutablePointer<Double>?
) -> Int32

private struct CallbackFailure: Error, CustomStringConvertible {
    let description: String
}

private final class ObservationBox {
    let observation: LinearObservation
    init(_ observation: LinearObservation) { self.observation = observation }
}

/// An observation y = A x_0 + n as a handle, for guided sampling: A (`observed` × `dimension`), y
/// (`observed`), and Σ_y from `noiseCovariance` (`observed` × `observed`) when it is not null, else
/// σ_y² I with σ_y = `noiseStd`. Released with ``tweedie_observation_free``.
@_cdecl("tweedie_observation_new")
public func tweedie_observation_new(
    _ a: UnsafePointer<Double>?, _ observed: Int, _ dimension: Int, _ y: UnsafePointer<Double>?,
    _ noiseCovariance: UnsafePointer<Double>?, _ noiseStd: Double,
    _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> Int32 {
    call {
        guard let out else { throw CallError("out: null pointer") }
        let given = try observation(a, observed: observed, dimension: dimension, y, noiseCovariance: noiseCovariance,
                                    noiseStd: noiseStd)
        out.pointee = Unmanaged.passRetained(ObservationBox(given)).toOpaque()
    }
}

@_cdecl("tweedie_observation_free")
public func tweedie_observation_free(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<ObservationBox>.fromOpaque(handle).release()
}

/// A host's network, called through `callback` with `context`.
private func networkFunction(_ callback: @escaping TweedieModelCallback,
                             context: UnsafeMutableRawPointer?) -> SampleRequest.NetworkFunction {
    let box = UncheckedSendable((callback, context))
    return { x, level in
        var output = Matrix(rows: x.rows, columns: x.columns)
        let status = x.elements.withUnsafeBufferPointer { xp in
            output.elements.withUnsafeMutableBufferPointer { op in
                box.value.0(box.value.1, xp.baseAddress, x.rows, x.columns, level.alpha, level.sigma, op.baseAddress)
            }
        }
        guard status == 0 else { throw CallbackFailure(description: "the model callback failed") }
        return output
    }
}

/// Samples as the JSON sampling request `request` says (``SampleRequest``'s JSON form: sampler,
/// sampler_options, schedule, grid, steps, count, seed, batch_size, precision, guidance, network),
/// driven by the model `handle`'s exact oracle or, when the request names a `network`, by
/// `callback` (with `handle`, if not null, supplying the noise covariance Σ). `observation` (an
/// observation handle, or null) is what guidance steers towards; `initial` (count×D standard
/// normals) may be null. Writes count×D samples to `out`.
@_cdecl("tweedie_sample")
public func tweedie_sample(
    _ handle: UnsafeMutableRawPointer?, _ callback: TweedieModelCallback?, _ context: UnsafeMutableRawPointer?,
    _ request: UnsafePointer<CChar>?, _ observation: UnsafeMutableRawPointer?, _ initial: UnsafePointer<Double>?,
    _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        var parsed = try SampleRequest(json: Data(try string(request, "request").utf8))
        parsed.observation = observation.map {
            Unmanaged<ObservationBox>.fromOpaque($0).takeUnretainedValue().observation
        }
        if parsed.network != nil, callback == nil {
            throw CallError("callback: the request names a network, but the callback is null")
        }
        let network = parsed.network == nil ? nil : callback.map { networkFunction($0, context: context) }
        let setup = try parsed.prepare(model: try handle.map(model), network: network)
        // Standard normals in the model's coordinates (D′ per sample with a zero centre of mass);
        // samples out as the caller sees points (embedded on the subspace).
        let d = setup.dimension, count = parsed.count
        let z = try initial.map { try matrix($0, rows: count, columns: d, "init") }
        if let z { try requirePoints(z, "init") }
        guard let out else { throw CallError("out: null buffer") }
        let embedded = setup.model?.zeroCentreOfMass
        let width = embedded?.ambientDimension ?? d
        try MemoryBudget.require("count", "\(count) samples × D = \(width)", elements: [count, width])
        _ = try setup.run(standardNormals: z, keepsSamples: false, onBatch: { range, batch in
            let points = embedded.map { $0.embed(batch) } ?? batch
            points.elements.withUnsafeBufferPointer {
                out.advanced(by: range.lowerBound * width).update(from: $0.baseAddress!, count: $0.count)
            }
        })
        if let c = setup.certificates?.summary {
            Thread.current.threadDictionary[certificateKey] = [
                c.largestErrorBound, c.largestRelativeErrorBound, c.largestNeglectedMass,
                c.prunedPairs > 0 ? c.keptPairs / c.prunedPairs : 1, Double(c.exactPoints), Double(c.points)]
        } else {
            Thread.current.threadDictionary[certificateKey] = nil
        }
    }
}

/// Draws `samples` (rows × columns, columns = D) over contours of the model's density to the SVG
/// file `path` (written atomically), titled `title`: the picture of `tweedie sample --plot`, the
/// first two principal axes of the model when D > 2.
@_cdecl("tweedie_plot_samples")
public func tweedie_plot_samples(
    _ handle: UnsafeMutableRawPointer?, _ samples: UnsafePointer<Double>?, _ rows: Int, _ columns: Int,
    _ title: UnsafePointer<CChar>?, _ path: UnsafePointer<CChar>?
) -> Int32 {
    call {
        let m = try model(handle)
        let x = try modelPoints(m, samples, rows: rows, columns: columns, "samples")
        try requirePoints(x, "samples")
        try writeSamplePlot(model: m, oracle: try Oracle(m), samples: x, title: try string(title, "title"),
                            to: URL(fileURLWithPath: try string(path, "path")))
    }
}

/// The observation y = A x_0 + n from C buffers: A (d_y×D), y (d_y), and Σ_y (d_y×d_y) when
/// `noiseCovariance` is given, else σ_y² I with σ_y = `noiseStd`.
private func observation(_ a: UnsafePointer<Double>?, observed dy: Int, dimension d: Int, _ y: UnsafePointer<Double>?,
                         noiseCovariance: UnsafePointer<Double>?, noiseStd: Double) throws -> LinearObservation {
    guard dy >= 1 else { throw CallError("operator: needs at least one row, got d_y = \(dy)") }
    let operatorMatrix = try matrix(a, rows: dy, columns: d, "operator")
    let values = try doubles(y, dy, "y")
    if let noiseCovariance {
        let s = try matrix(noiseCovariance, rows: dy, columns: dy, "noise_covariance")
        return try LinearObservation(operator: operatorMatrix, y: values,
                                     noise: NoiseCovariance(.full(s), dimension: dy, field: "noise_covariance"))
    }
    return try LinearObservation(operator: operatorMatrix, y: values, noiseStandardDeviation: noiseStd)
}

/// The exact posterior p(x_0 | y) of the model `handle` (docs/math.md §11.2) as a new model handle in
/// `out`, with log p(y) in `logEvidence` and the K component evidences log N(y; A μ_k, S_k) in
/// `componentEvidence`.
@_cdecl("tweedie_posterior")
public func tweedie_posterior(
    _ handle: UnsafeMutableRawPointer?, _ a: UnsafePointer<Double>?, _ observed: Int, _ y: UnsafePointer<Double>?,
    _ noiseCovariance: UnsafePointer<Double>?, _ noiseStd: Double,
    _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ logEvidence: UnsafeMutablePointer<Double>?,
    _ componentEvidence: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let prior = try model(handle)
        let given = try observation(a, observed: observed, dimension: prior.dimension, y,
                                    noiseCovariance: noiseCovariance, noiseStd: noiseStd)
        let posterior = try ExactPosterior(prior: prior, observation: given)
        guard let out, let logEvidence, let componentEvidence else { throw CallError("out: null pointer") }
        logEvidence.pointee = posterior.logEvidence
        write(posterior.componentLogEvidence, to: componentEvidence)
        out.pointee = Unmanaged.passRetained(ModelBox(posterior.model)).toOpaque()
    }
}

/// KL(q_N ‖ p_0) of a deterministic linear sampler on the model `handle`'s oracle (docs/math.md §12):
/// `count` samples from `seed` (sample i as in ``tweedie_sample``), from the Gaussian start
/// (`start` "gaussian") or the exact p_{t_0} ("marginal"). Writes 8 values to `out`: the
/// control-variate estimate and its standard error, the plain estimate and its standard error,
/// the effective sample size, the count, and KL(p_0 ‖ q_N) with its standard error (NaN where the
/// importance weights cannot be trusted).
@_cdecl("tweedie_sampler_kl")
public func tweedie_sampler_kl(
    _ handle: UnsafeMutableRawPointer?, _ sampler: UnsafePointer<CChar>?, _ schedule: UnsafePointer<CChar>?,
    _ steps: Int, _ count: Int, _ seed: UInt64, _ start: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let m = try model(handle)
        let configuration = try SamplerConfiguration(parsing: try string(sampler, "sampler"))
        let path = try configuration.path(schedule: try Schedule.named(try string(schedule, "schedule")),
                                          steps: steps < 0 ? nil : steps)
        let startText = try string(start, "start")
        guard let law = SamplerOutputDensity.StartingLaw(rawValue: startText) else {
            throw CallError("start: unknown '\(startText)' (known: gaussian, marginal)")
        }
        guard count >= 2 else { throw CallError("count: KL needs at least 2 samples, got \(count)") }
        let sampler = configuration.makeSampler()
        guard SamplerOutputDensity.isSupported(sampler) else {
            throw CallError("sampler: \(sampler.name) with these options is not a deterministic linear sampler "
                            + "(euler, heun without churn, dpmpp-2m, ddim with eta = 0)")
        }
        do { _ = try PriorDensity(m.prior) } catch {
            throw CallError("model: p_0 has no density (\(error)); KL(q_N ‖ p_0) is undefined")
        }
        guard let kl = try SamplerKL(model: m, sampler: sampler, path: path, count: count, seed: seed,
                                     start: law) else {
            throw CallError("sampler: a sample's Jacobian is singular: q_N has no density")
        }
        guard let out else { throw CallError("out: null buffer") }
        write([kl.controlVariateKL, kl.controlVariateStandardError, kl.plainKL, kl.plainStandardError,
               kl.effectiveSampleSize, Double(kl.count), kl.reverseKL ?? .nan, kl.reverseStandardError ?? .nan],
              to: out)
    }
}

/// The path KL of a stochastic sampler with Gaussian steps (ddpm, ddim with eta > 0,
/// euler-maruyama) to the exact reverse chain on its grid (docs/math.md §12.3), along `count` exact
/// paths from `seed`. Writes 4 values to `out`: the total and its standard error, the starting
/// mismatch KL(p_{t_0} ‖ N(0, σ_{t_0}² Σ)) and its standard error.
@_cdecl("tweedie_sampler_path_kl")
public func tweedie_sampler_path_kl(
    _ handle: UnsafeMutableRawPointer?, _ sampler: UnsafePointer<CChar>?, _ schedule: UnsafePointer<CChar>?,
    _ steps: Int, _ count: Int, _ seed: UInt64, _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let m = try model(handle)
        let configuration = try SamplerConfiguration(parsing: try string(sampler, "sampler"))
        let path = try configuration.path(schedule: try Schedule.named(try string(schedule, "schedule")),
                                          steps: steps < 0 ? nil : steps)
        let made = configuration.makeSampler()
        guard let stepper = made as? any GaussianStepSampler, !made.isDeterministic else {
            throw CallError("sampler: \(made.name) with these options does not take Gaussian random steps "
                            + "(ddpm, ddim with eta > 0, euler-maruyama)")
        }
        let kl = try SamplerPathKL(model: m, sampler: stepper, path: path, count: count, seed: seed)
        guard let out else { throw CallError("out: null buffer") }
        write([kl.total.mean, kl.total.standardError, kl.start.mean, kl.start.standardError], to: out)
    }
}

// MARK: Likelihood

/// log p_{t_min}(x) of each row of `x` by the probability-flow ODE (docs/math.md §5.2), with its
/// standard error (0 for the exact divergence) and the solver's function evaluations, into three
/// buffers of B values. `probes` ≤ 0 uses the exact divergence, otherwise Hutchinson's estimate;
/// `prior` is "marginal" or "gaussian"; NaN times take the schedule's defaults.
@_cdecl("tweedie_likelihood")
public func tweedie_likelihood(
    _ handle: UnsafeMutableRawPointer?, _ schedule: UnsafePointer<CChar>?, _ x: UnsafePointer<Double>?, _ rows: Int,
    _ columns: Int, _ prior: UnsafePointer<CChar>?, _ probes: Int, _ seed: UInt64, _ rtol: Double, _ atol: Double,
    _ tMin: Double, _ tMax: Double, _ logLikelihood: UnsafeMutablePointer<Double>?,
    _ standardError: UnsafeMutablePointer<Double>?, _ evaluations: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let o = try Oracle(model(handle))
        let priorText = try string(prior, "prior")
        guard let priorKind = ["marginal": ProbabilityFlowLikelihood.Prior.exactMarginal,
                               "gaussian": .gaussian][priorText] else {
            throw CallError("prior: must be marginal or gaussian, got '\(priorText)'")
        }
        let likelihood = try ProbabilityFlowLikelihood(
            oracle: o, schedule: Schedule.named(try string(schedule, "schedule")), prior: priorKind,
            divergence: probes > 0 ? .hutchinson(probes: probes, seed: seed) : .exact,
            relativeTolerance: rtol, absoluteTolerance: atol,
            startTime: tMin.isNaN ? nil : tMin, endTime: tMax.isNaN ? nil : tMax)
        let results = try likelihood.logLikelihood(modelPoints(o.model, x, rows: rows, columns: columns, "x"))
        write(results.map(\.logLikelihood), to: logLikelihood)
        write(results.map(\.standardError), to: standardError)
        write(results.map { Double($0.functionEvaluations) }, to: evaluations)
    }
}

// MARK: Evaluation

/// The measurements of `samples` (count×D) against the model's p_0 (as `tweedie sample` reports
/// them, each with its noise floor), as a JSON array of {name, label, value, noise_floor} objects.
@_cdecl("tweedie_evaluate")
public func tweedie_evaluate(
    _ handle: UnsafeMutableRawPointer?, _ samples: UnsafePointer<Double>?, _ rows: Int, _ columns: Int,
    _ seed: UInt64, _ projections: Int, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    call {
        let m = try model(handle)
        let x = try modelPoints(m, samples, rows: rows, columns: columns, "samples")
        let measurements = try SampleEvaluation.measure(x, model: m, seed: seed,
                                                        options: .init(projections: projections))
        try returnString(String(decoding: Measurement.json(measurements), as: UTF8.self), out)
    }
}

// MARK: Molecules

/// The frames of a molecular file (.xyz, .extxyz, .sdf, .mol, .pdb; `selection` "all" or "ca" for
/// PDB's Cα atoms, null for all) as a JSON object {"symbols": [N], "titles": [F], "frames": [[3N] × F]}
/// into `out` (free it with ``tweedie_string_free``).
@_cdecl("tweedie_molecules_read")
public func tweedie_molecules_read(_ path: UnsafePointer<CChar>?, _ selection: UnsafePointer<CChar>?,
                                   _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    call {
        let name = selection.map { String(cString: $0) } ?? "all"
        guard let chosen = MolecularFile.Selection(rawValue: name) else {
            throw CallError("atoms: must be all or ca, got '\(name)'")
        }
        let c = try MolecularFile.read(URL(fileURLWithPath: try string(path, "path")), selection: chosen)
        func quoted(_ text: String) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: [text])) ?? Data("[\"\"]".utf8)
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        }
        var json = "{\"symbols\": [" + c.symbols.map(quoted).joined(separator: ", ") + "], \"titles\": ["
            + c.titles.map(quoted).joined(separator: ", ") + "], \"frames\": ["
        json += (0..<c.frameCount).map { f in
            "[" + c.frames.row(f).map(\.description).joined(separator: ", ") + "]"
        }.joined(separator: ", ")
        json += "]}"
        try returnString(json, out)
    }
}

/// Writes `rows` frames of `columns` = 3N coordinates to a molecular file (format by extension),
/// atomically; `symbols` holds the N element symbols separated by spaces, `titles` (may be null)
/// one title per frame separated by newlines.
@_cdecl("tweedie_molecules_write")
public func tweedie_molecules_write(_ path: UnsafePointer<CChar>?, _ symbols: UnsafePointer<CChar>?,
                                    _ frames: UnsafePointer<Double>?, _ rows: Int, _ columns: Int,
                                    _ titles: UnsafePointer<CChar>?) -> Int32 {
    call {
        let atoms = try string(symbols, "symbols").split(separator: " ").map(String.init)
        guard columns == 3 * atoms.count else {
            throw CallError("frames: \(columns) coordinates per frame for \(atoms.count) atoms (expected 3 per atom)")
        }
        let x = try matrix(frames, rows: rows, columns: columns, "frames")
        var named = titles.map { String(cString: $0).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init) }
        if let given = named, given.count != rows {
            guard given.count == 1 && given[0].isEmpty else {
                throw CallError("titles: \(given.count) titles for \(rows) frames")
            }
            named = nil
        }
        try MolecularFile.write(Conformers(symbols: atoms, frames: x, titles: named),
                                to: URL(fileURLWithPath: try string(path, "path")))
    }
}

/// The Kabsch superposition of `moving` onto `target` (N×3 each, docs/math.md §13.2): the rotation
/// (3×3, row-major) into `rotation`, the moving atoms centred, rotated and placed at the target's
/// centre into `aligned` (N×3), the RMSD into `rmsd`; any output may be null.
@_cdecl("tweedie_superpose")
public func tweedie_superpose(_ moving: UnsafePointer<Double>?, _ target: UnsafePointer<Double>?, _ atoms: Int,
                              _ rotation: UnsafeMutablePointer<Double>?, _ aligned: UnsafeMutablePointer<Double>?,
                              _ rmsd: UnsafeMutablePointer<Double>?) -> Int32 {
    call {
        let fit = try Superposition(moving: matrix(moving, rows: atoms, columns: 3, "moving"),
                                    onto: matrix(target, rows: atoms, columns: 3, "target"))
        write(fit.rotation.elements, to: rotation)
        write(fit.aligned.elements, to: aligned)
        rmsd?.pointee = fit.rmsd
    }
}

/// The harmonic oracle of a C call: the model's prior under the process of `atomMatrix` (N×N) or of
/// EigenFold's chain of `strength` (NaN: 3/3.8²).
private func harmonicOracle(_ handle: UnsafeMutableRawPointer?, _ atomMatrix: UnsafePointer<Double>?,
                            _ strength: Double) throws -> HarmonicOracle {
    let m = try model(handle)
    guard let shape = m.shape, shape.count == 2 else {
        throw CallError("model: a harmonic process needs points shaped [N, d]")
    }
    guard m.noise.isIdentity else {
        throw CallError("model: has its own noise covariance (\(m.noise.structure.name)); the harmonic process "
                        + "sets the noise")
    }
    let process: HarmonicProcess
    if let atomMatrix {
        process = try HarmonicProcess(atomMatrix: matrix(atomMatrix, rows: shape[0], columns: shape[0], "atom_matrix"),
                                      axes: shape[1], field: "atom_matrix")
    } else {
        process = try HarmonicProcess.chain(atoms: shape[0], strength: strength.isNaN ? 3 / (3.8 * 3.8) : strength,
                                            axes: shape[1])
    }
    return try HarmonicOracle(prior: m.zeroCentreOfMass == nil ? m.prior : m.ambientPrior(), process: process)
}

private final class HarmonicBox {
    let oracle: HarmonicOracle
    init(_ oracle: HarmonicOracle) { self.oracle = oracle }
}

private func harmonic(_ handle: UnsafeMutableRawPointer?) throws -> HarmonicOracle {
    guard let handle else { throw CallError("harmonic: null handle") }
    return Unmanaged<HarmonicBox>.fromOpaque(handle).takeUnretainedValue().oracle
}

/// The oracle of the model `handle` under a harmonic process (docs/math.md §13.4): the process of
/// `atomMatrix` (N×N, a connected graph's Laplacian) or, when it is null, EigenFold's chain of
/// `strength` (NaN: 3/3.8²); the model's points must be shaped [N, d] and its noise the identity.
/// Free it with ``tweedie_harmonic_free``.
@_cdecl("tweedie_harmonic_new")
public func tweedie_harmonic_new(_ handle: UnsafeMutableRawPointer?, _ atomMatrix: UnsafePointer<Double>?,
                                 _ strength: Double, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    call {
        let oracle = try harmonicOracle(handle, atomMatrix, strength)
        guard let out else { throw CallError("out: null pointer") }
        out.pointee = Unmanaged.passRetained(HarmonicBox(oracle)).toOpaque()
    }
}

@_cdecl("tweedie_harmonic_free")
public func tweedie_harmonic_free(_ handle: UnsafeMutableRawPointer?) {
    guard let handle else { return }
    Unmanaged<HarmonicBox>.fromOpaque(handle).release()
}

/// `count` samples of a harmonic process from exact draws of p_{t_max} to t_min, closed by
/// E[x_0 | x_{t_min}] (docs/math.md §13.5), into `out` (count × N d): the probability-flow ODE by
/// Dormand–Prince (`steps` = 0, tolerances `rtol`, `atol`) or the reverse SDE by Euler–Maruyama on
/// `steps` equal steps.
@_cdecl("tweedie_harmonic_sample")
public func tweedie_harmonic_sample(
    _ handle: UnsafeMutableRawPointer?, _ count: Int,
    _ seed: UInt64, _ tMax: Double, _ tMin: Double, _ steps: Int, _ rtol: Double, _ atol: Double,
    _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let flow = HarmonicFlow(oracle: try harmonic(handle), relativeTolerance: rtol, absoluteTolerance: atol)
        guard out != nil else { throw CallError("out: null buffer") }
        guard steps >= 0 else { throw CallError("steps: must be 0 (the ODE) or positive (the SDE), got \(steps)") }
        let samples = steps == 0 ? try flow.sample(count: count, seed: seed, from: tMax, to: tMin)
            : try flow.sampleSDE(count: count, seed: seed, from: tMax, to: tMin, steps: steps)
        write(samples.elements, to: out)
    }
}

/// x_t = A_t x_0 + S_t^{1/2} z for the rows of `x0` (B × N d) under a harmonic process, with z drawn
/// from `seed` (sample b, step 0, in mode coordinates), into `out` (B × N d, on the subspace).
@_cdecl("tweedie_harmonic_noise")
public func tweedie_harmonic_noise(
    _ handle: UnsafeMutableRawPointer?, _ x0: UnsafePointer<Double>?, _ rows: Int, _ columns: Int, _ t: Double,
    _ seed: UInt64, _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let oracle = try harmonic(handle)
        let points = try matrix(x0, rows: rows, columns: columns, "x0")
        try requirePoints(points, "x0")
        let stream = NoiseStream(seed: seed), d = oracle.process.dimension
        var z = Matrix(rows: rows, columns: d)
        for b in 0..<rows { z.setRow(b, to: stream.normals(sample: b, step: 0, count: d)) }
        guard out != nil || rows == 0 else { throw CallError("out: null buffer") }
        write(try oracle.noise(points, standardNormals: z, at: t).elements, to: out)
    }
}

/// log p_{t_min}(x) of the rows of `x` by the probability-flow ODE of a harmonic process to t_max and
/// the exact log p_{t_max} (docs/math.md §13.5), into `out` (B values).
@_cdecl("tweedie_harmonic_likelihood")
public func tweedie_harmonic_likelihood(
    _ handle: UnsafeMutableRawPointer?, _ x: UnsafePointer<Double>?, _ rows: Int, _ columns: Int, _ tMin: Double,
    _ tMax: Double, _ rtol: Double, _ atol: Double, _ out: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let flow = HarmonicFlow(oracle: try harmonic(handle), relativeTolerance: rtol, absoluteTolerance: atol)
        guard out != nil || rows == 0 else { throw CallError("out: null buffer") }
        let result = try flow.logLikelihood(matrix(x, rows: rows, columns: columns, "x"), from: tMin, to: tMax)
        write(result.values, to: out)
    }
}

/// The harmonic oracle `handle` (``tweedie_harmonic_new``) at time `t` for the B rows of `x`
/// (B × N d): log p_t (B), p(k | x_t) (B × K), E[x_0 | x_t] and the score (B × N d) into the buffers
/// given (any may be null).
@_cdecl("tweedie_harmonic_evaluate")
public func tweedie_harmonic_evaluate(
    _ handle: UnsafeMutableRawPointer?, _ t: Double,
    _ x: UnsafePointer<Double>?, _ rows: Int, _ columns: Int, _ logDensity: UnsafeMutablePointer<Double>?,
    _ responsibilities: UnsafeMutablePointer<Double>?, _ denoised: UnsafeMutablePointer<Double>?,
    _ score: UnsafeMutablePointer<Double>?
) -> Int32 {
    call {
        let oracle = try harmonic(handle)
        let r = try oracle.evaluate(matrix(x, rows: rows, columns: columns, "x"), at: t)
        write(r.logDensity, to: logDensity)
        write(r.responsibilities.elements, to: responsibilities)
        write(r.denoised.elements, to: denoised)
        write(r.score.elements, to: score)
    }
}

