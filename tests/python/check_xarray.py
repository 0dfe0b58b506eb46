#!/usr/bin/env python3
"""Check that a zagg Zarr v3 store is readable as SPEC section 5 promises.

Readers exercised: zarr-python 3 (with and without consolidated metadata),
xarray (``open_zarr(..., consolidated=True)`` and ``consolidated=False``) and
xdggs (``ds.pipe(xdggs.decode)``).  Checks:

* root ``zarr.json`` holds consolidated metadata (``kind: inline``) with an
  entry for the leaf group and each of its arrays, equal to the node's own
  ``zarr.json``;
* group attributes follow the zarr DGGS convention (healpix, refinement level
  = group name, nested, ``spatial_dimension: cells``, ``coordinate:
  cell_ids``, ``compression: none``, an ellipsoid: the exact WGS84 block of the
  SPEC, or a sphere);
* arrays ``cell_ids`` (uint64, fill 0), ``morton`` (int64, fill 0), ``count``
  (int32, fill 0), ``h_min h_max h_mean h_sigma h_variance h_q25 h_q50 h_q75``
  (float32, fill NaN): shape 12*4**level, chunk shape 4**(level-parent),
  ``dimension_names ["cells"]``, default chunk key encoding with separator "/";
* every written chunk (files under ``<store>/<group>/<var>/c/``) reads back
  through zarr-python with the right dtype, is not entirely fill (SPEC: such a
  chunk is not written), and ``cell_ids`` holds the nested ids of its range;
* xdggs decodes the grid (healpix, level, nested, the stored ellipsoid) and
  the decoded cell ids are the stored ones.

The full-sphere arrays (201,326,592 cells at level 12) are never loaded:
only the slices of the written chunks are read, and xdggs decodes the dataset
restricted to those slices (decoding the whole dataset would load every cell id).

Exit status: 0 if every check passes, 1 otherwise (each failure is printed).

With ``--group all`` every order the root attribute ``zagg.orders`` lists (the
leaf order and the pyramid orders) is checked in full, and that list must
equal the order groups present, finest first, with no consolidated entry
outside them.

Example::

    check_xarray.py --store out.zarr --group 12
    check_xarray.py --store out.zarr --group all
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import warnings

import numpy as np
import xarray as xr
import xdggs
import zarr

ARRAYS = {
    # name: (data_type, fill value as written in zarr.json)
    "cell_ids": ("uint64", 0),
    "morton": ("int64", 0),
    "count": ("int32", 0),
    "h_min": ("float32", "NaN"),
    "h_max": ("float32", "NaN"),
    "h_mean": ("float32", "NaN"),
    "h_sigma": ("float32", "NaN"),
    "h_variance": ("float32", "NaN"),
    "h_q25": ("float32", "NaN"),
    "h_q50": ("float32", "NaN"),
    "h_q75": ("float32", "NaN"),
}

DGGS_CONVENTION = {
    "schema_url": "https://raw.githubusercontent.com/zarr-conventions/dggs/refs/tags/v1/schema.json",
    "spec_url": "https://github.com/zarr-conventions/dggs/blob/v1/README.md",
    "uuid": "7b255807-140c-42ca-97f6-7a1cfecdbc38",
    "name": "dggs",
    "description": "Discrete Global Grid Systems convention for zarr",
}
WGS84_BLOCK = {"name": "WGS84", "semimajor_axis": 6378137.0, "inverse_flattening": 298.257223563}


class Checker:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"{what}: {detail}" if detail else what)
            print(f"FAIL {what}" + (f": {detail}" if detail else ""))
        return ok

    def run(self, what, fn, *args):
        """Run a step; an exception is a failure of that step."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported as a check failure
            self.check(False, what, f"{type(exc).__name__}: {exc}")
            return None


def load_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def ellipsoid_kind(value):
    """Classify an ellipsoid description (attribute or xdggs object)."""
    if value is None:
        return "missing"
    if isinstance(value, str):
        return "sphere" if value.lower() == "sphere" else f"named:{value}"
    if not isinstance(value, dict):
        value = value.to_dict()
    if "semimajor_axis" in value:
        if value.get("semimajor_axis") == WGS84_BLOCK["semimajor_axis"] and value.get(
            "inverse_flattening"
        ) == WGS84_BLOCK["inverse_flattening"]:
            return "WGS84"
        return f"ellipsoid:{value}"
    if "radius" in value:
        return "sphere"
    return f"unknown:{value}"


def written_chunks(store, group, var):
    cdir = os.path.join(store, group, var, "c")
    if not os.path.isdir(cdir):
        return []
    names = sorted(os.listdir(cdir))
    bad = [n for n in names if not n.isdigit()]
    if bad:
        raise ValueError(f"unexpected chunk keys under {group}/{var}/c/: {bad[:5]}")
    return sorted(int(n) for n in names)


def _normalise(meta):
    """Node metadata without the keys whose absence means the same (and the nested
    consolidated metadata, which only the root copy carries)."""
    defaults = {"attributes": {}, "storage_transformers": [], "dimension_names": None}
    return {k: v for k, v in meta.items()
            if k != "consolidated_metadata" and not (k in defaults and v == defaults[k])}


def check_consolidated(c, store, group):
    root = load_json(os.path.join(store, "zarr.json"))
    c.check(root.get("zarr_format") == 3, "root zarr.json zarr_format", root.get("zarr_format"))
    c.check(root.get("node_type") == "group", "root zarr.json node_type", root.get("node_type"))
    cons = root.get("consolidated_metadata")
    if not c.check(isinstance(cons, dict), "root zarr.json consolidated_metadata", "missing"):
        return
    c.check(cons.get("kind") == "inline", "consolidated_metadata.kind", cons.get("kind"))
    meta = cons.get("metadata") or {}
    for key in [group] + [f"{group}/{v}" for v in ARRAYS]:
        entry = meta.get(key)
        if not c.check(entry is not None, f"consolidated entry {key!r}", "missing"):
            continue
        own = load_json(os.path.join(store, key, "zarr.json"))
        a, b = _normalise(entry), _normalise(own)
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        c.check(not diff, f"consolidated entry {key!r} equals {key}/zarr.json",
                "; ".join(f"{k}: consolidated {a.get(k)!r} vs {b.get(k)!r}" for k in diff))


def check_group_attrs(c, attrs, level, want_ellipsoid):
    conventions = attrs.get("zarr_conventions")
    c.check(isinstance(conventions, list) and DGGS_CONVENTION in conventions,
            "group attribute zarr_conventions declares the dggs convention", conventions)
    dggs = attrs.get("dggs")
    if not c.check(isinstance(dggs, dict), "group attribute dggs", dggs):
        return None
    expected = {"name": "healpix", "refinement_level": level, "indexing_scheme": "nested",
                "spatial_dimension": "cells", "coordinate": "cell_ids", "compression": "none"}
    for key, value in expected.items():
        c.check(dggs.get(key) == value and type(dggs.get(key)) is type(value),
                f"dggs.{key}", f"expected {value!r}, got {dggs.get(key)!r}")
    extra = set(dggs) - set(expected) - {"ellipsoid"}
    c.check(not extra, "dggs has no unknown keys", sorted(extra))
    kind = ellipsoid_kind(dggs.get("ellipsoid"))
    if kind == "WGS84":
        c.check(dggs["ellipsoid"] == WGS84_BLOCK, "dggs.ellipsoid is the SPEC WGS84 block", dggs["ellipsoid"])
    else:
        c.check(kind == "sphere", "dggs.ellipsoid is WGS84 or a sphere", dggs.get("ellipsoid"))
    if want_ellipsoid is not None:
        c.check(kind == want_ellipsoid, "dggs.ellipsoid matches --ellipsoid", f"expected {want_ellipsoid}, got {kind}")
    return kind


def check_zarr(c, store, group, level, chunk):
    """zarr-python metadata + written chunks."""
    n_cells = 12 * 4**level
    groups = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "consolidated metadata is not part of the v3 spec"
        groups["consolidated"] = c.run("zarr.open_consolidated(root)[group]",
                                       lambda: zarr.open_group(store, mode="r", use_consolidated=True)[group])
        groups["plain"] = c.run("zarr.open_group(root, use_consolidated=False)[group]",
                                lambda: zarr.open_group(store, mode="r", use_consolidated=False)[group])
    for how, g in groups.items():
        if g is None:
            continue
        c.check(isinstance(g, zarr.Group), f"[{how}] {group} is a group", type(g))
        members = set(g.array_keys())
        c.check(set(ARRAYS) <= members, f"[{how}] arrays present", f"missing {sorted(set(ARRAYS) - members)}")
        if members - set(ARRAYS):
            print(f"note [{how}]: extra arrays {sorted(members - set(ARRAYS))}")
        for var, (dtype, fill) in ARRAYS.items():
            if var not in members:
                continue
            a = g[var]
            c.check(str(a.dtype) == dtype, f"[{how}] {var} dtype", f"expected {dtype}, got {a.dtype}")
            fv = a.fill_value
            fill_ok = (fill == "NaN" and fv is not None and np.isnan(fv)) or (fill == 0 and fv == 0)
            c.check(fill_ok, f"[{how}] {var} fill value", f"expected {fill}, got {fv!r}")
            c.check(a.shape == (n_cells,), f"[{how}] {var} shape", f"expected {(n_cells,)}, got {a.shape}")
            c.check(a.chunks == (chunk,), f"[{how}] {var} chunk shape", f"expected {(chunk,)}, got {a.chunks}")
            c.check(tuple(a.metadata.dimension_names or ()) == ("cells",), f"[{how}] {var} dimension_names",
                    a.metadata.dimension_names)

    # Raw metadata documents (what other readers see).
    for var, (dtype, fill) in ARRAYS.items():
        path = os.path.join(store, group, var, "zarr.json")
        if not c.check(os.path.isfile(path), f"{group}/{var}/zarr.json exists"):
            continue
        meta = load_json(path)
        c.check(meta.get("data_type") == dtype, f"{var} zarr.json data_type", meta.get("data_type"))
        c.check(meta.get("fill_value") == fill and type(meta.get("fill_value")) is type(fill),
                f"{var} zarr.json fill_value", f"expected {fill!r}, got {meta.get('fill_value')!r}")
        c.check(meta.get("dimension_names") == ["cells"], f"{var} zarr.json dimension_names", meta.get("dimension_names"))
        c.check(meta.get("chunk_grid") == {"name": "regular", "configuration": {"chunk_shape": [chunk]}},
                f"{var} zarr.json chunk_grid", meta.get("chunk_grid"))
        cke = meta.get("chunk_key_encoding", {})
        c.check(cke.get("name") == "default" and cke.get("configuration", {}).get("separator", "/") == "/",
                f"{var} zarr.json chunk_key_encoding default '/'", cke)

    # Written chunks: read exactly those slices.
    g = groups.get("plain") or groups.get("consolidated")
    chunks = {}
    for var in ARRAYS:
        chunks[var] = c.run(f"list chunks of {var}", written_chunks, store, group, var) or []
    all_chunks = sorted(set().union(*map(set, chunks.values())))
    n_max = n_cells // chunk
    c.check(all(0 <= k < n_max for k in all_chunks), "chunk indices in range", [k for k in all_chunks if not 0 <= k < n_max][:5])
    for var in ARRAYS:
        if set(chunks[var]) != set(all_chunks):
            print(f"note: {var} has {len(chunks[var])} chunks, the union over arrays has {len(all_chunks)}")
    if g is None:
        return all_chunks
    for var, (dtype, fill) in ARRAYS.items():
        if var not in set(g.array_keys()):
            continue
        a = g[var]
        for k in chunks[var]:
            values = c.run(f"read {var} chunk {k}", lambda: a[k * chunk : (k + 1) * chunk])
            if values is None:
                continue
            c.check(values.dtype == np.dtype(dtype) and values.shape == (chunk,),
                    f"{var} chunk {k} reads as {dtype}[{chunk}]", f"{values.dtype}{values.shape}")
            all_fill = np.all(np.isnan(values)) if fill == "NaN" else np.all(values == 0)
            c.check(not all_fill, f"{var} chunk {k} is not all fill (all-fill chunks must not be written)")
            if var == "cell_ids":
                ids = np.arange(k * chunk, (k + 1) * chunk, dtype=np.uint64)
                c.check(np.array_equal(values, ids), f"cell_ids chunk {k} holds the nested ids of its range")
    return all_chunks


def check_xarray(c, store, group, level, chunk, all_chunks, stored_kind):
    n_cells = 12 * 4**level
    for consolidated in (True, False):
        tag = f"[consolidated={consolidated}]"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = c.run(f"{tag} xarray.open_zarr", lambda: xr.open_zarr(store, group=group, consolidated=consolidated))
        if ds is None:
            continue
        c.check(dict(ds.sizes) == {"cells": n_cells}, f"{tag} dims", dict(ds.sizes))
        for var, (dtype, _) in ARRAYS.items():
            if c.check(var in ds.variables, f"{tag} variable {var} present"):
                c.check(ds[var].dims == ("cells",) and str(ds[var].dtype) == dtype,
                        f"{tag} {var} is {dtype} over (cells,)", f"{ds[var].dims} {ds[var].dtype}")
        c.check("dggs" in ds.attrs and "zarr_conventions" in ds.attrs, f"{tag} dggs attributes visible in xarray")

        # Decode a subset made of the written chunks (or chunk 0 if none is written).
        ks = all_chunks or [0]
        index = np.concatenate([np.arange(k * chunk, (k + 1) * chunk) for k in ks])
        sub = ds.isel(cells=index)
        # xdggs tries its conventions in turn and prints why the others do not
        # apply; keep that chatter for the failure case only.
        chatter = io.StringIO()
        with contextlib.redirect_stdout(chatter):
            decoded = c.run(f"{tag} ds.pipe(xdggs.decode)", lambda: sub.pipe(xdggs.decode))
        if decoded is None:
            print(chatter.getvalue(), end="")
            continue
        info = c.run(f"{tag} decoded grid_info", lambda: decoded.dggs.grid_info)
        if info is None:
            continue
        c.check(getattr(info, "name", None) == "healpix", f"{tag} xdggs grid is healpix", getattr(info, "name", None))
        c.check(getattr(info, "level", None) == level, f"{tag} xdggs level", getattr(info, "level", None))
        c.check(getattr(info, "indexing_scheme", None) == "nested", f"{tag} xdggs indexing scheme",
                getattr(info, "indexing_scheme", None))
        got_kind = ellipsoid_kind(getattr(info, "ellipsoid", None))
        c.check(got_kind == stored_kind, f"{tag} xdggs ellipsoid equals the stored one",
                f"stored {stored_kind}, decoded {got_kind} ({getattr(info, 'ellipsoid', None)!r})")
        if all_chunks:
            ids = decoded["cell_ids"].values
            c.check(np.array_equal(ids, index.astype(np.uint64)), f"{tag} decoded cell_ids equal the stored ids")


def main(argv=None):
    p = argparse.ArgumentParser(
        description=(
            "Check that a zagg Zarr v3 store opens with zarr-python 3, xarray and xdggs as "
            "SPEC section 5 promises (consolidated metadata, DGGS attributes, dtypes, fill values, "
            "shape, chunking, dimension names), reading only the written chunks. "
            "Exit 0 if all checks pass, 1 otherwise."
        ),
        epilog="Example: check_xarray.py --store out.zarr --group 12 --ellipsoid WGS84",
    )
    p.add_argument("--store", required=True, help="path of the local Zarr v3 store (root directory)")
    p.add_argument("--group", default="12",
                   help="group = HEALPix level of the cells (default 12), or 'all': every order the root "
                        "attribute zagg.orders lists (the leaf order and the pyramid orders), each checked "
                        "in full, and the list must match the groups in the store")
    p.add_argument("--parent-order", type=int, default=6, help="shard order; chunk shape = 4**(level - parent) (default 6)")
    p.add_argument("--ellipsoid", choices=("WGS84", "sphere"),
                   help="also require this ellipsoid in the attributes (default: accept either, as stored)")
    args = p.parse_args(argv)
    if args.group != "all" and not args.group.isdigit():
        p.error("--group must be the level number, e.g. 12, or all")
    store = args.store
    if not os.path.isfile(os.path.join(store, "zarr.json")):
        print(f"FAIL {store}: no root zarr.json (not a Zarr v3 store)")
        return 1
    if args.group != "all":
        return check_group(args, args.group)

    c = Checker()
    root = load_json(os.path.join(store, "zarr.json"))
    orders = root.get("attributes", {}).get("zagg", {}).get("orders")
    if not c.check(isinstance(orders, list) and orders and all(isinstance(o, int) for o in orders),
                   "root attribute zagg.orders lists the orders", orders):
        return 1
    c.check(orders == sorted(orders, reverse=True), "zagg.orders is finest first", orders)
    present = sorted(int(n) for n in os.listdir(store)
                     if n.isdigit() and os.path.isfile(os.path.join(store, n, "zarr.json")))
    c.check(sorted(orders) == present, "zagg.orders equals the order groups in the store",
            f"listed {orders}, present {present}")
    consolidated = set((root.get("consolidated_metadata") or {}).get("metadata", {}))
    stray = sorted(k for k in consolidated if k.split("/")[0] not in {str(o) for o in orders})
    c.check(not stray, "consolidated metadata has no entry outside the listed orders", stray[:5])
    status = 0 if not c.failures else 1
    for order in orders:
        print(f"=== order {order}")
        status |= check_group(args, str(order))
    print(f"store {store}: orders {orders}: " + ("all OK" if status == 0 else "FAIL"))
    return status


def check_group(args, group):
    store = args.store
    level = int(group)
    if not 0 <= args.parent_order <= level <= 18:
        print(f"FAIL need 0 <= parent order <= level <= 18, got level {level}")
        return 1
    chunk = 4 ** (level - args.parent_order)
    c = Checker()
    c.run("root consolidated metadata", check_consolidated, c, store, group)
    attrs = c.run("group attributes", lambda: load_json(os.path.join(store, group, "zarr.json")).get("attributes", {}))
    stored_kind = c.run("group attributes", check_group_attrs, c, attrs or {}, level, args.ellipsoid)
    all_chunks = c.run("zarr-python", check_zarr, c, store, group, level, chunk)
    c.run("xarray/xdggs", check_xarray, c, store, group, level, chunk, all_chunks or [], stored_kind)

    n = len(all_chunks or [])
    print(f"store {store}: group {group}, {n} written chunk indices, {c.passed} checks passed, {len(c.failures)} failed")
    print("RESULT: " + ("OK" if not c.failures else "FAIL"))
    return 0 if not c.failures else 1


if __name__ == "__main__":
    sys.exit(main())
