#!/usr/bin/env bash
# ALSA xrun recovery: a node plays a tone it sends itself into the test
# card; 8 s in, the whole node is frozen (SIGSTOP) for 0.5 s while the card
# keeps its own time, so the card runs dry. The node must count the xrun,
# log it (rate-limited), recover, and play on to the end.
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
. "$(dirname "$0")/alsa_common.sh"
secs=20
d4_card card 0
cat >"$T/n.ini" <<INI
[node]
name = n
[discovery]
mdns = off
sap = off
[source tc]
type = file
path = $T/tc.wav
loop = true
[flow tc]
source = tc
destination = 239.69.9.2:5004
[subscription tc]
address = 239.69.9.2:5004
channels = 2
latency = 80ms
[sink card]
type = alsa
subscription = tc
device = card
sample_format = s32
buffer = 1920
INI
d4_spawn "$T/n.log" "$D4NODE" --config "$T/n.ini" --run-seconds $secs
n=$!
sleep 8
kill -STOP $n
sleep 0.5
kill -CONT $n
d4_wait_pid $n $((secs + 10)) || fail "the node exited with an error after the xrun"
grep "final: alsa" "$T/n.log"
xruns=$(d4_alsa_stat "$T/n.log" "sink card" xruns)
[ -n "$xruns" ] && [ "$xruns" -ge 1 ] || fail "no xrun counted (xruns=$xruns)"
logged=$(grep -c "card: underrun" "$T/n.log" || true)
[ "$logged" -ge 1 ] && [ "$logged" -le "$xruns" ] ||
	fail "xruns=$xruns but $logged log lines"
[ "$(d4_alsa_stat "$T/n.log" "sink card" servo)" = locked ] ||
	fail "the card's servo did not lock again after the xrun"
# 8 bytes a frame: after the stall the card played on (at least 15 of the
# 20 s in all, 8 of them before the stall).
played=$(($(stat -c %s "$T/card.raw") / 8 / 48000))
[ "$played" -ge 15 ] || fail "the card played only $played s: no recovery"
pass "xrun: $xruns counted, $logged logged, recovered: the card played $played s of $secs, its servo locked again"
