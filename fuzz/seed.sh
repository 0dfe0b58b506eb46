#!/usr/bin/env bash
# Build the seed corpus of every fuzz target from the committed fixtures, into
# fuzz/corpus/<target>/ (generated, not committed). Safe to rerun: seeds are rewritten,
# inputs the fuzzer added are kept.
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
corpus="$fuzz/corpus"
mkdir -p "$corpus"/{granule_bytes,granule_corrupt,config_yaml,cmr_page}

# granule_bytes: every non-empty fixture, valid and broken, as a whole file.
for f in "$root"/tests/data/fixtures/*.h5; do
    [ -s "$f" ] && cp "$f" "$corpus/granule_bytes/seed-$(basename "$f")"
done

# granule_corrupt: no edit to each of the three fixtures it patches (the first byte picks
# the fixture; the edits are what the fuzzer adds).
printf '\x00' >"$corpus/granule_corrupt/seed-fixture0"
printf '\x01' >"$corpus/granule_corrupt/seed-fixture1"
printf '\x02' >"$corpus/granule_corrupt/seed-fixture2"

# config_yaml: the built-in config, with and without its comments, and a minimal one.
cp "$root/config/atl06.yaml" "$corpus/config_yaml/seed-atl06.yaml"
sed -e 's/[[:space:]]*#.*$//' -e '/^$/d' "$root/config/atl06.yaml" \
    >"$corpus/config_yaml/seed-atl06-bare.yaml"
cat >"$corpus/config_yaml/seed-minimal.yaml" <<'YAML'
source:
  product: ATL06
  beams: [gt1l]
  latitude: /{beam}/lat
  longitude: /{beam}/lon
  columns: {h: /{beam}/h}
grid: {parent_order: 2, leaf_order: 4, ellipsoid: sphere, pyramid: [3]}
aggregation:
  variables:
    n: {reduce: count}
    m: {reduce: quantile, column: h, q: 0.5}
YAML

# cmr_page: the recorded search pages, and pages of one item each (small inputs mutate
# faster).
for f in "$root"/tests/data/cmr/*.json; do cp "$f" "$corpus/cmr_page/seed-$(basename "$f")"; done
python3 - "$root/tests/data/cmr" "$corpus/cmr_page" <<'PY'
import json, pathlib, sys
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for page in sorted(src.glob("*.json")):
    items = json.loads(page.read_text()).get("items", [])
    for i, item in enumerate(items[:8]):
        one = {"hits": 1, "took": 1, "items": [item]}
        (out / f"seed-{page.stem}-item{i}.json").write_text(json.dumps(one))
PY
for t in granule_bytes granule_corrupt config_yaml cmr_page; do
    echo "seed corpus $t: $(ls "$corpus/$t" | wc -l) files"
done
