#!/usr/bin/env python3
"""Writes the PNG fixtures read by Tests/TweedieTests/PNGTests.swift.

Run from anywhere:  python3 scripts/make_png_fixtures.py
Needs only Python's standard library (zlib, struct): this is an encoder independent of the
Swift one, written from the PNG specification. The output is deterministic (no randomness, no
timestamps), so running the script again leaves the files unchanged.

Writes Tests/TweedieTests/Fixtures/png/:
  - valid images covering every colour type and bit depth the reader accepts, every filter type
    (forced per row), several IDAT chunks, stored (uncompressed) deflate blocks and ancillary
    chunks, with expected.json holding, for each, the width, height, channels and the pixel bytes
    the reader must produce (gray or RGB, 8 bits: alpha dropped, palettes expanded, 16-bit samples
    reduced to their high byte, 1/2/4-bit gray scaled to 0...255);
  - hostile files the reader must refuse with a one-line error (their expected messages are in
    the Swift test).
"""
import json
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TweedieTests", "Fixtures", "png")
SIGNATURE = b"\x89PNG\r\n\x1a\n"

GRAY, RGB, PALETTE, GRAY_ALPHA, RGBA = 0, 2, 3, 4, 6
SAMPLES = {GRAY: 1, RGB: 3, PALETTE: 1, GRAY_ALPHA: 2, RGBA: 4}


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def ihdr(width, height, depth, colour, interlace=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))


def values(count, seed):
    """Deterministic pseudo-random integers in 0...2^32 - 1 (a linear congruential generator)."""
    state = seed
    out = []
    for _ in range(count):
        state = (state * 1103515245 + 12345) % (1 << 31)
        out.append(state >> 7)
    return out


def pack_row(samples, depth):
    """The bytes of one row of samples: big-endian for 16 bits, most significant bits first below 8."""
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return struct.pack(">%dH" % len(samples), *samples)
    out = bytearray()
    per_byte = 8 // depth
    for start in range(0, len(samples), per_byte):
        byte = 0
        group = samples[start:start + per_byte]
        for k, value in enumerate(group):
            byte |= value << (8 - depth * (k + 1))
        out.append(byte)
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp, filters):
    """Each row preceded by its filter type and filtered with it (the row above the first is zeros)."""
    out = bytearray()
    previous = bytes(len(rows[0]))
    for row, kind in zip(rows, filters):
        out.append(kind)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind] if kind <= 4 else 0
            out.append((x - predictor) % 256)
        previous = row
    return bytes(out)


def make_image(width, height, colour, depth, filters, seed, palette_size=None):
    """Random samples for an image; returns (filtered scanlines, expected channels, expected pixels)."""
    samples = SAMPLES[colour]
    top = (palette_size if colour == PALETTE else 1 << depth) - 1
    raw_rows, expected = [], []
    numbers = values(width * height * samples, seed)
    palette = palette_entries(palette_size) if colour == PALETTE else None
    for y in range(height):
        row = [n % (top + 1) for n in numbers[y * width * samples:(y + 1) * width * samples]]
        raw_rows.append(pack_row(row, depth))
        for x in range(width):
            pixel = row[x * samples:(x + 1) * samples]
            if colour == PALETTE:
                expected.extend(palette[3 * pixel[0]:3 * pixel[0] + 3])
                continue
            kept = pixel[:-1] if colour in (GRAY_ALPHA, RGBA) else pixel
            for value in kept:
                if depth == 16:
                    expected.append(value >> 8)
                elif depth < 8:
                    expected.append(value * 255 // ((1 << depth) - 1))
                else:
                    expected.append(value)
    bpp = max(1, samples * depth // 8)
    filters = [filters[y % len(filters)] for y in range(height)]
    channels = 1 if colour in (GRAY, GRAY_ALPHA) else 3
    return filter_rows(raw_rows, bpp, filters), channels, expected


def palette_entries(count):
    return bytes((17 * i + 3) % 256 if k == 0 else (101 * i + 7 * k) % 256 for i in range(count) for k in range(3))


def png_file(header, idat, before=(), after=(), idat_size=None):
    """Signature, IHDR, the chunks `before`, the IDAT data in chunks of `idat_size` bytes, `after`, IEND."""
    data = SIGNATURE + header + b"".join(before)
    size = idat_size or len(idat)
    for start in range(0, len(idat), size):
        data += chunk(b"IDAT", idat[start:start + size])
    return data + b"".join(after) + chunk(b"IEND", b"")


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    def valid(name, width, height, colour, depth, filters, seed, palette_size=None, level=9,
              before=(), after=(), idat_size=None):
        scanlines, channels, pixels = make_image(width, height, colour, depth, filters, seed, palette_size)
        extra = list(before)
        if colour == PALETTE:
            extra.insert(0, chunk(b"PLTE", palette_entries(palette_size)))
        write(name, png_file(ihdr(width, height, depth, colour), zlib.compress(scanlines, level), extra, after,
                             idat_size))
        assert len(pixels) == width * height * channels
        expected[name] = {"width": width, "height": height, "channels": channels, "pixels": pixels}

    text = chunk(b"tEXt", b"Comment\x00made by make_png_fixtures.py")
    valid("rgb_filters.png", 5, 5, RGB, 8, [0, 1, 2, 3, 4], 1)
    valid("rgb_filters_reversed.png", 5, 5, RGB, 8, [4, 3, 2, 1, 0], 2)
    valid("gray8.png", 7, 4, GRAY, 8, [1, 2, 3, 4], 3)
    valid("gray1.png", 10, 3, GRAY, 1, [0, 1, 2], 4)
    valid("gray2.png", 5, 2, GRAY, 2, [3, 4], 5)
    valid("gray4.png", 5, 3, GRAY, 4, [4, 0, 1], 6)
    valid("gray16.png", 3, 2, GRAY, 16, [1, 4], 7)
    valid("palette8.png", 4, 3, PALETTE, 8, [0, 2, 4], 8, palette_size=6,
          before=[chunk(b"tRNS", b"\x00\x80\xff")])
    valid("palette1.png", 9, 2, PALETTE, 1, [1, 3], 9, palette_size=2)
    valid("palette2.png", 7, 2, PALETTE, 2, [1, 3], 10, palette_size=3)
    valid("palette4.png", 5, 2, PALETTE, 4, [4, 2], 11, palette_size=12)
    valid("rgba.png", 4, 3, RGBA, 8, [1, 3, 4], 12)
    valid("gray_alpha.png", 3, 4, GRAY_ALPHA, 8, [0, 1, 2, 4], 13)
    valid("rgb16.png", 3, 2, RGB, 16, [2, 4], 14)
    valid("rgba16.png", 2, 2, RGBA, 16, [3, 1], 15)
    valid("gray_alpha16.png", 2, 3, GRAY_ALPHA, 16, [4], 16)
    valid("one_by_one.png", 1, 1, RGB, 8, [4], 17)
    valid("multi_idat.png", 6, 4, RGB, 8, [1, 2, 3, 4], 18, idat_size=3,
          before=[text, chunk(b"gAMA", struct.pack(">I", 45455))], after=[chunk(b"tIME", bytes(7))])
    valid("stored.png", 8, 8, GRAY, 8, [0, 1, 2, 3, 4], 19, level=0)
    valid("wide.png", 257, 1, GRAY, 8, [1], 20)

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        lines = ["  %s: %s" % (json.dumps(name), json.dumps(expected[name], sort_keys=True))
                 for name in sorted(expected)]
        f.write("{\n" + ",\n".join(lines) + "\n}\n")

    # Hostile files.
    scanlines, _, _ = make_image(3, 2, GRAY, 8, [0], 30)
    good = png_file(ihdr(3, 2, 8, GRAY), zlib.compress(scanlines))
    write("empty.png", b"")
    write("bad_signature.png", b"\x89PNH" + good[4:])
    broken = bytearray(good)
    broken[8 + 8 + 13] ^= 0x01  # the first byte of IHDR's CRC
    write("bad_crc.png", bytes(broken))
    write("truncated_idat.png", good[:8 + 25 + 8 + 4])  # the file ends 4 bytes into IDAT's data
    write("adam7.png", png_file(ihdr(3, 2, 8, GRAY, interlace=1), zlib.compress(scanlines)))
    write("missing_iend.png", good[:-12])
    write("width_zero.png", png_file(ihdr(0, 2, 8, GRAY), zlib.compress(scanlines)))
    write("height_beyond_limit.png", png_file(ihdr(3, 1 << 31, 8, GRAY), zlib.compress(scanlines)))
    write("huge.png", png_file(ihdr((1 << 31) - 1, (1 << 31) - 1, 16, RGBA), zlib.compress(scanlines)))
    write("bad_depth.png", png_file(ihdr(3, 2, 4, RGB), zlib.compress(scanlines)))
    # IHDR says 2 × 2 (6 bytes inflated); the stream inflates to 200 bytes.
    write("too_much_data.png", png_file(ihdr(2, 2, 8, GRAY), zlib.compress(bytes(4 * 50))))
    # IHDR says 4 × 4 (20 bytes inflated); the stream holds 2 rows.
    write("too_little_data.png", png_file(ihdr(4, 4, 8, GRAY), zlib.compress(bytes(10))))
    write("palette_index.png", png_file(ihdr(3, 2, 8, PALETTE), zlib.compress(bytes([0, 0, 1, 0, 0, 1, 5, 1])),
                                        [chunk(b"PLTE", palette_entries(2))]))
    write("missing_plte.png", png_file(ihdr(3, 2, 8, PALETTE), zlib.compress(bytes(8))))
    rows = bytes([0, 1, 2, 3, 7, 4, 5, 6, 0, 7, 8, 9])  # row 1 has filter type 7
    write("filter_byte.png", png_file(ihdr(3, 3, 8, GRAY), zlib.compress(rows)))
    write("unknown_critical.png", png_file(ihdr(3, 2, 8, GRAY), zlib.compress(scanlines), [chunk(b"QUUX", b"?")]))
    stream = bytearray(zlib.compress(scanlines))
    stream[-1] ^= 0xFF
    write("bad_adler.png", png_file(ihdr(3, 2, 8, GRAY), bytes(stream)))
    write("bad_zlib_header.png", png_file(ihdr(3, 2, 8, GRAY), b"\x79\x9c" + zlib.compress(scanlines)[2:]))
    # A deflate block of the reserved type 3.
    write("corrupt_deflate.png", png_file(ihdr(3, 2, 8, GRAY), b"\x78\x9c\xff\xff\xff" + bytes(4)))
    # The deflate stream is cut short; the zlib stream still ends with 4 bytes taken as the Adler-32.
    write("unterminated_deflate.png", png_file(ihdr(3, 2, 8, GRAY), zlib.compress(scanlines)[:-7] + bytes(4)))
    compressed = zlib.compress(scanlines)
    write("split_idat.png", SIGNATURE + ihdr(3, 2, 8, GRAY) + chunk(b"IDAT", compressed[:5]) + text
          + chunk(b"IDAT", compressed[5:]) + chunk(b"IEND", b""))
    write("no_idat.png", SIGNATURE + ihdr(3, 2, 8, GRAY) + chunk(b"IEND", b""))
    write("ihdr_not_first.png", SIGNATURE + text + good[8:])
    write("huge_chunk_length.png", SIGNATURE + ihdr(3, 2, 8, GRAY) + struct.pack(">I", 0xFFFFFFF0) + b"tEXt"
          + bytes(16))


if __name__ == "__main__":
    main()
