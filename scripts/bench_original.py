#!/usr/bin/env python3
"""Time the Python original (zagg 0.1.0 on PyPI) against `zagg process`, side by side.

One shard, the same local ATL06 granules, one run. The original's `process_morton_cell`
(with h5coro's FileDriver for local files and its built-in ATL06 config) runs in a
subprocess of its own, and so does `zagg process`; each subprocess's wall time, CPU time
(user + sys) and peak RSS come from os.wait4, i.e. getrusage of that child alone. With
`--repeat N` the tools alternate (original, zagg, zagg leaf-only, original, ...).

Rows of the table:

* original       -- the whole subprocess: interpreter start, imports, process_morton_cell;
* original call  -- process_morton_cell alone (timed inside the subprocess; CPU from
                    getrusage(RUSAGE_SELF)), the original's cost per shard once warm;
* zagg           -- the whole `zagg process` (config, template check, read, aggregate,
                    write leaf order and the pyramid orders 11..6 to the store);
* zagg leaf only -- the same config without `grid.pyramid`: the same outputs as the
                    original (order 12 only).

The ratios are taken conservatively: "original call" (no interpreter start, no output
written) over the whole `zagg process` subprocess (output written), on median wall time
and on median CPU time (on a shared machine the CPU ratio is the steadier one).

Conventions: the original hashes latitude as given (mortie's geo2mort); zagg is run with
`grid.ellipsoid: sphere`, the same convention (config/atl06.yaml with WGS84 replaced, as
scripts/test-all.sh does). The original keeps every row whose quality flag is 0, including
rows whose h_li or h_li_sigma is the _FillValue (3.4e38); zagg also drops those (and rows
with h_li_sigma <= 0), so its counts are lower by exactly those rows (printed).

Setup (not committed: the venv is in .gitignore):

  PYENV_VERSION=3.12.1 python3.12 -m venv .venv-orig
  .venv-orig/bin/pip install zagg==0.1.0 mortie==0.6.5 h5coro==0.0.8
  cargo build --release --bin zagg
  .venv-py/bin/python scripts/make_big_granules.py /tmp/big   # test venv (numpy, h5py)

Usage (run with the venv's python, which has zarr to read zagg's store for the per-cell
comparison; --python names the interpreter for the original if it is another one):

  .venv-orig/bin/python scripts/bench_original.py --granules /tmp/big/*.h5 \\
      --shard nested:41054 --zagg target/release/zagg --repeat 3
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATS = ("count", "h_min", "h_max", "h_mean", "h_sigma", "h_variance", "h_q25", "h_q50", "h_q75")


# --------------------------------------------------------------------------- original (child)


def _original_child(shard: str, granules: list[str], out: str) -> int:
    """Run the original's process_morton_cell in this process and write a JSON result."""
    t0 = time.perf_counter()
    import numpy as np
    from h5coro import filedriver
    from mortie import clip2order, geo2mort, mort2healpix
    from mortie._healpix import pix2ang

    import zagg
    from zagg import process_morton_cell

    imports = time.perf_counter() - t0

    parent_order = 6
    if shard.startswith("nested:"):
        nested = int(shard.split(":", 1)[1])
        lon, lat = pix2ang(2**parent_order, nested)  # the shard's center
        morton = int(clip2order(parent_order, geo2mort(lat, lon, order=18))[0])
    else:
        morton = int(shard)
    nested_back, order_back = mort2healpix(morton)
    if order_back != parent_order:
        raise SystemExit(f"shard {shard}: morton {morton} is at order {order_back}, not {parent_order}")

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    df, meta = process_morton_cell(
        morton, parent_order, 12, granules, {}, h5coro_driver=filedriver.FileDriver
    )
    seconds = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    cells = {}
    if not df.empty:
        occ = df[df["count"] > 0]
        ids = occ["cell_ids"].to_numpy(np.int64)
        for name in STATS:
            col = occ[name].to_numpy()
            cells[name] = [int(v) for v in col] if name == "count" else [float(v) for v in col]
        cells["cell_ids"] = [int(v) for v in ids]
    result = {
        "version": zagg.__version__,
        "morton": morton,
        "nested": int(nested_back),
        "imports_s": imports,
        "call_s": seconds,
        "call_cpu_s": cpu,
        "metadata": {k: (v if isinstance(v, (int, float, str, type(None))) else str(v)) for k, v in meta.items()},
        "cells": cells,
    }
    Path(out).write_text(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- parent


def _run(cmd: list[str], log: Path) -> dict:
    """Run cmd; wall time, CPU (user+sys) and peak RSS of that child alone (os.wait4)."""
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise SystemExit(f"{cmd[0]} … failed with status {proc.returncode} (log: {log})")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024}


def _sphere_config(src: Path, dest: Path, pyramid: bool) -> None:
    text = src.read_text()
    if "ellipsoid: WGS84 " not in text:
        raise SystemExit(f"{src}: no 'ellipsoid: WGS84 ' line to replace")
    text = text.replace("ellipsoid: WGS84 ", "ellipsoid: sphere ")
    if not pyramid:
        text, n = re.subn(r"(?m)^\s*pyramid:.*\n", "", text)
        if n != 1:
            raise SystemExit(f"{src}: expected one 'pyramid:' line, found {n}")
    dest.write_text(text)


def _zagg_version(zagg: str) -> str:
    try:
        return subprocess.run([zagg, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "zagg (version unknown)"


def _read_zagg_cells(store: Path, nested: int) -> dict | None:
    """Occupied leaf cells of one shard from zagg's store (zarr-python), or None."""
    try:
        import numpy as np
        import zarr
    except ImportError:
        return None
    g = zarr.open_group(str(store), mode="r")
    n = 4 ** (12 - 6)
    sl = slice(nested * n, (nested + 1) * n)
    count = np.asarray(g["12/count"][sl])
    occ = np.flatnonzero(count > 0)
    cells = {"cell_ids": [int(nested * n + i) for i in occ]}
    for name in STATS:
        col = np.asarray(g[f"12/{name}"][sl])[occ]
        cells[name] = [int(v) for v in col] if name == "count" else [float(v) for v in col]
    return cells


def _compare(orig: dict, rust: dict) -> list[str]:
    import math

    lines = []
    o = {c: i for i, c in enumerate(orig["cell_ids"])}
    r = {c: i for i, c in enumerate(rust["cell_ids"])}
    both = sorted(set(o) & set(r))
    lines.append(
        f"occupied cells: original {len(o)}, zagg {len(r)}, in both {len(both)}, "
        f"only original {len(set(o) - set(r))}, only zagg {len(set(r) - set(o))}"
    )
    same = [c for c in both if orig["count"][o[c]] == rust["count"][r[c]]]
    lines.append(
        f"cells with the same count: {len(same)} of {len(both)}; in the others the original "
        f"counts {sum(orig['count'][o[c]] - rust['count'][r[c]] for c in both if c not in same)} "
        f"more rows (its quality filter keeps _FillValue rows, zagg drops them)"
    )
    for name in ("h_mean", "h_q50", "h_min", "h_max", "h_variance"):
        diffs = [abs(orig[name][o[c]] - rust[name][r[c]]) for c in same]
        diffs = [d for d in diffs if not math.isnan(d)]
        if diffs:
            lines.append(f"  {name:<10} max |original - zagg| over those cells: {max(diffs):.3g}")
    lines.append("  sample (cell: count, h_mean original / zagg):")
    for c in same[:: max(1, len(same) // 4)][:4]:
        lines.append(
            f"    {c}: {orig['count'][o[c]]}, {orig['h_mean'][o[c]]:.4f} / {rust['h_mean'][r[c]]:.4f}"
        )
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--granules", nargs="+", required=True, help="local ATL06 HDF5 files")
    p.add_argument("--shard", required=True, help="as `zagg process --shard`: morton id (e.g. -5112243) or nested:ID")
    p.add_argument("--zagg", default=str(ROOT / "target" / "release" / "zagg"), help="release zagg binary")
    p.add_argument("--repeat", type=int, default=1, help="runs of each tool, alternating")
    p.add_argument("--original-repeat", type=int, help="runs of the original (default: --repeat)")
    p.add_argument("--python", default=sys.executable, help="python with zagg==0.1.0 installed")
    p.add_argument("--config", default=str(ROOT / "config" / "atl06.yaml"), help="zagg config (WGS84 → sphere)")
    p.add_argument("--workdir", help="keep stores and logs here (default: a temporary directory)")
    p.add_argument("--_original-child", metavar="OUT", help=argparse.SUPPRESS)
    a = p.parse_args()

    granules = [str(Path(g).resolve()) for g in a.granules]
    if a._original_child:
        return _original_child(a.shard, granules, a._original_child)

    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="bench-original-"))
    work.mkdir(parents=True, exist_ok=True)
    configs = {"zagg": work / "sphere.yaml", "zagg leaf only": work / "sphere-leaf.yaml"}
    _sphere_config(Path(a.config), configs["zagg"], pyramid=True)
    _sphere_config(Path(a.config), configs["zagg leaf only"], pyramid=False)

    times: dict[str, list[dict]] = {"original": [], "original call": [], "zagg": [], "zagg leaf only": []}
    orig_result = None
    zagg_report = None
    stores = {}
    n_orig = a.original_repeat or a.repeat
    for i in range(max(a.repeat, n_orig)):
        if i < n_orig:
            out = work / f"original-{i}.json"
            cmd = [a.python, os.path.abspath(__file__), "--granules", *granules,
                   "--shard", a.shard, "--_original-child", str(out)]
            t = _run(cmd, work / f"original-{i}.log")
            orig_result = json.loads(out.read_text())
            times["original"].append(t)
            times["original call"].append({"wall": orig_result["call_s"], "cpu": orig_result["call_cpu_s"], "rss_mb": None})
            print(f"run {i + 1}: original {t['wall']:.2f} s (call {orig_result['call_s']:.2f} s)", flush=True)
        if i < a.repeat:
            for label, cfg in configs.items():
                store = work / f"{label.replace(' ', '-')}-{i}.zarr"
                shutil.rmtree(store, ignore_errors=True)
                subprocess.run([a.zagg, "template", "--store", str(store), "--config", str(cfg)],
                               check=True, stdout=subprocess.DEVNULL)
                rep = work / f"{label.replace(' ', '-')}-{i}.json"
                cmd = [a.zagg, "process", "--shard", a.shard, "--granules", *granules,
                       "--store", str(store), "--config", str(cfg), "--json"]
                t = _run(cmd, rep)
                report = json.loads(rep.read_text())
                if report.get("status") not in ("ok", "Ok", "written", "Written"):
                    print(f"  note: zagg status {report.get('status')!r}")
                times[label].append(t)
                stores[label] = store
                zagg_report = report
                print(f"run {i + 1}: {label} {t['wall']:.3f} s", flush=True)

    # ----- what each did
    meta = orig_result["metadata"]
    counts = zagg_report.get("counts", {})
    print()
    print(f"original: zagg {orig_result['version']} (process_morton_cell, h5coro FileDriver), "
          f"{sys.version.split()[0] if a.python == sys.executable else a.python}")
    print(f"zagg:     {_zagg_version(a.zagg)}, config {a.config} with ellipsoid: sphere")
    print(f"shard {a.shard}: morton {orig_result['morton']} / nested {orig_result['nested']} (original), "
          f"morton {zagg_report.get('morton')} / {zagg_report.get('shard')} (zagg); {len(granules)} granules")
    print(f"original: {meta.get('total_obs')} observations in {meta.get('cells_with_data')} cells, "
          f"{meta.get('files_processed')} of {meta.get('granule_count')} files")
    print(f"zagg:     {counts.get('observations')} observations in {zagg_report.get('cells')} cells; "
          f"dropped counts {json.dumps({k: v for k, v in counts.items() if k != 'observations'})}")
    rust_cells = _read_zagg_cells(stores["zagg leaf only"], orig_result["nested"])
    if rust_cells is not None and orig_result["cells"]:
        for line in _compare(orig_result["cells"], rust_cells):
            print(line)
    else:
        print("(per-cell comparison skipped: zarr not importable here)")

    # ----- table
    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])

    def fmt(xs):
        xs = [x for x in xs if x is not None]
        if not xs:
            return "–"
        if len(xs) == 1:
            return f"{xs[0]:.3f}"
        return f"{med(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"

    print()
    obs = {
        "original": f"{meta.get('total_obs')} / {meta.get('cells_with_data')}",
        "original call": "(same)",
        "zagg": f"{counts.get('observations')} / {zagg_report.get('cells')}",
        "zagg leaf only": "(same)",
    }
    print("| tool | runs | wall s, median (range) | CPU s | peak RSS MB | observations / cells |")
    print("|---|---|---|---|---|---|")
    for label, ts in times.items():
        print(f"| {label} | {len(ts)} | {fmt([t['wall'] for t in ts])} | {fmt([t['cpu'] for t in ts])} | "
              f"{fmt([t['rss_mb'] for t in ts])} | {obs[label]} |")
    w = {k: med([t["wall"] for t in v]) for k, v in times.items()}
    print()
    print(f"speed ratio (original call / zagg, wall): {w['original call'] / w['zagg']:.0f}×  "
          f"(leaf only: {w['original call'] / w['zagg leaf only']:.0f}×; whole processes: "
          f"{w['original'] / w['zagg']:.0f}×)")
    c = {k: med([t["cpu"] for t in v]) for k, v in times.items()}
    print(f"CPU ratio (original call / zagg): {c['original call'] / c['zagg']:.0f}×  "
          f"(leaf only: {c['original call'] / c['zagg leaf only']:.0f}×; whole processes: "
          f"{c['original'] / c['zagg']:.0f}×)")
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
