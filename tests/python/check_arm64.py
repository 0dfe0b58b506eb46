#!/usr/bin/env python3
"""Run the arm64 Lambda binaries under qemu-aarch64 against cargo lambda's runtime API.

`cargo lambda watch --only-lambda-apis` serves the Lambda runtime API without starting any
function; the arm64 `bootstrap` binaries of `zagg-process` and `zagg-template` are started
here under `qemu-aarch64 -L <sysroot>`, each polling the runtime API under its own function
name (`AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<port>/.rt/<name>`).  Invocations go to
`POST /2015-03-31/functions/<name>/invocations` on the same port.  Checked:

1. `zagg-process` with a malformed event (`{"shard": 1}`): HTTP 500 and a Lambda error
   document whose `errorType` is `Zagg.BadInput` and whose message names the first
   missing field (`morton`);
2. `zagg-template` with `{"store": <tmp dir>, "config": "atl06"}`: the result names the
   store and the orders, and the store's `zarr.json` exists;
3. `zagg-process` with one shard of a demo granule (read from the local file, written to
   that store): status `ok`, every granule read, observations > 0, and a chunk of the
   shard is on disk.

Nothing goes to the network.  Every process started here is stopped (process groups) on
the way out, also on failure.  Python 3.12 standard library only.

Exit status: 0 when every check passes, 1 on a failed check, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_GRANULE = ROOT / "tests/data/demo/ATL06_20240122041137_02782212_006_01.h5"
PARENT_ORDER = 6  # the built-in atl06 config's shard order (SPEC §2)


class SetupError(Exception):
    pass


class CheckFailed(Exception):
    pass


# --------------------------------------------------------------------------
# HEALPix (nested) and morton ids, independent of the Rust code
# --------------------------------------------------------------------------

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563


def authalic_z(lat_deg: float) -> float:
    """sin of the authalic latitude of a WGS84 geodetic latitude."""
    e2 = WGS84_F * (2 - WGS84_F)
    e = math.sqrt(e2)

    def q(s: float) -> float:
        return (1 - e2) * (s / (1 - e2 * s * s) - math.log((1 - e * s) / (1 + e * s)) / (2 * e))

    return q(math.sin(math.radians(lat_deg))) / q(1.0)


def ang2pix_nested(order: int, z: float, lon_deg: float) -> int:
    """HEALPix nested id at `order` of the point with z = sin(lat), longitude `lon_deg`."""
    nside = 1 << order
    za = abs(z)
    tt = (math.radians(lon_deg) / (math.pi / 2)) % 4.0
    if za <= 2 / 3:
        t1 = nside * (0.5 + tt)
        t2 = nside * (z * 0.75)
        jp = int(t1 - t2)
        jm = int(t1 + t2)
        ifp, ifm = jp >> order, jm >> order
        face = (ifp | 4) if ifp == ifm else (ifp if ifp < ifm else ifm + 8)
        ix = jm & (nside - 1)
        iy = nside - (jp & (nside - 1)) - 1
    else:
        ntt = min(3, int(tt))
        tp = tt - ntt
        tmp = nside * math.sqrt(3 * (1 - za))
        jp = min(int(tp * tmp), nside - 1)
        jm = min(int((1 - tp) * tmp), nside - 1)
        if z >= 0:
            face, ix, iy = ntt, nside - jm - 1, nside - jp - 1
        else:
            face, ix, iy = ntt + 8, jp, jm
    xy = 0
    for bit in range(order):
        xy |= ((ix >> bit) & 1) << (2 * bit) | ((iy >> bit) & 1) << (2 * bit + 1)
    return face * nside * nside + xy


def morton(nested: int, order: int) -> int:
    base = nested >> (2 * order)
    value = base % 6 + 1
    for level in range(order - 1, -1, -1):
        value = value * 10 + ((nested >> (2 * level)) & 3) + 1
    return -value if base >= 6 else value


# --------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Processes started in their own session, stopped as groups."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        log = self.logdir / f"{name}.log"
        with open(log, "wb") as out:
            p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, p, log))
        return p

    def check_alive(self) -> None:
        for name, p, log in self.procs:
            if p.poll() is not None:
                raise SetupError(f"{name} exited with status {p.returncode}:\n{tail(log)}")

    def logs(self) -> str:
        return "\n".join(f"--- {name} log:\n{tail(log)}" for name, _, log in self.procs)

    def stop(self) -> None:
        for _, p, _ in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for _, p, _ in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        # Children that outlived their group leader.
        for _, p, _ in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def wait_for_port(port: int, procs: Procs, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SetupError(f"cargo lambda watch did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def invoke(port: int, function: str, event: dict, procs: Procs, timeout: float) -> tuple[int, dict]:
    """POST the event; fails early when a started process dies while waiting."""
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
    req = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    answer: dict = {}

    def post() -> None:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                answer["reply"] = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            answer["reply"] = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            answer["error"] = e

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    while thread.is_alive():
        procs.check_alive()
        thread.join(0.2)
    if "error" in answer:
        raise CheckFailed(f"invoking {function}: {answer['error']}")
    status, body = answer["reply"]
    try:
        return status, json.loads(body)
    except json.JSONDecodeError as e:
        raise CheckFailed(f"{function} answered HTTP {status} with a body that is not JSON: {body[:500]!r}") from e


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)
    print(f"  ok: {what}")


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def run(args) -> None:
    lambda_dir = Path(args.lambda_dir).resolve()
    binaries = {name: lambda_dir / name / "bootstrap" for name in ("zagg-process", "zagg-template")}
    for name, path in binaries.items():
        if not path.is_file():
            raise SetupError(f"{path} is missing (build with scripts/lambda-arm64.sh)")
    sysroot = Path(args.sysroot).resolve()
    if not (sysroot / "lib/ld-linux-aarch64.so.1").exists():
        raise SetupError(f"{sysroot} has no lib/ld-linux-aarch64.so.1 (apt-get install libc6-arm64-cross)")
    if not DEMO_GRANULE.is_file():
        raise SetupError(f"{DEMO_GRANULE} is missing")

    # The demo granule's reference track passes through its anchor (tests/data/demo/manifest.json).
    manifest = json.loads((DEMO_GRANULE.parent / "manifest.json").read_text())
    lat, lon = manifest["granules"][DEMO_GRANULE.name]["anchor"]
    shard = ang2pix_nested(PARENT_ORDER, authalic_z(lat), lon)

    with tempfile.TemporaryDirectory(prefix="zagg-arm64-") as tmp:
        tmp = Path(tmp)
        procs = Procs(tmp)
        try:
            port = free_port()
            # cargo lambda watch reads the workspace (which binaries exist) from the current
            # directory; with --only-lambda-apis it builds and starts nothing.
            watch_env = dict(os.environ)
            procs.start("cargo-lambda-watch",
                        [args.cargo_lambda, "lambda", "watch", "--only-lambda-apis",
                         "--invoke-address", "127.0.0.1", "--invoke-port", str(port)],
                        watch_env, ROOT)
            wait_for_port(port, procs, timeout=60)
            print(f"cargo lambda watch: runtime API on http://127.0.0.1:{port}/.rt")

            for name, path in binaries.items():
                # Only what the runtime needs: no cloud credentials or endpoints from the caller.
                env = {
                    "PATH": "/usr/bin:/bin",
                    "HOME": str(tmp),
                    "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{port}/.rt/{name}",
                    "AWS_LAMBDA_FUNCTION_NAME": name,
                    "AWS_LAMBDA_FUNCTION_VERSION": "1",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096",
                    "AWS_REGION": "us-west-2",
                    "RUST_LOG": "info",
                }
                procs.start(name, [args.qemu, "-L", str(sysroot), str(path)], env, tmp)
                print(f"{name}: {args.qemu} -L {sysroot} {path}")

            # 1. A malformed event: the error reaches the caller as a Lambda error document.
            print(f"invoke zagg-process {{\"shard\": 1}}")
            status, body = invoke(port, "zagg-process", {"shard": 1}, procs, args.timeout)
            print(f"  HTTP {status}: {json.dumps(body)}")
            expect(status == 500, "HTTP 500 for a function error")
            expect(body.get("errorType") == "Zagg.BadInput", "errorType is Zagg.BadInput")
            expect("morton" in str(body.get("errorMessage", "")),
                   "errorMessage names the missing field `morton`")

            # 2. The template Lambda on a local store.
            store = tmp / "arm64.zarr"
            event = {"store": str(store), "config": "atl06"}
            print(f"invoke zagg-template {json.dumps(event)}")
            status, body = invoke(port, "zagg-template", event, procs, args.timeout)
            print(f"  HTTP {status}: {json.dumps(body)}")
            expect(status == 200, "HTTP 200")
            expect(body.get("store") == str(store), "result names the store")
            expect(body.get("parent_order") == PARENT_ORDER, f"parent_order is {PARENT_ORDER}")
            expect((store / "zarr.json").is_file(), "the store's zarr.json exists")

            # 3. The process Lambda on one shard of a demo granule, read from the local file.
            event = {"shard": shard, "morton": morton(shard, PARENT_ORDER), "parent_order": PARENT_ORDER,
                     "granules": [{"s3": str(DEMO_GRANULE), "https": None, "id": DEMO_GRANULE.name}],
                     "store": str(store), "config": "atl06"}
            print(f"invoke zagg-process (shard {shard}, morton {event['morton']}, {DEMO_GRANULE.name})")
            t0 = time.monotonic()
            status, body = invoke(port, "zagg-process", event, procs, args.timeout)
            print(f"  HTTP {status} in {time.monotonic() - t0:.1f} s: {json.dumps(body)}")
            expect(status == 200, "HTTP 200")
            expect(body.get("status") == "ok", "status ok")
            expect(body.get("shard") == shard, "result names the shard")
            expect(body.get("granules_read") == 1 and body.get("granules_failed") == 0,
                   "the granule was read")
            expect(isinstance(body.get("observations"), int) and body["observations"] > 0,
                   "observations > 0")
            chunks = list(store.glob(f"*/*/c/{shard}"))
            expect(len(chunks) > 0, f"chunks of shard {shard} written ({len(chunks)})")
            procs.check_alive()
        except (CheckFailed, SetupError):
            print(procs.logs(), file=sys.stderr)
            raise
        finally:
            procs.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lambda-dir", required=True, help="cargo lambda's output (target/lambda)")
    p.add_argument("--cargo-lambda", default="cargo-lambda", help="the cargo-lambda executable")
    p.add_argument("--qemu", default="qemu-aarch64")
    p.add_argument("--sysroot", default="/usr/aarch64-linux-gnu", help="arm64 glibc (qemu -L)")
    p.add_argument("--timeout", type=float, default=300, help="seconds per invocation")
    args = p.parse_args(argv)
    # A SIGTERM (e.g. a CI timeout) still stops the processes started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(args)
    except SetupError as e:
        print(f"check_arm64: setup error: {e}", file=sys.stderr)
        return 2
    except CheckFailed as e:
        print(f"check_arm64: FAILED: {e}", file=sys.stderr)
        return 1
    print("check_arm64: the arm64 binaries answer under qemu-aarch64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
