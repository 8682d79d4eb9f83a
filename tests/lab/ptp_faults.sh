#!/usr/bin/env bash
# PTP faults: ptp4l absent, then a "ptp4l" that answers too slowly, then one
# that answers garbage. The node
# keeps running and sending, says what is wrong (rate-limited), and counts
# nothing it cannot trust.
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"

cat >"$T/n.ini" <<INI
[node]
name = lonely
status_interval = 1
[ptp]
mode = external
clock = follow
uds = $T/ptp4l
holdover = 2s
[source t]
type = tone
[flow f]
source = t
destination = 239.69.9.2:5004
INI
# It runs until told (SIGTERM below), so that a loaded machine's slow
# start of the fakes cannot end it first.
d4_spawn "$T/n.log" "$D4NODE" --config "$T/n.ini" -v --run-seconds 300
node=$!
t_start=$(date +%s)
d4_wait_log "$T/n.log" "ptp4l at $T/ptp4l is not answering; retrying" 10
d4_wait_log "$T/n.log" "status: clock unlocked ptp4l-silent" 10
pass "no ptp4l: unlocked, said so"

# A slow ptp4l: well-formed answers, each 0.8 s late, after its round
# closed (they carry that round's sequence numbers and are ignored).
python3 - "$T/ptp4l" <<'PY' &
import socket, struct, sys, time
SIZES = {0x2001: 18, 0x2002: 32, 0x2003: 4, 0x2004: 26, 0xC000: 50}
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(0.1)
pending, end = [], time.time() + 3
while time.time() < end:
    try:
        req, addr = s.recvfrom(512)
        pending.append((time.time() + 0.8, req, addr))
    except socket.timeout:
        pass
    while pending and pending[0][0] <= time.time():
        _, req, addr = pending.pop(0)
        mid = struct.unpack("!H", req[52:54])[0]
        rsp = bytearray(req[:48]) + struct.pack("!HHH", 1, 2 + SIZES[mid], mid)
        rsp += bytes(SIZES[mid])
        rsp[46] = 0x02                                 # a RESPONSE
        rsp[2:4] = struct.pack("!H", len(rsp))
        s.sendto(bytes(rsp), addr)
s.close()
PY
slow=$!
_pids="$_pids $slow"
sleep 2.5
grep "status:" "$T/n.log" | tail -n 1 | grep -q "clock unlocked ptp4l-silent" ||
	fail "slow ptp4l: status $(grep status: "$T/n.log" | tail -n 1)"
wait $slow || true
rm -f "$T/ptp4l"
grep -q "ptp: rejected" "$T/n.log" && fail "late but well-formed answers were called malformed"
pass "ptp4l answering 0.8 s late: still silent to the node, still unlocked, nothing rejected"

# A fake ptp4l on the same socket path answering every request with junk:
# random bytes, and management messages whose TLV length lies.
python3 - "$T/ptp4l" <<'PY' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(0.2)
start = time.time()
while time.time() < start + 4:
    try:
        req, addr = s.recvfrom(512)
    except socket.timeout:
        continue
    if time.time() < start + 1.5:
        # First only management responses whose TLV length lies.
        lie = bytearray(req); lie[46] = 0x02        # action RESPONSE
        lie[48:52] = struct.pack("!HH", 1, 400)     # TLV length 400 in 54 bytes
        s.sendto(bytes(lie), addr)
    else:
        s.sendto(os.urandom(60), addr)              # then random bytes
PY
fake=$!
_pids="$_pids $fake"
d4_wait_log "$T/n.log" "ptp: rejected [0-9]+ malformed ptp4l repl" 15
wait $fake || true
kill -TERM $node
d4_wait_pid $node 15 || fail "node failed"
secs=$(($(date +%s) - t_start))
rejects=$(grep -c "ptp: rejected" "$T/n.log")
# 3 lines per 10 s at most.
[ "$rejects" -le 3 ] || fail "$rejects reject lines; the limit is 3 per 10 s"
# Each line names why the latest reply was refused; the first replies are
# all lying ones.
grep "ptp: rejected" "$T/n.log" | head -n 1 |
	grep -q "the latest: TLV length 400 runs past the 54-byte message" ||
	fail "first reject line: $(grep "ptp: rejected" "$T/n.log" | head -n 1)"
packets=$(d4_flow_stat "$T/n.log" f packets)
# the flow's own time: from the node's "running" line to its stop, by
# its log's clock (the wall time around it also holds the node's start
# and exit, seconds under ASan on a loaded machine: a CI rehearsal had
# 12 427 packets for "14 s", the node running 12.4 s of them)
ran=$(awk -F'[][]' '/ running: / && !a { a = $2 } /signal 15: stopping/ { b = $2 } END { printf "%d\n", (b - a) * 1000 }' "$T/n.log")
[ "$packets" -gt $((ran * 9 / 10)) ] ||
	fail "the flow sent only $packets packets in the node's $ran ms ($secs s in all)"
grep "status:" "$T/n.log" | tail -n 1 | grep -q "clock unlocked" ||
	fail "status does not say unlocked: $(grep status: "$T/n.log" | tail -n 1)"
pass "garbage from ptp4l's socket: $rejects rate-limited reject lines, never locked, the flow sent $packets packets"
