import Foundation

/// Reproducible standard-normal and uniform draws addressed by (seed, sample, step, coordinate).
///
/// Every number is a pure function of those four integers, computed directly from one
/// ``Philox4x32`` block; nothing is carried from one draw to the next. A sample's noise is
/// therefore **identical, bit for bit, whatever the batch it is drawn in, the batch's offset, the
/// order of evaluation or the number of threads**: drawing samples 0..<10 gives exactly the
/// first ten rows of drawing samples 0..<1000, and two batches `firstSample: 0, count: 7` and
/// `firstSample: 7, count: 93` give exactly one batch of 100.
///
/// ## Layout
///
/// - key = (seed mod 2³², seed / 2³²): the seed's low and high 32-bit words.
/// - counter = (w, step, sample mod 2³², sample / 2³²), where w is
///   - for normals, the pair index ⌊coordinate / 2⌋ (so w < 2³¹);
///   - for uniforms, 2³¹ + ⌊index / 2⌋;
///
///   so normal and uniform draws never share a block, whatever the step.
/// - A block's words (b₀, b₁, b₂, b₃) give two uniforms on the open interval (0, 1),
///   u₁ from (b₀, b₁) and u₂ from (b₂, b₃), each as (⌊(2³²b_hi + b_lo) / 2¹¹⌋ + ½) · 2⁻⁵³: the
///   53-bit grid of step 2⁻⁵³ shifted by half a step, so 2⁻⁵⁴ ≤ u ≤ 1 − 2⁻⁵⁴ and the grid is
///   symmetric about ½. Uniform index 2j is u₁ and 2j + 1 is u₂ of block w = 2³¹ + j.
/// - Normals use the Box–Muller transform, an exact map from two independent U(0, 1) to two
///   independent N(0, 1): with r = √(−2 log u₁) and θ = 2π u₂, coordinate 2j is r cos θ and
///   2j + 1 is r sin θ. Because u₁ ≥ 2⁻⁵⁴, |z| ≤ √(108 log 2) ≈ 8.65.
///
/// ## Steps
///
/// A step is a 32-bit number naming one use of the randomness for a sample (a time step of a
/// sampler, one forward noising, …); use different steps for draws that must be independent.
/// Steps in ``reservedSteps`` (the top 16 values) belong to the library:
/// ``componentChoiceStep`` for the choice of mixture component when sampling p_0, and
/// ``componentNoiseStep`` for the component's Gaussian noise. Ordinary steps are
/// `0...`(``reservedSteps``.lowerBound − 1).
///
/// ## Portability
///
/// Philox words and uniforms are exact integer and IEEE arithmetic, identical on every platform.
/// Normals also go through the platform's `log`, `cos` and `sin`, which are not required to be
/// correctly rounded, so across different C libraries they may differ in the last bits.
public struct NoiseStream: Sendable, Hashable {
    /// The key of every block of this stream.
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// The largest step.
    public static let maximumStep = Int(UInt32.max)
    /// Steps the library keeps for its own draws; never pass them for other purposes.
    public static let reservedSteps: ClosedRange<Int> = (maximumStep - 15)...maximumStep
    /// The step of the uniform (index 0) that chooses the mixture component of sample i of p_0.
    public static let componentChoiceStep = maximumStep - 1
    /// The step of the standard normals z in x_0 = μ_k + S_k z for sample i of p_0.
    public static let componentNoiseStep = maximumStep - 2
    /// Coordinates of normals, and indices of uniforms, lie in `0..<coordinateLimit` (2³²).
    public static let coordinateLimit = 1 << 32

    private static let uniformFlag: UInt32 = 1 << 31

    // MARK: Draws

    /// The standard normal N(0, 1) at `coordinate` of (`sample`, `step`).
    public func normal(sample: Int, step: Int, coordinate: Int) -> Double {
        Self.check(sample: sample, step: step)
        precondition(coordinate >= 0 && coordinate < Self.coordinateLimit,
                     "coordinate must be in 0..<2^32, got \(coordinate)")
        let pair = normalPair(sample: sample, step: step, pair: UInt32(truncatingIfNeeded: coordinate >> 1))
        return coordinate & 1 == 0 ? pair.0 : pair.1
    }

    /// Fills `buffer` with the standard normals at coordinates `0..<buffer.count` of
    /// (`sample`, `step`): element c equals `normal(sample:step:coordinate: c)`.
    public func normals(sample: Int, step: Int, into buffer: UnsafeMutableBufferPointer<Double>) {
        Self.check(sample: sample, step: step)
        let n = buffer.count
        precondition(n <= Self.coordinateLimit, "at most 2^32 coordinates, got \(n)")
        var c = 0
        while c < n {
            let pair = normalPair(sample: sample, step: step, pair: UInt32(truncatingIfNeeded: c >> 1))
            buffer[c] = pair.0
            if c + 1 < n { buffer[c + 1] = pair.1 }
            c += 2
        }
    }

    /// The standard normals at coordinates `0..<count` of (`sample`, `step`).
    public func normals(sample: Int, step: Int, count: Int) -> [Double] {
        precondition(count >= 0, "count must be non-negative, got \(count)")
        return [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            normals(sample: sample, step: step, into: buffer)
            initialized = count
        }
    }

    /// The uniform on (0, 1) numbered `index` of (`sample`, `step`); never exactly 0 or 1.
    public func uniform(sample: Int, step: Int, index: Int = 0) -> Double {
        Self.check(sample: sample, step: step)
        precondition(index >= 0 && index < Self.coordinateLimit, "index must be in 0..<2^32, got \(index)")
        let w = block(word: Self.uniformFlag | UInt32(truncatingIfNeeded: index >> 1), sample: sample, step: step)
        return index & 1 == 0 ? Self.unitInterval(high: w.0, low: w.1) : Self.unitInterval(high: w.2, low: w.3)
    }

    // MARK: Layout

    /// The Philox block at counter (`word`, step, sample mod 2³², sample / 2³²).
    @inline(__always)
    func block(word: UInt32, sample: Int, step: Int) -> (UInt32, UInt32, UInt32, UInt32) {
        let s = UInt64(sample)
        return Philox4x32.block(word, UInt32(truncatingIfNeeded: step),
                                UInt32(truncatingIfNeeded: s), UInt32(truncatingIfNeeded: s >> 32),
                                key: UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    @inline(__always)
    private func normalPair(sample: Int, step: Int, pair: UInt32) -> (Double, Double) {
        let w = block(word: pair, sample: sample, step: step)
        return Self.boxMuller(Self.unitInterval(high: w.0, low: w.1), Self.unitInterval(high: w.2, low: w.3))
    }

    /// (⌊(2³²·high + low) / 2¹¹⌋ + ½) · 2⁻⁵³, in [2⁻⁵⁴, 1 − 2⁻⁵⁴]; exact in binary64.
    @inline(__always)
    static func unitInterval(high: UInt32, low: UInt32) -> Double {
        let bits = (UInt64(high) << 32 | UInt64(low)) >> 11
        return (Double(bits) + 0.5) * 0x1p-53
    }

    /// Box–Muller: (√(−2 log u₁) cos 2πu₂, √(−2 log u₁) sin 2πu₂) for u₁, u₂ in (0, 1).
    @inline(__always)
    static func boxMuller(_ u1: Double, _ u2: Double) -> (Double, Double) {
        let r = (-2 * log(u1)).squareRoot()
        let theta = 2 * Double.pi * u2
        return (r * cos(theta), r * sin(theta))
    }

    @inline(__always)
    private static func check(sample: Int, step: Int) {
        precondition(sample >= 0, "sample must be non-negative, got \(sample)")
        precondition(step >= 0 && step <= maximumStep, "step must be in 0...2^32-1, got \(step)")
    }
}
