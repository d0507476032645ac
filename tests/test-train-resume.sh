#!/bin/sh
# Exact resume: a teacher run killed with SIGKILL mid-way and resumed ends
# with a checkpoint byte-identical to an uninterrupted run of the same length
# (every random draw is a function of seed and step; kernels are
# deterministic for a fixed thread count).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
make_work resume
export OMP_NUM_THREADS=2

build_dataset
config="$SCF_FIXTURES/train/tiny-teacher.json"

"$SCFLOW" train --data "$work/data" --config "$config" --out "$work/a" --device cpu -q ||
    fail "uninterrupted run failed"

# killed once the step-4 checkpoint exists, mid-way through the run
kill_once_written "$work/b/checkpoints/step-00000004.safetensors" 600 \
    "$SCFLOW" train --data "$work/data" --config "$config" --out "$work/b" --device cpu -q
[ -f "$work/b/checkpoints/step-00000008.safetensors" ] &&
    echo "note: the run finished before the kill; resuming a finished run is still checked"
"$SCFLOW" train --out "$work/b" --resume --device cpu -q || fail "resume failed"

a="$work/a/checkpoints/step-00000008.safetensors"
b="$work/b/checkpoints/step-00000008.safetensors"
[ -f "$a" ] && [ -f "$b" ] || fail "missing final checkpoints"
cmp "$a" "$b" || fail "resumed run differs from the uninterrupted one"
cmp "$work/a/model/model.safetensors" "$work/b/model/model.safetensors" || fail "exported models differ"
# the metrics log has each step once after the resume
n=$(grep -c '"step":' "$work/b/metrics.jsonl")
[ "$n" = 8 ] || fail "metrics.jsonl has $n lines, expected 8"
# a corrupt newest checkpoint is skipped in favour of the one before it
head -c 100 "$b" > "$b.tmp" && mv "$b.tmp" "$b"
"$SCFLOW" train --out "$work/b" --resume --device cpu -q 2>"$work/err" ||
    fail "resume past a corrupt checkpoint failed: $(cat "$work/err")"
grep -q "step-00000008" "$work/err" || fail "the corrupt checkpoint was not named: $(cat "$work/err")"
echo "ok: killed run resumed bit-identically; corrupt checkpoint skipped"
