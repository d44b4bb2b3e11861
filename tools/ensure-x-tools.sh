#!/usr/bin/env bash
# Makes sure the end-to-end tests' X tools are here: Xvfb (virtual X screen), xdotool
# (input, window search) and xwd from x11-apps (screenshots); see tools/ensure-tools.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/ensure-tools.sh" Xvfb=xvfb xdotool=xdotool xwd=x11-apps
