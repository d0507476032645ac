#!/bin/sh
# Runs a GTK test program on a private X server and session bus.
# Exits 77 (skipped) when no X server can be had.
set -u

# A private session bus: GApplication registers on it, and none is left
# running afterwards (an autolaunched one would be).
if [ -z "${SCF_IN_PRIVATE_BUS:-}" ] && command -v dbus-run-session >/dev/null 2>&1; then
    SCF_IN_PRIVATE_BUS=1 exec dbus-run-session -- "$0" "$@"
fi

if command -v xvfb-run >/dev/null 2>&1; then
    exec xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" "$@"
fi

if command -v Xvfb >/dev/null 2>&1; then
    n=99
    while [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ]; do
        n=$((n + 1))
    done
    Xvfb ":$n" -screen 0 1280x1024x24 -nolisten tcp >/dev/null 2>&1 &
    xvfb_pid=$!
    trap 'kill "$xvfb_pid" 2>/dev/null; wait "$xvfb_pid" 2>/dev/null' EXIT
    tries=0
    while [ ! -e "/tmp/.X11-unix/X$n" ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 50 ] || ! kill -0 "$xvfb_pid" 2>/dev/null; then
            echo "run-xvfb.sh: Xvfb did not start on :$n" >&2
            exit 77
        fi
        sleep 0.1
    done
    DISPLAY=":$n" "$@"
    exit $?
fi

if [ -n "${DISPLAY:-}" ]; then
    echo "run-xvfb.sh: no Xvfb; using the existing display $DISPLAY" >&2
    exec "$@"
fi

echo "run-xvfb.sh: skipped: no Xvfb (apt install xvfb) and no DISPLAY" >&2
exit 77
