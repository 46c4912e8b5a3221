import TweedieDiffusion
import Foundation
import TweedieDistributions
import TweedieLinearAlgebra

/// The exact oracle of a Gaussian-mixture prior under q(x_t | x_0) = N(α x_0, σ² Σ).
///
/// Construction does all the factorizing (docs/math.md §2): Σ's Cholesky factor (in the model) and an
/// eigendecomposition of each whitened component covariance. Each evaluation is then matrix
/// products and O(D) work per component and point, at any (α, σ):
///
/// ```swift
/// let oracle = try Oracle(model)
/// let result = try oracle.evaluate(x, alpha: 0.8, sigma: 0.6)
/// result.denoised   // E[x_0 | x_t]
/// ```
///
/// Points are processed in tiles of ``tileSize`` rows, and components in a fixed number of
/// groups, on all cores. Neither depends on the batch size or the thread count, and each row's
/// arithmetic is independent of the others, so a point's result is the same, bit for bit,
/// whatever batch it is evaluated in.
public struct Oracle: Sendable {
    public let model: MixtureModel
    let mixture: WhitenedMixture
    let dirac: DiracKernel.Tables?
    /// Set at D ≤ ``SmallDimensionKernel/maximumDimension`` for Gaussian components.
    let small: SmallDimensionKernel.Tables?
    /// The precision of ``denoise(_:at:)`` (``Precision/float32`` only for data-set models).
    public let precision: Precision
    let singlePrecision: DiracKernel.SinglePrecisionTables?
    /// Contiguous component ranges processed as separate tasks and merged in order.
    let componentGroups: [Range<Int>]
    /// Scratch memory kept from call to call (shared by copies of this oracle; thread-safe).
    let workspace = Workspace()

    /// Rows per tile.
    public static let tileSize = 256
    /// Tiles in flight at once: at least 8, more while their storage stays under 2^22 numbers
    /// (32 MiB). Each wave is one hand-off to the threads, which small tiles (small D and K)
    /// cannot amortize.
    var tilesPerWave: Int {
        let perTile = Self.tileSize * (4 * dimension + componentCount + componentGroups.count * (streamWidth + 4))
        return max(8, min(64, (1 << 22) / max(perTile, 1)))
    }
    /// Numbers per point in a ``StreamState``'s accumulator: [score | gain | mean sums] for Gaussian
    /// components, [Σ w μ | Σ w ν] for Dirac ones.
    var streamWidth: Int { (mixture.isDirac ? 2 : 3) * dimension }

    /// Points × components × D² (at least 8) below which a call runs on one thread.
    static let parallelWork = 1 << 15

    /// Factorizes `model` once. With `precision` ``Precision/float32`` (data-set models only),
    /// ``denoise(_:at:)`` runs its products in single precision (docs/math.md §2.7).
    public init(_ model: MixtureModel, precision: Precision = .float64) throws(ModelError) {
        self.model = model
        mixture = try WhitenedMixture(model)
        small = SmallDimensionKernel.Tables(mixture)
        self.precision = precision
        guard precision == .float64 || mixture.isDirac else {
            throw ModelError("precision", "float32 is for data-set models (Dirac components); "
                             + "this model's components are \(model.prior.covarianceType)")
        }
        let k = mixture.componentCount
        // Groups of components are tasks of their own (for small batches over many components);
        // each costs a merge per point, so a group gets at least a block of components.
        // Data sets split evenly (their stream keeps one level per group, so groups need no
        // alignment; with two threads and four groups, any imbalance is idle time).
        let block: Int, groupCount: Int, alignment: Int
        switch mixture.structure {
        case .dirac:
            dirac = DiracKernel.Tables(mixture)
            block = DiracKernel.smallestGroup
            groupCount = min(4, (k + block - 1) / block)
            alignment = 1
        case _ where small != nil:
            dirac = nil
            block = SmallDimensionKernel.groupSize
            groupCount = min(4, (k + block - 1) / block)
            alignment = block
        case .separateBases:
            dirac = nil
            block = 1
            groupCount = min(4, k)
            alignment = 1
        case .sharedBasis:
            dirac = nil
            block = 1
            groupCount = 1
            alignment = 1
        }
        componentGroups = Self.split(k, into: groupCount, aligned: alignment)
        singlePrecision = precision == .float32 ? DiracKernel.SinglePrecisionTables(mixture, tables: dirac!) : nil
    }

    static func split(_ count: Int, into groups: Int, aligned: Int) -> [Range<Int>] {
        let blocks = (count + aligned - 1) / aligned
        return (0..<groups).map { g in
            let lo = min(count, (blocks * g / groups) * aligned)
            let hi = min(count, (blocks * (g + 1) / groups) * aligned)
            return lo..<hi
        }.filter { !$0.isEmpty }
    }

    public var dimension: Int { mixture.dimension }
    public var componentCount: Int { mixture.componentCount }

    /// Checks a batch and a noise level; throws an ``ArgumentError`` naming the culprit.
    ///
    /// α² and σ² must be finite and σ² a normal number (about 1.5e-154 < σ < 1.3e154, α < 1.3e154):
    /// outside that range the squares the formulas need are not representable.
    public func validate(_ x: Matrix, alpha: Double, sigma: Double) throws(ArgumentError) {
        try Self.validateNoiseLevel(alpha: alpha, sigma: sigma)
        try requirePoints(x, dimension: dimension, "x")
    }

    /// Checks α ≥ 0 and σ > 0, with finite, normal squares.
    public static func validateNoiseLevel(alpha: Double, sigma: Double) throws(ArgumentError) {
        guard alpha.isFinite, alpha >= 0 else {
            throw ArgumentError("alpha", "must be finite and non-negative, got \(alpha)")
        }
        guard sigma.isFinite, sigma > 0 else {
            throw ArgumentError("sigma", "must be finite and positive, got \(sigma)")
        }
        guard (alpha * alpha).isFinite else {
            throw ArgumentError("alpha", "\(alpha) is too large: α² overflows Float64 (α must be below 1.3e154)")
        }
        guard (sigma * sigma).isFinite else {
            throw ArgumentError("sigma", "\(sigma) is too large: σ² overflows Float64 (σ must be below 1.3e154)")
        }
        guard (sigma * sigma).isNormal else {
            throw ArgumentError("sigma", "\(sigma) is too small: σ² underflows Float64 (σ must be above 1.5e-154)")
        }
    }

    /// Evaluates every oracle quantity for the rows of `x` (B×D) at signal scale `alpha` ≥ 0 and
    /// noise scale `sigma` > 0.
    ///
    /// Throws an ``ArgumentError`` for bad arguments, and for a point whose results are not
    /// representable in Float64 (e.g. log p_t below −1.8e308 far from every component): no
    /// output is ever NaN or infinite.
    public func evaluate(_ x: Matrix, at level: NoiseLevel,
                         including extras: OracleExtras = []) throws(ArgumentError) -> OracleResult {
        // The B×K responsibilities, the largest output, are written by the tiles straight into the
        // array returned (no copy of them afterwards).
        var output: OutputBuffers?
        var failure: ArgumentError?
        try requireOutputBudget(rows: x.rows)
        let responsibilities = [Double](unsafeUninitializedCapacity: x.rows * componentCount) { buffer, initialized in
            do throws(ArgumentError) {
                output = try compute(x, alpha: level.alpha, sigma: level.sigma, extras: extras, denoiseOnly: false,
                                     responsibilities: buffer.baseAddress)
                initialized = buffer.count
            } catch { failure = error }
        }
        if let failure { throw failure }
        return output!.makeResult(responsibilities: responsibilities)
    }

    /// ``evaluate(_:at:including:)`` at the level with signal scale `alpha` and noise scale `sigma`.
    public func evaluate(_ x: Matrix, alpha: Double, sigma: Double,
                         including extras: OracleExtras = []) throws(ArgumentError) -> OracleResult {
        try evaluate(x, at: NoiseLevel(alpha: alpha, sigma: sigma), including: extras)
    }

    /// The denoiser E[x_0 | x_t] alone (B×D): the same numbers as ``evaluate(_:at:including:)``'s
    /// `denoised`, bit for bit, without the work of the outputs a sampler discards (log-density,
    /// noise predictions, score, divergence).
    public func denoise(_ x: Matrix, at level: NoiseLevel) throws(ArgumentError) -> Matrix {
        let output = try compute(x, alpha: level.alpha, sigma: level.sigma, extras: [], denoiseOnly: true)
        return Matrix(rows: x.rows, columns: dimension,
                      elements: Array(UnsafeBufferPointer(start: output.denoised, count: x.rows * dimension)))
    }

    /// Throws unless the outputs of `rows` points fit in the memory budget.
    private func requireOutputBudget(rows b: Int) throws(ArgumentError) {
        try MemoryBudget.require("x", "the outputs for \(b) points (D = \(dimension), K = \(componentCount))",
                                 elements: [b, 4 * dimension + componentCount + 2])
    }

    private func compute(_ x: Matrix, alpha: Double, sigma: Double, extras: OracleExtras,
                         denoiseOnly: Bool,
                         responsibilities: UnsafeMutablePointer<Double>? = nil) throws(ArgumentError) -> OutputBuffers {
        try validate(x, alpha: alpha, sigma: sigma)
        let b = x.rows, k = componentCount
        try requireOutputBudget(rows: b)
        if extras.contains(.posteriorCovariance) {
            try MemoryBudget.require("x",
                                     "the posterior covariances of \(b) points (\(b) × \(dimension) × \(dimension))",
                                     elements: [b, dimension, dimension])
        }
        if extras.contains(.componentMeans) {
            try MemoryBudget.require("x", "the component means of \(b) points (\(b) × \(k) × \(dimension))",
                                     elements: [b, k, dimension])
        }
        let output = OutputBuffers(count: b, componentCount: k, dimension: dimension, extras: extras,
                                   denoiseOnly: denoiseOnly, responsibilities: responsibilities, workspace: workspace)
        guard b > 0 else { return output }
        let scales = mixture.isDirac ? nil : ComponentScales(mixture, alpha: alpha, sigma: sigma)
        let details = extras.isEmpty ? nil : PosteriorDetails(mixture, scales: scales, alpha: alpha, sigma: sigma,
                                                              covariance: extras.contains(.posteriorCovariance))
        let tileCount = (b + Self.tileSize - 1) / Self.tileSize
        // Below this much arithmetic a thread hand-off costs more than it saves; the tasks then run
        // in order on this thread, with the same results (each task writes only its own state).
        let parallel = b * k * max(dimension * dimension, 8) >= Self.parallelWork

        var firstTile = 0
        while firstTile < tileCount {
            let tiles = (firstTile..<min(tileCount, firstTile + tilesPerWave)).map { tile in
                Tile(rows: tileRows(tile, of: b), points: x, noise: model.noise, componentCount: k,
                     levelsPerRow: mixture.isDirac ? componentGroups.count : 0, workspace: workspace)
            }
            // One task per (tile, component group); each writes its own state and logit columns.
            let groups = componentGroups
            var states = [StreamState?](repeating: nil, count: tiles.count * groups.count)
            let statePointer = UncheckedSendable(states.withUnsafeMutableBufferPointer { $0.baseAddress! })
            Parallel.forEach(tiles.count * groups.count, parallel: parallel) { task in
                let tile = tiles[task / groups.count], g = task % groups.count
                var state = StreamState(rows: tile.paddedRows, width: streamWidth, workspace: workspace)
                stream(components: groups[g], scales: scales, alpha: alpha, sigma: sigma,
                       y: tile.whitened, rows: tile.paddedRows, logits: tile.logits,
                       levels: tile.levels + g, levelStride: tile.levelsPerRow, state: &state,
                       denoiserOnly: denoiseOnly)
                if groups.count == 1 {
                    // Nothing to merge: the tile is finished by the task that streamed it.
                    finish(tile, state: state, scales: scales, alpha: alpha, sigma: sigma, output: output,
                           keepResponsibilities: details != nil)
                    details?.evaluate(tile, output: output)
                    state.release(to: workspace)
                } else {
                    statePointer.value[task] = state
                }
            }
            if groups.count > 1 {
                Parallel.forEach(tiles.count, parallel: parallel) { slot in
                    var merged = statePointer.value[slot * groups.count]!
                    for g in 1..<groups.count { merged.merge(statePointer.value[slot * groups.count + g]!) }
                    finish(tiles[slot], state: merged, scales: scales, alpha: alpha, sigma: sigma, output: output,
                           keepResponsibilities: details != nil)
                    details?.evaluate(tiles[slot], output: output)
                    for g in 0..<groups.count { statePointer.value[slot * groups.count + g]!.release(to: workspace) }
                }
            }
            firstTile += tiles.count
        }
        try output.requireFinite(alpha: alpha, sigma: sigma)
        return output
    }

    func tileRows(_ tile: Int, of count: Int) -> Range<Int> {
        (tile * Self.tileSize)..<min(count, (tile + 1) * Self.tileSize)
    }

    private func stream(components: Range<Int>, scales: ComponentScales?, alpha: Double, sigma: Double,
                        y: UnsafePointer<Double>, rows: Int, logits: UnsafeMutablePointer<Double>,
                        levels: UnsafeMutablePointer<Double>, levelStride: Int, state: inout StreamState,
                        denoiserOnly: Bool) {
        if let small {
            SmallDimensionKernel.stream(mixture, tables: small, scales: scales!, components: components, y: y,
                                        rows: rows, logits: logits, state: &state, denoiserOnly: denoiserOnly)
            return
        }
        switch mixture.structure {
        case .dirac:
            if denoiserOnly, let singlePrecision {
                DiracKernel.streamSinglePrecision(mixture, tables: singlePrecision, alpha: alpha, sigma: sigma,
                                                  components: components, y: y, rows: rows, logits: logits,
                                                  state: &state)
                return
            }
            DiracKernel.stream(mixture, tables: dirac!, alpha: alpha, sigma: sigma, components: components,
                               y: y, rows: rows, logits: logits, levels: levels, levelStride: levelStride,
                               state: &state, workspace: workspace)
        case .separateBases(let bases, let basesTransposed):
            GaussianKernels.streamSeparateBases(mixture, bases: bases, basesTransposed: basesTransposed,
                                                scales: scales!, components: components, y: y, rows: rows,
                                                logits: logits, state: &state, workspace: workspace,
                                                denoiserOnly: denoiserOnly)
        case .sharedBasis(let basis, let basisTransposed, let projectedMeans):
            GaussianKernels.streamSharedBasis(mixture, basis: basis, basisTransposed: basisTransposed,
                                              projectedMeans: projectedMeans, scales: scales!, y: y, rows: rows,
                                              logits: logits, state: &state, workspace: workspace)
        }
    }

    /// From the merged sums of a tile to the outputs (docs/math.md §2, §3):
    /// log p_t = max + log Σw; r_k = exp(a_k − max)/Σw (for data sets, from the stream's weights);
    /// whitened score ŝ = Σ r_k ŝ_k;
    /// E[z | x_t] = −σ ŝ and E[ε | x_t] = −σ² L ŝ (Tweedie, without the cancellation of
    /// x_t − α x̂_0); x̂_0 = Σ r_k μ_k + L Σ r_k U_k(gain_k ⊙ z_k) (gain form);
    /// tr(ΣH) = Σ r_k ‖ŝ_k − ŝ‖² − Σ r_k Σ_i 1/d_{k,i}, the variance of the component scores
    /// refined by ``DivergenceRefinement`` wherever its short form could cancel.
    ///
    /// Every product runs on the whole padded tile, and only its real rows are copied out. With
    /// `keepResponsibilities` (the extras need them) the tile's logits become its responsibilities.
    private func finish(_ tile: Tile, state: StreamState, scales: ComponentScales?, alpha: Double, sigma: Double,
                        output: OutputBuffers, keepResponsibilities: Bool) {
        let n = tile.rows.count, np = tile.paddedRows, d = dimension, k = componentCount
        let first = tile.rows.lowerBound
        let responsibilities = tile.logits
        let whitenedScore = tile.score
        let denoised = tile.denoised
        let sums = state.accumulator, width = state.width
        if mixture.isDirac {
            // Accumulator row: [Σ w μ_k | Σ w ν_k] (Σ = I: ν_k = μ_k, only the first half is
            // accumulated); ŝ = −(y − α ν̄)/σ².
            let sigma2 = sigma * sigma
            let nuOffset = dirac!.meansAreWhitened ? 0 : d
            for b in 0..<np {
                let inverseSum = 1 / state.weightSum[b]
                for i in 0..<d {
                    denoised[b * d + i] = sums[b * width + i] * inverseSum
                    let meanNu = sums[b * width + nuOffset + i] * inverseSum
                    whitenedScore[b * d + i] = -(tile.whitened[b * d + i] - alpha * meanNu) / sigma2
                }
            }
        } else {
            // Accumulator row: [Σ w U(z/d) | Σ w U(gain ⊙ z) | Σ w μ].
            for b in 0..<np {
                let inverseSum = 1 / state.weightSum[b]
                for i in 0..<d {
                    whitenedScore[b * d + i] = -sums[b * width + i] * inverseSum
                    denoised[b * d + i] = sums[b * width + d + i] * inverseSum
                }
            }
            model.noise.apply(.unwhiten, rows: np, to: denoised)
            for b in 0..<np {
                let inverseSum = 1 / state.weightSum[b]
                for i in 0..<d { denoised[b * d + i] += sums[b * width + 2 * d + i] * inverseSum }
            }
        }
        output.denoised.advanced(by: first * d).update(from: denoised, count: n * d)
        if output.denoiseOnly { return }
        if mixture.isDirac {
            // The stream left w_k = exp(a_k − m), m the largest log-weight of the block's
            // component group (tile.levels): r_k = w_k · exp(m − max)/Σw, one product per
            // component, written straight to the output unless the extras read them from the tile.
            let groups = tile.levelsPerRow
            for b in 0..<(keepResponsibilities ? np : n) {
                let inverseSum = 1 / state.weightSum[b]
                let target = keepResponsibilities ? responsibilities + b * k
                                                  : output.responsibilities + (first + b) * k
                for (g, components) in componentGroups.enumerated() {
                    let scale = exp(tile.levels[b * groups + g] - state.rowMax[b]) * inverseSum
                    for c in components { target[c] = responsibilities[b * k + c] * scale }
                }
            }
        } else {
            for b in 0..<np {
                // exp(a_k − max)/Σw rather than exp(a_k − log p_t): no subtraction of two large
                // log-weights (log p_t ≈ −1e7 at t → 0 would cost 1e-9 in every r_k).
                let inverseSum = 1 / state.weightSum[b]
                for c in 0..<k {
                    responsibilities[b * k + c] = exp(responsibilities[b * k + c] - state.rowMax[b]) * inverseSum
                }
            }
        }
        if keepResponsibilities || !mixture.isDirac {
            output.responsibilities.advanced(by: first * k).update(from: responsibilities, count: n * k)
        }
        for b in 0..<n {
            var norm = 0.0
            for i in 0..<d {
                let s = whitenedScore[b * d + i]
                norm += s * s
                output.standardizedNoise[(first + b) * d + i] = -sigma * s
                tile.noise[b * d + i] = -sigma * sigma * s
            }
            let trace = state.traceSum[b] / state.weightSum[b]
            let secondMoment = state.normSum[b] / state.weightSum[b]
            let variance: Double
            if let dirac {
                variance = DivergenceRefinement.varianceOfAtoms(
                    mixture, tables: dirac, alpha: alpha, sigma: sigma, secondMoment: secondMoment,
                    meanSums: sums + b * width + (dirac.meansAreWhitened ? 0 : d),
                    inverseWeightSum: 1 / state.weightSum[b],
                    r: keepResponsibilities ? responsibilities + b * k : output.responsibilities + (first + b) * k)
            } else if let scales,
                      DivergenceRefinement.isNeeded(secondMoment: secondMoment, trace: trace, dimension: d) {
                variance = DivergenceRefinement.varianceOfComponentScores(
                    mixture, scales: scales, alpha: alpha, sigma: sigma, y: tile.whitened + b * d,
                    r: responsibilities + b * k, score: whitenedScore + b * d)
            } else {
                variance = secondMoment - norm
            }
            output.divergence[first + b] = variance - trace
            output.logDensity[first + b] = state.rowMax[b] + log(state.weightSum[b])
        }
        model.noise.apply(.unwhiten, rows: np, to: tile.noise)
        model.noise.apply(.whitenTransposed, rows: np, to: whitenedScore)
        output.noise.advanced(by: first * d).update(from: tile.noise, count: n * d)
        output.score.advanced(by: first * d).update(from: whitenedScore, count: n * d)
    }
}

/// One tile of points, padded with zero rows to a multiple of ``Tile/rowAlignment``.
///
/// BLAS kernels may round a row differently depending on where it falls in a call (OpenBLAS's
/// Haswell kernels treat a trailing odd row apart), so every product of the oracle runs on whole
/// padded tiles: a point's arithmetic is then the same in any batch.
final class Tile: @unchecked Sendable {
    static let rowAlignment = NoiseCovariance.rowAlignment

    /// The tile's rows in the batch.
    let rows: Range<Int>
    let paddedRows: Int
    /// One zeroed block holding the six arrays below, in their order, from the oracle's workspace.
    private let storage: UnsafeMutablePointer<Double>
    private let pointSize: Int, logitsSize: Int
    /// Numbers per row in ``levels``.
    let levelsPerRow: Int
    private let workspace: Workspace

    /// y = L⁻¹x, paddedRows × D (zero rows after the real ones).
    var whitened: UnsafeMutablePointer<Double> { storage }
    /// Log-weights (for data sets, the stream's weights), then responsibilities, paddedRows × K.
    var logits: UnsafeMutablePointer<Double> { storage + pointSize }
    /// Work space for the whitened score, the denoiser and E[ε | x_t], paddedRows × D each.
    var score: UnsafeMutablePointer<Double> { logits + logitsSize }
    var denoised: UnsafeMutablePointer<Double> { score + pointSize }
    var noise: UnsafeMutablePointer<Double> { denoised + pointSize }
    /// Data sets: per row and component group, the maximum against which the stream left the
    /// group's weights in ``logits`` (paddedRows × levelsPerRow).
    var levels: UnsafeMutablePointer<Double> { noise + pointSize }

    init(rows: Range<Int>, points x: Matrix, noise covariance: NoiseCovariance, componentCount k: Int,
         levelsPerRow: Int, workspace: Workspace) {
        let d = x.columns
        self.rows = rows
        self.workspace = workspace
        paddedRows = (rows.count + Self.rowAlignment - 1) / Self.rowAlignment * Self.rowAlignment
        pointSize = paddedRows * d
        logitsSize = paddedRows * k
        self.levelsPerRow = levelsPerRow
        let size = 4 * pointSize + logitsSize + paddedRows * levelsPerRow
        storage = workspace.take(size)
        storage.initialize(repeating: 0, count: size)
        x.elements.withUnsafeBufferPointer { all in
            storage.update(from: all.baseAddress! + rows.lowerBound * d, count: rows.count * d)
        }
        covariance.apply(.whiten, rows: paddedRows, to: storage)
    }

    deinit { workspace.give(storage) }
}

extension WhitenedMixture {
    var isDirac: Bool {
        if case .dirac = structure { return true }
        return false
    }
}

/// Output storage written by tasks on disjoint rows, turned into an ``OracleResult`` at the end.
final class OutputBuffers: @unchecked Sendable {
    let count: Int, componentCount: Int, dimension: Int
    /// Only `denoised` is computed (and allocated).
    let denoiseOnly: Bool
    /// Where the arrays below come from and go back to.
    private let workspace: Workspace
    let logDensity: UnsafeMutablePointer<Double>
    let responsibilities: UnsafeMutablePointer<Double>
    /// Whether `responsibilities` came from the workspace (and goes back to it).
    private let ownsResponsibilities: Bool
    let denoised: UnsafeMutablePointer<Double>
    let noise: UnsafeMutablePointer<Double>
    let standardizedNoise: UnsafeMutablePointer<Double>
    let score: UnsafeMutablePointer<Double>
    let divergence: UnsafeMutablePointer<Double>
    /// One D×D matrix per point, when requested. Tasks on different tiles write different elements
    /// at once, so these are raw storage, not arrays (an array's element assignment is not safe
    /// from several threads).
    let posteriorCovariance: UnsafeMutablePointer<Matrix>?
    /// One K×D matrix per point, when requested.
    let componentMeans: UnsafeMutablePointer<Matrix>?

    /// The B×K responsibilities go to `responsibilities` when it is given (storage of the caller's,
    /// not given back to the workspace).
    init(count: Int, componentCount: Int, dimension: Int, extras: OracleExtras, denoiseOnly: Bool,
         responsibilities external: UnsafeMutablePointer<Double>? = nil, workspace: Workspace) {
        self.workspace = workspace
        func allocate(_ count: Int) -> UnsafeMutablePointer<Double> {
            let p = workspace.take(count)
            p.initialize(repeating: 0, count: max(count, 1))
            return p
        }
        self.denoiseOnly = denoiseOnly
        self.count = count
        self.componentCount = componentCount
        self.dimension = dimension
        // The denoiser alone leaves the other outputs untouched: they get no storage.
        let others = denoiseOnly ? 0 : count
        logDensity = allocate(others)
        responsibilities = external ?? allocate(others * componentCount)
        ownsResponsibilities = external == nil
        denoised = allocate(count * dimension)
        noise = allocate(others * dimension)
        standardizedNoise = allocate(others * dimension)
        score = allocate(others * dimension)
        divergence = allocate(others)
        func matrices(_ wanted: Bool) -> UnsafeMutablePointer<Matrix>? {
            guard wanted else { return nil }
            let p = UnsafeMutablePointer<Matrix>.allocate(capacity: max(count, 1))
            p.initialize(repeating: Matrix(rows: 0, columns: 0), count: count)
            return p
        }
        posteriorCovariance = matrices(extras.contains(.posteriorCovariance))
        componentMeans = matrices(extras.contains(.componentMeans))
    }

    deinit {
        for p in [logDensity, denoised, noise, standardizedNoise, score, divergence] {
            workspace.give(p)
        }
        if ownsResponsibilities { workspace.give(responsibilities) }
        for p in [posteriorCovariance, componentMeans].compactMap({ $0 }) {
            p.deinitialize(count: count)
            p.deallocate()
        }
    }

    /// Throws for the first point with a non-finite output, naming what could not be represented
    /// (with `denoiseOnly`, only the denoiser was computed and is checked).
    func requireFinite(alpha: Double, sigma: Double) throws(ArgumentError) {
        let d = dimension, k = componentCount
        func finite(_ p: UnsafeMutablePointer<Double>, row b: Int, width: Int) -> Bool {
            var all = true
            for i in (b * width)..<((b + 1) * width) { all = all && p[i].isFinite }
            return all
        }
        for b in 0..<count {
            let quantity: String? =
                !denoiseOnly && !logDensity[b].isFinite ? "log p_t" :
                !finite(denoised, row: b, width: d) ? "E[x_0 | x_t]" :
                denoiseOnly ? nil :
                !(finite(score, row: b, width: d) && finite(noise, row: b, width: d)
                  && finite(standardizedNoise, row: b, width: d)) ? "the score" :
                !divergence[b].isFinite ? "tr(ΣH)" :
                !finite(responsibilities, row: b, width: k) ? "the responsibilities" : nil
            if let quantity {
                throw ArgumentError("x", "point \(b): \(quantity) is beyond Float64's range "
                                    + "at α = \(alpha), σ = \(sigma) "
                                    + "(the point is too far from the data for this noise level)")
            }
        }
    }

    /// The result, with the responsibilities the tiles wrote into `responsibilities`.
    func makeResult(responsibilities values: [Double]) -> OracleResult {
        func array(_ p: UnsafeMutablePointer<Double>, _ n: Int) -> [Double] {
            Array(UnsafeBufferPointer(start: p, count: n))
        }
        func matrix(_ p: UnsafeMutablePointer<Double>, _ columns: Int) -> Matrix {
            Matrix(rows: count, columns: columns, elements: array(p, count * columns))
        }
        return OracleResult(
            logDensity: array(logDensity, count),
            responsibilities: Matrix(rows: count, columns: componentCount, elements: values),
            denoised: matrix(denoised, dimension), noise: matrix(noise, dimension),
            standardizedNoise: matrix(standardizedNoise, dimension), score: matrix(score, dimension),
            divergence: array(divergence, count),
            posteriorCovariance: posteriorCovariance.map { Array(UnsafeBufferPointer(start: $0, count: count)) },
            componentMeans: componentMeans.map { Array(UnsafeBufferPointer(start: $0, count: count)) })
    }
}
