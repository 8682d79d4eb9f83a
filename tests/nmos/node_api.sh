#!/usr/bin/env bash
# NMOS on a node, against AMWA's schemas (docs/nmos.md): a grandmaster
# and the test registry on h1, node A on h2 (a multicast and a unicast
# flow), node B on h3 (4 RX channels: receivers RX 1-2 and RX 3-4), both
# PTP followers, registering with the registry by its URL. The HTTP side
# is node_api.py (one process: one load of the schemas).
# - every answer of both nodes' Node API and Connection API validates,
#   every resource they register validates (the registry refuses what
#   does not), and the registry holds what the nodes serve;
# - B's clock is PTP, locked, with the grandmaster's id;
# - IS-05: B's RX 1-2 connected to A's multicast sender (401 without the
#   token): a subscription on B's RX 1-2 receiving, the IS-04 receiver's
#   subscription naming the sender, in the registry too; a subscription
#   made through d4's API shows in IS-05 "active" (sender_id null);
#   scheduled activations: 202, 423 while pending, cancelled, one that
#   fires and disconnects; bad requests 400 as NMOS errors; bulk;
# - senders: A's unicast flow moved to another destination (its relay
#   list and SDP follow), its multicast flow stopped and started;
# - A killed and restarted: the same ids, the registry's old copy
#   deleted and registered again, its IS-05 destination kept; both
#   nodes unregister when they stop.
. "$(dirname "$0")/../lib.sh"

lab=d4n$$
d4_lab_hosts $lab 3
d4_ptp_gm $lab-h1
d4_ptp_follower $lab-h2
d4_ptp_follower $lab-h3
# Garbage collection after 60 s (IS-04 allows more than 12): A, killed,
# must come back while the registry still holds it, however slowly a
# loaded machine starts it.
d4_nmos_registry $lab-h1 8235 --gc 60
REG=http://10.77.0.1:8235

{ printf '[node]\nname = A\n'; d4_ptp_ini $lab-h2; cat <<INI; } >"$T/A.ini"
[nmos]
enable = on
registry = $REG
dns_sd = off
[source tone]
type = tone
channels = 4
[flow main]
source = tone
channels = 1-2
destination = 239.69.5.1:5004
[flow uni]
source = tone
channels = 3-4
destination = 10.77.0.3:5010
INI
# A controller's own bearer token for B (BCP-003 style; docs/nmos.md)
printf '# NMOS controllers\ncontroller-token-0123456789\n' >"$T/tokens"
{ printf '[node]\nname = B\nrx_channels = 4\n'; d4_ptp_ini $lab-h3; cat <<INI; } >"$T/B.ini"
[nmos]
enable = on
registry = $REG/
dns_sd = off
latency = 5ms
tokens_file = $T/tokens
INI
d4_node $lab-h2 A "$T/A.ini"
a=$!
d4_node $lab-h3 B "$T/B.ini"
b=$!
for n in A B; do d4_wait_log "$T/$n.log" "nmos: node " 10; done
d4_wait_log "$T/$lab-h1-ptp4l.log" "as best master" 20
gm=$(d4_ptp_gm_id "$T/$lab-h1-ptp4l.log" | tr A-F a-f)
printf '{"T": "%s", "gm": "%s", "reglog": "%s"}\n' "$T" "$gm" \
	"$T/reg-$lab-h1-8235.log" >"$T/env.json"
drive() { ip netns exec $lab-h1 "$D4_PY" "$(dirname "$0")/node_api.py" "$1" "$T/env.json"; }

drive connect || fail "connect phase"
# Killed: the registry keeps A until its garbage collection.
kill -9 $a
d4_wait_pid $a 10 || true
mv "$T/A.log" "$T/A-1.log"
d4_node $lab-h2 A "$T/A.ini"
a=$!
d4_wait_log "$T/A.log" "registered with" 20
drive after || fail "after A's restart"
kill -INT $a $b
d4_wait_pid $a 15
d4_wait_pid $b 15
grep -q "unregistered" "$T/A.log" || fail "A did not unregister"
drive stopped || fail "stopped phase"
