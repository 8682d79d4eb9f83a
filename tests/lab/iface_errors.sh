#!/usr/bin/env bash
# What a node says of an interface it cannot use, in a network namespace
# of its own (a new user's findings):
# - a subscription on an interface that does not exist fails the start
#   with one line naming the subscription once and the interface;
# - a flow on an interface that does not exist says so, not "has no IPv4
#   address"; one with no IPv4 address says that;
# - over the API, the answer names the interface.
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
ip link add d0 type veth peer name d1
ip link set d0 up

start_fails() { # NAME: the node must refuse to start
	local rc=0
	timeout 20 "$D4NODE" --config "$T/$1.ini" --run-seconds 2 >"$T/$1.log" 2>&1 || rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] || fail "$1: the node started (exit $rc): $(cat "$T/$1.log")"
}
ini() { # NAME SECTION...: a node with a tone source and the sections
	local name=$1
	shift
	{
		printf '[node]\nname = %s\napi = off\n' "$name"
		printf '[source t]\ntype = tone\nchannels = 2\n'
		printf '%s\n' "$@"
	} >"$T/$name.ini"
}

ini sub '[subscription s]' 'address = 239.69.1.2:5004' 'interface = nosuch0' 'channels = 2'
start_fails sub
grep -q "subscription s: cannot listen on 239.69.1.2:5004 (interface 'nosuch0'): No such device" "$T/sub.log" ||
	fail "sub: $(cat "$T/sub.log")"
! grep -q "subscription s: subscription s:" "$T/sub.log" || fail "sub: the name twice: $(cat "$T/sub.log")"
pass "a subscription on a missing interface: $(grep -o "subscription s: cannot.*" "$T/sub.log")"

ini flow '[flow f]' 'source = t' 'destination = 239.69.1.3:5004' 'interface = nosuch0'
start_fails flow
grep -q "flow f: interface 'nosuch0' does not exist" "$T/flow.log" || fail "flow: $(cat "$T/flow.log")"
ini flow2 '[flow f]' 'source = t' 'destination = 239.69.1.3:5004' 'interface = d0'
start_fails flow2
grep -q "flow f: interface 'd0' has no IPv4 address" "$T/flow2.log" || fail "flow2: $(cat "$T/flow2.log")"
pass "a flow on a missing interface says it does not exist; on one without an address, that it has none"

# over the API: the answer is all a client sees
cat >"$T/n.ini" <<INI
[node]
name = n
api = 127.0.0.1:8080
[source t]
type = tone
channels = 2
INI
d4_spawn "$T/n.log" "$D4NODE" --config "$T/n.ini"
d4_wait_log "$T/n.log" "api: listening" 20
tok=$(cat "$D4_STATE_DIR/n/token")
out=$(curl -s -X POST -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
	--data-binary '{"name": "s", "address": "239.69.1.4:5004", "interface": "nosuch0", "channels": 2}' \
	http://127.0.0.1:8080/api/v1/subscriptions)
case $out in *"(interface 'nosuch0'): No such device"*) ;; *) fail "API subscription: $out" ;; esac
out=$(curl -s -X POST -H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
	--data-binary '{"name": "f", "source": "t", "destination": "239.69.1.5:5004", "interface": "nosuch0"}' \
	http://127.0.0.1:8080/api/v1/flows)
case $out in *"interface 'nosuch0' does not exist"*) ;; *) fail "API flow: $out" ;; esac
pass "over the API the answers name the interface"

# out of descriptors: the request was fine, the node is short of
# something: 503 with the reason, not 400. The node's descriptor limit
# is set one above its lowest free descriptor: the API's connection
# takes that one, and the request's socket finds none. (A connection
# closing meanwhile frees another: then it is made, taken back, tried
# again.)
pid=$(echo $_pids | awk '{print $NF}')
soft=$(prlimit --pid "$pid" --nofile --output SOFT --noheadings | tr -d ' ')
starved() { # PATH BODY NAME: the answer's code, the body in $T/out
	local i code free
	for i in 1 2 3 4 5; do
		free=0
		while [ -e /proc/$pid/fd/$free ]; do free=$((free + 1)); done
		prlimit --pid "$pid" --nofile=$((free + 1)):
		code=$(curl -s -m 10 -o "$T/out" -w '%{http_code}' -X POST \
			-H "Authorization: Bearer $tok" -H "Content-Type: application/json" \
			--data-binary "$2" "http://127.0.0.1:8080/api/v1$1")
		prlimit --pid "$pid" --nofile="$soft":
		case $code in
		201) curl -s -m 10 -o /dev/null -X DELETE -H "Authorization: Bearer $tok" \
			"http://127.0.0.1:8080/api/v1$1/$3" ;;
		000) ;; # no answer: the connection found no descriptor
		*) echo "$code"; return ;;
		esac
		sleep 0.2
	done
	echo "$code"
}
code=$(starved /subscriptions '{"name": "m", "address": "239.69.1.6:5004", "channels": 2}' m)
cp "$T/out" "$T/out.sub"
code2=$(starved /flows '{"name": "f2", "source": "t", "destination": "239.69.1.7:5004", "interface": "lo"}' f2)
[ "$code" = 503 ] && grep -q "Too many open files" "$T/out.sub" ||
	fail "a subscription out of descriptors: $code $(cat "$T/out.sub")"
[ "$code2" = 503 ] && grep -q "interface 'lo': Too many open files" "$T/out" ||
	fail "a flow out of descriptors: $code2 $(cat "$T/out")"
pass "a subscription and a flow the node has no descriptor for: 503, $(cat "$T/out.sub") $(cat "$T/out")"
