#!/usr/bin/env bash
# Builds the Dockerfile's runtime stage with podman (Debian's package) and runs the image: the
# server answers /readyz, a sign-up mails a verification link to an SMTP sink and the link
# verifies, the image's own health check passes, the process runs as uid 65532, the image has no
# shell, SQLite lives on the /data volume, `migrate up` runs as a one-off container, and the
# server stops cleanly on SIGTERM. Once on SQLite (the image's default), once on PostgreSQL.
#
# No container registry is reachable from CI, so public base images cannot be pulled: the same
# Dockerfile is built with RUNTIME_IMAGE set to a minimal Debian bookworm root made here with
# mmdebstrap (glibc, libgcc, CA certificates, tzdata; no shell, no package manager), and the Rust
# builder stage replaced by a directory holding the release binary CI already built
# (`--build-context builder=DIR`). docs/deploy.md says what differs from the public-base build.
#
#   ORGAUTH_BIN=target/release/orgauth deploy/container/check.sh
#
# TEST_POSTGRES_URL names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres).
# The base rootfs is cached under ~/.cache/orgauth-container for a week. Takes 30 to 40 s warm.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${ORGAUTH_BIN:?ORGAUTH_BIN must name the release binary (cargo build -p orgauth --release)}"
ORGAUTH_BIN=$(realpath "$ORGAUTH_BIN")
TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/orgauth-container
run_id="ci-$$"
image="localhost/orgauth:$run_id"
base_image="localhost/orgauth-ci-base:$run_id"
volume="orgauth-data-$run_id"
pg_db="orgauth_ci_container_$$"

step() { printf -- '--- %s\n' "$*"; }
fail() {
  echo "container check FAILED: $*" >&2
  for c in $(podman ps -a --filter "name=orgauth-$run_id" --format '{{.Names}}' 2>/dev/null); do
    echo "--- podman logs $c" >&2
    podman logs "$c" >&2 || true
  done
  exit 1
}

step "Tools: podman, runc, mmdebstrap, aiosmtpd (Debian's packages)"
need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# runc, not Debian's default crun: crun refuses cgroup v1 + v2 "hybrid" hosts such as this CI
# machine ("cgroups in hybrid mode not supported"). The process limits are set explicitly at or
# below the current ones: podman's defaults (nofile 1048576, nproc 4194304) need
# CAP_SYS_RESOURCE, which a CI sandbox may lack ("setrlimit RLIMIT_NOFILE: Operation not
# permitted"). Host networking: the container reaches the SMTP sink and PostgreSQL on the loopback.
engine=(podman --runtime runc)
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
run_flags=(--network host --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

scratch=$(mktemp -d)
sink_pid=""
cleanup() {
  [ -z "$sink_pid" ] || kill "$sink_pid" 2>/dev/null || true
  for c in $(podman ps -a --filter "name=orgauth-$run_id" --format '{{.Names}}' 2>/dev/null); do
    podman rm -f -v -t 0 "$c" >/dev/null 2>&1 || true
  done
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  podman rmi -f "$image" "$base_image" >/dev/null 2>&1 || true
  psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

step "Base: a minimal Debian bookworm root (mmdebstrap), cached"
packages=libc6,libgcc-s1,base-files,netbase,tzdata
# Writes the base's root file system as a tar to $1.
build_base() {
  local rootfs="$scratch/rootfs"
  # `extract` unpacks the packages without running their scripts (which need a shell).
  mmdebstrap --quiet --variant=extract --include="$packages" bookworm "$rootfs"
  rm -rf "$rootfs"/usr/share/{doc,man,info,locale,lintian} "$rootfs"/var/cache/apt \
    "$rootfs"/var/lib/apt/lists "$rootfs"/etc/apt
  # CA certificates (lettre's SMTP TLS reads the system's roots) from Debian's package, unpacked
  # only: its script would need openssl and a shell.
  (cd "$scratch" && { apt-get download -qq ca-certificates 2>/dev/null ||
    { apt-get update -qq && apt-get download -qq ca-certificates; }; } && dpkg-deb -x ca-certificates_*.deb ca)
  install -d "$rootfs"/etc/ssl/certs
  cat "$scratch"/ca/usr/share/ca-certificates/mozilla/*.crt >"$rootfs"/etc/ssl/certs/ca-certificates.crt
  # Users as distroless names them: root and nonroot (65532).
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs"/etc/passwd
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs"/etc/group
  install -d -m 0700 "$rootfs"/root
  install -d -o 65532 -g 65532 "$rootfs"/home/nonroot
  install -d -m 1777 "$rootfs"/tmp
  for shell in sh bash dash; do
    if [ -e "$rootfs/bin/$shell" ] || [ -e "$rootfs/usr/bin/$shell" ]; then
      fail "the base has a shell ($shell)"
    fi
  done
  tar -C "$rootfs" --numeric-owner -cf "$1.tmp" . && mv "$1.tmp" "$1"
  rm -rf "$rootfs" "$scratch/ca" "$scratch"/ca-certificates_*.deb
}
# The cache is keyed by the recipe (this function and the package list) and kept a week, so
# security updates reach it.
recipe_hash=$({ declare -f build_base; echo "$packages"; } | sha256sum | cut -c1-12)
base_tar="$cache/base-$recipe_hash.tar"
mkdir -p "$cache"
find "$cache" -name 'base-*.tar' -mtime +7 -delete
[ -s "$base_tar" ] || build_base "$base_tar"
podman import -q "$base_tar" "$base_image" >/dev/null

step "Image: the Dockerfile's runtime stage on that base, with the release binary"
# What the builder stage leaves in /out: the binary and the empty data directory. A build
# context named like a stage replaces that stage, which is then not built.
install -D -m 0755 "$ORGAUTH_BIN" "$scratch/builder/out/usr/local/bin/orgauth"
install -d "$scratch/builder/out/data"
# --format docker keeps HEALTHCHECK (the OCI format has none).
"${engine[@]}" build -q --format docker --pull=never \
  --build-arg RUNTIME_IMAGE="$base_image" --build-context builder="$scratch/builder" \
  -t "$image" -f Dockerfile . >/dev/null
size=$(podman image inspect -f '{{.Size}}' "$image")
echo "image $image: $((size / 1000 / 1000)) MB ($size bytes)"
test "$(podman image inspect -f '{{.Config.User}}' "$image")" = 65532:65532 || fail "the image's user is not 65532"
grep -q '"/usr/local/bin/orgauth","healthcheck"' <<<"$(podman image inspect -f '{{json .Config.Healthcheck}}' "$image")" ||
  fail "the image has no HEALTHCHECK running orgauth healthcheck"
if "${engine[@]}" run --rm "${run_flags[@]}" --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
  fail "the image has a shell"
fi

step "SMTP sink (aiosmtpd) on the loopback"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
smtp_port=$(free_port)
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$scratch/mail" &
sink_pid=$!
for _ in $(seq 1 50); do (: >"/dev/tcp/127.0.0.1/$smtp_port") 2>/dev/null && break; sleep 0.1; done

# The verification link in the newest mail to $1 (the plain-text part, decoded).
verification_link() {
  /usr/bin/python3 - "$scratch/mail" "$1" <<'EOF'
import email, email.policy, mailbox, re, sys
for _, msg in mailbox.Maildir(sys.argv[1], factory=None).items():
    msg = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    if msg["To"] != sys.argv[2]:
        continue
    text = msg.get_body(preferencelist=("plain",)).get_content()
    m = re.search(r"https?://\S*/api/auth/verify-email\?token=\S+", text)
    if m:
        print(m.group(0))
EOF
}

secret_file="$scratch/auth_secret"
head -c 48 /dev/urandom | base64 | tr -d '\n' >"$secret_file"
chmod 0444 "$secret_file" # as compose and swarm mount secrets: readable by the image's user

# Runs the image as container $1 on port $2 with the settings after them, and checks it end to
# end: readiness, sign-up, the mailed link, the health check, the user, a clean stop.
check_server() {
  local name="orgauth-$run_id-$1" port=$2
  shift 2
  local base="http://127.0.0.1:$port"
  "${engine[@]}" run -d --name "$name" "${run_flags[@]}" \
    -e PORT="$port" -e BETTER_AUTH_URL="$base" \
    -v "$secret_file:/run/secrets/auth_secret:ro" -e BETTER_AUTH_SECRET_FILE=/run/secrets/auth_secret \
    -e SMTP_URL="smtp://127.0.0.1:$smtp_port" -e ORGAUTH_SEND_VERIFICATION_ON_SIGN_UP=true \
    "$@" "$image" >/dev/null 2>"$scratch/run-$1.log" || { cat "$scratch/run-$1.log" >&2; fail "$name: podman run failed"; }
  local ready=""
  for _ in $(seq 1 60); do
    if [ "$(curl -fsS "$base/readyz" 2>/dev/null)" = '{"status":"ok"}' ]; then ready=1; break; fi
    sleep 0.5
  done
  [ -n "$ready" ] || fail "$name: /readyz did not answer 200 within 30 s"
  grep -q swagger-ui <<<"$(curl -fsS "$base/docs")" || fail "$name: no Swagger UI at /docs"

  local email="container-$1-$$@example.com"
  local body
  body=$(curl -fsS -H 'content-type: application/json' -H "origin: $base" \
    -d "{\"name\":\"Container\",\"email\":\"$email\",\"password\":\"container-password-1\"}" \
    "$base/api/auth/sign-up/email") || fail "$name: sign-up failed"
  grep -q "\"email\":\"$email\"" <<<"$body" || fail "$name: sign-up answered $body"
  local link=""
  for _ in $(seq 1 50); do
    link=$(verification_link "$email")
    [ -n "$link" ] && break
    sleep 0.2
  done
  [ -n "$link" ] || fail "$name: no verification mail for $email reached the SMTP sink"
  case "$link" in "$base/"*) ;; *) fail "$name: the link $link is not under BETTER_AUTH_URL" ;; esac
  local status
  status=$(curl -sS -o /dev/null -w '%{http_code}' "$link")
  case "$status" in 200 | 302) ;; *) fail "$name: the verification link answered $status" ;; esac
  body=$(curl -fsS -H 'content-type: application/json' -H "origin: $base" \
    -d "{\"email\":\"$email\",\"password\":\"container-password-1\"}" "$base/api/auth/sign-in/email") ||
    fail "$name: sign-in failed"
  grep -q '"emailVerified":true' <<<"$body" || fail "$name: the address is not verified after the link: $body"

  # The image's HEALTHCHECK, as the engine runs it, and the command alone.
  "${engine[@]}" healthcheck run "$name" >/dev/null || fail "$name: podman healthcheck run failed"
  test "$(podman inspect -f '{{.State.Health.Status}}' "$name")" = healthy ||
    fail "$name: health status $(podman inspect -f '{{.State.Health.Status}}' "$name")"
  "${engine[@]}" exec "$name" /usr/local/bin/orgauth healthcheck || fail "$name: orgauth healthcheck failed"

  local pid uids
  pid=$(podman inspect -f '{{.State.Pid}}' "$name")
  uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
  [ "$uids" = "65532 65532 65532 65532" ] || fail "$name: the server runs as uid $uids, not 65532"

  "${engine[@]}" stop -t 35 "$name" >/dev/null 2>>"$scratch/run-$1.log"
  test "$(podman inspect -f '{{.State.ExitCode}}' "$name")" = 0 || fail "$name: exit code after SIGTERM"
  grep -q "orgauth stopped" <<<"$(podman logs "$name" 2>&1)" || fail "$name: no clean stop in the log"
  echo "$name: /readyz, /docs, sign-up, verification mail and link, sign-in, health check, uid 65532, clean stop"
}

step "SQLite on the /data volume (the image's default)"
check_server sqlite "$(free_port)" -v "$volume:/data"
data=$(podman volume inspect -f '{{.Mountpoint}}' "$volume")
test "$(stat -c %u "$data/orgauth.db")" = 65532 || fail "orgauth.db is not on the /data volume, owned by 65532"
echo "the database is $data/orgauth.db on volume $volume"

step "PostgreSQL, migrated by a one-off \`migrate up\` container"
psql "$TEST_POSTGRES_URL" -qc "CREATE DATABASE \"$pg_db\""
pg_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$TEST_POSTGRES_URL" "$pg_db")
"${engine[@]}" run --rm --name "orgauth-$run_id-migrate" "${run_flags[@]}" -e DATABASE_URL="$pg_url" "$image" migrate up >/dev/null 2>&1 ||
  fail "migrate up in a container failed"
grep -q "order_indexes  applied" <<<"$("${engine[@]}" run --rm "${run_flags[@]}" -e DATABASE_URL="$pg_url" "$image" migrate status 2>/dev/null)" ||
  fail "migrate status does not list the migrations applied"
check_server postgres "$(free_port)" -e DATABASE_URL="$pg_url" -e ORGAUTH_AUTO_MIGRATE=false
echo "container check passed"
