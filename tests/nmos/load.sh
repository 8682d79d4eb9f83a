#!/usr/bin/env bash
# Registration load (docs/nmos.md "Many nodes"): 200 simulated nodes —
# the node's own registration client (tests/tools/nmos_simnodes), no
# audio — start at the same instant against the test registry (h1), with
# a real d4 node D (h2) among them.
# - control: with the jitter switched off the 200 nodes ask together:
#   a herd (100+ requests within 10 ms);
# - the node's way: their requests spread (at most 30 within any 10 ms),
#   all register; the registry restarts (answers 503 for 3 s and comes
#   back empty): all 201 register again, still spread; the request-rate
#   curve is printed;
# - D's first registry is a black hole (it accepts and never answers):
#   D fails over after its 5 s timeout, and D's APIs answer all along,
#   every 100 ms, through the storm.
. "$(dirname "$0")/../lib.sh"

lab=d4l$$
d4_lab_hosts $lab 2
SIM=${NMOS_SIMNODES:?NMOS_SIMNODES must point at tests/tools/nmos_simnodes}
N=200
sim() { # LOG SECONDS [ARGS]
	local log=$1 secs=$2
	shift 2
	ip netns exec $lab-h2 "$SIM" --registry http://10.77.0.1:8235 \
		--nodes $N --seconds "$secs" --log "$log" "$@"
}

# Control: no jitter.
d4_nmos_registry $lab-h1 8235
reg=$!
sim "$T/herd.log" 8 --no-jitter >"$T/herd.out" || fail "the control run"
kill -9 $reg

# The node's way, with D among them. The registry "restarts" through
# its /x-d4/restart: a new process may take seconds to start here.
d4_nmos_registry $lab-h1 8236 --stall
d4_nmos_registry $lab-h1 8235
cat >"$T/D.ini" <<INI
[node]
name = D
[nmos]
enable = on
dns_sd = off
registry = http://10.77.0.1:8236
registry = http://10.77.0.1:8235
[source tone]
type = tone
[flow main]
source = tone
destination = 239.69.8.1
INI
d4_node $lab-h2 D "$T/D.ini"
d=$!
d4_wait_log "$T/D.log" "nmos: node " 10
# D's APIs, every 100 ms, from h1, for the whole run.
d4_spawn "$T/poll.out" ip netns exec $lab-h1 "$D4_PY" \
	"$(dirname "$0")/poll_api.py" "$T/poll.json" 35 \
	http://10.77.0.2:8080/x-nmos/node/v1.3/self \
	http://10.77.0.2:8080/api/v1/node
sim "$T/sim.log" 30 >"$T/sim.out" &
simpid=$!
_pids="$_pids $simpid"
printf '{"T": "%s", "N": %d, "reglog": "%s"}\n' "$T" $N \
	"$T/reg-$lab-h1-8235.log" >"$T/env.json"
drive() { ip netns exec $lab-h1 "$D4_PY" "$(dirname "$0")/load.py" "$1" "$T/env.json"; }
drive registered || fail "registering $((N + 1)) nodes"
"$D4_PY" -c 'import time; print(time.monotonic())' >"$T/killed"
ip netns exec $lab-h1 curl -sf -X POST "http://10.77.0.1:8235/x-d4/restart?down=3" >/dev/null ||
	fail "restarting the registry"
drive again || fail "registering again after the registry's restart"
d4_wait_pid $simpid 60 || fail "the simulation"
grep -q "registered with http://10.77.0.1:8235" "$T/D.log" ||
	fail "D did not fail over from the black hole"
drive curve || fail "the request-rate curve"
kill -INT $d
d4_wait_pid $d 15
