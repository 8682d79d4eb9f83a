#!/usr/bin/env bash
# Shared receive sockets (node/rxshare.h) across the lab. Node S (h1) sends
# 20 flows to groups 239.69.60.1-20 on port 5004, two each to groups on
# 5008 and 5010, one to a group on 5006, and one unicast to R's
# 10.77.0.2:5010; node R (h2) subscribes to them. Asserted:
# - every subscription gets its own stream and only it: the SSRC it
#   plays is its flow's (the SDP's o= session id), packets, no loss, no
#   packet of another SSRC, nothing refused;
# - R reads the 20 groups on 5004 through 2 shared sockets (16 + 4): its
#   final line says so, and ss(8) shows R with 2 sockets on port 5004, not
#   20; junk sent there meanwhile (unicast, broadcast) never reaches them;
# - two groups on 5008 share a socket until a D4 loop takes unicast on
#   5008, and two on 5010 until a unicast subscription is made on 5010:
#   then they move to sockets of their own (a shared socket, bound to the
#   port on any address, would take some of the loop's or subscription's
#   datagrams), saying so, playing on from their buffers; every datagram
#   sent to the loop reaches it, and the unicast subscription its stream;
# - a group's subscription made on port 5006 after a loop took unicast
#   there, or on 5010 after the unicast subscription, reads on a socket of
#   its own, and the loop gets every datagram.
. "$(dirname "$0")/../lib.sh"
lab=d4x$$
d4_lab_hosts $lab 2
n=20
flow() { # NAME DESTINATION [INTERFACE]
	printf '[flow %s]\nsource = t\ndestination = %s\nsdp_file = %s/%s.sdp\n' "$1" "$2" "$T" "$1"
	[ -z "${3:-}" ] || printf 'interface = %s\n' "$3"
}
sub() { # NAME ADDRESS [INTERFACE]
	printf '[subscription %s]\naddress = %s\nchannels = 8\nlatency = 20ms\n' "$1" "$2"
	[ -z "${3:-}" ] || printf 'interface = %s\n' "$3"
	printf '[sink n%s]\ntype = null\nsubscription = %s\n' "$1" "$1"
}
{
	printf '[node]\nname = S\n[discovery]\nsap = off\nmdns = off\n'
	printf '[source t]\ntype = tone\nchannels = 8\n'
	for i in $(seq 1 $n); do flow o$i 239.69.60.$i:5004 eth0; done
	for j in 1 2; do
		flow j$j 239.69.62.$j:5008 eth0
		flow k$j 239.69.63.$j:5010 eth0
	done
	flow g6 239.69.61.1:5006 eth0
	flow u 10.77.0.2:5010
} >"$T/S.ini"
{
	printf '[node]\nname = R\n[discovery]\nsap = off\nmdns = off\n'
	for i in $(seq 1 $n); do sub i$i 239.69.60.$i:5004 eth0; done
	for j in 1 2; do
		sub j$j 239.69.62.$j:5008 eth0
		sub k$j 239.69.63.$j:5010 eth0
	done
} >"$T/R.ini"

# Both are stopped by the test once it is done. R first: nothing queues
# on its shared sockets before their subscriptions start.
d4_node $lab-h2 R "$T/R.ini" --run-seconds 180
r=$!
d4_wait_log "$T/R.log" "api: listening" 20
d4_node $lab-h1 S "$T/S.ini" --run-seconds 200
s=$!
subs="$(seq -f 'i%g' 1 $n) j1 j2 k1 k2"
for i in $subs; do
	d4_wait_log "$T/R.log" "subscription $i: waiting -> receiving" 20
done

# socks PORT: R's sockets on PORT
socks() {
	ip netns exec $lab-h2 ss -uanp "sport = :$1" | grep -c "pid=$r," || true
}
for p in 5004:2 5008:1 5010:1; do
	[ "$(socks ${p%:*})" = ${p#*:} ] || fail "R has $(socks ${p%:*}) sockets on port ${p%:*}, want ${p#*:} (shared): $(ip netns exec $lab-h2 ss -uanp "sport = :${p%:*}")"
done

# flow_ssrc NAME: the SSRC of S's flow NAME (its SDP's o= session id)
flow_ssrc() {
	sed -n 's/^o=[^ ]* \([0-9]*\) .*/\1/p' "$T/$1.sdp"
}
api() { # METHOD PATH [BODY], to R
	ip netns exec $lab-h2 curl -s -X "$1" -H "Authorization: Bearer $(cat "$D4_STATE_DIR/R/token")" \
		${3:+-H "Content-Type: application/json" --data-binary "$3"} \
		"http://127.0.0.1:8080/api/v1$2"
}
# send PORT [ADDRESS]: 300 datagrams from h1 to ADDRESS:PORT (R's), 1 ms apart
send() {
	ip netns exec $lab-h1 python3 - "$1" "${2:-10.77.0.2}" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
for k in range(300):
    s.sendto(b"d4 shared rx %d" % k, (sys.argv[2], int(sys.argv[1])))
    time.sleep(0.001)
PY
}
# each subscription plays its own flow's stream
check_ssrc() { # NAME...
	local i want=
	api GET /subscriptions >"$T/subs.json" || fail "GET /subscriptions"
	for i in "$@"; do want="$want $i=$(flow_ssrc ${i/#i/o})"; done
	python3 - "$T/subs.json" $want <<'PY' || fail "a subscription plays another flow's stream"
import json, sys
got = {e["name"]: str(e["stats"]["ssrc"]) for e in json.load(open(sys.argv[1]))}
bad = [f"{n} plays SSRC {got.get(n)}, its flow's is {w}"
       for n, w in (a.split("=") for a in sys.argv[2:]) if not w or got.get(n) != w]
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
}
check_ssrc $subs
# junk to the shared port: unicast (no subscription takes it) and broadcast
send 5004
send 5004 10.77.0.255

out=$(api POST /d4/exec '{"text": "loop l8 on udp 10.77.0.2:5008 {\npkt = recv()\n}\n"}')
case $out in *error*) fail "a loop on a shared socket's port: $out" ;; esac
for j in 1 2; do
	d4_wait_log "$T/R.log" "subscription j$j: reads on a socket of its own now: D4 loop 'l8' receives unicast on port 5008; it plays on from its buffer" 10
done
out=$(api POST /d4/programs/l8/start) || fail "starting l8: $out"
[ "$(socks 5008)" = 3 ] || fail "R has $(socks 5008) sockets on port 5008, want 3 (j1's, j2's, the loop's): $(ip netns exec $lab-h2 ss -uanp 'sport = :5008')"
send 5008

out=$(api POST /subscriptions '{"name": "u", "address": "10.77.0.2:5010", "channels": 8, "latency_us": 20000}') ||
	fail "a unicast subscription on a shared socket's port: $out"
for k in 1 2; do
	d4_wait_log "$T/R.log" "subscription k$k: reads on a socket of its own now: subscription u receives unicast on port 5010; it plays on from its buffer" 10
done
d4_wait_log "$T/R.log" "subscription u: waiting -> receiving" 20
[ "$(socks 5010)" = 3 ] || fail "R has $(socks 5010) sockets on port 5010, want 3 (k1's, k2's, u's): $(ip netns exec $lab-h2 ss -uanp 'sport = :5010')"
# a group made there now reads on a socket of its own, bound to its group
out=$(api POST /subscriptions '{"name": "k3", "address": "239.69.63.3:5010", "channels": 8, "latency_us": 20000}') ||
	fail "a group beside a unicast subscription: $out"
any=$(ip netns exec $lab-h2 ss -uanp 'sport = :5010' | grep "pid=$r," | grep -c '0\.0\.0\.0:5010' || true)
[ "$(socks 5010)" = 4 ] && [ "$any" = 1 ] ||
	fail "k3 beside u: want 4 sockets on 5010, one (u's) on any address: $(ip netns exec $lab-h2 ss -uanp 'sport = :5010')"
# a loop on a subscribed group is refused, and the answer names the group
out=$(api POST /d4/exec '{"text": "loop lk on udp 239.69.63.3:5010 {\npkt = recv()\n}\n"}')
case $out in
*"udp 239.69.63.3:5010: subscription 'k3' receives that group"*) ;;
*) fail "a loop on k3's group: $out" ;;
esac

out=$(api POST /d4/exec '{"text": "loop l6 on udp 10.77.0.2:5006 {\npkt = recv()\n}\n"}')
case $out in *error*) fail "a loop on port 5006: $out" ;; esac
out=$(api POST /d4/programs/l6/start) || fail "starting l6: $out"
case $out in *error*) fail "starting l6: $out" ;; esac
d4_wait_log "$T/R.log" "d4: loop l6 on udp" 10
out=$(api POST /subscriptions '{"name": "g6", "address": "239.69.61.1:5006", "channels": 8, "latency_us": 20000}') ||
	fail "a group on the loop's port: $out"
d4_wait_log "$T/R.log" "subscription g6: waiting -> receiving" 20
[ "$(socks 5006)" = 2 ] || fail "R has $(socks 5006) sockets on port 5006, want 2 (the loop's, g6's own)"
send 5006
check_ssrc $subs u g6
sleep 1
kill -TERM $r
d4_wait_pid $r 30 || fail "R failed: $(tail -n 5 "$T/R.log")"
kill -TERM $s
d4_wait_pid $s 30 || true

for i in $subs u g6; do
	rcv=$(d4_sub_stat "$T/R.log" $i received)
	[ -n "$rcv" ] && [ "$rcv" -ge 1000 ] || fail "subscription $i received $rcv packets"
	# (j1, j2, k1 and k2 count from their move: their new sockets and
	# the shared one both had the packets of the moment, counted
	# duplicate and not played)
	for k in lost foreign_ssrc ssrc_changes bad_header bad_pt bad_size foreign; do
		v=$(d4_sub_stat "$T/R.log" $i $k)
		[ "$v" = 0 ] || fail "subscription $i: $k=$v: $(grep "final: subscription $i " "$T/R.log")"
	done
done
# What the shared sockets read for no subscription: a group's packets in
# the moment its subscription moved off one, none of the 600 junk
# datagrams (300 broadcast ones reach any socket on the port).
grep -q "final: receive shared_sockets=2 shared_subscriptions=$n per_socket=5004:16,5004:4 " "$T/R.log" ||
	fail "R's shared sockets: $(grep 'final: receive' "$T/R.log")"
unclaimed=$(grep 'final: receive' "$T/R.log" | tr ' ' '\n' | sed -n 's/^unclaimed=//p')
[ -n "$unclaimed" ] && [ "$unclaimed" -lt 300 ] || fail "the shared sockets read $unclaimed datagrams for no subscription: the junk got in"
for l in l6 l8; do
	in=$(grep "final: d4 $l " "$T/R.log" | tr ' ' '\n' | sed -n 's/^in=//p')
	[ "$in" = 300 ] || fail "loop $l got $in of 300 datagrams"
done
pass "$n groups on port 5004 through 2 shared sockets (16 + 4), each its own stream, 600 junk datagrams kept out ($unclaimed read for no subscription); two groups moved off a shared socket for a unicast loop on 5008, two for a unicast subscription on 5010, without a loss; a group on 5006 on its own socket beside a loop; a loop on a subscribed group refused, naming the group; each loop all 300 datagrams"
