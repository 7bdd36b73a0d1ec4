#!/usr/bin/env bash
# SQLite's two faults under load: the disk full, and another process holding the write lock.
# The database file lives on a small tmpfs (mounted here, so this needs root; without root the
# disk-full part is skipped and said so). 8 connections sign up and 8 read sessions throughout.
#
# 1. Disk full: a ballast file leaves LEAVE KiB free on the tmpfs; sign-ups fill it. Then the
#    ballast is removed, without touching orgauth.
# 2. Busy: `sqlite3 FILE` holds `BEGIN IMMEDIATE` for HOLD s, then rolls back.
#
# Pass: every failed request is a 503 with Retry-After (SQLITE_FULL, SQLITE_BUSY, or no free
# connection in time; never 500), both faults did produce 503s, no request waited longer than
# HUNG s, sign-ups succeed again within RECOVERY s of each fault's end with the same process, no
# refused sign-up left a user (the users signed up are exactly those answered 2xx), every 2xx is
# stored, `PRAGMA integrity_check` = ok and the invariants hold.
#
#   bench/faults/sqlite-faults.sh            # full form, ~75 s
#   QUICK=1 bench/faults/sqlite-faults.sh    # ~35 s
source "$(dirname "$0")/lib.sh"

if [[ $QUICK == 1 ]]; then FILL=10 HOLD=8 AFTER=6 LEAVE=512; else FILL=25 HOLD=20 AFTER=15 LEAVE=2048; fi
# The longest wait: the default 5 s for the connection, then 5 s of busy timeout, + 1 s.
HUNG=${HUNG:-11} RECOVERY=${RECOVERY:-7}

disk=$SCRATCH/disk
mkdir -p "$disk"
full_part=1
if [[ $(id -u) == 0 ]] && mount -t tmpfs -o size=32m tmpfs "$disk" 2>/dev/null; then
  trap 'orgauth_kill; umount "$disk" 2>/dev/null || true; cleanup' EXIT
else
  full_part=0
  echo "not root (or mount refused): the disk-full part is skipped"
fi
file=$disk/orgauth.db
url="sqlite://$file?mode=rwc"
orgauth_start "$url"
pid0=$ORGAUTH_PID
$LOAD seed --base "$BASE" --users 50 --cookies "$SCRATCH/cookies"

$LOAD run --base "$BASE" --duration $((full_part * (FILL + AFTER) + HOLD + AFTER)) \
  --events "$SCRATCH/events" --signup 8 --session 8 --cookies "$SCRATCH/cookies" --timeout 30 &
load_pid=$!
if [[ $full_part == 1 ]]; then
  avail=$(df --output=avail -B1024 "$disk" | tail -1)
  dd if=/dev/zero of="$disk/ballast" bs=1024 count=$((avail - LEAVE)) status=none 2>/dev/null || true
  phase "disk-filling"
  sleep "$FILL"
  rm -f "$disk/ballast"
  phase "space-freed"
  sleep "$AFTER"
fi
# The CLI waits for its own turn (orgauth writes all the time), then holds the lock.
(echo ".timeout 20000"; echo "BEGIN IMMEDIATE;"; echo "SELECT 'locked';"; sleep "$HOLD"; echo "ROLLBACK;") |
  sqlite3 "$file" >"$SCRATCH/lock.out" 2>&1 &
lock_pid=$!
for _ in $(seq 1 200); do grep -q locked "$SCRATCH/lock.out" && break; sleep 0.1; done
phase "write-lock-held"
wait "$lock_pid" || true
grep -qx locked "$SCRATCH/lock.out" || fail "the second process never got the write lock: $(cat "$SCRATCH/lock.out")"
phase "lock-released"
wait "$load_pid" || fail "load client: workers hung"

echo "## SQLite: disk full (tmpfs, $LEAVE KiB left) and the write lock held by another process (8 sign-up, 8 get-session connections)"
echo
recover=(--recover-from lock-released)
[[ $full_part == 0 ]] || recover+=(--recover-from space-freed)
$LOAD report --events "$SCRATCH/events" --phases "$SCRATCH/phases" --hung "$HUNG" --allow 503 \
  "${recover[@]}" --recovery-limit "$RECOVERY" || FAIL=1
refused_in() {
  awk -v lo="$(awk -v p="$1" '$2==p{print $1}' "$SCRATCH/phases")" \
    -v hi="$(awk -v p="$2" '$2==p{print $1}' "$SCRATCH/phases")" \
    '$2 >= lo && $2 < hi && $4 == "503" {n++} END {print n+0}' "$SCRATCH/events"
}
if [[ $full_part == 1 ]]; then
  [[ $(refused_in disk-filling space-freed) -gt 0 ]] || fail "the disk never filled (no 503 while full)"
  grep -q "database or disk is full\|SQLITE_FULL\|code: 13" "$SCRATCH"/orgauth.*.log &&
    echo "the log names the cause: database or disk is full" || echo "(the log does not name SQLITE_FULL)"
fi
[[ $(refused_in write-lock-held lock-released) -gt 0 ]] || fail "no request refused while the write lock was held"
orgauth_alive && [[ $ORGAUTH_PID == "$pid0" ]] && echo "orgauth: the same process served throughout" || fail "orgauth exited"
orgauth_kill
ic=$(sqlite3 "$file" 'PRAGMA integrity_check')
echo "integrity_check: $ic"
[[ $ic == ok ]] || fail "integrity_check: $ic"
stored=$(sqlite3 "$file" "SELECT count(*) FROM \"user\" WHERE email LIKE 'su-%'")
answered=$(awk '$3 == "signup" && $4 ~ /^2/' "$SCRATCH/events" | wc -l)
echo "sign-ups answered 2xx: $answered; users stored from the load: $stored"
[[ $stored == "$answered" ]] || fail "stored users differ from the sign-ups answered 2xx (a refused sign-up left a user?)"
nothing_lost "$SCRATCH/events" "$url"
invariants "$url"
exit "$FAIL"
