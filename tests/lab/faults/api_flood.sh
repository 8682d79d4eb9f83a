#!/usr/bin/env bash
# Fault lab: a flood on the control API. Node A (h1) sends a file on a
# multicast flow; node B (h2) records it while, from inside B's namespace
# over loopback, d4flood sends B's API 1000 requests a second for 30 s on
# 8 keep-alive connections: GET /node, /stats and /streams, and two in ten
# POST /subscriptions without a token. Asserted: the flood got its rate
# (>= 900 answers/s), every answer was the status it should be (200, or
# 401 for the writes) and none failed; the writes changed nothing; and the
# media path did not notice: 0 lost, 0 late, the recording bit-exact.
# The API runs on the node's control loop, the media on its own thread:
# this is the test that the one cannot starve the other.
# Latency 100 ms: the lab is a 2-vCPU virtual machine whose hypervisor
# stops a vCPU for tens of ms now and then, and here the flood tool and
# the node's control loop take a good part of it; such a stall must not
# read as a late packet. A stall of 100 ms or more, seen by the witness
# (tests/lib.sh d4_witness), makes the sender skip: the run is then
# skipped, not judged.
. "$(dirname "$0")/../../lib.sh"
D4FLOOD=${D4FLOOD:?D4FLOOD must point at the d4flood tool}

fsecs=30
rate=1000
min_rate=900
secs=$((fsecs + 3))
ch=2
lab=d4ff$$
d4_lab_hosts $lab 2
d4_witness
"$D4WAV" gen "$T/in.wav" --channels $ch --seconds $secs --seed 13
start=$(($(d4_ptp_now) + 3))

cat >"$T/tx.ini" <<INI
[node]
name = A
api = off
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = program
destination = 239.69.9.1:5004
interface = eth0
sdp_file = $T/main.sdp
INI
cat >"$T/rx.ini" <<INI
[node]
name = B
[subscription main]
sdp = $T/main.sdp
interface = eth0
timing = ptp
latency = 100ms
[sink rec]
subscription = main
path = $T/rec.wav
start = $start
duration = $secs
INI

run=$((secs + 6))
d4_node $lab-h1 A "$T/tx.ini" --run-seconds $((run + 1))
tx=$!
d4_wait_file "$T/main.sdp" 5
d4_node $lab-h2 B "$T/rx.ini" --run-seconds $run
rx=$!
d4_wait_log "$T/B.log" "api: listening on 0.0.0.0:8080" 15

while [ "$(d4_ptp_now)" -lt "$start" ]; do sleep 0.05; done
sleep 0.5
d4_spawn "$T/flood.out" ip netns exec $lab-h2 "$D4FLOOD" \
	http://127.0.0.1:8080/api/v1 --rate $rate --seconds $fsecs --conns 8
fl=$!
frc=0
d4_wait_pid $fl $((fsecs + 15)) || frc=$?
cat "$T/flood.out"
[ $frc -le 1 ] || fail "d4flood failed to run"
kill -0 $rx 2>/dev/null || fail "B died under the flood"
n=$(ip netns exec $lab-h2 curl -s http://127.0.0.1:8080/api/v1/subscriptions |
	python3 -c 'import json, sys; print(len(json.load(sys.stdin)))') ||
	fail "B's API does not answer after the flood"
[ "$n" = 1 ] || fail "B has $n subscriptions after the refused writes, want 1"

f() { tr ' ' '\n' <"$T/flood.out" | sed -n "s/^$1=//p"; }
got=$(f rate)
[ "$(f unexpected)" = 0 ] && [ "$(f status_other)" = 0 ] ||
	fail "answers with the wrong status: $(cat "$T/flood.out")"
[ "$(f failed)" = 0 ] || fail "$(f failed) requests got no answer"
[ "$got" -ge $min_rate ] ||
	fail "the flood reached $got requests/s, want >= $min_rate"
[ "$(f requests)" = $((rate * fsecs)) ] ||
	fail "$(f requests) answers, want $((rate * fsecs))"
[ "$(f status_200)" = $((rate * fsecs * 8 / 10)) ] &&
	[ "$(f status_401)" = $((rate * fsecs * 2 / 10)) ] ||
	fail "status counts: $(cat "$T/flood.out")"
pass "$(f requests) API requests at $got/s: $(f status_200) x 200, $(f status_401) x 401, $(f connects) connections, slowest $(f max_ms) ms"

d4_wait_pid $rx $((run + 10)) || fail "B exited with an error"
d4_wait_pid $tx 10 || fail "A exited with an error"
grep "final: subscription main " "$T/B.log" | sed 's/.*final: //'
# A sender that stalls skips packets: tell that apart from a fault
d4_sender_skips A "$T/A.log" main ||
	{ echo "SKIP: what the flood did cannot be told"; exit 77; }
st() { d4_sub_stat "$T/B.log" main "$1"; }
for k in lost late duplicate ssrc_changes bad_header missing_frames; do
	[ "$(st $k)" = 0 ] || fail "the stream has $k=$(st $k) after the flood"
done
[ "$(st received)" -ge $((secs * 1000)) ] ||
	fail "the stream arrived in $(st received) packets, want >= $((secs * 1000))"
"$D4WAV" cmp "$T/in.wav" "$T/rec.wav" --align none ||
	fail "the recording is not the file"
pass "through the flood: $(st received) packets, 0 lost, 0 late, recording bit-exact"
