import Foundation
import TweedieIO

/// A line chart on log-log axes, written as standalone SVG 1.1: one polyline with markers per
/// series, an optional shaded band or dashed horizontal line (a noise floor), decade ticks, and a
/// legend to the right.
///
/// Points with a coordinate that is not positive and finite cannot be placed on log axes: they
/// are skipped, and break their line.
///
/// ```swift
/// var chart = SVGLineChart(title: "error vs cost", xLabel: "model calls", yLabel: "error")
/// chart.series = [.init(label: "euler", points: [SIMD2(5, 0.3), SIMD2(10, 0.15), SIMD2(20, 0.08)])]
/// chart.floor = 0.02...0.03
/// try chart.write(to: URL(fileURLWithPath: "chart.svg"))
/// ```
public struct SVGLineChart: Sendable {
    public struct Series: Sendable {
        public var label: String
        public var points: [SIMD2<Double>]
        /// A CSS colour; nil picks the next of ``SVGLineChart/palette`` by the series' position.
        public var color: String?
        /// Dashed line and hollow markers (solid line and filled markers otherwise).
        public var isDashed: Bool
        /// Vertical error bars: y ± errors[i] at point i (the part below 0 is clipped at the axis).
        public var errors: [Double]?

        public init(label: String, points: [SIMD2<Double>], color: String? = nil, isDashed: Bool = false,
                    errors: [Double]? = nil) {
            self.label = label
            self.points = points
            self.color = color
            self.isDashed = isDashed
            self.errors = errors
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    /// A horizontal band from lower to upper y, drawn shaded with dashed edges; a dashed line
    /// when the two are equal. Nil: none.
    public var floor: ClosedRange<Double>?
    public var floorLabel = "noise floor"
    /// Lines of small text under the chart (wrapped to the width).
    public var caption: [String] = []
    /// Size of the plotting area in pixels (the whole image adds margins and the legend).
    public var plotWidth = 520.0
    public var plotHeight = 380.0

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    /// Writes ``render()`` to `url` atomically.
    public func write(to url: URL) throws {
        try AtomicFile.write(Data(render().utf8), to: url)
    }

    /// Ten distinguishable colours, used in turn.
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                 "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    static let left = 78.0, right = 16.0, top = 44.0, axisSpace = 52.0, captionLine = 15.0

    /// log10 of the axis ranges: the data (and floor) padded by 5% of their span, at least half
    /// a decade either side of a single value.
    public func logRanges() -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            for p in s.points where Self.placeable(p) {
                xs.append(log10(p.x))
                ys.append(log10(p.y))
            }
        }
        if let floor {
            for y in [floor.lowerBound, floor.upperBound] where y > 0 && y.isFinite { ys.append(log10(y)) }
        }
        return (Self.padded(xs), Self.padded(ys))
    }

    static func placeable(_ p: SIMD2<Double>) -> Bool { p.x > 0 && p.y > 0 && p.x.isFinite && p.y.isFinite }

    static func padded(_ values: [Double]) -> ClosedRange<Double> {
        guard let low = values.min(), let high = values.max() else { return 0...1 }
        let span = high - low
        guard span > 1e-9 else { return (low - 0.5)...(high + 0.5) }
        return (low - 0.05 * span)...(high + 0.05 * span)
    }

    public func render() -> String {
        let n = SVGPlot.number
        let (xr, yr) = logRanges()
        let legendEntries = series.map(\.label) + (floor != nil ? [floorLabel] : [])
        let legendWidth = legendEntries.isEmpty ? 0 : 44 + (legendEntries.map(SVGPlot.textWidth).max() ?? 0) + 12
        let width = Self.left + plotWidth + Self.right + legendWidth
        let captionLines = caption.flatMap { SVGPlot.wrap($0, width: Int((width - 24) / 6.2)) }
        let height = Self.top + plotHeight + Self.axisSpace + Double(captionLines.count) * Self.captionLine + 10
        let px = { (x: Double) in Self.left + (log10(x) - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * plotWidth }
        let py = { (y: Double) in Self.top + (yr.upperBound - log10(y)) / (yr.upperBound - yr.lowerBound) * plotHeight }
        var s = SVGPlot.documentHeader(title: title, width: width, height: height, clipID: "chart-area",
                                       plotArea: (Self.left, Self.top, plotWidth, plotHeight))
        s += grid(xr, yr)
        s += "<g clip-path=\"url(#chart-area)\">\n"
        if let floor, floor.upperBound > 0, floor.upperBound.isFinite {
            let x0 = n(Self.left), x1 = n(Self.left + plotWidth)
            let low = floor.lowerBound > 0 ? floor.lowerBound : floor.upperBound
            if floor.upperBound > low {
                let top = py(floor.upperBound), bottom = py(low)
                s += "<rect x=\"\(x0)\" y=\"\(n(top))\" width=\"\(n(plotWidth))\" height=\"\(n(bottom - top))\" "
                    + "fill=\"#888888\" fill-opacity=\"0.15\"/>\n"
            }
            for y in Set([low, floor.upperBound]).sorted() {
                s += "<line x1=\"\(x0)\" y1=\"\(n(py(y)))\" x2=\"\(x1)\" y2=\"\(n(py(y)))\" stroke=\"#555555\" "
                    + "stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>\n"
            }
        }
        for (k, line) in series.enumerated() {
            let color = line.color ?? Self.palette[k % Self.palette.count]
            var d = "", drawing = false
            for p in line.points {
                guard Self.placeable(p) else { drawing = false; continue }
                d += "\(drawing ? "L" : "M")\(n(px(p.x))) \(n(py(p.y)))"
                drawing = true
            }
            if !d.isEmpty {
                s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\""
                    + (line.isDashed ? " stroke-dasharray=\"5 3\"" : "") + "/>\n"
            }
            if let errors = line.errors {
                for (p, e) in zip(line.points, errors) where Self.placeable(p) && e > 0 && e.isFinite {
                    let high = py(p.y + e)
                    // A bar reaching zero or below runs off the bottom of the log axis.
                    let low = p.y - e > 0 ? py(p.y - e) : Self.top + plotHeight
                    let x = n(px(p.x))
                    s += "<line x1=\"\(x)\" y1=\"\(n(high))\" x2=\"\(x)\" y2=\"\(n(low))\" stroke=\"\(color)\" "
                        + "stroke-width=\"1.2\"/>\n"
                    for y in [high, low] where y < Self.top + plotHeight {
                        s += "<line x1=\"\(n(px(p.x) - 3))\" y1=\"\(n(y))\" x2=\"\(n(px(p.x) + 3))\" y2=\"\(n(y))\" "
                            + "stroke=\"\(color)\" stroke-width=\"1.2\"/>\n"
                    }
                }
            }
            for p in line.points where Self.placeable(p) {
                s += marker(px(p.x), py(p.y), color: color, hollow: line.isDashed)
            }
        }
        s += "</g>\n"
        s += "<rect x=\"\(n(Self.left))\" y=\"\(n(Self.top))\" width=\"\(n(plotWidth))\" height=\"\(n(plotHeight))\" "
            + "fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n"
        s += axes(xr, yr)

        // Legend, right of the plot.
        let legendX = Self.left + plotWidth + Self.right + 8
        for (k, line) in series.enumerated() {
            let color = line.color ?? Self.palette[k % Self.palette.count]
            let y = Self.top + 10 + Double(k) * 20
            s += "<line x1=\"\(n(legendX))\" y1=\"\(n(y))\" x2=\"\(n(legendX + 30))\" y2=\"\(n(y))\" "
                + "stroke=\"\(color)\" "
                + "stroke-width=\"1.8\"" + (line.isDashed ? " stroke-dasharray=\"5 3\"" : "") + "/>\n"
            s += marker(legendX + 15, y, color: color, hollow: line.isDashed)
            s += "<text x=\"\(n(legendX + 38))\" y=\"\(n(y + 4))\">\(SVGPlot.escape(line.label))</text>\n"
        }
        if floor != nil {
            let y = Self.top + 10 + Double(series.count) * 20
            s += "<rect x=\"\(n(legendX))\" y=\"\(n(y - 5))\" width=\"30\" height=\"10\" fill=\"#888888\" "
                + "fill-opacity=\"0.15\"/>\n"
            s += "<line x1=\"\(n(legendX))\" y1=\"\(n(y))\" x2=\"\(n(legendX + 30))\" y2=\"\(n(y))\" "
                + "stroke=\"#555555\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>\n"
            s += "<text x=\"\(n(legendX + 38))\" y=\"\(n(y + 4))\">\(SVGPlot.escape(floorLabel))</text>\n"
        }
        for (k, line) in captionLines.enumerated() {
            let y = Self.top + plotHeight + Self.axisSpace + 6 + Double(k) * Self.captionLine
            s += "<text x=\"12\" y=\"\(n(y))\" font-size=\"11\" fill=\"#444444\">\(SVGPlot.escape(line))</text>\n"
        }
        s += "</svg>\n"
        return s
    }

    private func marker(_ x: Double, _ y: Double, color: String, hollow: Bool) -> String {
        let n = SVGPlot.number
        return "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"3.2\" fill=\"\(hollow ? "#ffffff" : color)\" "
            + "stroke=\"\(color)\" stroke-width=\"1.4\"/>\n"
    }

    /// Light grid lines at the ticks.
    private func grid(_ xr: ClosedRange<Double>, _ yr: ClosedRange<Double>) -> String {
        let n = SVGPlot.number
        var s = "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n"
        for t in Self.logTicks(xr) {
            let x = Self.left + (log10(t) - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * plotWidth
            s += "<line x1=\"\(n(x))\" y1=\"\(n(Self.top))\" x2=\"\(n(x))\" y2=\"\(n(Self.top + plotHeight))\"/>\n"
        }
        for t in Self.logTicks(yr) {
            let y = Self.top + (yr.upperBound - log10(t)) / (yr.upperBound - yr.lowerBound) * plotHeight
            s += "<line x1=\"\(n(Self.left))\" y1=\"\(n(y))\" x2=\"\(n(Self.left + plotWidth))\" y2=\"\(n(y))\"/>\n"
        }
        return s + "</g>\n"
    }

    private func axes(_ xr: ClosedRange<Double>, _ yr: ClosedRange<Double>) -> String {
        let n = SVGPlot.number
        let bottom = Self.top + plotHeight
        let px = { (v: Double) in Self.left + (log10(v) - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * plotWidth }
        let py = { (v: Double) in Self.top + (yr.upperBound - log10(v)) / (yr.upperBound - yr.lowerBound) * plotHeight }
        let xTicks = Self.logTicks(xr), yTicks = Self.logTicks(yr)
        var s = "<g stroke=\"#333333\" stroke-width=\"1\">\n"
        for t in xTicks {
            s += "<line x1=\"\(n(px(t)))\" y1=\"\(n(bottom))\" x2=\"\(n(px(t)))\" y2=\"\(n(bottom + 5))\"/>\n"
        }
        for t in yTicks {
            s += "<line x1=\"\(n(Self.left - 5))\" y1=\"\(n(py(t)))\" x2=\"\(n(Self.left))\" y2=\"\(n(py(t)))\"/>\n"
        }
        s += "</g>\n<g font-size=\"11\" fill=\"#333333\">\n"
        for t in xTicks {
            s += "<text x=\"\(n(px(t)))\" y=\"\(n(bottom + 18))\" text-anchor=\"middle\">\(Self.tickLabel(t))</text>\n"
        }
        for t in yTicks {
            s += "<text x=\"\(n(Self.left - 8))\" y=\"\(n(py(t) + 4))\" text-anchor=\"end\">"
                + "\(Self.tickLabel(t))</text>\n"
        }
        s += "</g>\n"
        let cx = Self.left + plotWidth / 2, cy = Self.top + plotHeight / 2
        s += "<text x=\"\(n(cx))\" y=\"\(n(bottom + 40))\" text-anchor=\"middle\" font-size=\"13\">"
            + "\(SVGPlot.escape(xLabel))</text>\n"
        s += "<text x=\"18\" y=\"\(n(cy))\" text-anchor=\"middle\" font-size=\"13\" "
            + "transform=\"rotate(-90 18 \(n(cy)))\">\(SVGPlot.escape(yLabel))</text>\n"
        return s
    }

    /// Tick values inside a log10 range: the powers of ten, with 2× and 5× added when the range
    /// spans fewer than two decades (and 1–9× when it spans less than one).
    public static func logTicks(_ range: ClosedRange<Double>) -> [Double] {
        let span = range.upperBound - range.lowerBound
        let multiples: [Double] = span < 1 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : span < 2 ? [1, 2, 5] : [1]
        // Thin the decades of a very wide range to about eight labels.
        let stride = max(1, Int((span / 8).rounded(.up)))
        var ticks: [Double] = []
        var decade = Int(range.lowerBound.rounded(.down))
        while Double(decade) <= range.upperBound {
            if decade % stride == 0 || multiples.count > 1 {
                for m in multiples {
                    let v = m * pow(10, Double(decade))
                    let l = log10(v)
                    if l >= range.lowerBound - 1e-9, l <= range.upperBound + 1e-9 { ticks.append(v) }
                }
            }
            decade += 1
        }
        return ticks
    }

    /// "1000", "0.05", "1e-6", "2e-6": plain for 10⁻⁴ ≤ v < 10⁵, else exponent form.
    public static func tickLabel(_ value: Double) -> String {
        if value >= 1e5 || value < 1e-4 {
            let exponent = Int(log10(value).rounded(.down))
            let mantissa = value / pow(10, Double(exponent))
            let m = String(format: "%.0f", mantissa)
            return m + "e\(exponent)"
        }
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
