#!/bin/sh
# `scflow train|distill --devices LIST` end to end on host ranks: a batch
# that does not split is refused without leaving a run behind, a
# data-parallel run checkpoints and resumes on one device, distillation
# runs on two ranks, and conflicting device options are usage errors.
# (That the numbers match one device is tests/test-data-parallel.c's job.)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
make_work data-parallel
export OMP_NUM_THREADS=2
config="$SCF_FIXTURES/train/tiny-teacher.json"   # batch 4, 8 steps

build_dataset

"$SCFLOW" train --data "$work/data" --config "$config" --out "$work/run" --devices cpu,cpu,cpu \
    -q 2>"$work/err"
[ $? = 1 ] || fail "a batch of 4 over 3 devices was not refused"
grep -q "does not split evenly over the 3 devices cpu,cpu,cpu" "$work/err" ||
    fail "unclear refusal: $(cat "$work/err")"
[ ! -f "$work/run/run.json" ] || fail "the refused run was left behind"

"$SCFLOW" train --data "$work/data" --config "$config" --out "$work/run" --devices cpu,cpu \
    --steps 4 2>"$work/err" || fail "data-parallel training failed: $(cat "$work/err")"
grep -q "Starting run .* on cpu,cpu" "$work/err" || fail "the devices were not named: $(cat "$work/err")"
[ -f "$work/run/checkpoints/step-00000004.safetensors" ] || fail "no checkpoint at step 4"
"$SCFLOW" train --out "$work/run" --resume --device cpu -q ||
    fail "a data-parallel run did not resume on one device"
[ -f "$work/run/model/model.safetensors" ] || fail "the resumed run exported no model"
n=$(grep -c '"step":' "$work/run/metrics.jsonl")
[ "$n" = 8 ] || fail "metrics.jsonl has $n lines, expected 8"

"$SCFLOW" distill --teacher "$work/run/model" --data "$work/data" \
    --config "$SCF_FIXTURES/train/tiny-distill.json" --out "$work/student" --devices cpu,cpu \
    --steps 2 2>"$work/err" || fail "data-parallel distillation failed: $(cat "$work/err")"
grep -q "on cpu,cpu" "$work/err" || fail "the devices were not named: $(cat "$work/err")"
[ -f "$work/student/checkpoints/step-00000002.safetensors" ] || fail "no distillation checkpoint"

for options in "--device cpu --devices cpu,cpu" "--gpus 2 --devices cpu,cpu" "--gpus -1"; do
    # shellcheck disable=SC2086
    "$SCFLOW" train --out "$work/run" --resume $options -q 2>/dev/null
    [ $? = 2 ] || fail "$options is not a usage error"
done
"$SCFLOW" train --out "$work/run" --resume --devices cpu,cuda:0 -q 2>"$work/err"
[ $? = 1 ] && grep -q "cannot share a run" "$work/err" || fail "cpu and cuda mixed: $(cat "$work/err")"
echo "ok"
