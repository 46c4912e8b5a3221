import Foundation
import TweedieDiffusion
import TweedieDistributions

/// The grids of scaled noise levels that samplers are run on in practice, N levels from σ̃_max
/// down (then 0), as docs/math.md §12.5 defines them.
public enum PublishedGrid: String, Sendable, CaseIterable {
    /// Karras et al. (2022), ρ = 7.
    case karras
    /// The closed form of Align Your Steps for Gaussian data, shipped in image-generation tools
    /// as `kl_optimal`: tan((1 − u) atan σ̃_max + u atan σ̃_min).
    case klOptimal = "kl-optimal"
    /// Uniform in λ = −log σ̃.
    case uniformLogSNR = "uniform-lambda"
    /// Align Your Steps' published 10-step levels for Stable Diffusion 1.5, interpolated
    /// log-linearly to other lengths and mapped onto [σ̃_min, σ̃_max] in log σ̃.
    case alignYourSteps = "ays"

    /// Align Your Steps, Stable Diffusion 1.5, 10 steps: 11 levels, the last replaced by 0 in use.
    static let alignYourStepsLevels = [14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520, 1.8841921177,
                                       1.3943805092, 0.9642583904, 0.6523686016, 0.3977456272, 0.1515232662,
                                       0.0291671582]

    /// N = `count` levels between `sigmaMax` and `sigmaMin` (σ̃).
    public func levels(count n: Int, sigmaMax: Double, sigmaMin: Double) -> [Double] {
        guard n > 1 else { return [sigmaMax] }
        let u = (0..<n).map { Double($0) / Double(n - 1) }
        var levels: [Double]
        switch self {
        case .karras:
            let rho = 7.0
            let a = pow(sigmaMax, 1 / rho), b = pow(sigmaMin, 1 / rho)
            levels = u.map { pow(a + $0 * (b - a), rho) }
        case .klOptimal:
            levels = u.map { tan((1 - $0) * atan(sigmaMax) + $0 * atan(sigmaMin)) }
        case .uniformLogSNR:
            levels = u.map { exp((1 - $0) * log(sigmaMax) + $0 * log(sigmaMin)) }
        case .alignYourSteps:
            // N + 1 values log-linearly interpolated from the 11 published ones; the last is the
            // 0 of the final step. log σ̃ is mapped affinely so that the published ends land on
            // σ̃_max and σ̃_min.
            let published = Self.alignYourStepsLevels.map { log($0) }
            let (top, bottom) = (published.first!, published.last!)
            let m = published.count - 1
            levels = (0..<n).map { i in
                let position = Double(i) * Double(m) / Double(n)
                let k = min(Int(position), m - 1)
                let logSigma = published[k] + (position - Double(k)) * (published[k + 1] - published[k])
                let fraction = (logSigma - top) / (bottom - top)
                return exp(log(sigmaMax) + fraction * (log(sigmaMin) - log(sigmaMax)))
            }
        }
        levels[0] = sigmaMax
        if self != .alignYourSteps { levels[n - 1] = sigmaMin }
        return levels
    }
}

/// σ̃_max and σ̃_min of a schedule: σ/α at the ends of its time range, as Karras' grid takes them.
public func scaledNoiseRange(of schedule: Schedule) throws(ScheduleError) -> (max: Double, min: Double) {
    let ends = try TimeGrid.karras(schedule, count: 2)
    return (schedule.sigma(ends[0]) / schedule.alpha(ends[0]), schedule.sigma(ends[1]) / schedule.alpha(ends[1]))
}

/// The grid that minimises the exact KL of ``ExactGridKL`` over N levels, the first held at
/// σ̃_max, the others free in [σ̃_min, σ̃_max] and decreasing (docs/math.md §12.5).
public struct OptimalGrid: Sendable {
    /// The optimal σ̃ levels.
    public let levels: [Double]
    /// Its exact KL(q_N ‖ p_0), nats.
    public let kl: Double
    /// The largest component of the KL's gradient with respect to the parameters θ at the end.
    public let gradientNorm: Double
    /// L-BFGS iterations, summed over the starts.
    public let iterations: Int
    /// The published grid the best run started from.
    public let start: PublishedGrid
    /// The intervals (i, i + 1) held at the shortest length allowed, 1/(100 N) of the log span:
    /// where the exact optimum would merge two levels.
    public let intervalsAtFloor: [Int]

    /// Optimises the grid of `count` levels for `objective`, from each published grid but AYS.
    /// With `freeEnd` false the last level is held at `sigmaMin`, as in the published grids.
    public init(_ objective: ExactGridKL, count: Int, sigmaMax: Double, sigmaMin: Double,
                freeEnd: Bool = true) throws(ArgumentError) {
        guard count >= 1, count <= ExactGridKL.maximumLevels else {
            throw ArgumentError("levels", "between 1 and \(ExactGridKL.maximumLevels) grid levels, got \(count)")
        }
        guard sigmaMax.isFinite, sigmaMin > 0, sigmaMin < sigmaMax else {
            throw ArgumentError("sigma", "need 0 < σ̃_min < σ̃_max < ∞, got σ̃_min = \(sigmaMin), σ̃_max = \(sigmaMax)")
        }
        let map = GridParameters(count: count, sigmaMax: sigmaMax, sigmaMin: sigmaMin, freeEnd: freeEnd)
        var best: (levels: [Double], kl: Double, gradient: Double, start: PublishedGrid, floor: [Int])?
        var iterations = 0
        for start in [PublishedGrid.karras, .klOptimal, .uniformLogSNR] {
            let theta = map.parameters(of: start.levels(count: count, sigmaMax: sigmaMax, sigmaMin: sigmaMin))
            let run = LBFGS.minimize(from: theta) { theta in
                let levels = map.levels(theta)
                guard let (kl, gradient) = try? objective.divergenceAndGradient(levels: levels), kl.isFinite else {
                    return (.infinity, [Double](repeating: 0, count: theta.count))
                }
                return (kl, map.pullBack(gradient, levels: levels, theta: theta))
            }
            iterations += run.iterations
            if best == nil || run.value < best!.kl {
                best = (map.levels(run.x), run.value, run.gradientNorm, start, map.intervalsAtFloor(run.x))
            }
        }
        levels = best!.levels
        kl = best!.kl
        gradientNorm = best!.gradient
        self.iterations = iterations
        start = best!.start
        intervalsAtFloor = best!.floor
    }
}

/// log σ̃_i = log σ̃_max − (log σ̃_max − log σ̃_min) c_i with c_i = Σ_{k<i} w_k, each interval's weight
/// w_k = δ + (1 − (N−1)δ) p_k for k < N − 1 and the slack above σ̃_min w_{N−1} = (1 − (N−1)δ) p_{N−1},
/// p = softmax(θ) ∈ R^N and δ = ``minimumInterval`` (docs/math.md §12.5).
struct GridParameters {
    let count: Int
    let sigmaMax: Double
    let sigmaMin: Double
    /// Whether σ̃_{N−1} is free above σ̃_min (θ ∈ R^N) or held at σ̃_min (θ ∈ R^{N−1}, no slack).
    var freeEnd = true
    var parameterCount: Int { freeEnd ? count : count - 1 }
    var span: Double { log(sigmaMax) - log(sigmaMin) }
    /// δ: no interval is shorter than 1/(100 N) of the log span.
    var minimumInterval: Double { 0.01 / Double(count) }
    var free: Double { 1 - Double(count - 1) * minimumInterval }

    func probabilities(_ theta: [Double]) -> [Double] {
        let top = theta.max() ?? 0
        let e = theta.map { exp($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// c_0 … c_{N−1}.
    func positions(_ theta: [Double]) -> [Double] {
        let p = probabilities(theta)
        var c = [0.0]
        for k in 0..<(count - 1) { c.append(c[k] + minimumInterval + free * p[k]) }
        return c
    }

    func levels(_ theta: [Double]) -> [Double] {
        // In exact arithmetic every level is ≥ σ̃_min, and the last is σ̃_min when the end is held;
        // rounding is not allowed to step outside the schedule's range.
        positions(theta).enumerated().map { i, c in
            if i == 0 { return sigmaMax }
            if !freeEnd, i == count - 1 { return sigmaMin }
            return max(exp(log(sigmaMax) - span * c), sigmaMin)
        }
    }

    /// The intervals held at the floor δ (p_k below 10⁻⁶ of δ).
    func intervalsAtFloor(_ theta: [Double]) -> [Int] {
        let p = probabilities(theta)
        return (0..<(count - 1)).filter { free * p[$0] < 1e-6 * minimumInterval }
    }

    /// θ whose grid is `levels`, which must keep every interval above the floor; a grid that ends at
    /// σ̃_min gets a slack of 10⁻⁴ of the span.
    func parameters(of levels: [Double]) -> [Double] {
        var w = (0..<(count - 1)).map { (log(levels[$0]) - log(levels[$0 + 1])) / span - minimumInterval }
        let slack = freeEnd ? max((log(levels[count - 1]) - log(sigmaMin)) / span, 1e-4) : 0
        let scale = (free - slack) / max(w.reduce(0, +), .leastNormalMagnitude)
        w = w.map { max($0 * scale, 1e-12) }
        return (freeEnd ? w + [slack] : w).map { log($0 / free) }
    }

    /// ∂KL/∂θ_j = −span · (1 − (N−1)δ) p_j (Σ_{i>j} G_i − Σ_i G_i P_i), G_i = σ̃_i ∂KL/∂σ̃_i,
    /// P_i = Σ_{k<i} p_k.
    func pullBack(_ gradient: [Double], levels: [Double], theta: [Double]) -> [Double] {
        let p = probabilities(theta)
        let g = zip(levels, gradient).map { $0 * $1 }
        var cumulative = [0.0]
        for k in 0..<(count - 1) { cumulative.append(cumulative[k] + p[k]) }
        let weighted = zip(g, cumulative).reduce(0) { $0 + $1.0 * $1.1 }
        var tail = [Double](repeating: 0, count: count)  // tail[j] = Σ_{i>j} G_i
        for j in stride(from: count - 2, through: 0, by: -1) { tail[j] = tail[j + 1] + g[j + 1] }
        return (0..<parameterCount).map { j in -span * free * p[j] * (tail[j] - weighted) }
    }
}

/// Limited-memory BFGS (Nocedal and Wright, Algorithm 7.4) with a backtracking line search on the
/// Armijo condition; stops when the gradient or the relative decrease vanishes.
enum LBFGS {
    struct Result {
        var x: [Double]
        var value: Double
        var gradientNorm: Double
        var iterations: Int
    }

    static func minimize(from start: [Double], memory: Int = 10, maximumIterations: Int = 1000,
                         _ f: ([Double]) -> (Double, [Double])) -> Result {
        var x = start
        var (value, gradient) = f(x)
        var pairs: [(s: [Double], y: [Double], rho: Double)] = []
        var iterations = 0
        var stalls = 0
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        func norm(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
        while iterations < maximumIterations, value.isFinite, norm(gradient) > 1e-13 * max(1, abs(value)) {
            iterations += 1
            // Two-loop recursion: d = −H g.
            var q = gradient
            var alphas: [Double] = []
            for (s, y, rho) in pairs.reversed() {
                let a = rho * dot(s, q)
                alphas.append(a)
                for i in q.indices { q[i] -= a * y[i] }
            }
            if let last = pairs.last {
                let scale = dot(last.s, last.y) / dot(last.y, last.y)
                for i in q.indices { q[i] *= scale }
            } else {
                let scale = 1 / max(norm(gradient), 1e-300)
                for i in q.indices { q[i] *= scale }
            }
            for ((s, y, rho), a) in zip(pairs, alphas.reversed()) {
                let b = rho * dot(y, q)
                for i in q.indices { q[i] += (a - b) * s[i] }
            }
            var direction = q.map { -$0 }
            var slope = dot(direction, gradient)
            if !(slope < 0) {
                pairs.removeAll()
                direction = gradient.map { -$0 / max(norm(gradient), 1e-300) }
                slope = dot(direction, gradient)
            }
            var step = 1.0
            var accepted: (x: [Double], value: Double, gradient: [Double])?
            for _ in 0..<60 {
                let trial = zip(x, direction).map { $0 + step * $1 }
                let (v, g) = f(trial)
                if v.isFinite, v <= value + 1e-4 * step * slope { accepted = (trial, v, g); break }
                step *= 0.5
            }
            guard let (next, nextValue, nextGradient) = accepted else { break }
            let s = zip(next, x).map { $0 - $1 }, y = zip(nextGradient, gradient).map { $0 - $1 }
            let sy = dot(s, y)
            if sy > 1e-14 * dot(y, y) {
                pairs.append((s, y, 1 / sy))
                if pairs.count > memory { pairs.removeFirst() }
            }
            let decrease = value - nextValue
            (x, value, gradient) = (next, nextValue, nextGradient)
            stalls = decrease <= 1e-14 * max(abs(value), 1e-300) ? stalls + 1 : 0
            if stalls >= 5 { break }
        }
        return Result(x: x, value: value, gradientNorm: norm(gradient), iterations: iterations)
    }
}
