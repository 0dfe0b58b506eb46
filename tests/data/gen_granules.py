#!/usr/bin/env python3
"""Generate synthetic ICESat-2 ATL06-shaped HDF5 granules for zagg's tests.

Run from the repository root:

    .venv-py/bin/python tests/data/gen_granules.py

It (re)writes

* ``tests/data/demo/ATL06_*.h5`` plus ``tests/data/demo/manifest.json``: four
  granules whose ground tracks cross in West Antarctica;
* ``tests/data/fixtures/*.h5`` plus ``tests/data/fixtures/expected.json``:
  small bad-input and edge-case files.

Everything is deterministic: all randomness comes from ``numpy.random``
generators with fixed seeds, no object timestamps are stored
(version-2 object headers carry timestamps like real files, but they are
overwritten with a fixed instant and the header checksums recomputed; files in
the "earliest" format are written with ``track_times=False``) and no
wall-clock time is written anywhere else, so two runs produce byte-identical
files with the pinned h5py/numpy (see ``requirements.txt``).  ``--check`` regenerates into a
temporary directory and compares SHA-256 digests with the committed files.

The data is SYNTHETIC: the geometry (20 m along-track posting, three beam
pairs 3.3 km apart, 90 m within a pair, a 92-degree-inclination orbit) and the
file layout mirror real ATL06 release-006 granules, but the heights come from
an invented smooth surface plus noise.  See tests/data/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

SEED = 20240122  # master seed; every generator derives from it

FILL_F32 = np.float32(3.4028235e38)  # == np.finfo(np.float32).max
R_EARTH = 6_371_008.8  # mean Earth radius, m (positions are on a sphere)
OMEGA_EARTH = 7.2921159e-5  # rad/s
INCLINATION_DEG = 92.0
GROUND_SPEED = 6_900.0  # m/s, ICESat-2 ground-track speed (approx.)
SEG_SPACING = 20.0  # m; ATL06 40 m segments posted every 20 m
DT_SEG = SEG_SPACING / GROUND_SPEED
ATLAS_SDP_GPS_EPOCH = 1198800018.0
SDP_EPOCH = _dt.datetime(2018, 1, 1, tzinfo=_dt.timezone.utc)
CHUNK = 10_000
# Object-header timestamps (access/modification/change/birth) are stored, like
# in real files, but frozen to this instant afterwards (see freeze_object_times)
# so that the output is byte-reproducible.  2024-06-01T00:00:00Z.
FROZEN_UNIX_TIME = 1_717_200_000

BEAMS = ["gt1l", "gt1r", "gt2l", "gt2r", "gt3l", "gt3r"]
# Cross-track offset of each beam from the reference ground track, metres,
# positive = left of the direction of travel.  Pairs 3.3 km apart, the two
# beams of a pair 90 m apart ("l" on the left).
BEAM_OFFSET = {
    "gt1l": 3300.0 + 45.0,
    "gt1r": 3300.0 - 45.0,
    "gt2l": 45.0,
    "gt2r": -45.0,
    "gt3l": -3300.0 + 45.0,
    "gt3r": -3300.0 - 45.0,
}
# Backward spacecraft orientation (sc_orient = 0): the left beams are strong.
BEAM_STRONG = {b: b.endswith("l") for b in BEAMS}
SPOT_NUMBER = {b: str(i + 1) for i, b in enumerate(BEAMS)}

# Demo region anchor (West Antarctica, Thwaites / Pine Island catchments).
DEMO_CENTER = (-76.75, -107.0)

HERE = Path(__file__).resolve().parent
LIBVERS = {
    "earliest": h5py.h5f.LIBVER_EARLIEST,
    "v108": h5py.h5f.LIBVER_V18,
    "latest": h5py.h5f.LIBVER_LATEST,
}

# --------------------------------------------------------------------------
# Geometry on the sphere
# --------------------------------------------------------------------------


def unit_vector(lat_deg, lon_deg):
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    return np.stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1
    )


def to_latlon(v):
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    lat = np.degrees(np.arcsin(np.clip(v[..., 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    return lat, lon


def wrap_lon(lon):
    """Wrap to [-180, 180)."""
    return (lon + 180.0) % 360.0 - 180.0


def local_basis(lat_deg, lon_deg):
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    return north, east


class GreatCircleTrack:
    """A reference ground track: a great circle through an anchor point.

    Position after an along-track distance s (m) from the anchor is
    p(s) = cos(s/R) p0 + sin(s/R) t0; a beam at cross-track offset d (m, left
    positive) follows the parallel small circle cos(d/R) p(s) + sin(d/R) n,
    with n = p0 x t0 the orbit pole.  Earth rotation during the pass is applied
    afterwards as a longitude shift of -omega * (t - t_anchor).
    """

    def __init__(self, anchor_lat, anchor_lon, azimuth_deg):
        self.p0 = unit_vector(anchor_lat, anchor_lon)
        north, east = local_basis(anchor_lat, anchor_lon)
        az = np.radians(azimuth_deg)
        self.t0 = np.cos(az) * north + np.sin(az) * east
        self.n = np.cross(self.p0, self.t0)
        self.azimuth_deg = azimuth_deg

    @classmethod
    def for_orbit(cls, anchor_lat, anchor_lon, ascending, inclination_deg=INCLINATION_DEG):
        """Track through the anchor with the heading a circular orbit of the
        given inclination has there (sin az = cos i / cos lat)."""
        s = np.cos(np.radians(inclination_deg)) / np.cos(np.radians(anchor_lat))
        az = np.degrees(np.arcsin(s))
        if not ascending:
            az = 180.0 - az
        return cls(anchor_lat, anchor_lon, az)

    def inclination_deg(self):
        return float(np.degrees(np.arccos(np.clip(self.n[2], -1, 1))))

    def positions(self, s, offset, dt_from_anchor):
        a = (np.asarray(s, dtype=np.float64) / R_EARTH)[:, None]
        p = np.cos(a) * self.p0 + np.sin(a) * self.t0
        d = offset / R_EARTH
        q = np.cos(d) * p + np.sin(d) * self.n
        lat, lon = to_latlon(q)
        lon = wrap_lon(lon - np.degrees(OMEGA_EARTH * dt_from_anchor))
        return lat, lon

    def segment_id_at_anchor(self):
        """Segment number counted from the ascending node (20 m segments)."""
        z = np.array([0.0, 0.0, 1.0])
        node = np.cross(z, self.n)
        node /= np.linalg.norm(node)
        perp = np.cross(self.n, node)
        u = np.arctan2(perp @ self.p0, node @ self.p0) % (2 * np.pi)
        return int(u * R_EARTH / SEG_SPACING) + 1

    def lan_deg(self):
        z = np.array([0.0, 0.0, 1.0])
        node = np.cross(z, self.n)
        return float(np.degrees(np.arctan2(node[1], node[0])))


def surface_height(lat, lon):
    """Invented smooth ice-sheet surface (m), a deterministic function of
    position so that crossing tracks agree.  Built on south polar
    stereographic coordinates (sphere); ~700-1700 m in the demo region,
    decreasing away from the pole (~2 m/km there, flattening to ~2,650 m near
    the pole) plus undulations of 6-90 m amplitude and 3-40 km wavelength."""
    lat_r = np.radians(lat)
    lon_r = np.radians(lon)
    rho = 2 * R_EARTH * np.tan(np.pi / 4 + lat_r / 2)  # distance-like, m
    x = rho * np.sin(lon_r) / 1000.0
    y = rho * np.cos(lon_r) / 1000.0
    rho0 = 2 * R_EARTH * np.tan(np.pi / 4 + np.radians(DEMO_CENTER[0]) / 2)
    h = (
        1150.0
        - 1600.0 * np.tanh((rho - rho0) / 800e3)
        + 90.0 * np.sin(x / 41.0) * np.cos(y / 57.0)
        + 25.0 * np.sin(x / 9.3 + y / 6.1)
        + 6.0 * np.cos(x / 2.7 - y / 3.9)
    )
    return h


# --------------------------------------------------------------------------
# Synthetic beam data
# --------------------------------------------------------------------------


def delta_time_of(when: _dt.datetime) -> float:
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return (when - SDP_EPOCH).total_seconds()


def utc_string(delta_time: float) -> str:
    t = SDP_EPOCH + _dt.timedelta(seconds=float(delta_time))
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def make_keep_mask(rng, n, strong, trims=True, gaps=True):
    """Which reference segments a beam keeps: random trims at both ends and
    data gaps (clouds, low signal; more on weak beams), scaled to n."""
    keep = np.ones(n, dtype=bool)
    max_trim = min(200, max(1, n // 20))
    max_gap = min(500, max(31, n // 10))
    if trims:
        keep[: int(rng.integers(0, max_trim))] = False
        keep[n - int(rng.integers(0, max_trim)) :] = False
    if gaps:
        n_gaps = int(rng.integers(0, 2)) if strong else int(rng.integers(1, 4))
        for _ in range(n_gaps):
            length = int(rng.integers(min(30, max_gap - 1), max_gap))
            start = int(rng.integers(0, max(1, n - length)))
            keep[start : start + length] = False
    return keep


def beam_arrays(rng, track, k, anchor_index, t_start, offset, strong, defects=True):
    """Arrays for one beam at reference-segment indices k (sorted)."""
    s = (k - anchor_index) * SEG_SPACING
    t = t_start + k * DT_SEG
    t_anchor = t_start + anchor_index * DT_SEG
    lat, lon = track.positions(s, offset, t - t_anchor)
    n = len(k)

    sigma = np.exp(rng.normal(np.log(0.05 if strong else 0.08), 0.5, n))
    sigma = np.clip(sigma, 0.02, 0.5)
    noise_sd = np.clip(0.08 + 1.5 * sigma, 0.1, 0.5)
    h = surface_height(lat, lon) + rng.normal(0.0, 1.0, n) * noise_sd

    quality = np.zeros(n, dtype=np.int8)
    fill_h = np.zeros(n, dtype=bool)
    fill_s = np.zeros(n, dtype=bool)
    if defects and n > 0:
        # ~2 % potential-problem rows: runs (low signal, clouds) + singles.
        target = int(round(0.02 * n))
        while int(quality.sum()) < target * 0.7:
            start = int(rng.integers(0, n))
            quality[start : start + int(rng.integers(2, 40))] = 1
        while int(quality.sum()) < target:
            quality[int(rng.integers(0, n))] = 1
        bad = quality == 1
        # Flagged rows are noisier, with some gross outliers.
        h[bad] += rng.normal(0.0, 3.0, int(bad.sum()))
        outl = bad & (rng.random(n) < 0.15)
        h[outl] += rng.choice([-1.0, 1.0], int(outl.sum())) * rng.uniform(20, 80, int(outl.sum()))
        sigma[bad] = np.clip(sigma[bad] * 3.0, 0.02, 1.5)
        # ~0.5 % fill rows: h_li, h_li_sigma or both; flagged only sometimes.
        n_fill = max(1, int(round(0.005 * n)))
        idx = np.sort(rng.choice(n, n_fill, replace=False))
        kind = rng.integers(0, 3, n_fill)
        fill_h[idx[kind != 1]] = True
        fill_s[idx[kind != 0]] = True
        flag = rng.random(n_fill) < 0.6
        quality[idx[flag]] = 1

    h32 = h.astype(np.float32)
    s32 = sigma.astype(np.float32)
    h32[fill_h] = FILL_F32
    s32[fill_s] = FILL_F32
    seg0 = track.segment_id_at_anchor() - anchor_index
    return {
        "latitude": lat.astype(np.float64),
        "longitude": lon.astype(np.float64),
        "h_li": h32,
        "h_li_sigma": s32,
        "atl06_quality_summary": quality,
        "delta_time": t.astype(np.float64),
        "segment_id": (seg0 + k).astype(np.int32),
    }


def empty_beam():
    return {
        "latitude": np.zeros(0, np.float64),
        "longitude": np.zeros(0, np.float64),
        "h_li": np.zeros(0, np.float32),
        "h_li_sigma": np.zeros(0, np.float32),
        "atl06_quality_summary": np.zeros(0, np.int8),
        "delta_time": np.zeros(0, np.float64),
        "segment_id": np.zeros(0, np.int32),
    }


def make_granule(gid, rgt, cycle, region, ascending, anchor, n_seg, anchor_frac,
                 start, missing=(), empty=(), beams=BEAMS, inclination=INCLINATION_DEG,
                 track=None, trims=True, gaps=True, defects=True):
    """Build the in-memory description of one granule."""
    if track is None:
        track = GreatCircleTrack.for_orbit(anchor[0], anchor[1], ascending, inclination)
    anchor_index = int(round(anchor_frac * (n_seg - 1)))
    t_start = delta_time_of(start)
    data = {}
    for bi, b in enumerate(beams):
        if b in missing:
            continue
        if b in empty:
            data[b] = empty_beam()
            continue
        rng = np.random.default_rng([SEED, gid, bi])
        keep = make_keep_mask(rng, n_seg, BEAM_STRONG[b], trims, gaps)
        k = np.nonzero(keep)[0]
        data[b] = beam_arrays(rng, track, k, anchor_index, t_start, BEAM_OFFSET[b],
                              BEAM_STRONG[b], defects)
    dts = [d["delta_time"] for d in data.values() if len(d["delta_time"])]
    t0 = min(float(x[0]) for x in dts)
    t1 = max(float(x[-1]) for x in dts)
    return {
        "rgt": rgt, "cycle": cycle, "region": region, "ascending": ascending,
        "track": track, "beams": data, "t0": t0, "t1": t1,
    }


def granule_name(g):
    when = SDP_EPOCH + _dt.timedelta(seconds=int(g["t0"]))
    return "ATL06_{}_{:04d}{:02d}{:02d}_006_01.h5".format(
        when.strftime("%Y%m%d%H%M%S"), g["rgt"], g["cycle"], g["region"])


# --------------------------------------------------------------------------
# HDF5 writing
# --------------------------------------------------------------------------


def _str_type(nbytes):
    t = h5py.h5t.C_S1.copy()
    t.set_size(max(1, nbytes))
    t.set_strpad(h5py.h5t.STR_NULLTERM)
    t.set_cset(h5py.h5t.CSET_ASCII)
    return t


def set_str_attr(obj, name, value):
    """Fixed-length, NUL-terminated ASCII scalar attribute (as in real files)."""
    raw = value.encode("ascii")
    tid = _str_type(len(raw) + 1)
    space = h5py.h5s.create(h5py.h5s.SCALAR)
    aid = h5py.h5a.create(obj.id, name.encode("ascii"), tid, space)
    aid.write(np.array(raw, dtype=f"S{len(raw) + 1}"))


def set_attrs(obj, attrs):
    for name, value in attrs.items():
        if isinstance(value, str):
            set_str_attr(obj, name, value)
        else:
            obj.attrs.create(name, value)


TRACK_TIMES = [True]  # toggled per file by write_granule


def create_group(parent, name, attrs=None):
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(TRACK_TIMES[0])
    gid = h5py.h5g.create(parent.id, name.encode("ascii"), gcpl=gcpl)
    grp = h5py.Group(gid)
    if attrs:
        set_attrs(grp, attrs)
    return grp


def compact_dataset(parent, name, value, attrs):
    """Small (1,)-shaped ancillary dataset in COMPACT layout (like real files)."""
    if isinstance(value, str):
        raw = value.encode("ascii")
        arr = np.array([raw], dtype=f"S{len(raw)}")
        tid = _str_type(len(raw))
        tid.set_strpad(h5py.h5t.STR_SPACEPAD)
    else:
        arr = np.array([value])
        arr = arr.astype(arr.dtype.newbyteorder("<"))
        tid = h5py.h5t.py_create(arr.dtype)
    space = h5py.h5s.create_simple((1,))
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    dcpl.set_obj_track_times(TRACK_TIMES[0])
    dsid = h5py.h5d.create(parent.id, name.encode("ascii"), tid, space, dcpl=dcpl)
    dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, arr)
    ds = h5py.Dataset(dsid)
    set_attrs(ds, attrs)
    return ds


ANC_ATTRS = {"contentType": "auxiliaryInformation", "source": "Derived", "units": "1"}

DATASET_ATTRS = {
    "latitude": {
        "contentType": "physicalMeasurement",
        "coordinates": "delta_time longitude",
        "description": "Latitude of segment center, WGS84, North=+,",
        "long_name": "Latitude",
        "source": "section 3.10",
        "standard_name": "latitude",
        "units": "degrees_north",
        "valid_max": np.float64(90.0),
        "valid_min": np.float64(-90.0),
    },
    "longitude": {
        "contentType": "physicalMeasurement",
        "coordinates": "delta_time latitude",
        "description": "Longitude of segment center, , WGS84, East=+",
        "long_name": "Longitude",
        "source": "section 3.10",
        "standard_name": "longitude",
        "units": "degrees_east",
        "valid_max": np.float64(180.0),
        "valid_min": np.float64(-180.0),
    },
    "h_li": {
        "_FillValue": FILL_F32,
        "contentType": "physicalMeasurement",
        "coordinates": "delta_time latitude longitude",
        "description": "Standard land-ice segment height determined by land ice algorithm, "
        "corrected for first-photon bias, representing the median-based height of the "
        "selected segment (SYNTHETIC)",
        "long_name": "Land Ice height",
        "source": "section 4.4",
        "units": "meters",
    },
    "h_li_sigma": {
        "_FillValue": FILL_F32,
        "contentType": "qualityInformation",
        "coordinates": "delta_time latitude longitude",
        "description": "Propagated error due to sampling error and FPB correction from the "
        "land ice algorithm (SYNTHETIC)",
        "long_name": "Expected RMS segment misfit",
        "source": "section 4.4",
        "units": "meters",
    },
    "atl06_quality_summary": {
        "_FillValue": np.int8(127),
        "contentType": "qualityInformation",
        "coordinates": "delta_time latitude longitude",
        "description": "The ATL06_quality_summary parameter indicates the best-quality subset "
        "of all ATL06 data. A zero in this parameter implies that no data-quality tests have "
        "found a problem with the segment, a one implies that some potential problem has been "
        "found.",
        "flag_meanings": "best_quality potential_problem",
        "flag_values": np.array([0, 1], dtype=np.int8),
        "long_name": "ATL06_Quality_Summary",
        "source": "section 4.3",
        "units": "1",
        "valid_max": np.int8(1),
        "valid_min": np.int8(0),
    },
    "delta_time": {
        "contentType": "referenceInformation",
        "coordinates": "latitude longitude",
        "description": "Number of GPS seconds since the ATLAS SDP epoch. The ATLAS Standard "
        "Data Products (SDP) epoch offset is defined within /ancillary_data/atlas_sdp_gps_epoch "
        "as the number of GPS seconds between the GPS epoch (1980-01-06T00:00:00.000000Z UTC) "
        "and the ATLAS SDP epoch.",
        "long_name": "Elapsed GPS seconds",
        "source": "section 4.4",
        "standard_name": "time",
        "units": "seconds since 2018-01-01",
    },
    "segment_id": {
        "_FillValue": np.int32(0),
        "contentType": "referenceInformation",
        "coordinates": "delta_time latitude longitude",
        "description": "Segment number, counting from the equator. Equal to the segment_id "
        "for the second of the two 20m ATL03 segments included in the 40m ATL06 segment",
        "long_name": "Reference Point, m",
        "source": "section 3.1.2.1",
        "units": "1",
    },
}

# Write order: delta_time first (the dimension scale), then the rest.
DATASET_ORDER = ["delta_time", "latitude", "longitude", "h_li", "h_li_sigma",
                 "atl06_quality_summary", "segment_id"]
SHUFFLED = {"atl06_quality_summary", "segment_id"}
FILLS = {"h_li": FILL_F32, "h_li_sigma": FILL_F32,
         "atl06_quality_summary": np.int8(127), "segment_id": np.int32(0)}


def write_granule(path, g, libver="v108", chunk=CHUNK, name_for_attrs=None):
    """Write granule g (from make_granule) to path.

    Beam data dicts may omit datasets or use other dtypes (for bad-input
    fixtures): whatever is present is written, in DATASET_ORDER.
    """
    path = Path(path)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    lv = LIBVERS[libver]
    fapl.set_libver_bounds(lv, h5py.h5f.LIBVER_LATEST if libver == "earliest" else lv)
    # Version-2 object headers (v108, latest) get timestamps like real files,
    # frozen afterwards; version-1 headers (earliest) would keep them in
    # separate modification-time messages, so there they are not stored.
    TRACK_TIMES[0] = libver != "earliest"
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(TRACK_TIMES[0])
    fid = h5py.h5f.create(str(path).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    with h5py.File(fid) as f:
        _write_contents(f, g, chunk, name_for_attrs or path.name)
    if TRACK_TIMES[0]:
        freeze_object_times(path)


def _rot(x, k):
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 hashlittle, as used for HDF5 metadata checksums."""
    m = 0xFFFFFFFF
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & m
    k = 0
    while length > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & m
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & m
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & m
        a = (a - c) & m; a ^= _rot(c, 4); c = (c + b) & m
        b = (b - a) & m; b ^= _rot(a, 6); a = (a + c) & m
        c = (c - b) & m; c ^= _rot(b, 8); b = (b + a) & m
        a = (a - c) & m; a ^= _rot(c, 16); c = (c + b) & m
        b = (b - a) & m; b ^= _rot(a, 19); a = (a + c) & m
        c = (c - b) & m; c ^= _rot(b, 4); b = (b + a) & m
        length -= 12
        k += 12
    if length == 0:
        return c
    tail = data[k:k + length] + bytes(12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & m
    b = (b + int.from_bytes(tail[4:8], "little")) & m
    c = (c + int.from_bytes(tail[8:12], "little")) & m
    c ^= b; c = (c - _rot(b, 14)) & m
    a ^= c; a = (a - _rot(c, 11)) & m
    b ^= a; b = (b - _rot(a, 25)) & m
    c ^= b; c = (c - _rot(b, 16)) & m
    a ^= c; a = (a - _rot(c, 4)) & m
    b ^= a; b = (b - _rot(a, 14)) & m
    c ^= b; c = (c - _rot(b, 24)) & m
    return c


def _ohdr_v2_span(buf, i):
    """(times_offset, checksum_offset) of a version-2 object header at i whose
    checksum verifies, else None (so byte patterns inside compressed data that
    merely look like "OHDR" are never touched)."""
    if buf[i + 4] != 2:
        return None
    flags = buf[i + 5]
    pos = i + 6
    times = None
    if flags & 0x20:
        times = pos
        pos += 16
    if flags & 0x10:
        pos += 4
    width = 1 << (flags & 0x03)
    size = int.from_bytes(buf[pos:pos + width], "little")
    end = pos + width + size
    if end + 4 > len(buf):
        return None
    if lookup3(bytes(buf[i:end])) != int.from_bytes(buf[end:end + 4], "little"):
        return None
    return times, end


def freeze_object_times(path):
    """Overwrite the four timestamps of every version-2 object header with
    FROZEN_UNIX_TIME and recompute the header checksums."""
    buf = bytearray(Path(path).read_bytes())
    stamp = FROZEN_UNIX_TIME.to_bytes(4, "little") * 4
    i = buf.find(b"OHDR")
    n = 0
    while i >= 0:
        span = _ohdr_v2_span(buf, i)
        if span is not None and span[0] is not None:
            times, end = span
            buf[times:times + 16] = stamp
            buf[end:end + 4] = lookup3(bytes(buf[i:end])).to_bytes(4, "little")
            n += 1
        i = buf.find(b"OHDR", i + 4)
    Path(path).write_bytes(bytes(buf))
    return n


def _write_contents(f, g, chunk, fname):
    lats = np.concatenate([d["latitude"] for d in g["beams"].values()] + [np.zeros(0)])
    lons = np.concatenate([d["longitude"] for d in g["beams"].values()] + [np.zeros(0)])
    ok = np.isfinite(lats) & (np.abs(lats) <= 90)
    okl = np.isfinite(lons) & (np.abs(lons) <= 180)
    set_attrs(f, {
        "Conventions": "CF-1.6",
        "short_name": "ATL06",
        "title": "ATLAS/ICESat-2 L3A Land Ice Height (SYNTHETIC TEST DATA)",
        "description": "SYNTHETIC test granule shaped like ATL06 (geolocated land-ice surface "
        "heights). Generated by zagg tests/data/gen_granules.py: invented heights on "
        "realistic ICESat-2 ground-track geometry. Not real ICESat-2 data.",
        "summary": "Synthetic ATL06-shaped granule for testing zagg; not real data.",
        "comment": "SYNTHETIC DATA - not produced by NASA / NSIDC.",
        "history": "Generated by zagg tests/data/gen_granules.py (deterministic, seed %d)" % SEED,
        "license": "Synthetic test data, distributed with zagg under MIT OR Apache-2.0.",
        "level": "3A",
        "processing_level": "3A",
        "granule_type": "ATL06",
        "identifier_product_type": "ATL06",
        "identifier_file_product_type": "ATL06",
        "identifier_product_format_version": "6.0",
        "producer_granule_id": fname,
        "featureType": "trajectory",
        "platform": "ICESat-2 > Ice, Cloud, and land Elevation Satellite-2",
        "instrument": "ATLAS > Advanced Topographic Laser Altimeter System",
        "time_type": "CCSDS UTC-A",
        "time_coverage_start": utc_string(g["t0"]),
        "time_coverage_end": utc_string(g["t1"]),
        "geospatial_lat_min": np.float64(lats[ok].min() if ok.any() else 0.0),
        "geospatial_lat_max": np.float64(lats[ok].max() if ok.any() else 0.0),
        "geospatial_lon_min": np.float64(lons[okl].min() if okl.any() else 0.0),
        "geospatial_lon_max": np.float64(lons[okl].max() if okl.any() else 0.0),
    })
    create_group(f, "METADATA", {"Description": "ISO19115 metadata omitted in synthetic data."})

    anc = create_group(f, "ancillary_data", {
        "Description": "Contains information ancillary to the data product."})
    compact_dataset(anc, "atlas_sdp_gps_epoch", np.float64(ATLAS_SDP_GPS_EPOCH), {
        "contentType": "auxiliaryInformation",
        "description": "Number of GPS seconds between the GPS epoch (1980-01-06T00:00:00.000000Z "
        "UTC) and the ATLAS Standard Data Product (SDP) epoch (2018-01-01:T00.00.00.000000 UTC).",
        "long_name": "ATLAS Epoch Offset",
        "source": "Operations",
        "units": "seconds since 1980-01-06T00:00:00.000000Z"})
    compact_dataset(anc, "start_delta_time", np.float64(g["t0"]), dict(
        ANC_ATTRS, long_name="ATLAS Start Time (Actual)", units="seconds since 2018-01-01"))
    compact_dataset(anc, "end_delta_time", np.float64(g["t1"]), dict(
        ANC_ATTRS, long_name="ATLAS End Time (Actual)", units="seconds since 2018-01-01"))
    compact_dataset(anc, "data_start_utc", utc_string(g["t0"]), dict(
        ANC_ATTRS, long_name="Start UTC Time of Granule (CCSDS-A, Actual)"))
    compact_dataset(anc, "data_end_utc", utc_string(g["t1"]), dict(
        ANC_ATTRS, long_name="End UTC Time of Granule (CCSDS-A, Actual)"))
    for key, val, dtype in (("rgt", g["rgt"], np.int32), ("cycle", g["cycle"], np.int32),
                            ("region", g["region"], np.int32)):
        for pre in ("start", "end"):
            compact_dataset(anc, f"{pre}_{key}", dtype(val), dict(
                ANC_ATTRS, long_name=f"{pre.title()}ing {key}"))
    compact_dataset(anc, "release", "006", dict(ANC_ATTRS, long_name="Release Number"))
    compact_dataset(anc, "version", "01", dict(ANC_ATTRS, long_name="Version"))

    track = g["track"]
    for b in BEAMS:
        if b not in g["beams"]:
            continue
        data = g["beams"][b]
        grp = create_group(f, b, {
            "Description": "Contains subgroups organized by Ground Track (gt1l, gt1r, gt2l, "
            "gt2r, gt3l and gt3r)",
            "atlas_beam_type": "strong" if BEAM_STRONG[b] else "weak",
            "atlas_pce": "pce%d" % (BEAMS.index(b) // 2 + 1),
            "atlas_spot_number": SPOT_NUMBER[b],
            "groundtrack_id": b,
            "sc_orientation": "Backward",
        })
        lis = create_group(grp, "land_ice_segments", {
            "Description": "The land_ice_height group contains the primary set of derived ATL06 "
            "products (SYNTHETIC).",
            "data_rate": "Data within this group are sparse.",
        })
        made = {}
        for name in DATASET_ORDER:
            if name not in data:
                continue
            arr = np.asarray(data[name])
            kw = dict(chunks=(chunk,), maxshape=(None,), compression="gzip",
                      compression_opts=6, shuffle=name in SHUFFLED,
                      track_times=TRACK_TIMES[0])
            attrs = dict(DATASET_ATTRS[name])
            if arr.dtype.kind in "SU":  # wrong-dtype fixture: fixed-length strings
                attrs.pop("_FillValue", None)
            elif name in FILLS and np.dtype(FILLS[name].dtype) == arr.dtype:
                kw["fillvalue"] = FILLS[name]
            else:
                attrs.pop("_FillValue", None)
            ds = lis.create_dataset(name, data=arr, **kw)
            set_attrs(ds, attrs)
            made[name] = ds
        if "delta_time" in made:
            made["delta_time"].make_scale()
            del made["delta_time"].attrs["NAME"]  # real files carry no NAME
            for name, ds in made.items():
                if name != "delta_time":
                    ds.dims[0].attach_scale(made["delta_time"])
        # Real files have these subgroups (which also makes land_ice_segments
        # use dense link storage, > 8 links); they are left empty here.
        for sub in ("bias_correction", "dem", "fit_statistics", "geophysical", "ground_track"):
            create_group(lis, sub, {"Description": "Omitted in synthetic data."})

    orb = create_group(f, "orbit_info", {"Description": "Orbit information."})
    compact_dataset(orb, "rgt", np.int16(g["rgt"]), dict(ANC_ATTRS, long_name="Reference Ground track"))
    compact_dataset(orb, "cycle_number", np.int8(g["cycle"]), dict(ANC_ATTRS, long_name="Cycle Number"))
    compact_dataset(orb, "sc_orient", np.int8(0), dict(ANC_ATTRS, long_name="Spacecraft Orientation"))
    compact_dataset(orb, "lan", np.float64(track.lan_deg()), dict(
        ANC_ATTRS, long_name="Ascending Node Longitude", units="degrees_east"))
    create_group(f, "quality_assessment", {"Description": "Omitted in synthetic data."})


# --------------------------------------------------------------------------
# Statistics (read back from the written files)
# --------------------------------------------------------------------------


def _f(x):
    return None if x is None else float(x)


def beam_stats(lis):
    """Counts for one land_ice_segments group, read with h5py."""
    out = {}
    names = set(lis.keys())
    n = None
    for nm in ("latitude", "longitude", "h_li", "h_li_sigma", "atl06_quality_summary", "delta_time"):
        if nm in names:
            n = lis[nm].shape[0]
            break
    out["rows"] = int(n or 0)
    out["datasets_missing"] = sorted(
        nm for nm in ("latitude", "longitude", "h_li", "h_li_sigma", "atl06_quality_summary",
                      "delta_time") if nm not in names)
    if out["rows"] == 0:
        return out
    ds_h = lis.get("h_li")
    numeric_h = ds_h is not None and ds_h.dtype.kind == "f"
    ds_s = lis.get("h_li_sigma")
    lat = lis["latitude"][...]
    lon = lis["longitude"][...]
    q = lis["atl06_quality_summary"][...] if "atl06_quality_summary" in names else None
    out["num_chunks_h_li"] = int(ds_h.id.get_num_chunks()) if ds_h is not None else None
    out["quality_bad"] = int((q != 0).sum()) if q is not None else None
    pos_ok = np.isfinite(lat) & (np.abs(lat) <= 90) & np.isfinite(lon) & (np.abs(lon) <= 180)
    out["lat_out_of_range"] = int((np.isfinite(lat) & (np.abs(lat) > 90)).sum())
    out["lat_nan"] = int(np.isnan(lat).sum())
    out["lon_nan"] = int(np.isnan(lon).sum())
    out["lon_out_of_range"] = int((np.isfinite(lon) & (np.abs(lon) > 180)).sum())
    out["lat_min"] = _f(lat[pos_ok].min()) if pos_ok.any() else None
    out["lat_max"] = _f(lat[pos_ok].max()) if pos_ok.any() else None
    out["lon_min"] = _f(lon[pos_ok].min()) if pos_ok.any() else None
    out["lon_max"] = _f(lon[pos_ok].max()) if pos_ok.any() else None
    dt = lis["delta_time"][...] if "delta_time" in names else None
    if dt is not None:
        out["delta_time_min"] = _f(dt.min())
        out["delta_time_max"] = _f(dt.max())
    if not numeric_h or ds_s is None or q is None:
        out["h_li_dtype"] = str(ds_h.dtype) if ds_h is not None else None
        return out
    h = ds_h[...]
    s = ds_s[...]

    def cnt(m):
        return int(m.sum())

    out.update({
        "h_li_fill": cnt(h == FILL_F32),
        "h_li_sigma_fill": cnt(s == FILL_F32),
        "h_li_and_sigma_fill": cnt((h == FILL_F32) & (s == FILL_F32)),
        "fill_rows_with_quality_0": cnt(((h == FILL_F32) | (s == FILL_F32)) & (q == 0)),
        "h_li_nan": cnt(np.isnan(h)),
        "h_li_posinf": cnt(np.isposinf(h)),
        "h_li_neginf": cnt(np.isneginf(h)),
        "h_li_sigma_nan": cnt(np.isnan(s)),
        "h_li_sigma_posinf": cnt(np.isposinf(s)),
    })
    val_ok = (q == 0) & np.isfinite(h) & np.isfinite(s) & (h < FILL_F32) & (s < FILL_F32)
    # "usable": the SPEC section 4 filter (quality == 0, finite, below fill).
    out["usable"] = cnt(val_ok)
    # ... and additionally a valid position (|lat| <= 90, |lon| <= 180, finite).
    out["usable_valid_position"] = cnt(val_ok & pos_ok)
    u = val_ok & pos_ok
    if u.any():
        hu = h[u].astype(np.float64)
        out["usable_h_min"] = float(h[u].min())
        out["usable_h_max"] = float(h[u].max())
        out["usable_h_sum_f64"] = float(hu.sum())
    return out


def file_stats(path):
    with h5py.File(path, "r") as f:
        beams = {}
        for b in BEAMS:
            if b in f:
                lis = f[b].get("land_ice_segments")
                beams[b] = beam_stats(lis) if lis is not None else {"rows": 0}
        sb = open(path, "rb").read(9)[8]
    tot = {k: sum(v.get(k) or 0 for v in beams.values())
           for k in ("rows", "quality_bad", "h_li_fill", "h_li_sigma_fill", "usable",
                     "usable_valid_position")}
    return {"superblock_version": int(sb), "beams_present": sorted(beams),
            "beams": beams, "totals": tot}


# --------------------------------------------------------------------------
# Demo set
# --------------------------------------------------------------------------

# Four cycle-22 passes over West Antarctica: two ascending (region 12) and two
# descending (region 10).  Each passes within ~10 km of DEMO_CENTER, so every
# ascending track crosses every descending one in the same area.
DEMO = [
    # gid, rgt, region, ascending, anchor(lat, lon), anchor_frac, start UTC, missing, empty
    (1, 278, 12, True, (-76.75, -107.00), 0.55, _dt.datetime(2024, 1, 22, 4, 11, 37), (), ()),
    (2, 652, 10, False, (-76.70, -106.80), 0.45, _dt.datetime(2024, 2, 16, 14, 2, 9), ("gt3r",), ()),
    (3, 339, 12, True, (-76.80, -107.35), 0.40, _dt.datetime(2024, 1, 26, 3, 51, 18), (), ("gt2l",)),
    (4, 1096, 10, False, (-76.78, -107.20), 0.60, _dt.datetime(2024, 3, 14, 11, 27, 44), (), ()),
]
DEMO_NSEG = 17_000  # reference segments per pass (= 340 km); beams keep ~96-99 %


def build_demo(outdir: Path):
    outdir.mkdir(parents=True, exist_ok=True)
    for p in outdir.glob("*.h5"):
        p.unlink()
    manifest = {"description": "Synthetic ATL06-shaped demo granules (West Antarctica); "
                "generated by tests/data/gen_granules.py", "seed": SEED, "granules": {}}
    for gid, rgt, region, asc, anchor, frac, start, missing, empty in DEMO:
        g = make_granule(gid, rgt, 22, region, asc, anchor, DEMO_NSEG, frac, start,
                         missing=missing, empty=empty)
        name = granule_name(g)
        path = outdir / name
        write_granule(path, g)
        st = file_stats(path)
        st.update({
            "rgt": rgt, "cycle": 22, "region": region,
            "direction": "ascending" if asc else "descending",
            "heading_deg_at_anchor": round(g["track"].azimuth_deg, 3),
            "anchor": list(anchor),
            "missing_beams": list(missing), "empty_beams": list(empty),
            "bytes": path.stat().st_size,
        })
        manifest["granules"][name] = st
    allb = [b for gr in manifest["granules"].values() for b in gr["beams"].values()
            if b.get("lat_min") is not None]
    manifest["bounds"] = {
        "lat_min": min(b["lat_min"] for b in allb), "lat_max": max(b["lat_max"] for b in allb),
        "lon_min": min(b["lon_min"] for b in allb), "lon_max": max(b["lon_max"] for b in allb)}
    manifest["crossovers"] = demo_crossovers(outdir, manifest)
    write_json(outdir / "manifest.json", manifest)
    return manifest


def demo_crossovers(outdir, manifest):
    """Approximate crossing points of the gt2r tracks of each ascending /
    descending pair (closest approach, km)."""
    tracks = {}
    for name in manifest["granules"]:
        with h5py.File(outdir / name, "r") as f:
            lis = f["gt2r/land_ice_segments"]
            tracks[name] = (lis["latitude"][...], lis["longitude"][...])
    out = []
    names = sorted(tracks)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if manifest["granules"][a]["direction"] == manifest["granules"][b]["direction"]:
                continue
            va = unit_vector(*tracks[a])[::10]
            vb = unit_vector(*tracks[b])[::10]
            best = (np.inf, None)
            for j in range(0, len(va), 500):
                d = np.arccos(np.clip(va[j:j + 500] @ vb.T, -1, 1))
                m = np.unravel_index(np.argmin(d), d.shape)
                if d[m] < best[0]:
                    best = (d[m], j + m[0])
            lat, lon = to_latlon(va[best[1]])
            out.append({"a": a, "b": b, "lat": round(float(lat), 4), "lon": round(float(lon), 4),
                        "closest_km": round(float(best[0] * R_EARTH / 1000), 3)})
    return out


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

SMALL_START = _dt.datetime(2024, 2, 2, 6, 15, 3)


def small_granule(gid=100, beams=BEAMS, n_seg=800, defects=True, long_beam=None, long_n=10_100,
                  trims=True, gaps=True):
    """A small 6-beam West-Antarctic granule (default ~600-800 rows per beam).

    If long_beam is given, that beam instead spans long_n reference segments
    (without trims/gaps) so that its datasets have 2 chunks of 10,000."""
    g = make_granule(gid, 594, 22, 12, True, DEMO_CENTER, n_seg, 0.5, SMALL_START,
                     beams=beams, defects=defects, trims=trims, gaps=gaps)
    if long_beam is not None:
        rng = np.random.default_rng([SEED, gid, 99])
        k = np.arange(long_n)
        g["beams"][long_beam] = beam_arrays(
            rng, g["track"], k, long_n // 2, delta_time_of(SMALL_START),
            BEAM_OFFSET[long_beam], BEAM_STRONG[long_beam], defects)
        g["t1"] = max(g["t1"], float(g["beams"][long_beam]["delta_time"][-1]))
    return g


def build_fixtures(outdir: Path):
    outdir.mkdir(parents=True, exist_ok=True)
    for p in outdir.glob("*.h5"):
        p.unlink()
    exp = {}

    def valid(name, g, note, libver="v108", chunk=CHUNK, extra=None):
        path = outdir / name
        write_granule(path, g, libver=libver, chunk=chunk)
        e = {"kind": "valid", "description": note, "libver": libver, "chunk": chunk}
        e.update(file_stats(path))
        if extra:
            e.update(extra)
        e["bytes"] = path.stat().st_size
        exp[name] = e
        return path

    # -- pole_and_antimeridian.h5 ------------------------------------------
    # Reference track: the 92-degree orbit's southernmost point (88.0 S) at
    # 179.0 E, heading west; 3,500 segments (70 km) centred on the vertex.
    # Travelling west, the longitude runs from ~172.8 W through the
    # antimeridian to ~170.9 E, i.e. it wraps from -180 to +180.
    vlat, vlon = -88.0, 179.0
    north, east = local_basis(vlat, vlon)
    trk = GreatCircleTrack(vlat, vlon, 270.0)
    g = make_granule(101, 1203, 22, 11, False, (vlat, vlon), 3_500, 0.5,
                     _dt.datetime(2024, 3, 1, 8, 44, 51), beams=["gt2l", "gt2r"], track=trk)
    # Snap the rows next to the antimeridian to exactly +180.0 and -180.0.
    snapped = {}
    for b in ("gt2l", "gt2r"):
        lon = g["beams"][b]["longitude"]
        jump = int(np.nonzero(np.abs(np.diff(lon)) > 180)[0][0])
        lon[jump] = 180.0 if lon[jump] > 0 else -180.0
        lon[jump + 1] = 180.0 if lon[jump + 1] > 0 else -180.0
        snapped[b] = [jump, jump + 1]
    valid("pole_and_antimeridian.h5", g,
          "2 beams (gt2l, gt2r) of a pass turning at its southernmost latitude (~88.0 S, the "
          "limit of the 92-degree orbit) near 179 E, heading west; longitudes run from ~172.8 W "
          "to ~170.9 E, wrapping from -180 to +180. The two rows on either side of the wrap have longitude exactly -180.0 and "
          "+180.0 (row indices in antimeridian_rows).",
          extra={"antimeridian_rows": snapped, "track_inclination_deg": round(trk.inclination_deg(), 4)})

    # -- base small granule, and files derived from its bytes --------------
    base = small_granule()
    tmp = outdir / "_base.h5"
    write_granule(tmp, base, name_for_attrs="small.h5")
    base_stats = file_stats(tmp)
    raw = tmp.read_bytes()

    cut = int(len(raw) * 0.6)
    (outdir / "truncated.h5").write_bytes(raw[:cut])
    exp["truncated.h5"] = {
        "kind": "invalid", "expect": "error (truncated file)",
        "description": "The standard small 6-beam granule cut to its first 60% of bytes.",
        "original_bytes": len(raw), "bytes": cut, "original": base_stats}

    with h5py.File(tmp, "r") as f:
        info = f["gt2l/land_ice_segments/h_li"].id.get_chunk_info(0)
        off, size = int(info.byte_offset), int(info.size)
    rng = np.random.default_rng([SEED, 200])
    garbage = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    garbage[0:2] = b"\xff\xff"  # invalid zlib header: decompression must fail
    bad = bytearray(raw)
    bad[off:off + size] = garbage
    (outdir / "corrupt_deflate.h5").write_bytes(bytes(bad))
    exp["corrupt_deflate.h5"] = {
        "kind": "invalid", "expect": "error reading gt2l/land_ice_segments/h_li "
        "(deflate fails); every other dataset reads fine",
        "description": "The standard small granule with the only compressed chunk of "
        "gt2l/land_ice_segments/h_li overwritten by random bytes (starting 0xFF 0xFF).",
        "corrupt": {"beam": "gt2l", "dataset": "h_li", "chunk_index": 0,
                    "byte_offset": off, "size": size},
        "bytes": len(bad), "original": base_stats}
    tmp.unlink()

    # -- wrong dtypes -------------------------------------------------------
    g = small_granule(102, beams=["gt1l", "gt1r"])
    for b in g["beams"]:
        g["beams"][b]["h_li"] = np.char.encode(
            np.char.mod("%.3f", g["beams"][b]["h_li"].astype(np.float64)), "ascii").astype("S16")
    valid("wrong_dtype.h5", g,
          "2 beams; h_li is a fixed-length string dataset (S16, e.g. b'1153.274') instead of "
          "float32. Readers must reject it (error naming the dataset), not reinterpret bytes.",
          extra={"kind": "invalid", "expect": "error: h_li has wrong dtype"})
    g = small_granule(103, beams=["gt1l", "gt1r"])
    for b in g["beams"]:
        h = g["beams"][b]["h_li"]
        g["beams"][b]["h_li"] = np.where(h == FILL_F32, 0, np.round(h)).astype(np.int16)
    valid("wrong_dtype_int16.h5", g,
          "2 beams; h_li is int16 (rounded metres) instead of float32.",
          extra={"kind": "invalid", "expect": "error: h_li has wrong dtype"})

    # -- missing dataset ----------------------------------------------------
    g = small_granule(104, beams=["gt1l", "gt1r", "gt2l"])
    del g["beams"]["gt1r"]["h_li_sigma"]
    valid("missing_dataset.h5", g,
          "3 beams; gt1r/land_ice_segments has no h_li_sigma (gt1l and gt2l are complete).",
          extra={"kind": "invalid", "expect": "error (or skip of gt1r) naming "
                 "gt1r/land_ice_segments/h_li_sigma"})

    # -- not HDF5 / empty ---------------------------------------------------
    rng = np.random.default_rng([SEED, 300])
    junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    (outdir / "not_hdf5.h5").write_bytes(junk)
    exp["not_hdf5.h5"] = {"kind": "invalid", "expect": "error (no HDF5 signature)",
                          "description": "4096 random bytes.", "bytes": len(junk)}
    (outdir / "empty_file.h5").write_bytes(b"")
    exp["empty_file.h5"] = {"kind": "invalid", "expect": "error (empty file)",
                            "description": "Zero bytes.", "bytes": 0}

    # -- NaN / inf / out-of-range positions -------------------------------
    g = small_granule(105, beams=["gt1l", "gt2l"], n_seg=1_200, defects=False, trims=False,
                      gaps=False)
    d = g["beams"]["gt1l"]
    n = len(d["h_li"])
    rows = {
        "h_li_nan": [0, 17, 230, 231, 232, 800, 1001],
        "h_li_posinf": [5, 400, 401, 900, n - 1],
        "h_li_neginf": [50, 1150],
        "h_li_sigma_nan": [60, 61, 300, 1100, 1180, n - 2],
        "h_li_sigma_posinf": [700],
        "lat_95": [120, 121],
        "lat_minus_90_5": [500],
        "lon_nan": [600, 1190],
    }
    d["h_li"][rows["h_li_nan"]] = np.nan
    d["h_li"][rows["h_li_posinf"]] = np.inf
    d["h_li"][rows["h_li_neginf"]] = -np.inf
    d["h_li_sigma"][rows["h_li_sigma_nan"]] = np.nan
    d["h_li_sigma"][rows["h_li_sigma_posinf"]] = np.inf
    d["latitude"][rows["lat_95"]] = 95.0
    d["latitude"][rows["lat_minus_90_5"]] = -90.5
    d["longitude"][rows["lon_nan"]] = np.nan
    valid("nan_inf.h5", g,
          "2 beams, no ordinary defects (all quality 0, no fill). gt1l has NaN/+inf/-inf h_li, "
          "NaN/+inf h_li_sigma, latitudes 95.0 and -90.5 and NaN longitudes, all on rows with "
          "quality 0 (row indices in adversarial_rows; categories are disjoint). gt2l is clean. "
          "Position-invalid rows have finite h_li/h_li_sigma: a reader must validate positions "
          "itself (cdshealpix panics on NaN or |lat| > 90).",
          extra={"adversarial_beam": "gt1l", "adversarial_rows": rows})

    # -- all bad quality ----------------------------------------------------
    g = small_granule(106, beams=["gt1l", "gt1r", "gt2l", "gt2r"])
    for d in g["beams"].values():
        d["atl06_quality_summary"][:] = 1
    valid("all_bad_quality.h5", g,
          "4 beams, every row atl06_quality_summary = 1: nothing passes the default filter.")

    # -- libver variants, same content -------------------------------------
    g = small_granule(107, beams=["gt1l", "gt1r"], n_seg=400, long_beam="gt1l")
    valid("libver_latest.h5", g,
          "libver='latest' (superblock 3, object header v2, layout v4 with extensible-array "
          "chunk index, compact link storage). 2 beams; gt1l has 10,100 rows = 2 chunks "
          "(the second holds 100 rows), gt1r ~350 rows. "
          "Same content as libver_earliest.h5.", libver="latest")
    valid("libver_earliest.h5", g,
          "Default libver (superblock 0, object header v1, symbol-table groups, layout v3 "
          "with v1 B-tree chunk index). Same content as libver_latest.h5.", libver="earliest")
    g = small_granule(108, beams=["gt1l"], n_seg=12_000, defects=True)
    valid("libver_latest_smallchunks.h5", g,
          "libver='latest' with chunk size 1000 (not 10000): gt1l has ~12k rows = ~12 chunks, "
          "so the extensible-array index uses data blocks, not only the index block.",
          libver="latest", chunk=1000)

    write_huge_extent(outdir / "huge_extent.h5")
    write_json(outdir / "expected.json", exp)
    return exp


HUGE_ROWS = 1_000_000_000


def write_huge_extent(path):
    """A beam that declares 10^9 rows (8 GB of latitudes) but stores one chunk: a reader
    that trusts the extent allocates gigabytes. Not in expected.json (not a valid granule)."""
    g = small_granule(109, beams=["gt1l"], n_seg=400)
    d = g["beams"]["gt1l"]
    n = len(d["latitude"])
    with h5py.File(path, "w", libver=("v108", "v108"), track_order=False) as f:
        grp = f.create_group("gt1l/land_ice_segments", track_order=False)
        for name in ("latitude", "longitude", "h_li", "h_li_sigma", "atl06_quality_summary",
                     "delta_time"):
            v = d[name]
            ds = grp.create_dataset(name, shape=(HUGE_ROWS,), dtype=v.dtype, chunks=(CHUNK,),
                                    compression="gzip", compression_opts=6, track_times=False)
            ds[:n] = v


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def digests(root: Path):
    out = {}
    for sub in ("demo", "fixtures"):
        for p in sorted((root / sub).glob("*")):
            out[f"{sub}/{p.name}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output root (default: tests/data)")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temp dir and compare digests with --out")
    args = ap.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory() as td:
            td = Path(td)
            build_demo(td / "demo")
            build_fixtures(td / "fixtures")
            a, b = digests(args.out), digests(td)
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            for k in diff:
                print("DIFFERS:", k)
            print("identical" if not diff else f"{len(diff)} file(s) differ")
            return 1 if diff else 0
    m = build_demo(args.out / "demo")
    e = build_fixtures(args.out / "fixtures")
    for name, gr in m["granules"].items():
        print(f"demo/{name}: {gr['bytes']:>9} bytes, rows per beam "
              + ", ".join(f"{b}={v['rows']}" for b, v in gr["beams"].items()))
    for name, fx in e.items():
        print(f"fixtures/{name}: {fx['bytes']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
