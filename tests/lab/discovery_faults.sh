#!/usr/bin/env bash
# Discovery faults: two nodes that both call themselves "A", each with a
# flow "main", on two hosts with an avahi-daemon each. mDNS names must stay
# unique: one node takes the alternative name, says so, and its RTSP
# responder answers DESCRIBE under the new name. Then h1's avahi-daemon is
# restarted under its running node: the node's services are back (seen by
# avahi-browse on h2) within 5 s.
. "$(dirname "$0")/../lib.sh"

lab=d4f$$
d4_lab_hosts $lab 2
d4_avahi $lab-h1
avahi1=$!
d4_avahi $lab-h2
for h in 1 2; do
	cat >"$T/n$h.ini" <<INI
[node]
name = A
state_dir = $T/state-n$h
[discovery]
interface = eth0
[source tone]
type = tone
channels = 2
[flow main]
source = tone
destination = 239.69.4.$h:5004
interface = eth0
INI
done
d4_node $lab-h1 n1 "$T/n1.ini" --run-seconds 40
n1=$!
d4_node $lab-h2 n2 "$T/n2.ini" --run-seconds 40
n2=$!
# Both names collide; mDNS conflict resolution renames one node's (which
# one depends on probe timing): it takes the alternative name and logs it.
renamed=
for i in $(seq 1 100); do
	for h in 1 2; do
		grep -q "mdns: name collision: 'A main' is now published as '" \
			"$T/n$h.log" && renamed=$h
	done
	[ -n "$renamed" ] && break
	sleep 0.1
done
[ -n "$renamed" ] || fail "no node reported the name collision"
other=$((3 - renamed))
new=$(sed -n "s/.*name collision: 'A main' is now published as '\(.*\)'$/\1/p" "$T/n$renamed.log" | tail -n 1)
port=$(sed -n 's/.*rtsp: answering DESCRIBE on port \([0-9]*\).*/\1/p' "$T/n$renamed.log")
d4_describe $lab-h$other 10.77.0.$renamed "$port" "$new" |
	grep -q "^c=IN IP4 239.69.4.$renamed/" ||
	fail "DESCRIBE of the renamed session '$new' on n$renamed failed"
esc=$(printf '%s' "$new" | sed 's/ /\\032/g; s/#/\\035/g')
seen=
for i in $(seq 1 5); do
	env "$(d4_host_bus $lab-h$other)" ip netns exec $lab-h$other timeout 5 \
		avahi-browse -tpk _ravenna_session._sub._rtsp._tcp >"$T/browse.txt" 2>&1 || true
	grep -qF "+;eth0;IPv4;$esc;_rtsp._tcp;local" "$T/browse.txt" && seen=1 && break
	sleep 1
done
[ -n "$seen" ] ||
	fail "avahi-browse on h$other does not see n$renamed's '$new': $(cat "$T/browse.txt")"
pass "name collision: n$renamed published its session as '$new' and its RTSP responder answers DESCRIBE for it"

# Restart h1's avahi-daemon under the running node n1. "Back" is when
# the new daemon confirms n1's registration (avahi's ESTABLISHED, logged
# as "published"); other hosts must then see it by browsing.
before=$(grep -c "mdns: published '[^']*' (_d4node._tcp)" "$T/n1.log" || true)
kill -TERM $avahi1
t0=$(date +%s.%N)
d4_wait_pid $avahi1 10 || true
d4_avahi $lab-h1
for i in $(seq 1 100); do
	[ "$(grep -c "mdns: published '[^']*' (_d4node._tcp)" "$T/n1.log" || true)" -gt "$before" ] && break
	sleep 0.1
done
back=$(python3 -c "import time; print('%.1f' % (time.time() - $t0))")
[ "$(grep -c "mdns: published '[^']*' (_d4node._tcp)" "$T/n1.log" || true)" -gt "$before" ] ||
	fail "n1 did not republish after the daemon restart"
python3 -c "import sys; sys.exit(0 if $back <= 5 else 1)" ||
	fail "n1's services took $back s to come back (want <= 5 s)"
kill -0 $n1 || fail "n1 died with its avahi-daemon"
ok=
for i in $(seq 1 10); do
	env "$(d4_host_bus $lab-h2)" ip netns exec $lab-h2 timeout 3 \
		avahi-browse -rtpk _d4node._tcp >"$T/browse.txt" 2>&1 || true
	if grep -q '^=;eth0;IPv4;A[^;]*;_d4node._tcp;local;.*;10.77.0.1;' "$T/browse.txt"; then
		ok=1
		break
	fi
done
[ -n "$ok" ] || fail "h2 does not see n1's _d4node._tcp after the restart"
pass "avahi-daemon restarted under node n1: its services were re-established after $back s and h2 browses them again"
kill -TERM $n1 $n2
d4_wait_pid $n1 10 || fail "n1 exited with an error"
d4_wait_pid $n2 10 || fail "n2 exited with an error"
