#!/usr/bin/env bash
# Install the Debian packages ocdn's tests and benchmarks use, when missing:
#   test  -> curl (a client in tests), prometheus + promtool (metrics and alert rules)
#   bench -> nginx (the anchor), wrk (closed-loop load), h2load (open-loop load)
#   build -> gcc and Python's headers (mypyc compiles the edge's hot path)
# Runs apt-get as root, or through sudo when available.
set -euo pipefail
want=()
need() { command -v "$1" >/dev/null 2>&1 || want+=("$2"); }
case "${1:-test}" in
  test)  need curl curl; need prometheus prometheus; need promtool prometheus ;;
  bench) need nginx nginx; need wrk wrk; need h2load nghttp2-client; need curl curl ;;
  build)
    need gcc gcc
    include=$(${PYTHON:-python3} -c "import sysconfig; print(sysconfig.get_paths()['include'])")
    [ -f "$include/Python.h" ] || want+=(python3-dev) ;;
  *) echo "usage: $0 [test|bench|build]" >&2; exit 2 ;;
esac
[ ${#want[@]} -eq 0 ] && exit 0
mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root to install: ${want[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing Debian packages: ${want[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
