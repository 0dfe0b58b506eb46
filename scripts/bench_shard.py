#!/usr/bin/env python3
"""Dense-shard benchmark: one shard over N full-length granules, from local files and S3.

For each N (default 10, 60, 390), runs

    zagg process --shard nested:SHARD --granules <the first N granules> --store TMP --json

under `/usr/bin/time -v` (the release binary; the store's template is made beforehand and
not timed), repeated (--repeats, --big-repeats for N > 100), and prints a markdown table:
observations, wall time, user+system CPU, peak RSS, requests, bytes read, chunk bytes
decoded, the lower bound, decoded / lower bound and points/s (observations / wall). Wall,
CPU and RSS are the median of the repeats, with the range. A second table divides by N to
show how time and memory grow with granules.

Chunk bytes decoded and the lower bound come from scripts/bench_decoded.py (zagg run per
granule with its reads traced, classified against h5py's chunk index; the lower bound is
the stored bytes of the chunks that hold the shard's rows, found with h5py + healpy). That
is one zagg run per granule, so it is done for the first --decoded-max granules only (the
sums for N up to that); larger N show "—".

With --s3 N… the granules are uploaded to a moto S3 server started on a free local port
(the venv's moto_server; stopped at the end) and the same shard is processed from
s3://granules/KEY URLs (the store stays local): requests and bytes are then HTTP requests
and bytes fetched.

The granules are those of scripts/make_dense_shard.py, in the order of its order.txt.

Usage:

    bench_shard.py --zagg target/release/zagg --dir /tmp/dense/g --sizes 10 60 390 --s3 10 60
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_decoded import decoded  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
TIME_FIELDS = {
    "user": re.compile(r"User time \(seconds\): ([\d.]+)"),
    "sys": re.compile(r"System time \(seconds\): ([\d.]+)"),
    "rss_kb": re.compile(r"Maximum resident set size \(kbytes\): (\d+)"),
    "wall": re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)"),
}


def parse_time(stderr):
    out = {}
    for key, rx in TIME_FIELDS.items():
        m = rx.search(stderr)
        if not m:
            raise RuntimeError(f"/usr/bin/time output without {key}:\n{stderr[-2000:]}")
        v = m.group(1)
        if key == "wall":
            secs = 0.0
            for part in v.split(":"):
                secs = secs * 60 + float(part)
            out[key] = secs
        else:
            out[key] = float(v)
    return out


def run_once(zagg, shard, granules, env=None):
    """One timed `zagg process`: (time -v fields, the shard report)."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        store = os.path.join(tmp, "s.zarr")
        subprocess.run([zagg, "template", "--store", store], check=True, capture_output=True)
        r = subprocess.run(
            ["/usr/bin/time", "-v", zagg, "process", "--shard", f"nested:{shard}", "--granules", *granules,
             "--store", store, "--json"],
            capture_output=True, text=True, env=env,
        )
        if r.returncode != 0:
            raise RuntimeError(f"zagg process failed ({r.returncode}):\n{r.stderr[-3000:]}")
    t = parse_time(r.stderr)
    t["cpu"] = t["user"] + t["sys"]
    return t, json.loads(r.stdout)


def measure(zagg, shard, granules, repeats, env=None):
    runs = []
    report = None
    for _ in range(repeats):
        t, report = run_once(zagg, shard, granules, env)
        runs.append(t)
        print(f"  N={len(granules)}: wall {t['wall']:.2f} s, cpu {t['cpu']:.2f} s, rss {t['rss_kb'] / 1024:.0f} MB, "
              f"{report['counts']['observations']} obs, {report['requests']} requests, {report['bytes_read']:,} bytes",
              file=sys.stderr, flush=True)
    failed = report["granules_failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} granules failed: {failed[:3]}")
    return {
        "n": len(granules),
        "repeats": repeats,
        "wall": [r["wall"] for r in runs],
        "cpu": [r["cpu"] for r in runs],
        "rss_mb": [r["rss_kb"] / 1024 for r in runs],
        "observations": report["counts"]["observations"],
        "points_in_shard": report["counts"]["points_in_shard"],
        "cells": report["cells"],
        "requests": report["requests"],
        "bytes_read": report["bytes_read"],
        "position_chunks_read": report["counts"]["position_chunks_read"],
        "position_chunks_total": report["counts"]["position_chunks_total"],
    }


def fmt_range(xs, f="{:.2f}"):
    med = statistics.median(xs)
    if len(xs) == 1:
        return f.format(med)
    return f"{f.format(med)} ({f.format(min(xs))}–{f.format(max(xs))})"


def table(rows, decoded_sums, title):
    print(f"\n{title}\n")
    print("| granules | observations | wall s | CPU s (user+sys) | peak RSS MB | requests | bytes read | "
          "chunk bytes decoded | lower bound | decoded / lower bound | points/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        d = decoded_sums.get(r["n"])
        dec = f"{d['decoded']:,}" if d else "—"
        low = f"{d['lower']:,}" if d else "—"
        ratio = f"{d['decoded'] / max(d['lower'], 1):.2f}" if d else "—"
        pps = r["observations"] / statistics.median(r["wall"])
        print(f"| {r['n']} | {r['observations']:,} | {fmt_range(r['wall'])} | {fmt_range(r['cpu'])} | "
              f"{fmt_range(r['rss_mb'], '{:.0f}')} | {r['requests']:,} | {r['bytes_read']:,} | {dec} | {low} | "
              f"{ratio} | {pps:,.0f} |")


def per_granule(rows, title):
    print(f"\n{title}\n")
    print("| granules | observations / granule | wall ms / granule | CPU ms / granule | peak RSS MB | "
          "RSS growth MB / added granule | requests / granule | bytes read / granule |")
    print("|---|---|---|---|---|---|---|---|")
    prev = None
    for r in rows:
        n = r["n"]
        rss = statistics.median(r["rss_mb"])
        growth = "—" if prev is None else f"{(rss - prev[1]) / (n - prev[0]):.2f}"
        print(f"| {n} | {r['observations'] / n:,.0f} | {1000 * statistics.median(r['wall']) / n:.1f} | "
              f"{1000 * statistics.median(r['cpu']) / n:.1f} | {rss:.0f} | {growth} | {r['requests'] / n:.1f} | "
              f"{r['bytes_read'] / n:,.0f} |")
        prev = (n, rss)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """A moto S3 server on a free local port, with the granules uploaded."""

    def __init__(self, granules):
        import boto3

        self.port = free_port()
        self.log = open(os.path.join(tempfile.gettempdir(), f"moto-{self.port}.log"), "w")
        self.proc = subprocess.Popen([os.path.join(VENV_BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-west-2",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="granules", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        self.urls = []
        for g in granules:
            key = os.path.basename(g)
            s3.upload_file(g, "granules", key)
            self.urls.append(f"s3://granules/{key}")
        self.env = dict(os.environ, AWS_ENDPOINT_URL=self.endpoint, AWS_ALLOW_HTTP="true",
                        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-west-2")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zagg", default="target/release/zagg")
    ap.add_argument("--dir", default="/tmp/dense/g", help="make_dense_shard.py's OUTDIR")
    ap.add_argument("--shard", type=int, default=41054)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 60, 390])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big-repeats", type=int, default=1, help="repeats for N > 100")
    ap.add_argument("--decoded-max", type=int, default=60, help="bytes decoded for the first this many granules")
    ap.add_argument("--s3", type=int, nargs="*", default=[10, 60], help="sizes also read from a local S3 server")
    ap.add_argument("--json", help="write the measurements here")
    a = ap.parse_args()

    zagg = os.path.abspath(a.zagg)
    order = open(os.path.join(a.dir, "order.txt")).read().split()
    granules = [os.path.join(a.dir, n) for n in order]
    sizes = sorted(a.sizes)
    if sizes[-1] > len(granules):
        print(f"only {len(granules)} granules in {a.dir}", file=sys.stderr)
        return 2

    out = {"shard": a.shard, "local": [], "s3": [], "decoded": {}}
    for n in sizes:
        reps = a.repeats if n <= 100 else a.big_repeats
        print(f"local, {n} granules, {reps} runs", file=sys.stderr, flush=True)
        out["local"].append(measure(zagg, a.shard, granules[:n], reps))

    # Bytes decoded: per granule, summed for each size up to --decoded-max.
    dmax = max([n for n in sizes if n <= a.decoded_max], default=0)
    per = []
    for i, g in enumerate(granules[:dmax]):
        pos, val, meta, npos, nval, lower, full_pos = decoded(zagg, a.shard, g)
        per.append({"decoded": pos + val, "position": pos, "values": val, "metadata": meta, "lower": lower,
                    "all_positions": full_pos})
        print(f"  decoded {i + 1}/{dmax}: {pos + val:,} (lower bound {lower:,})", file=sys.stderr, flush=True)
    for n in sizes:
        if n <= dmax:
            out["decoded"][n] = {k: sum(p[k] for p in per[:n]) for k in per[0]}

    s3_sizes = sorted(a.s3 or [])
    if s3_sizes:
        print(f"uploading {s3_sizes[-1]} granules to moto", file=sys.stderr, flush=True)
        moto = Moto(granules[: s3_sizes[-1]])
        try:
            for n in s3_sizes:
                reps = a.repeats if n <= 100 else a.big_repeats
                print(f"s3, {n} granules, {reps} runs", file=sys.stderr, flush=True)
                out["s3"].append(measure(zagg, a.shard, moto.urls[:n], reps, moto.env))
        finally:
            moto.stop()

    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)

    table(out["local"], out["decoded"], f"Shard {a.shard}, local files (requests and bytes: the HDF5 reader's reads)")
    per_granule(out["local"], "Per granule, local files")
    if out["s3"]:
        table(out["s3"], out["decoded"], f"Shard {a.shard}, from the local S3 server (moto): HTTP requests and bytes fetched")
        per_granule(out["s3"], "Per granule, S3")
    d = out["decoded"]
    if d:
        print("\nBytes decoded, detail (bench_decoded.py's classification)\n")
        print("| granules | position chunk bytes | value chunk bytes | decoded | lower bound | decoded / lower bound | "
              "all lat/lon chunk bytes | metadata bytes read |")
        print("|---|---|---|---|---|---|---|---|")
        for n, s in sorted(d.items()):
            print(f"| {n} | {s['position']:,} | {s['values']:,} | {s['decoded']:,} | {s['lower']:,} | "
                  f"{s['decoded'] / max(s['lower'], 1):.2f} | {s['all_positions']:,} | {s['metadata']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
