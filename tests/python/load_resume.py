#!/usr/bin/env python3
"""Load, kill/resume and idempotence runs of the local runner (docs/reliability.md).

1. Load: `zagg run` over sparse synthetic granules that touch > 1,000 shards
   (scripts/make_load_granules.py), and over half of them: peak RSS (from wait4) must not
   grow with the shard count (bounded memory), every shard must succeed.
2. Kill/resume: the same run into a new store, killed with SIGKILL once a few hundred
   shards are journaled, then started again. Checked: right after the kill every chunk
   and metadata object in the store equals the uninterrupted run's (no partial object);
   the restart takes every journaled shard from the journal (their entries are untouched
   and the summary says so); the final store equals the uninterrupted run's, object for
   object and byte for byte, but for start times, durations and the store's location in
   run.json and the journal (so two runs of the same inputs are byte-identical too); no
   temporary file is left.
(Idempotence of whole runs is also tests/pipeline.rs's runs_are_idempotent_and_byte_identical.)

Prints a table of the numbers. Exit status 1 on any failed check.

Usage: load_resume.py --zagg PATH --work DIR [--granules 48] [--min-shards 1000]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def run_measured(zagg, granules, store, jobs, extra=()):
    """Run `zagg run`; return (exit status, stdout, stderr, wall seconds, the child's own
    peak RSS in MiB from wait4)."""
    cmd = [zagg, "run", "--granules", *map(str, granules), "--store", str(store),
           "--jobs", str(jobs), *extra]
    t0 = time.monotonic()
    out_path = Path(str(store) + ".out")
    err_path = Path(str(store) + ".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        pid = os.posix_spawn(cmd[0], cmd, os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                           (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    code = os.waitstatus_to_exitcode(status)
    return code, out_path.read_text(), err_path.read_text(), wall, usage.ru_maxrss / 1024.0


def objects(store):
    """Every object of a store (relative key -> bytes)."""
    out = {}
    for dirpath, _, files in os.walk(store):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(store))] = p.read_bytes()
    return out


def strip_timing(key, data):
    """run.json and journal entries without start times, durations and the location."""
    if key == "run.json" or (key.startswith("runs/") and key.endswith(".json")):
        def strip(v):
            if isinstance(v, dict):
                return {k: strip(x) for k, x in v.items()
                        if k not in ("seconds", "started_unix", "store")}
            if isinstance(v, list):
                return [strip(x) for x in v]
            return v
        return json.dumps(strip(json.loads(data)), sort_keys=True).encode()
    return data


def same_store(a, b):
    """(equal, first difference) of two stores' objects after strip_timing."""
    oa, ob = objects(a), objects(b)
    if sorted(oa) != sorted(ob):
        only_a = sorted(set(oa) - set(ob))[:5]
        only_b = sorted(set(ob) - set(oa))[:5]
        return False, f"different objects: only in {a}: {only_a}; only in {b}: {only_b}"
    for k in sorted(oa):
        if strip_timing(k, oa[k]) != strip_timing(k, ob[k]):
            return False, f"{k} differs"
    return True, f"{len(oa)} objects equal"


def journal(store):
    d = Path(store) / "runs" / "local" / "shards"
    return sorted(d.glob("*.json")) if d.is_dir() else []


def shard_count(summary):
    m = re.search(r"shards\s+(\d+) with data, (\d+) empty, (\d+) failed", summary)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zagg", required=True)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--granules", type=int, default=48)
    ap.add_argument("--min-shards", type=int, default=1000)
    ap.add_argument("--kill-after", type=int, default=300,
                    help="journaled shards before the kill")
    args = ap.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    gdir = work / "granules"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_load_granules.py"), str(gdir),
                    "--granules", str(args.granules)], check=True)
    granules = sorted(gdir.glob("*.h5"))

    # 1. Load, at half and at full size.
    rows = []
    half = granules[: len(granules) // 2]
    for name, gs in (("half", half), ("full", granules)):
        store = work / f"load-{name}.zarr"
        code, out, err, wall, rss = run_measured(args.zagg, gs, store, 2)
        ok, empty, failed = shard_count(out)
        check(code == 0 and failed == 0, f"load run over {len(gs)} granules: exit {code}, "
              f"{failed} failed shards {err[-500:] if code else ''}")
        rows.append((name, len(gs), ok + empty, wall, rss, len(objects(store))))
    full_store = work / "load-full.zarr"
    shards = rows[1][2]
    check(shards >= args.min_shards, f"{shards} shards >= {args.min_shards}")
    # Bounded memory: twice the shards must not take much more memory.
    check(rows[1][4] < 1.5 * rows[0][4] + 32, f"peak RSS {rows[1][4]:.0f} MiB for {rows[1][2]} "
          f"shards vs {rows[0][4]:.0f} MiB for {rows[0][2]}: bounded")
    check(rows[1][4] < 512, f"peak RSS {rows[1][4]:.0f} MiB < 512 MiB")

    # 2. Kill and resume.
    killed = work / "killed.zarr"
    cmd = [args.zagg, "run", "--granules", *map(str, granules), "--store", str(killed),
           "--jobs", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while len(journal(killed)) < args.kill_after and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in journal(killed)}
    check(args.kill_after <= len(before) < shards,
          f"killed mid-run with {len(before)} of {shards} shards journaled")
    full = objects(full_store)
    partial = objects(killed)
    chunks = [k for k in partial if "/c/" in k]
    differing = [k for k in chunks if full.get(k) != partial[k]]
    check(chunks and not differing, f"after the kill, all {len(chunks)} chunks written equal "
          f"the uninterrupted run's (no partial chunk)"
          f"{': ' + str(differing[:5]) if differing else ''}")
    broken = []
    for k, v in partial.items():
        if k.endswith(".json"):
            try:
                json.loads(v)
            except ValueError:
                broken.append(k)
    check(not broken, f"after the kill, every metadata and journal object is whole JSON"
          f"{': ' + str(broken[:5]) if broken else ''}")
    temps = [k for k in partial if k.startswith(".zagg-tmp/")]
    print(f"   ({len(temps)} temporary files left by the killed process)")
    check(not (killed / "run.json").exists(), "no run report from the killed run")

    code, out, err, wall_resume, rss_resume = run_measured(args.zagg, granules, killed, 2)
    m = re.search(r"resumed\s+(\d+) shards", out)
    resumed = int(m.group(1)) if m else 0
    check(code == 0, f"restart exit {code} {err[-500:] if code else ''}")
    check(resumed >= len(before), f"restart took {resumed} shards from the journal "
          f"(>= {len(before)} journaled before the kill)")
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in journal(killed)}
    redone = [n for n, v in before.items() if after.get(n) != v]
    check(not redone, f"no journaled shard was redone{': ' + str(redone[:5]) if redone else ''}")
    ok, why = same_store(killed, full_store)
    check(ok, f"killed + resumed store equals the uninterrupted run: {why}")
    check(not (killed / ".zagg-tmp").exists(), "no temporary files left")

    print()
    print("| run | granules | shards | wall s | peak RSS MiB | objects |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, n, s, wall, rss, objs in rows:
        print(f"| {name} | {n} | {s} | {wall:.1f} | {rss:.0f} | {objs} |")
    print(f"| resumed after kill at {len(before)} shards | {len(granules)} | {shards} | "
          f"{wall_resume:.1f} | {rss_resume:.0f} | - |")
    if failures:
        print(f"\n{len(failures)} checks failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
