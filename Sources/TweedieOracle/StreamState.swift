import Foundation

/// Running sums over a subset of components for a tile of points, kept relative to a running
/// maximum of the log-weights (log-sum-exp streaming, as in attention): no B×K×D storage.
///
/// Row b of `accumulator` holds `width` numbers whose meaning depends on the kernel (for Gaussian
/// components, 3D: Σ_k w_k U_k(z_k/d_k), Σ_k w_k U_k(gain_k ⊙ z_k), Σ_k w_k μ_k; for Dirac
/// components, 2D: Σ_k w_k μ_k, Σ_k w_k ν_k), with w_k = exp(a_k − rowMax).
///
/// The numbers live in one block of a ``Workspace``, given back by ``release(to:)``.
struct StreamState {
    let rows: Int
    let width: Int
    let rowMax: UnsafeMutablePointer<Double>
    let weightSum: UnsafeMutablePointer<Double>
    /// Σ_k w_k Σ_i 1/d_{k,i}: the trace part of the divergence (docs/math.md §3).
    let traceSum: UnsafeMutablePointer<Double>
    /// Σ_k w_k ‖ŝ_k‖² (Gaussian components): the second moment of the component scores, whose
    /// difference with ‖ŝ‖² is the variance part of the divergence (refined when that difference
    /// cancels). For Dirac components, Σ_k w_k ‖ν̃_k‖², the data's own second moment (docs/math.md §3.4).
    let normSum: UnsafeMutablePointer<Double>
    /// rows × width.
    let accumulator: UnsafeMutablePointer<Double>

    init(rows: Int, width: Int, workspace: Workspace) {
        self.rows = rows
        self.width = width
        let block = workspace.take(rows * (4 + width))
        rowMax = block
        weightSum = block + rows
        traceSum = block + 2 * rows
        normSum = block + 3 * rows
        accumulator = block + 4 * rows
        rowMax.initialize(repeating: -.infinity, count: rows)
        weightSum.initialize(repeating: 0, count: rows * (3 + width))
    }

    func release(to workspace: Workspace) { workspace.give(rowMax) }

    /// Raises row b's running maximum to `newMax` (if larger), rescaling what it holds.
    @inline(__always)
    mutating func raiseMax(row b: Int, to newMax: Double) {
        guard newMax > rowMax[b] else { return }
        let scale = rowMax[b] == -.infinity ? 0 : exp(rowMax[b] - newMax)
        rowMax[b] = newMax
        guard weightSum[b] != 0 else { return }
        weightSum[b] *= scale
        traceSum[b] *= scale
        normSum[b] *= scale
        let base = b * width
        for i in 0..<width { accumulator[base + i] *= scale }
    }

    /// Adds a component with log-weight `a` to row b (raising the running maximum first) and
    /// returns its weight w = exp(a − max); the caller adds w times its vectors to the accumulator.
    @inline(__always)
    mutating func add(row b: Int, logWeight a: Double, trace: Double, scoreNorm: Double) -> Double {
        raiseMax(row: b, to: a)
        let w = exp(a - rowMax[b])
        weightSum[b] += w
        traceSum[b] += w * trace
        normSum[b] += w * scoreNorm
        return w
    }

    /// Folds `other` (the same tile, other components) into this state.
    mutating func merge(_ other: StreamState) {
        for b in 0..<rows {
            absorb(row: b, max: other.rowMax[b], weightSum: other.weightSum[b], traceSum: other.traceSum[b],
                   normSum: other.normSum[b], sums: other.accumulator + b * width)
        }
    }

    /// Folds into row b the sums of other components, kept relative to their own maximum `max`
    /// (`sums` holds `width` numbers).
    @inline(__always)
    mutating func absorb(row b: Int, max: Double, weightSum w: Double, traceSum t: Double, normSum n: Double,
                         sums: UnsafePointer<Double>) {
        raiseMax(row: b, to: max)
        guard w != 0 else { return }
        let scale = exp(max - rowMax[b])
        weightSum[b] += scale * w
        traceSum[b] += scale * t
        normSum[b] += scale * n
        let base = b * width
        for i in 0..<width { accumulator[base + i] += scale * sums[i] }
    }
}
