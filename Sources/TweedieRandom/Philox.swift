/// The Philox-4×32 block function of Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as
/// easy as 1, 2, 3" (SC '11), as specified by the Random123 library (`philox4x32_R`).
///
/// A counter-based generator: the output is a bijective, keyed function of a 128-bit counter, so
/// any element of any stream is computed directly, in any order, on any thread. Each round maps
/// the counter (c₀, c₁, c₂, c₃) with key (k₀, k₁) to
///
///     (hi(M₁c₂) ⊕ c₁ ⊕ k₀,  lo(M₁c₂),  hi(M₀c₀) ⊕ c₃ ⊕ k₁,  lo(M₀c₀))
///
/// where hi/lo are the upper/lower 32 bits of the 64-bit product, M₀ = 0xD2511F53 and
/// M₁ = 0xCD9E8D57; between rounds the key is advanced by the Weyl increments
/// (0x9E3779B9, 0xBB67AE85) modulo 2³². Ten rounds is the standard (crush-resistant) variant.
public enum Philox4x32 {
    /// The round multipliers (M₀, M₁).
    public static let multipliers: (UInt32, UInt32) = (0xD251_1F53, 0xCD9E_8D57)
    /// The key increments added between rounds (the golden ratio and √3 − 1, as 32-bit fractions).
    public static let weylIncrements: (UInt32, UInt32) = (0x9E37_79B9, 0xBB67_AE85)
    /// The number of rounds of the standard generator.
    public static let standardRounds = 10

    /// The block for `counter` under `key`, after `rounds` rounds (10 unless testing).
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>,
                             rounds: Int = standardRounds) -> SIMD4<UInt32> {
        precondition(rounds >= 0, "rounds must be non-negative, got \(rounds)")
        let w = block(counter.x, counter.y, counter.z, counter.w, key: key.x, key.y, rounds: rounds)
        return SIMD4(w.0, w.1, w.2, w.3)
    }

    /// The scalar form used on hot paths (no SIMD wrapping).
    @inline(__always)
    static func block(_ c0: UInt32, _ c1: UInt32, _ c2: UInt32, _ c3: UInt32,
                      key k0: UInt32, _ k1: UInt32,
                      rounds: Int = standardRounds) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = (c0, c1, c2, c3)
        var (k0, k1) = (k0, k1)
        for round in 0..<rounds {
            if round > 0 {
                k0 &+= weylIncrements.0
                k1 &+= weylIncrements.1
            }
            let p0 = UInt64(multipliers.0) &* UInt64(c0)
            let p1 = UInt64(multipliers.1) &* UInt64(c2)
            (c0, c1, c2, c3) = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0,
                                UInt32(truncatingIfNeeded: p1),
                                UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1,
                                UInt32(truncatingIfNeeded: p0))
        }
        return (c0, c1, c2, c3)
    }
}
