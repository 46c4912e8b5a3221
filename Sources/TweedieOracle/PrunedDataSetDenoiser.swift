import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieLinearAlgebra

/// The denoiser E[x_0 | x_t] of a data set with certified pruning (docs/math.md §2.8): components
/// that provably carry less than a set share of the posterior are skipped, and every point's
/// answer comes with a bound on the error that skipping them made.
///
/// A data set is a Dirac mixture p_0 = Σ_k π_k δ(x − μ_k) with Σ = I. For a point x_t the
/// posterior weights are the softmax of a_k = log π_k − ‖x_t − αμ_k‖²/(2σ²). A screen in the r
/// leading principal directions of the data bounds every a_k from above at r flops per pair; the
/// components that could matter are then weighed exactly, in binary64, by direct subtraction.
///
/// For a tolerance ε, each point x_b is answered within ‖x̂ − E[x_0 | x_b]‖ ≤ ε ‖x_b‖, certified:
/// ``Certified/errorBounds`` holds the bound E_b actually reached (usually far below), and
/// ``Certified/neglectedMass`` the bound δ̂_b on the posterior mass left out. Where nothing can be
/// left out (large σ), the point is answered by the exact oracle and its bound is 0.
///
/// ```swift
/// let denoiser = try PrunedDataSetDenoiser(Oracle(model), tolerance: 1e-8)
/// let result = try denoiser.denoiseCertified(x, at: NoiseLevel(alpha: 1, sigma: 0.05))
/// print(result.errorBounds.max()!)   // ≤ 1e-8 ‖x_b‖ for every row
/// ```
public struct PrunedDataSetDenoiser: DenoisingModel {
    /// The exact oracle: the answer where pruning cannot help, and the data.
    public let oracle: Oracle
    /// ε: each point's denoiser is certified within ε ‖x_t‖.
    public let tolerance: Double
    /// r, the number of principal directions the screen uses.
    public let rank: Int
    /// Every call's certificates, for reports (shared by copies of this value).
    public let log = CertificateLog()

    private let screen: Screen
    /// The single-precision screen's atoms, centred, transposed (D×K), or nil without it.
    private let singlePrecisionAtoms: [Float]?
    /// d_q, the ``distanceQuantile`` of the distances between atoms (§2.8, "which points to screen").
    public let typicalGap: Double
    private let logWeights: [Double]
    /// μ̄, the mean of the atoms.
    private let centre: [Double]
    /// R = max_k ‖μ_k − μ̄‖.
    private let radius: Double

    /// A screen that leaves more than this share of the components as candidates hands the point
    /// on: from the principal-direction screen to the single-precision one (§2.8).
    public static let candidateShare = 0.02
    /// The quantile of the distances between atoms that predicts whether a point can be pruned.
    static let distanceQuantile = 0.01

    /// The certified result of one call.
    public struct Certified: Sendable {
        /// x̂_0 of each point (B×D).
        public let denoised: Matrix
        /// E_b: ‖x̂_0 − E[x_0 | x_b]‖ ≤ E_b for each point (0 where it was answered exactly).
        public let errorBounds: [Double]
        /// δ̂_b: the posterior mass of the skipped components is at most δ̂_b.
        public let neglectedMass: [Double]
        /// |S_b|: the components weighed exactly (K where the point was answered exactly).
        public let keptCounts: [Int]
        /// Whether each point was answered by the exact oracle (nothing could be pruned).
        public let answeredExactly: [Bool]
    }

    /// - Parameters:
    ///   - tolerance: ε > 0; each point x_b is certified within ε ‖x_b‖.
    ///   - rank: r, the screen's principal directions; by default min(64, D/4) (at least 1).
    ///   - singlePrecisionScreen: whether points the first screen cannot prune go through a
    ///     single-precision screen of every distance (one SGEMM; K×D Float32 numbers held) before
    ///     the exact oracle.
    /// - Throws: an ``ArgumentError`` unless the model is a data set (Dirac components) with Σ = I
    ///   and ε is positive and finite.
    public init(_ oracle: Oracle, tolerance: Double, rank: Int? = nil,
                singlePrecisionScreen: Bool = true) throws(ArgumentError) {
        let model = oracle.model
        guard model.prior.covarianceType == .dirac else {
            throw ArgumentError("prune", "certified pruning needs a data set (Dirac components); "
                                + "this model's components are \(model.prior.covarianceType.rawValue)")
        }
        guard model.noise.isIdentity else {
            throw ArgumentError("prune", "certified pruning needs Σ = I; this model's noise is "
                                + "\(model.noise.structure.name)")
        }
        guard tolerance.isFinite, tolerance > 0 else {
            throw ArgumentError("prune", "the tolerance must be positive and finite, got \(tolerance)")
        }
        let d = model.dimension
        let r = rank ?? Swift.min(64, Swift.max(1, d / 4))
        guard r >= 1, r <= d else { throw ArgumentError("rank", "must lie in 1...\(d), got \(r)") }
        let means = model.prior.means
        let centre = means.columnMeans
        self.oracle = oracle
        self.tolerance = tolerance
        self.centre = centre
        self.logWeights = model.prior.weights.map { $0 > 0 ? Foundation.log($0) : -.infinity }
        self.screen = Screen(means: means, centre: centre, rank: r)
        self.rank = screen.rank
        self.radius = screen.centredNorms.max() ?? 0
        self.typicalGap = Self.gapQuantile(means, quantile: Self.distanceQuantile)
        if singlePrecisionScreen {
            let k = means.rows
            var atoms = [Float](repeating: 0, count: k * d)
            for c in 0..<k { for j in 0..<d { atoms[j * k + c] = Float(means.elements[c * d + j] - centre[j]) } }
            singlePrecisionAtoms = atoms
        } else {
            singlePrecisionAtoms = nil
        }
    }

    /// The `quantile` of the distances from up to 64 atoms (a fixed stride) to all atoms, zeros
    /// (an atom and itself, duplicates) left out. A heuristic (it only chooses which points are
    /// screened), so the Gram form serves.
    static func gapQuantile(_ means: Matrix, quantile: Double) -> Double {
        let (k, d) = (means.rows, means.columns)
        let picked = Array(Swift.stride(from: 0, to: k, by: Swift.max(1, k / 64)).prefix(64))
        var sample = Matrix(rows: picked.count, columns: d)
        for (i, a) in picked.enumerated() { for j in 0..<d { sample.elements[i * d + j] = means.elements[a * d + j] } }
        let gram = BLAS.product(sample, .none, means, .transpose)
        let norms = (0..<k).map { c in means.elements[(c * d)..<((c + 1) * d)].reduce(0) { $0 + $1 * $1 } }
        var distances: [Double] = []
        distances.reserveCapacity(picked.count * k)
        for (i, a) in picked.enumerated() {
            for c in 0..<k {
                let squared = norms[a] + norms[c] - 2 * gram[i, c]
                if squared > 1e-12 * (norms[a] + norms[c]) { distances.append(squared.squareRoot()) }
            }
        }
        guard !distances.isEmpty else { return 0 }
        distances.sort()
        return distances[Swift.min(distances.count - 1, Int(quantile * Double(distances.count)))]
    }

    public var dimension: Int { oracle.dimension }
    public var noiseCovariance: NoiseCovariance { oracle.model.noise }

    /// x̂_0 of each row, within the certified tolerance; the certificates go to ``log``.
    public func denoise(_ x: Matrix, at level: NoiseLevel) throws -> Matrix {
        let result = try denoiseCertified(x, at: level)
        log.record(result, points: x, components: oracle.componentCount)
        return result.denoised
    }

    /// x̂_0 of each row with its certificate.
    public func denoiseCertified(_ x: Matrix, at level: NoiseLevel) throws(ArgumentError) -> Certified {
        let (alpha, sigma) = (level.alpha, level.sigma)
        try oracle.validate(x, alpha: alpha, sigma: sigma)
        let (b, d) = (x.rows, dimension)
        var denoised = [Double](repeating: 0, count: b * d)
        var bounds = [Double](repeating: 0, count: b), masses = bounds
        var kept = [Int](repeating: 0, count: b)
        var exactRows = [Bool](repeating: false, count: b)
        denoised.withUnsafeMutableBufferPointer { out in
            bounds.withUnsafeMutableBufferPointer { bound in
                masses.withUnsafeMutableBufferPointer { mass in
                    kept.withUnsafeMutableBufferPointer { count in
                        exactRows.withUnsafeMutableBufferPointer { exact in
                            let sink = UncheckedSendable((out.baseAddress!, bound.baseAddress!, mass.baseAddress!,
                                                          count.baseAddress!, exact.baseAddress!))
                            Parallel.forEachChunk(of: b, size: Self.tile) { rows in
                                let (o, e, m, c, ex) = sink.value
                                pruneTile(x, rows: rows, alpha: alpha, sigma: sigma,
                                          out: o, bounds: e, masses: m, kept: c, exact: ex)
                            }
                        }
                    }
                }
            }
        }
        let exactIndices = exactRows.indices.filter { exactRows[$0] }
        if !exactIndices.isEmpty {
            var rows = Matrix(rows: exactIndices.count, columns: d)
            for (i, row) in exactIndices.enumerated() {
                for j in 0..<d { rows.elements[i * d + j] = x.elements[row * d + j] }
            }
            let exact = try oracle.denoise(rows, at: level)
            for (i, row) in exactIndices.enumerated() {
                for j in 0..<d { denoised[row * d + j] = exact.elements[i * d + j] }
                (bounds[row], masses[row], kept[row]) = (0, 0, oracle.componentCount)
            }
        }
        return Certified(denoised: Matrix(rows: b, columns: d, elements: denoised),
                         errorBounds: bounds, neglectedMass: masses, keptCounts: kept, answeredExactly: exactRows)
    }

    /// Points screened together: one product per tile (§2.8, "batches").
    static let tile = 32

    /// Screens the rows of one tile and weighs the candidates exactly (§2.8).
    private func pruneTile(_ x: Matrix, rows: Range<Int>, alpha: Double, sigma: Double,
                           out: UnsafeMutablePointer<Double>, bounds: UnsafeMutablePointer<Double>,
                           masses: UnsafeMutablePointer<Double>, kept: UnsafeMutablePointer<Int>,
                           exact: UnsafeMutablePointer<Bool>) {
        let (d, k, r) = (dimension, oracle.componentCount, rank)
        // Products run on tiles padded with zero rows, as the oracle's (a point's arithmetic is
        // then the same in any batch).
        let alignment = NoiseCovariance.rowAlignment
        let nb = (rows.count + alignment - 1) / alignment * alignment
        // ỹ = y − αμ̄, its projection q = Pᵀỹ, and the residual norm ρ_y = ‖ỹ − Pq‖.
        var centred = [Double](repeating: 0, count: nb * d)
        for (i, row) in rows.enumerated() {
            for j in 0..<d { centred[i * d + j] = x.elements[row * d + j] - alpha * centre[j] }
        }
        var q = [Double](repeating: 0, count: nb * r)
        screen.basis.elements.withUnsafeBufferPointer { p in
            BLAS.gemm(m: nb, n: r, k: d, a: centred, lda: d, b: p.baseAddress!, ldb: r, c: &q, ldc: r)
        }
        var residual = centred
        screen.basisTransposed.elements.withUnsafeBufferPointer { pt in
            BLAS.gemm(m: nb, n: d, k: r, alpha: -1, a: q, lda: r, b: pt.baseAddress!, ldb: d,
                      beta: 1, c: &residual, ldc: d)
        }
        // G = q pᵀ for every component (the first screen's only product).
        var g = [Double](repeating: 0, count: nb * k)
        screen.projectionsTransposed.elements.withUnsafeBufferPointer { pt in
            BLAS.gemm(m: nb, n: k, k: r, a: q, lda: r, b: pt.baseAddress!, ldb: k, c: &g, ldc: k)
        }
        let twoSigmaSquared = 2 * sigma * sigma
        var upper = [Double](repeating: 0, count: k)
        var handedOn: [(index: Int, row: Int, span: Double)] = []
        for (i, row) in rows.enumerated() {
            let norm = x.elements[(row * d)..<((row + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            // δ = ε‖x_b‖/(2R) (the denoiser's error is at most 2Rδ̂ ≤ 2Rδ); L = log(K/δ).
            let delta = radius > 0 ? tolerance * norm / (2 * radius) : 1
            let span = Foundation.log(Double(k)) - Foundation.log(Swift.max(delta, .leastNormalMagnitude))
            // Nothing can be pruned where typical gaps between atoms are within the noise.
            guard alpha * typicalGap > sigma * (1 + (1 + 2 * span).squareRoot()) else {
                exact[row] = true
                continue
            }
            let qi = q[(i * r)..<((i + 1) * r)]
            let qNorm = qi.reduce(0) { $0 + $1 * $1 }
            let rhoY = residual[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            let yNorm = centred[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            for c in 0..<k {
                let gap = rhoY - alpha * screen.residualNorms[c]
                let ell = qNorm - 2 * alpha * g[i * k + c] + alpha * alpha * screen.projectionNorms[c] + gap * gap
                let reach = yNorm + alpha * screen.centredNorms[c]
                upper[c] = logWeights[c] - Swift.max(ell - screen.roundingFactor * reach * reach, 0) / twoSigmaSquared
            }
            if !weigh(x, row: row, upper: upper, span: span, alpha: alpha, sigma: sigma, out: out,
                      bounds: bounds, masses: masses, kept: kept, exact: exact,
                      lastScreen: singlePrecisionAtoms == nil) {
                handedOn.append((i, row, span))
            }
        }
        guard !handedOn.isEmpty, let atoms = singlePrecisionAtoms else { return }
        // The second screen: every distance from one SGEMM, off by at most 1.01(D + 3)u‖ỹ‖‖μ̃_k‖
        // (u = 2⁻²⁴: the product's rounding and the rounding of both factors to Float32).
        let nf = (handedOn.count + alignment - 1) / alignment * alignment
        var y32 = [Float](repeating: 0, count: nf * d)
        for (f, item) in handedOn.enumerated() {
            for j in 0..<d { y32[f * d + j] = Float(centred[item.index * d + j]) }
        }
        var g32 = [Float](repeating: 0, count: nf * k)
        BLAS.gemm(m: nf, n: k, k: d, a: y32, lda: d, b: atoms, ldb: k, c: &g32, ldc: k)
        let u = Double(Float.ulpOfOne) / 2
        for (f, item) in handedOn.enumerated() {
            let i = item.index
            let yNorm2 = centred[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 }
            let yNorm = yNorm2.squareRoot()
            for c in 0..<k {
                let nu = screen.centredNorms[c]
                let ell = yNorm2 - 2 * alpha * Double(g32[f * k + c]) + alpha * alpha * nu * nu
                let slack = 2 * alpha * 1.01 * Double(d + 3) * u * yNorm * nu
                    + 4 * Double(d + 4) * Double.ulpOfOne * (yNorm + alpha * nu) * (yNorm + alpha * nu)
                upper[c] = logWeights[c] - Swift.max(ell - slack, 0) / twoSigmaSquared
            }
            _ = weigh(x, row: item.row, upper: upper, span: item.span, alpha: alpha, sigma: sigma, out: out,
                      bounds: bounds, masses: masses, kept: kept, exact: exact, lastScreen: true)
        }
    }

    /// Weighs one point's candidates exactly from the upper bounds b_k ≥ a_k of a screen (§2.8):
    /// candidates b_k ≥ a_{k*} − L − 1 (k* maximising b), kept S = {a_k ≥ max a − L − 1}, which
    /// does not depend on the screen. Returns false, having written nothing, when more than
    /// ``candidateShare`` of the components are candidates and another screen follows; after the
    /// last screen such a point goes to the exact oracle.
    private func weigh(_ x: Matrix, row: Int, upper: [Double], span: Double, alpha: Double, sigma: Double,
                       out: UnsafeMutablePointer<Double>, bounds: UnsafeMutablePointer<Double>,
                       masses: UnsafeMutablePointer<Double>, kept: UnsafeMutablePointer<Int>,
                       exact: UnsafeMutablePointer<Bool>, lastScreen: Bool) -> Bool {
        let (d, k) = (dimension, oracle.componentCount)
        let means = oracle.model.prior.means
        let twoSigmaSquared = 2 * sigma * sigma
        return x.elements.withUnsafeBufferPointer { xs in
            let point = xs.baseAddress! + row * d
            var best = 0
            for c in 1..<k where upper[c] > upper[best] { best = c }
            let top = logWeights[best] - squaredDistance(point, means, component: best, alpha: alpha) / twoSigmaSquared
            let threshold = top - span - 1
            var candidates: [Int] = []
            var outside = 0.0  // Σ_{k not a candidate} e^{b_k − top}
            for c in 0..<k {
                if upper[c] >= threshold { candidates.append(c) } else { outside += Foundation.exp(upper[c] - top) }
            }
            if Double(candidates.count) > Self.candidateShare * Double(k) {
                if lastScreen { exact[row] = true }
                return lastScreen
            }
            var logits = [Double](repeating: 0, count: candidates.count)
            var largest = -Double.infinity
            for (s, c) in candidates.enumerated() {
                logits[s] = logWeights[c] - squaredDistance(point, means, component: c, alpha: alpha) / twoSigmaSquared
                largest = Swift.max(largest, logits[s])
            }
            // S = {a_k ≥ max a − L − 1}: the candidates hold it whatever the screen (b_k ≥ a_k, top ≤ max a).
            let cut = largest - span - 1
            let o = out + row * d
            var total = 0.0, dropped = 0.0, count = 0
            means.elements.withUnsafeBufferPointer { mu in
                for (s, c) in candidates.enumerated() {
                    let w = Foundation.exp(logits[s] - largest)
                    guard logits[s] >= cut else { dropped += w; continue }
                    total += w
                    count += 1
                    let atom = mu.baseAddress! + c * d
                    for j in 0..<d { o[j] += w * atom[j] }
                }
            }
            var offset = 0.0
            for j in 0..<d {
                o[j] /= total
                offset += (o[j] - centre[j]) * (o[j] - centre[j])
            }
            // Z_S and U against the same reference, max a: U = dropped + outside · e^{top − max a}.
            let skipped = dropped + outside * Foundation.exp(top - largest)
            let neglected = skipped / (total + skipped)
            masses[row] = neglected
            bounds[row] = neglected * (radius + offset.squareRoot())
            kept[row] = count
            return true
        }
    }

    /// ‖y − αμ_c‖² by direct subtraction (no cancellation).
    private func squaredDistance(_ y: UnsafePointer<Double>, _ means: Matrix, component c: Int,
                                 alpha: Double) -> Double {
        means.elements.withUnsafeBufferPointer { mu in
            DiracKernel.squaredDistance(y, mu.baseAddress! + c * dimension, alpha: alpha, dimension: dimension)
        }
    }
}

extension PrunedDataSetDenoiser {
    /// The screen of §2.8: principal directions P, each atom's coordinates p_k = Pᵀ(μ_k − μ̄) and
    /// residual norm ρ_k, and the rounding factor of the bound.
    struct Screen: Sendable {
        /// P, D×r with orthonormal columns.
        let basis: Matrix
        /// Pᵀ, r×D.
        let basisTransposed: Matrix
        /// The p_k as columns, r×K.
        let projectionsTransposed: Matrix
        /// ‖p_k‖².
        let projectionNorms: [Double]
        /// ρ_k = ‖μ̃_k − P p_k‖.
        let residualNorms: [Double]
        /// ‖μ̃_k‖.
        let centredNorms: [Double]
        /// (2(r + 4) ε_mach + 4 r ω): the bound's slack per (‖ỹ‖ + α‖μ̃_k‖)², ω = max|PᵀP − I|.
        let roundingFactor: Double
        var rank: Int { basis.columns }

        /// Atoms used to find the principal directions (a fixed stride through the data set).
        static let sampleSize = 1024

        init(means: Matrix, centre: [Double], rank requested: Int) {
            let (k, d) = (means.rows, means.columns)
            let basis = Self.principalDirections(means, centre: centre, rank: requested)
            let r = basis.columns
            let basisTransposed = basis.transposed
            var projections = [Double](repeating: 0, count: k * r)
            var residualNorms = [Double](repeating: 0, count: k), centredNorms = residualNorms
            // In chunks of atoms, so the work space stays small: μ̃_k, p_k = Pᵀμ̃_k, μ̃_k − P p_k.
            let chunk = 1024
            for start in stride(from: 0, to: k, by: chunk) {
                let rows = Swift.min(chunk, k - start)
                var centred = [Double](repeating: 0, count: rows * d)
                for i in 0..<rows {
                    for j in 0..<d { centred[i * d + j] = means.elements[(start + i) * d + j] - centre[j] }
                }
                projections.withUnsafeMutableBufferPointer { p in
                    BLAS.gemm(m: rows, n: r, k: d, a: centred, lda: d, b: basis.elements, ldb: r,
                              c: p.baseAddress! + start * r, ldc: r)
                }
                var residual = centred
                projections.withUnsafeBufferPointer { p in
                    BLAS.gemm(m: rows, n: d, k: r, alpha: -1, a: p.baseAddress! + start * r, lda: r,
                              b: basisTransposed.elements, ldb: d, beta: 1, c: &residual, ldc: d)
                }
                for i in 0..<rows {
                    residualNorms[start + i] = residual[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
                    centredNorms[start + i] = centred[(i * d)..<((i + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
                }
            }
            let projectionMatrix = Matrix(rows: k, columns: r, elements: projections)
            self.basis = basis
            self.basisTransposed = basisTransposed
            projectionsTransposed = projectionMatrix.transposed
            projectionNorms = (0..<k).map { i in
                (0..<r).reduce(0) { $0 + projections[i * r + $1] * projections[i * r + $1] }
            }
            self.residualNorms = residualNorms
            self.centredNorms = centredNorms
            let gram = BLAS.product(basis, .transpose, basis, .none)
            var defect = 0.0
            for i in 0..<r { for j in 0..<r { defect = Swift.max(defect, abs(gram[i, j] - (i == j ? 1 : 0))) } }
            roundingFactor = 2 * Double(r + 4) * Double.ulpOfOne + 4 * Double(r) * defect
        }

        /// The leading principal directions of the centred atoms, from the Gram matrix of a fixed
        /// stride of at most ``sampleSize`` of them, orthonormalized twice by Cholesky QR. Any
        /// orthonormal P gives a valid bound (§2.8); the leading directions make it tight.
        static func principalDirections(_ means: Matrix, centre: [Double], rank requested: Int) -> Matrix {
            let (k, d) = (means.rows, means.columns)
            let stride = Swift.max(1, (k + sampleSize - 1) / sampleSize)
            let picked = Array(Swift.stride(from: 0, to: k, by: stride))
            var sample = Matrix(rows: picked.count, columns: d)
            for (i, row) in picked.enumerated() {
                for j in 0..<d { sample.elements[i * d + j] = means.elements[row * d + j] - centre[j] }
            }
            let gram = BLAS.product(sample, .none, sample, .transpose)
            guard let eig = try? SymmetricEigendecomposition(gram) else { return Self.coordinateBasis(d, requested) }
            let largest = eig.values.last ?? 0
            let usable = eig.values.indices.reversed().filter { eig.values[$0] > 1e-10 * largest && largest > 0 }
            let chosen = Array(usable.prefix(requested))
            guard !chosen.isEmpty else { return Self.coordinateBasis(d, requested) }
            // P = Sᵀ v_j / √λ_j for the chosen eigenpairs.
            var v = Matrix(rows: picked.count, columns: chosen.count)
            for (c, j) in chosen.enumerated() {
                let scale = 1 / eig.values[j].squareRoot()
                for i in 0..<picked.count { v[i, c] = eig.vectors[i, j] * scale }
            }
            var basis = BLAS.product(sample, .transpose, v, .none)
            for _ in 0..<2 { basis = orthonormalized(basis) ?? basis }
            return basis
        }

        /// P L⁻ᵀ with PᵀP = LLᵀ (one step of Cholesky QR), or nil if PᵀP is not positive definite.
        static func orthonormalized(_ p: Matrix) -> Matrix? {
            let gram = BLAS.product(p, .transpose, p, .none)
            guard let factor = try? CholeskyFactor(gram) else { return nil }
            var result = p
            factor.lower.elements.withUnsafeBufferPointer { l in
                result.elements.withUnsafeMutableBufferPointer { b in
                    BLAS.solveLowerTriangular(.right, .transpose, n: p.columns, lower: l.baseAddress!,
                                              rows: p.rows, columns: p.columns, b: b.baseAddress!, ldb: p.columns)
                }
            }
            return result
        }

        /// The first r coordinate axes: a valid (if loose) basis when the data have no spread.
        static func coordinateBasis(_ d: Int, _ r: Int) -> Matrix {
            var basis = Matrix(rows: d, columns: r)
            for j in 0..<r { basis[j, j] = 1 }
            return basis
        }
    }
}

/// The certificates of every call of a ``PrunedDataSetDenoiser``, for a run's report: the largest
/// error bound (absolute, and relative to ‖x_t‖), the largest neglected mass, and how much was pruned.
public final class CertificateLog: @unchecked Sendable {
    private let lock = NSLock()
    private var state = Summary()

    public struct Summary: Sendable, Equatable {
        public var calls = 0
        public var points = 0
        /// Points answered by the exact oracle (nothing could be pruned).
        public var exactPoints = 0
        /// The largest E_b.
        public var largestErrorBound = 0.0
        /// The largest E_b / ‖x_b‖.
        public var largestRelativeErrorBound = 0.0
        /// The largest δ̂_b.
        public var largestNeglectedMass = 0.0
        /// Σ_b |S_b| over pruned points, and Σ_b K over them: the share of pairs weighed exactly.
        public var keptPairs = 0.0
        public var prunedPairs = 0.0
    }

    public init() {}

    public var summary: Summary {
        lock.lock()
        defer { lock.unlock() }
        return state
    }

    func record(_ result: PrunedDataSetDenoiser.Certified, points x: Matrix, components: Int) {
        let d = x.columns
        var update = Summary()
        update.calls = 1
        update.points = x.rows
        for b in 0..<x.rows {
            let norm = x.elements[(b * d)..<((b + 1) * d)].reduce(0) { $0 + $1 * $1 }.squareRoot()
            update.largestErrorBound = max(update.largestErrorBound, result.errorBounds[b])
            if norm > 0 {
                update.largestRelativeErrorBound = max(update.largestRelativeErrorBound, result.errorBounds[b] / norm)
            }
            update.largestNeglectedMass = max(update.largestNeglectedMass, result.neglectedMass[b])
            if result.answeredExactly[b] {
                update.exactPoints += 1
            } else {
                update.keptPairs += Double(result.keptCounts[b])
                update.prunedPairs += Double(components)
            }
        }
        lock.lock()
        defer { lock.unlock() }
        state.calls += 1
        state.points += update.points
        state.exactPoints += update.exactPoints
        state.largestErrorBound = max(state.largestErrorBound, update.largestErrorBound)
        state.largestRelativeErrorBound = max(state.largestRelativeErrorBound, update.largestRelativeErrorBound)
        state.largestNeglectedMass = max(state.largestNeglectedMass, update.largestNeglectedMass)
        state.keptPairs += update.keptPairs
        state.prunedPairs += update.prunedPairs
    }
}
