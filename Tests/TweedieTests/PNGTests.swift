import Foundation
import Testing
import TweedieIO

/// The valid images written by scripts/make_png_fixtures.py; their pixels are in expected.json.
let pngValidFixtures = [
    "rgb_filters.png", "rgb_filters_reversed.png", "gray8.png", "gray1.png", "gray2.png", "gray4.png", "gray16.png",
    "palette8.png", "palette1.png", "palette2.png", "palette4.png", "rgba.png", "gray_alpha.png", "rgb16.png",
    "rgba16.png", "gray_alpha16.png", "one_by_one.png", "multi_idat.png", "stored.png", "wide.png",
]

/// The hostile files written by scripts/make_png_fixtures.py, and the start of the error each gives.
let pngHostileFixtures: [(String, String)] = [
    ("empty.png", "header: not a PNG file"),
    ("bad_signature.png", "header: not a PNG file"),
    ("bad_crc.png", "IHDR: CRC-32 mismatch"),
    ("truncated_idat.png", "IDAT: truncated: the chunk declares"),
    ("adam7.png", "IHDR: interlaced (Adam7) images are not supported; re-save without interlacing"),
    ("missing_iend.png", "IEND: missing"),
    ("width_zero.png", "IHDR: width 0: must be at least 1"),
    ("height_beyond_limit.png", "IHDR: height 2147483648 exceeds PNG's limit of 2^31 - 1"),
    ("huge.png", "IHDR: a 2147483647×2147483647 RGBA image is too large to decode"),
    ("bad_depth.png", "IHDR: bit depth 4 is not allowed for colour type 2 (RGB)"),
    ("too_much_data.png", "IDAT: inflates to more than the 6 bytes a 2×2 image needs"),
    ("too_little_data.png", "IDAT: inflates to 10 bytes, fewer than the 20 a 4×4 image needs"),
    ("palette_index.png", "IDAT: row 1, column 1: palette index 5 is beyond the palette's 2 entries"),
    ("missing_plte.png", "PLTE: missing"),
    ("filter_byte.png", "IDAT: row 1 has filter type 7"),
    ("unknown_critical.png", "QUUX: unknown critical chunk"),
    ("bad_adler.png", "IDAT: Adler-32 mismatch"),
    ("bad_zlib_header.png", "IDAT: not a deflate zlib stream"),
    ("corrupt_deflate.png", "IDAT: corrupt compressed data"),
    ("unterminated_deflate.png", "IDAT: truncated: the compressed stream ends before its last block"),
    ("split_idat.png", "IDAT: the IDAT chunks are not consecutive (tEXt comes between them)"),
    ("no_idat.png", "IDAT: missing"),
    ("ihdr_not_first.png", "IHDR: missing: the first chunk is tEXt"),
    ("huge_chunk_length.png", "tEXt: declares 4294967280 bytes of data"),
]

/// The URL of a fixture written by scripts/make_png_fixtures.py.
private func pngFixture(_ name: String) throws -> URL {
    let url = Bundle.module.resourceURL?.appendingPathComponent("Fixtures/png/\(name)")
    return try #require(url.flatMap { FileManager.default.fileExists(atPath: $0.path) ? $0 : nil },
                        "missing fixture \(name)")
}

/// The image a valid fixture holds, as expected.json gives it.
private struct ExpectedPNG: Decodable {
    var width: Int
    var height: Int
    var channels: Int
    var pixels: [UInt8]
}

private func expectedPNGs() throws -> [String: ExpectedPNG] {
    try JSONDecoder().decode([String: ExpectedPNG].self, from: Data(contentsOf: pngFixture("expected.json")))
}

/// CRC-32 (ISO 3309, as PNG uses it) computed bit by bit, independently of the library's.
private func referenceCRC32(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

private func bigEndian32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
}

private func bigEndianBytes(_ value: Int) -> [UInt8] {
    [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
}

/// Checks the structure of an encoded PNG without the library's decoder: the signature, each
/// chunk's CRC-32, IHDR's fields, consecutive IDAT chunks opening a valid zlib header, IEND last.
private func checkPNGStructure(_ data: Data, of image: PNGImage,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
    let bytes = [UInt8](data)
    try #require(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature",
                 sourceLocation: sourceLocation)
    var offset = 8
    var types: [String] = []
    var compressed: [UInt8] = []
    while offset < bytes.count {
        try #require(bytes.count - offset >= 12, "a chunk needs 12 bytes at least", sourceLocation: sourceLocation)
        let length = Int(bigEndian32(bytes, offset))
        try #require(length <= bytes.count - offset - 12, "chunk length \(length)", sourceLocation: sourceLocation)
        let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
        let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
        #expect(bigEndian32(bytes, offset + 8 + length) == referenceCRC32(bytes[(offset + 4)..<(offset + 8 + length)]),
                "CRC-32 of \(type)", sourceLocation: sourceLocation)
        switch type {
        case "IHDR":
            let fields: [UInt8] = [8, image.channels == 1 ? 0 : 2, 0, 0, 0]  // depth, colour type, methods
            #expect(body == bigEndianBytes(image.width) + bigEndianBytes(image.height) + fields, "IHDR",
                    sourceLocation: sourceLocation)
        case "IDAT":
            compressed += body
        case "IEND":
            #expect(body.isEmpty, "IEND", sourceLocation: sourceLocation)
        default:
            break
        }
        types.append(type)
        offset += 12 + length
    }
    #expect(types.first == "IHDR" && types.last == "IEND", "\(types)", sourceLocation: sourceLocation)
    #expect(types.count >= 3 && types.dropFirst().dropLast().allSatisfy({ $0 == "IDAT" }), "\(types)",
            sourceLocation: sourceLocation)
    try #require(compressed.count >= 7, "zlib stream of \(compressed.count) bytes", sourceLocation: sourceLocation)
    let (cmf, flg) = (compressed[0], compressed[1])
    #expect(cmf & 0x0F == 8 && cmf >> 4 <= 7, "zlib method and window", sourceLocation: sourceLocation)
    #expect((Int(cmf) * 256 + Int(flg)) % 31 == 0, "zlib header check", sourceLocation: sourceLocation)
    #expect(flg & 0x20 == 0, "no preset dictionary", sourceLocation: sourceLocation)
}

/// A random image; `smooth` ones are gradients with a little noise, on which the filters other
/// than None win.
private func randomImage(_ random: inout TestRandom, width: Int, height: Int, channels: Int,
                         smooth: Bool) -> PNGImage {
    var pixels: [UInt8] = []
    pixels.reserveCapacity(width * height * channels)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                let noise = UInt8(truncatingIfNeeded: random.nextUInt64())
                pixels.append(smooth ? UInt8(truncatingIfNeeded: 3 * x + 5 * y + 40 * c) &+ (noise & 3) : noise)
            }
        }
    }
    return PNGImage(width: width, height: height, channels: channels, pixels: pixels)
}

@Suite("PNG")
struct PNGTests {
    @Test("expected.json describes exactly the valid fixtures")
    func manifest() throws {
        let names = try expectedPNGs().keys
        #expect(Set(names) == Set(pngValidFixtures))
    }

    @Test("images from an independent encoder decode to the expected pixels", arguments: pngValidFixtures)
    func validFixture(file: String) throws {
        let expected = try #require(try expectedPNGs()[file])
        let image = try PNG.read(pngFixture(file))
        #expect(image.width == expected.width && image.height == expected.height && image.channels == expected.channels)
        #expect(image.pixels == expected.pixels)
    }

    @Test("hostile files are refused with one-line errors naming the chunk", arguments: pngHostileFixtures)
    func hostileFixture(file: String, problem: String) throws {
        let url = try pngFixture(file)
        expectIOFailure(file: file, problem) { _ = try PNG.read(url) }
        let data = try Data(contentsOf: url)
        do {
            _ = try PNG.decode(data)
            Issue.record("\(file) decoded")
        } catch {
            // In memory, the error names no file and starts with the chunk at fault.
            #expect(String(describing: error).hasPrefix(problem), "\(error)")
        }
    }

    @Test("encode → decode round-trips random images exactly", arguments: [1, 3])
    func roundTrip(channels: Int) throws {
        var random = TestRandom(seed: UInt64(channels))
        for (width, height) in [(1, 1), (1, 257), (257, 1), (2, 3), (16, 9), (63, 40)] {
            for smooth in [false, true] {
                let image = randomImage(&random, width: width, height: height, channels: channels, smooth: smooth)
                let data = PNG.encode(image)
                try checkPNGStructure(data, of: image)
                #expect(try PNG.decode(data) == image, "\(width)×\(height)×\(channels), smooth: \(smooth)")
            }
        }
    }

    @Test("a large image spans several deflate buffers and IDAT chunks")
    func largeRoundTrip() throws {
        var random = TestRandom(seed: 7)
        let image = randomImage(&random, width: 620, height: 600, channels: 3, smooth: false)
        let data = PNG.encode(image)
        try checkPNGStructure(data, of: image)
        #expect(try PNG.decode(data) == image)
    }

    @Test("the encoder's own output is a valid PNG for constant images too", arguments: [1, 3])
    func constantImage(channels: Int) throws {
        let image = PNGImage(width: 300, height: 200, channels: channels,
                             pixels: [UInt8](repeating: 0x7F, count: 300 * 200 * channels))
        let data = PNG.encode(image)
        try checkPNGStructure(data, of: image)
        #expect(data.count < 2_000, "a constant image compresses well (\(data.count) bytes)")
        #expect(try PNG.decode(data) == image)
    }

    @Test("write is atomic and read names the file in its errors")
    func files() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanUp() }
        var random = TestRandom(seed: 11)
        let image = randomImage(&random, width: 12, height: 7, channels: 3, smooth: true)
        let url = scratch.url("image.png")
        try PNG.write(image, to: url)
        #expect(try PNG.read(url) == image)
        #expect(scratch.contents() == ["image.png"], "no temporary files left")
        let bad = try scratch.write("not a PNG", to: "bad.png")
        expectIOFailure(file: "bad.png", "header: not a PNG file") { _ = try PNG.read(bad) }
        expectIOFailure(file: "missing.png", "cannot read") { _ = try PNG.read(scratch.url("missing.png")) }
    }

    @Test("a Data slice decodes like the same bytes on their own")
    func slice() throws {
        let bytes = try [UInt8](Data(contentsOf: pngFixture("rgb_filters.png")))
        let padded = Data([1, 2, 3] + bytes + [4])
        let slice = padded[3..<(3 + bytes.count)]
        #expect(try PNG.decode(slice) == PNG.decode(Data(bytes)))
    }

    @Test("every proper prefix of a valid file is refused with a one-line error",
          arguments: ["rgb_filters.png", "multi_idat.png", "palette2.png"])
    func prefixes(file: String) throws {
        let bytes = try [UInt8](Data(contentsOf: pngFixture(file)))
        for count in 0..<bytes.count {
            let message: String? = {
                do {
                    _ = try PNG.decode(Data(bytes[0..<count]))
                    return nil
                } catch {
                    return String(describing: error)
                }
            }()
            guard let message else {
                Issue.record("the first \(count) bytes of \(file) decoded")
                continue
            }
            #expect(!message.contains("\n") && !message.isEmpty, "\(message)")
        }
    }

    @Test("flipping any one bit gives an image or a one-line error, never a trap",
          arguments: ["gray1.png", "palette4.png", "rgb16.png"])
    func bitFlips(file: String) throws {
        let bytes = try [UInt8](Data(contentsOf: pngFixture(file)))
        for index in bytes.indices {
            for bit in 0..<8 {
                var damaged = bytes
                damaged[index] ^= 1 << bit
                do {
                    _ = try PNG.decode(Data(damaged))
                } catch {
                    #expect(!String(describing: error).contains("\n"))
                }
            }
        }
    }
}
