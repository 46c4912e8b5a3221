#!/usr/bin/env python3
"""Writes the hostile-input corpus run by Tests/TweedieCLITests/HostileInputTests.swift.

Run from anywhere:  python3 scripts/make_hostile_corpus.py
Needs only NumPy. The output is deterministic (fixed ZIP timestamps, no randomness), so running
the script again leaves `git status` clean.

Writes Tests/TweedieCLITests/Hostile/: small malformed or careless input files (.npy points,
.npz and .json models) and the manifest cases.json, a list of cases

    {
      "name": "npy_bad_magic",                      unique; the test's argument
      "args": ["oracle", "--model", "ring8", ...],  CLI arguments; "{corpus}" is this folder,
                                                    "{out}" a fresh scratch directory per case
      "expect": "error" | "ok",
      "culprit": "text" | ["text", "or this"],      error: the one stderr line contains one of these
      "also": ["text", ...],                        error: ... and all of these (optional)
      "env": {"NAME": "value"},                     added to the environment (optional)
      "setup": [{"copy": "{corpus}/x", "to": "{out}/x"}],            before the run (optional)
      "generate": [{"kind": "fifo" | "directory" | "zeros_npy" | "sparse_npy",
                    "path": "{out}/x", "shape": [...]}],             before the run (optional)
      "outputs": ["{out}/o.npz"],                   ok: exactly the files the run adds to {out}
      "reference": {"args": [...], "outputs": [...]},                ok: a second run, after the
      "compare": [["{out}/o.npz", "{out}/ref.npz"]]                  checks, whose outputs must hold
    }                                                                the same numbers (C order)

Every case must finish within 5 s, never die by a signal, leave the inputs byte for byte
unchanged and leave nothing behind in {out} but the expected outputs (nothing on failure).
Files too big to commit (the 20 MB zeros array, the 1 TiB sparse array) and special files (FIFOs,
directories) are made by the test at run time from "generate".
"""
import io
import json
import os
import shutil
import struct
import zipfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "TweedieCLITests", "Hostile")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

CASES = []


def path(name):
    return os.path.join(OUT, name)


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def npy_bytes(array, version=(1, 0)):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=True)
    return buffer.getvalue()


def raw_npy(header, data=b"", version=(1, 0), header_length=None):
    """A .npy file with a hand-written header dictionary text (padded as NumPy pads it)."""
    text = header.encode("latin1")
    prefix = 10 if version[0] == 1 else 12
    total = prefix + len(text) + 1
    text += b" " * ((64 - total % 64) % 64) + b"\n"
    length = len(text) if header_length is None else header_length
    size = struct.pack("<H", length) if version[0] == 1 else struct.pack("<I", length)
    return b"\x93NUMPY" + bytes(version) + size + text + data


def write_npy(name, array, version=(1, 0)):
    write_bytes(name, npy_bytes(array, version))


def zip_bytes(entries, compression=zipfile.ZIP_STORED):
    """A ZIP archive of (name, bytes) entries with a fixed timestamp."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def write_npz(name, arrays, compression=zipfile.ZIP_STORED):
    """Like np.savez, with a fixed timestamp; values that are bytes are written as they are."""
    entries = []
    for key, value in arrays.items():
        entries.append((key + ".npy", value if isinstance(value, bytes) else npy_bytes(np.asarray(value))))
    write_bytes(name, zip_bytes(entries, compression))


def write_json(name, text):
    write_bytes(name, text.encode("utf-8") if isinstance(text, str) else text)


def case(name, args, expect, culprit=None, **extra):
    assert all(c["name"] != name for c in CASES), name
    item = {"name": name, "args": args, "expect": expect}
    if expect == "error":
        assert culprit, name
        item["culprit"] = culprit
    item.update(extra)
    CASES.append(item)


# ---------------------------------------------------------------------------------------------
# Valid inputs everything else is a variation of.

RING8_POINTS = np.array([[0.5, -1.0], [3.0, 2.0], [-2.0, 0.25], [0.0, 4.0]], dtype="<f8")
TWO_D_MODEL = {
    "weights": [0.25, 0.75],
    "means": [[0.0, 1.0], [-1.0, 0.5]],
    "covariance_type": "full",
    "covariances": [[[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 1.0]]],
}
TWO_D_NPZ = {
    "weights": np.array([0.25, 0.75]),
    "means": np.array([[0.0, 1.0], [-1.0, 0.5]]),
    "covariances": np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 1.0]]]),
    "covariance_type": np.array("full"),
}


def oracle(model, points, out="{out}/o.npz"):
    """`oracle` at t = 0.5 of vp-linear: the command every file case goes through."""
    return ["oracle", "--model", model, "--x", points, "--t", "0.5", "--schedule", "vp-linear", "--out", out, "--quiet"]


def on_points(name):
    return oracle("ring8", "{corpus}/" + name)


def on_model(name):
    return oracle("{corpus}/" + name, "{corpus}/points.npy")


def same_as(reference_args, output="{out}/o.npz", reference_output="{out}/ref.npz"):
    """Extra fields of an ok case whose output must equal that of `reference_args`."""
    args = [reference_output if a == output else a for a in reference_args]
    return {"outputs": [output], "reference": {"args": args, "outputs": [reference_output]},
            "compare": [[output, reference_output]]}


def valid_inputs():
    write_npy("points.npy", RING8_POINTS)
    write_json("model.json", json.dumps(TWO_D_MODEL, indent=1) + "\n")
    write_npz("model.npz", TWO_D_NPZ)
    flat = np.linspace(-2.0, 2.0, 3 * 48).reshape(3, 48).astype("<f8")
    write_npy("chain16_points_flat.npy", flat)
    write_npy("chain16_points_3d.npy", flat.reshape(3, 16, 3))
    case("valid_points", on_points("points.npy"), "ok", outputs=["{out}/o.npz"])
    case("valid_json_model", on_model("model.json"), "ok", outputs=["{out}/o.npz"])
    case("valid_npz_model", on_model("model.npz"), "ok", outputs=["{out}/o.npz"])
    case("npy_3d_points_chain16", oracle("chain16", "{corpus}/chain16_points_3d.npy"), "ok",
         **same_as(oracle("chain16", "{corpus}/chain16_points_flat.npy")))


# ---------------------------------------------------------------------------------------------
# Malformed .npy points (read by `oracle --x` against ring8, D = 2).

def npy_cases():
    good = npy_bytes(RING8_POINTS)
    data = RING8_POINTS.tobytes()
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }"

    def error(name, content, culprit=None):
        write_bytes(name, content)
        case(name[:-4], on_points(name), "error", culprit or name)

    error("npy_bad_magic.npy", b"\x93NUMPZ" + good[6:])
    error("npy_not_npy_at_all.npy", b"0.5,-1.0\n3.0,2.0\n")
    error("npy_truncated_header.npy", good[:30])
    error("npy_truncated_magic.npy", good[:5])
    error("npy_truncated_data.npy", good[:-5])
    error("npy_too_much_data.npy", good + b"\x00" * 16)
    error("npy_header_not_dict.npy", raw_npy("[1, 2, 3]", data))
    error("npy_header_garbage.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), ", data))
    error("npy_unknown_keys.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), 'extra': 1, }", data))
    error("npy_missing_shape.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, }", data))
    error("npy_shape_negative.npy", raw_npy(header % "(-4, 2)", data))
    error("npy_shape_huge_number.npy", raw_npy(header % "(100000000000000000000000000000, 2)", data))
    error("npy_shape_large.npy", raw_npy(header % "(1000000000000000, 2)", data))
    error("npy_shape_product_overflow.npy", raw_npy(header % "(%d, %d, 2)" % (2 ** 40, 2 ** 40), data))
    error("npy_shape_not_integers.npy", raw_npy(header % "(4.0, 2)", data))
    error("npy_bytes_S0_huge.npy", raw_npy("{'descr': '|S0', 'fortran_order': False, 'shape': (1000000000000,), }"))
    error("npy_unicode_U0_huge.npy", raw_npy("{'descr': '<U0', 'fortran_order': False, 'shape': (1000000000000,), }"))
    error("npy_bool.npy", npy_bytes(RING8_POINTS > 0))
    error("npy_big_endian.npy", npy_bytes(RING8_POINTS.astype(">f8")))
    error("npy_object.npy", npy_bytes(np.array([[1.0, "a"], [2.0, None]], dtype=object)))
    error("npy_complex.npy", npy_bytes(RING8_POINTS.astype("<c16")))
    error("npy_float16.npy", npy_bytes(RING8_POINTS.astype("<f2")))
    error("npy_structured.npy", npy_bytes(np.zeros(4, dtype=[("x", "<f8"), ("y", "<f8")])))
    error("npy_strings.npy", npy_bytes(np.array([["a", "b"], ["c", "d"]])))
    error("npy_fortran_order.npy", npy_bytes(np.asfortranarray(RING8_POINTS)))
    error("npy_int64_2pow60_plus_1.npy", npy_bytes(np.array([[1, 2 ** 60 + 1], [0, 1]], dtype="<i8")))
    error("npy_uint64_huge.npy", npy_bytes(np.array([[2 ** 64 - 1, 1], [0, 1]], dtype="<u8")))
    error("npy_nan.npy", npy_bytes(np.array([[0.5, np.nan], [1.0, 2.0]])))
    error("npy_inf.npy", npy_bytes(np.array([[0.5, -1.0], [np.inf, 2.0]])))
    error("npy_huge_values.npy", npy_bytes(np.array([[1e308, -1e308], [1.0, 2.0]])), ["npy_huge_values.npy", "point"])
    error("npy_scalar.npy", npy_bytes(np.array(1.5)))
    error("npy_wrong_dimension.npy", npy_bytes(np.zeros((4, 3))))
    error("npy_zero_columns.npy", npy_bytes(np.zeros((4, 0))))
    error("npy_header_length_past_eof.npy", raw_npy(header % "(4, 2)", data, header_length=60000))
    error("npy_header_length_zero.npy", raw_npy(header % "(4, 2)", data, header_length=0))
    error("npy_version_9.npy", raw_npy(header % "(4, 2)", data, version=(9, 0)))
    error("npy_version2_length_huge.npy", raw_npy(header % "(4, 2)", data, version=(2, 0), header_length=0xFFFFFFF0))
    error("npy_empty_file.npy", b"")

    # Accepted inputs: the same numbers as a float64 file must give the same answer.
    small = np.array([[1, -1], [3, 2], [-2, 0], [0, 4]], dtype="<i8")
    write_npy("npy_int64_small.npy", small)
    write_npy("npy_int64_small_as_f8.npy", small.astype("<f8"))
    case("npy_int64_small", on_points("npy_int64_small.npy"), "ok",
         **same_as(on_points("npy_int64_small_as_f8.npy")))
    single = RING8_POINTS.astype("<f4")
    write_npy("npy_float32.npy", single)
    write_npy("npy_float32_as_f8.npy", single.astype("<f8"))
    case("npy_float32", on_points("npy_float32.npy"), "ok", **same_as(on_points("npy_float32_as_f8.npy")))
    # No points: an empty batch in, empty arrays out.
    write_npy("npy_zero_rows.npy", np.zeros((0, 2)))
    case("npy_zero_rows", on_points("npy_zero_rows.npy"), "ok", outputs=["{out}/o.npz"])
    write_npy("npy_version_2.npy", RING8_POINTS, version=(2, 0))
    case("npy_version_2", on_points("npy_version_2.npy"), "ok", **same_as(on_points("points.npy")))


# ---------------------------------------------------------------------------------------------
# Malformed .npz models (read by `oracle --model` on points.npy, D = 2).

def npz_cases():
    def error(name, culprit, env=None):
        extra = {"env": env} if env else {}
        case(name[:-4], on_model(name), "error", culprit, **extra)

    write_bytes("npz_not_a_zip.npz", b"PK\x03\x04 this is not really a zip archive\n")
    error("npz_not_a_zip.npz", "npz_not_a_zip.npz")
    write_bytes("npz_empty_file.npz", b"")
    error("npz_empty_file.npz", "npz_empty_file.npz")
    write_bytes("npz_empty_zip.npz", zip_bytes([]))
    error("npz_empty_zip.npz", ["npz_empty_zip.npz", "weights"])

    entries = [(k + ".npy", npy_bytes(v)) for k, v in TWO_D_NPZ.items()]
    write_bytes("npz_non_npy_entry.npz", zip_bytes(entries + [("readme.txt", b"hello\n")]))
    error("npz_non_npy_entry.npz", "readme.txt")

    # A stored entry with one byte of its data flipped: the CRC-32 no longer matches.
    archive = bytearray(zip_bytes(entries))
    means = npy_bytes(TWO_D_NPZ["means"])
    at = archive.find(means) + len(means) - 3
    archive[at] ^= 0x40
    write_bytes("npz_crc_mismatch.npz", bytes(archive))
    error("npz_crc_mismatch.npz", "means")

    # The means entry's .npy header declares 100 rows; the entry holds 2.
    short = raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100, 2), }", TWO_D_NPZ["means"].tobytes())
    write_npz("npz_entry_header_exceeds_entry.npz", dict(TWO_D_NPZ, means=short))
    error("npz_entry_header_exceeds_entry.npz", "means")

    write_npz("npz_entry_bad_magic.npz", dict(TWO_D_NPZ, covariances=b"\x93NUMPZ" + npy_bytes(TWO_D_NPZ["covariances"])[6:]))
    error("npz_entry_bad_magic.npz", "covariances")

    write_npz("npz_missing_weights.npz", {k: v for k, v in TWO_D_NPZ.items() if k != "weights"})
    error("npz_missing_weights.npz", "weights")
    write_npz("npz_missing_covariance_type.npz", {k: v for k, v in TWO_D_NPZ.items() if k != "covariance_type"})
    error("npz_missing_covariance_type.npz", "covariance_type")
    write_npz("npz_weights_sum.npz", dict(TWO_D_NPZ, weights=np.array([0.3, 0.3])))
    error("npz_weights_sum.npz", "weights")
    write_npz("npz_weights_negative.npz", dict(TWO_D_NPZ, weights=np.array([1.5, -0.5])))
    error("npz_weights_negative.npz", "weights")
    write_npz("npz_weights_nan.npz", dict(TWO_D_NPZ, weights=np.array([np.nan, 0.5])))
    error("npz_weights_nan.npz", "weights")
    write_npz("npz_covariance_not_symmetric.npz",
              dict(TWO_D_NPZ, covariances=np.array([[[1.0, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])))
    error("npz_covariance_not_symmetric.npz", "covariances")
    write_npz("npz_covariance_not_psd.npz",
              dict(TWO_D_NPZ, covariances=np.array([[[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])))
    error("npz_covariance_not_psd.npz", "covariances")
    write_npz("npz_covariance_inf.npz",
              dict(TWO_D_NPZ, covariances=np.array([[[np.inf, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])))
    error("npz_covariance_inf.npz", "covariances")
    write_npz("npz_means_nan.npz", dict(TWO_D_NPZ, means=np.array([[0.0, np.nan], [-1.0, 0.5]])))
    error("npz_means_nan.npz", "means")
    write_npz("npz_means_1d.npz", dict(TWO_D_NPZ, means=np.array([0.0, 1.0])))
    error("npz_means_1d.npz", "means")
    write_npz("npz_covariances_wrong_shape.npz", dict(TWO_D_NPZ, covariances=np.eye(3)[None].repeat(2, axis=0)))
    error("npz_covariances_wrong_shape.npz", "covariances")
    write_npz("npz_means_rows_mismatch.npz", dict(TWO_D_NPZ, means=np.zeros((3, 2))))
    error("npz_means_rows_mismatch.npz", "means")
    write_npz("npz_wrong_dimension.npz", dict(TWO_D_NPZ, means=np.zeros((2, 3)), covariances=np.eye(3)[None].repeat(2, axis=0)))
    error("npz_wrong_dimension.npz", ["points.npy", "dimension", "coordinates"])
    write_npz("npz_covariance_type_number.npz", dict(TWO_D_NPZ, covariance_type=np.array(3.0)))
    error("npz_covariance_type_number.npz", "covariance_type")
    write_npz("npz_shape_huge.npz", dict(TWO_D_NPZ, shape=np.array([1e300, 1.0])))
    error("npz_shape_huge.npz", "shape")

    # A zip bomb: weights.npy is a valid header declaring 2^27 float64 zeros (1 GiB), deflated to
    # about 1 MB. With the default limit it must fail fast (weights do not sum to 1, or too large)
    # rather than inflate for long; under a 100 MB limit it is too large to inflate at all.
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w") as archive:
        info = zipfile.ZipInfo("weights.npy", date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        count = 2 ** 27
        with archive.open(info, "w", force_zip64=True) as entry:
            entry.write(raw_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % count))
            chunk = bytes(1 << 24)
            for _ in range(count * 8 // len(chunk)):
                entry.write(chunk)
        for key in ("means", "covariance_type"):
            small = zipfile.ZipInfo(key + ".npy", date_time=ZIP_DATE)
            small.external_attr = 0o644 << 16
            archive.writestr(small, npy_bytes(np.array([[0.0, 0.0]]) if key == "means" else np.array("spherical")))
    write_bytes("npz_zip_bomb.npz", bomb.getvalue())
    error("npz_zip_bomb.npz", ["weights", "too large"])
    case("npz_zip_bomb_limit_100M", on_model("npz_zip_bomb.npz"), "error", ["too large", "declares"],
         env={"TWEEDIE_MEMORY_LIMIT": "100M"})


# ---------------------------------------------------------------------------------------------
# Malformed .json models (read by `oracle --model` on points.npy, D = 2).

def json_cases():
    valid = json.dumps(TWO_D_MODEL, indent=1)

    def error(name, text, culprit=None):
        write_json(name, text)
        case(name[:-5], on_model(name), "error", culprit or name)

    def replaced(**fields):
        model = dict(TWO_D_MODEL)
        model.update(fields)
        return json.dumps(model)

    error("json_invalid_syntax.json", valid[:-10])
    error("json_trailing_comma.json", valid[:-2] + ",\n}")
    error("json_trailing_garbage.json", valid + "\n{}")
    error("json_single_quotes.json", valid.replace('"', "'"))
    error("json_duplicate_key.json",
          '{"weights": [0.5, 0.5], "weights": [0.25, 0.75], "means": [[0, 1], [-1, 0.5]],'
          ' "covariance_type": "spherical", "covariances": [1, 1]}', "appears twice")
    error("json_number_1e400.json", valid.replace("2.0", "1e400", 1), "covariances[0][0][0]")
    error("json_weight_1e400.json", replaced(weights="@").replace('"@"', "[0.25, 1e400]"), "weights[1]")
    error("json_unknown_field.json", valid[:-2] + ',\n "colour": "blue"\n}', "colour")
    error("json_unknown_noise_field.json", replaced(noise={"type": "identity", "scale": 2}), "scale")
    error("json_weights_string.json", replaced(weights="0.25, 0.75"), "weights")
    error("json_weights_booleans.json", replaced(weights=[True, False]), "weights")
    error("json_means_null_entry.json", replaced(means=[[0.0, None], [-1.0, 0.5]]), "means")
    error("json_covariance_type_number.json", replaced(covariance_type=3), "covariance_type")
    error("json_covariance_type_unknown.json", replaced(covariance_type="fullish"), "fullish")
    error("json_root_array.json", json.dumps([TWO_D_MODEL]))
    error("json_root_number.json", "42")
    error("json_nested_1000.json", replaced(means="@").replace('"@"', "[" * 1000 + "0" + "]" * 1000), ["json_nested_1000.json", "means"])
    error("json_nested_100000.json", replaced(means="@").replace('"@"', "[" * 100000 + "]" * 100000), ["json_nested_100000.json", "means"])
    error("json_name_control_characters.json", replaced(name="@").replace('"@"', '"ring\x01\x1b[31m\x00"'),
          ["json_name_control_characters.json", "name"])
    error("json_invalid_utf8.json", replaced(name="@").replace('"@"', '"\udcff"').encode("utf-8", "surrogateescape"),
          ["json_invalid_utf8.json", "name", "UTF-8"])
    error("json_lone_surrogate_escape.json", replaced(name="@").replace('"@"', '"\\ud800"'),
          ["json_lone_surrogate_escape.json", "name"])
    error("json_empty_file.json", "")
    error("json_whitespace_only.json", "  \n\t\n")
    error("json_shape_huge_integer.json", replaced(shape=[99999999999999999999999999999, 1]), "shape")
    error("json_shape_negative.json", replaced(shape=[-1, -2]), "shape")
    error("json_shape_fraction.json", replaced(shape=[0.5, 4]), "shape")
    error("json_weights_sum.json", replaced(weights=[0.5, 0.6]), "weights")
    error("json_covariance_not_psd.json", replaced(covariances=[[[1, 2], [2, 1]], [[1, 0], [0, 1]]]), "covariances")
    error("json_means_ragged.json", replaced(means=[[0.0, 1.0], [-1.0]]), "means")

    write_json("json_bom.json", b"\xef\xbb\xbf" + valid.encode("utf-8") + b"\n")
    case("json_bom", on_model("json_bom.json"), "ok", **same_as(on_model("model.json")))

    # D = 500: a single spherical Gaussian, for the posterior-covariance memory case below.
    write_json("json_d500.json", json.dumps({"weights": [1.0], "means": [[0.0] * 500],
                                             "covariance_type": "spherical", "covariances": [1.0]}))


# ---------------------------------------------------------------------------------------------
# Options and schedule parameters.

def option_cases():
    noise = ["noise", "--model", "ring8", "--t", "0.5", "--schedule", "vp-linear", "--out", "{out}/a.npy", "--quiet"]
    case("opt_noise_count_1e9", noise + ["--count", "1000000000"], "error", "count", also=["memory limit"])
    case("opt_noise_count_int64_max", noise + ["--count", "9223372036854775807"], "error", "count")
    case("opt_noise_count_overflowing", noise + ["--count", "9223372036854775808"], "error", "count")
    write_bytes("x0_empty_huge_points.npy", raw_npy("{'descr': '<f8', 'fortran_order': False, "
                                                    "'shape': (0, 4294967296, 4294967296), }"))
    case("noise_x0_empty_huge_points", ["noise", "--x0", "{corpus}/x0_empty_huge_points.npy", "--model", "ring8",
                                        "--t", "0.5", "--schedule", "vp-linear", "--out", "{out}/a.npy"],
         "error", "x0_empty_huge_points.npy", also=["too large"])
    case("opt_noise_t_negative", ["noise", "--model", "ring8", "--count", "3", "--t", "-0.5", "--schedule", "vp-linear",
                                  "--out", "{out}/a.npy"], "error", ["t = -0.5", "--t"], also=["outside"])
    case("opt_noise_t_nan", ["noise", "--model", "ring8", "--count", "3", "--t", "nan", "--schedule", "vp-linear",
                             "--out", "{out}/a.npy"], "error", ["t = nan", "--t", "nan"])

    def sample(*extra, schedule="vp-linear", steps="10", count="10", out="{out}/s.npy"):
        return ["sample", "--model", "ring8", "--schedule", schedule, "--sampler", "euler", "--steps", steps,
                "--count", count, "--out", out, "--quiet"] + list(extra)

    case("opt_sample_steps_1e9", sample(steps="1000000000"), "error", "steps")
    case("opt_sample_steps_int64_max", sample(steps="9223372036854775807"), "error", "steps")
    case("opt_sample_count_int64_max", sample(count="9223372036854775807"), "error", "count")
    case("opt_sample_batch_size_int64_max", sample("--batch-size", "9223372036854775807", steps="5", count="2"), "ok",
         outputs=["{out}/s.npy"],
         reference={"args": sample("--batch-size", "1", steps="5", count="2", out="{out}/ref.npy"),
                    "outputs": ["{out}/ref.npy"]},
         compare=[["{out}/s.npy", "{out}/ref.npy"]])
    case("opt_sample_projections_huge", [a for a in sample("--projections", "1000000000000") if a != "--quiet"],
         "error", "projections")
    case("opt_sample_trajectory_too_large",
         sample("--trajectory", "{out}/t.npz", steps="1000000", count="1000"), "error", ["trajectory", "memory limit"])
    case("opt_sample_ddpm_steps_2e9", sample(schedule="ddpm:steps=2000000000"), "error", "steps")
    case("opt_sample_edm_sigma_max_1e160", sample(schedule="edm:sigma_max=1e160"), "error", "sigma_max")
    case("opt_sample_ve_sigma_max_1e200", sample(schedule="ve:sigma_max=1e200"), "error", "sigma_max")
    case("opt_sample_edm_sigma_min_1e-200", sample(schedule="edm:sigma_min=1e-200"), "error", "sigma_min")
    case("opt_sample_schedule_unknown_key", sample(schedule="edm:sigma_maxx=80"), "error", "sigma_maxx")
    case("opt_sample_schedule_bad_value", sample(schedule="edm:sigma_max=lots"), "error", "sigma_max")
    # Sampler parameters so large that the run would overflow: the error must name the option.
    case("opt_sample_pc_snr_1e300", ["sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "pc",
                                     "--snr", "1e300", "--steps", "5", "--count", "3", "--out", "{out}/s.npy", "--quiet"],
         "error", "snr")
    case("opt_sample_heun_s_noise_1e300", ["sample", "--model", "ring8", "--schedule", "edm", "--sampler", "heun",
                                           "--s-churn", "1", "--s-noise", "1e300", "--steps", "5", "--count", "3",
                                           "--out", "{out}/s.npy", "--quiet"], "error", "s-noise")
    case("opt_noise_ddpm_steps_2e9", ["noise", "--model", "ring8", "--count", "3", "--t", "0.5",
                                      "--schedule", "ddpm:steps=2000000000", "--out", "{out}/a.npy"], "error", "steps")

    likelihood = ["likelihood", "--model", "ring8", "--x", "{corpus}/points.npy", "--schedule", "vp-linear",
                  "--out", "{out}/l.npy", "--quiet"]
    case("opt_likelihood_probes_1e12", likelihood + ["--divergence", "hutchinson", "--probes", "1000000000000"],
         "error", "probes")
    case("opt_likelihood_probes_int64_max", likelihood + ["--divergence", "hutchinson", "--probes", "9223372036854775807"],
         "error", "probes")

    def level(*values):
        return ["oracle", "--model", "ring8", "--x", "{corpus}/points.npy", "--out", "{out}/o.npz", "--quiet"] + list(values)

    case("opt_oracle_alpha_sigma_1e308", level("--alpha", "1e308", "--sigma", "1e308"), "error", ["alpha", "sigma"])
    case("opt_oracle_sigma_1e-155", level("--alpha", "1", "--sigma", "1e-155"), "error", "sigma")
    case("opt_oracle_alpha_inf", level("--alpha", "inf", "--sigma", "1"), "error", "alpha")
    case("opt_oracle_sigma_nan", level("--alpha", "1", "--sigma", "nan"), "error", "sigma")
    case("opt_oracle_points_1e308", oracle("ring8", "{corpus}/npy_huge_values.npy"), "error",
         ["npy_huge_values.npy", "point"])

    # Posterior covariances of 5000 points in D = 500: B × D × D doubles = 10 GB.
    case("opt_oracle_covariance_too_large",
         ["oracle", "--model", "{corpus}/json_d500.json", "--x", "{out}/big.npy", "--alpha", "1", "--sigma", "1",
          "--covariance", "--out", "{out}/o.npz", "--quiet"],
         "error", ["covariance", "memory limit"],
         generate=[{"kind": "zeros_npy", "path": "{out}/big.npy", "shape": [5000, 500]}])
    def compare(*extra, steps="5", count="10", out="{out}/c"):
        return ["compare", "--model", "ring8", "--schedule", "vp-linear", "--samplers", "euler", "--steps", steps,
                "--count", count, "--out", out, "--quiet"] + list(extra)

    case("opt_compare_steps_1e9", compare(steps="5,1000000000"), "error", "steps")
    case("opt_compare_count_int64_max", compare(count="9223372036854775807"), "error", "count")
    case("opt_compare_projections_huge", compare("--projections", "1000000000000"), "error", "projections")
    case("opt_compare_out_dev_null", compare(out="/dev/null"), "error", "/dev/null")
    case("opt_compare_shard_int64_max", compare("--shard", "1/9223372036854775807"), "ok",
         outputs=["{out}/c/" + name for name in ("results.csv", "report.md", "error_vs_nfe.svg", "kl_vs_nfe.svg",
                                                 "config.json")])
    case("opt_memory_limit_unreadable", noise + ["--count", "3"], "error", "TWEEDIE_MEMORY_LIMIT",
         env={"TWEEDIE_MEMORY_LIMIT": "lots"})


# ---------------------------------------------------------------------------------------------
# Output paths.

def output_cases():
    case("out_equals_model", oracle("{out}/model.npz", "{corpus}/points.npy", out="{out}/model.npz"), "error",
         ["--out", "model.npz"], setup=[{"copy": "{corpus}/model.npz", "to": "{out}/model.npz"}])
    case("out_equals_points", oracle("ring8", "{out}/x.npz", out="{out}/x.npz"), "error", ["--out", "x.npz"],
         setup=[{"copy": "{corpus}/model.npz", "to": "{out}/x.npz"}])
    case("out_equals_model_convert", ["model", "convert", "{out}/model.json", "--out", "{out}/./model.json"], "error",
         ["--out", "model.json"], setup=[{"copy": "{corpus}/model.json", "to": "{out}/model.json"}])
    case("out_equals_x0",
         ["noise", "--x0", "{out}/x0.npy", "--alpha", "1", "--sigma", "1", "--out", "{out}/x0.npy"], "error",
         ["--out", "x0.npy"], setup=[{"copy": "{corpus}/points.npy", "to": "{out}/x0.npy"}])
    case("out_equals_x0_other_spelling",
         ["noise", "--x0", "{out}/x0.npy", "--alpha", "1", "--sigma", "1", "--out", "{out}//./x0.npy"], "error",
         ["--out", "x0.npy"], setup=[{"copy": "{corpus}/points.npy", "to": "{out}/x0.npy"}])
    case("out_equals_also_x0",
         ["noise", "--model", "ring8", "--count", "3", "--t", "0.5", "--schedule", "vp-linear", "--out", "{out}/a.npy",
          "--also-x0", "{out}/a.npy"], "error", ["--also-x0", "--out", "a.npy"])
    case("out_equals_init",
         ["sample", "--model", "ring8", "--schedule", "vp-linear", "--sampler", "euler", "--steps", "3", "--count", "4",
          "--init", "{out}/z.npy", "--out", "{out}/z.npy", "--quiet"], "error", ["--init", "z.npy"],
         setup=[{"copy": "{corpus}/points.npy", "to": "{out}/z.npy"}])
    case("out_dev_null", oracle("ring8", "{corpus}/points.npy", out="/dev/null"), "error", ["/dev/null", "regular file"])
    case("out_dev_null_convert", ["model", "convert", "ring8", "--out", "/dev/null"], "error", ["/dev/null", "regular file"])
    case("out_is_directory", oracle("ring8", "{corpus}/points.npy", out="{out}/sub.npz"), "error", "sub.npz",
         generate=[{"kind": "directory", "path": "{out}/sub.npz"}])
    case("out_missing_directory", oracle("ring8", "{corpus}/points.npy", out="{out}/missing/o.npz"), "error", "missing")


# ---------------------------------------------------------------------------------------------
# Inverse problems: operators, observations and observation noise.

def observation_cases():
    write_npy("obs_operator.npy", np.array([[1.0, 0.3]], dtype="<f8"))
    write_npy("obs_y.npy", np.array([1.2], dtype="<f8"))
    write_npy("obs_operator_nan.npy", np.array([[np.nan, 0.3]], dtype="<f8"))
    write_npy("obs_operator_3_columns.npy", np.ones((1, 3), dtype="<f8"))
    write_npy("obs_operator_1d.npy", np.array([1.0, 0.3], dtype="<f8"))
    write_npy("obs_operator_empty.npy", np.zeros((0, 2), dtype="<f8"))
    write_npy("obs_y_inf.npy", np.array([np.inf], dtype="<f8"))
    write_npy("obs_y_2.npy", np.array([1.0, 2.0], dtype="<f8"))
    write_npy("obs_y_far.npy", np.array([1e170], dtype="<f8"))
    write_npy("obs_noise_singular.npy", np.zeros((1, 1), dtype="<f8"))
    write_npy("obs_noise_2x2.npy", np.eye(2, dtype="<f8"))
    write_npy("obs_noise_ok.npy", np.array([[0.25]], dtype="<f8"))

    def posterior(operator="obs_operator.npy", y="obs_y.npy", noise=("--noise-std", "0.5"), out="{out}/p.json"):
        return ["posterior", "--model", "ring8", "--operator", "{corpus}/" + operator, "--y", "{corpus}/" + y,
                *noise, "--out", out]

    case("obs_valid_posterior", posterior(), "ok", outputs=["{out}/p.json"],
         reference={"args": posterior(noise=("--noise-covariance", "{corpus}/obs_noise_ok.npy"), out="{out}/q.json"),
                    "outputs": ["{out}/q.json"]})
    case("obs_operator_nan", posterior(operator="obs_operator_nan.npy"), "error", "--operator")
    case("obs_operator_wrong_columns", posterior(operator="obs_operator_3_columns.npy"), "error", "--operator",
         also=["dimension"])
    case("obs_operator_1d", posterior(operator="obs_operator_1d.npy"), "error", "--operator")
    case("obs_operator_empty", posterior(operator="obs_operator_empty.npy"), "error", ["--operator", "--y"])
    case("obs_operator_is_a_model", posterior(operator="model.json"), "error", "--operator")
    case("obs_y_inf", posterior(y="obs_y_inf.npy"), "error", "--y")
    case("obs_y_wrong_length", posterior(y="obs_y_2.npy"), "error", "--y")
    case("obs_y_implausible", posterior(y="obs_y_far.npy", noise=("--noise-std", "1e-3")), "error", "y")
    case("obs_noise_std_nan", posterior(noise=("--noise-std", "nan")), "error", "--noise-std")
    case("obs_noise_std_tiny", posterior(noise=("--noise-std", "1e-200")), "error", "--noise-std")
    case("obs_noise_singular", posterior(noise=("--noise-covariance", "{corpus}/obs_noise_singular.npy")), "error",
         "--noise-covariance")
    case("obs_noise_wrong_shape", posterior(noise=("--noise-covariance", "{corpus}/obs_noise_2x2.npy")), "error",
         "--noise-covariance")
    case("obs_out_overwrites_operator", posterior(out="{corpus}/obs_operator.npy"), "error", "--out")
    case("obs_posterior_npz", posterior(out="{out}/p.npz"), "ok", outputs=["{out}/p.npz"])
    guided = ["sample", "--model", "ring8", "--schedule", "edm", "--sampler", "euler", "--steps", "4", "--count", "5",
              "--quiet", "--operator", "{corpus}/obs_operator.npy", "--y", "{corpus}/obs_y.npy", "--noise-std", "0.5"]
    case("obs_sample_dps_huge_zeta", guided + ["--guidance", "dps", "--zeta", "1e300", "--out", "{out}/s.npy"], "error",
         ["dps", "diverge", "NaN"])
    case("obs_sample_guidance_unknown", guided + ["--guidance", "magic", "--out", "{out}/s.npy"], "error", "--guidance")
    case("obs_sample_exact_guidance", guided + ["--guidance", "exact", "--out", "{out}/s.npy"], "ok",
         outputs=["{out}/s.npy"])


# ---------------------------------------------------------------------------------------------
# Special files made at run time.

def special_cases():
    case("fifo_as_model", oracle("{out}/model.json", "{corpus}/points.npy"), "error", "FIFO",
         generate=[{"kind": "fifo", "path": "{out}/model.json"}])
    case("fifo_as_npz_model", oracle("{out}/model.npz", "{corpus}/points.npy"), "error", "FIFO",
         generate=[{"kind": "fifo", "path": "{out}/model.npz"}])
    case("fifo_as_points", oracle("ring8", "{out}/x.npy"), "error", "FIFO",
         generate=[{"kind": "fifo", "path": "{out}/x.npy"}])
    case("directory_as_points", oracle("ring8", "{out}/dir.npy"), "error", "dir.npy",
         generate=[{"kind": "directory", "path": "{out}/dir.npy"}])
    case("directory_as_model", oracle("{out}/dir.json", "{corpus}/points.npy"), "error", "dir.json",
         generate=[{"kind": "directory", "path": "{out}/dir.json"}])
    case("dev_zero_as_points", oracle("ring8", "/dev/zero"), "error", ["/dev/zero", "zero"])
    case("sparse_npy_1TiB", oracle("ring8", "{out}/sparse.npy"), "error", "too large",
         generate=[{"kind": "sparse_npy", "path": "{out}/sparse.npy", "shape": [2 ** 36, 2]}])


def png_bytes(pixels, corrupt_crc=False):
    """An 8-bit gray PNG of the rows of `pixels` (lists of 0…255), written with zlib alone."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data, bad=False):
        crc = zlib.crc32(kind + data) ^ (1 if bad else 0)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw), corrupt_crc)
            + chunk(b"IEND", b""))


def dataset_cases():
    """`tweedie dataset import` on arrays and folders of PNG images."""
    def folder(name, images):
        os.makedirs(path(name))
        for file, data in images.items():
            with open(os.path.join(path(name), file), "wb") as f:
                f.write(data)
    square = [[0, 64], [128, 255]]
    folder("png_ok", {"a.png": png_bytes(square), "b.png": png_bytes([[255, 0], [0, 255]])})
    folder("png_mixed_sizes", {"a.png": png_bytes(square), "b.png": png_bytes([[1, 2, 3], [4, 5, 6]])})
    folder("png_bad_crc", {"a.png": png_bytes(square), "b.png": png_bytes(square, corrupt_crc=True)})
    folder("png_truncated", {"a.png": png_bytes(square)[:40]})
    folder("png_none", {"readme.txt": b"no images here"})
    write_npz("dataset_two_arrays.npz", {"x": np.zeros((3, 2)), "y": np.ones((3, 2))})
    write_npy("dataset_nan.npy", np.array([[0.0, 1.0], [np.nan, 2.0]]))
    write_npy("dataset_one_dimensional.npy", np.arange(5.0))
    eight_bit = {"weights": np.array([0.5, 0.5]), "means": np.array([[0, 255], [128, 3]], dtype=np.uint8),
                 "covariance_type": np.array("dirac")}
    write_npz("dataset_scale_without_offset.npz", dict(eight_bit, means_scale=np.array(0.5)))
    write_npz("dataset_negative_scale.npz", dict(eight_bit, means_scale=np.array(-1.0), means_offset=np.array(0.0)))
    case("dataset_scale_without_offset", on_model("dataset_scale_without_offset.npz"), "error", "means_offset")
    case("dataset_negative_scale", on_model("dataset_negative_scale.npz"), "error", "means_scale")
    case("dataset_eight_bit_model", on_model("dataset_eight_bit.npz"), "ok", outputs=["{out}/o.npz"])
    write_npz("dataset_eight_bit.npz", dict(eight_bit, means_scale=np.array(1 / 127.5), means_offset=np.array(-1.0)))
    imported = ["dataset", "import"]
    case("dataset_png_ok", imported + ["{corpus}/png_ok", "--out", "{out}/d.npz"], "ok", outputs=["{out}/d.npz"])
    case("dataset_png_mixed_sizes", imported + ["{corpus}/png_mixed_sizes", "--out", "{out}/d.npz"], "error",
         "b.png", also=["all must agree"])
    case("dataset_png_bad_crc", imported + ["{corpus}/png_bad_crc", "--out", "{out}/d.npz"], "error", "b.png",
         also=["CRC"])
    case("dataset_png_truncated", imported + ["{corpus}/png_truncated", "--out", "{out}/d.npz"], "error", "a.png")
    case("dataset_png_none", imported + ["{corpus}/png_none", "--out", "{out}/d.npz"], "error", "png_none",
         also=["no .png"])
    case("dataset_npz_two_arrays", imported + ["{corpus}/dataset_two_arrays.npz", "--out", "{out}/d.npz"], "error",
         "dataset_two_arrays.npz", also=["--key"])
    case("dataset_npz_unknown_key", imported + ["{corpus}/dataset_two_arrays.npz", "--key", "z", "--out",
                                                "{out}/d.npz"], "error", "'z'")
    case("dataset_npz_key", imported + ["{corpus}/dataset_two_arrays.npz", "--key", "y", "--out", "{out}/d.json"],
         "ok", outputs=["{out}/d.json"])
    case("dataset_nan", imported + ["{corpus}/dataset_nan.npy", "--out", "{out}/d.npz"], "error", "dataset_nan.npy",
         also=["item 1"])
    case("dataset_one_dimensional", imported + ["{corpus}/dataset_one_dimensional.npy", "--out", "{out}/d.npz"],
         "error", "dataset_one_dimensional.npy")
    case("dataset_fifo", imported + ["{out}/x.npy", "--out", "{out}/d.npz"], "error", "FIFO",
         generate=[{"kind": "fifo", "path": "{out}/x.npy"}])
    case("dataset_out_equals_input", imported + ["{out}/x.npz", "--out", "{out}/x.npz"], "error", "--out",
         setup=[{"copy": "{corpus}/dataset_two_arrays.npz", "to": "{out}/x.npz"}])
    case("dataset_zero_items_huge_shape", imported + ["{corpus}/x0_empty_huge_points.npy", "--out", "{out}/d.npz"],
         "error", "x0_empty_huge_points.npy")


def molecule_cases():
    """Molecular files (`dataset import`) and zero-centre-of-mass models."""
    def text(name, content):
        write_bytes(name, content.encode("utf-8"))
    water = "3\nwater\nO 0.0 0.0 0.0\nH 0.96 0.0 0.0\nH -0.24 0.93 0.0\n"
    text("mol_ok.xyz", water + water.replace("0.93", "0.95"))
    text("mol_bad_count.xyz", "three\nwater\nO 0 0 0\n")
    text("mol_truncated.xyz", "3\nwater\nO 0 0 0\nH 1 0 0\n")
    text("mol_nan.xyz", "1\nc\nO 0 nan 0\n")
    text("mol_mixed_atoms.xyz", water + "2\nw\nO 0 0 0\nH 1 0 0\n")
    text("mol_reordered.xyz", water + "3\nw\nH 0 0 0\nO 1 0 0\nH 0 1 0\n")
    text("mol_v3000.sdf", "t\n\n\n  0  0  0     0  0            999 V3000\nM  V30 BEGIN CTAB\n")
    text("mol_short_atom.sdf", "t\n\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n    0.0000    0.0000\nM  END\n")
    text("mol_short_record.pdb", "ATOM      1  CA  ALA A   1       1.000   2.000\n")
    text("mol_empty.pdb", "REMARK nothing here\nEND\n")
    text("mol_binary.xyz", "")
    write_bytes("mol_binary.xyz", bytes([0xFF, 0xFE, 0x00, 0x01]))
    imported = ["dataset", "import"]
    case("mol_ok", imported + ["{corpus}/mol_ok.xyz", "--align", "--out", "{out}/m.json"], "ok",
         outputs=["{out}/m.json"])
    for name, culprit, also in [("mol_bad_count.xyz", "line 1", "atom count"),
                                ("mol_truncated.xyz", "line 1", "file ends"),
                                ("mol_nan.xyz", "line 3", "finite number"),
                                ("mol_mixed_atoms.xyz", "line 6", "2 atoms"),
                                ("mol_reordered.xyz", "line 6", "atom 0 is H"),
                                ("mol_v3000.sdf", "line 4", "V3000"),
                                ("mol_short_atom.sdf", "line 5", "columns"),
                                ("mol_short_record.pdb", "line 1", "columns 31"),
                                ("mol_empty.pdb", "mol_empty.pdb", "no atoms"),
                                ("mol_binary.xyz", "mol_binary.xyz", "UTF-8")]:
        case("mol_" + name.replace(".", "_"), imported + ["{corpus}/" + name, "--out", "{out}/m.json"], "error",
             name, also=[culprit, also])
    case("mol_align_on_array", imported + ["{corpus}/dataset_two_arrays.npz", "--key", "x", "--align", "--out",
                                            "{out}/m.json"], "error", "--align")
    # A zero-centre-of-mass model without a point shape, with one atom, and its points of the wrong width.
    zero = {"weights": [1.0], "means": [[0.0] * 6], "covariance_type": "spherical", "covariances": [1.0],
            "zero_centre_of_mass": True}
    write_json("zero_com_no_shape.json", json.dumps(zero))
    write_json("zero_com_one_atom.json", json.dumps(dict(zero, shape=[1, 6])))
    write_json("zero_com_ok.json", json.dumps(dict(zero, shape=[2, 3])))
    write_json("zero_com_not_bool.json", json.dumps(dict(zero, shape=[2, 3], zero_centre_of_mass=1)))
    write_json("zero_com_bad_symbols.json", json.dumps(dict(zero, shape=[2, 3], atom_symbols=["C"])))
    write_npy("zero_com_points_5.npy", np.zeros((2, 5)))
    case("zero_com_no_shape", on_model("zero_com_no_shape.json"), "error", "shape")
    case("zero_com_one_atom", on_model("zero_com_one_atom.json"), "error", "shape", also=["2 atoms"])
    case("zero_com_not_bool", on_model("zero_com_not_bool.json"), "error", "zero_centre_of_mass")
    case("zero_com_bad_symbols", on_model("zero_com_bad_symbols.json"), "error", "atom_symbols")
    case("zero_com_points_wrong_width", oracle("{corpus}/zero_com_ok.json", "{corpus}/zero_com_points_5.npy"),
         "error", "zero_com_points_5.npy", also=["2 atoms × 3"])
    case("zero_com_sample_bad_extension", ["sample", "--model", "{corpus}/zero_com_ok.json", "--sampler", "euler",
                                           "--schedule", "edm", "--steps", "4", "--count", "2", "--out",
                                           "{out}/s.npy", "--xyz", "{out}/s.mol2"], "error", "--xyz")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    valid_inputs()
    npy_cases()
    npz_cases()
    json_cases()
    option_cases()
    output_cases()
    observation_cases()
    special_cases()
    dataset_cases()
    molecule_cases()
    with open(path("cases.json"), "w") as f:
        json.dump(CASES, f, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(root, n)) for root, _, names in os.walk(OUT) for n in names)
    print("wrote %d cases and %d files (%d bytes) to %s" % (len(CASES), len(os.listdir(OUT)), size, os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
