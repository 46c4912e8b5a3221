import Foundation
import Tweedie

/// A tiny explorer of ring8 (4 × 4 grid, 10 samples, one trajectory, 5 slider positions) for all inputs.
private let explorer = try! Explorer(model: BuiltinModels.ring8(), schedule: "vp-cosine", sliderPositions: 5,
                                     gridSize: 4, arrowGridSize: 3, trajectoryCount: 1, sampleCount: 10)

/// Any text as the name of a view the explorer's page asks its server for (`/api/NAME`): a name that parses
/// names itself again, and its view is computed (runs only up to 8 steps, to keep each input fast) or
/// refused with an ArgumentError, all without a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExplore(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    guard let view = ExplorerView(name: text) else { return 0 }
    guard ExplorerView(name: view.name) == view else { fatalError("\(text) → \(view.name) does not parse back") }
    switch view {
    case .run(_, let steps) where steps > 8: return 0
    case .curve: return 0
    default: _ = try? view.json(explorer)
    }
    return 0
}
