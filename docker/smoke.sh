#!/usr/bin/env bash
# Smoke test of the container image: build it with podman, run it on loopback with an API key and
# docker/example mounted read-only at /docs/example (documents apart from the /data state), then
# through the HTTP API create a collection, index that folder, wait for the job, query it, search
# it through the MCP endpoint (/mcp) and check that known documents come back. The container is
# removed on exit, on success and failure alike.
#
#   bash docker/smoke.sh        (or: make docker-smoke)
#
# Environment (all optional):
#   BASE             base image (default localhost/python-base:local, built by
#                    ../shared/tools/container-base when missing)
#   CONTAINER_BASE   path of that container-base script (default: ../shared/tools/container-base
#                    next to the repo, then /work/shared/tools/container-base)
#   IMAGE            tag to build and run (default localhost/semsearch:smoke)
#   TORCH_INDEX_URL  passed to the build; empty by default (torch comes from $WHEELS at /wheels)
#   SKIP_BUILD=1     run an already built $IMAGE
#   HEALTH_TIMEOUT   seconds to wait for /healthz and /readyz (default 180)
#   JOB_TIMEOUT      seconds to wait for the indexing job (default 300)
#   KEEP=1           leave the container running for inspection
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BASE=${BASE:-localhost/python-base:local}
IMAGE=${IMAGE:-localhost/semsearch:smoke}
TORCH_INDEX_URL=${TORCH_INDEX_URL-}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-180}
JOB_TIMEOUT=${JOB_TIMEOUT:-300}
NAME=semsearch-smoke-$$
COLLECTION=example
DOCS_IN_CONTAINER=/docs/example
KEY=smoke-$$-$RANDOM
WORK=$(mktemp -d "${TMPDIR:-/tmp}/semsearch-smoke.XXXXXX")
T0=$(date +%s)

step() { printf '\n==> [%3ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() {
  printf '    FAIL: %s\n' "$*" >&2
  exit 1
}

started=""
cleanup() {
  local rc=$?
  if [ -n "$started" ]; then
    if [ "$rc" -ne 0 ]; then
      echo "---- container logs (last 80 lines) ----" >&2
      podman logs --tail 80 "$NAME" >&2 2>&1 || true
      echo "----------------------------------------" >&2
    fi
    if [ "${KEEP:-0}" = 1 ]; then
      echo "KEEP=1: container $NAME left running on http://127.0.0.1:$PORT" >&2
    else
      podman rm -f -v "$NAME" >/dev/null 2>&1 || true
      echo "removed container $NAME"
    fi
  fi
  rm -rf "$WORK"
  if [ "$rc" -eq 0 ]; then echo "SMOKE OK ($(( $(date +%s) - T0 ))s)"; else echo "SMOKE FAILED (exit $rc)" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- HTTP helpers (curl + python3 on the host) ---------------------------------------------
# http METHOD PATH [JSON_BODY] -> prints the status code; the body is left in $WORK/body
http() {
  local method=$1 path=$2 body=${3-}
  local args=(-sS -o "$WORK/body" -w '%{http_code}' -X "$method" --max-time 30
    -H "Authorization: Bearer $KEY" -H 'accept: application/json, text/event-stream')
  [ -n "$body" ] && args+=(-H 'content-type: application/json' --data "$body")
  curl "${args[@]}" "http://127.0.0.1:$PORT$path" || true
}
# jget EXPR: evaluate a Python expression over the last body parsed as JSON (bound to `j`)
jget() { python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/body" "$1"; }
body() { head -c 2000 "$WORK/body"; echo; }
expect() { # expect CODE... : fail unless the last status is one of them
  local code=$STATUS c
  for c in "$@"; do [ "$code" = "$c" ] && return 0; done
  fail "HTTP $code (expected $*): $(body)"
}

# ---- 1. podman and the base image -----------------------------------------------------------
step "podman and base image $BASE"
CB=${CONTAINER_BASE:-}
if [ -z "$CB" ]; then
  for c in "$ROOT/../shared/tools/container-base" /work/shared/tools/container-base; do
    [ -f "$c" ] && { CB=$c; break; }
  done
fi
if [ -n "$CB" ]; then
  # podman settings for this machine (storage, runtime) and $WHEELS, the host's find-links folder
  . "$CB" env
  set -euo pipefail
fi
if [ "$BASE" = localhost/python-base:local ]; then
  if ! command -v podman >/dev/null || ! podman image exists "$BASE"; then
    [ -n "$CB" ] || fail "$BASE is missing and no container-base script was found (set CONTAINER_BASE)"
    echo "    building $BASE with $CB (takes a few minutes)"
    bash "$CB"
  fi
fi
command -v podman >/dev/null || fail "podman is not installed"
podman image exists "$BASE" || podman pull "$BASE" >/dev/null || fail "base image $BASE not available"
ok "$(podman --version); base $BASE; wheels ${WHEELS:-<none>}"

# ---- 2. build -------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  step "build skipped (SKIP_BUILD=1), using $IMAGE"
  podman image exists "$IMAGE" || fail "$IMAGE does not exist"
else
  step "build $IMAGE (log: $WORK/build.log)"
  build=(podman build --format docker --build-arg "BASE=$BASE" --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL"
    -t "$IMAGE" -f "$ROOT/Dockerfile")
  [ -n "${WHEELS:-}" ] && [ -d "$WHEELS" ] && build+=(-v "$WHEELS:/wheels:ro")
  echo "    ${build[*]} $ROOT"
  if ! "${build[@]}" "$ROOT" >"$WORK/build.log" 2>&1; then
    tail -n 60 "$WORK/build.log" >&2
    fail "image build failed (last 60 lines above)"
  fi
  grep -E '^(torch |model loads offline)' "$WORK/build.log" | sed 's/^/    /' || true
fi
size=$(podman image inspect "$IMAGE" --format '{{.Size}}')
ok "image $IMAGE, $(( size / 1000000 )) MB"

# ---- 3. run ---------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "run $NAME on 127.0.0.1:$PORT, $HERE/example -> $DOCS_IN_CONTAINER (read-only)"
# podman cannot start its healthcheck timers without systemd; the errors it logs for that are
# noise (the HEALTHCHECK itself is run by hand below), anything else is shown
podman run -d --name "$NAME" -p "127.0.0.1:$PORT:8000" -e "SEMSEARCH_API_KEYS=$KEY" \
  -v "$HERE/example:$DOCS_IN_CONTAINER:ro" "$IMAGE" >/dev/null 2>"$WORK/run.err" || {
  cat "$WORK/run.err" >&2
  fail "podman run failed"
}
started=1
grep -v 'systemd connection' "$WORK/run.err" >&2 || true
ok "container $(podman inspect "$NAME" --format '{{.Id}}' | cut -c1-12) started"

# ---- 4. wait for /healthz -------------------------------------------------------------------
step "wait for GET /healthz (timeout ${HEALTH_TIMEOUT}s)"
deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
while :; do
  STATUS=$(http GET /healthz 2>/dev/null)
  [ "$STATUS" = 200 ] && break
  state=$(podman inspect "$NAME" --format '{{.State.Status}}' 2>/dev/null || echo gone)
  [ "$state" = running ] || fail "container is $state before /healthz answered"
  [ "$(date +%s)" -lt "$deadline" ] || fail "/healthz not 200 after ${HEALTH_TIMEOUT}s (last: $STATUS)"
  sleep 2
done
[ "$(jget 'j["status"]')" = ok ] || fail "unexpected /healthz body: $(body)"
ok "200 $(body)"

step "wait for GET /readyz (model loaded; timeout ${HEALTH_TIMEOUT}s)"
while :; do
  STATUS=$(http GET /readyz 2>/dev/null)
  case $STATUS in
    200) ok "200 $(body)"; break ;;
    404) ok "no /readyz route, going on"; break ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || fail "/readyz not 200 after ${HEALTH_TIMEOUT}s (last: $STATUS $(body))"
  sleep 2
done

step "model load: graph from the image's cache (converted at build time)"
line=$(podman logs "$NAME" 2>&1 | grep -m1 'loaded in' || true)
[ -n "$line" ] || fail "no 'model ... loaded in' line in the container log"
case $line in
  *"graph from the cache"*) ok "$(echo "$line" | sed "s/^INFO: *//")" ;;
  *"engine openvino"*) fail "the container converted the graph instead of using the image's cache: $line" ;;
  *) ok "$(echo "$line" | sed "s/^INFO: *//") (no OpenVINO engine on this CPU: nothing to cache)" ;;
esac

step "GET / (the web page: app/static made it into the installed package)"
STATUS=$(http GET /)
expect 200
grep -qi '<html' "$WORK/body" || fail "GET / is not an HTML page: $(head -c 300 "$WORK/body")"
ok "200, $(wc -c <"$WORK/body") bytes of HTML"

step "container checks: non-root user, documents read-only and apart from /data, HEALTHCHECK on /readyz, API key"
uid=$(podman exec "$NAME" id -u)
[ "$uid" != 0 ] || fail "server runs as root"
ok "server runs as uid $uid"
podman exec "$NAME" sh -c "touch $DOCS_IN_CONTAINER/.written 2>/dev/null" && fail "$DOCS_IN_CONTAINER is writable"
podman exec "$NAME" test ! -e /data/docs || fail "/data/docs exists: documents belong under /docs"
ok "$DOCS_IN_CONTAINER is read-only; /data holds state only"
hc=$(podman inspect "$NAME" --format '{{json .Config.Healthcheck.Test}}')
case $hc in *readyz*) ok "HEALTHCHECK probes /readyz" ;; *) fail "HEALTHCHECK does not probe /readyz: $hc" ;; esac
STATUS=$(curl -sS -o "$WORK/body" -w '%{http_code}' --max-time 30 "http://127.0.0.1:$PORT/collections" || true)
expect 401
ok "GET /collections without the key: 401"
if podman healthcheck run "$NAME" >"$WORK/hc" 2>&1; then
  ok "HEALTHCHECK passes"
else
  fail "HEALTHCHECK failed: $(cat "$WORK/hc")"
fi

# ---- 5. collection + indexing job -----------------------------------------------------------
step "POST /collections {\"name\": \"$COLLECTION\"}"
STATUS=$(http POST /collections "{\"name\": \"$COLLECTION\"}")
expect 201 409
ok "$STATUS $(body)"

step "POST /collections/$COLLECTION/index-folder {\"path\": \"$DOCS_IN_CONTAINER\"}"
STATUS=$(http POST "/collections/$COLLECTION/index-folder" "{\"path\": \"$DOCS_IN_CONTAINER\"}")
expect 202 200 201
job=$(jget 'j["id"]')
ok "$STATUS job $job ($(jget 'j.get("state")'))"

step "poll GET /jobs/$job (timeout ${JOB_TIMEOUT}s)"
deadline=$(( $(date +%s) + JOB_TIMEOUT ))
last=""
while :; do
  STATUS=$(http GET "/jobs/$job")
  expect 200
  state=$(jget 'j["state"]')
  line="state=$state files_done=$(jget 'j.get("files_done")')/$(jget 'j.get("files_total")') chunks=$(jget 'j.get("chunks_embedded")')"
  [ "$line" != "$last" ] && echo "    $line" && last=$line
  case $state in
    succeeded) break ;;
    failed | cancelled) fail "job $job ended $state: $(body)" ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || fail "job $job still $state after ${JOB_TIMEOUT}s: $(body)"
  sleep 1
done
ok "job succeeded; report: $(jget 'json.dumps({k: v for k, v in (j.get("report") or {}).items() if k in ("files", "chunks", "seconds")})')"

# ---- 6. queries -----------------------------------------------------------------------------
query() { # query TEXT EXPECTED_FILE
  local q=$1 want=$2 enc
  enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$q")
  step "GET /collections/$COLLECTION/query?q=$q&k=3"
  STATUS=$(http GET "/collections/$COLLECTION/query?q=$enc&k=3")
  expect 200
  jget '"\n".join("    %d. %.4f %s" % (i + 1, h["score"], h["path"]) for i, h in enumerate(j["hits"]))'
  rank=$(jget "next((i + 1 for i, h in enumerate(j['hits']) if str(h['path']).endswith('$want')), 0)")
  [ "$rank" != 0 ] || fail "$want not among the hits: $(body)"
  [ "$rank" = 1 ] || fail "$want came back at rank $rank, expected the top hit"
  ok "$want is the top hit"
}
query "how long should bread dough rise before baking" sourdough-bread.md
query "which planet is the largest" solar-system.md

# ---- 7. MCP over HTTP (a JSON-RPC call as any MCP client sends it) ---------------------------
step "POST /mcp tools/call search"
STATUS=$(http POST /mcp '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search",
  "arguments": {"query": "how long should bread dough rise before baking", "collection": "'"$COLLECTION"'", "k": 1}}}')
expect 200
top=$(jget 'j["result"]["structuredContent"]["hits"][0]["path"]')
case $top in *sourdough-bread.md) ok "MCP search: $top" ;; *) fail "MCP search top hit is $top: $(body)" ;; esac
