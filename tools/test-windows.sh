#!/usr/bin/env bash
# make test-windows: the whole test suite under the Windows CPython of ../shared/winpy (Wine),
# on an Xvfb of its own. Arguments go to pytest instead of the defaults (e.g. one file).
#
# Builds the Windows CPython and installs the Windows wheels of requirements-dev.txt first
# (root and apt on a fresh machine; both return at once when done), then gives the run a
# screen and a Windows of its own, removed on the way out:
# - Xvfb on a free display (-displayfd, as tests/e2e/xscreen.py does);
# - a fresh Wine prefix beside the built Python (wineboot, ~8 s). One wineserver per prefix
#   holds the foreground window, the pointer and the named objects of every Windows process
#   in it, whatever their X display: a kiosk of another run in the shared prefix took the
#   focus and the clicks of this run's kiosk.
# The code page is 936 (GBK), as on the Chinese Windows of a café: Wine takes it from LC_ALL
# (bash then warns that Linux has no such locale: harmless).
# The suite gets LIMIT_S (20 min; it takes 3-4): a Windows process a failing test leaves
# behind keeps winpy's output pipes open, and winpy waits for them.
#   WINPY_DIR   the winpy tool (default ../shared/winpy); WINPY_HOME: where it builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WINPY_DIR=${WINPY_DIR:-../shared/winpy}
[[ -x $WINPY_DIR/winpy ]] || {
    echo "test-windows: no winpy in $WINPY_DIR (shared/ beside this folder; or set WINPY_DIR)" >&2
    exit 1
}
bash "$WINPY_DIR/build.sh" requirements-dev.txt </dev/null
bash tools/ensure-tools.sh Xvfb=xvfb

work=$(mktemp -d)
xvfb=
cleanup() {
    WINEPREFIX=$work/winpy/wineprefix wineserver -k 2>/dev/null || true
    [[ -n $xvfb ]] && kill "$xvfb" 2>/dev/null && wait "$xvfb" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/winpy"
ln -s "${WINPY_HOME:-/var/cache/winpy}/python" "$work/winpy/python"
export WINPY_HOME=$work/winpy
WINEPREFIX=$WINPY_HOME/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
    wineboot -i </dev/null >"$work/wineboot.log" 2>&1 || { cat "$work/wineboot.log" >&2; exit 1; }
WINEPREFIX=$WINPY_HOME/wineprefix wineserver -w

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
[[ $display =~ ^[0-9]+$ ]] || {
    echo "test-windows: Xvfb did not start:" >&2
    cat "$work/xvfb.log" >&2
    exit 1
}
echo "test-windows: Xvfb on :$display"

# --tb=native: CPython 3.11.2's traceback module trips pytest's own (winpy README).
args=("$@")
((${#args[@]})) || args=(-q)
status=0
DISPLAY=:$display LC_ALL=zh_CN.UTF-8 timeout "${LIMIT_S:-1200}" "$WINPY_DIR/winpy" -m pytest \
    --tb=native -p no:cacheprovider "${args[@]}" </dev/null || status=$?
((status != 124)) || echo "test-windows: not done after ${LIMIT_S:-1200} s; stopped" >&2
exit "$status"
