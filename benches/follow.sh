#!/usr/bin/env bash
# How far behind its source a lake kept by `strata sync --follow` runs,
# under a steady write load: the time from a transaction's commit to the
# moment its sales are in gold.fact_sales.
#
#   benches/follow.sh postgres://user@host:port/db [changes per second] [seconds]
#
# The database holds `public.sales` as the contract describes it, on a
# server with `wal_level = logical`; the script sets REPLICA IDENTITY FULL.
# It builds a lake with a first `strata sync`, starts `strata sync --follow
# --interval 0.2`, and then, every 100 ms, commits one transaction of
# rate/10 new sales (copies of a recent sale under new ids), recording its
# commit time in a side table the slot does not publish. A poller asks the
# lake (`strata sql`) for its highest sale id every 250 ms. Each batch's lag
# is the first poll that saw it, less its commit time; the script prints
# their median, 95th percentile and maximum.
#
# STRATA (the binary, default target/release/strata) and WORK (scratch
# folder, default /tmp/strata-follow-bench) may be set.
set -euo pipefail

url=${1:?usage: benches/follow.sh postgres://... [changes per second] [seconds]}
rate=${2:-1000}
duration=${3:-30}
strata=${STRATA:-target/release/strata}
work=${WORK:-/tmp/strata-follow-bench}
project=$(cd "$(dirname "$0")/.." && pwd)
per=$((rate / 10))
batches=$((duration * 10))

rm -rf "$work" && mkdir -p "$work"
sql() { psql "$url" -v ON_ERROR_STOP=1 -qAt "$@"; }
lake=(--project "$project" --lake "$work/lake" --source "$url")

sql -c "ALTER TABLE public.sales REPLICA IDENTITY FULL"
sql -c "SET client_min_messages = warning; DROP TABLE IF EXISTS strata_follow_commits; CREATE TABLE strata_follow_commits (batch int, at timestamptz)"
"$strata" sync "${lake[@]}" --drop-slot > /dev/null 2>&1 || true
"$strata" sync "${lake[@]}" > "$work/first.log" 2>&1
base=$(sql -c "SELECT max(sale_id) FROM public.sales")
template=$(sql -c "SELECT ctid FROM public.sales WHERE sale_date LIKE '%/12/2024' LIMIT 1")

"$strata" sync "${lake[@]}" --follow --interval 0.2 -q > "$work/follow.log" 2>&1 &
follower=$!
trap 'kill -INT $follower 2>/dev/null || true' EXIT

# The poller: one line per poll, "<unix time> <highest sale id in gold>".
(
    while true; do
        seen=$("$strata" sql "${lake[@]}" --format csv \
            -c "SELECT coalesce(max(sale_id), 0) FROM gold.fact_sales" 2>/dev/null | tail -1 || true)
        echo "$(date +%s.%N) $seen"
        sleep 0.25
    done
) > "$work/polls.txt" &
poller=$!

# The writer: one psql session, one transaction per 100 ms.
for ((i = 0; i < batches; i++)); do
    cat <<SQL
BEGIN;
INSERT INTO public.sales
    SELECT $base + $i * $per + g, sale_date, customer_id, customer_name, product_id,
           product_name, category, seller_id, seller_name, region, quantity, unit_price,
           total_value, updated_at
    FROM public.sales, generate_series(1, $per) g WHERE ctid = '$template';
INSERT INTO strata_follow_commits VALUES ($i, clock_timestamp());
COMMIT;
SQL
    sleep 0.1
done | psql "$url" -v ON_ERROR_STOP=1 -q
sql -c "SELECT count(*) FROM strata_follow_commits" > /dev/null
# Let the lake catch up with the last batch (or give up after 120 s).
last=$((base + batches * per))
for ((t = 0; t < 480; t++)); do
    tail -1 "$work/polls.txt" | awk -v last="$last" '{ exit !($2 >= last) }' && break
    sleep 0.25
done
kill "$poller"
kill -INT "$follower"
wait "$follower" || true
trap - EXIT

sql -F ' ' -c "SELECT batch, extract(epoch FROM at) FROM strata_follow_commits ORDER BY batch" > "$work/commits.txt"
python3 - "$work/commits.txt" "$work/polls.txt" "$base" "$per" <<'PY'
import sys
commits = {int(b): float(t) for b, t in (l.split() for l in open(sys.argv[1]) if l.strip())}
polls = []
for line in open(sys.argv[2]):
    parts = line.split()
    if len(parts) == 2 and parts[1].isdigit():
        polls.append((float(parts[0]), int(parts[1])))
base, per = int(sys.argv[3]), int(sys.argv[4])
lags, unseen = [], 0
for batch, at in sorted(commits.items()):
    last_id = base + (batch + 1) * per
    seen = next((t for t, top in polls if top >= last_id and t >= at), None)
    if seen is None:
        unseen += 1
    else:
        lags.append(seen - at)
lags.sort()
if not lags:
    sys.exit("no batch reached gold")
pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
print(f"batches committed:        {len(commits)} ({per} sales each, every 100 ms)")
print(f"seen in gold.fact_sales:  {len(lags)} (never: {unseen})")
print(f"lag, commit to gold:      median {pick(0.5):.2f} s, p95 {pick(0.95):.2f} s, max {lags[-1]:.2f} s")
PY
grep -c "^Applied" "$work/follow.log" | sed 's/^/follow rounds that applied changes: /'
