#!/bin/sh
# One run per run folder: while `scflow train` trains in a folder, a second
# train (new or --resume) or distill into it is refused at once with an
# error naming the folder and the first one's pid, and leaves the first one
# running; after the holder stops, or is killed with SIGKILL, the folder can
# be resumed.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
make_work run-lock
holder=
trap '[ -n "$holder" ] && kill -9 "$holder" 2>/dev/null; rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

build_dataset
# the fixture's tiny teacher, long enough to still be training when refused
sed '/"training"/,/}/ s/"steps": 8,/"steps": 100000,/' "$SCF_FIXTURES/train/tiny-teacher.json" > "$work/long.json"
grep -q '"steps": 100000,' "$work/long.json" || fail "could not lengthen the fixture's run"
run="$work/run"

# Starts a run in the background (holder=its pid) and waits until it holds
# the folder: its pid is in the lock file.
start_holder() {
    "$SCFLOW" train "$@" --out "$run" --device cpu -q 2>"$work/holder.err" &
    holder=$!
    i=0
    until [ "$(cat "$run/run.lock" 2>/dev/null)" = "$holder" ]; do
        kill -0 "$holder" 2>/dev/null || fail "the first run ended early: $(cat "$work/holder.err")"
        [ $i -lt 1200 ] || fail "the first run did not lock its folder in 60 s"
        sleep 0.05; i=$((i + 1))
    done
}

# A second command on the locked folder: exit 1, the folder and the pid named.
refused() { # description, command arguments...
    desc=$1; shift
    "$SCFLOW" "$@" >"$work/out" 2>&1 && fail "$desc: not refused: $(cat "$work/out")"
    grep -q "$run: another run is training in this folder (process $holder)" "$work/out" ||
        fail "$desc: the error does not name the folder and pid $holder: $(cat "$work/out")"
    kill -0 "$holder" 2>/dev/null || fail "$desc: the first run stopped"
    echo "ok: $desc refused: $(cat "$work/out")"
}

start_holder --data "$work/data" --config "$work/long.json"
refused "train --resume" train --out "$run" --resume --device cpu -q
refused "a new train" train --data "$work/data" --config "$work/long.json" --out "$run" -q
refused "distill" distill --teacher "$work/no-teacher" --data "$work/data" --out "$run" -q

# Stopped as Ctrl+C stops it: the lock goes with the process.
kill -TERM "$holder"
wait "$holder"
holder=
"$SCFLOW" train --out "$run" --resume --steps 1 --device cpu -q ||
    fail "resume after the holder stopped failed"
echo "ok: resumed after the holder stopped"

# Killed outright: the kernel releases the lock.
start_holder --resume
kill -9 "$holder"
wait "$holder" 2>/dev/null
holder=
"$SCFLOW" train --out "$run" --resume --steps 1 --device cpu -q ||
    fail "resume after the holder was killed failed"
echo "ok: resumed after the holder was killed"
