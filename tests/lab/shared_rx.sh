#!/usr/bin/env bash
# Shared receive sockets (node/rxshare.h) across the lab. Node S (h1) sends
# 20 flows to groups 239.69.60.1-20 on port 5004 and one unicast flow to
# R's 10.77.0.2:5004; node R (h2) subscribes to all 21. Asserted:
# - every subscription gets its own stream and only it: the SSRC it
#   plays is its flow's (the SDP's o= session id), packets, no loss, no
#   packet of another SSRC, nothing refused;
# - R reads the 20 groups through 2 shared sockets (16 + 4): its final
#   line says so, and ss(8) shows R with 3 sockets on port 5004 (the two,
#   and the unicast subscription's), not 21;
# - two groups on port 5008 share a socket until a D4 loop takes unicast
#   on 5008: then they move to sockets of their own (the shared socket,
#   bound to the port on any address, would take some of the loop's
#   packets), saying so, without a lost packet, and every datagram sent
#   to the loop reaches it;
# - a group's subscription made on port 5006 after a loop took unicast
#   there reads on a socket of its own, and the loop gets every datagram.
. "$(dirname "$0")/../lib.sh"
lab=d4x$$
d4_lab_hosts $lab 2
n=20
{
	printf '[node]\nname = S\n[discovery]\nsap = off\nmdns = off\n'
	printf '[source t]\ntype = tone\nchannels = 8\n'
	for i in $(seq 1 $n); do
		printf '[flow o%d]\nsource = t\ndestination = 239.69.60.%d:5004\ninterface = eth0\nsdp_file = %s/o%d.sdp\n' "$i" "$i" "$T" "$i"
	done
	printf '[flow u]\nsource = t\ndestination = 10.77.0.2:5004\nsdp_file = %s/u.sdp\n' "$T"
	printf '[flow g6]\nsource = t\ndestination = 239.69.61.1:5006\ninterface = eth0\n'
	for j in 1 2; do
		printf '[flow j%d]\nsource = t\ndestination = 239.69.62.%d:5008\ninterface = eth0\nsdp_file = %s/j%d.sdp\n' "$j" "$j" "$T" "$j"
	done
} >"$T/S.ini"
{
	printf '[node]\nname = R\n[discovery]\nsap = off\nmdns = off\n'
	for i in $(seq 1 $n); do
		printf '[subscription i%d]\naddress = 239.69.60.%d:5004\ninterface = eth0\nchannels = 8\nlatency = 20ms\n' "$i" "$i"
		printf '[sink n%d]\ntype = null\nsubscription = i%d\n' "$i" "$i"
	done
	printf '[subscription u]\naddress = 10.77.0.2:5004\nchannels = 8\nlatency = 20ms\n'
	printf '[sink nu]\ntype = null\nsubscription = u\n'
	for j in 1 2; do
		printf '[subscription j%d]\naddress = 239.69.62.%d:5008\ninterface = eth0\nchannels = 8\nlatency = 20ms\n' "$j" "$j"
		printf '[sink nj%d]\ntype = null\nsubscription = j%d\n' "$j" "$j"
	done
} >"$T/R.ini"

d4_node $lab-h1 S "$T/S.ini" --run-seconds 200
s=$!
d4_node $lab-h2 R "$T/R.ini" --run-seconds 180
r=$!
d4_wait_log "$T/R.log" "api: listening" 20
subs="$(seq -f 'i%g' 1 $n) u j1 j2"
for i in $subs; do
	d4_wait_log "$T/R.log" "subscription $i: waiting -> receiving" 20
done

# socks PORT: R's sockets on PORT
socks() {
	ip netns exec $lab-h2 ss -uanp "sport = :$1" | grep -c "pid=$r," || true
}
[ "$(socks 5004)" = 3 ] || fail "R has $(socks 5004) sockets on port 5004, want 3 (2 shared, 1 unicast): $(ip netns exec $lab-h2 ss -uanp 'sport = :5004')"
[ "$(socks 5008)" = 1 ] || fail "R has $(socks 5008) sockets on port 5008, want 1 (shared)"

# flow_ssrc NAME: the SSRC of S's flow NAME (its SDP's o= session id)
flow_ssrc() {
	sed -n 's/^o=[^ ]* \([0-9]*\) .*/\1/p' "$T/$1.sdp"
}
api() { # METHOD PATH [BODY], to R
	ip netns exec $lab-h2 curl -s -X "$1" -H "Authorization: Bearer $(cat "$D4_STATE_DIR/R/token")" \
		${3:+-H "Content-Type: application/json" --data-binary "$3"} \
		"http://127.0.0.1:8080/api/v1$2"
}
# send PORT: 300 datagrams from h1 to R's PORT, 1 ms apart
send() {
	ip netns exec $lab-h1 python3 - "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for k in range(300):
    s.sendto(b"d4 shared rx %d" % k, ("10.77.0.2", int(sys.argv[1])))
    time.sleep(0.001)
PY
}
# each subscription plays its own flow's stream
api GET /subscriptions >"$T/subs.json" || fail "GET /subscriptions"
for i in $subs; do
	want=$(flow_ssrc ${i/#i/o})
	got=$(python3 -c 'import json, sys
for e in json.load(open(sys.argv[1])):
    if e["name"] == sys.argv[2]:
        print(e["stats"]["ssrc"])' "$T/subs.json" "$i")
	[ -n "$want" ] && [ "$got" = "$want" ] || fail "subscription $i plays SSRC $got, its flow's is $want"
done
out=$(api POST /d4/exec '{"text": "loop l8 on udp 10.77.0.2:5008 {\npkt = recv()\n}\n"}')
case $out in *error*) fail "a loop on a shared socket's port: $out" ;; esac
for j in 1 2; do
	d4_wait_log "$T/R.log" "subscription j$j: reads on a socket of its own now: D4 loop 'l8' receives unicast on port 5008; it plays on from its buffer" 10
done
out=$(api POST /d4/programs/l8/start) || fail "starting l8: $out"
[ "$(socks 5008)" = 3 ] || fail "R has $(socks 5008) sockets on port 5008, want 3 (j1's, j2's, the loop's): $(ip netns exec $lab-h2 ss -uanp 'sport = :5008')"
send 5008
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
sleep 1
kill -TERM $r
d4_wait_pid $r 30 || fail "R failed: $(tail -n 5 "$T/R.log")"
kill -TERM $s
d4_wait_pid $s 30 || true

for i in $subs g6; do
	rcv=$(d4_sub_stat "$T/R.log" $i received)
	[ -n "$rcv" ] && [ "$rcv" -ge 1000 ] || fail "subscription $i received $rcv packets"
	# (j1 and j2 count from their move: their new sockets and the
	# shared one both had the packets of the moment, counted duplicate
	# and not played)
	for k in lost foreign_ssrc ssrc_changes bad_header bad_pt bad_size foreign; do
		v=$(d4_sub_stat "$T/R.log" $i $k)
		[ "$v" = 0 ] || fail "subscription $i: $k=$v: $(grep "final: subscription $i " "$T/R.log")"
	done
done
grep -q "final: receive shared_sockets=2 shared_subscriptions=$n per_socket=5004:16,5004:4 " "$T/R.log" ||
	fail "R's shared sockets: $(grep 'final: receive' "$T/R.log")"
for l in l6 l8; do
	in=$(grep "final: d4 $l " "$T/R.log" | tr ' ' '\n' | sed -n 's/^in=//p')
	[ "$in" = 300 ] || fail "loop $l got $in of 300 datagrams"
done
pass "$n groups on port 5004 through 2 shared sockets and a unicast subscription beside them, each its own stream; two groups moved off a shared socket for a unicast loop on 5008 without a loss; a group on 5006 on its own socket beside a loop; each loop all 300 datagrams"
