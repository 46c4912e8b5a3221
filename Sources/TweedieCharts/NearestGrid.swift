import Foundation
import TweedieDistributions
import TweedieIO
import TweedieLinearAlgebra

/// Pictures of samples of an image data set beside their nearest training images.
public enum NearestGrid {
    /// The image shape (H, W, C) of a model's points, or nil when they are not images: a shape of
    /// (H, W) or (H, W, C) with C = 1 or 3, or a square number of coordinates (D = H², gray).
    public static func imageShape(of model: MixtureModel) -> (height: Int, width: Int, channels: Int)? {
        if let shape = model.shape {
            if shape.count == 2 { return (shape[0], shape[1], 1) }
            if shape.count == 3, shape[2] == 1 || shape[2] == 3 { return (shape[0], shape[1], shape[2]) }
            return nil
        }
        let side = Int(Double(model.dimension).squareRoot().rounded())
        return side * side == model.dimension && side >= 2 ? (side, side, 1) : nil
    }

    /// Writes a PNG of the first `count` samples, each beside its nearest training image (the
    /// component `nearest[i]` of the model), four pairs to a row. Values are mapped to pixels over
    /// the range of the training images, [min μ, max μ] → [0, 255] (clamped); small images are
    /// enlarged by repeating pixels to at least 32 pixels a side.
    public static func write(samples: Matrix, model: MixtureModel, nearest: [Int], count: Int,
                             to url: URL) throws {
        guard let (h, w, c) = imageShape(of: model) else {
            throw ArgumentError("grid", "needs image data: points of shape (H, W) or (H, W, C) with C = 1 or 3, "
                                + "or a square number of coordinates")
        }
        let n = min(count, samples.rows)
        guard n >= 1 else { throw ArgumentError("grid", "no samples to draw") }
        let means = model.prior.means
        let (low, high) = (means.elements.min() ?? 0, means.elements.max() ?? 1)
        let span = high > low ? high - low : 1
        let scale = max(1, (32 + max(h, w) - 1) / max(h, w))
        let (cellH, cellW) = (h * scale, w * scale)
        let gap = 2, pairsPerRow = min(4, n)
        let rows = (n + pairsPerRow - 1) / pairsPerRow
        let width = pairsPerRow * (2 * cellW + 3 * gap) + gap, height = rows * (cellH + gap) + gap
        try MemoryBudget.require("grid", "a \(width)×\(height) picture", elements: [width, height, c], bytesEach: 1)
        var pixels = [UInt8](repeating: 96, count: width * height * c)
        func draw(_ values: ArraySlice<Double>, x0: Int, y0: Int) {
            for y in 0..<cellH {
                for x in 0..<cellW {
                    for channel in 0..<c {
                        let v = values[values.startIndex + ((y / scale) * w + x / scale) * c + channel]
                        let p = ((v - low) / span * 255).rounded()
                        pixels[((y0 + y) * width + x0 + x) * c + channel] = UInt8(max(0, min(255, p)))
                    }
                }
            }
        }
        let d = model.dimension
        for i in 0..<n {
            let (row, column) = (i / pairsPerRow, i % pairsPerRow)
            let x0 = gap + column * (2 * cellW + 3 * gap), y0 = gap + row * (cellH + gap)
            draw(samples.elements[(i * d)..<((i + 1) * d)], x0: x0, y0: y0)
            if nearest[i] >= 0 {
                draw(means.elements[(nearest[i] * d)..<((nearest[i] + 1) * d)], x0: x0 + cellW + gap, y0: y0)
            }
        }
        try PNG.write(PNGImage(width: width, height: height, channels: c, pixels: pixels), to: url)
    }
}
