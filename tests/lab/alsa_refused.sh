#!/usr/bin/env bash
# A stream found by name that a card sink cannot take: B subscribes to
# A's stream by its SAP name with a 30 ms latency, but B's card needs
# 34.7 ms of it (buffer 1920 + 2 periods + 4.7 ms). B must say so where
# a user looks (the subscription's state reason and its final line, not
# "not announced" or "never found"), and raising the latency, as the
# error advises, must take the stream without a restart: receiving, and
# the card playing it. d4ctl routes says why a route does not play, and
# for one that is late (B's "low" at 4 ms from A's capture card, whose
# flow sends 13.3 ms after capture: what a new user routed), the latency
# that would hold it.
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
. "$(dirname "$0")/alsa_common.sh"
d4_card card 0
d4_card capA 0
cat >"$T/A.ini" <<INI
[node]
name = A
api = 127.0.0.1:8091
[discovery]
mdns = off
sap = on
[source tone]
type = tone
channels = 2
[flow main]
source = tone
destination = 239.69.5.5:5004
[source card]
type = alsa
device = capA
channels = 2
sample_format = s32
buffer = 1920
[flow aux]
source = card
destination = 239.69.5.6:5004
INI
cat >"$T/B.ini" <<INI
[node]
name = B
api = 127.0.0.1:8092
[discovery]
mdns = off
sap = on
[subscription prog]
stream = A main
latency = 30ms
[sink out]
type = alsa
subscription = prog
device = card
channels = 1-2
[subscription low]
address = 239.69.5.6:5004
channels = 2
latency = 4ms
INI
api() { # PORT NODE METHOD PATH [BODY]
	curl -s -X "$3" -H "Authorization: Bearer $(cat "$D4_STATE_DIR/$2/token")" \
		${5:+-H "Content-Type: application/json" --data-binary "$5"} \
		"http://127.0.0.1:$1/api/v1$4"
}
receiving() { # SUB: until B's SUB reads receiving (10 s); its state in $st
	local i
	for i in $(seq 1 100); do
		st=$(api 8092 B GET "/subscriptions/$1")
		case $st in *'"state":"receiving"'*) return 0 ;; esac
		sleep 0.1
	done
	return 1
}
d4_spawn "$T/A.log" "$D4NODE" --config "$T/A.ini" --run-seconds 60
a=$!
d4_spawn "$T/B.log" "$D4NODE" --config "$T/B.ini" --run-seconds 40
b=$!
d4_wait_log "$T/B.log" "stream 'A main': sink out: the card's buffer needs" 30 ||
	fail "B did not say why it does not take the stream"
st=$(api 8092 B GET /subscriptions/prog)
echo "$st" | grep -q '"state":"unresolved"' &&
	echo "$st" | grep -q '"state_reason":"the stream was found but not taken: sink out: the card.s buffer needs [0-9]* us of the subscription.s 30000 us latency' ||
	fail "the state does not say why the stream is not taken: $st"
echo "$st" | grep -q '"stream_announced":true' || fail "not announced? $st"
echo "refused, as it should: $(echo "$st" | sed -n 's/.*"state_reason":"\([^"]*\)".*/\1/p')"
printf '[node A]\nhost = 127.0.0.1:8091\ntoken = %s\n[node B]\nhost = 127.0.0.1:8092\ntoken = %s\n' \
	"$(cat "$D4_STATE_DIR/A/token")" "$(cat "$D4_STATE_DIR/B/token")" >"$T/d4ctl.conf"
for i in $(seq 1 50); do
	"$D4CTL" --config "$T/d4ctl.conf" --browse 0.1 routes >"$T/routes.txt" 2>&1 || true
	grep -q "^note: B/low is late: .* (d4ctl latency B/low [0-9]*)$" "$T/routes.txt" && break
	sleep 0.2
done
cat "$T/routes.txt"
grep -q "^note: B/prog is unresolved: the stream was found but not taken: sink out: the card's buffer needs" "$T/routes.txt" ||
	fail "d4ctl routes does not say why B/prog does not play"
grep -q "^note: B/low is late: .* (d4ctl latency B/low [0-9]*)$" "$T/routes.txt" ||
	fail "d4ctl routes does not say what latency would hold B/low"
hold=$(sed -n 's/^note: B\/low is late: .* (d4ctl latency B\/low \([0-9]*\))$/\1/p' "$T/routes.txt")
"$D4CTL" --config "$T/d4ctl.conf" --browse 0.1 latency B/low "$hold" >/dev/null ||
	fail "d4ctl latency B/low $hold"
receiving low || fail "the latency d4ctl routes advised ($hold ms) does not hold: $st"
echo "d4ctl routes advised $hold ms for B/low: receiving"

api 8092 B PUT /subscriptions/prog '{"latency_us":40000}' >/dev/null ||
	fail "PUT latency 40 ms"
receiving prog || fail "raising the latency did not take the stream: $st"
d4_wait_log "$T/B.log" "sink out: servo locked" 20 || fail "the card's servo did not lock"
kill -TERM $b
d4_wait_pid $b 20 || fail "B failed"
kill -TERM $a
d4_wait_pid $a 20 || fail "A failed"
grep "final: subscription prog" "$T/B.log"
grep -q "final: subscription prog unresolved" "$T/B.log" &&
	fail "B's final line says unresolved after the stream was taken"
[ "$(d4_sub_stat "$T/B.log" prog received)" -gt 1000 ] ||
	fail "B received too little after the latency change"
played=$(($(stat -c %s "$T/card.raw") / 8))
[ "$played" -gt 48000 ] || fail "the card played $played frames"
pass "a stream a card sink could not take said why (API, d4ctl routes, final line), and a latency raised as advised took it: receiving, the card played $played frames; a late route's advice ($hold ms) held"
