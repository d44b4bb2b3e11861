#!/usr/bin/env bash
# Makes sure the system tools the tests need are here, each given as TOOL=PACKAGE
# (a program looked for on PATH and in /usr/sbin, or a file given by its absolute path,
# and the Debian package that has it).
# Installs the missing packages with apt-get when allowed (root, or sudo without a
# password); otherwise says the one command to run.
#   bash tools/ensure-tools.sh Xvfb=xvfb rsyslogd=rsyslog
set -euo pipefail

missing=()
for pair in "$@"; do
    tool=${pair%%=*}
    package=${pair#*=}
    case $tool in
        /*) [ -e "$tool" ] || missing+=("$package") ;;
        *) command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$package") ;;
    esac
done
((${#missing[@]})) || exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "The tests need: ${missing[*]}. Install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The tests need ${missing[*]} and this machine has no apt-get." >&2
    exit 1
fi
echo "installing ${missing[*]} for the tests"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get -o Acquire::Retries=3 update -qq </dev/null
"${as_root[@]}" apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null
