#!/usr/bin/env bash
# The write cost of the file_assets insert trigger: 200,000 files without it, then 200,000 with it.
# Run from the repository: scripts/with-postgres bash bench/assets/pg-file-assets/insert-cost.sh
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
set -e
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
P="$bin/psql $CABINET_TEST_POSTGRES_URL -v ON_ERROR_STOP=1 -q"
for m in "$repo"/crates/cabinet/src/store/postgres/migrations/*.sql; do $P -f "$m"; done
$P -c "INSERT INTO projects (name) VALUES ('m')"
ins() {
$P -c "INSERT INTO files (seq, id, project_id, name, asset_ids, data_set_id, created_time, last_updated_time)
  SELECT g, 1000000 + g, 1, 'n' || g,
    (ARRAY[(g * 7919) % 100000, (g * 104729 + 13) % 100000, (g * 15485863 + 7) % 100000])[1:1 + g % 3],
    g % 400, g, g FROM generate_series($1::bigint, $2) AS g"
}
uptime
$P -c "ALTER TABLE files DISABLE TRIGGER file_assets_insert"
t0=$(date +%s.%N); ins 0 199999; t1=$(date +%s.%N)
echo "without the file_assets trigger: $(echo "$t1 - $t0" | bc) s"
$P -c "ALTER TABLE files ENABLE TRIGGER file_assets_insert"
t0=$(date +%s.%N); ins 200000 399999; t1=$(date +%s.%N)
echo "with it (into the larger table): $(echo "$t1 - $t0" | bc) s"
$P -c "SELECT count(*) FROM file_assets"
uptime
