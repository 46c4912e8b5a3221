import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import TweedieRandom

/// A function of the distance between two points summed over all pairs of two point sets by
/// ``PairwiseSums``.
public enum PairwiseKernel: Sendable, Equatable {
    /// k(x, y) = exp(−‖x − y‖² / (2h²)), the Gaussian kernel of bandwidth h.
    case gaussian(bandwidth: Double)
    /// k(x, y) = ‖x − y‖, the kernel of the energy distance.
    case distance
}

/// Sums of kernels over every pair (x_i, y_j) of two point sets, with the pairwise squared
/// distances from one matrix product per block:
///
///     ‖x − y‖² = ‖x‖² + ‖y‖² − 2 xᵀy   (clamped at 0 against rounding),
///
/// the cross terms X_b Y_cᵀ of a block of ``blockSize`` rows of X against ``blockSize`` rows of Y
/// by BLAS GEMM. Memory stays at one blockSize² block per thread (8 MB for 1024 rows) whatever
/// the set sizes. Both sets are first translated by the same point (the mean of X) — distances do
/// not change, and the cancellation in ‖x‖² + ‖y‖² − 2xᵀy shrinks to the spread of the data.
///
/// Blocks run on all cores (``Parallel``); each block's sums are kept apart and added in block
/// order, so the result does not depend on the thread count.
enum PairwiseSums {
    /// Rows of each set per block.
    static let blockSize = 1024

    /// Σ_{i, j} k(x_i, y_j) for each kernel, over all |X|·|Y| pairs.
    static func cross(_ x: Matrix, _ y: Matrix, kernels: [PairwiseKernel], blockSize: Int = blockSize) -> [Double] {
        let shift = x.columnMeans
        return sums(centred(x, shift), centred(y, shift), symmetric: false, kernels: kernels, blockSize: blockSize)
    }

    /// Σ_{i ≠ j} k(x_i, x_j) for each kernel, over the n(n − 1) ordered pairs of distinct rows of
    /// one set (the diagonal i = j left out; each unordered pair counted twice).
    static func within(_ x: Matrix, kernels: [PairwiseKernel], blockSize: Int = blockSize) -> [Double] {
        let c = centred(x, x.columnMeans)
        return sums(c, c, symmetric: true, kernels: kernels, blockSize: blockSize)
    }

    static func centred(_ x: Matrix, _ shift: [Double]) -> Matrix {
        var out = x
        let d = x.columns
        for r in 0..<x.rows { for i in 0..<d { out.elements[r * d + i] -= shift[i] } }
        return out
    }

    static func squaredNorms(_ x: Matrix) -> [Double] {
        let d = x.columns
        return (0..<x.rows).map { r in
            var s = 0.0
            for i in 0..<d { s += x.elements[r * d + i] * x.elements[r * d + i] }
            return s
        }
    }

    /// The blocked sums. With `symmetric` (x and y the same set) only blocks c ≥ b are computed,
    /// off-diagonal blocks counted twice, and the diagonal pairs i = j skipped.
    private static func sums(_ x: Matrix, _ y: Matrix, symmetric: Bool, kernels: [PairwiseKernel],
                             blockSize: Int) -> [Double] {
        precondition(x.columns == y.columns, "point sets of different dimensions")
        let d = x.columns, m = x.rows, n = y.rows, nk = kernels.count
        guard m > 0, n > 0, nk > 0 else { return [Double](repeating: 0, count: nk) }
        let xNorms = squaredNorms(x), yNorms = symmetric ? xNorms : squaredNorms(y)
        let rowBlocks = (m + blockSize - 1) / blockSize, columnBlocks = (n + blockSize - 1) / blockSize
        var pairs: [(Int, Int)] = []
        for b in 0..<rowBlocks { for c in (symmetric ? b : 0)..<columnBlocks { pairs.append((b, c)) } }
        // −1/(2h²) for the Gaussian kernels; 0 marks the distance kernel.
        let exponents = kernels.map { kernel -> Double in
            if case .gaussian(let h) = kernel { return -1 / (2 * h * h) }
            return 0
        }
        var partial = [Double](repeating: 0, count: pairs.count * nk)
        partial.withUnsafeMutableBufferPointer { output in
            let out = UncheckedSendable(output.baseAddress!)
            Parallel.forEach(pairs.count) { task in
                let (b, c) = pairs[task]
                let rows = (b * blockSize)..<min(m, (b + 1) * blockSize)
                let columns = (c * blockSize)..<min(n, (c + 1) * blockSize)
                let (br, bc) = (rows.count, columns.count)
                var block = [Double](repeating: 0, count: br * bc)
                x.elements.withUnsafeBufferPointer { px in
                    y.elements.withUnsafeBufferPointer { py in
                        block.withUnsafeMutableBufferPointer { pb in
                            BLAS.gemm(.none, .transpose, m: br, n: bc, k: d, alpha: -2,
                                      a: px.baseAddress! + rows.lowerBound * d, lda: d,
                                      b: py.baseAddress! + columns.lowerBound * d, ldb: d,
                                      c: pb.baseAddress!, ldc: bc)
                        }
                    }
                }
                let weight = symmetric && b != c ? 2.0 : 1.0
                var totals = [Double](repeating: 0, count: nk)
                var squared = [Double](repeating: 0, count: bc)
                block.withUnsafeBufferPointer { pb in
                    squared.withUnsafeMutableBufferPointer { sq in
                        for r in 0..<br {
                            let i = rows.lowerBound + r
                            var used = 0
                            for s in 0..<bc {
                                let j = columns.lowerBound + s
                                // Within one set the pair i = j is left out.
                                if symmetric && j == i { continue }
                                sq[used] = max(xNorms[i] + yNorms[j] + pb[r * bc + s], 0)
                                used += 1
                            }
                            for q in 0..<nk {
                                var sum = 0.0
                                let a = exponents[q]
                                if a == 0 {
                                    for s in 0..<used { sum += sq[s].squareRoot() }
                                } else {
                                    for s in 0..<used { sum += exp(a * sq[s]) }
                                }
                                totals[q] += sum
                            }
                        }
                    }
                }
                for q in 0..<nk { out.value[task * nk + q] = weight * totals[q] }
            }
        }
        var result = [Double](repeating: 0, count: nk)
        for task in 0..<pairs.count { for q in 0..<nk { result[q] += partial[task * nk + q] } }
        return result
    }

    /// The median of the pairwise distances ‖z_i − z_j‖ (i < j) of the pooled rows of `x` and
    /// `y`, computed on at most `limit` of the pooled points chosen without replacement by a
    /// partial Fisher–Yates shuffle driven by `NoiseStream(seed)` (uniform u_i at sample i,
    /// step 0): all of them when there are no more than `limit`.
    static func medianDistance(pooling x: Matrix, _ y: Matrix, limit: Int, seed: UInt64) -> Double {
        let total = x.rows + y.rows, d = x.columns
        var order = Array(0..<total)
        let count = min(limit, total)
        if count < total {
            let stream = NoiseStream(seed: seed)
            for i in 0..<count {
                let u = stream.uniform(sample: i, step: 0)
                let j = i + min(Int(u * Double(total - i)), total - i - 1)
                order.swapAt(i, j)
            }
        }
        var points = Matrix(rows: count, columns: d)
        for (r, source) in order.prefix(count).enumerated() {
            let row = source < x.rows ? x.row(source) : y.row(source - x.rows)
            points.setRow(r, to: row)
        }
        let c = centred(points, points.columnMeans)
        let norms = squaredNorms(c)
        let gram = BLAS.product(c, .none, c, .transpose)
        var distances = [Double](repeating: 0, count: count * (count - 1) / 2)
        guard !distances.isEmpty else { return .nan }
        distances.withUnsafeMutableBufferPointer { out in
            gram.elements.withUnsafeBufferPointer { g in
                var a = 0
                for i in 0..<count {
                    for j in (i + 1)..<max(count, i + 1) {
                        out[a] = max(norms[i] + norms[j] - 2 * g[i * count + j], 0).squareRoot()
                        a += 1
                    }
                }
            }
        }
        return median(&distances)
    }

    /// The median of `values` (the mean of the two middle values for an even count), by
    /// quickselect (Hoare partitions around the middle element); reorders `values`.
    static func median(_ values: inout [Double]) -> Double {
        let n = values.count
        guard n > 0 else { return .nan }
        return values.withUnsafeMutableBufferPointer { v -> Double in
            /// The value of rank `rank` (0-based) of v[low...high], partially sorting it.
            func select(_ rank: Int, _ low: Int, _ high: Int) -> Double {
                var (low, high) = (low, high)
                while low < high {
                    let (i, j) = hoarePartition(v, low, high, pivot: v[low + (high - low) / 2])
                    // Now v[low...j] ≤ pivot ≤ v[i...high], and v[j+1..<i] = pivot.
                    if rank <= j { high = j } else if rank >= i { low = i } else { return v[rank] }
                }
                return v[rank]
            }
            let upper = select(n / 2, 0, n - 1)
            guard n % 2 == 0 else { return upper }
            // The lower middle value is the largest of the values ranked below n/2.
            var lower = -Double.infinity
            for i in 0..<(n / 2) { lower = max(lower, v[i]) }
            return 0.5 * (lower + upper)
        }
    }

    /// Throws unless `x` has `dimension` columns and finite coordinates.
    /// Checks points for the pairwise figures: finite, and small enough that the sums of squared
    /// distances between them stay finite (|x_i| ≤ 1e150).
    static func check(_ x: Matrix, _ name: String, dimension: Int? = nil) throws(ArgumentError) {
        try requirePoints(x, dimension: dimension, name)
        if let i = x.elements.firstIndex(where: { abs($0) > 1e150 }) {
            throw ArgumentError(name, "point \(i / max(x.columns, 1)) holds \(x.elements[i]): beyond 1e150, "
                                + "squared distances between points would overflow")
        }
    }
}

/// Hoare's partition of values[low...high] around `pivot` (a value in that range): returns (i, j)
/// with values[low...j] ≤ pivot ≤ values[i...high] and values[j+1..<i] = pivot.
@inline(__always)
func hoarePartition(_ values: UnsafeMutableBufferPointer<Double>, _ low: Int, _ high: Int,
                    pivot: Double) -> (Int, Int) {
    var (i, j) = (low, high)
    while i <= j {
        while values[i] < pivot { i += 1 }
        while values[j] > pivot { j -= 1 }
        if i <= j {
            values.swapAt(i, j)
            i += 1
            j -= 1
        }
    }
    return (i, j)
}

/// Sorts `values` ascending in place: quicksort (Hoare partitions around the median of the
/// first, middle and last values; the smaller side first, the larger iterated, so the stack stays
/// O(log n)) with insertion sort below 16 values. Non-generic, so debug builds run it at a
/// useful speed; for finite values the result is the same as the standard library's sort.
func sortAscending(_ values: UnsafeMutableBufferPointer<Double>) {
    var stack: [(Int, Int)] = [(0, values.count - 1)]
    while let (start, end) = stack.popLast() {
        var (low, high) = (start, end)
        while high - low >= 16 {
            let middle = low + (high - low) / 2
            var (a, b, c) = (values[low], values[middle], values[high])
            if a > b { swap(&a, &b) }
            if b > c { swap(&b, &c) }
            if a > b { swap(&a, &b) }
            let (i, j) = hoarePartition(values, low, high, pivot: b)
            // values[low...j] ≤ pivot ≤ values[i...high].
            if j - low < high - i {
                stack.append((i, high))
                high = j
            } else {
                stack.append((low, j))
                low = i
            }
        }
        if high > low {
            for i in (low + 1)...high {
                let v = values[i]
                var j = i - 1
                while j >= low && values[j] > v {
                    values[j + 1] = values[j]
                    j -= 1
                }
                values[j + 1] = v
            }
        }
    }
}
