#!/usr/bin/env bash
# What a `strata sync` batch costs against a full `strata run`, measured in
# the same benchmark run on the same source.
#
#   benches/sync.sh postgres://user@host:port/db [percent] [recent|spread]
#
# The database holds `public.sales` as the contract describes it (e.g.
# `strata fixtures --sales 10000000 --to-postgres ...`), on a server with
# `wal_level = logical`; the script sets REPLICA IDENTITY FULL. It:
#   1. builds a lake with a full `strata run` (timed);
#   2. builds a second one with a first `strata sync` (a slot and the lake
#      from its snapshot; timed);
#   3. commits `percent`% of the table's rows as changes in one transaction:
#      a third inserts (new sales), a third updates (quantity and total), a
#      third deletes, the last two by sale id (every copy of a double-posted
#      sale). `recent`: every change on the last 30 days of sales,
#      as a live system's are; `spread`: on rows picked uniformly, which
#      touches every day;
#   4. times the `strata sync` that applies them, then `strata verify`.
# Leaves the slot dropped and the source as the changes left it.
#
# STRATA (the binary, default target/release/strata) and WORK (scratch
# folder, default /tmp/strata-sync-bench) may be set.
set -euo pipefail

url=${1:?usage: benches/sync.sh postgres://... [percent] [recent|spread]}
percent=${2:-1}
spread=${3:-recent}
strata=${STRATA:-target/release/strata}
work=${WORK:-/tmp/strata-sync-bench}
project=$(cd "$(dirname "$0")/.." && pwd)

rm -rf "$work" && mkdir -p "$work"
seconds() { # seconds NAME command...: runs it, its output in $work/NAME.log; prints its wall time
    local name=$1 start end
    shift
    start=$(date +%s.%N)
    "$@" > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
sql() { psql "$url" -v ON_ERROR_STOP=1 -qAt "$@"; }

sql -c "ALTER TABLE public.sales REPLICA IDENTITY FULL"
rows=$(sql -c "SELECT count(*) FROM public.sales")
changes=$((rows * percent / 100))
third=$((changes / 3))

full=$(seconds full "$strata" run --project "$project" --lake "$work/full" --source "$url" --no-report)
"$strata" sync --project "$project" --lake "$work/synced" --source "$url" --drop-slot > /dev/null 2>&1 || true
first=$(seconds first-sync "$strata" sync --project "$project" --lake "$work/synced" --source "$url")

# The last 30 days of the generated range (2024-12-02 to 2024-12-31), in
# either spelling; a bad date is never recent.
if [ "$spread" = recent ]; then
    pool="SELECT ctid AS row_id, sale_id FROM public.sales
          WHERE sale_date ~ '^(0[2-9]|[12][0-9]|3[01])/12/2024\$'
             OR sale_date ~ '^2024-12-(0[2-9]|[12][0-9]|3[01])'"
else
    pool="SELECT ctid AS row_id, sale_id FROM public.sales"
fi
change_start=$(date +%s.%N)
# Inserts copy picked rows as new sales; updates and deletes name sales by
# id, as the legacy application does, so every copy of a double-posted
# sale changes alike.
sql <<SQL
BEGIN;
CREATE TEMP TABLE picked AS
    SELECT row_id, sale_id, row_number() OVER () AS n
    FROM (SELECT row_id, sale_id FROM ($pool) p ORDER BY random() LIMIT $((3 * third))) r;
INSERT INTO public.sales
    SELECT (SELECT max(sale_id) FROM public.sales) + row_number() OVER (), sale_date, customer_id,
           customer_name, product_id, product_name, category, seller_id, seller_name, region,
           quantity, unit_price, total_value, updated_at + interval '1 day'
    FROM public.sales WHERE ctid IN (SELECT row_id FROM picked WHERE n <= $third);
UPDATE public.sales SET quantity = quantity + 1, total_value = (quantity + 1) * unit_price
    WHERE sale_id IN (SELECT sale_id FROM picked WHERE n > $third AND n <= $((2 * third)));
DELETE FROM public.sales
    WHERE sale_id IN (SELECT sale_id FROM picked WHERE n > $((2 * third)));
COMMIT;
SQL
change_end=$(date +%s.%N)

batch=$(seconds sync "$strata" sync --project "$project" --lake "$work/synced" --source "$url")
grep -E "Applied" "$work/sync.log" || true
verify=$(seconds verify "$strata" verify --project "$project" --lake "$work/synced" --source "$url")
"$strata" sync --project "$project" --lake "$work/synced" --source "$url" --drop-slot > /dev/null

echo "source rows:              $rows"
echo "changes ($spread):        about $((3 * third)) committed in $(echo "$change_end - $change_start" | bc) s"
echo "full strata run:          $full s"
echo "first sync (whole lake):  $first s"
echo "sync of the changes:      $batch s  ($(echo "scale=3; $batch / $full" | bc) of a full run)"
echo "verify after it:          $verify s"
