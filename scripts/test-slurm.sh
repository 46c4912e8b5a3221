#!/usr/bin/env bash
# `make test-slurm`: tweedie compare --slurm against a real single-node Slurm started on this
# machine (scripts/slurm-local.sh), stopped again whatever happens. Skipped, with a message, only
# where Slurm cannot be installed. Ends with a line "slurm: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bin="$(swift build --show-bin-path)/tweedie"
[ -x "$bin" ] || { echo "test-slurm: build tweedie first (swift build --product tweedie)" >&2; exit 1; }
work=$(mktemp -d)
trap 'scripts/slurm-local.sh stop "$work/slurm"; rm -rf "$work"' EXIT

started=$(scripts/slurm-local.sh start "$work/slurm")
status=$?
if [ $status = 2 ]; then
    echo "test-slurm: skipped: Slurm cannot be installed on this machine"
    echo "slurm: 0 passed, 0 failed, 1 skipped"
    exit 0
elif [ $status != 0 ]; then
    echo "test-slurm: the local Slurm did not start" >&2
    cat "$work/slurm/log/"*.log >&2 2>/dev/null
    echo "slurm: 0 passed, 1 failed"
    exit 1
fi
export "$started"

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1"; }

study=(--model ring8 --schedule vp-linear --samplers euler,heun,ddpm --steps 4,8 --count 64 --seed 3)

# results.csv without the wall-time column (the only one a run may change).
results() { python3 - "$1" <<'PY'
import csv, sys
with open(sys.argv[1]) as f:
    rows = list(csv.reader(f))
drop = rows[0].index("wall_time_s")
for row in rows:
    print(",".join(v for i, v in enumerate(row) if i != drop))
PY
}

# 1. Three shards on Slurm, waited for, equal one process.
"$bin" compare "${study[@]}" --out "$work/one" --quiet
if "$bin" compare "${study[@]}" --out "$work/cluster" --slurm 3 --wait > "$work/cluster.txt" 2>&1 \
    && [ "$(results "$work/one/results.csv")" = "$(results "$work/cluster/results.csv")" ]; then
    pass "compare --slurm 3 --wait writes the results.csv of one process"
else
    fail "compare --slurm 3 --wait: $(cat "$work/cluster.txt")"
fi

# 2. Submitting again resubmits no finished shard.
if "$bin" compare "${study[@]}" --out "$work/cluster" --slurm 3 --wait > "$work/again.txt" 2>&1 \
    && grep -q "all 3 shards already finished" "$work/again.txt"; then
    pass "a second submission resubmits no finished shard"
else
    fail "resubmission: $(cat "$work/again.txt")"
fi

# 3. A failing shard (its output directory is a file): --wait exits non-zero, names it and its
#    log, and the merge never runs.
mkdir -p "$work/bad/shards" && touch "$work/bad/shards/2"
if "$bin" compare "${study[@]}" --out "$work/bad" --slurm 3 --wait > "$work/bad.txt" 2>&1; then
    fail "a failed shard was not reported"
elif grep -q "shard 2 of 3 failed" "$work/bad.txt" && grep -q "shard-2.out" "$work/bad.txt" \
    && [ ! -f "$work/bad/results.csv" ]; then
    pass "a failed shard makes --wait exit non-zero, naming the shard and its log; no merge"
else
    fail "failed shard: $(cat "$work/bad.txt")"
fi

# 4. A guided study (inverse problem): the tasks get the observation files by absolute path.
python3 - "$work/A.npy" "$work/y.npy" <<'PY'
import struct, sys
def npy(path, shape, values):  # a little-endian float64 .npy, without NumPy
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }" % (shape,)
    header += " " * (63 - len(header) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                + struct.pack("<%dd" % len(values), *values))
npy(sys.argv[1], (1, 2), [1.0, 0.3])
npy(sys.argv[2], (1,), [1.2])
PY
guided=(--model ring8 --schedule edm --samplers euler,ddpm --steps 4 --count 32 --seed 5 --guidance exact,mmps
        --operator "$work/A.npy" --y "$work/y.npy" --noise-std 0.5)
"$bin" compare "${guided[@]}" --out "$work/guided-one" --quiet
if (cd /tmp && "$bin" compare "${guided[@]}" --out "$work/guided" --slurm 2 --wait > "$work/guided.txt" 2>&1) \
    && [ "$(results "$work/guided-one/results.csv")" = "$(results "$work/guided/results.csv")" ]; then
    pass "a guided compare --slurm 2 writes the results.csv of one process"
else
    fail "guided compare --slurm: $(cat "$work/guided.txt")"
fi

# 5. Without Slurm on the PATH: one clear line.
if PATH=/nonexistent "$bin" compare "${study[@]}" --out "$work/none" --slurm 2 > "$work/none.txt" 2>&1; then
    fail "--slurm without sbatch succeeded"
elif [ "$(wc -l < "$work/none.txt")" = 1 ] && grep -q "sbatch is not on the PATH" "$work/none.txt"; then
    pass "--slurm without sbatch on the PATH is one clear error"
else
    fail "no sbatch: $(cat "$work/none.txt")"
fi

echo "slurm: $passed passed, $failed failed"
[ $failed = 0 ]
