#!/usr/bin/env bash
# syncwatch benchmarks: one-pass throughput against a psql floor, the daemon at scale, cold start.
#
#   scripts/bench.sh                      # N = 100, 1000, 10000; daemon 10,000 checks for 5 minutes
#   scripts/bench.sh --sizes "100" --daemon-minutes 0     # the CI smoke run
#   options: --repeat N (rounds per size, medians; default 5), --concurrency N (default 4),
#            --daemon-checks N, --huge (also 100,000 one-row tables on PostgreSQL defaults; made once, ~1 min),
#            --bin PATH (measure this syncwatch binary instead of building one: to compare two builds)
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, database test), psql and GNU time (pgbench, if
# present, adds its baseline: the same per-table queries one per round trip, 4 clients).
# Fixtures live in schema swbench_<N> and are reused when already there (deterministic).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES="100 1000 10000"
DAEMON_MINUTES=5
DAEMON_CHECKS=10000
CONCURRENCY=4
REPEAT=5
HUGE=0
BIN=
PG=postgres://postgres@127.0.0.1:5432/test
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --daemon-minutes) DAEMON_MINUTES=$2; shift 2 ;;
    --daemon-checks) DAEMON_CHECKS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --huge) HUGE=1; shift ;;
    --bin) BIN=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done

WORK=${BENCH_DIR:-/tmp/syncwatch-bench}
mkdir -p "$WORK"
psql_() { psql "$PG" -v ON_ERROR_STOP=1 -qtA "$@"; }
POSTMASTER=$(head -1 "$(psql_ -c 'SHOW data_directory')/postmaster.pid" 2>/dev/null || echo 0)

if [ -n "$BIN" ]; then
  echo "bench: measuring $BIN (not built here)" >&2
elif [ "${BENCH_PROFILE:-release}" = debug ]; then
  cargo build --quiet   # the CI smoke run: the test build's binary, no second compile
  BIN=$PWD/target/debug/syncwatch
else
  echo "bench: building release binary" >&2
  cargo build --release --quiet
  BIN=$PWD/target/release/syncwatch
fi

# Table i: 200 rows, indexed updated_at. Newest row's age: i%10 == 0 fail (6h30m + i%60 min),
# i%10 == 1 warn (1h + (i%5)*1h + 5 min, so 1h05m..5h05m), else pass (i%30 min). Ages are
# relative to creation, so a fixture older than 20 minutes is made again.
fixture() {
  local n=$1 schema=swbench_$1
  local have
  have=$(psql_ -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = '$schema'")
  fresh=$(psql_ -c "SELECT coalesce((SELECT made > now() - interval '20 minutes' FROM $schema.meta), false)" 2>/dev/null || echo f)
  if [ "$have" = "$((n + 1))" ] && [ "$fresh" = "t" ]; then return; fi
  if [ "$have" = "$((n + 1))" ]; then
    # All there but aged: move every timestamp forward by the time since it was made (500
    # tables per transaction), much quicker than making the tables again.
    echo "bench: refreshing the ages in $schema" >&2
    local from
    for from in $(seq 1 500 "$n"); do
      psql_ <<SQL
DO \$\$
DECLARE i int; shift interval := now() - (SELECT made FROM $schema.meta);
BEGIN
  FOR i IN $from..LEAST($((from + 499)), $n) LOOP
    EXECUTE format('UPDATE $schema.t%s SET updated_at = updated_at + %L::interval', i, shift);
  END LOOP;
END \$\$;
SQL
    done
    psql_ -c "UPDATE $schema.meta SET made = now()" >/dev/null
    return
  fi
  echo "bench: creating $n tables in $schema (once)" >&2
  # Dropped 500 tables per transaction too.
  while [ "$(psql_ -c "SELECT count(*) FROM pg_tables WHERE schemaname = '$schema'")" != 0 ]; do
    psql_ -c "DO \$\$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = '$schema' LIMIT 500 LOOP EXECUTE format('DROP TABLE $schema.%I', r.tablename); END LOOP; END \$\$;"
  done
  psql_ -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema;"
  # 500 tables per transaction: one transaction over 10,000 tables exhausts the lock table.
  local from
  for from in $(seq 1 500 "$n"); do
    psql_ <<SQL
DO \$\$
DECLARE i int; age interval;
BEGIN
  FOR i IN $from..LEAST($((from + 499)), $n) LOOP
    age := CASE WHEN i % 10 = 0 THEN interval '6 hours 30 minutes' + (i % 60) * interval '1 minute'
                WHEN i % 10 = 1 THEN interval '1 hour 5 minutes' + (i % 5) * interval '1 hour'
                ELSE (i % 30) * interval '1 minute' END;
    EXECUTE format('CREATE TABLE $schema.t%s (id int, updated_at timestamptz)', i);
    EXECUTE format('INSERT INTO $schema.t%s SELECT g, now() - %L::interval - g * interval ''1 second'' FROM generate_series(0, 199) g', i, age);
    EXECUTE format('CREATE INDEX ON $schema.t%s (updated_at)', i);
  END LOOP;
END \$\$;
SQL
  done
  psql_ -c "CREATE TABLE $schema.meta AS SELECT now() AS made" >/dev/null
}

expected() { # n -> "pass warn fail"
  local n=$1
  awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) { if (i % 10 == 0) f++; else if (i % 10 == 1) w++; else p++ } print p+0, w+0, f+0 }'
}

# Settings and check files for n tables in `files` files; schedule for the daemon.
config() {
  local n=$1 dir=$2 files=$3 schedule=$4
  rm -rf "$dir"; mkdir -p "$dir/checks"
  cat > "$dir/syncwatch.yaml" <<YAML
store: { url: "sqlite:state.db" }
listen: 127.0.0.1:0
sources:
  pg: { url: "$PG", max_connections: $CONCURRENCY, statement_timeout: 30s }
YAML
  awk -v n="$n" -v files="$files" -v dir="$dir" -v schema="swbench_$n" -v sched="$schedule" 'BEGIN {
    per = int((n + files - 1) / files)
    for (i = 1; i <= n; i++) {
      f = sprintf("%s/checks/c%03d.yaml", dir, int((i - 1) / per))
      if (!(f in started)) { started[f] = 1; printf "defaults: { source: pg, schedule: \"%s\" }\nchecks:\n", sched > f }
      printf "  - name: t%d\n    freshness: { table: %s.t%d, column: updated_at, warn_after: 1h, error_after: 6h }\n", i, schema, i > f
    }
  }'
}

now_ms() { date +%s%3N; }
median() { python3 -c "import sys, statistics; v = [float(x) for x in sys.argv[1:]]; print(int(statistics.median(v)))" "$@"; }
ratio() { python3 -c "import sys; a, b = sys.argv[1:]; print(f'{int(a)/int(b):.2f}×' if b.isdigit() and int(b) > 0 else '-')" "$1" "$2"; }
# The PostgreSQL server's CPU time so far, in ms: every live postgres process, plus what the
# postmaster's exited children (the backends of closed connections) used.
server_cpu_ms() {
  python3 - "$POSTMASTER" <<'PY'
import os, sys
postmaster, hz, total = sys.argv[1], os.sysconf("SC_CLK_TCK"), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/stat") as f: raw = f.read()
    except OSError:
        continue
    if raw[raw.index("(") + 1:raw.rindex(")")] != "postgres":
        continue
    fields = raw[raw.rindex(")") + 2:].split()
    total += int(fields[11]) + int(fields[12])          # utime, stime
    if pid == postmaster:
        total += int(fields[13]) + int(fields[14])      # cutime, cstime: the reaped backends
print(total * 1000 // hz)
PY
}
# Runs "$@" and prints "wall_ms server_cpu_ms".
measure() {
  local c0 t0 t1 c1
  c0=$(server_cpu_ms); t0=$(now_ms)
  "$@" >/dev/null
  t1=$(now_ms); sleep 0.2; c1=$(server_cpu_ms)
  echo "$(( t1 - t0 )) $(( c1 - c0 ))"
}
results=()
cpu_results=()

for n in $SIZES; do
  fixture "$n"
  dir=$WORK/pass-$n
  config "$n" "$dir" 100 "*/15 * * * *"
  read -r want_pass want_warn want_fail < <(expected "$n")
  # Warm the database's caches so both sides read the same pages.
  for i in $(seq 1 "$n"); do echo "SELECT max(updated_at) FROM swbench_$n.t$i;"; done > "$dir/queries.sql"
  psql_ -f "$dir/queries.sql" >/dev/null
  split -n "l/$CONCURRENCY" "$dir/queries.sql" "$dir/part."
  # The new floor: the batched SQL syncwatch sends (50 tables a statement) from psql.
  awk -v n="$n" -v schema="swbench_$n" 'BEGIN {
    for (i = 1; i <= n; i += 50) {
      line = "SELECT"
      for (j = i; j < i + 50 && j <= n; j++) line = line sprintf(" (SELECT \"updated_at\" FROM \"%s\".\"t%d\" WHERE \"updated_at\" IS NOT NULL ORDER BY \"updated_at\" DESC LIMIT 1) AS n%d,", schema, j, j - i)
      print line " now() AS db_now;"
    }
  }' > "$dir/batched.sql"
  split -n "l/$CONCURRENCY" "$dir/batched.sql" "$dir/bpart."

  sw_run() {
    rm -f "$dir"/state.db*
    /usr/bin/time -f "%M" -o "$dir/rss" "$BIN" run --all --format json --config "$dir/syncwatch.yaml" > "$dir/out.json"
  }
  psql1() { psql_ -f "$dir/queries.sql"; }
  psqlc() { for p in "$dir"/part.*; do psql_ -f "$p" >/dev/null & done; wait; }
  # pgbench: the same per-table queries, one per round trip over the extended protocol, one
  # client per part (the parts run at once: `pgbench -c4` without repeating a table).
  pgb() { for p in "$dir"/part.*; do pgbench -n -M extended -c 1 -t 1 -f "$p" "$PG" >/dev/null 2>&1 & done; wait; }
  batchedc() { for p in "$dir"/bpart.*; do psql_ -f "$p" >/dev/null & done; wait; }

  # REPEAT rounds, alternating the contenders so a noisy minute hits them all; medians.
  declare -A wall cpu
  for k in sw psql1 psqlc pgb batchedc; do wall[$k]=""; cpu[$k]=""; done
  rss_max=0
  for r in $(seq 1 "$REPEAT"); do
    for k in sw psql1 psqlc pgb batchedc; do
      case $k in
        sw) read -r w c < <(measure sw_run)
            rss_kb=$(tail -1 "$dir/rss"); [ "$rss_kb" -gt "$rss_max" ] && rss_max=$rss_kb
            read -r got_pass got_warn got_fail got_error < <(python3 -c "import json; s=json.load(open('$dir/out.json'))['summary']; print(s['pass'], s['warn'], s['fail'], s['error'])")
            if [ "$got_pass $got_warn $got_fail $got_error" != "$want_pass $want_warn $want_fail 0" ]; then
              echo "bench: N=$n verdicts $got_pass/$got_warn/$got_fail/$got_error differ from the fixture's $want_pass/$want_warn/$want_fail/0" >&2
              exit 1
            fi ;;
        pgb) if ! command -v pgbench >/dev/null; then continue; fi
             read -r w c < <(measure pgb) ;;
        *) read -r w c < <(measure $k) ;;
      esac
      wall[$k]+=" $w"; cpu[$k]+=" $c"
    done
  done
  rm -f "$dir"/part.* "$dir"/bpart.*
  for k in sw psql1 psqlc pgb batchedc; do
    if [ -n "${wall[$k]// /}" ]; then
      # shellcheck disable=SC2086
      wall[$k]=$(median ${wall[$k]}); cpu[$k]=$(median ${cpu[$k]})
    else
      wall[$k]=-; cpu[$k]=-
    fi
  done
  sw=${wall[sw]}
  results+=("| $n | $sw ms | $(( n * 1000 / (sw > 0 ? sw : 1) )) | $(( rss_max / 1024 )) MiB | $got_pass / $got_warn / $got_fail | ${wall[psql1]} ms | ${wall[psqlc]} ms | ${wall[pgb]} ms | $(ratio "$sw" "${wall[pgb]}") | ${wall[batchedc]} ms | $(ratio "$sw" "${wall[batchedc]}") |")
  cpu_results+=("| $n | ${cpu[sw]} ms | ${cpu[pgb]} ms | $(ratio "${cpu[sw]}" "${cpu[pgb]}") | ${cpu[batchedc]} ms |")
  unset wall cpu
done

echo
echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(psql_ -c 'SHOW server_version') PostgreSQL on 127.0.0.1; concurrency $CONCURRENCY; medians of $REPEAT"
echo
echo "| checks | syncwatch run --all (exec to exit) | checks/s | peak RSS | pass / warn / fail | psql, 1 session | psql, $CONCURRENCY sessions | pgbench -c$CONCURRENCY | syncwatch ÷ pgbench | batched psql, $CONCURRENCY sessions | syncwatch ÷ batched |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
echo
echo "| checks | server CPU, syncwatch | server CPU, pgbench -c$CONCURRENCY | syncwatch ÷ pgbench | server CPU, batched psql |"
echo "|---|---|---|---|---|"
printf '%s\n' "${cpu_results[@]}"

# Opt-in (--huge): 100,000 tables on PostgreSQL's defaults (max_connections 100,
# max_locks_per_transaction 64). Tables of one row without an index (made 1,000 per
# transaction with one statement each; still a long while). Every check must get a verdict and
# none an error (no lock-table or connection exhaustion); config load and peak RSS are reported.
if [ "$HUGE" = 1 ]; then
  n=100000 schema=swbench_huge
  have=$(psql_ -c "SELECT count(*) FROM pg_tables WHERE schemaname = '$schema'")
  if [ "$have" != "$n" ]; then
    echo "bench: creating $n one-row tables in $schema (once; about a minute)" >&2
    psql_ -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    psql_ -c "CREATE SCHEMA IF NOT EXISTS $schema"
    for from in $(seq 1 1000 "$n"); do
      psql_ -c "DO \$\$ BEGIN FOR i IN $from..LEAST($((from + 999)), $n) LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS $schema.t%s AS SELECT now() - (%s %% 60) * interval ''1 minute'' AS updated_at', i, i);
      END LOOP; END \$\$;"
    done
  fi
  dir=$WORK/huge
  rm -rf "$dir"; mkdir -p "$dir/checks"
  printf 'store: { url: "sqlite:state.db" }\nsources:\n  pg: { url: "%s", max_connections: %s, statement_timeout: 60s }\n' "$PG" "$CONCURRENCY" > "$dir/syncwatch.yaml"
  awk -v n="$n" -v dir="$dir" -v schema="$schema" 'BEGIN {
    for (i = 1; i <= n; i++) {
      f = sprintf("%s/checks/c%04d.yaml", dir, int((i - 1) / 1000))
      if (!(f in started)) { started[f] = 1; printf "defaults: { source: pg }\nchecks:\n" > f }
      printf "  - name: t%d\n    freshness: { table: %s.t%d, column: updated_at, warn_after: 2h, error_after: 6h }\n", i, schema, i > f
    }
  }'
  load=$( { /usr/bin/time -f "%e" "$BIN" validate --config "$dir/syncwatch.yaml" >/dev/null; } 2>&1 | tail -1)
  start=$(now_ms)
  /usr/bin/time -f "%M" -o "$dir/rss" "$BIN" run --all --format json --config "$dir/syncwatch.yaml" > "$dir/out.json" || true
  wall=$(( $(now_ms) - start ))
  read -r ran pass error < <(python3 -c "import json; s=json.load(open('$dir/out.json'))['summary']; print(s['ran'], s['pass'], s['error'])")
  echo
  echo "| 100,000 tables, PostgreSQL defaults | value |"
  echo "|---|---|"
  echo "| checks with a verdict / errors | $ran / $error (pass $pass) |"
  echo "| syncwatch validate (config load) | ${load} s |"
  echo "| syncwatch run --all | $wall ms, peak RSS $(( $(tail -1 "$dir/rss") / 1024 )) MiB |"
fi

if [ "$DAEMON_MINUTES" = 0 ]; then exit 0; fi

# Cold start and the daemon: DAEMON_CHECKS checks in 100 files, every minute.
n=$DAEMON_CHECKS
fixture "$n"
dir=$WORK/daemon-$n
config "$n" "$dir" 100 "* * * * *"
start=$(now_ms)
"$BIN" run --all --config "$dir/syncwatch.yaml" >/dev/null
first=$(python3 -c "
import sqlite3, datetime
t = sqlite3.connect('$dir/state.db').execute('SELECT min(started_at) FROM runs').fetchone()[0]
print(int(datetime.datetime.fromisoformat(t).timestamp() * 1000))")
cold=$(( first - start ))
validate_ms=$( { /usr/bin/time -f "%e" "$BIN" validate --config "$dir/syncwatch.yaml" >/dev/null; } 2>&1 | tail -1)

rm -f "$dir"/state.db*
# As deployed: deploy/Dockerfile sets MALLOC_ARENA_MAX=2 (glibc's arenas per thread cost RSS).
MALLOC_ARENA_MAX=2 "$BIN" serve --config "$dir/syncwatch.yaml" --log-level warn 2> "$dir/serve.err" &
pid=$!
sleep 2
addr=$(grep -o 'http://[0-9.:]*' "$dir/serve.err" | head -1)
# Measure whole minutes after the start-up catch-up run.
sleep $(( 62 - $(date +%S | sed 's/^0//') ))
t0=$(date +%s)
cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
sleep $(( DAEMON_MINUTES * 60 ))
cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
t1=$(date +%s)
hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
# As Prometheus scrapes (gzip), five times between bursts (median), then once plain.
sleep $(( (90 - $(date +%S | sed 's/^0//')) % 60 ))
gz=()
for _ in 1 2 3 4 5; do
  gz+=("$(curl -s -H 'Accept-Encoding: gzip' -o "$dir/metrics.gz" -w '%{time_total}' "$addr/metrics")")
done
scrape_gz=$(python3 -c "import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "${gz[@]}")
size_gz=$(wc -c < "$dir/metrics.gz")
rss_before=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
hwm_before=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
scrape=$(curl -s -o "$dir/metrics.txt" -w '%{time_total}' "$addr/metrics")
size=$(wc -c < "$dir/metrics.txt")
# The status page between two bursts (second 30), and right at a burst (second 1).
sleep $(( (90 - $(date +%S | sed 's/^0//')) % 60 ))
pages=()
for _ in 1 2 3 4 5; do pages+=("$(curl -s -o "$dir/page.html" -w '%{time_total}' "$addr/")"); done
page=$(python3 -c "import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "${pages[@]}")
sleep $(( (61 - $(date +%S | sed 's/^0//')) % 60 ))
page_burst=$(curl -s -o /dev/null -w '%{time_total}' "$addr/")
page_size=$(wc -c < "$dir/page.html")
hwm_end=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
kill -TERM "$pid"; wait "$pid" || true
ticks=$(getconf CLK_TCK)
read -r runs p50 p99 pmax < <(python3 - "$dir/state.db" "$t0" "$t1" <<'PY'
import sqlite3, sys, datetime
db, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
late = []
for (s,) in sqlite3.connect(db).execute("SELECT started_at FROM runs"):
    t = datetime.datetime.fromisoformat(s).timestamp()
    if t0 <= t < t1:
        late.append(t - int(t // 60) * 60)   # every check fires on the minute
late.sort()
q = lambda p: late[min(len(late) - 1, int(p * len(late)))] if late else float("nan")
print(len(late), f"{q(0.5):.3f}", f"{q(0.99):.3f}", f"{late[-1] if late else float('nan'):.3f}")
PY
)
echo
echo "| daemon: $n checks every minute for $DAEMON_MINUTES min | value |"
echo "|---|---|"
echo "| runs measured (expected $(( n * (t1 - t0) / 60 ))) | $runs |"
echo "| start lateness p50 / p99 / max | ${p50} s / ${p99} s / ${pmax} s |"
echo "| CPU seconds per minute | $(python3 -c "print(f'{($cpu1 - $cpu0) / $ticks / (($t1 - $t0) / 60):.2f}')") |"
echo "| peak RSS over the measured minutes (MALLOC_ARENA_MAX=2, as the image sets) | $hwm MiB |"
echo "| /metrics scrape, gzip (as Prometheus asks), median of 5 between bursts | $(python3 -c "print(f'{$scrape_gz * 1000:.0f}')") ms, $(( size_gz / 1024 )) KiB |"
echo "| /metrics scrape, plain text | $(python3 -c "print(f'{$scrape * 1000:.0f}')") ms, $(( size / 1024 )) KiB |"
echo "| RSS after the gzip scrapes / peak RSS then / peak after the plain scrape and the status pages | $rss_before MiB / $hwm_before MiB / $hwm_end MiB |"
echo "| status page / (the summary: checks needing attention, sources): quiet (median of 5) / during a burst | $(python3 -c "print(f'{$page * 1000:.0f} ms / {$page_burst * 1000:.0f} ms')"), $(( page_size / 1024 )) KiB |"
echo "| cold start: exec to first check started ($n checks, 100 files) | $cold ms |"
echo "| syncwatch validate ($n checks) | ${validate_ms} s |"
