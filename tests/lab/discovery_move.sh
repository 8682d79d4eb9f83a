#!/usr/bin/env bash
# Discovery lab: a stream that moves, seamlessly. Node A on h1 sends one
# file on two groups (flows main and alt, the same samples on the same
# timeline, as a device that moves its stream would during the change). A
# SAP announcer on h1 announces session "moving" with main's SDP, then
# alt's, then main's again (new o= versions), while node B on h2,
# subscribed by the name, records from PTP time T (the subscription,
# and the RX channels it fills). Each move is followed
# (logged), what B had buffered from the old group plays out first, and
# the recording is the file, bit for bit: the moves cost no sample (a new
# user heard 1-2 ms of silence at each move when only the jitter buffer
# was handed over and the packets queued in the sockets were not).
. "$(dirname "$0")/../lib.sh"

secs=8
lab=d4mv$$
g1=239.69.77.1
g2=239.69.77.2
d4_lab_hosts $lab 2
d4_witness
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 11
start=$(($(d4_ptp_now) + 8))

cat >"$T/A.ini" <<INI
[node]
name = A
[discovery]
interface = eth0
mdns = off
[source f]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = f
destination = $g1:5004
interface = eth0
[flow alt]
source = f
destination = $g2:5004
interface = eth0
INI
cat >"$T/B.ini" <<INI
[node]
name = B
[discovery]
interface = eth0
mdns = off
[subscription mv]
stream = moving
interface = eth0
timing = ptp
latency = 20ms
rx_channels = 1-2
[sink take]
subscription = mv
path = $T/take.wav
start = $start
duration = $secs
[sink takerx]
rx = 1-2
path = $T/takerx.wav
start = $start
duration = $secs
INI
d4_node $lab-h1 A "$T/A.ini" --run-seconds 300 # until told, below
a=$!
d4_wait_log "$T/A.log" "api: listening" 15
# Each flow's own SDP (its mediaclk offset, format), from A's API.
for f in main alt; do
	d4_wait_file "$D4_STATE_DIR/A/token" 10
	d4_api $lab-h1 A GET "/flows/$f" >"$T/$f.json" ||
		fail "GET /flows/$f: $(cat "$T/$f.json")"
	python3 -c 'import json, sys
sdp = json.load(open(sys.argv[1]))["sdp"]
out = []
for l in sdp.replace("\r\n", "\n").split("\n"):
    if l.startswith("s="): l = "s=moving"
    if l.startswith("o="): l = "o=- 4242 VERSION IN IP4 10.77.0.1"
    if l: out.append(l)
open(sys.argv[2], "w").write("\r\n".join(out) + "\r\n")' "$T/$f.json" "$T/$f.sdp"
done
grep -q "c=IN IP4 $g2/" "$T/alt.sdp" || fail "alt's SDP: $(cat "$T/alt.sdp")"
ver=1
announce() { # SDP: make it the one announced, with a new o= version
	ver=$((ver + 1))
	sed "s/ VERSION / $ver /" "$T/$1.sdp" >"$T/cur.tmp"
	mv "$T/cur.tmp" "$T/cur.sdp"
}
announce main
d4_spawn "$T/sap.log" ip netns exec $lab-h1 python3 "$D4_SRC/tests/tools/sap_announce.py" \
	--hash 0x1235 --interval 0.25 "$T/cur.sdp"
d4_node $lab-h2 B "$T/B.ini" --run-seconds 300
b=$!
d4_wait_log "$T/B.log" "subscription mv: stream 'moving' \(SAP\) at $g1:5004, 2 ch L24/48000" 15
d4_wait_log "$T/B.log" "subscription mv: waiting -> receiving" $((start - $(d4_ptp_now) + 10))
pass "B found 'moving' by SAP at $g1 and receives it"

until_ptp() { while [ "$(d4_ptp_now)" -lt "$1" ]; do sleep 0.1; done; }
# Two moves inside the recording: to alt, and back to main.
until_ptp $((start + 3))
announce alt
d4_wait_log "$T/B.log" "subscription mv: stream 'moving' \(SAP\) moved to $g2:5004" 10
until_ptp $((start + 6))
announce main
d4_wait_log "$T/B.log" "subscription mv: stream 'moving' \(SAP\) moved to $g1:5004" 10
n=$(grep -c "subscription mv: what the old address brought plays out first" "$T/B.log")
[ "$n" = 2 ] || fail "B handed the old buffer over on $n of 2 moves: $(grep 'subscription mv:' "$T/B.log" | tail -n 8)"
pass "B followed both moves ($g1 -> $g2 -> $g1), each time playing out what the old group had brought"
until_ptp $((start + secs + 2))
kill -TERM $b
d4_wait_pid $b 15 || fail "B exited with an error"
kill -TERM $a
d4_wait_pid $a 15 || fail "A exited with an error"

# What each receiver B had counted: two before a move, the last at exit.
stats=$(grep -E "subscription mv: before the move: |final: subscription mv " "$T/B.log")
lost=$(echo "$stats" | sed -n 's/.* lost=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
late=$(echo "$stats" | sed -n 's/.* late=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "$(echo "$stats" | wc -l)" = 3 ] || fail "B's receivers: $stats"
[ "$lost" = 0 ] || fail "B lost $lost packets"
d4_check_late "B" "$late" 20000 1000
skipped=0
for f in main alt; do
	s=$(d4_flow_stat "$T/A.log" $f skipped)
	d4_check_skipped "A's flow $f" "$s" 1000
	skipped=$((skipped + s))
done
d4_cmp_stalled "B's recording across two moves" "$T/in.wav" "$T/take.wav" \
	"$skipped" "$late"
d4_cmp_stalled "B's recording of its RX channels" "$T/in.wav" "$T/takerx.wav" \
	"$skipped" "$late"
pass "a stream moved twice during a recording: no sample lost ($lost lost, $late late)"
