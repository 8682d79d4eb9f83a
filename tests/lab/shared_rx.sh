#!/usr/bin/env bash
# Shared receive sockets (node/rxshare.h) across the lab. Node S (h1) sends
# 20 flows to groups 239.69.60.1-20 on port 5004 and one unicast flow to
# R's 10.77.0.2:5004; node R (h2) subscribes to all 21. Asserted:
# - every subscription gets its own stream and only it: packets, no
#   loss, no packet of another SSRC, nothing refused;
# - R reads the 20 groups through 2 shared sockets (16 + 4): its final
#   line says so, and ss(8) shows R with 3 sockets on port 5004 (the two,
#   and the unicast subscription's), not 21;
# - a D4 loop on unicast port 5004 is refused, saying why (the shared
#   socket would take its packets); one on port 5006 is taken; a group's
#   subscription on 5006 made after it reads on a socket of its own, and
#   every unicast datagram sent to the loop reaches it.
. "$(dirname "$0")/../lib.sh"
lab=d4x$$
d4_lab_hosts $lab 2
n=20
{
	printf '[node]\nname = S\n[discovery]\nsap = off\nmdns = off\n'
	printf '[source t]\ntype = tone\nchannels = 8\n'
	for i in $(seq 1 $n); do
		printf '[flow o%d]\nsource = t\ndestination = 239.69.60.%d:5004\ninterface = eth0\n' "$i" "$i"
	done
	printf '[flow u]\nsource = t\ndestination = 10.77.0.2:5004\n'
	printf '[flow g6]\nsource = t\ndestination = 239.69.61.1:5006\ninterface = eth0\n'
} >"$T/S.ini"
{
	printf '[node]\nname = R\n[discovery]\nsap = off\nmdns = off\n'
	for i in $(seq 1 $n); do
		printf '[subscription i%d]\naddress = 239.69.60.%d:5004\ninterface = eth0\nchannels = 8\nlatency = 20ms\n' "$i" "$i"
		printf '[sink n%d]\ntype = null\nsubscription = i%d\n' "$i" "$i"
	done
	printf '[subscription u]\naddress = 10.77.0.2:5004\nchannels = 8\nlatency = 20ms\n'
	printf '[sink nu]\ntype = null\nsubscription = u\n'
} >"$T/R.ini"

d4_node $lab-h1 S "$T/S.ini" --run-seconds 60
s=$!
d4_node $lab-h2 R "$T/R.ini" --run-seconds 40
r=$!
d4_wait_log "$T/R.log" "api: listening" 20
subs="$(seq -f 'i%g' 1 $n) u"
for i in $subs; do
	d4_wait_log "$T/R.log" "subscription $i: waiting -> receiving" 20
done

# R's sockets on port 5004: two shared ones and the unicast one
socks=$(ip netns exec $lab-h2 ss -uanp 'sport = :5004' | grep -c "pid=$r," || true)
[ "$socks" = 3 ] || fail "R has $socks sockets on port 5004, want 3 (2 shared, 1 unicast): $(ip netns exec $lab-h2 ss -uanp 'sport = :5004')"

api() { # METHOD PATH [BODY], to R
	ip netns exec $lab-h2 curl -s -X "$1" -H "Authorization: Bearer $(cat "$D4_STATE_DIR/R/token")" \
		${3:+-H "Content-Type: application/json" --data-binary "$3"} \
		"http://127.0.0.1:8080/api/v1$2"
}
out=$(api POST /d4/exec '{"text": "loop l4 on udp 10.77.0.2:5004 {\npkt = recv()\n}\n"}')
case $out in *"subscription 'i1' receives a group on that port through a shared socket, which would take the loop's unicast packets"*) ;;
*) fail "a loop on a shared socket's port: $out" ;; esac
out=$(api POST /d4/exec '{"text": "loop l6 on udp 10.77.0.2:5006 {\npkt = recv()\n}\n"}')
case $out in *error*) fail "a loop on port 5006: $out" ;; esac
out=$(api POST /d4/programs/l6/start) || fail "starting l6: $out"
case $out in *error*) fail "starting l6: $out" ;; esac
d4_wait_log "$T/R.log" "d4: loop l6 on udp" 10
out=$(api POST /subscriptions '{"name": "g6", "address": "239.69.61.1:5006", "channels": 8, "latency_us": 20000}') ||
	fail "a group on the loop's port: $out"
d4_wait_log "$T/R.log" "subscription g6: waiting -> receiving" 20
ip netns exec $lab-h1 python3 - <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for k in range(300):
    s.sendto(b"d4 shared rx %d" % k, ("10.77.0.2", 5006))
    time.sleep(0.001)
PY
sleep 1
kill -TERM $r
d4_wait_pid $r 30 || fail "R failed: $(tail -n 5 "$T/R.log")"
kill -TERM $s
d4_wait_pid $s 30 || true

for i in $subs g6; do
	rcv=$(d4_sub_stat "$T/R.log" $i received)
	[ -n "$rcv" ] && [ "$rcv" -ge 1000 ] || fail "subscription $i received $rcv packets"
	for k in lost foreign_ssrc ssrc_changes bad_header bad_pt bad_size foreign; do
		v=$(d4_sub_stat "$T/R.log" $i $k)
		[ "$v" = 0 ] || fail "subscription $i: $k=$v: $(grep "final: subscription $i " "$T/R.log")"
	done
done
grep -q "final: receive shared_sockets=2 shared_subscriptions=$n " "$T/R.log" ||
	fail "R's shared sockets: $(grep 'final: receive' "$T/R.log")"
in=$(grep "final: d4 l6 " "$T/R.log" | tr ' ' '\n' | sed -n 's/^in=//p')
[ "$in" = 300 ] || fail "the loop on 5006 got $in of 300 datagrams"
pass "$n groups on port 5004 through 2 shared sockets and a unicast subscription beside them, each its own stream; a loop refused on the shared port, taken on 5006 with a group's own socket beside it, all 300 datagrams"
