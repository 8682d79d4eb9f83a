#!/usr/bin/env bash
# A state file whose lists are of another type is said, not skipped
# unseen (an attacker's "subscriptions": "x" restored nothing, with no
# word): a node started with such a state.json logs which member is no
# list, runs, keeps what it could restore (the names), and does not move
# the file aside (it is a d4 state of a known version). Loopback only (a
# private namespace).
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"

mkdir -p "$T/state/n"
cat >"$T/state/n/state.json" <<'JSON'
{"version": 2, "node_name": "n", "names": {"tx": {"1": "Vox"}},
 "flows": "x", "subscriptions": {"a": 1}, "d4": []}
JSON
cat >"$T/n.ini" <<INI
[node]
name = n
api = 127.0.0.1:8080
state_dir = $T/state/n
[discovery]
mdns = off
sap = off
[source tone]
type = tone
channels = 2
INI
d4_spawn "$T/n.log" "$D4NODE" --config "$T/n.ini" --run-seconds 3
n=$!
d4_wait_pid $n 20 || fail "the node failed: $(tail -n 5 "$T/n.log")"
for m in flows subscriptions; do
	grep -q "state: '$m' is no list: none restored" "$T/n.log" ||
		fail "no word of '$m' being no list: $(grep "state:" "$T/n.log")"
done
grep -q "state: restored 0 flow(s), 0 subscription(s)" "$T/n.log" ||
	fail "no restore line: $(grep "state:" "$T/n.log")"
ls "$T/state/n" | grep -q "\.bad-" && fail "the state file was moved aside"
pass "a state file with lists of another type: each said, the rest restored, the node ran"
