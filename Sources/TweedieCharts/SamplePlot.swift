import Foundation
import TweedieDiffusion
import TweedieDistributions
import TweedieEvaluation
import TweedieIO
import TweedieLinearAlgebra
import TweedieOracle
import TweedieRuns

/// Contour levels: the grid's maximum of the log density minus `levelStep` × 1…`levelCount`.
private let levelCount = 8
private let levelStep = 1.0
private let gridSize = 160
/// When p_0 has no density, p_t at α = 1 and σ = this × the data scale is drawn instead.
private let smoothingFraction = 0.02

/// The samples (`tweedie sample --plot`) as dots over contours of the model's log density, as SVG.
///
/// D = 2: the plane itself. D > 2: the first two principal axes of the model (the leading
/// eigenvectors of p_0's covariance), centred on p_0's mean; the projected density is exact
/// because the image of a Gaussian mixture under a linear map is a Gaussian mixture. When the
/// (projected) p_0 has no density — Dirac components or singular covariances — the contours
/// are those of p_t at α = 1 and a small σ, i.e. p_0 convolved with N(0, σ²Σ). Throws an
/// ``ArgumentError`` about `plot` for a model or samples it cannot draw.
public func writeSamplePlot(model: MixtureModel, oracle: Oracle, samples: Matrix, title: String, to url: URL) throws {
    let d = model.dimension, mixture = model.prior
    guard d >= 2 else { throw ArgumentError("plot", "needs a model of dimension 2 or more (this one has D = 1)") }
    guard samples.columns == d else {
        throw ArgumentError("plot", "samples have \(samples.columns) coordinates, the model has \(d)")
    }
    // The principal axes come from p_0's D×D covariance.
    do { try MemoryBudget.require("plot", "the \(d)×\(d) covariance of the model", elements: [d, d, 3]) } catch {
        throw ArgumentError("plot", error.reason)
    }

    // The plane: x ↦ P(x − origin).
    let axes: Matrix, origin: [Double], totalVariance: Double
    var axisLabels = ["x₁", "x₂"], planeNote = ""
    if d == 2 {
        axes = .identity(2)
        origin = [0, 0]
        let c = PlanarMixture(projecting: mixture, onto: axes, origin: origin).covariance
        totalVariance = c.xx + c.yy
    } else {
        let principal: (axes: Matrix, variances: [Double], mean: [Double], totalVariance: Double)
        do { principal = try PlanarMixture.principalAxes(of: mixture) } catch {
            throw ArgumentError("plot", "cannot find the principal axes of the model (\(error))")
        }
        (axes, origin, totalVariance) = (principal.axes, principal.mean, principal.totalVariance)
        let share = principal.variances.map { totalVariance > 0 ? 100 * $0 / totalVariance : 0 }
        axisLabels = (0..<2).map { "PC \($0 + 1) (\(String(format: "%.1f", share[$0]))% of variance)" }
        planeNote = "Projection onto the first two principal axes of the model (leading eigenvectors of "
            + "p₀'s covariance, centred on its mean; together \(String(format: "%.1f", share[0] + share[1]))% "
            + "of the variance). "
    }
    var points: [SIMD2<Double>] = []
    points.reserveCapacity(samples.rows)
    for b in 0..<samples.rows {
        var p = SIMD2<Double>(0, 0)
        for i in 0..<d {
            let v = samples[b, i] - origin[i]
            p.x += axes[0, i] * v
            p.y += axes[1, i] * v
        }
        if p.x.isFinite && p.y.isFinite { points.append(p) }
    }

    // The density: exact if the projected p_0 has one, else smoothed by σ²PΣPᵀ.
    var planar = PlanarMixture(projecting: mixture, onto: axes, origin: origin)
    var scale = (totalVariance / Double(d)).squareRoot()
    if !(scale > 0 && scale.isFinite) { scale = sampleScale(points) }
    let exact = planar.hasDensity()
    let sigma = smoothingFraction * scale
    if !exact { planar = planar.adding(sigma * sigma * PlanarMixture.project(model.noise, onto: axes)) }

    let (xRange, yRange) = plotRanges(planar, points, scale: scale)
    var grid = ScalarGrid(nx: gridSize, ny: gridSize, xRange: xRange, yRange: yRange) { _, _ in 0 }
    let nodes = grid.nodes
    if d == 2 && !exact {
        grid.values = try oracle.evaluate(nodes, alpha: 1, sigma: sigma).logDensity
    } else {
        grid.values = planar.logDensity(at: (0..<nodes.rows).map { SIMD2(nodes[$0, 0], nodes[$0, 1]) })
    }

    var plot = SVGPlot(title: title, xLabel: axisLabels[0], yLabel: axisLabels[1], xRange: xRange, yRange: yRange)
    plot.field = grid
    plot.points = points
    plot.pointLabel = "samples"
    let density = d == 2 ? "p₀" : "projected p₀", smoothed = d == 2 ? "p_t" : "projected p_t"
    var what: String
    if exact {
        what = "Contours: exact log density of \(density) (model \(model.name ?? "from file"))"
        plot.fieldLabel = "log \(density) contours"
    } else {
        what = "The model's \(density) has no density (Dirac or singular "
            + "component covariances), so the contours show log \(smoothed) at α = 1, σ = 0.02 × data scale = "
            + "\(format(sigma, 3)), i.e. p₀ convolved with N(0, σ²Σ)"
        plot.fieldLabel = "log \(smoothed) contours (σ = \(format(sigma, 3)))"
    }
    if let top = grid.maximum {
        plot.levels = (1...levelCount).map { top - levelStep * Double($0) }
        what += ", at \(levelCount) levels spaced \(format(levelStep)) nat\(levelStep == 1 ? "" : "s") "
            + "down from the maximum on the grid "
            + "(\(format(top, 4))), shaded between levels."
    } else {
        what += ": none on this grid."
    }
    let outside = points.filter { !xRange.contains($0.x) || !yRange.contains($0.y) }.count
    var sampleNote = "\(samples.rows) samples on top"
    if plot.shownPointCount < points.count { sampleNote += " (an evenly spaced \(plot.shownPointCount) drawn)" }
    if outside > 0 { sampleNote += "; \(outside) lie outside the plotted range" }
    if points.count < samples.rows { sampleNote += "; \(samples.rows - points.count) non-finite ones left out" }
    plot.caption = [planeNote + what, sampleNote + ". Grid \(gridSize) × \(gridSize)."]
    try plot.write(to: url)
}

/// A length scale from the points when the model has none (a single atom): their RMS spread, or 1.
private func sampleScale(_ points: [SIMD2<Double>]) -> Double {
    guard points.count > 1 else { return 1 }
    let mean = points.reduce(SIMD2<Double>(0, 0), +) / Double(points.count)
    let spread = (points.reduce(0) { $0 + (($1 - mean) * ($1 - mean)).sum() } / Double(2 * points.count)).squareRoot()
    return spread > 0 && spread.isFinite ? spread : 1
}

/// Ranges covering every component's mean ± 4 sd (so the outer contours, ≈ 4 sd out for the
/// highest mode, are not cut off) and the central 99% of the points on each axis,
/// padded by 4%; made equal in span (so shapes keep their proportions) unless that would
/// stretch one axis more than 3-fold.
private func plotRanges(_ planar: PlanarMixture, _ points: [SIMD2<Double>],
                        scale: Double) -> (ClosedRange<Double>, ClosedRange<Double>) {
    var low = SIMD2<Double>(.infinity, .infinity), high = -low
    for k in planar.weights.indices where planar.weights[k] > 0 {
        let c = planar.covariances[k]
        let sd = SIMD2(max(c.xx, 0).squareRoot(), max(c.yy, 0).squareRoot())
        low = pointwiseMin(low, planar.means[k] - 4 * sd)
        high = pointwiseMax(high, planar.means[k] + 4 * sd)
    }
    if points.count > 1 {
        for axis in 0..<2 {
            let sorted = points.map { $0[axis] }.sorted()
            let lo = sorted[Int(0.005 * Double(sorted.count - 1))]
            let hi = sorted[Int((0.995 * Double(sorted.count - 1)).rounded(.up))]
            low[axis] = min(low[axis], lo)
            high[axis] = max(high[axis], hi)
        }
    }
    var span = high - low
    for axis in 0..<2 where !(span[axis] > 0 && span[axis].isFinite) {
        let centre = low[axis].isFinite ? (low[axis] + high[axis]) / 2 : 0
        (low[axis], high[axis], span[axis]) = (centre - scale, centre + scale, 2 * scale)
    }
    let widest = span.max()
    if widest < 3 * span.min() {
        let centre = (low + high) / 2
        low = centre - widest / 2
        high = centre + widest / 2
        span = SIMD2(repeating: widest)
    }
    low -= 0.04 * span
    high += 0.04 * span
    return (low.x...high.x, low.y...high.y)
}
