import Foundation
import Tweedie

/// Any bytes as a PNG file: either an error or an image, never a trap. An image that decodes is
/// encoded again and must decode to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let data = Data(bytes: bytes, count: count)
    guard let image = try? PNG.decode(data) else { return 0 }
    if image.pixels.count <= 1 << 22 {
        guard let again = try? PNG.decode(PNG.encode(image)), again == image else {
            fatalError("a decoded \(image.width)×\(image.height)×\(image.channels) image does not round-trip")
        }
    }
    return 0
}
