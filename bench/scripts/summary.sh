#!/usr/bin/env bash
# Prints the headline figure of the latest run of each (benchmark,
# workload, system) in a results CSV, with memdb's ratio to each baseline
# of the same access path: embedded/SQLite, pgwire/PostgreSQL, RESP/Redis.
#
# Usage: bench/scripts/summary.sh bench/results/ycsb.csv
set -euo pipefail
awk -F, '
  NR > 1 && $8 == "total" {
    key = $1 " " $2
    sys = $3
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    v[key, sys] = $9; unit[key] = $10
    if (!(sys in known)) { known[sys] = 1; systems[++m] = sys }
  }
  function find(key, prefix,   i) {
    for (i = 1; i <= m; i++) if (index(systems[i], prefix) == 1 && ((key, systems[i]) in v)) return v[key, systems[i]]
    return ""
  }
  function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
  END {
    printf "%-12s %-8s %12s %12s %12s %12s %12s %12s | %9s %9s %9s\n", "benchmark", "workload", \
      "embedded", "sqlite", "pgwire", "postgresql", "resp", "redis", "emb/sqlt", "pgw/pg", "resp/rds"
    for (i = 1; i <= n; i++) {
      k = order[i]
      e = find(k, "memdb (embedded)"); s = find(k, "sqlite"); p = find(k, "memdb (pgwire)")
      g = find(k, "postgresql"); r = find(k, "memdb (resp)"); d = find(k, "redis")
      split(k, parts, " ")
      printf "%-12s %-8s %12s %12s %12s %12s %12s %12s | %9s %9s %9s\n", parts[1], parts[2], \
        e, s, p, g, r, d, ratio(e, s), ratio(p, g), ratio(r, d)
    }
    print "(" unit[order[1]] "; ratios > 1: memdb faster)"
  }' "$1"
