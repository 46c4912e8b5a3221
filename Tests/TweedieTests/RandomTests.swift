import Foundation
import Testing
@testable import Tweedie
@testable import TweedieRandom

/// Philox-4×32 and the normal/uniform transforms of ``NoiseStream``.
@Suite struct RandomTests {
    /// Known-answer vectors of Random123, `tests/kat_vectors` in
    /// https://github.com/DEShawResearch/random123 (lines "philox4x32 7 …" and "philox4x32 10 …"):
    /// counter (4 words), key (2 words), expected block (4 words). The third input is the
    /// hexadecimal digits of π.
    static let knownAnswers: [(rounds: Int, counter: SIMD4<UInt32>, key: SIMD2<UInt32>, expected: SIMD4<UInt32>)] = [
        (7, [0, 0, 0, 0], [0, 0], [0x5f6f_b709, 0x0d89_3f64, 0x4f12_1f81, 0x4f73_0a48]),
        (7, [.max, .max, .max, .max], [.max, .max], [0x5207_ddc2, 0x4516_5e59, 0x4d8e_e751, 0x8c52_f662]),
        (7, [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0],
         [0x4dfc_caba, 0x190a_87f0, 0xc473_62ba, 0xb6b5_242a]),
        (10, [0, 0, 0, 0], [0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
        (10, [.max, .max, .max, .max], [.max, .max], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
        (10, [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0],
         [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]),
    ]

    @Test func philoxMatchesRandom123KnownAnswers() {
        for v in Self.knownAnswers {
            #expect(Philox4x32.block(counter: v.counter, key: v.key, rounds: v.rounds) == v.expected,
                    "philox4x32-\(v.rounds) counter \(v.counter) key \(v.key)")
        }
        // The default is the 10-round generator.
        #expect(Philox4x32.block(counter: [0, 0, 0, 0], key: [0, 0]) == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
    }

    /// The documented layout: key = seed words, counter = (pair or 2³¹ + index pair, step,
    /// sample words); u from (b₀, b₁) and (b₂, b₃); Box–Muller as written in the doc comment.
    @Test func streamFollowsTheDocumentedLayout() {
        let seed: UInt64 = 0x0123_4567_89ab_cdef, sample = 0x0000_0005_0000_0007, step = 11
        let stream = NoiseStream(seed: seed)
        let key = SIMD2<UInt32>(0x89ab_cdef, 0x0123_4567)
        func unit(_ hi: UInt32, _ lo: UInt32) -> Double {
            // 64 bits → top 53 bits, as an odd multiple of 2⁻⁵⁴.
            Double(2 * ((UInt64(hi) << 32 | UInt64(lo)) >> 11) + 1) / 18014398509481984.0
        }
        for coordinate in [0, 1, 6, 7, 1001] {
            let b = Philox4x32.block(counter: [UInt32(coordinate / 2), UInt32(step), 7, 5], key: key)
            let u1 = unit(b[0], b[1]), u2 = unit(b[2], b[3])
            let r = (-2 * log(u1)).squareRoot()
            let expected = coordinate % 2 == 0 ? r * cos(2 * .pi * u2) : r * sin(2 * .pi * u2)
            #expect(stream.normal(sample: sample, step: step, coordinate: coordinate) == expected)
        }
        for index in [0, 1, 2, 9] {
            let b = Philox4x32.block(counter: [(1 << 31) | UInt32(index / 2), UInt32(step), 7, 5], key: key)
            let expected = index % 2 == 0 ? unit(b[0], b[1]) : unit(b[2], b[3])
            #expect(stream.uniform(sample: sample, step: step, index: index) == expected)
        }
    }

    @Test func uniformsStayInsideTheOpenInterval() {
        #expect(NoiseStream.unitInterval(high: 0, low: 0) == 0x1p-54)
        #expect(NoiseStream.unitInterval(high: .max, low: .max) == 1 - 0x1p-54)
        #expect(NoiseStream.unitInterval(high: 0x8000_0000, low: 0) == 0.5 + 0x1p-54)
        // The extreme normal: |z| ≤ √(−2 log 2⁻⁵⁴).
        let (z, _) = NoiseStream.boxMuller(0x1p-54, 0)
        #expect(abs(z - (108 * log(2.0)).squareRoot()) < 1e-14)
    }

    /// A buffer of any length, a single coordinate and the array form agree bit for bit.
    @Test func drawsDoNotDependOnTheBufferSize() {
        let stream = NoiseStream(seed: 99)
        let long = stream.normals(sample: 3, step: 2, count: 101)
        for n in [1, 2, 7, 100] {
            #expect(Array(long.prefix(n)) == stream.normals(sample: 3, step: 2, count: n))
        }
        for c in [0, 1, 50, 99, 100] { #expect(stream.normal(sample: 3, step: 2, coordinate: c) == long[c]) }
    }

    /// 10⁶ normals (1000 samples × 1000 coordinates): mean, variance, third and fourth moments
    /// within 5 standard errors of 0, 1, 0, 3 (standard errors √(m₂ₖ − m_k²)/√n with normal
    /// moments m₂ = 1, m₄ = 3, m₆ = 15, m₈ = 105); Box–Muller partners and neighbouring samples
    /// uncorrelated within 5/√n.
    @Test func normalsHaveStandardMoments() {
        let stream = NoiseStream(seed: 2024)
        let samples = 1000, d = 1000
        var s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, pairs = 0.0, neighbours = 0.0
        var previous = [Double](repeating: 0, count: d), row = [Double](repeating: 0, count: d)
        for i in 0..<samples {
            row.withUnsafeMutableBufferPointer { stream.normals(sample: i, step: 0, into: $0) }
            for c in 0..<d {
                let z = row[c], z2 = z * z
                s1 += z; s2 += z2; s3 += z2 * z; s4 += z2 * z2
                if c % 2 == 1 { pairs += row[c - 1] * z }
                if i > 0 { neighbours += previous[c] * z }
            }
            swap(&previous, &row)
        }
        let n = Double(samples * d)
        #expect(abs(s1 / n) < 5 * (1 / n).squareRoot())
        #expect(abs(s2 / n - 1) < 5 * (2 / n).squareRoot())
        #expect(abs(s3 / n) < 5 * (15 / n).squareRoot())
        #expect(abs(s4 / n - 3) < 5 * (96 / n).squareRoot())
        #expect(abs(pairs / (n / 2)) < 5 / (n / 2).squareRoot())
        #expect(abs(neighbours / (n - Double(d))) < 5 / (n - Double(d)).squareRoot())
    }

    /// Kolmogorov–Smirnov distance between the empirical CDF of 10⁶ normals and Φ, evaluated at
    /// 2000 equiprobable points (a lower bound of the full statistic), below the critical value
    /// √(−½ log(10⁻⁶/2)) / √n ≈ 2.7/√n of a test at level 10⁻⁶. The same for 10⁶ uniforms.
    @Test func normalsAndUniformsPassKolmogorovSmirnov() {
        let stream = NoiseStream(seed: 7)
        let n = 1_000_000, bins = 2000
        let critical = (-0.5 * log(1e-6 / 2)).squareRoot() / Double(n).squareRoot()
        func distance(_ counts: [Int]) -> Double {
            var cumulative = 0, worst = 0.0
            for b in 0..<(bins - 1) {
                cumulative += counts[b]
                worst = max(worst, abs(Double(cumulative) / Double(n) - Double(b + 1) / Double(bins)))
            }
            return worst
        }
        var normalCounts = [Int](repeating: 0, count: bins), uniformCounts = normalCounts
        var row = [Double](repeating: 0, count: 500)
        for i in 0..<(n / 500) {
            row.withUnsafeMutableBufferPointer { stream.normals(sample: i, step: 1, into: $0) }
            for z in row {
                let p = 0.5 * erfc(-z / 2.0.squareRoot())   // Φ(z)
                normalCounts[min(bins - 1, Int(p * Double(bins)))] += 1
            }
            for index in 0..<500 {
                let u = stream.uniform(sample: i, step: 1, index: index)
                uniformCounts[min(bins - 1, Int(u * Double(bins)))] += 1
            }
        }
        #expect(distance(normalCounts) < critical)
        #expect(distance(uniformCounts) < critical)
    }

    /// Different seeds, steps and samples give unrelated draws (correlation within 5/√n), and
    /// normals and uniforms at the same step do not share blocks.
    @Test func streamsAreDistinct() {
        let n = 200_000
        func correlation(_ a: (Int) -> Double, _ b: (Int) -> Double) -> Double {
            (0..<n).reduce(0.0) { $0 + a($1) * b($1) } / Double(n)
        }
        let s0 = NoiseStream(seed: 0), s1 = NoiseStream(seed: 1), high = NoiseStream(seed: 1 << 32)
        let bound = 5 / Double(n).squareRoot()
        #expect(abs(correlation({ s0.normal(sample: $0, step: 0, coordinate: 0) },
                                { s1.normal(sample: $0, step: 0, coordinate: 0) })) < bound)
        #expect(abs(correlation({ s0.normal(sample: $0, step: 0, coordinate: 0) },
                                { high.normal(sample: $0, step: 0, coordinate: 0) })) < bound)
        #expect(abs(correlation({ s0.normal(sample: $0, step: 0, coordinate: 0) },
                                { s0.normal(sample: $0, step: 1, coordinate: 0) })) < bound)
        #expect(abs(correlation({ s0.normal(sample: $0, step: 0, coordinate: 0) },
                                { s0.normal(sample: $0 + (1 << 32), step: 0, coordinate: 0) })) < bound)
        // A uniform maps to N(0, 1) through Φ⁻¹-free centring: 12^½ (u − ½) has unit variance.
        #expect(abs(correlation({ s0.normal(sample: $0, step: 0, coordinate: 0) },
                                { 12.0.squareRoot() * (s0.uniform(sample: $0, step: 0) - 0.5) })) < bound)
        #expect(s0.normal(sample: 0, step: 0, coordinate: 0) != s1.normal(sample: 0, step: 0, coordinate: 0))
    }
}
