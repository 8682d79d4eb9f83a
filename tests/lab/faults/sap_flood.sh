#!/usr/bin/env bash
# SAP flood (issue 9): node B (h2, control API on) is subscribed by name to
# node A's real flow "A main" (h1, announced every second) when h3 floods
# 239.255.255.255:9875 with 10 000 distinct fake sessions (distinct origin,
# msg id hash, o= id and s= name; valid SDPs) at 5000/s (tests/tools/
# d4sapflood). While it lasts and after it, B is polled (GET /streams,
# GET /subscriptions, /proc/PID/status). Asserted:
# - B stays up; its table never holds more than the cap (discovery/sap.h
#   SAP_TABLE_DEFAULT_MAX, the node's table: node/disco.c sap_start);
# - its memory growth (VmHWM) stays under what a full table can hold
#   (arithmetic at "RSS bound" below);
# - "A main" shows in GET /streams, with its SDP, in every poll during
#   and after the flood; B's subscription to it keeps receiving without a
#   lost packet, and a second one by the name, made during the flood,
#   receives;
# - the overflow is logged, rate-limited: at most one
#   "sap: table full (CAP sessions): N evicted so far" line per 10 s and
#   the per-session "announced"/"evicted" lines within their limit of 10
#   per 10 s; and counted: GET /stats "sap" {"entries", "max_entries",
#   "evicted"}, with entries + evicted covering every session B received.
# Every check is reported; the test fails at the end if any failed.
. "$(dirname "$0")/../../lib.sh"

SAPFLOOD=${D4SAPFLOOD:-$(dirname "$D4WAV")/d4sapflood}
[ -x "$SAPFLOOD" ] || fail "no d4sapflood at $SAPFLOOD (set D4SAPFLOOD)"
count=10000
rate=5000
cap=$(sed -n 's/^#define SAP_TABLE_DEFAULT_MAX[[:space:]]*\([0-9]*\).*/\1/p' \
	"$D4_SRC/discovery/sap.h")
[ -n "$cap" ] || fail "no SAP_TABLE_DEFAULT_MAX in discovery/sap.h"

lab=d4sf$$
d4_lab_hosts $lab 3
cat >"$T/A.ini" <<INI
[node]
name = A
api = off
[discovery]
interface = eth0
mdns = off
sap_interval = 1s
[source tone]
type = tone
channels = 2
[flow main]
source = tone
destination = 239.69.7.1:5004
interface = eth0
INI
printf '[node]\nname = B\n[discovery]\ninterface = eth0\nmdns = off\n' >"$T/B.ini"
d4_node $lab-h1 A "$T/A.ini"
d4_node $lab-h2 B "$T/B.ini"
b=$!
d4_wait_log "$T/B.log" "api: listening on 0.0.0.0:8080" 15
# env and ip netns exec exec d4node: $b is the node itself.
[ "$(cat /proc/$b/comm)" = d4node ] || fail "PID $b is not d4node"
d4_wait_log "$T/B.log" "sap: session 'A main' from 10.77.0.1 announced" 15
TB=$(cat "$T/state/B/token")
ip netns exec $lab-h2 curl -s -o "$T/resp" -w '%{http_code}' \
	-H "Authorization: Bearer $TB" -H 'Content-Type: application/json' \
	--data-binary '{"name":"main","stream":"A main","timing":"arrival","latency_us":10000}' \
	http://10.77.0.2:8080/api/v1/subscriptions >"$T/code"
[ "$(cat "$T/code")" = 201 ] || fail "subscribe to 'A main': $(cat "$T/code") $(cat "$T/resp")"
d4_wait_log "$T/B.log" "subscription main: stream 'A main' \(SAP\) at" 15
# A few of A's announcements (1 s apart) before the flood, as a long-lived
# session has; the subscription settles.
sleep 3

# The table's worst case as the table itself counts it (struct sap_table
# and its buckets, per entry its struct and a SAP_SDP_MAX-byte SDP copy).
worst=$("$SAPFLOOD" --table-bytes "$cap")
[ "$worst" -gt 0 ] || fail "d4sapflood --table-bytes: $worst"
logged0=$(wc -l <"$T/B.log")

# The machine's own stalls (tests/tools/d4stall): a vCPU the hypervisor
# stops past the 10 ms latency makes packets late whatever the node does.
d4_witness
# Poll B from h2 until $T/stop exists: one JSON line per poll.
ip netns exec $lab-h2 python3 - "$b" "$T/stop" >"$T/polls.jsonl" 2>"$T/poller.log" <<'PY' &
import json, os, sys, time, urllib.request
pid, stop = int(sys.argv[1]), sys.argv[2]
base = "http://10.77.0.2:8080/api/v1"
def status():
    d = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                d[k] = int(v.split()[0]) * 1024
    return d
def get(path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return json.load(r)
t0 = time.monotonic()
while not os.path.exists(stop):
    p = {"t": round(time.monotonic() - t0, 3)}
    try:
        streams = get("/streams")
        p["count"] = len(streams)
        real = [s for s in streams if s["name"] == "A main"]
        p["real"] = len(real)
        p["real_sdp"] = bool(real and "m=audio 5004" in real[0].get("sdp", "")
                             and real[0].get("address") == "239.69.7.1:5004")
        p["valid"] = sum(1 for s in streams if "address" in s)
        sub = {s["name"]: s for s in get("/subscriptions")}["main"]
        p["sub_state"] = sub["state"]
        p["received"] = sub["stats"]["received"]
        p["lost"] = sub["stats"]["lost"]
        p["late"] = sub["stats"]["late"]
    except Exception as e:
        p["error"] = repr(e)
    try:
        p.update(status())
    except OSError as e:
        p["error"] = "status: %r" % e
    print(json.dumps(p), flush=True)
    time.sleep(0.1)
PY
poller=$!
_pids="$_pids $poller"
sleep 1
# UDP drops on B's SAP socket (port 9875 = 0x2693) before and after.
sapdrops() {
	ip netns exec $lab-h2 awk '$2 ~ /:2693$/ { d += $NF } END { print d + 0 }' \
		/proc/net/udp
}
drops0=$(sapdrops)
ip netns exec $lab-h3 "$SAPFLOOD" --count $count --rate $rate >"$T/flood.log" 2>&1 &
flooder=$!
# Halfway through, a second subscription by the name.
sleep 1
ip netns exec $lab-h2 curl -s -o "$T/resp2" -w '%{http_code}' \
	-H "Authorization: Bearer $TB" -H 'Content-Type: application/json' \
	--data-binary '{"name":"main2","stream":"A main","timing":"arrival","latency_us":10000}' \
	http://10.77.0.2:8080/api/v1/subscriptions >"$T/code2"
wait $flooder || fail "d4sapflood: $(cat "$T/flood.log")"
drops=$(($(sapdrops) - drops0))
# After: A announces again within 1 s; poll 4 s more.
sleep 4
touch "$T/stop"
d4_wait_pid $poller 10 || fail "the poller failed: $(cat "$T/poller.log")"
flood_s=$(sed -n 's/^sent [0-9]* in \([0-9.]*\) s$/\1/p' "$T/flood.log")
echo "flood: $(cat "$T/flood.log"); $drops dropped by B's socket"

ip netns exec $lab-h2 curl -s http://10.77.0.2:8080/api/v1/stats >"$T/stats.json"
ip netns exec $lab-h2 curl -s http://10.77.0.2:8080/api/v1/subscriptions >"$T/subs.json"
tail -n +"$((logged0 + 1))" "$T/B.log" >"$T/B-flood.log"
kill -0 $b 2>/dev/null && alive=1 || alive=0

# RSS bound. The table holds at most cap entries; the table counts its
# heap (sap_table_get_stats .bytes) as sizeof(struct sap_table) + buckets
# + per entry sizeof(struct tentry) + its SDP copy (at most SAP_SDP_MAX + 1
# bytes): "worst" above, that sum for cap entries of SAP_SDP_MAX bytes. Each
# entry is two malloc blocks, each rounded up to 16 bytes plus a 16-byte
# header: + cap * 2 * 32. Serving GET /streams for a full table builds a
# JSON tree and text of the same SDPs (each SDP copied into the tree, the
# text and the HTTP response: 3 copies, bounded by the table's bytes
# again): + 3 * worst. Growth of VmHWM from before the flood must stay
# under worst + cap * 64 + 3 * worst = 4 * worst + 64 * cap (about 5 MiB
# for cap 256). Keeping all 10 000 sessions would need 10 000 * (entry +
# SDP), about 13 MiB.
rss_bound=$((4 * worst + 64 * cap))
# Under AddressSanitizer freed memory waits in its quarantine (256 MiB)
# with redzones around every block: the bound means nothing there, and is
# checked in the normal build.
asan=0
ldd "$D4NODE" 2>/dev/null | grep -q libasan && asan=1

python3 - "$T/polls.jsonl" "$T/stats.json" "$T/B-flood.log" "$cap" \
	"$count" "$drops" "$rss_bound" "$alive" "${flood_s:-0}" "$T/subs.json" \
	"$(cat "$T/code2")" "$asan" <<'PY' || checks_failed=1
import json, re, sys
polls_f, stats_f, log_f = sys.argv[1:4]
cap, count, drops, rss_bound, alive = map(int, sys.argv[4:9])
flood_s = float(sys.argv[9])
subs_f, code2 = sys.argv[10:12]
asan = sys.argv[12] == "1"
polls = [json.loads(l) for l in open(polls_f)]
bad = []
def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        bad.append(what)

check(alive == 1, "B is still running after the flood")
errs = [p for p in polls if "error" in p]
# every poll answered (each within urlopen's 5 s), and enough of them to
# span the flood: how many a Python poller manages is the machine's
check(not errs and len(polls) >= 10,
      "%d polls of GET /streams, /subscriptions and /proc, %d failed%s"
      % (len(polls), len(errs), ": %s" % errs[0] if errs else ""))
ok = [p for p in polls if "count" in p]
maxc = max(p["count"] for p in ok) if ok else -1
check(0 < maxc <= cap, "GET /streams held at most %d streams (cap %d)"
      % (maxc, cap))
check(maxc == cap, "the flood filled the table to its cap (%d of %d)"
      % (maxc, cap))
missing = [p["t"] for p in ok if p["real"] != 1 or not p["real_sdp"]]
check(not missing, "'A main' with its SDP in every poll, during and after "
      "the flood (%d polls; missing in %d, first at t=%s s)"
      % (len(ok), len(missing), missing[0] if missing else "-"))
check(ok and ok[-1]["real"] == 1 and ok[-1]["real_sdp"],
      "'A main' with its SDP in the last poll, after the flood")
hwm0, hwm1 = ok[0]["VmHWM"], max(p["VmHWM"] for p in ok)
if asan:
    print("skip: the VmHWM bound in an AddressSanitizer build (its "
          "quarantine holds freed memory): VmHWM grew %d kB"
          % ((hwm1 - hwm0) // 1024))
else:
  check(hwm1 - hwm0 <= rss_bound,
      "VmHWM grew %d kB over the flood (from %d kB; bound %d kB, VmRSS at "
      "the end %d kB)" % ((hwm1 - hwm0) // 1024, hwm0 // 1024,
                          rss_bound // 1024, ok[-1]["VmRSS"] // 1024))
# "late" in a poll: some packet of the second before came after its playout
# time; how many, against the machine's stalls, is checked after this.
states = sorted(set(p["sub_state"] for p in ok))
rx = [p["received"] for p in ok]
check(set(states) <= {"receiving", "late"} and rx[-1] - rx[0] >= 1000 * (ok[-1]["t"] - ok[0]["t"] - 1),
      "subscription 'main' (by stream name) receiving in every poll "
      "(states %s), %d packets in %.1f s" % (states, rx[-1] - rx[0],
                                             ok[-1]["t"] - ok[0]["t"]))
check(ok[-1]["lost"] == 0, "subscription 'main' lost %d packets"
      % ok[-1]["lost"])

subs = {s["name"]: s for s in json.load(open(subs_f))}
m2 = subs.get("main2", {})
check(code2 == "201" and m2.get("state") in ("receiving", "late")
      and m2["stats"]["received"] > 0 and m2["stats"]["lost"] == 0,
      "subscription 'main2' to 'A main', made 1 s into the flood: %s, %s, "
      "%s packets, %s lost" % (code2, m2.get("state"),
                               m2.get("stats", {}).get("received"),
                               m2.get("stats", {}).get("lost")))

log = open(log_f).read().splitlines()
window = flood_s + 6  # the flood and the polls after it
full = [l for l in log if re.search(
    r"sap: table full \(%d sessions\): [0-9]+ evicted so far" % cap, l)]
check(1 <= len(full) <= int(window / 10) + 1,
      "%d 'sap: table full (%d sessions): N evicted so far' line(s) over "
      "%.1f s (want 1 to %d: at most one per 10 s)"
      % (len(full), cap, window, int(window / 10) + 1))
per = [l for l in log if re.search(r"sap: session '.*' from .* "
                                   r"(announced|evicted)", l)]
check(len(per) <= 10 * (int(window / 10) + 1),
      "%d per-session SAP lines over %.1f s for %d sessions (limit 10 per "
      "10 s)" % (len(per), window, count))
st = json.load(open(stats_f))
sap = st.get("sap")
if not isinstance(sap, dict):
    check(False, "GET /stats has a \"sap\" object with the table's "
          "counters: %s" % sorted(st))
else:
    ev, ent = sap.get("evicted", -1), sap.get("entries", -1)
    check(sap.get("max_entries") == cap, "GET /stats sap.max_entries %s "
          "(cap %d)" % (sap.get("max_entries"), cap))
    # Every session that reached B was inserted once, and A's once more
    # after each time it was evicted (A announces once a second): with
    # nothing deleted or expired, entries + evicted is that many.
    check(count - drops <= ev + ent <= count + 1 + int(window),
          "GET /stats sap: %d evicted + %d entries for %d sessions sent, "
          "%d dropped by the socket" % (ev, ent, count, drops))
# late packets from the first poll on, the witness watching: not those
# of the seconds before (a CI rehearsal had 60, all before the flood and
# before the witness started, counted as the flood's)
open(polls_f + ".late", "w").write("%d %d\n" % (
    ok[-1]["late"] - ok[0]["late"] if ok else 0,
    m2.get("stats", {}).get("late", 0)))
sys.exit(1 if bad else 0)
PY
# The late packets the polls saw, against the stalls the witness saw.
read -r late1 late2 <"$T/polls.jsonl.late" || fail "no late counts from the checks"
d4_check_late "subscription 'main' during the flood" "$late1" 10000 1000
d4_check_late "subscription 'main2' during the flood" "$late2" 10000 1000
[ -z "${checks_failed:-}" ] || fail "some checks failed (FAIL: lines above)"
