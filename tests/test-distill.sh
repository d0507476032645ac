#!/bin/sh
# SCFlow distillation end to end on a tiny teacher trained here: 20
# iterations of full SCFlow lower the step-consistency probe (the mean
# absolute difference between 1-step and 4-step samples) by at least 10%,
# a run killed mid-way resumes bit-identically, and the student is exported
# as a one-step model that `scflow generate` can use.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
make_work distill
export OMP_NUM_THREADS=2

build_dataset
"$SCFLOW" train --data "$work/data" --config "$SCF_FIXTURES/train/tiny-teacher.json" \
    --out "$work/teacher" --device cpu -q || fail "teacher training failed"
config="$SCF_FIXTURES/train/tiny-distill.json"

"$SCFLOW" distill --teacher "$work/teacher/model" --data "$work/data" --config "$config" \
    --out "$work/a" --device cpu -q || fail "distillation failed"
probe() { grep "\"step\":$1," "$work/a/metrics.jsonl" | sed 's/.*"consistency_mad_1v4":\([0-9.e-]*\).*/\1/'; }
first=$(probe 1); last=$(probe 20)
echo "consistency probe: step 1 $first, step 20 $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b > 0 && b < 0.9 * a) }' ||
    fail "the 1-vs-4-step difference did not drop by 10% ($first -> $last)"
for term in l_con l_inv l_reflow l_adv d_real d_fake; do
    grep -q "\"step\":20,.*\"$term\":" "$work/a/metrics.jsonl" || fail "metrics lack $term"
done

kill_once_written "$work/b/checkpoints/step-00000010.safetensors" 1200 \
    "$SCFLOW" distill --teacher "$work/teacher/model" --data "$work/data" --config "$config" \
    --out "$work/b" --device cpu -q
"$SCFLOW" distill --out "$work/b" --resume --device cpu -q || fail "resume failed"
cmp "$work/a/checkpoints/step-00000020.safetensors" "$work/b/checkpoints/step-00000020.safetensors" ||
    fail "the resumed distillation differs from the uninterrupted one"

grep -q '"kind" *: *"student"' "$work/a/model/config.json" || fail "the export is not a student"
teacher_name=$(sed -n 's/^ *"name" *: *"\([^"]*\)".*/\1/p' "$work/teacher/model/config.json" | head -n 1)
grep -q "\"teacher\" *: *\"$teacher_name\"" "$work/a/model/config.json" ||
    fail "the export does not name its teacher ($teacher_name)"
"$SCFLOW" generate --model "$work/a/model" --prompt "thumbs up" --seed 1 --out "$work/one.png" -q ||
    fail "the student does not generate"

# The unconditional ResNet discriminator with R1 every 5th step: R1 is
# logged once taken, the run resumes bit-identically (R1 keeps no state
# beyond the discriminator's), and an unknown discriminator is refused by name.
sed -e 's/^{/{"discriminator": "resnet", "resnet_width": 8, "r1_every": 5,/' \
    -e 's/"steps": 20/"steps": 10/' -e 's/"checkpoint_every": 10/"checkpoint_every": 5/' \
    "$config" > "$work/resnet.json"
"$SCFLOW" distill --teacher "$work/teacher/model" --data "$work/data" --config "$work/resnet.json" \
    --out "$work/r" --device cpu -q || fail "distillation with the ResNet discriminator failed"
grep -q '"discriminator": "resnet"' "$work/r/run.json" || fail "run.json lacks the discriminator"
r1=$(grep '"step":10,' "$work/r/metrics.jsonl" | sed 's/.*"d_r1":\([0-9.e+-]*\).*/\1/')
echo "R1 at step 10: $r1"
awk -v r="$r1" 'BEGIN { exit !(r > 0) }' || fail "R1 was not logged at step 10 ($r1)"
kill_once_written "$work/s/checkpoints/step-00000005.safetensors" 1200 \
    "$SCFLOW" distill --teacher "$work/teacher/model" --data "$work/data" \
    --config "$work/resnet.json" --out "$work/s" --device cpu -q
"$SCFLOW" distill --out "$work/s" --resume --device cpu -q || fail "resume (resnet) failed"
cmp "$work/r/checkpoints/step-00000010.safetensors" "$work/s/checkpoints/step-00000010.safetensors" ||
    fail "the resumed distillation with R1 differs from the uninterrupted one"
echo '{"discriminator": "stylegan"}' > "$work/bad.json"
if "$SCFLOW" distill --teacher "$work/teacher/model" --data "$work/data" --config "$work/bad.json" \
    --out "$work/bad" --device cpu -q 2> "$work/bad.err"; then
    fail "an unknown discriminator was accepted"
fi
grep -q 'discriminator.*stylegan.*encoder.*resnet' "$work/bad.err" ||
    fail "the error does not name the discriminator: $(cat "$work/bad.err")"
[ ! -e "$work/bad" ] || fail "a refused run left its folder behind: $(ls -A "$work/bad")"
# a new run over an existing one is refused, and the existing one is left whole
if "$SCFLOW" distill --teacher "$work/teacher/model" --data "$work/data" --config "$config" \
    --out "$work/r" --device cpu -q 2> "$work/again.err"; then
    fail "a new run over an existing one was accepted"
fi
grep -q "already exists" "$work/again.err" || fail "unexpected refusal: $(cat "$work/again.err")"
[ -f "$work/r/run.json" ] || fail "the refused new run removed the existing run's run.json"
echo "ok"
