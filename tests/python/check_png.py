#!/usr/bin/env python3
"""Check a `zagg plot` PNG with a PNG decoder zagg did not write (zlib + numpy).

Reads the image and the layout `zagg plot --json` printed, and checks:

* the PNG is 8-bit RGBA, non-interlaced, of the size the layout states;
* the map area holds at least --min-data pixels that are neither the no-data grey
  (232, 236, 240) nor near-grey (graticule, labels), i.e. coloured cells;
* the colour bar column changes colour monotonically in luminance from bottom to top
  for the default maps (viridis, magma, cividis all rise in lightness) and holds at
  least 100 distinct colours.

Exit 0 if every check passes, 1 otherwise.

Example::

    zagg plot store.zarr --var h_mean -o map.png --json > layout.json
    check_png.py --png map.png --layout layout.json
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import zlib

import numpy as np

NO_DATA = (232, 236, 240)


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = header
    if (depth, colour, interlace) != (8, 6, 0):
        raise ValueError(f"expected 8-bit RGBA non-interlaced, got depth {depth} colour {colour} interlace {interlace}")
    raw = zlib.decompress(idat)
    stride = width * 4
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        else:  # 1 (sub), 3 (average), 4 (Paeth): sequential in x
            cur = np.zeros(stride, np.int32)
            for x in range(stride):
                a = cur[x - 4] if x >= 4 else 0
                b = prev[x]
                c = prev[x - 4] if x >= 4 else 0
                if f == 1:
                    pred = a
                elif f == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (line[x] + pred) & 255
        out[y] = cur
        prev = cur
    return out.reshape(height, width, 4)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--png", required=True)
    p.add_argument("--layout", required=True, help="JSON printed by `zagg plot --json`")
    p.add_argument("--min-data", type=int, default=2000, help="coloured pixels required in the map area")
    args = p.parse_args(argv)
    layout = json.load(open(args.layout, encoding="utf-8"))
    img = read_png(args.png)
    failures = []
    if img.shape[:2] != (layout["height"], layout["width"]):
        print(f"FAIL size {img.shape[1]}x{img.shape[0]}, layout says {layout['width']}x{layout['height']}")
        return 1
    if not np.all(img[:, :, 3] == 255):
        failures.append("image is not opaque")
    x0, y0, x1, y1 = (int(round(v)) for v in layout["map"])
    area = img[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1, :3].astype(np.int32)
    spread = area.max(axis=2) - area.min(axis=2)
    no_data = np.all(area == NO_DATA, axis=2)
    coloured = int(np.count_nonzero(~no_data & (spread > 12)))
    if coloured < args.min_data:
        failures.append(f"{coloured} coloured pixels in the map area, expected >= {args.min_data}")
    bx0, by0, bx1, by1 = layout["colorbar"]
    cx = int((bx0 + bx1) / 2)
    column = img[int(by0) + 1 : int(by1) - 1, cx, :3].astype(np.float64)
    luma = column @ np.array([0.299, 0.587, 0.114])
    if not np.all(np.diff(luma[::-1]) >= -1.0):
        failures.append("colour bar luminance does not rise from bottom to top")
    distinct = len({tuple(c) for c in column.astype(np.uint8)})
    if distinct < 100:
        failures.append(f"colour bar has only {distinct} colours")
    for f in failures:
        print(f"FAIL {f}")
    print(f"png {args.png}: {img.shape[1]}x{img.shape[0]}, {coloured} coloured map pixels, "
          f"{distinct} colour-bar colours: " + ("OK" if not failures else "FAIL"))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
