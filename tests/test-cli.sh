#!/bin/sh
# The command line's contract: --help, --version, usage errors exit 2.
set -u
fail=0
check() { # description, expected status, command...
    desc=$1; want=$2; shift 2
    out=$("$@" 2>&1); got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $desc: exit $got, expected $want"; echo "$out"; fail=1
    else
        echo "ok: $desc"
    fi
}
check "--help" 0 "$SCFLOW" --help
check "--version" 0 "$SCFLOW" --version
check "no command" 2 "$SCFLOW"
check "unknown command" 2 "$SCFLOW" frobnicate
"$SCFLOW" --version | grep -Eq '^scflow [0-9]+\.[0-9]+\.[0-9]+$' || { echo "FAIL: version format"; fail=1; }
"$SCFLOW" --help | grep -q 'Usage: scflow COMMAND' || { echo "FAIL: help text"; fail=1; }
exit $fail
