#!/usr/bin/env bash
# A file source's place, said (a new user's flow sent silence for a start
# past the file's end, and for a start to come, with nothing in the log).
# One node, two file sources of a 2 s file with loop = false: "later"
# starts 3 s after the node, "over" started 60 s before it. Asserted: the
# node says "later" waits for its start time, then that it plays, then
# that it is past the file's end; and "over" is past the file's end from
# the start. Free-running clock, loopback only (a private namespace).
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"

"$D4WAV" gen "$T/in.wav" --channels 2 --seconds 2 --seed 3
now=$(d4_ptp_now)
cat >"$T/n.ini" <<INI
[node]
name = F
api = off
[source later]
type = file
path = $T/in.wav
loop = false
start = $((now + 3))
[source over]
type = file
path = $T/in.wav
loop = false
start = $((now - 60))
[flow a]
source = later
destination = 239.69.33.1:5004
[flow b]
source = over
destination = 239.69.33.2:5004
INI
d4_spawn "$T/n.log" "$D4NODE" --config "$T/n.ini" --run-seconds 30
node=$!
d4_wait_log "$T/n.log" "source over: its start time puts it past the file's end \(2\.0 s long, started (59|6[01])\.[0-9] s ago, loop = false\): silence from here" 10
d4_wait_log "$T/n.log" "source later: waits for its start time, in [0-3]\.[0-9] s; silence until then" 10
d4_wait_log "$T/n.log" "source later: its start time: plays" 20
d4_wait_log "$T/n.log" "source later: its start time puts it past the file's end \(2\.0 s long, started 2\.[0-9] s ago" 20
for s in later over; do
	n=$(grep -c "source $s: its start time puts it past the file's end" "$T/n.log")
	[ "$n" = 1 ] || fail "source $s: 'past the file's end' said $n times"
done
kill -TERM $node
d4_wait_pid $node 10 || fail "the node exited with an error"
pass "a start to come, its start, the file's end and a start past the end: each said once"
