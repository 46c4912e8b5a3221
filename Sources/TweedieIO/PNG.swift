import Foundation
import TweedieDistributions
import TweedieLinearAlgebra
import ZIPFoundation

/// An 8-bit image: `height × width × channels` bytes in row-major (H, W, C) order.
public struct PNGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 (gray) or 3 (RGB).
    public var channels: Int
    public var pixels: [UInt8]

    /// An image of the given size; `pixels.count` must be `height × width × channels`, both sides
    /// must lie in 1...2³¹ − 1 (PNG's limit) and `channels` must be 1 or 3.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width >= 1 && height >= 1 && width <= PNG.maximumSide && height <= PNG.maximumSide,
                     "a PNG image is 1 to 2^31 - 1 pixels wide and high, got \(width)×\(height)")
        precondition(channels == 1 || channels == 3, "a PNG image has 1 (gray) or 3 (RGB) channels, got \(channels)")
        precondition(ShapeArithmetic.elementCount([height, width, channels]) == pixels.count,
                     "\(height)×\(width)×\(channels) does not match \(pixels.count) bytes")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

/// The PNG format (ISO/IEC 15948): a signature, then chunks, each with a length, a type, data
/// and a CRC-32; the image rows are filtered and compressed into a zlib stream split across the
/// IDAT chunks.
///
/// Reading accepts every non-interlaced image the standard defines: gray (bit depths 1, 2, 4, 8
/// and 16), RGB (8, 16), palette (1, 2, 4, 8; expanded to RGB), gray with alpha and RGBA (8, 16;
/// the alpha channel is dropped). Sixteen-bit samples keep their high byte, and gray samples of
/// fewer than 8 bits are scaled to 0…255. Interlaced (Adam7) images are refused, as are unknown
/// critical chunks; ancillary chunks (gamma, text, transparency…) are skipped. Every chunk's
/// CRC-32 and the zlib stream's Adler-32 are checked, and the image's size is checked against
/// the memory limit (``MemoryBudget``) before anything it declares is allocated.
///
/// Writing produces 8-bit gray or RGB images, each row with the filter that minimises the sum of
/// its absolute (signed) differences, as the PNG specification suggests.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The largest width, height and chunk length the standard allows: 2³¹ − 1.
    static let maximumSide = Int(Int32.max)
    /// The most compressed bytes handed to the inflater at a time (see ``inflate(_:header:)``).
    private static let inflateChunk = 1 << 22
    /// The most bytes of compressed data one IDAT chunk holds when writing.
    private static let idatSize = 1 << 20

    /// Reads a `.png` file.
    public static func read(_ url: URL) throws(FileError) -> PNGImage {
        let data = try readContents(of: url)
        do { return try decode(data) } catch { throw error.inFile(url.displayName) }
    }

    /// Writes a `.png` file atomically.
    public static func write(_ image: PNGImage, to url: URL) throws(FileError) {
        try AtomicFile.write(encode(image), to: url)
    }

    // MARK: - Reading

    /// What IHDR declares, and the sizes that follow from it.
    struct Header {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        /// Samples per pixel in the file (alpha included).
        var samples: Int
        /// Bytes per complete pixel, at least 1: how far back the Sub, Average and Paeth filters look.
        var filterStride: Int
        /// Bytes of one row, without its filter byte.
        var rowBytes: Int
        /// The size of the inflated stream: `height × (1 + rowBytes)`.
        var inflatedSize: Int
        /// Channels of the decoded image: 1 or 3.
        var channels: Int
        /// Bytes of one decoded row: `width × channels`.
        var outputRowBytes: Int
        /// Bytes of the decoded image: `height × width × channels`.
        var pixelBytes: Int

        var size: String { "\(width)×\(height)" }
    }

    /// A palette index beyond the palette, found while expanding the rows.
    struct PaletteFault {
        var row: Int
        var column: Int
        var index: Int
    }

    /// Decodes the bytes of a `.png` file.
    public static func decode(_ input: Data) throws(FileError) -> PNGImage {
        let data = input.startIndex == 0 ? input : Data([UInt8](input))
        guard data.count >= signature.count, data.prefix(signature.count).elementsEqual(signature) else {
            throw FileError(field: "header", "not a PNG file (missing the \\x89PNG signature)")
        }
        var offset = signature.count
        var parsedHeader: Header?
        var palette: [UInt8] = []
        var compressed = Data()
        var sawIDAT = false
        var interruption: String?  // the first chunk after the IDAT chunks
        var previous = "the signature"
        chunks: while true {
            let remaining = data.count - offset
            guard remaining > 0 else {
                throw FileError(field: "IEND", "missing: the file ends after \(previous) without an IEND chunk")
            }
            guard remaining >= 8 else {
                throw FileError(field: "header", "truncated: the file ends inside the chunk header after \(previous) "
                                + "(\(remaining) of 8 bytes)")
            }
            let length = Int(readUInt32(data, offset))
            let typeRange = (offset + 4)..<(offset + 8)
            guard data[typeRange].allSatisfy({ isASCIILetter($0) }) else {
                let hex = data[typeRange].map { hexByte($0) }.joined(separator: " ")
                throw FileError(field: "header", "invalid chunk type (bytes \(hex)) after \(previous); "
                                + "a chunk type is four ASCII letters")
            }
            let name = String(decoding: data[typeRange], as: UTF8.self)
            guard length <= maximumSide else {
                throw FileError(field: name, "declares \(length) bytes of data, more than PNG's limit of 2^31 - 1")
            }
            let start = offset + 8
            guard length + 4 <= data.count - start else {
                throw FileError(field: name, "truncated: the chunk declares \(length) bytes of data and a 4-byte "
                                + "CRC, the file has \(data.count - start) bytes after its header")
            }
            let end = start + length
            let stored = readUInt32(data, end)
            let computed = data[typeRange.lowerBound..<end].crc32(checksum: 0)
            guard stored == computed else {
                throw FileError(field: name, "CRC-32 mismatch (stored \(hexWord(stored)), computed "
                                + "\(hexWord(computed))): the file is corrupt")
            }
            offset = end + 4
            if parsedHeader == nil && name != "IHDR" {
                throw FileError(field: "IHDR", "missing: the first chunk is \(name), not IHDR")
            }
            if name == "IDAT" {
                if let interruption {
                    throw FileError(field: "IDAT", "the IDAT chunks are not consecutive (\(interruption) comes "
                                    + "between them)")
                }
                if !sawIDAT, parsedHeader?.colorType == 3, palette.isEmpty {
                    throw FileError(field: "PLTE", "missing: a palette image (colour type 3) needs a PLTE chunk "
                                    + "before its IDAT chunks")
                }
                sawIDAT = true
                compressed.append(data[start..<end])
                previous = name
                continue
            }
            if sawIDAT && interruption == nil { interruption = name }
            switch name {
            case "IHDR":
                guard parsedHeader == nil else { throw FileError(field: "IHDR", "appears twice") }
                parsedHeader = try parseHeader(data, at: start, length: length)
            case "PLTE":
                guard palette.isEmpty else { throw FileError(field: "PLTE", "appears twice") }
                guard !sawIDAT else { throw FileError(field: "PLTE", "comes after the IDAT chunks") }
                guard length >= 3, length <= 768, length % 3 == 0 else {
                    throw FileError(field: "PLTE", "holds \(length) bytes; expected 1 to 256 entries of 3 bytes")
                }
                palette = [UInt8](data[start..<end])
            case "IEND":
                guard sawIDAT else { throw FileError(field: "IDAT", "missing: IEND comes before any image data") }
                break chunks
            default:
                // Bit 5 of the first letter (lowercase) marks an ancillary chunk, safe to skip.
                guard data[typeRange.lowerBound] & 0x20 != 0 else {
                    throw FileError(field: name, "unknown critical chunk: the image cannot be decoded without it")
                }
            }
            previous = name
        }
        guard let header = parsedHeader else { throw FileError(field: "IHDR", "missing") }
        var raw = try inflate(compressed, header: header)
        if let fault = unfilter(&raw, header: header) {
            throw FileError(field: "IDAT", "row \(fault.row) has filter type \(fault.type); expected 0 to 4 "
                            + "(None, Sub, Up, Average, Paeth)")
        }
        var pixels = [UInt8](repeating: 0, count: header.pixelBytes)
        let fault: PaletteFault? = raw.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                palette.withUnsafeBufferPointer { entries in
                    expand(source, into: target, header: header, palette: entries)
                }
            }
        }
        if let fault {
            throw FileError(field: "IDAT", "row \(fault.row), column \(fault.column): palette index \(fault.index) "
                            + "is beyond the palette's \(palette.count / 3) entries")
        }
        return PNGImage(width: header.width, height: header.height, channels: header.channels, pixels: pixels)
    }

    private static func isASCIILetter(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// The big-endian 32-bit number at `index` of zero-based `data` (which holds 4 bytes there).
    private static func readUInt32(_ data: Data, _ index: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 8 | UInt32(data[index + k]) }
        return value
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }

    private static func hexWord(_ word: UInt32) -> String {
        let digits = String(word, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// Checks IHDR's 13 bytes at `start` and computes the sizes they imply, refusing an image too
    /// large for the memory limit.
    private static func parseHeader(_ data: Data, at start: Int, length: Int) throws(FileError) -> Header {
        guard length == 13 else { throw FileError(field: "IHDR", "holds \(length) bytes; expected 13") }
        let width = Int(readUInt32(data, start))
        let height = Int(readUInt32(data, start + 4))
        let bitDepth = Int(data[start + 8])
        let colorType = Int(data[start + 9])
        let (compression, filter, interlace) = (data[start + 10], data[start + 11], data[start + 12])
        for (side, value) in [("width", width), ("height", height)] {
            guard value >= 1 else { throw FileError(field: "IHDR", "\(side) 0: must be at least 1") }
            guard value <= maximumSide else {
                throw FileError(field: "IHDR", "\(side) \(value) exceeds PNG's limit of 2^31 - 1")
            }
        }
        let type: (samples: Int, depths: [Int], kind: String)
        switch colorType {
        case 0: type = (1, [1, 2, 4, 8, 16], "gray")
        case 2: type = (3, [8, 16], "RGB")
        case 3: type = (1, [1, 2, 4, 8], "palette")
        case 4: type = (2, [8, 16], "gray with alpha")
        case 6: type = (4, [8, 16], "RGBA")
        default:
            throw FileError(field: "IHDR", "colour type \(colorType) is not defined (expected 0, 2, 3, 4 or 6)")
        }
        let (samples, depths, kind) = (type.samples, type.depths, type.kind)
        guard depths.contains(bitDepth) else {
            throw FileError(field: "IHDR", "bit depth \(bitDepth) is not allowed for colour type \(colorType) "
                            + "(\(kind)); expected \(depths.map { String($0) }.joined(separator: ", "))")
        }
        guard compression == 0 else {
            throw FileError(field: "IHDR", "compression method \(compression) is not defined (expected 0, deflate)")
        }
        guard filter == 0 else {
            throw FileError(field: "IHDR", "filter method \(filter) is not defined (expected 0)")
        }
        guard interlace == 0 else {
            throw FileError(field: "IHDR", interlace == 1
                            ? "interlaced (Adam7) images are not supported; re-save without interlacing"
                            : "interlace method \(interlace) is not defined (expected 0)")
        }
        let channels = colorType == 0 || colorType == 4 ? 1 : 3
        let bitsPerPixel = samples * bitDepth  // at most 64
        let tooLarge = FileError(field: "IHDR", "a \(width)×\(height) \(kind) image is too large to decode")
        guard let rowBits = ShapeArithmetic.byteCount([width], bytesEach: bitsPerPixel) else { throw tooLarge }
        let rowBytes = rowBits / 8 + (rowBits % 8 == 0 ? 0 : 1)
        guard let inflatedSize = ShapeArithmetic.byteCount([height], bytesEach: rowBytes + 1),
              let outputRowBytes = ShapeArithmetic.byteCount([width], bytesEach: channels),
              let pixelBytes = ShapeArithmetic.byteCount([height, width], bytesEach: channels),
              let total = ShapeArithmetic.sum(inflatedSize, pixelBytes) else { throw tooLarge }
        do {
            try MemoryBudget.require("IHDR", "its inflated rows and decoded pixels", elements: [total], bytesEach: 1)
        } catch {
            throw FileError(field: "IHDR", "a \(width)×\(height) \(kind) image is too large to decode: \(error.reason)")
        }
        return Header(width: width, height: height, bitDepth: bitDepth, colorType: colorType, samples: samples,
                      filterStride: max(1, bitsPerPixel / 8), rowBytes: rowBytes, inflatedSize: inflatedSize,
                      channels: channels, outputRowBytes: outputRowBytes, pixelBytes: pixelBytes)
    }

    /// Inflates the zlib stream of the IDAT chunks to exactly `header.inflatedSize` bytes.
    ///
    /// The stream is a 2-byte zlib header, raw deflate data and the big-endian Adler-32 of the
    /// inflated bytes. ZIPFoundation's inflater (`Data.decompress`) tells zlib that every chunk the
    /// provider returns holds `bufferSize` bytes, so each chunk is exactly that long: the deflate
    /// data whole when it is at most ``inflateChunk`` bytes (the usual case), otherwise pieces of
    /// that size, the last one padded with zeros. A chunk requested past the end means the deflate
    /// stream has no end: that is an error, not an empty chunk (on which the inflater would spin).
    private static func inflate(_ stream: Data, header: Header) throws(FileError) -> [UInt8] {
        let expected = header.inflatedSize
        guard stream.count >= 7 else {
            throw FileError(field: "IDAT", "truncated: the compressed stream holds \(stream.count) bytes, "
                            + "too few for a zlib stream")
        }
        let (cmf, flg) = (stream[0], stream[1])
        guard cmf & 0x0F == 8, cmf >> 4 <= 7 else {
            throw FileError(field: "IDAT", "not a deflate zlib stream (header byte \(hexByte(cmf)); expected "
                            + "compression method 8 with a window of at most 32 KiB)")
        }
        guard (Int(cmf) << 8 | Int(flg)) % 31 == 0 else {
            throw FileError(field: "IDAT", "corrupt zlib header (its check bits are wrong)")
        }
        guard flg & 0x20 == 0 else {
            throw FileError(field: "IDAT", "the zlib stream needs a preset dictionary, which PNG does not allow")
        }
        let deflateStart = 2, deflateEnd = stream.count - 4
        let deflateCount = deflateEnd - deflateStart
        let bufferSize = min(deflateCount, inflateChunk)
        var output: [UInt8] = []
        // Deflate expands at most about 1032-fold: reserve no more than the stream can produce.
        output.reserveCapacity(min(expected, ShapeArithmetic.byteCount([deflateCount], bytesEach: 1032) ?? expected))
        let overflow = FileError(field: "IDAT", "inflates to more than the \(expected) bytes a \(header.size) "
                                 + "image needs (the image data is corrupt)")
        let unterminated = FileError(field: "IDAT", "truncated: the compressed stream ends before its last block")
        do {
            _ = try Data.decompress(size: Int64(deflateCount), bufferSize: bufferSize, skipCRC32: true,
                                    provider: { position, _ in
                let first = deflateStart + Int(position)
                guard first < deflateEnd else { throw unterminated }
                var chunk = stream.subdata(in: first..<min(first + bufferSize, deflateEnd))
                if chunk.count < bufferSize { chunk.append(Data(count: bufferSize - chunk.count)) }
                return chunk
            }, consumer: { piece in
                guard piece.count <= expected - output.count else { throw overflow }
                output.append(contentsOf: piece)
            })
        } catch let error as FileError {
            throw error
        } catch {
            throw FileError(field: "IDAT", "corrupt compressed data (the deflate stream is invalid)")
        }
        guard output.count == expected else {
            throw FileError(field: "IDAT", "inflates to \(output.count) bytes, fewer than the \(expected) a "
                            + "\(header.size) image needs (the image data is truncated)")
        }
        let stored = readUInt32(stream, deflateEnd)
        let computed = adler32(output)
        guard stored == computed else {
            throw FileError(field: "IDAT", "Adler-32 mismatch (stored \(hexWord(stored)), computed "
                            + "\(hexWord(computed))): the compressed data is corrupt")
        }
        return output
    }

    /// The Adler-32 checksum of `bytes` (RFC 1950).
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            var a: UInt32 = 1, b: UInt32 = 0
            var i = 0
            while i < buffer.count {
                // 5552 bytes is the longest run whose sums cannot overflow 32 bits before the modulo.
                let end = min(i + 5552, buffer.count)
                while i < end {
                    a &+= UInt32(buffer[i])
                    b &+= a
                    i += 1
                }
                a %= 65521
                b %= 65521
            }
            return b << 16 | a
        }
    }

    /// The Paeth predictor: whichever of left, up and upper left is closest to left + up − upper left.
    @inline(__always)
    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// Undoes each row's filter in place; returns the first row whose filter type is not 0...4.
    private static func unfilter(_ raw: inout [UInt8], header: Header) -> (row: Int, type: UInt8)? {
        raw.withUnsafeMutableBufferPointer { buffer in unfilterRows(buffer, header: header) }
    }

    private static func unfilterRows(_ buffer: UnsafeMutableBufferPointer<UInt8>,
                                     header: Header) -> (row: Int, type: UInt8)? {
        let count = header.rowBytes, bpp = header.filterStride, stride = count + 1
        guard let base = buffer.baseAddress, buffer.count == header.inflatedSize else { return nil }
        // The row above the first one is all zeros.
        let zeros = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        zeros.initialize(repeating: 0, count: count)
        defer { zeros.deallocate() }
        let head = min(bpp, count)  // bytes with no pixel to their left
        for r in 0..<header.height {
            let row = base + r * stride + 1
            let type = row[-1]
            let up = UnsafePointer(r == 0 ? zeros : row - stride)
            switch type {
            case 0:
                break
            case 1:
                var i = bpp
                while i < count {
                    row[i] = row[i] &+ row[i - bpp]
                    i += 1
                }
            case 2:
                for i in 0..<count { row[i] = row[i] &+ up[i] }
            case 3:
                for i in 0..<head { row[i] = row[i] &+ (up[i] >> 1) }
                var i = bpp
                while i < count {
                    row[i] = row[i] &+ UInt8((UInt16(row[i - bpp]) + UInt16(up[i])) >> 1)
                    i += 1
                }
            case 4:
                for i in 0..<head { row[i] = row[i] &+ up[i] }  // paeth(0, b, 0) = b
                var i = bpp
                while i < count {
                    row[i] = row[i] &+ paeth(row[i - bpp], up[i], up[i - bpp])
                    i += 1
                }
            default:
                return (r, type)
            }
        }
        return nil
    }

    /// Writes the unfiltered rows of `raw` as 8-bit gray or RGB into `target`; returns the first
    /// palette index beyond the palette, if any.
    private static func expand(_ raw: UnsafeBufferPointer<UInt8>, into target: UnsafeMutableBufferPointer<UInt8>,
                               header: Header, palette: UnsafeBufferPointer<UInt8>) -> PaletteFault? {
        guard let source = raw.baseAddress, let destination = target.baseAddress,
              raw.count == header.inflatedSize, target.count == header.pixelBytes else { return nil }
        let width = header.width, depth = header.bitDepth, channels = header.channels
        let stride = header.rowBytes + 1
        let entries = palette.count / 3
        for r in 0..<header.height {
            let row = source + r * stride + 1
            let out = destination + r * header.outputRowBytes
            if header.colorType == 3 {
                for x in 0..<width {
                    let index = depth == 8 ? Int(row[x]) : packedSample(row, x, depth)
                    guard index < entries else { return PaletteFault(row: r, column: x, index: index) }
                    out[3 * x] = palette[3 * index]
                    out[3 * x + 1] = palette[3 * index + 1]
                    out[3 * x + 2] = palette[3 * index + 2]
                }
            } else if depth < 8 {
                let scale = 255 / ((1 << depth) - 1)  // 255, 85 or 17: the largest sample becomes 255
                for x in 0..<width { out[x] = UInt8(truncatingIfNeeded: packedSample(row, x, depth) * scale) }
            } else if depth == 8 && channels == header.samples {
                out.update(from: row, count: header.outputRowBytes)  // gray or RGB: the bytes as they are
            } else {
                // 16-bit samples keep their high (first) byte; the alpha sample, last, is dropped.
                let sampleBytes = depth / 8, pixelBytes = header.samples * depth / 8
                for x in 0..<width {
                    let pixel = row + x * pixelBytes
                    for k in 0..<channels { out[x * channels + k] = pixel[k * sampleBytes] }
                }
            }
        }
        return nil
    }

    /// Sample `x` of a row packing `depth` (1, 2 or 4) bits per sample, most significant bits first.
    @inline(__always)
    private static func packedSample(_ row: UnsafePointer<UInt8>, _ x: Int, _ depth: Int) -> Int {
        let bit = x * depth
        let shift = 8 - depth - (bit & 7)
        return Int(row[bit >> 3] >> shift) & ((1 << depth) - 1)
    }

    // MARK: - Writing

    /// The bytes of a `.png` file holding `image`: 8-bit gray or RGB, not interlaced.
    public static func encode(_ image: PNGImage) -> Data {
        let raw = filteredRows(image)
        var compressed = Data([0x78, 0x9C])  // deflate with a 32 KiB window, default compression level
        do {
            _ = try Data.compress(size: Int64(raw.count), bufferSize: 1 << 16, provider: { position, size in
                let first = Int(position)
                return Data(raw[first..<(first + size)])
            }, consumer: { piece in
                compressed.append(piece)
            })
        } catch {
            preconditionFailure("deflate failed on in-memory data: \(error)")
        }
        appendUInt32(&compressed, adler32(raw))
        var header = Data()
        appendUInt32(&header, UInt32(image.width))
        appendUInt32(&header, UInt32(image.height))
        header.append(contentsOf: [8, image.channels == 1 ? 0 : 2, 0, 0, 0])
        var png = Data(signature)
        appendChunk(&png, "IHDR", header)
        var first = 0
        while first < compressed.count {
            let end = min(first + idatSize, compressed.count)
            appendChunk(&png, "IDAT", compressed.subdata(in: first..<end))
            first = end
        }
        appendChunk(&png, "IEND", Data())
        return png
    }

    private static func appendUInt32(_ data: inout Data, _ value: UInt32) {
        data.append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF),
                                 UInt8(value & 0xFF)])
    }

    private static func appendChunk(_ png: inout Data, _ type: String, _ body: Data) {
        var typed = Data(type.utf8)
        typed.append(body)
        appendUInt32(&png, UInt32(body.count))
        png.append(typed)
        appendUInt32(&png, typed.crc32(checksum: 0))
    }

    /// The image's rows, each preceded by its filter type and filtered with the type that
    /// minimises the sum of the absolute values of the filtered bytes read as signed.
    private static func filteredRows(_ image: PNGImage) -> [UInt8] {
        let count = image.width * image.channels, bpp = image.channels
        let stride = count + 1
        var raw = [UInt8](repeating: 0, count: image.height * stride)
        let zeros = [UInt8](repeating: 0, count: count)
        image.pixels.withUnsafeBufferPointer { pixels in
            zeros.withUnsafeBufferPointer { zeroRow in
                raw.withUnsafeMutableBufferPointer { output in
                    guard let source = pixels.baseAddress, let above = zeroRow.baseAddress,
                          let target = output.baseAddress else { return }
                    for r in 0..<image.height {
                        let row = source + r * count
                        let up = r == 0 ? above : row - count
                        var best = 0, bestCost = Int.max
                        for type in 0...4 {
                            var cost = 0
                            for i in 0..<count {
                                cost += abs(Int(Int8(bitPattern: filtered(type, row, up, i, bpp))))
                            }
                            if cost < bestCost { (best, bestCost) = (type, cost) }
                        }
                        let line = target + r * stride
                        line[0] = UInt8(best)
                        for i in 0..<count { line[i + 1] = filtered(best, row, up, i, bpp) }
                    }
                }
            }
        }
        return raw
    }

    /// Byte `i` of `row` filtered with `type`, given the row above (`up`) and `bpp` bytes per pixel.
    @inline(__always)
    private static func filtered(_ type: Int, _ row: UnsafePointer<UInt8>, _ up: UnsafePointer<UInt8>,
                                 _ i: Int, _ bpp: Int) -> UInt8 {
        let x = row[i]
        let a: UInt8 = i >= bpp ? row[i - bpp] : 0
        switch type {
        case 1: return x &- a
        case 2: return x &- up[i]
        case 3: return x &- UInt8((UInt16(a) + UInt16(up[i])) >> 1)
        case 4: return x &- paeth(a, up[i], i >= bpp ? up[i - bpp] : 0)
        default: return x
        }
    }
}
