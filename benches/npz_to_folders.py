#!/usr/bin/env python3
"""Writes a MedMNIST-layout .npz archive (grey 8-bit images) out as PNG
files, one folder per split and one sub-folder per class, the way scans
are kept on disk. Python's standard library only.

    python3 benches/npz_to_folders.py breastmnist.npz OUT malignant benign_or_normal

gives OUT/train/malignant/0000.png, ..., OUT/val/..., OUT/test/...; the
class names are given in label order (label 0 first).
"""
import ast
import struct
import sys
import zipfile
import zlib
from pathlib import Path


def read_npy(archive, name):
    raw = archive.read(name + ".npy")
    assert raw[:6] == b"\x93NUMPY", f"{name}: not a .npy array"
    if raw[6] == 1:
        header_len, start = struct.unpack("<H", raw[8:10])[0], 10
    else:
        header_len, start = struct.unpack("<I", raw[8:12])[0], 12
    header = ast.literal_eval(raw[start:start + header_len].decode("latin1"))
    assert header["descr"] in ("|u1", "<u1"), f"{name}: not unsigned bytes"
    assert not header["fortran_order"], f"{name}: Fortran order"
    return header["shape"], raw[start + header_len:]


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_grey_png(path, width, height, pixels):
    rows = b"".join(b"\x00" + pixels[r * width:(r + 1) * width] for r in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
                     + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def main():
    npz, out, classes = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    with zipfile.ZipFile(npz) as archive:
        names = {n[:-4] for n in archive.namelist()}
        for split in ("train", "val", "test"):
            if f"{split}_images" not in names:
                continue
            (count, height, width), images = read_npy(archive, f"{split}_images")
            _, labels = read_npy(archive, f"{split}_labels")
            for i in range(count):
                folder = out / split / classes[labels[i]]
                folder.mkdir(parents=True, exist_ok=True)
                start = i * height * width
                write_grey_png(folder / f"{i:04}.png", width, height,
                               images[start:start + height * width])
            print(f"{split}: {count} images")


main()
