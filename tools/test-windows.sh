#!/usr/bin/env bash
# make test-windows: the whole test suite under the Windows CPython of ../shared/winpy (Wine),
# on an Xvfb of its own. Arguments go to pytest instead of the defaults (e.g. one file).
#
# Builds the Windows CPython and installs the Windows wheels of requirements-dev.txt first
# (root and apt on a fresh machine; both return at once when done), then starts Xvfb on a
# free display (-displayfd, as tests/e2e/xscreen.py does) and stops it on the way out.
#   WINPY_DIR   the winpy tool (default ../shared/winpy); WINPY_HOME: where it builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WINPY_DIR=${WINPY_DIR:-../shared/winpy}
[[ -x $WINPY_DIR/winpy ]] || {
    echo "test-windows: no winpy in $WINPY_DIR (the shared/ folder beside this one; set WINPY_DIR)" >&2
    exit 1
}
bash "$WINPY_DIR/build.sh" requirements-dev.txt </dev/null
bash tools/ensure-tools.sh Xvfb=xvfb

work=$(mktemp -d)
xvfb=
cleanup() {
    [[ -n $xvfb ]] && kill "$xvfb" 2>/dev/null && wait "$xvfb" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Xvfb writes the display number it took to fd 3 once it listens.
Xvfb -displayfd 3 -screen 0 1280x720x24 -nolisten tcp -noreset \
    3>"$work/display" </dev/null >"$work/xvfb.log" 2>&1 &
xvfb=$!
for _ in $(seq 100); do
    grep -q . "$work/display" 2>/dev/null && break
    kill -0 "$xvfb" 2>/dev/null || break
    sleep 0.1
done
display=$(head -n1 "$work/display" 2>/dev/null || true)
[[ $display =~ ^[0-9]+$ ]] || { echo "test-windows: Xvfb did not start:" >&2; cat "$work/xvfb.log" >&2; exit 1; }
echo "test-windows: Xvfb on :$display"

# --tb=native: CPython 3.11.2's traceback module trips pytest's own (winpy README).
args=("$@")
((${#args[@]})) || args=(-q)
status=0
DISPLAY=:$display "$WINPY_DIR/winpy" -m pytest --tb=native -p no:cacheprovider "${args[@]}" \
    </dev/null || status=$?
exit "$status"
