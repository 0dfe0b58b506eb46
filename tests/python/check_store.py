#!/usr/bin/env python3
"""Independent check of a zagg Zarr v3 store against the raw ATL06 HDF5 granules.

The statistics of every occupied HEALPix leaf cell are recomputed from scratch
with h5py + numpy + healpy (no code shared with the Rust implementation) and
compared with what the store holds.  The definitions follow SPEC.md sections
2 (grid, morton ids), 3 (ATL06 input), 4 (per-cell statistics) and 5 (store
layout):

* each granule, each beam ``gt1l gt1r gt2l gt2r gt3l gt3r`` (missing groups and
  zero-length datasets are skipped): ``/{beam}/land_ice_segments/{latitude,
  longitude, h_li, h_li_sigma, atl06_quality_summary}``;
* points with non-finite latitude/longitude or ``|lat| > 90`` are dropped;
* points are hashed to HEALPix *nested* cells at the leaf order with
  ``healpy.ang2pix``; with ``--ellipsoid WGS84`` the geodetic latitude is first
  converted to the authalic latitude, with ``--ellipsoid sphere`` it is used as
  given.  By default a longitude that is exactly a multiple of 90 deg with its
  sign bit set (-0.0, -90, -180, ...) is put in the cell west of that meridian,
  as the cdshealpix crate named by the SPEC does (healpy puts it east);
  ``--hash-convention healpy`` turns that off;
* a row is valid when its quality flag is in the keep set, ``h_li`` and
  ``h_li_sigma`` are finite and differ from their ``_FillValue`` attribute, and
  ``h_li_sigma > 0``;
* per cell (h = h_li, s = h_li_sigma, all in float64 from the float32 inputs):
  count, min, max, weighted mean sum(h/s^2)/sum(1/s^2), sigma
  1/sqrt(sum(1/s^2)), population variance, and the 25/50/75 % quantiles with
  numpy's default (linear, Hyndman-Fan type 7) method.

Comparison rules (store values are float32):

* ``count``, ``h_min``, ``h_max``, ``h_q25``, ``h_q50``, ``h_q75`` must be
  exactly equal to ``np.float32(expected)``;
* ``h_mean`` within 1e-6 relative to max(|mean|, max|h|) of the cell,
  ``h_sigma`` within 1e-6 relative;
* ``h_variance`` within 1e-4 relative plus an absolute floor (see
  ``VARIANCE_ABS_FLOOR``);
* every recomputed occupied cell must be in the store, the store must not hold
  any other cell with ``count > 0``, cells with ``count == 0`` must be NaN in
  every float variable;
* ``cell_ids`` of a written chunk must be the nested ids of that chunk and
  ``morton`` their morton codes (encoded here independently);
* pyramid orders (``--orders``, default: those the root attribute
  ``zagg.orders`` lists): the same statistics are recomputed at each coarser
  order k from the raw points (cell = leaf cell >> 2*(leaf - k)) and compared
  with group ``k`` under the same rules (a coarse chunk is 4**(k - parent)
  cells, still one per shard);
* chunk ``c`` of every array must be written exactly when shard ``c`` (the
  parent cell at ``--parent-order``) has at least one valid point
  (``--shards`` limits the comparison to given shards, e.g. for an AOI run).

Disagreements in cells holding a point within 1e-7 deg of a cell edge are
tagged "near-boundary" (a different, correct hash could move such a point);
they still count as failures.

Store values are read through zarr-python with one slice per chunk, after
listing the chunk files under ``<store>/<order>/<var>/c/``; the full-sphere
arrays are never loaded.

Exit status: 0 when the store matches, 1 on any disagreement, 2 on a usage or
input error.  ``--self-test`` checks the statistics, morton codes and hashing
against the SPEC golden values and cdshealpix-produced ids, and exits.

Example::

    check_store.py --store out.zarr \\
        --granules data/atl06-real/processed_ATL06_*.h5 --ellipsoid WGS84
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field

import h5py
import healpy
import numpy as np
import zarr

BEAMS = ("gt1l", "gt1r", "gt2l", "gt2r", "gt3l", "gt3r")
DATASETS = ("latitude", "longitude", "h_li", "h_li_sigma", "atl06_quality_summary")
# _FillValue of h_li / h_li_sigma in real ATL06 files; used when the attribute is absent.
DEFAULT_FILL = np.float32(3.4028235e38)

WGS84_A = 6378137.0
WGS84_INV_F = 298.257223563

FLOAT_VARS = ("h_min", "h_max", "h_mean", "h_sigma", "h_variance", "h_q25", "h_q50", "h_q75")
ARRAYS = ("cell_ids", "morton", "count") + FLOAT_VARS
EXACT_VARS = ("h_min", "h_max", "h_q25", "h_q50", "h_q75")
QUANTILES = {"h_q25": 0.25, "h_q50": 0.5, "h_q75": 0.75}

MEAN_RTOL = 1e-6
SIGMA_RTOL = 1e-6
VARIANCE_RTOL = 1e-4
# Absolute floor for the variance: 1e-12 * mean(h^2) of the cell.  The variance
# of ice heights of a cell can be exactly 0 (one observation) or tiny compared
# with h^2 (e.g. h ~ 3000 m, h^2 ~ 9e6 m^2).  A correct float64 implementation
# that uses the one-pass formula E[h^2] - E[h]^2 (or Welford) loses about
# n * 2^-52 * mean(h^2) to cancellation; 1e-12 * mean(h^2) (9e-6 m^2 at 3000 m,
# i.e. a standard deviation of 3 mm) covers that for n up to a few thousand,
# while a float32 accumulation (error ~1e-7 * mean(h^2)) or any real error is
# still caught.
VARIANCE_ABS_FLOOR = 1e-12
# Points closer than this (degrees) to a cell edge are reported as
# "near-boundary": a different but correct hash implementation (cdshealpix,
# another authalic-latitude formula) may put them in the neighbouring cell.
# They are only used to annotate disagreements, never to excuse them.
BOUNDARY_EPS_DEG = 1e-7

MAX_REPORTED = 20


class InputError(Exception):
    """A granule or the store cannot be read as specified (exit status 2)."""


# --------------------------------------------------------------------------
# Grid: authalic latitude, hashing, morton codes
# --------------------------------------------------------------------------


def authalic_latitude(lat_rad: np.ndarray) -> np.ndarray:
    """Geodetic -> authalic latitude on WGS84 (radians in, radians out).

    beta = asin(q(phi) / q_p) with
    q(phi) = (1 - e^2) * (sin phi / (1 - e^2 sin^2 phi)
                          - 1/(2e) * ln((1 - e sin phi) / (1 + e sin phi)))
    and q_p = q(90 deg).  ln((1 - x)/(1 + x)) is evaluated as -2 atanh(x)
    (the same quantity, with better rounding).
    """
    f = 1.0 / WGS84_INV_F
    e2 = f * (2.0 - f)
    e = math.sqrt(e2)

    def q(sin_phi):
        return (1.0 - e2) * (sin_phi / (1.0 - e2 * sin_phi * sin_phi) + np.arctanh(e * sin_phi) / e)

    q_p = q(np.float64(1.0))
    ratio = np.clip(q(np.sin(lat_rad)) / q_p, -1.0, 1.0)
    return np.arcsin(ratio)


def hash_cells(
    lat_deg: np.ndarray, lon_deg: np.ndarray, order: int, ellipsoid: str, convention: str = "cdshealpix"
) -> np.ndarray:
    """HEALPix nested ids (uint64) at `order` of valid lat/lon in degrees.

    Hashing is healpy's.  With ``convention="cdshealpix"`` (the default; the
    SPEC names the cdshealpix crate as the hasher) one measure-zero difference
    is reproduced: cdshealpix reads the sign of the longitude, so a point
    exactly on a base-cell-edge meridian (a multiple of 90 deg) written with a
    negative sign (-0.0, -90.0, -180.0, ...) falls in the cell *west* of that
    meridian, where healpy (which wraps phi into [0, 2 pi)) puts it east.  Such
    longitudes are moved one ulp west before hashing.  (Probed with
    cdshealpix 0.10.1 on 5807 latitudes per meridian: this leaves only exact
    cell-vertex inputs different.)
    """
    lon_deg = np.asarray(lon_deg, dtype=np.float64)
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    phi = np.radians(lon_deg)
    if ellipsoid == "WGS84":
        lat = authalic_latitude(lat)
    if convention == "cdshealpix":
        edge = np.signbit(lon_deg) & (np.mod(lon_deg, 90.0) == 0)
        if np.any(edge):
            wrapped = np.mod(phi[edge], 2.0 * np.pi)
            wrapped[wrapped == 0] = 2.0 * np.pi
            phi = phi.copy()
            phi[edge] = np.nextafter(wrapped, -np.inf)
    theta = np.pi / 2.0 - lat
    ids = healpy.ang2pix(2**order, theta, phi, nest=True)
    return np.asarray(ids, dtype=np.uint64)


def morton_encode(cell_ids: np.ndarray, order: int) -> np.ndarray:
    """Decimal morton code (SPEC section 2) of nested ids at `order` (int64).

    Leading digit: base cell 0..5 -> 1..6 (positive), 6..11 -> 1..6 (negated);
    then one digit per level, most significant first, each quadrant + 1.
    """
    if order > 18:
        raise ValueError("morton codes need order <= 18")
    ids = np.asarray(cell_ids, dtype=np.uint64)
    base = (ids >> np.uint64(2 * order)).astype(np.int64)
    if np.any(base > 11):
        raise ValueError("cell id out of range for this order")
    value = np.where(base < 6, base + 1, base - 5).astype(np.int64)
    for level in range(1, order + 1):
        shift = np.uint64(2 * (order - level))
        digit = ((ids >> shift) & np.uint64(3)).astype(np.int64) + 1
        value = value * 10 + digit
    return np.where(base < 6, value, -value)


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------


@dataclass
class InputStats:
    granules: int = 0
    beams_read: int = 0
    beams_skipped: int = 0
    points: int = 0
    dropped_geo: int = 0
    dropped_quality: int = 0
    dropped_value: int = 0
    valid: int = 0
    near_boundary: int = 0
    shards_all_invalid: set = field(default_factory=set)


def _fill_value(ds: h5py.Dataset) -> np.float32:
    fill = ds.attrs.get("_FillValue")
    if fill is None:
        return DEFAULT_FILL
    return np.float32(np.asarray(fill).reshape(-1)[0])


def read_granules(paths, leaf_order, parent_order, ellipsoid, keep_quality, stats: InputStats, convention="cdshealpix"):
    """Read every beam of every granule; return (cells, h, s, near_boundary) of valid rows."""
    cells_parts, h_parts, s_parts, nb_parts = [], [], [], []
    parent_shift = np.uint64(2 * (leaf_order - parent_order))
    keep = np.asarray(sorted(keep_quality), dtype=np.int64)
    for path in paths:
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"{path}: cannot open as HDF5: {exc}") from exc
        with f:
            stats.granules += 1
            for beam in BEAMS:
                grp_path = f"{beam}/land_ice_segments"
                if grp_path not in f:
                    stats.beams_skipped += 1
                    continue
                grp = f[grp_path]
                missing = [d for d in DATASETS if d not in grp]
                if missing:
                    raise InputError(f"{path}:/{grp_path}: missing datasets {missing}")
                lengths = {d: grp[d].shape for d in DATASETS}
                if any(len(shape) != 1 for shape in lengths.values()):
                    raise InputError(f"{path}:/{grp_path}: datasets are not 1-D: {lengths}")
                sizes = {shape[0] for shape in lengths.values()}
                if len(sizes) != 1:
                    raise InputError(f"{path}:/{grp_path}: dataset lengths differ: {lengths}")
                if sizes == {0}:
                    stats.beams_skipped += 1
                    continue
                stats.beams_read += 1

                lat = grp["latitude"][()].astype(np.float64)
                lon = grp["longitude"][()].astype(np.float64)
                h = grp["h_li"][()].astype(np.float32)
                s = grp["h_li_sigma"][()].astype(np.float32)
                quality = grp["atl06_quality_summary"][()].astype(np.int64)
                h_fill = _fill_value(grp["h_li"])
                s_fill = _fill_value(grp["h_li_sigma"])

                stats.points += lat.size
                geo_ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0)
                stats.dropped_geo += int(np.count_nonzero(~geo_ok))
                lat, lon, h, s, quality = lat[geo_ok], lon[geo_ok], h[geo_ok], s[geo_ok], quality[geo_ok]

                cells = hash_cells(lat, lon, leaf_order, ellipsoid, convention)
                q_ok = np.isin(quality, keep)
                v_ok = (
                    np.isfinite(h) & (h != h_fill) & np.isfinite(s) & (s != s_fill) & (s > 0)
                )
                stats.dropped_quality += int(np.count_nonzero(~q_ok))
                stats.dropped_value += int(np.count_nonzero(q_ok & ~v_ok))
                ok = q_ok & v_ok
                # Shards that receive points but no valid one (must not be written).
                stats.shards_all_invalid.update(np.unique(cells[~ok] >> parent_shift).tolist())

                cells, lat, lon = cells[ok], lat[ok], lon[ok]
                cells_parts.append(cells)
                h_parts.append(h[ok])
                s_parts.append(s[ok])
                nb_parts.append(_near_boundary(lat, lon, cells, leaf_order, ellipsoid, convention))

    if cells_parts:
        cells = np.concatenate(cells_parts)
        h = np.concatenate(h_parts)
        s = np.concatenate(s_parts)
        nb = np.concatenate(nb_parts)
    else:
        cells = np.zeros(0, np.uint64)
        h = np.zeros(0, np.float32)
        s = np.zeros(0, np.float32)
        nb = np.zeros(0, bool)
    stats.valid = int(cells.size)
    stats.near_boundary = int(np.count_nonzero(nb))
    valid_shards = set(np.unique(cells >> parent_shift).tolist())
    stats.shards_all_invalid -= valid_shards
    return cells, h, s, nb


def _near_boundary(lat, lon, cells, order, ellipsoid, convention):
    """True for points whose cell changes when moved by BOUNDARY_EPS_DEG."""
    near = np.zeros(cells.size, bool)
    for dlat, dlon in ((BOUNDARY_EPS_DEG, 0), (-BOUNDARY_EPS_DEG, 0), (0, BOUNDARY_EPS_DEG), (0, -BOUNDARY_EPS_DEG)):
        moved = hash_cells(np.clip(lat + dlat, -90.0, 90.0), lon + dlon, order, ellipsoid, convention)
        near |= moved != cells
    return near


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------


def _lerp(a, b, t):
    """numpy's quantile interpolation (numpy.lib._function_base_impl._lerp)."""
    diff = b - a
    out = a + diff * t
    upper = t >= 0.5
    out[upper] = (b - diff * (1.0 - t))[upper]
    return out


def aggregate(cells: np.ndarray, h32: np.ndarray, s32: np.ndarray) -> dict:
    """Per-cell statistics in float64 (vectorised: one sort, reduceat)."""
    order = np.lexsort((h32, cells))  # by cell, then by height
    cells = cells[order]
    h = h32[order].astype(np.float64)
    s = s32[order].astype(np.float64)
    uniq, start, count = np.unique(cells, return_index=True, return_counts=True)
    out = {"cell": uniq, "count": count.astype(np.int64)}
    if uniq.size == 0:
        for var in FLOAT_VARS:
            out[var] = np.zeros(0)
        out["h2_mean"] = np.zeros(0)
        out["h_absmax"] = np.zeros(0)
        return out

    last = start + count - 1
    w = 1.0 / (s * s)
    sum_w = np.add.reduceat(w, start)
    out["h_min"] = h[start]
    out["h_max"] = h[last]
    out["h_mean"] = np.add.reduceat(h * w, start) / sum_w
    out["h_sigma"] = 1.0 / np.sqrt(sum_w)
    mean = np.add.reduceat(h, start) / count
    dev = h - np.repeat(mean, count)
    out["h_variance"] = np.add.reduceat(dev * dev, start) / count
    out["h2_mean"] = np.add.reduceat(h * h, start) / count
    out["h_absmax"] = np.maximum(np.abs(out["h_min"]), np.abs(out["h_max"]))
    for var, q in QUANTILES.items():
        virtual = (count - 1) * q  # numpy 'linear': (n - 1) * q
        lo = np.floor(virtual)
        gamma = virtual - lo
        lo = lo.astype(np.int64)
        hi = np.minimum(lo + 1, count - 1)
        out[var] = _lerp(h[start + lo], h[start + hi], gamma)

    _verify_quantiles(out, h, start, count)
    return out


def _verify_quantiles(out, h, start, count, max_cells=20000):
    """Cross-check the vectorised quantiles with np.quantile on (a sample of) cells."""
    n = count.size
    idx = np.arange(n) if n <= max_cells else np.linspace(0, n - 1, max_cells).astype(np.int64)
    for i in idx:
        values = h[start[i] : start[i] + count[i]]
        ref = np.quantile(values, list(QUANTILES.values()))
        got = [out[var][i] for var in QUANTILES]
        if not np.array_equal(ref, got):
            raise RuntimeError(f"internal error: vectorised quantiles {got} != np.quantile {ref}")


# --------------------------------------------------------------------------
# Store access
# --------------------------------------------------------------------------


def written_chunks(store: str, group: str, var: str) -> set:
    """Chunk indices written for `var` (files under <store>/<group>/<var>/c/)."""
    cdir = os.path.join(store, group, var, "c")
    if not os.path.isdir(cdir):
        return set()
    out = set()
    for name in os.listdir(cdir):
        if not name.isdigit():
            raise InputError(f"unexpected chunk key {group}/{var}/c/{name} (expected 1-D keys c/<index>)")
        out.add(int(name))
    return out


def store_ellipsoid(attrs) -> str | None:
    """'WGS84' / 'sphere' / description of the dggs ellipsoid attribute."""
    dggs = attrs.get("dggs")
    if not isinstance(dggs, dict) or "ellipsoid" not in dggs:
        return None
    ell = dggs["ellipsoid"]
    if isinstance(ell, str):
        return "sphere" if ell.lower() == "sphere" else ell
    if isinstance(ell, dict):
        if "semimajor_axis" in ell:
            if ell.get("semimajor_axis") == WGS84_A and ell.get("inverse_flattening") == WGS84_INV_F:
                return "WGS84"
            return json.dumps(ell)
        if "radius" in ell:
            return "sphere"
    return json.dumps(ell)


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------


@dataclass
class Report:
    items: list = field(default_factory=list)
    per_var: dict = field(default_factory=dict)

    def add(self, where, var, expected, got, note=""):
        self.per_var[var] = self.per_var.get(var, 0) + 1
        if len(self.items) < MAX_REPORTED:
            self.items.append((where, var, expected, got, note))

    @property
    def total(self):
        return sum(self.per_var.values())


def compare_shard(shard, arrays, written, expected, nb_cells, leaf_order, chunk, report: Report):
    """Compare one chunk (= shard) of every array with the recomputation."""
    lo = shard * chunk
    ids = np.arange(lo, lo + chunk, dtype=np.uint64)
    has_data = expected is not None

    for var in ARRAYS:
        if (shard in written[var]) != has_data:
            report.add(
                f"shard {shard}",
                f"{var} chunk",
                "written" if has_data else "not written",
                "written" if shard in written[var] else "not written",
            )

    got = {var: arrays[var][lo : lo + chunk] for var in ARRAYS}

    def note(cell):
        return "cell has near-boundary points" if cell in nb_cells else ""

    bad = np.flatnonzero(got["cell_ids"] != ids)
    for i in bad:
        report.add(int(ids[i]), "cell_ids", int(ids[i]), int(got["cell_ids"][i]))
    exp_m = morton_encode(ids, leaf_order)
    for i in np.flatnonzero(got["morton"] != exp_m):
        report.add(int(ids[i]), "morton", int(exp_m[i]), int(got["morton"][i]))

    exp_count = np.zeros(chunk, np.int64)
    exp_vals = {var: np.full(chunk, np.nan) for var in FLOAT_VARS}
    h2_mean = np.zeros(chunk)
    absmax = np.zeros(chunk)
    if has_data:
        pos = (expected["cell"] - np.uint64(lo)).astype(np.int64)
        exp_count[pos] = expected["count"]
        for var in FLOAT_VARS:
            exp_vals[var][pos] = expected[var]
        h2_mean[pos] = expected["h2_mean"]
        absmax[pos] = expected["h_absmax"]

    for i in np.flatnonzero(got["count"].astype(np.int64) != exp_count):
        report.add(int(ids[i]), "count", int(exp_count[i]), int(got["count"][i]), note(int(ids[i])))

    occupied = exp_count > 0
    for var in FLOAT_VARS:
        g = got[var].astype(np.float32)
        e = exp_vals[var]
        g64 = g.astype(np.float64)
        ok = np.zeros(chunk, bool)
        # Empty cells: NaN.
        ok[~occupied] = np.isnan(g[~occupied])
        if var in EXACT_VARS:
            ok[occupied] = g[occupied] == e[occupied].astype(np.float32)
        elif var == "h_mean":
            # Relative to max(|mean|, max|h|): a cell with heights of both signs
            # can have a mean near 0 whose float64 rounding scales with max|h|.
            tol = MEAN_RTOL * np.maximum(np.abs(e), absmax)
            ok[occupied] = np.abs(g64 - e)[occupied] <= tol[occupied]
        elif var == "h_sigma":
            ok[occupied] = np.abs(g64 - e)[occupied] <= SIGMA_RTOL * np.abs(e[occupied])
        elif var == "h_variance":
            tol = VARIANCE_RTOL * np.abs(e) + VARIANCE_ABS_FLOOR * h2_mean
            ok[occupied] = np.abs(g64 - e)[occupied] <= tol[occupied]
        for i in np.flatnonzero(~ok):
            cell = int(ids[i])
            expected_repr = "NaN" if not occupied[i] else f"{str(np.float32(e[i]))} (f64 {float(e[i])!r})"
            report.add(cell, var, expected_repr, str(g[i]), note(cell))

    # Internal consistency of the store itself (independent of the recomputation).
    store_count = got["count"].astype(np.int64)
    for var in FLOAT_VARS:
        g = got[var]
        bad = np.flatnonzero(((store_count == 0) & ~np.isnan(g)) | ((store_count > 0) & ~np.isfinite(g)))
        for i in bad:
            report.add(
                int(ids[i]),
                f"{var} vs store count",
                "NaN" if store_count[i] == 0 else "finite",
                f"{str(g[i])} with count {int(store_count[i])}",
            )


def store_orders(store: str):
    """The orders listed in the root attribute ``zagg.orders`` (None if absent)."""
    try:
        root = json.load(open(os.path.join(store, "zarr.json"), encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{store}: cannot read the root zarr.json: {exc}") from exc
    orders = root.get("attributes", {}).get("zagg", {}).get("orders")
    return [int(o) for o in orders] if isinstance(orders, list) else None


def run_check(args) -> int:
    leaf, parent = args.leaf_order, args.parent_order
    if not (0 <= parent <= leaf <= 18):
        raise InputError("need 0 <= parent order <= leaf order <= 18")
    if not os.path.isdir(args.store):
        raise InputError(f"{args.store}: not a directory (only local stores are supported)")
    listed = store_orders(args.store)
    orders = args.orders if args.orders is not None else (listed or [leaf])
    if any(not parent <= o <= leaf for o in orders):
        raise InputError(f"orders {orders} must lie in {parent}..={leaf}")

    stats = InputStats()
    cells, h, s, nb = read_granules(
        args.granules, leaf, parent, args.ellipsoid, set(args.quality_keep), stats, args.hash_convention
    )
    status = 0
    if args.orders is not None and listed is not None and sorted(listed) != sorted(args.orders):
        print(f"RESULT: FAIL, the root attribute zagg.orders is {listed}, expected {args.orders}")
        status = 1
    for order in orders:
        # Coarse order k: the cell of a point is its leaf cell's ancestor, computed here
        # from the leaf hash of the raw point (never from the store's finer orders).
        shift = np.uint64(2 * (leaf - order))
        status |= check_order(args, order, stats, cells >> shift, h, s, nb)
    return status


def check_order(args, order, stats, cells, h, s, nb) -> int:
    """Recompute every occupied cell at `order` from the points and compare with group `order`."""
    leaf, parent = order, args.parent_order
    chunk = 4 ** (leaf - parent)
    n_cells = 12 * 4**leaf
    group_name = str(leaf)
    agg = aggregate(cells, h, s)
    nb_cells = set(np.unique(cells[nb]).tolist())

    shard_of = agg["cell"] >> np.uint64(2 * (leaf - parent))
    expected_shards = np.unique(shard_of)
    if args.shards is not None:
        expected_shards = expected_shards[np.isin(expected_shards, np.asarray(args.shards, dtype=np.uint64))]
    by_shard = {}
    if agg["cell"].size:
        bounds = np.searchsorted(shard_of, expected_shards, side="left")
        ends = np.searchsorted(shard_of, expected_shards, side="right")
        keys = ("cell", "count", "h2_mean", "h_absmax") + FLOAT_VARS
        for shard, b, e in zip(expected_shards.tolist(), bounds, ends):
            by_shard[shard] = {k: agg[k][b:e] for k in keys}

    try:
        group = zarr.open_group(args.store, mode="r", path=group_name)
        arrays = {var: group[var] for var in ARRAYS}
    except (KeyError, FileNotFoundError, ValueError) as exc:
        raise InputError(f"{args.store}: cannot open group {group_name!r} and its arrays: {exc}") from exc

    report = Report()
    for var, arr in arrays.items():
        if arr.shape != (n_cells,) or arr.chunks != (chunk,):
            report.add("array", var, f"shape {(n_cells,)} chunks {(chunk,)}", f"shape {arr.shape} chunks {arr.chunks}")

    got_ell = store_ellipsoid(dict(group.attrs))
    if got_ell != args.ellipsoid:
        report.add("group attrs", "dggs.ellipsoid", args.ellipsoid, got_ell)

    written = {var: written_chunks(args.store, group_name, var) for var in ARRAYS}
    all_written = set().union(*written.values())
    if args.shards is not None:
        all_written &= set(args.shards)
    to_check = sorted(set(by_shard) | all_written)
    for shard in to_check:
        if not (0 <= shard < 12 * 4**parent):
            report.add(f"shard {shard}", "chunk index", f"< {12 * 4**parent}", shard)
            continue
        compare_shard(shard, arrays, written, by_shard.get(shard), nb_cells, leaf, chunk, report)

    occupied = int(agg["cell"].size) if args.shards is None else sum(v["cell"].size for v in by_shard.values())
    print(
        f"store        : {args.store} (group {group_name}, chunk {chunk}, ellipsoid {args.ellipsoid}, "
        f"hash convention {args.hash_convention})"
    )
    print(
        f"input        : {stats.granules} granules, {stats.beams_read} beams read, "
        f"{stats.beams_skipped} missing/empty beams skipped"
    )
    print(
        f"points       : {stats.points} total, {stats.dropped_geo} bad lat/lon, "
        f"{stats.dropped_quality} quality not in {sorted(set(args.quality_keep))}, "
        f"{stats.dropped_value} bad h_li/h_li_sigma, {stats.valid} valid "
        f"({stats.near_boundary} within {BOUNDARY_EPS_DEG} deg of a cell edge)"
    )
    print(
        f"expected     : {occupied} occupied cells in {len(by_shard)} shards"
        f" ({len(stats.shards_all_invalid)} shards with points but none valid)"
        + (f"; restricted to {len(args.shards)} requested shards" if args.shards is not None else "")
    )
    print(f"store chunks : " + ", ".join(f"{v}={len(written[v])}" for v in ARRAYS))
    print(f"compared     : {len(to_check)} chunks x {len(ARRAYS)} arrays")
    if report.total == 0:
        print("RESULT: OK, the store matches the recomputation")
        return 0
    print(f"RESULT: FAIL, {report.total} disagreements: " + ", ".join(f"{k}={v}" for k, v in sorted(report.per_var.items())))
    print(f"first {len(report.items)}:")
    print(f"  {'cell':>12}  {'variable':<22} {'expected':<44} got")
    for where, var, exp, got, note in report.items:
        line = f"  {str(where):>12}  {var:<22} {str(exp):<44} {got}"
        print(line + (f"   [{note}]" if note else ""))
    return 1


# --------------------------------------------------------------------------
# Self test against the golden values printed in the SPEC
# --------------------------------------------------------------------------

# SPEC section 4 golden rows: h, s -> count, min, max, mean, sigma, variance, q25, q50, q75
# (expected values given to the digits shown in the SPEC).
GOLDEN_ROWS = [
    (
        [120.5, 118.3, 122.1, 119.7, 121.0],
        [0.05, 0.10, 0.03, 0.08, 0.06],
        ["5", "118.3", "122.1", "121.26848", "0.0221125", "1.6255972", "119.7", "120.5", "121.0"],
    ),
    ([1234.5], [0.1], ["1", "1234.5", "1234.5", "1234.5", "0.1", "0", "1234.5", "1234.5", "1234.5"]),
    (
        [1234.5, 1236.5],
        [0.1, 0.2],
        ["2", "1234.5", "1236.5", "1234.8999", "0.0894427", "1.0", "1235.0", "1235.5", "1236.0"],
    ),
]
# SPEC section 2 and the golden vectors file: (nested id, order, morton)
GOLDEN_MORTON = [
    (41066, 6, -5112333),
    (33458, 6, -3133413),
    (137044221, 12, -3133413114442),
    (153157632, 12, -4131211111111),
    (153161727, 12, -4131211444444),
    (0, 0, 1),
    (11, 0, -6),
]


def self_test() -> int:
    failures = 0
    for k, (hs, ss, want) in enumerate(GOLDEN_ROWS):
        cells = np.full(len(hs), 7, np.uint64)
        agg = aggregate(cells, np.asarray(hs, np.float32), np.asarray(ss, np.float32))
        names = ("count", "h_min", "h_max", "h_mean", "h_sigma", "h_variance", "h_q25", "h_q50", "h_q75")
        for name, text in zip(names, want):
            value = agg[name][0]
            if name == "count":
                ok = int(value) == int(text)
            else:
                # Equal to the digits shown (half a unit of the last digit), plus one
                # float32 ulp: the SPEC values came from float32 arithmetic.
                decimals = len(text.split(".")[1]) if "." in text else 0
                ulp = float(np.spacing(np.float32(text)))
                ok = abs(float(np.float32(value)) - float(text)) <= 0.5 * 10.0**-decimals + ulp
            if not ok:
                failures += 1
                print(f"golden row {k}: {name} = {np.float32(value)!r}, SPEC says {text}")
    for cell, order, want in GOLDEN_MORTON:
        got = int(morton_encode(np.array([cell], np.uint64), order)[0])
        if got != want:
            failures += 1
            print(f"morton({cell}, order {order}) = {got}, SPEC says {want}")
    # Sign-of-longitude convention on base-cell-edge meridians: values produced by
    # the cdshealpix 0.10.1 crate (nested::get(12).hash(lon.to_radians(), lat.to_radians())).
    for lon, lat, want in ((-0.0, 60.0, 58193887), (0.0, 60.0, 12319727), (-90.0, -70.0, 169103444),
                           (-180.0, -77.998, 152043840), (180.0, -77.998, 169869952)):
        got = int(hash_cells(np.array([lat]), np.array([lon]), 12, "sphere")[0])
        if got != want:
            failures += 1
            print(f"hash(lon={lon!r}, lat={lat!r}) = {got}, cdshealpix gives {want}")
    # healpy + authalic latitude sanity: the equator and the poles are fixed points.
    beta = authalic_latitude(np.radians(np.array([0.0, 90.0, -90.0, 45.0])))
    if not (beta[0] == 0 and abs(beta[1] - np.pi / 2) < 1e-15 and abs(beta[2] + np.pi / 2) < 1e-15):
        failures += 1
        print(f"authalic latitude of 0/90/-90 deg: {beta[:3]}")
    # Authalic latitude of 45 deg geodetic on WGS84, from PROJ's cylindrical
    # equal-area projection (asin(y / y_pole)): 44.87170287343 deg.
    if abs(np.degrees(beta[3]) - 44.87170287343) > 1e-10:
        failures += 1
        print(f"authalic latitude of 45 deg: {np.degrees(beta[3])!r}")
    print("self-test: " + ("OK" if failures == 0 else f"FAIL ({failures})"))
    return 0 if failures == 0 else 1


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=(
            "Recompute every occupied HEALPix cell of a zagg store straight from ATL06 "
            "HDF5 granules (h5py + numpy + healpy) and compare with the Zarr v3 store. "
            "Exit 0 if they match, 1 on any disagreement (the first 20 are printed "
            "with cell id, variable, expected and stored value), 2 on input errors."
        ),
        epilog=(
            "Tolerances: count, h_min, h_max, h_q25/50/75 exactly equal to the float64 "
            "result rounded to float32; h_mean within 1e-6 of max(|mean|, max|h|), h_sigma within 1e-6 relative; "
            "h_variance within 1e-4 relative + 1e-12*mean(h^2). Every array's chunk c must "
            "be written exactly when shard c has a valid point. "
            "Example: check_store.py --store out.zarr --granules a.h5 b.h5"
        ),
    )
    p.add_argument("--store", help="path of the local Zarr v3 store (root directory)")
    p.add_argument("--granules", nargs="+", metavar="FILE", help="ATL06 HDF5 granules the store was built from")
    p.add_argument(
        "--ellipsoid",
        choices=("WGS84", "sphere"),
        default="WGS84",
        help="WGS84: hash the authalic latitude (default); sphere: hash the latitude as given",
    )
    p.add_argument(
        "--hash-convention",
        choices=("cdshealpix", "healpy"),
        default="cdshealpix",
        help="cdshealpix (default): a point exactly on a multiple-of-90-deg meridian given with a "
        "negative longitude (-0.0, -90, -180) goes to the western cell, as the cdshealpix crate "
        "does; healpy: plain healpy.ang2pix (differs only for such points and exact vertices)",
    )
    p.add_argument("--leaf-order", type=int, default=12, help="HEALPix order of the cells (default 12)")
    p.add_argument("--parent-order", type=int, default=6, help="HEALPix order of the shards (default 6)")
    p.add_argument(
        "--orders",
        type=int,
        nargs="+",
        metavar="K",
        help="orders to check (the leaf order and pyramid orders, each recomputed from the raw "
        "points: cell = leaf cell >> 2*(leaf - K)); also require the root attribute zagg.orders "
        "to list exactly these; default: the orders that attribute lists",
    )
    p.add_argument(
        "--quality-keep",
        type=int,
        nargs="+",
        default=[0],
        metavar="Q",
        help="atl06_quality_summary values to keep (default: 0)",
    )
    p.add_argument(
        "--shards",
        type=int,
        nargs="+",
        metavar="ID",
        help="only compare these shards (nested ids at the parent order), e.g. when the run "
        "was limited to an area of interest; default: every shard the granules touch",
    )
    p.add_argument("--self-test", action="store_true", help="check the built-in formulas against the SPEC golden values and exit")
    args = p.parse_args(argv)
    if not args.self_test and (not args.store or not args.granules):
        p.error("--store and --granules are required (unless --self-test)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.self_test:
        return self_test()
    try:
        return run_check(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
