#!/usr/bin/env bash
# The before/after EXPLAIN ANALYZE of docs/decisions.md, "PostgreSQL: asset filters through file_assets":
# 200,000 files with 1-3 asset links over 100,000 assets, a set of 1,011 assets (~2 % of the files).
# Run from the repository: scripts/with-postgres bash bench/assets/pg-file-assets/explain.sh
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
set -e
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
P="$bin/psql $CABINET_TEST_POSTGRES_URL -v ON_ERROR_STOP=1 -q"
for m in "$repo"/crates/cabinet/src/store/postgres/migrations/*.sql; do $P -f "$m"; done
$P -c "INSERT INTO projects (name) VALUES ('m')"
t0=$(date +%s.%N)
$P -c "INSERT INTO files (seq, id, project_id, name, asset_ids, data_set_id, created_time, last_updated_time)
  SELECT g, 1000000 + g, 1, 'n' || g,
    (ARRAY[(g * 7919) % 100000, (g * 104729 + 13) % 100000, (g * 15485863 + 7) % 100000])[1:1 + g % 3],
    g % 400, g, g FROM generate_series(0::bigint, 199999) AS g"
t1=$(date +%s.%N)
echo "insert of 200,000 files with the trigger: $(echo "$t1 - $t0" | bc) s"
$P -c "VACUUM ANALYZE files" ; $P -c "VACUUM ANALYZE file_assets"
$P -c "SELECT count(*) AS links FROM file_assets"
SET="'$($P -At -c "SELECT array_agg((g * 97) % 100000 ORDER BY g)::text FROM generate_series(1, 1011) AS g")'"
$P -c "SELECT count(*) AS matching_entries FROM file_assets WHERE project_id = 1 AND asset_id = ANY($SET::bigint[])"
uptime
for i in 1 2 3; do
echo "== before: walk with &&"
$P -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM files WHERE files.project_id = 1 AND files.asset_ids && $SET::bigint[] AND files.seq > -1 ORDER BY files.seq LIMIT 1001" | grep -E "Execution Time|Rows Removed|Scan"
echo "== after: file_assets page"
$P -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM files WHERE files.project_id = 1 AND files.seq = ANY(ARRAY(SELECT DISTINCT fa.seq FROM file_assets AS fa WHERE fa.project_id = 1 AND fa.asset_id = ANY($SET::bigint[]) AND fa.seq > -1 ORDER BY fa.seq LIMIT 1001)) ORDER BY files.seq" | grep -E "Execution Time|Scan|Aggregate|Unique|Sort"
echo "== before: count"
$P -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM files WHERE files.project_id = 1 AND files.asset_ids && $SET::bigint[]" | grep -E "Execution Time"
echo "== after: count"
$P -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(DISTINCT fa.seq) FROM file_assets AS fa WHERE fa.project_id = 1 AND fa.asset_id = ANY($SET::bigint[])" | grep -E "Execution Time"
done
echo "== a later page (after seq 150000), after"
$P -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM files WHERE files.project_id = 1 AND files.seq = ANY(ARRAY(SELECT DISTINCT fa.seq FROM file_assets AS fa WHERE fa.project_id = 1 AND fa.asset_id = ANY($SET::bigint[]) AND fa.seq > 150000 ORDER BY fa.seq LIMIT 1001)) ORDER BY files.seq" | grep -E "Execution Time"
echo "== combined with a data set, after (seq IN)"
$P -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM files WHERE files.project_id = 1 AND files.data_set_id = 7 AND files.seq IN (SELECT fa.seq FROM file_assets AS fa WHERE fa.project_id = 1 AND fa.asset_id = ANY($SET::bigint[])) AND files.seq > -1 ORDER BY files.seq LIMIT 101" | grep -vE "Index Cond: .*ANY|Filter: .*ANY"
echo "== combined with a data set, before (&&)"
$P -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM files WHERE files.project_id = 1 AND files.data_set_id = 7 AND files.asset_ids && $SET::bigint[] AND files.seq > -1 ORDER BY files.seq LIMIT 101" | grep -E "Execution Time"
uptime
