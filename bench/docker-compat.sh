#!/usr/bin/env bash
# Compatibility with a real Docker engine, both ways:
#
#   glassbox image save  ->  docker load, docker run, docker image inspect
#   docker save          ->  glassbox image load, glassbox image inspect
#
# Images: the fixtures (fixtures/build.sh: `busybox`, `layered` with a
# whiteout and an opaque directory), one made by `glassbox image from-host`
# and one by `glassbox image import`; on the Docker side one made by
# `docker import` and one by `docker build` (a layer Docker wrote itself,
# with a whiteout). "Same image" means the same image id (the config's
# sha256) and the same layer diff_ids on both sides.
#
#   bench/docker-compat.sh [GLASSBOX_BINARY]
#
# Needs root and docker.io (dockerd, containerd, runc). Runs dockerd
# isolated (bench/lib/docker.sh: own netns, own mount ns, temp dirs). Exits
# 0 when every check passed, 1 on an incompatibility, 2 when no Docker
# engine can be started here (nothing was checked). No network traffic.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/docker.sh
source "$HERE/lib/docker.sh"
docker_enter_netns "$@"

GB=$(realpath "${1:-$HERE/../target/release/glassbox}")
WORK=$(mktemp -d /tmp/gb-docker-compat-XXXXXX)
gb() { "$GB" --root "$WORK/gb" --no-color "$@"; }
cleanup() {
    docker_stop
    "$GB" --root "$WORK/gb" system prune --all >/dev/null 2>&1 || true
    "$GB" --root "$WORK/gb2" system prune --all >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

FX=${FIXTURES:-$HERE/../fixtures/out}
"$HERE/../fixtures/build.sh" "$FX" >/dev/null

if ! docker_start; then
    echo "docker-compat: no Docker engine could be started here: nothing checked"
    exit 2
fi
echo "docker-compat: engine $(docker version --format '{{.Server.Version}}') (isolated), glassbox $("$GB" --version)"

FAILED=0
pass() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=1; }
# expect WHAT EXPECTED COMMAND...: run, compare stdout (stderr shown on failure)
expect() {
    local what=$1 want=$2 got; shift 2
    if got=$("$@" 2>"$WORK/err"); [[ "$got" == "$want" ]]; then
        pass "$what"
    else
        fail "$what: expected $(printf %q "$want"), got $(printf %q "$got") $(head -c 300 "$WORK/err")"
    fi
}
# same_image WHAT GLASSBOX_ROOT IMAGE: image id and diff_ids equal on both sides
same_image() {
    local what=$1 root=$2 img=$3 g d
    g=$("$GB" --root "$root" image inspect "$img" | jq -c '.[0] | [.Id, .RootFS.Layers]')
    d=$(docker image inspect "$img" | jq -c '.[0] | [.Id, .RootFS.Layers]')
    if [[ -n "$g" && "$g" == "$d" ]]; then
        pass "$what: same id and diff_ids ($(jq -r '.[1] | length' <<<"$g") layers) $(jq -r '.[0][7:19]' <<<"$g")"
    else
        fail "$what: glassbox $g, docker $d"
    fi
}

echo "== glassbox -> docker"
gb image load -q -i "$FX/archives/busybox.tar"
gb image load -q -i "$FX/archives/layered.tar"
gb image from-host busybox --tag gbcompat/fromhost:1 >/dev/null
mkdir -p "$WORK/rootfs/bin"
cp "$(command -v busybox)" "$WORK/rootfs/bin/busybox"
printf 'made by glassbox image import\n' > "$WORK/rootfs/hello.txt"
gb image import "$WORK/rootfs" gbcompat/imported:1 >/dev/null

for img in busybox:latest layered:latest gbcompat/fromhost:1 gbcompat/imported:1; do
    gb image save -o "$WORK/one.tar" "$img"
    if docker load -i "$WORK/one.tar" >"$WORK/err" 2>&1; then
        pass "docker load of glassbox image save $img"
        same_image "$img after docker load" "$WORK/gb" "$img"
    else
        fail "docker load of glassbox image save $img: $(cat "$WORK/err")"
    fi
done
expect "docker run busybox (glassbox-saved)" ok docker run --rm busybox:latest /bin/busybox echo ok
expect "docker run layered: its Cmd, WorkingDir, Env" "hello from layer 3" docker run --rm layered:latest
expect "docker run layered: whiteout and opaque dir applied" "absent layer2.txt" \
    docker run --rm layered:latest sh -c 'echo "$(test -e /etc/motd && echo present || echo absent) $(ls /usr/share/glassbox)"'
expect "docker run layered: WorkingDir and Env" "/app hello" docker run --rm layered:latest sh -c 'echo "$PWD $GREETING"'
expect "docker run from-host image" ok docker run --rm gbcompat/fromhost:1 busybox echo ok
expect "docker run imported image" "made by glassbox image import" docker run --rm gbcompat/imported:1 /bin/busybox cat /hello.txt

# Several images in one archive (they share busybox's layer).
docker rmi -f busybox:latest layered:latest >/dev/null
gb image save -o "$WORK/two.tar" busybox:latest layered:latest
if docker load -i "$WORK/two.tar" >"$WORK/err" 2>&1 && [[ $(grep -c '^Loaded image' "$WORK/err") == 2 ]]; then
    pass "docker load of one glassbox archive with two images (a shared layer)"
else
    fail "docker load of a two-image archive: $(cat "$WORK/err")"
fi

echo "== docker -> glassbox"
tar -C "$WORK/rootfs" -c . | docker import - gbcompat/dimport:1 >/dev/null
mkdir -p "$WORK/ctx"
cat > "$WORK/ctx/Dockerfile" <<'EOF'
FROM busybox:latest
RUN echo built by docker > /built.txt && rm /etc/motd && rm -r /usr/share/glassbox
ENV BUILT=yes
CMD ["cat", "/built.txt"]
EOF
if docker build -q -t gbcompat/dbuild:1 "$WORK/ctx" >"$WORK/err" 2>&1; then
    pass "docker build (a layer written by Docker, with whiteouts)"
else
    fail "docker build: $(cat "$WORK/err")"
fi
docker save -o "$WORK/docker.tar" gbcompat/dimport:1 gbcompat/dbuild:1 layered:latest
if "$GB" --root "$WORK/gb2" image load -i "$WORK/docker.tar" >"$WORK/err" 2>&1; then
    pass "glassbox image load of docker save (3 images: $(grep -c 'Loaded image' "$WORK/err") loaded)"
else
    fail "glassbox image load of docker save: $(cat "$WORK/err")"
fi
for img in gbcompat/dimport:1 gbcompat/dbuild:1 layered:latest; do
    same_image "$img after glassbox load" "$WORK/gb2" "$img"
done
expect "glassbox keeps the docker-built config (Cmd, Env)" '["cat","/built.txt"] BUILT=yes' \
    bash -c "'$GB' --root '$WORK/gb2' image inspect gbcompat/dbuild:1 | jq -r '.[0].Config | \"\(.Cmd | tojson) \(.Env | map(select(startswith(\"BUILT\"))) | .[0])\"'"

# The round trip: what glassbox stored from docker saves back loadable by docker.
docker rmi -f gbcompat/dbuild:1 >/dev/null
"$GB" --root "$WORK/gb2" image save -o "$WORK/back.tar" gbcompat/dbuild:1
if docker load -i "$WORK/back.tar" >"$WORK/err" 2>&1; then
    pass "docker load of glassbox's save of a docker-built image"
    expect "docker run of it (whiteouts kept through glassbox)" "built by docker absent" \
        docker run --rm gbcompat/dbuild:1 sh -c 'echo "$(cat /built.txt) $(test -e /etc/motd || test -e /usr/share/glassbox && echo present || echo absent)"'
else
    fail "docker load of the round trip: $(cat "$WORK/err")"
fi

if [[ $FAILED == 0 ]]; then
    echo "docker-compat: all checks passed"
else
    echo "docker-compat: INCOMPATIBLE (see FAIL lines)"
fi
exit "$FAILED"
