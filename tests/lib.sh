# shellcheck shell=sh
# What the end-to-end shell tests share; they source it with
#   . "$(dirname "$0")/lib.sh"
# after `set -u`. $SCFLOW names the tool, $SCF_TEST_OUT where work goes.

fail() { echo "FAIL: $*"; exit 1; }

# work = a fresh folder named after $1, removed when the script exits.
make_work() {
    work=$(mktemp -d "${SCF_TEST_OUT:-/tmp}/$1.XXXXXX") || exit 1
    trap 'rm -rf "$work"' EXIT
}

# The tiny emoji dataset the runs train on, in $work/data.
build_dataset() {
    "$SCFLOW" dataset emoji --size 16 --limit 12 --out "$work/data" >/dev/null 2>&1 ||
        fail "could not build the dataset (fonts-noto-color-emoji and unicode-data installed?)"
}

# Runs the command after $1 and $2 in the background and kills it with
# SIGKILL once file $1 exists, or after $2 polls 50 ms apart.
kill_once_written() {
    file=$1; polls=$2; shift 2
    "$@" &
    pid=$!
    i=0
    while [ ! -f "$file" ] && [ $i -lt "$polls" ]; do
        sleep 0.05; i=$((i + 1))
    done
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
}
