#!/usr/bin/env python3
"""Writes the UMM-G fixtures the fake CMR of the catalog tests serves (deterministic).

- atl06_cycle22.json: a recorded-page-shaped file ({"hits", "took", "items"}) of ATL06 granules
  around cycle 22: the first granule of the cycle (just after its fitted start), the last one,
  granules of cycles 21 and 23 and of version 006 (which the query must not select), an Arctic
  one, an antimeridian one, one with two GPolygons and a hole, one whose coarse envelope rings
  the south pole, and two that cannot be used (no footprint, no data URL).
- demo_cycle22.json: the four demo granules of tests/data/demo (release 006, cycle 22), with
  footprints made from their points (convex hull in a gnomonic projection, where great circles
  are straight, grown by 3 km) and a "GET DATA" URL file://{DEMO_DIR}/NAME that the fake
  server fills in, so `zagg run --cycle 22 --access https` can read them.

Footprints of the synthetic granules are ~12.6 km wide swaths along an orbit of inclination
92 degrees. Host names are placeholders (data.example.test). Run from the repository root:
    python tests/data/cmr/make_fixtures.py
"""

import json
import math
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "demo"
R = 6371.0
INC = math.radians(92.0)
PERIOD_S = 91 * 86400 / 1387
OMEGA_E = 2 * math.pi / 86164.0


def unit(lon, lat):
    lo, la = math.radians(lon), math.radians(lat)
    return np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])


def lonlat(v):
    v = v / np.linalg.norm(v)
    return [round(math.degrees(math.atan2(v[1], v[0])), 6), round(math.degrees(math.asin(max(-1, min(1, v[2])))), 6)]


def track(node_lon, u0, u1, step_km=150.0):
    """Ground track points (unit vectors) for arguments of latitude u0..u1 (degrees)."""
    n = max(2, int(abs(math.radians(u1 - u0)) * R / step_km) + 1)
    pts = []
    for k in range(n + 1):
        u = math.radians(u0 + (u1 - u0) * k / n)
        lat = math.asin(math.sin(INC) * math.sin(u))
        lon = math.radians(node_lon) + math.atan2(math.cos(INC) * math.sin(u), math.cos(u))
        lon -= OMEGA_E * PERIOD_S * u / (2 * math.pi)
        pts.append(unit(math.degrees(lon), math.degrees(lat)))
    return pts


def swath(pts, half_km=6.3):
    """Closed counter-clockwise ring of a swath along the track points."""
    left, right = [], []
    for i, p in enumerate(pts):
        a = pts[max(i - 1, 0)]
        b = pts[min(i + 1, len(pts) - 1)]
        d = b - a
        d -= p * np.dot(p, d)
        d /= np.linalg.norm(d)
        side = np.cross(p, d)  # to the left of the direction of travel
        off = half_km / R
        left.append(p * math.cos(off) + side * math.sin(off))
        right.append(p * math.cos(off) - side * math.sin(off))
    ring = [lonlat(v) for v in right] + [lonlat(v) for v in reversed(left)]
    ring.append(ring[0])
    return ring


def points(ring):
    return [{"Longitude": lo, "Latitude": la} for lo, la in ring]


def item(name, begin, end, polygons, concept, urls=("https", "s3"), size=None, version="007"):
    ymd = begin[:10].replace("-", "/")
    rel = []
    if "s3" in urls:
        rel.append({"URL": f"s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/{version}/{ymd}/{name[:-3]}.iso.xml",
                    "Type": "GET DATA VIA DIRECT ACCESS",
                    "Description": "This link provides direct download access via S3 to the granule's metadata."})
    if "https" in urls:
        rel.append({"URL": f"https://data.example.test/ATLAS/ATL06/{version}/{ymd}/{name}",
                    "Type": "GET DATA", "Description": "Download " + name})
    if "s3" in urls:
        rel.append({"URL": f"s3://nsidc-cumulus-prod-protected/ATLAS/ATL06/{version}/{ymd}/{name}",
                    "Type": "GET DATA VIA DIRECT ACCESS",
                    "Description": "This link provides direct download access via S3 to the granule."})
    rel.append({"URL": "https://data.example.test/s3credentials", "Type": "VIEW RELATED INFORMATION",
                "Description": "api endpoint to retrieve temporary credentials valid for same-region direct s3 access"})
    rel.append({"URL": f"https://data.example.test/ATLAS/ATL06/{version}/{ymd}/{name[:-3]}_BRW.default.default1.png",
                "Type": "GET RELATED VISUALIZATION", "MimeType": "image/png"})
    archive = {"Name": name, "SizeUnit": "MB", "Size": 103.0,
               "Checksum": {"Value": "0" * 32, "Algorithm": "MD5"}}
    if size is not None:
        archive = {"Name": name, "SizeInBytes": size, "Size": 92.0, "SizeUnit": "MB",
                   "Checksum": {"Value": "0" * 32, "Algorithm": "MD5"}}
    umm = {
        "GranuleUR": name,
        "CollectionReference": {"ShortName": "ATL06", "Version": version},
        "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": begin, "EndingDateTime": end}},
        "RelatedUrls": rel,
        "DataGranule": {"ArchiveAndDistributionInformation": [archive], "DayNightFlag": "Unspecified",
                        "ProductionDateTime": "2025-01-10T03:04:05.000Z"},
        "Platforms": [{"ShortName": "ICESat-2", "Instruments": [{"ShortName": "ATLAS"}]}],
        "MetadataSpecification": {"Name": "UMM-G", "Version": "1.6.6"},
    }
    if polygons is not None:
        umm["SpatialExtent"] = {"HorizontalSpatialDomain": {"Geometry": {"GPolygons": polygons}}}
    return {"meta": {"concept-type": "granule", "concept-id": f"G{concept}-NSIDC_CPRD", "revision-id": 1,
                     "native-id": name, "provider-id": "NSIDC_CPRD", "format": "application/echo10+xml",
                     "revision-date": "2025-01-10T04:00:00.000Z"},
            "umm": umm}


def poly(ring, holes=()):
    p = {"Boundary": {"Points": points(ring)}}
    if holes:
        p["ExclusiveZone"] = {"Boundaries": [{"Points": points(h)} for h in holes]}
    return p


def u_at(lat, descending):
    u = math.degrees(math.asin(math.sin(math.radians(lat)) / math.sin(INC)))
    return 180 - u if descending else 360 + u if u < 0 else u


def cycle22():
    items = []
    # Region 11: the south polar turn, from 79 S descending to 79 S ascending.
    r11 = (u_at(-79, True), u_at(-79, False))
    # Region 10: 59.5 S to 79 S descending.
    r10 = (u_at(-59.5, True), u_at(-79, True))
    r12 = (u_at(-79, False), u_at(-59.5, False))
    first = track(-95.0, *r11)
    items.append(item("ATL06_20231218212014_00012211_007_01.h5", "2023-12-18T21:20:14.000Z",
                      "2023-12-18T21:25:40.000Z", [poly(swath(first))], 2900000001))
    # An ordinary region-10 descent.
    items.append(item("ATL06_20231219003354_00042211_007_01.h5", "2023-12-19T00:33:54.000Z",
                      "2023-12-19T00:38:20.000Z", [poly(swath(track(-30.0, *r10)))], 2900000002))
    # Two GPolygons (a granule split in two), the first with a hole in its middle.
    t = track(60.0, *r12)
    half = len(t) // 2
    a, b = swath(t[: half + 1]), swath(t[half:])
    mid = t[half // 2]
    hole = [lonlat(mid + 0.0005 * e) for e in (np.array([1, 0, 0]), np.array([0, 1, 0]), np.array([-1, 0, 0]), np.array([0, -1, 0]))]
    hole.append(hole[0])
    items.append(item("ATL06_20231220111111_00222211_007_01.h5", "2023-12-20T11:11:11.000Z",
                      "2023-12-20T11:16:00.000Z", [poly(a, [hole]), poly(b)], 2900000003, size=96468992))
    items.append(item("ATL06_20231221000000_00302211_007_01.h5", "2023-12-21T00:00:00.000Z",
                      "2023-12-21T00:05:00.000Z", None, 2900000004))
    items.append(item("ATL06_20231221010000_00312211_007_01.h5", "2023-12-21T01:00:00.000Z",
                      "2023-12-21T01:05:00.000Z", [poly(swath(track(100.0, *r10)))], 2900000005, urls=()))
    # The end of cycle 21, inside the temporal margin: the name pattern must exclude it.
    items.append(item("ATL06_20231218201500_13872111_007_01.h5", "2023-12-18T20:15:00.000Z",
                      "2023-12-18T20:20:00.000Z", [poly(swath(track(-120.0, *r11)))], 2900000006))
    # Cycle 22 in the Arctic (region 3): in a global query, outside the basins.
    r3 = (u_at(59.5, False), u_at(80, False))
    items.append(item("ATL06_20231230120000_01702203_007_01.h5", "2023-12-30T12:00:00.000Z",
                      "2023-12-30T12:04:00.000Z", [poly(swath(track(10.0, *r3)))], 2900000007))
    # Version 006 of a cycle-22 granule: another collection.
    items.append(item("ATL06_20240102030405_02002210_006_01.h5", "2024-01-02T03:04:05.000Z",
                      "2024-01-02T03:08:00.000Z", [poly(swath(track(-150.0, *r10)))], 2900000008, version="006"))
    # Across the antimeridian over the Ross Ice Shelf (region 12 ascent near 180).
    am = track(-175.0, u_at(-84, False), u_at(-70, False))
    ring = swath(am)
    assert min(p[0] for p in ring) < -170 and max(p[0] for p in ring) > 170, "crosses 180"
    items.append(item("ATL06_20240105101010_02502212_007_01.h5", "2024-01-05T10:10:10.000Z",
                      "2024-01-05T10:14:00.000Z", [poly(ring)], 2900000009))
    # A coarse envelope that rings the south pole (a turn granule's hull): holds the pole.
    pole_ring = [[lo, -87.6] for lo in range(180, -180, -15)] + [[180, -87.6]]
    items.append(item("ATL06_20240110050505_03012211_007_01.h5", "2024-01-10T05:05:05.000Z",
                      "2024-01-10T05:10:00.000Z", [poly(pole_ring)], 2900000010))
    # The last granule of cycle 22, just before the fitted end.
    items.append(item("ATL06_20240318160000_13872211_007_01.h5", "2024-03-18T16:00:00.000Z",
                      "2024-03-18T16:05:00.000Z", [poly(swath(track(45.0, *r11)))], 2900000011))
    # The first granule of cycle 23.
    items.append(item("ATL06_20240318170000_00012311_007_01.h5", "2024-03-18T17:00:00.000Z",
                      "2024-03-18T17:05:00.000Z", [poly(swath(track(-94.0, *r11)))], 2900000012))
    return items


def hull(xy):
    pts = sorted(map(tuple, xy))
    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def demo():
    items = []
    for k, path in enumerate(sorted(DEMO.glob("*.h5"))):
        lats, lons = [], []
        with h5py.File(path, "r") as f:
            for beam in ("gt1l", "gt1r", "gt2l", "gt2r", "gt3l", "gt3r"):
                g = f.get(f"{beam}/land_ice_segments")
                if g is None or "latitude" not in g:
                    continue
                la, lo = g["latitude"][:], g["longitude"][:]
                ok = np.isfinite(la) & np.isfinite(lo)
                lats.append(la[ok])
                lons.append(lo[ok])
        lat, lon = np.concatenate(lats), np.concatenate(lons)
        v = np.stack([np.cos(np.radians(lat)) * np.cos(np.radians(lon)),
                      np.cos(np.radians(lat)) * np.sin(np.radians(lon)), np.sin(np.radians(lat))], axis=1)
        c = v.mean(axis=0)
        c /= np.linalg.norm(c)
        e = np.cross([0, 0, 1.0], c)
        e /= np.linalg.norm(e)
        n = np.cross(c, e)
        # Gnomonic projection about c: great circles are straight lines.
        d = v @ c
        xy = np.stack([(v @ e) / d, (v @ n) / d], axis=1)
        # Snap to a 1 km grid (so near-collinear track points give few hull vertices), then
        # grow by 3 km (more than the snapping moved any point).
        km = 1.0 / R
        h = np.array(hull(np.unique(np.round(xy / km), axis=0) * km))
        grown = []
        r = 3.0 / R
        for x, y in h:
            for a in np.linspace(0, 2 * np.pi, 8, endpoint=False):
                grown.append((x + r * np.cos(a), y + r * np.sin(a)))
        h = hull(np.array(grown))
        ring = [lonlat(c + x * e + y * n) for x, y in h]
        ring.append(ring[0])
        name = path.name
        stamp = name.split("_")[1]
        begin = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}.000Z"
        it = item(name, begin, begin, [poly(ring)], 2800000001 + k, version="006")
        for u in it["umm"]["RelatedUrls"]:
            if u["Type"] == "GET DATA":
                u["URL"] = "file://{DEMO_DIR}/" + name
        items.append(it)
    return items


def write(name, items):
    page = {"hits": len(items), "took": 42, "items": items}
    (HERE / name).write_text(json.dumps(page, indent=1) + "\n")


if __name__ == "__main__":
    write("atl06_cycle22.json", cycle22())
    write("demo_cycle22.json", demo())
