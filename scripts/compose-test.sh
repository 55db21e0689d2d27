#!/usr/bin/env bash
# `make compose-test`: build the image, run the whole stack under Docker, order a video over HTTP,
# check it with ffprobe, restart Redis and a worker, check nothing was lost, take it all down.
# On a machine without Docker it installs Debian's docker.io/docker-compose/debootstrap (as root),
# starts dockerd when none answers (and stops that one, by PID, at the end), and builds a local
# Debian bookworm base by debootstrap when no registry is reachable (kept as local/debian:bookworm,
# so later runs skip it). See docs/DEPLOYMENT.md.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'compose-test: %s\n' "$*" >&2; }
started=$(date +%s)

# --- Debian's Docker tools ----------------------------------------------------------------------
missing=()
[ -x /usr/sbin/dockerd ] || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then say "missing: ${missing[*]} (sudo apt-get install -y ${missing[*]})"; exit 1; fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's client: another (newer) one may sit earlier on PATH; both talk to the same engine.
export PATH=/usr/bin:/usr/sbin:$PATH
docker=/usr/bin/docker

# --- the engine --------------------------------------------------------------------------------
dockerd_pid=''
project=${COMPOSE_PROJECT_NAME:-papanoel-ci-$$}
cleanup() {
  rc=$?
  if [ -n "${compose_up:-}" ]; then
    [ "$rc" = 0 ] || docker-compose -p "$project" logs --tail=60 >&2 || true
    docker-compose -p "$project" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  if [ -n "$dockerd_pid" ]; then
    say "stopping the dockerd we started (pid $dockerd_pid)"
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  say "finished in $(( $(date +%s) - started )) s (rc=$rc)"
}
trap cleanup EXIT
if ! $docker info >/dev/null 2>&1; then
  say "starting dockerd"
  /usr/sbin/dockerd >/tmp/papanoel-dockerd.log 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do $docker info >/dev/null 2>&1 && break; sleep 0.5; done
  $docker info >/dev/null 2>&1 || { say "dockerd did not answer; see /tmp/papanoel-dockerd.log"; exit 1; }
fi

# --- the base image ----------------------------------------------------------------------------
local_base=local/debian:bookworm
if [ -z "${BASE:-}" ]; then
  if $docker image inspect "$local_base" >/dev/null 2>&1; then
    BASE=$local_base
  elif timeout 20 $docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    BASE=debian:bookworm-slim
  else
    say "no registry reachable: building $local_base by debootstrap"
    BASE=$local_base
    scripts/local-base.sh "$local_base"
  fi
fi
export BASE
say "base image: $BASE"

# --- the stack ---------------------------------------------------------------------------------
export COMPOSE_PROJECT_NAME=$project
export PAPANOEL_TAG=${PAPANOEL_TAG:-ci}
# The stack's settings file: .env.example plus small, fast renders (the test proves the plumbing,
# docs/rendering.md the full spec) and an admin token made for this run.
mkdir -p tmp
export PAPANOEL_ENV_FILE=tmp/compose-test.env
{ cat .env.example
  echo 'OUTPUT_WIDTH=180'; echo 'OUTPUT_HEIGHT=320'; echo 'X264_PRESET=ultrafast'; echo 'WORKER_COUNT=1'
  echo "ADMIN_TOKEN=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"; } >"$PAPANOEL_ENV_FILE"
export PLACEHOLDER_SIZE=180x320
export WEB_PORT=${WEB_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
say "building images"
nice -n 10 docker-compose build --quiet >/dev/null 2>&1 || nice -n 10 docker-compose build
compose_up=1
docker-compose up -d --scale worker=2
.venv/bin/python scripts/compose_check.py --url "http://127.0.0.1:$WEB_PORT" --project "$project"
