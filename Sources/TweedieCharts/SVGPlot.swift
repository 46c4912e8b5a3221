import Foundation
import TweedieIO

/// A 2-D scatter plot over the contours of a scalar field, written as standalone SVG 1.1.
///
/// Layers, bottom to top: light shading between contour levels (optional), the contour lines
/// (marching squares on ``field``), the points (small semi-transparent circles, at most
/// ``maxPoints`` of them, evenly thinned), then axes with round-number ticks, a legend line and
/// the caption.
///
/// ```swift
/// var plot = SVGPlot(title: "p_0", xLabel: "x", yLabel: "y", xRange: -5...5, yRange: -5...5)
/// plot.field = ScalarGrid(nx: 160, ny: 160, xRange: -5...5, yRange: -5...5) { x, y in -(x*x + y*y) / 2 }
/// plot.levels = [-4, -2, -1]
/// plot.points = samples
/// try plot.write(to: URL(fileURLWithPath: "plot.svg"))
/// ```
public struct SVGPlot: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xRange: ClosedRange<Double>
    public var yRange: ClosedRange<Double>
    /// The scalar field drawn as contours, or nil.
    public var field: ScalarGrid?
    /// Contour levels of ``field``, in any order.
    public var levels: [Double] = []
    /// Shade the bands between levels (darker = higher).
    public var fillsBands = true
    /// Legend text for the contours.
    public var fieldLabel = "contours"
    public var points: [SIMD2<Double>] = []
    /// Legend text for the points; the legend adds how many are shown.
    public var pointLabel = "points"
    /// At most this many points are drawn (an evenly spaced subset of ``points``).
    public var maxPoints = 5000
    /// Lines of small text under the legend (wrapped to the width).
    public var caption: [String] = []
    /// Size of the plotting area in pixels (the whole image adds margins).
    public var plotWidth = 520.0
    public var plotHeight = 520.0

    public init(title: String, xLabel: String, yLabel: String,
                xRange: ClosedRange<Double>, yRange: ClosedRange<Double>) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xRange = xRange
        self.yRange = yRange
    }

    /// Writes ``render()`` to `url` atomically.
    public func write(to url: URL) throws {
        try AtomicFile.write(Data(render().utf8), to: url)
    }

    // MARK: - Rendering

    static let left = 72.0, right = 24.0, top = 44.0, axisSpace = 50.0, legendSpace = 22.0, captionLine = 15.0
    static let font = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""
    static let lineColor = "#1d4f7c", pointColor = "#d1402a"

    /// The number of points drawn.
    public var shownPointCount: Int { min(points.count, max(maxPoints, 0)) }

    public func render() -> String {
        let xr = Self.nonEmpty(xRange), yr = Self.nonEmpty(yRange)
        let width = Self.left + plotWidth + Self.right
        let captionLines = caption.flatMap { Self.wrap($0, width: Int((width - 2 * 12) / 6.2)) }
        let height = Self.top + plotHeight + Self.axisSpace + Self.legendSpace
            + Double(captionLines.count) * Self.captionLine + 10
        let px = { (x: Double) in Self.left + (x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * plotWidth }
        let py = { (y: Double) in Self.top + (yr.upperBound - y) / (yr.upperBound - yr.lowerBound) * plotHeight }
        let n = Self.number
        var s = Self.documentHeader(title: title, width: width, height: height, clipID: "plot-area",
                                    plotArea: (Self.left, Self.top, plotWidth, plotHeight))
        s += """
            <g clip-path="url(#plot-area)">

            """
        let levels = self.levels.filter { $0.isFinite }.sorted()
        if let field, !levels.isEmpty {
            if fillsBands { s += bands(field, levels, px, py) }
            s += "<g fill=\"none\" stroke=\"\(Self.lineColor)\" stroke-width=\"0.9\" stroke-linejoin=\"round\">\n"
            for level in levels {
                let lines = MarchingSquares.lines(of: field, at: level)
                guard !lines.isEmpty else { continue }
                var d = ""
                for line in lines {
                    for (k, p) in line.points.enumerated() { d += "\(k == 0 ? "M" : "L")\(n(px(p.x))) \(n(py(p.y)))" }
                    if line.isClosed { d += "Z" }
                }
                s += "<path d=\"\(d)\"/>\n"
            }
            s += "</g>\n"
        }
        let shown = shownPointCount
        if shown > 0 {
            s += "<g fill=\"\(Self.pointColor)\" fill-opacity=\"0.4\" stroke=\"none\">\n"
            for k in 0..<shown {
                let p = points[shown == points.count ? k : k * points.count / shown]
                guard p.x.isFinite, p.y.isFinite else { continue }
                s += "<circle cx=\"\(n(px(p.x)))\" cy=\"\(n(py(p.y)))\" r=\"1.7\"/>\n"
            }
            s += "</g>\n"
        }
        s += "</g>\n"
        s += "<rect x=\"\(n(Self.left))\" y=\"\(n(Self.top))\" width=\"\(n(plotWidth))\" height=\"\(n(plotHeight))\" "
            + "fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n"
        s += axes(xr, yr, px, py)

        // Legend: a line glyph for the contours, a dot for the points.
        var x = Self.left
        let legendY = Self.top + plotHeight + Self.axisSpace + 6
        if field != nil, !levels.isEmpty {
            s += "<line x1=\"\(n(x))\" y1=\"\(n(legendY - 4))\" x2=\"\(n(x + 22))\" y2=\"\(n(legendY - 4))\" "
                + "stroke=\"\(Self.lineColor)\" stroke-width=\"1.5\"/>\n"
            s += "<text x=\"\(n(x + 28))\" y=\"\(n(legendY))\">\(Self.escape(fieldLabel))</text>\n"
            x += 28 + Self.textWidth(fieldLabel) + 24
        }
        if !points.isEmpty {
            let label = pointLabel
                + (shown < points.count ? " (\(shown) of \(points.count) shown)" : " (\(points.count))")
            s += "<circle cx=\"\(n(x + 6))\" cy=\"\(n(legendY - 4))\" r=\"3\" fill=\"\(Self.pointColor)\" "
                + "fill-opacity=\"0.7\"/>\n"
            s += "<text x=\"\(n(x + 16))\" y=\"\(n(legendY))\">\(Self.escape(label))</text>\n"
        }
        for (k, line) in captionLines.enumerated() {
            let y = legendY + Self.legendSpace + Double(k) * Self.captionLine
            s += "<text x=\"12\" y=\"\(n(y))\" font-size=\"11\" fill=\"#444444\">\(Self.escape(line))</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// Shading: each node's pixel (a cell centred on it) gets the band of its value — the number
    /// of levels it reaches — and runs of equal band along a row become one rectangle.
    private func bands(_ field: ScalarGrid, _ levels: [Double], _ px: (Double) -> Double,
                       _ py: (Double) -> Double) -> String {
        let n = Self.number
        let (hx, hy) = (field.dx / 2, field.dy / 2)
        var s = "<g stroke=\"none\" shape-rendering=\"crispEdges\">\n"
        for j in 0..<field.ny {
            let y0 = py(field.y(j) + hy), y1 = py(field.y(j) - hy)
            var i = 0
            while i < field.nx {
                let band = Self.band(field[i, j], levels)
                var end = i + 1
                while end < field.nx, Self.band(field[end, j], levels) == band { end += 1 }
                if band > 0 {
                    let x0 = px(field.x(i) - hx), x1 = px(field.x(end - 1) + hx)
                    s += "<rect x=\"\(n(x0))\" y=\"\(n(y0))\" width=\"\(n(x1 - x0))\" height=\"\(n(y1 - y0))\" "
                        + "fill=\"\(Self.bandColor(band, of: levels.count))\"/>\n"
                }
                i = end
            }
        }
        return s + "</g>\n"
    }

    static func band(_ value: Double, _ levels: [Double]) -> Int {
        value.isNaN ? 0 : levels.reduce(0) { $0 + (value >= $1 ? 1 : 0) }
    }

    /// From near-white (band 1) to a light blue (the top band).
    static func bandColor(_ band: Int, of count: Int) -> String {
        let t = count <= 1 ? 1 : Double(band - 1) / Double(count - 1)
        let low = (241.0, 246.0, 251.0), high = (158.0, 196.0, 228.0)
        let c = [low.0 + t * (high.0 - low.0), low.1 + t * (high.1 - low.1), low.2 + t * (high.2 - low.2)]
        return "#" + c.map { String(format: "%02x", Int($0.rounded())) }.joined()
    }

    private func axes(_ xr: ClosedRange<Double>, _ yr: ClosedRange<Double>, _ px: (Double) -> Double,
                      _ py: (Double) -> Double) -> String {
        let n = Self.number
        let bottom = Self.top + plotHeight
        var s = "<g stroke=\"#333333\" stroke-width=\"1\">\n"
        let xTicks = Self.ticks(xr), yTicks = Self.ticks(yr)
        for t in xTicks.values {
            s += "<line x1=\"\(n(px(t)))\" y1=\"\(n(bottom))\" x2=\"\(n(px(t)))\" y2=\"\(n(bottom + 5))\"/>\n"
        }
        for t in yTicks.values {
            s += "<line x1=\"\(n(Self.left - 5))\" y1=\"\(n(py(t)))\" x2=\"\(n(Self.left))\" y2=\"\(n(py(t)))\"/>\n"
        }
        s += "</g>\n<g font-size=\"11\" fill=\"#333333\">\n"
        for t in xTicks.values {
            s += "<text x=\"\(n(px(t)))\" y=\"\(n(bottom + 18))\" text-anchor=\"middle\">"
                + "\(Self.escape(Self.tickLabel(t, xTicks.step)))</text>\n"
        }
        for t in yTicks.values {
            s += "<text x=\"\(n(Self.left - 8))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">"
                + "\(Self.escape(Self.tickLabel(t, yTicks.step)))</text>\n"
        }
        s += "</g>\n"
        let cx = Self.left + plotWidth / 2, cy = Self.top + plotHeight / 2
        s += "<text x=\"\(n(cx))\" y=\"\(n(bottom + 38))\" text-anchor=\"middle\" font-size=\"13\">"
            + "\(Self.escape(xLabel))</text>\n"
        s += "<text x=\"18\" y=\"\(n(cy))\" text-anchor=\"middle\" font-size=\"13\" "
            + "transform=\"rotate(-90 18 \(n(cy)))\">\(Self.escape(yLabel))</text>\n"
        return s
    }

    // MARK: - Helpers

    /// Round-number ticks inside `range`: a step of 1, 2 or 5 × 10ⁿ giving about five of them.
    public static func ticks(_ range: ClosedRange<Double>, target: Int = 5) -> (values: [Double], step: Double) {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return ([range.lowerBound], 1) }
        let raw = span / Double(max(target, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let fraction = raw / magnitude
        let step = (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * magnitude
        var values: [Double] = []
        var k = (range.lowerBound / step).rounded(.up)
        while k * step <= range.upperBound + 1e-9 * step {
            values.append(k * step)
            k += 1
        }
        return (values, step)
    }

    /// A tick value with as many decimals as its step needs ("0.5", "10", "1e+06").
    public static func tickLabel(_ value: Double, _ step: Double) -> String {
        if abs(value) < step * 1e-9 { return "0" }
        if step >= 1e5 || step < 1e-4 { return String(format: "%g", value) }
        let decimals = max(0, Int((-log10(step)).rounded(.up) + 1e-9))
        return String(format: "%.\(decimals)f", value)
    }

    /// A degenerate range widened so that it has a positive span.
    static func nonEmpty(_ r: ClosedRange<Double>) -> ClosedRange<Double> {
        guard r.upperBound - r.lowerBound <= 0 else { return r }
        let pad = max(abs(r.lowerBound) * 0.05, 0.5)
        return (r.lowerBound - pad)...(r.upperBound + pad)
    }

    /// A coordinate with two decimals, without trailing zeros.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        var s = String(format: "%.2f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// A rough width of 12-px text, for laying out the legend.
    static func textWidth(_ text: String) -> Double { Double(text.count) * 6.6 }

    /// Greedy word wrap to lines of at most `width` characters.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }
}

extension SVGPlot {
    /// Text made safe for XML character data and attribute values: the five special characters
    /// become entities, and characters XML 1.0 does not allow (most C0 controls, U+FFFE, U+FFFF)
    /// are dropped.
    /// The start of an SVG 1.1 document: prolog, title, white background, a clip path for the
    /// plot area and the title text (a long title shrinks to fit the width).
    static func documentHeader(title: String, width: Double, height: Double, clipID: String,
                               plotArea: (left: Double, top: Double, width: Double, height: Double)) -> String {
        let n = number
        // Bold 15-px text is about 8.6 px a character.
        let titleSize = max(9, min(15, 15 * (width - 16) / max(textWidth(title) * 1.42, 1)))
        return """
            <?xml version="1.0" encoding="UTF-8" standalone="no"?>
            <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(n(width))" height="\(n(height))" \
            viewBox="0 0 \(n(width)) \(n(height))" \(font) font-size="12">
            <title>\(escape(title))</title>
            <rect width="100%" height="100%" fill="#ffffff"/>
            <defs><clipPath id="\(clipID)"><rect x="\(n(plotArea.left))" y="\(n(plotArea.top))" \
            width="\(n(plotArea.width))" height="\(n(plotArea.height))"/></clipPath></defs>
            <text x="\(n(width / 2))" y="\(n(plotArea.top - 16))" text-anchor="middle" font-size="\(n(titleSize))" \
            font-weight="bold">\(escape(title))</text>

            """
    }

    public static func escape(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
