#!/usr/bin/env python3
"""End to end: the state machine of statemachine/zagg.asl.json run by a real Step Functions
interpreter (moto, in-process) calling the four real Lambda binaries (served by `cargo lambda
watch`), over granules in S3 (moto), with stand-ins for NASA CMR, NSIDC's s3credentials
endpoint and the Lambda secrets extension.

The run covers the faults the pipeline must ride out:
  - a granule that is not HDF5 at all, alone in its shard: the shard fails (retried once),
    shows as a failed item in DescribeMapRun and as a failed shard in run.json, and the run
    still succeeds (tolerated);
  - a granule with a corrupt deflate stream, in shards with good granules: those shards
    succeed and count it in run.json (granules_failed);
  - a flaky dependency: the S3 server, through a fault-injecting proxy, answers 503 SlowDown
    to the first writes of one chunk until the Lambda's retries give up, so the shard fails
    with Zagg.Transient and the state machine retries it (run.json lists it as retried);
  - Lambda throttling: the first process invocation gets TooManyRequestsException, which the
    state machine retries.
Then the store in S3 must equal, object for object and byte for byte, the store `zagg run`
writes locally from the same catalog.

Usage (from the repository root; the test command runs it):
    python tests/python/sfn_e2e.py --zagg target/debug/zagg --work /tmp/e2e
Needs: moto[server] (see requirements.txt), boto3, `cargo lambda` on PATH.
"""

import argparse
import copy
import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
GRANULE_BUCKET = "nsidc-cumulus-prod-protected"
BUCKET = "zagg-e2e"
STORE = f"s3://{BUCKET}/c22.zarr"
LAMBDAS = ["catalog", "template", "process", "consolidate"]
# Sentinels: they must reach the stand-ins and nothing else.
EDL_TOKEN = "edl-sentinel-token-7f3a"
SESSION_TOKEN = "lambda-session-sentinel-91c2"

BAD_NAME = "ATL06_20240201010101_05202210_006_01.h5"  # not HDF5 at all
CORRUPT_NAME = "ATL06_20240202020202_05312210_006_01.h5"  # corrupt deflate in gt2l/h_li


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def log(*a):
    print("[sfn-e2e]", *a, flush=True)


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)
    log("ok:", what)


# ---------------------------------------------------------------- stand-in HTTP services


def serve(handler_cls):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def cmr_items():
    """The demo granules' UMM-G records, plus the two bad granules (cycle 22, release 006)."""
    page = json.loads((ROOT / "tests/data/cmr/demo_cycle22.json").read_text())
    items = []
    for it in page["items"]:
        it = copy.deepcopy(it)
        for u in it["umm"]["RelatedUrls"]:
            u["URL"] = u["URL"].replace("file://{DEMO_DIR}/", "https://data.example.test/")
        items.append(it)

    def extra(src, name, concept, w, s, e, n):
        it = copy.deepcopy(src)
        day = name[6:14]
        key = f"ATLAS/ATL06/006/{day[:4]}/{day[4:6]}/{day[6:]}/{name}"
        it["meta"]["concept-id"] = concept
        it["meta"]["native-id"] = name
        it["umm"]["GranuleUR"] = name
        it["umm"]["RelatedUrls"] = [
            {"URL": f"https://data.example.test/{key}", "Type": "GET DATA"},
            {"URL": f"s3://{GRANULE_BUCKET}/{key}", "Type": "GET DATA VIA DIRECT ACCESS"},
        ]
        ring = [(w, s), (e, s), (e, n), (w, n), (w, s)]
        it["umm"]["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"] = {
            "GPolygons": [
                {"Boundary": {"Points": [{"Longitude": x, "Latitude": y} for x, y in ring]}}
            ]
        }
        it["umm"]["DataGranule"]["ArchiveAndDistributionInformation"][0]["Name"] = name
        return it, key

    # Far from the demo swaths (East Antarctica): its shard has no other granule.
    bad, bad_key = extra(items[0], BAD_NAME, "G2800000101-NSIDC_CPRD", 59.0, -80.2, 60.0, -79.9)
    # Where its points are: inside the demo swaths.
    corrupt, corrupt_key = extra(
        items[0], CORRUPT_NAME, "G2800000102-NSIDC_CPRD", -107.25, -76.85, -106.75, -76.65
    )
    return items + [bad, corrupt], {
        bad_key: (ROOT / "tests/data/fixtures/not_hdf5.h5").read_bytes(),
        corrupt_key: (ROOT / "tests/data/fixtures/corrupt_deflate.h5").read_bytes(),
    }


def make_cmr(items, seen):
    class Cmr(Quiet):
        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(url.query)
            seen.append(q)
            if url.path != "/search/granules.umm_json":
                return self.reply(404, {"errors": [f"no route {url.path}"]})
            pattern = (q.get("readable_granule_name[]") or [""])[0]
            version = (q.get("version") or [""])[0]
            # The cycle pattern ATL06_*_????CC??_* selects by the cycle digits of the name.
            m = re.fullmatch(r"ATL06_\*_\?\?\?\?(\d\d)\?\?_\*", pattern)
            if not m or version != "006" or q.get("short_name") != ["ATL06"]:
                return self.reply(400, {"errors": [f"unexpected query {url.query}"]})
            cycle = m.group(1)
            chosen = [
                it
                for it in items
                if it["umm"]["GranuleUR"].split("_")[2][4:6] == cycle
            ]
            if self.headers.get("CMR-Search-After"):
                chosen = []
            headers = [("CMR-Hits", str(len(chosen) if not self.headers.get("CMR-Search-After") else 0))]
            if chosen:
                headers.append(("CMR-Search-After", '["done"]'))
            self.reply(200, {"hits": len(chosen), "took": 1, "items": chosen}, headers)

    return Cmr


def make_s3credentials(seen):
    class Creds(Quiet):
        def do_GET(self):
            seen.append(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != f"Bearer {EDL_TOKEN}":
                return self.reply(401, {"error": "unauthorized"})
            expiration = time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(time.time() + 3600))
            self.reply(
                200,
                {
                    "accessKeyId": "nsidc-temporary-key",
                    "secretAccessKey": "nsidc-temporary-secret",
                    "sessionToken": "nsidc-temporary-session",
                    "expiration": expiration,
                },
            )

    return Creds


def make_secrets_extension(seen):
    class Secrets(Quiet):
        def do_GET(self):
            seen.append(self.path)
            if self.headers.get("X-Aws-Parameters-Secrets-Token") != SESSION_TOKEN:
                return self.reply(401, {"error": "no session token"})
            self.reply(200, {"Name": "earthdata", "SecretString": json.dumps({"token": EDL_TOKEN})})

    return Secrets


class FaultProxy:
    """Forwards S3 requests to moto; fails the first writes of one chunk with 503 SlowDown."""

    def __init__(self, upstream_port, pattern, failures):
        self.upstream_port = upstream_port
        self.pattern = re.compile(pattern)
        self.failures = failures
        self.target = None
        self.injected = 0
        self.requests = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(Quiet):
            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    proxy.requests += 1
                    inject = False
                    if self.command == "PUT" and proxy.pattern.search(self.path):
                        if proxy.target is None:
                            proxy.target = self.path
                        if self.path == proxy.target and proxy.injected < proxy.failures:
                            proxy.injected += 1
                            inject = True
                if inject:
                    return self.reply(
                        503,
                        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                        b"<Message>Please reduce your request rate.</Message></Error>",
                        [("Content-Type", "application/xml")],
                    )
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                # A HEAD answer's length is the object's, not its (empty) body's.
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server, self.url = serve(Handler)


# ---------------------------------------------------------------- moto + cargo lambda watch


def start_moto(watch_urls, throttle):
    """moto in this process, with Lambda invocations forwarded to `cargo lambda watch`."""
    port = free_port()
    os.environ["MOTO_PORT"] = str(port)
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.server import ThreadedMotoServer

    class TooManyRequests(LambdaClientError):
        code = 429

        def __init__(self):
            super().__init__("TooManyRequestsException", "Rate Exceeded.")

    invocations = {"throttled": 0, "calls": []}
    lock = threading.Lock()

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        fn = self.get_function(function_name, qualifier)
        name = fn.function_name
        with lock:
            invocations["calls"].append(name)
            if name == "zagg-process" and throttle and invocations["throttled"] < 1:
                invocations["throttled"] += 1
                raise TooManyRequests()
        url = f"{watch_urls[name]}/2015-03-31/functions/{name}/invocations"
        data = body if isinstance(body, bytes) else (body or "{}").encode()
        req = urllib.request.Request(url, data=data, method="POST")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=900) as r:
                payload = r.read()
        except urllib.error.HTTPError as e:
            # cargo lambda watch answers a function error with HTTP 500 and the error JSON.
            payload = e.read()
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(payload))
        return payload

    # Without Docker moto answers invocations from its "simple" backend: forward both.
    LambdaBackend.invoke = invoke
    LambdaSimpleBackend.invoke = invoke
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    req = urllib.request.Request(
        f"{url}/moto-api/config",
        data=json.dumps(
            {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        ).encode(),
        method="POST",
    )
    urllib.request.urlopen(req, timeout=30).read()
    return server, url, port, invocations


def start_watches(env, logdir):
    """One `cargo lambda watch` per Lambda crate (each serves its binary)."""
    procs, urls = [], {}
    for name in LAMBDAS:
        port = free_port()
        out = open(logdir / f"watch-{name}.log", "wb")
        args = [
            "cargo", "lambda", "watch", "--ignore-changes", "--quiet",
            "-A", "127.0.0.1", "-P", str(port),
            "--manifest-path", str(ROOT / f"lambdas/{name}/Cargo.toml"),
        ]
        if name == "process":
            args += ["--concurrency", "4"]
        p = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(p)
        urls[f"zagg-{name}"] = f"http://127.0.0.1:{port}"
    for p, (name, url) in zip(procs, urls.items()):
        port = int(url.rsplit(":", 1)[1])
        for _ in range(600):
            if p.poll() is not None:
                stop(procs)
                text = (logdir / f"watch-{name[5:]}.log").read_text(errors="replace")
                raise Fail(f"cargo lambda watch for {name} exited: {text[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            stop(procs)
            raise Fail(f"cargo lambda watch for {name} did not start")
    return procs, urls


def stop(procs):
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


# ---------------------------------------------------------------- the run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zagg", required=True, help="the zagg binary (for the reference run)")
    ap.add_argument("--work", required=True, help="a scratch directory")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds for the execution")
    args = ap.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # moto's interpreter logs every expected task failure with its whole state tree.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    import boto3

    items, extra_objects = cmr_items()
    cmr_seen, creds_seen, secret_seen = [], [], []
    cmr, cmr_url = serve(make_cmr(items, cmr_seen))
    creds, creds_url = serve(make_s3credentials(creds_seen))
    ext, ext_url = serve(make_secrets_extension(secret_seen))

    watch_urls = {}
    moto, moto_url, moto_port, invocations = start_moto(watch_urls, throttle=True)
    proxy = FaultProxy(moto_port, r"/c22\.zarr/12/h_mean/c/", failures=2)
    log("moto", moto_url, "proxy", proxy.url, "cmr", cmr_url)

    aws = dict(
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3 = boto3.client("s3", **aws)
    for b in (GRANULE_BUCKET, BUCKET):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": REGION})
    for it in items[:-2]:
        name = it["umm"]["GranuleUR"]
        s3_url = next(u["URL"] for u in it["umm"]["RelatedUrls"] if u["URL"].startswith("s3://") and u["URL"].endswith(".h5"))
        key = s3_url.split("/", 3)[3]
        s3.put_object(Bucket=GRANULE_BUCKET, Key=key, Body=(ROOT / "tests/data/demo" / name).read_bytes())
    for key, data in extra_objects.items():
        s3.put_object(Bucket=GRANULE_BUCKET, Key=key, Body=data)

    # What every Lambda sees: S3 through the fault proxy; NASA through the stand-ins.
    lambda_env = dict(os.environ)
    for k in list(lambda_env):
        if k.startswith(("AWS_", "EARTHDATA_", "ZAGG_")) or k == "RUST_BACKTRACE":
            del lambda_env[k]
    # `cargo lambda` from the same environment as this Python (pip install cargo-lambda).
    lambda_env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), lambda_env.get("PATH", "")])
    lambda_env.update(
        AWS_ENDPOINT_URL=proxy.url,
        AWS_ALLOW_HTTP="true",
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="lambda-role-key",
        AWS_SECRET_ACCESS_KEY="lambda-role-secret",
        AWS_SESSION_TOKEN=SESSION_TOKEN,
        ZAGG_CMR_URL=cmr_url,
        ZAGG_S3CREDENTIALS_URL=f"{creds_url}/s3credentials",
        ZAGG_SECRETS_EXTENSION_URL=ext_url,
        ZAGG_EARTHDATA_SECRET_ARN="arn:aws:secretsmanager:us-west-2:123456789012:secret:earthdata-AbCdEf",
        ZAGG_MAX_RETRIES="1",
        RUST_LOG="info",
    )
    procs, urls = start_watches(lambda_env, work)
    watch_urls.update(urls)
    try:
        run_execution(
            args, work, aws, s3, proxy, invocations, cmr_seen, creds_seen, secret_seen, creds_url
        )
    finally:
        stop(procs)
        moto.stop()
        for srv in (cmr, creds, ext, proxy.server):
            srv.shutdown()


def run_execution(
    args, work, aws, s3, proxy, invocations, cmr_seen, creds_seen, secret_seen, creds_url
):
    import boto3

    iam = boto3.client("iam", **aws)
    role = iam.create_role(
        RoleName="zagg-e2e",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lam = boto3.client("lambda", **aws)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    arns = {}
    for name in LAMBDAS:
        fn = lam.create_function(
            FunctionName=f"zagg-{name}",
            Runtime="provided.al2023",
            Role=role,
            Handler="bootstrap",
            Code={"ZipFile": zipped.getvalue()},
            Architectures=["arm64"],
            MemorySize=2048,
            Timeout=900,
        )
        arns[name] = fn["FunctionArn"]

    definition = (ROOT / "statemachine/zagg.asl.json").read_text()
    subs = {
        "CatalogFunctionArn": arns["catalog"],
        "TemplateFunctionArn": arns["template"],
        "ProcessFunctionArn": arns["process"],
        "ConsolidateFunctionArn": arns["consolidate"],
        "ResultsBucket": BUCKET,
        "ResultsPrefix": "map-results",
    }
    for k, v in subs.items():
        definition = definition.replace("${" + k + "}", v)
    check("${" not in definition, "every ${…} placeholder substituted")
    sfn = boto3.client("stepfunctions", **aws)
    sm = sfn.create_state_machine(name="zagg", definition=definition, roleArn=role)["stateMachineArn"]
    execution_input = {
        "cycle": 22,
        # The resolve step fills in the cycle: s3://zagg-e2e/c22.zarr.
        "store": STORE.replace("c22", "c{cycle}"),
        "product_version": "006",
        "max_concurrency": 4,
        "tolerated_failure_percentage": 50.0,
    }
    started = time.time()
    ex = sfn.start_execution(
        stateMachineArn=sm, name="zagg-c22-e2e", input=json.dumps(execution_input)
    )["executionArn"]
    log("execution", ex)
    while True:
        d = sfn.describe_execution(executionArn=ex)
        if d["status"] != "RUNNING":
            break
        if time.time() - started > args.timeout:
            raise Fail(f"the execution still runs after {args.timeout} s")
        time.sleep(2)
    log(f"execution {d['status']} after {time.time() - started:.0f} s")
    if d["status"] != "SUCCEEDED":
        history = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
        for e in history[-15:]:
            log(json.dumps(e, default=str)[:800])
        raise Fail(f"execution {d['status']}: {d.get('error')} {d.get('cause')}")
    output = json.loads(d["output"])
    (work / "execution-output.json").write_text(json.dumps(output, indent=2))

    # The catalog the execution made.
    catalog = json.loads(s3.get_object(Bucket=BUCKET, Key="c22.zarr/catalog.json")["Body"].read())
    (work / "catalog.json").write_text(json.dumps(catalog))
    shards = {c["shard"] for c in catalog}
    bad_shards = {c["shard"] for c in catalog if [g["id"] for g in c["granules"]] == [BAD_NAME]}
    corrupt_shards = {c["shard"] for c in catalog if CORRUPT_NAME in [g["id"] for g in c["granules"]]}
    check(len(bad_shards) >= 1, f"the non-HDF5 granule is alone in its shard(s) {sorted(bad_shards)}")
    check(
        corrupt_shards and all(len(c["granules"]) > 1 for c in catalog if c["shard"] in corrupt_shards),
        "the corrupt granule shares its shards with good granules",
    )
    check(any("readable_granule_name[]" in q for q in cmr_seen), "the catalog Lambda asked the CMR stand-in")

    # DescribeMapRun.
    runs = sfn.list_map_runs(executionArn=ex)["mapRuns"]
    check(len(runs) == 1, "one Map Run")
    mr = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
    counts = mr["itemCounts"]
    log("DescribeMapRun itemCounts", {k: v for k, v in counts.items()})
    check(counts["total"] == len(shards), f"{len(shards)} items, one per catalog shard")
    check(counts["failed"] == len(bad_shards), f"{len(bad_shards)} failed item(s): the non-HDF5 granule's shard")
    check(counts["succeeded"] == len(shards) - len(bad_shards), "every other item succeeded")
    check(mr["maxConcurrency"] == 4, "MaxConcurrency from the input")

    # run.json.
    report = json.loads(s3.get_object(Bucket=BUCKET, Key="c22.zarr/run.json")["Body"].read())
    (work / "run.json").write_text(json.dumps(report, indent=2))
    check(report["run"] == "zagg-c22-e2e" and report["cycle"] == 22, "run.json names the run and cycle")
    check(report["shards"] == len(shards), "run.json counts every catalog shard")
    failed = {f["shard"]: f for f in report["failed"]}
    check(set(failed) == bad_shards, "run.json lists the failed shard(s)")
    for f in failed.values():
        check(
            f["error"] == "Zagg.GranulesUnreadable" and BAD_NAME in f["cause"] and f["attempts"] == 2,
            "the failed shard: Zagg.GranulesUnreadable naming the granule, tried twice",
        )
    check(report["granules_failed"] >= len(corrupt_shards), "run.json counts the corrupt granule in its shards")
    corrupt_results = [r for r in report["results"] if r["shard"] in corrupt_shards]
    check(
        all(any(CORRUPT_NAME in x["granule"] for x in r["failures"]) for r in corrupt_results),
        "each of the corrupt granule's shards names it among its failures",
    )
    retried = {r["shard"]: r for r in report["retried"]}
    check(proxy.injected == 2, f"the proxy failed two writes of {proxy.target}")
    check(
        any(any(e["error"] == "Zagg.Transient" and "503" in e["cause"] or "SlowDown" in e["cause"] for e in r["errors"]) for r in retried.values()),
        "run.json lists the shard retried after the flaky S3 writes (Zagg.Transient)",
    )
    check(invocations["throttled"] == 1, "one process invocation was throttled, and retried")
    check(report["within_tolerance"] is True and output["within_tolerance"] is True, "within tolerance")
    check(report["cost"]["total_usd"] > 0, f"estimated cost {report['cost']['total_usd']:.6f} USD")
    check(output["shards_ok"] == report["shards_ok"] > 0, "the execution output is the run summary")

    # The reference: `zagg run` on the same catalog, reading the same granules straight from
    # moto, writing a local store.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EARTHDATA_", "ZAGG_"))}
    env.update(
        AWS_ENDPOINT_URL=aws["endpoint_url"],
        AWS_ALLOW_HTTP="true",
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        EARTHDATA_TOKEN=EDL_TOKEN,
        ZAGG_S3CREDENTIALS_URL=f"{creds_url}/s3credentials",
    )
    local = work / "reference.zarr"
    ref = subprocess.run(
        [args.zagg, "run", "--catalog", str(work / "catalog.json"), "--store", str(local), "--jobs", "2", "--access", "s3"],
        env=env,
    )
    # Exit status 2: the run finished but some shards failed (here the non-HDF5 one).
    check(ref.returncode == 2, "`zagg run` on the same catalog finishes, reporting the failed shard")
    remote = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="c22.zarr/"):
        for o in page.get("Contents", []):
            remote[o["Key"][len("c22.zarr/"):]] = o["Key"]
    skip = re.compile(r"^(run\.json|catalog\.json|catalog\.meta\.json|runs/.*)$")
    remote_keys = {k for k in remote if not skip.match(k)}
    local_keys = {str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()}
    local_keys = {k for k in local_keys if not skip.match(k)}
    check(remote_keys == local_keys, f"the same {len(local_keys)} objects as `zagg run` (chunks and metadata)")
    differ = [k for k in sorted(remote_keys) if s3.get_object(Bucket=BUCKET, Key=remote[k])["Body"].read() != (local / k).read_bytes()]
    check(not differ, f"every object byte-identical to `zagg run` ({differ[:5]})")
    chunks = [k for k in local_keys if "/c/" in k]
    check(len(chunks) > 0, f"{len(chunks)} chunks compared")

    # The same run again (as a schedule firing twice in a cycle): it ends early, successfully,
    # without touching a shard.
    again = sfn.start_execution(
        stateMachineArn=sm, name="zagg-c22-e2e-again", input=json.dumps(execution_input)
    )["executionArn"]
    deadline = time.time() + 300
    while (d2 := sfn.describe_execution(executionArn=again))["status"] == "RUNNING":
        if time.time() > deadline:
            raise Fail("the second execution still runs")
        time.sleep(1)
    events = sfn.get_execution_history(executionArn=again, maxResults=1000)["events"]
    entered = [
        e.get("stateEnteredEventDetails", {}).get("name")
        for e in events
        if "stateEnteredEventDetails" in e
    ]
    check(
        d2["status"] == "SUCCEEDED" and "NothingToDo" in entered and "Shards" not in entered,
        "a second execution for a complete cycle ends early, successfully, without a Map",
    )
    check(len(sfn.list_map_runs(executionArn=again)["mapRuns"]) == 0, "no Map Run the second time")

    # No credential in anything the pipeline wrote or returned.
    texts = [json.dumps(output), json.dumps(report)]
    history = sfn.get_execution_history(executionArn=ex, maxResults=1000)["events"]
    texts.append(json.dumps(history, default=str))
    history2 = sfn.get_execution_history(executionArn=again, maxResults=1000)["events"]
    texts.append(json.dumps(history2, default=str))
    for p in work.glob("watch-*.log"):
        texts.append(p.read_text(errors="replace"))
    # Every object of every bucket, byte for byte: the store (chunks, metadata, run.json, shard
    # records), the catalogs, the Map's result files, the granules.
    scanned = 0
    for b in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"]):
            for o in page.get("Contents", []):
                texts.append(s3.get_object(Bucket=b["Name"], Key=o["Key"])["Body"].read().decode("latin-1"))
                scanned += 1
    log(f"scanned {scanned} objects, {len(texts) - scanned} histories, outputs and logs")
    for secret in (EDL_TOKEN, SESSION_TOKEN, "nsidc-temporary-secret", "nsidc-temporary-session", "lambda-role-secret"):
        check(
            not any(secret in t for t in texts),
            f"no {secret[:12]}… in histories, output, Lambda logs or any of {scanned} stored objects",
        )
    check(any(c == f"Bearer {EDL_TOKEN}" for c in creds_seen), "the process Lambda got NSIDC credentials with the token from the secret")
    check(len(secret_seen) >= 1, "the secret was read through the extension")


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        log("FAILED:", e)
        sys.exit(1)
    log("all checks passed")
