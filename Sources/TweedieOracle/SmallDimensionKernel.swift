import Foundation
import TweedieLinearAlgebra

/// The pass over Gaussian components at small D (docs/math.md §2.5): every structure, point by
/// point, with no BLAS call.
///
/// At D ≤ ``maximumDimension`` a D×D product is a few dozen flops, and what costs is everything
/// around it: a BLAS call per component and tile, and a running maximum that forces a rescaling
/// (an exponential) whenever it rises. Here each point takes two passes over its components: the
/// first forms z_k = U_kᵀ(y − αν_k) and a_k, and finds the point's maximum; the second weighs
/// each component by exp(a_k − max) — one exponential per (point, component) — and adds its
/// vectors. The arithmetic of a point depends on that point alone.
enum SmallDimensionKernel {
    /// The largest D handled here.
    static let maximumDimension = 8
    /// Components per group of ``Oracle/componentGroups`` (at most four groups).
    static let groupSize = 32

    /// Per-model data: every component's basis U_k, row-major, one after the other (K×D×D). A
    /// shared basis is repeated and U = I written out, so that one loop serves every structure.
    struct Tables: Sendable {
        let bases: [Double]

        init?(_ mixture: WhitenedMixture) {
            let k = mixture.componentCount, d = mixture.dimension
            guard d <= maximumDimension else { return nil }
            var stacked = [Double](repeating: 0, count: k * d * d)
            for c in 0..<k {
                let base = c * d * d
                switch mixture.structure {
                case .dirac:
                    return nil
                case .sharedBasis(let u?, _, _):
                    for i in 0..<(d * d) { stacked[base + i] = u.elements[i] }
                case .sharedBasis(nil, _, _):
                    for i in 0..<d { stacked[base + i * d + i] = 1 }
                case .separateBases(let bases, _):
                    for i in 0..<(d * d) { stacked[base + i] = bases[c].elements[i] }
                }
            }
            bases = stacked
        }
    }

    /// Adds `components` to `state` for the `n` whitened points `y` (n×D), writing a_k to column k
    /// of `logits` (n×K). The state's accumulator rows are [Σ w U(z/d) | Σ w U(g ⊙ z) | Σ w μ];
    /// with `denoiserOnly` the first block is left at zero (the others are the same numbers).
    static func stream(
        _ mixture: WhitenedMixture, tables: Tables, scales: ComponentScales, components: Range<Int>,
        y: UnsafePointer<Double>, rows n: Int, logits: UnsafeMutablePointer<Double>,
        state: inout StreamState, denoiserOnly: Bool
    ) {
        // One specialized copy of the loops per dimension (a constant the compiler unrolls) and
        // per set of outputs.
        func run<D: FixedDimension>(_: D.Type) {
            if denoiserOnly {
                stream(D.self, Without.self, mixture, tables, scales, components, y, n, logits, &state)
            } else {
                stream(D.self, With.self, mixture, tables, scales, components, y, n, logits, &state)
            }
        }
        switch mixture.dimension {
        case 1: run(D1.self)
        case 2: run(D2.self)
        case 3: run(D3.self)
        case 4: run(D4.self)
        case 5: run(D5.self)
        case 6: run(D6.self)
        case 7: run(D7.self)
        default: run(D8.self)
        }
    }

    /// Whether the score sums are accumulated (a sampler's denoiser call needs only the others).
    protocol ScoreSums { static var included: Bool { get } }
    enum With: ScoreSums { static var included: Bool { true } }
    enum Without: ScoreSums { static var included: Bool { false } }

    protocol FixedDimension { static var value: Int { get } }
    enum D1: FixedDimension { static var value: Int { 1 } }
    enum D2: FixedDimension { static var value: Int { 2 } }
    enum D3: FixedDimension { static var value: Int { 3 } }
    enum D4: FixedDimension { static var value: Int { 4 } }
    enum D5: FixedDimension { static var value: Int { 5 } }
    enum D6: FixedDimension { static var value: Int { 6 } }
    enum D7: FixedDimension { static var value: Int { 7 } }
    enum D8: FixedDimension { static var value: Int { 8 } }

    /// Exponentials of arguments at or below this are exactly zero in Float64.
    static let exponentUnderflow = -746.0

    private static func stream<Dimension: FixedDimension, Score: ScoreSums>(
        _: Dimension.Type, _: Score.Type, _ mixture: WhitenedMixture, _ tables: Tables, _ scales: ComponentScales,
        _ components: Range<Int>, _ y: UnsafePointer<Double>, _ n: Int, _ logits: UnsafeMutablePointer<Double>,
        _ state: inout StreamState
    ) {
        let d = Dimension.value, kCount = mixture.componentCount, m = components.count
        let alpha = scales.alpha
        // Per point: z_k and ‖ŝ_k‖² of each component, then its three sums.
        let z = UnsafeMutablePointer<Double>.allocate(capacity: m * d)
        let logWeight = UnsafeMutablePointer<Double>.allocate(capacity: m)
        let scoreNorm = UnsafeMutablePointer<Double>.allocate(capacity: m)
        let diff = UnsafeMutablePointer<Double>.allocate(capacity: d)
        let folded = UnsafeMutablePointer<Double>.allocate(capacity: 2 * d)
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: 3 * d)
        defer {
            z.deallocate(); logWeight.deallocate(); scoreNorm.deallocate(); diff.deallocate()
            folded.deallocate(); sums.deallocate()
        }
        tables.bases.withUnsafeBufferPointer { basesAll in
        mixture.whitenedMeans.elements.withUnsafeBufferPointer { nuAll in
        mixture.means.elements.withUnsafeBufferPointer { muAll in
        scales.inverseVariance.elements.withUnsafeBufferPointer { invAll in
        scales.gain.elements.withUnsafeBufferPointer { gainAll in
        scales.logNormalizer.withUnsafeBufferPointer { normalizer in
        scales.traceInverseVariance.withUnsafeBufferPointer { traces in
        mixture.logWeights.withUnsafeBufferPointer { logPi in
            for b in 0..<n {
                let yb = y + b * d
                var rowMax = -Double.infinity
                for j in 0..<m {
                    let k = components.lowerBound + j
                    guard logPi[k] > -.infinity else {
                        logWeight[j] = -.infinity
                        logits[b * kCount + k] = -.infinity
                        continue
                    }
                    let nu = nuAll.baseAddress! + k * d, u = basesAll.baseAddress! + k * d * d
                    // Subtract before rotating: no cancellation between large y and αν_k.
                    for i in 0..<d { diff[i] = yb[i] - alpha * nu[i] }
                    let zk = z + j * d
                    for c in 0..<d {
                        var sum = 0.0
                        for i in 0..<d { sum += diff[i] * u[i * d + c] }
                        zk[c] = sum
                    }
                    let (quadratic, norm) = GaussianKernels.quadraticForms(zk, invAll.baseAddress! + k * d, d)
                    let a = normalizer[k] - 0.5 * quadratic
                    logWeight[j] = a
                    scoreNorm[j] = norm
                    logits[b * kCount + k] = a
                    rowMax = max(rowMax, a)
                }
                // Every log-weight is −∞ (beyond Float64's range): nothing to add; the finished
                // outputs are then not finite and the call reports the point.
                guard rowMax > -.infinity else { continue }
                var weightSum = 0.0, traceSum = 0.0, normSum = 0.0
                sums.initialize(repeating: 0, count: 3 * d)
                for j in 0..<m {
                    // exp(a_k − max) = 0 exactly: nothing to add (and no exponential to pay for).
                    let exponent = logWeight[j] - rowMax
                    guard exponent > exponentUnderflow else { continue }
                    let k = components.lowerBound + j
                    let w = exponent == 0 ? 1 : exp(exponent)  // the largest term needs none either
                    weightSum += w
                    traceSum += w * traces[k]
                    normSum += w * scoreNorm[j]
                    let zk = z + j * d, u = basesAll.baseAddress! + k * d * d
                    let inv = invAll.baseAddress! + k * d, gain = gainAll.baseAddress! + k * d
                    let mu = muAll.baseAddress! + k * d
                    for i in 0..<d {
                        if Score.included { folded[i] = w * zk[i] * inv[i] }
                        folded[d + i] = w * gain[i] * zk[i]
                    }
                    // Back to whitened coordinates: U_k times the weighted vectors.
                    for i in 0..<d {
                        var score = 0.0, mean = 0.0
                        for c in 0..<d {
                            if Score.included { score += u[i * d + c] * folded[c] }
                            mean += u[i * d + c] * folded[d + c]
                        }
                        if Score.included { sums[i] += score }
                        sums[d + i] += mean
                        sums[2 * d + i] += w * mu[i]
                    }
                }
                state.absorb(row: b, max: rowMax, weightSum: weightSum, traceSum: traceSum, normSum: normSum,
                             sums: sums)
            }
        }}}}}}}}
    }
}
