import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Tweedie

/// The SVG plot writer: marching squares, well-formed output, escaping, and the exact 2-D
/// projection of a mixture used by `tweedie sample --plot`.
@Suite struct SVGPlotTests {
    // MARK: Marching squares

    /// r² on [−2, 2]² at spacing h = 0.05: the level-1 contour is one closed loop of radius 1.
    @Test(arguments: [1.0, -1.0])
    func circleContour(sign: Double) {
        let h = 0.05
        let grid = ScalarGrid(nx: 81, ny: 81, xRange: -2...2, yRange: -2...2) { x, y in sign * (x * x + y * y) }
        let level = sign * 1
        let segments = MarchingSquares.segments(of: grid, at: level)
        #expect(!segments.isEmpty)
        for (p, q) in segments {
            for point in [p, q] { #expect(abs((point * point).sum().squareRoot() - 1) <= h) }
        }
        let lines = MarchingSquares.lines(of: grid, at: level)
        #expect(lines.count == 1)
        let loop = lines[0]
        #expect(loop.isClosed)
        #expect(loop.points.count == segments.count)
        let closed = loop.points + [loop.points[0]]
        let length = zip(closed, closed.dropFirst()).reduce(0) { $0 + (($1.1 - $1.0) * ($1.1 - $1.0)).sum().squareRoot() }
        #expect(abs(length - 2 * .pi) < 0.01 * 2 * .pi)
        // No level crossing the grid, no line.
        #expect(MarchingSquares.lines(of: grid, at: sign * 100).isEmpty)
    }

    /// A single saddle cell is split by the value at its centre.
    @Test func saddleCell() {
        // Corners a (0,0) = 1, b (1,0) = 0, c (1,1) = 1, d (0,1) = 0.
        let grid = ScalarGrid(nx: 2, ny: 2, xRange: 0...1, yRange: 0...1, values: [1, 0, 0, 1])
        // Centre 0.5 ≥ 0.4: inside, so the outside corners b and d are cut off.
        let low = MarchingSquares.segments(of: grid, at: 0.4)
        #expect(low.count == 2)
        let lowMidpoints = low.map { ($0.0 + $0.1) / 2 }
        #expect(lowMidpoints.contains { $0.x > 0.5 && $0.y < 0.5 })   // near b
        #expect(lowMidpoints.contains { $0.x < 0.5 && $0.y > 0.5 })   // near d
        // Centre 0.5 < 0.6: outside, so the inside corners a and c are cut off.
        let high = MarchingSquares.segments(of: grid, at: 0.6)
        #expect(high.count == 2)
        let highMidpoints = high.map { ($0.0 + $0.1) / 2 }
        #expect(highMidpoints.contains { $0.x < 0.5 && $0.y < 0.5 })  // near a
        #expect(highMidpoints.contains { $0.x > 0.5 && $0.y > 0.5 })  // near c
    }

    /// On a rough random field (many saddles) the segments join up: every line is closed or
    /// ends on the boundary of the grid, and every segment is used exactly once.
    @Test func linesJoinConsistently() {
        var random = TestRandom(seed: 3)
        let n = 40
        let grid = ScalarGrid(nx: n, ny: n, xRange: 0...1, yRange: 0...1, values: random.normals(n * n))
        for level in [-0.5, 0, 0.7] {
            let segments = MarchingSquares.segments(of: grid, at: level)
            let lines = MarchingSquares.lines(of: grid, at: level)
            let used = lines.reduce(0) { $0 + ($1.isClosed ? $1.points.count : $1.points.count - 1) }
            #expect(used == segments.count)
            func onBoundary(_ p: SIMD2<Double>) -> Bool {
                min(p.x, p.y, 1 - p.x, 1 - p.y) < 1e-12
            }
            for line in lines where !line.isClosed {
                #expect(onBoundary(line.points.first!) && onBoundary(line.points.last!))
            }
        }
    }

    // MARK: SVG output

    static func samplePlot(title: String, pointCount: Int = 300) -> SVGPlot {
        var plot = SVGPlot(title: title, xLabel: "x <1>", yLabel: "y & z", xRange: -3...3, yRange: -2...2.5)
        plot.field = ScalarGrid(nx: 60, ny: 50, xRange: -3...3, yRange: -2...2.5) { x, y in -(x * x + 2 * y * y) / 2 }
        plot.levels = (1...6).map { -Double($0) }
        var random = TestRandom(seed: 9)
        plot.points = (0..<pointCount).map { _ in SIMD2(random.normal(), random.normal() / 2) }
        plot.caption = ["A caption with <markup> & \"quotes\" that is long enough to need wrapping onto a "
                        + "second line of the caption, and then some more words."]
        return plot
    }

    @Test func escaping() {
        #expect(SVGPlot.escape("a<b>&\"c\" 'd'") == "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;")
        #expect(SVGPlot.escape("bell\u{7}tab\tσ²") == "belltab\tσ²")
        #expect(SVGPlot.escape("plain") == "plain")
    }

    @Test func outputIsWellFormedSVG() throws {
        let title = "p₀ <test> & \"quotes\" 'apostrophes'\u{1}"
        let svg = Self.samplePlot(title: title).render()
        #expect(svg.hasPrefix("<?xml version=\"1.0\""))
        #expect(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(!svg.contains("<test>"))
        #expect(svg.contains("<path d=\"M"))
        #if canImport(FoundationXML) || os(macOS)
        let document = try XMLDocument(data: Data(svg.utf8), options: [])
        let root = try #require(document.rootElement())
        #expect(root.name == "svg")
        // (attribute(forName:) misses attributes of a namespaced element in swift-corelibs-foundation.)
        let version = root.attributes?.first { $0.name == "version" }?.stringValue
        #expect(version == "1.1")
        let titles = try root.nodes(forXPath: "./*[local-name()='title']")
        #expect(titles.first?.stringValue == "p₀ <test> & \"quotes\" 'apostrophes'")
        let circles = try root.nodes(forXPath: ".//*[local-name()='circle']")
        #expect(circles.count == 300 + 1)   // the points and the legend's dot
        #else
        #expect(Self.tagsBalance(svg))
        #endif
    }

    /// A minimal well-formedness check: start and end tags nest properly.
    static func tagsBalance(_ svg: String) -> Bool {
        var stack: [Substring] = []
        var rest = svg[...]
        while let open = rest.firstIndex(of: "<") {
            guard let close = rest[open...].firstIndex(of: ">") else { return false }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("?") || tag.hasSuffix("/") { continue }
            let name = tag.drop { $0 == "/" }.prefix { !$0.isWhitespace }
            if tag.hasPrefix("/") {
                guard stack.popLast() == name else { return false }
            } else {
                stack.append(name)
            }
        }
        return stack.isEmpty
    }

    @Test func pointsAreCapped() throws {
        var plot = Self.samplePlot(title: "many", pointCount: 12_000)
        plot.maxPoints = 5000
        let svg = plot.render()
        #expect(svg.components(separatedBy: "<circle").count - 1 == 5000 + 1)
        #expect(svg.contains("5000 of 12000 shown"))
        #expect(Self.tagsBalance(svg))

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("svgplot-\(UUID().uuidString).svg")
        defer { try? FileManager.default.removeItem(at: url) }
        try plot.write(to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == svg)
    }

    @Test func roundTicks() {
        let (values, step) = SVGPlot.ticks(-4.3...4.3)
        #expect(step == 2)
        #expect(values == [-4, -2, 0, 2, 4])
        let small = SVGPlot.ticks(0.01...0.29)
        #expect(small.step == 0.05)
        #expect(SVGPlot.tickLabel(small.values[1], small.step) == "0.10")
        #expect(SVGPlot.tickLabel(2.5, 0.5) == "2.5")
        #expect(SVGPlot.tickLabel(-1e-17, 0.5) == "0")
    }

    // MARK: Projection of a mixture

    /// D = 4, one component of each covariance type that is not Dirac, one singular.
    static func mixture(_ type: CovarianceType) -> GaussianMixture {
        var random = TestRandom(seed: 21)
        let means = random.matrix(3, 4, scale: 2)
        let weights = [0.5, 0.3, 0.2]
        let covariances: ComponentCovariances
        switch type {
        case .full:
            let singular = Matrix([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0.5, 0.1], [0, 0, 0.1, 0.2]])
            covariances = .full([random.spd(4), singular, random.spd(4, shift: 0.05)])
        case .tied: covariances = .tied(random.spd(4))
        case .diag: covariances = .diagonal(Matrix([[0.5, 1, 2, 0.1], [0, 0.3, 1, 1], [4, 0.1, 0.2, 0.3]]))
        case .spherical: covariances = .spherical([0.2, 1, 0])
        case .dirac: covariances = .dirac
        }
        return try! GaussianMixture(weights: weights, means: means, covariances: covariances)
    }

    /// The projected mixture's mean and covariance match those of projected exact samples
    /// (within 5 Monte Carlo standard errors), and the axes are the principal ones.
    @Test(arguments: CovarianceType.allCases)
    func projectionMatchesMonteCarlo(type: CovarianceType) throws {
        let mixture = Self.mixture(type)
        let principal = try PlanarMixture.principalAxes(of: mixture)
        let p = principal.axes
        // Orthonormal rows.
        for (i, j) in [(0, 0), (0, 1), (1, 1)] {
            let dot = zip(p.row(i), p.row(j)).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(abs(dot - (i == j ? 1 : 0)) < 1e-12)
        }
        let planar = PlanarMixture(projecting: mixture, onto: p, origin: principal.mean)
        // The exact projected covariance is diagonal with the two leading eigenvalues.
        let c = planar.covariance
        let scale = principal.variances[0]
        #expect(abs(c.xx - principal.variances[0]) < 1e-10 * scale)
        #expect(abs(c.yy - principal.variances[1]) < 1e-10 * scale)
        #expect(abs(c.xy) < 1e-10 * scale)
        #expect(principal.variances[0] >= principal.variances[1])
        #expect(abs(planar.mean.x) < 1e-12 * scale.squareRoot() && abs(planar.mean.y) < 1e-12 * scale.squareRoot())
        // The spherical mixture has a component of variance 0.
        #expect(planar.hasDensity() == (type != .dirac && type != .spherical))

        let n = 100_000
        let x = try mixture.sample(count: n, seed: 17).points
        var projected: [SIMD2<Double>] = []
        for b in 0..<n {
            var q = SIMD2<Double>(0, 0)
            for i in 0..<4 {
                q.x += p[0, i] * (x[b, i] - principal.mean[i])
                q.y += p[1, i] * (x[b, i] - principal.mean[i])
            }
            projected.append(q)
        }
        func check(_ values: [Double], _ expected: Double) {
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
            let error = (variance / Double(values.count)).squareRoot()
            #expect(abs(mean - expected) <= 5 * error + 1e-12, "mean \(mean) vs \(expected) (se \(error))")
        }
        let m = planar.mean
        check(projected.map(\.x), m.x)
        check(projected.map(\.y), m.y)
        check(projected.map { ($0.x - m.x) * ($0.x - m.x) }, c.xx)
        check(projected.map { ($0.x - m.x) * ($0.y - m.y) }, c.xy)
        check(projected.map { ($0.y - m.y) * ($0.y - m.y) }, c.yy)

        // Component by component, too (samples know their component).
        let components = try mixture.sample(count: n, seed: 17).components
        for k in 0..<mixture.componentCount where type != .dirac {
            let rows = projected.indices.filter { components[$0] == k }.map { projected[$0] }
            let mk = planar.means[k], ck = planar.covariances[k]
            check(rows.map(\.x), mk.x)
            check(rows.map(\.y), mk.y)
            check(rows.map { ($0.x - mk.x) * ($0.x - mk.x) }, ck.xx)
            check(rows.map { ($0.x - mk.x) * ($0.y - mk.y) }, ck.xy)
        }
    }

    /// In D = 2 with the identity projection, the planar log density is p_0's: it matches the
    /// oracle's log p_t at α = 1 and a tiny σ, and integrates to one.
    @Test func planarDensityIsExact() throws {
        let model = BuiltinModels.ring8()
        let planar = PlanarMixture(projecting: model.prior, onto: .identity(2), origin: [0, 0])
        #expect(planar.hasDensity())
        let grid = ScalarGrid(nx: 301, ny: 301, xRange: -6...6, yRange: -6...6) { _, _ in 0 }
        let nodes = grid.nodes
        let logDensity = planar.logDensity(at: (0..<nodes.rows).map { SIMD2(nodes[$0, 0], nodes[$0, 1]) })
        let integral = logDensity.reduce(0) { $0 + exp($1) } * grid.dx * grid.dy
        #expect(abs(integral - 1) < 1e-3)

        let oracle = try Oracle(model)
        var random = TestRandom(seed: 4)
        let sample = Matrix(rows: 200, columns: 2, elements: random.normals(400).map { 3 * $0 })
        let points: [SIMD2<Double>] = (0..<200).map { SIMD2(sample[$0, 0], sample[$0, 1]) }
        let exact = try oracle.evaluate(sample, alpha: 1, sigma: 1e-7).logDensity
        let mine = planar.logDensity(at: points)
        for (a, b) in zip(mine, exact) {
            let tolerance: Double = 1e-6 * Swift.max(1.0, abs(b))
            #expect(abs(a - b) <= tolerance, "\(a) vs \(b)")
        }

        // Smoothing by σ² Σ reproduces the oracle at that σ.
        let sigma = 0.3
        let smoothed = planar.adding(sigma * sigma * PlanarMixture.project(model.noise, onto: .identity(2)))
        let atSigma = try oracle.evaluate(sample, alpha: 1, sigma: sigma).logDensity
        let mineAtSigma = smoothed.logDensity(at: points)
        for (a, b) in zip(mineAtSigma, atSigma) {
            let tolerance: Double = 1e-9 * Swift.max(1.0, abs(b))
            #expect(abs(a - b) <= tolerance, "\(a) vs \(b)")
        }
    }
}
