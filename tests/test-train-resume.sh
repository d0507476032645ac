#!/bin/sh
# Exact resume: a teacher run killed with SIGKILL mid-way and resumed ends
# with a checkpoint byte-identical to an uninterrupted run of the same length
# (every random draw is a function of seed and step; kernels are
# deterministic for a fixed thread count).
set -u
work=$(mktemp -d "${SCF_TEST_OUT:-/tmp}/resume.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=2

"$SCFLOW" dataset emoji --size 16 --limit 12 --out "$work/data" >/dev/null 2>&1 ||
    fail "could not build the dataset (fonts-noto-color-emoji and unicode-data installed?)"
config="$SCF_FIXTURES/train/tiny-teacher.json"

"$SCFLOW" train --data "$work/data" --config "$config" --out "$work/a" --device cpu -q ||
    fail "uninterrupted run failed"

"$SCFLOW" train --data "$work/data" --config "$config" --out "$work/b" --device cpu -q &
pid=$!
# kill it once the step-4 checkpoint exists, mid-way through the run
i=0
while [ ! -f "$work/b/checkpoints/step-00000004.safetensors" ] && [ $i -lt 600 ]; do
    sleep 0.05; i=$((i + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
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
