#!/usr/bin/env bash
# Benchmark: pull and unpack a ~100 MB, 4-layer image from a registry on
# loopback. glassbox (`pull`: download + verify + unpack every layer)
# against `skopeo copy` + `umoci unpack` (the same work with the OCI
# tools), and against `docker pull` when a Docker engine can be started
# here (docker.io installed: bench/lib/docker.sh starts an isolated one).
# Median of several runs (hyperfine), reported as ratios.
#
#   bench/image-pull.sh [GLASSBOX_BINARY] [RUNS]
#
# Needs root, docker-registry, skopeo, umoci, hyperfine, jq; docker.io for
# the docker row (NO_DOCKER=1 leaves it out). Runs in a network namespace
# of its own: the registry listens on its 127.0.0.1, every tool talks to
# that only. Build glassbox with `cargo build --release` first for
# meaningful numbers.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/docker.sh
source "$HERE/lib/docker.sh"
docker_enter_netns "$@"

GB=${1:-$HERE/../target/release/glassbox}
RUNS=${2:-5}
GB=$(realpath "$GB")
WORK=$(mktemp -d /tmp/gb-bench-pull-XXXXXX)
REG_PID=
cleanup() {
    docker_stop
    if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

echo "== building a 4-layer, ~100 MB image with umoci" >&2
umoci init --layout layout >/dev/null
umoci new --image layout:bench >/dev/null
for i in 1 2 3 4; do
    umoci unpack --rootless --image layout:bench bundle >/dev/null 2>&1
    mkdir -p "bundle/rootfs/data$i"
    # Half random (incompressible), half text: a realistic gzip ratio.
    head -c 12500000 /dev/urandom > "bundle/rootfs/data$i/blob.bin"
    for f in $(seq 1 250); do
        seq "$((f * 1000))" "$((f * 1000 + 7000))" > "bundle/rootfs/data$i/text$f.txt"
    done
    umoci repack --image layout:bench bundle >/dev/null 2>&1
    rm -rf bundle
done
du -sh layout/blobs >&2

PORT=$(( 20000 + RANDOM % 20000 ))
while ss -Hltn "sport = :$PORT" | grep -q .; do PORT=$(( PORT + 1 )); done
REG=127.0.0.1:$PORT
cat > registry.yml <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: $REG}
YML
docker-registry serve registry.yml >registry.log 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -fs "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:layout:bench "docker://$REG/bench:latest"

cmds=(
    -n glassbox --prepare "rm -rf $WORK/gb" "$GB --root $WORK/gb pull -q $REG/bench:latest"
    -n skopeo+umoci --prepare "rm -rf $WORK/sk $WORK/bundle"
    "skopeo --insecure-policy copy -q --src-tls-verify=false docker://$REG/bench:latest oci:$WORK/sk:bench && umoci unpack --image $WORK/sk:bench $WORK/bundle >/dev/null"
)
DOCKER_ROW="docker: not measured (NO_DOCKER=1)"
if [[ -z "${NO_DOCKER:-}" ]]; then
    if docker_start; then
        D="$DOCKER_CLI"
        DOCKER_ROW="docker: engine $(docker version --format '{{.Server.Version}}'), isolated, $(docker info --format '{{.Driver}}'), data root on $(df --output=fstype "$DOCKER_WORK" | tail -1)"
        # Before each run: no image and no layer left (rmi drops the
        # layers no other image uses; there is no other image).
        cmds+=(-n docker --prepare "$D rmi -f $REG/bench:latest >/dev/null 2>&1 || true"
            "$D pull -q $REG/bench:latest >/dev/null")
    else
        DOCKER_ROW="docker: no Docker engine could be started here: no docker row"
    fi
fi
hyperfine --runs "$RUNS" --export-json result.json "${cmds[@]}" >&2

jq -r '
  (.results | map({(.command): .median}) | add) as $m
  | ($m | to_entries | map(select(.key != "glassbox")) | min_by(.value)) as $best
  | "median glassbox: \($m.glassbox * 1000 | floor) ms",
    (.results[] | select(.command != "glassbox") | "median \(.command): \(.median * 1000 | floor) ms  (glassbox/\(.command) = \(($m.glassbox / .median) * 100 | floor / 100))"),
    "fastest peer: \($best.key); target glassbox <= 0.8x: \(if $m.glassbox <= 0.8 * $best.value then "met" else "NOT met" end)"
' result.json
echo "$DOCKER_ROW"
