#!/usr/bin/env bash
# Makes sure the end-to-end tests' system tools are here: Xvfb (virtual X screen),
# xdotool (input, window search) and xwd from x11-apps (screenshots). Installs
# them with apt-get when missing and allowed (root, or sudo without a password).
set -euo pipefail

declare -A PACKAGE_OF=([Xvfb]=xvfb [xdotool]=xdotool [xwd]=x11-apps)
missing=()
for tool in "${!PACKAGE_OF[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
done
((${#missing[@]})) || exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "The end-to-end tests need: ${missing[*]}. Install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "The end-to-end tests need ${missing[*]} and this machine has no apt-get." >&2
    exit 1
fi
echo "installing ${missing[*]} for the end-to-end tests"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get -o Acquire::Retries=3 update -qq </dev/null
"${as_root[@]}" apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends \
    "${missing[@]}" </dev/null
