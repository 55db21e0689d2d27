#!/usr/bin/env bash
# Bootstrap: system tools, then .venv with the pinned requirements. Idempotent and quick when done.
#   scripts/bootstrap.sh run    # what `make demo` needs: ffmpeg, ffprobe, espeak-ng
#   scripts/bootstrap.sh test   # plus redis-server and the test/lint tools
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
venv=.venv

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- Python ---------------------------------------------------------------------------
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
  done
fi
if [ -z "$python" ] || ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "Python 3.11 or newer is required (found: ${python:-none})."
  exit 1
fi

# --- System tools -----------------------------------------------------------------------
declare -A package_of=([ffmpeg]=ffmpeg [ffprobe]=ffmpeg [espeak-ng]=espeak-ng [redis-server]=redis-server [chromium]=chromium [openssl]=openssl)
tools=(ffmpeg ffprobe espeak-ng)
# chromium: the browser test (tests/test_browser.py) drives Debian's build through Playwright.
# openssl: the webhook tests make a self-signed certificate for their local HTTPS receiver.
[ "$mode" = test ] && tools+=(redis-server chromium openssl)
# promtool (Debian's prometheus package): tests/test_alerts.py checks and unit-tests monitoring/alerts.rules.yml.
package_of[promtool]=prometheus
[ "$mode" = test ] && tools+=(promtool)

missing_packages=()
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    pkg=${package_of[$tool]}
    [[ " ${missing_packages[*]} " == *" $pkg "* ]] || missing_packages+=("$pkg")
  fi
done
# The name card's font (papa_noel_config.NAME_CARD_FONT_FILE), also the burned subtitles' DejaVu Sans.
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; then
  missing_packages+=(fonts-dejavu-core)
fi
# A Debian Python without ensurepip cannot make a venv until python3-venv is installed.
if [ ! -x "$venv/bin/python" ] && ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  py_minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  missing_packages+=("python${py_minor}-venv")
fi

if [ ${#missing_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing_packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing_packages[@]}" >/dev/null
  else
    say "missing system packages: ${missing_packages[*]}"
    say "install them, then run make again:"
    say "    sudo apt-get update && sudo apt-get install -y ${missing_packages[*]}"
    exit 1
  fi
fi

# --- Virtualenv with the pinned requirements ------------------------------------------
requirements=requirements.txt
[ "$mode" = test ] && requirements=requirements-dev.txt
stamp="$venv/.installed-$(basename "$requirements" .txt)"

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv with $python"
  "$python" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ "$requirements" -nt "$stamp" ]; then
  say "installing $requirements into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi
