#!/usr/bin/env bash
# The kernel back end and addresses a loop computes: an echo loop
# (sendto(pkt, src(pkt))) on h1's eth0 answers 10 senders on h2 (10
# addresses, 20 datagrams a second each). A copy to an address the
# neighbour map does not hold yet is lost and counted (no_neigh, errors)
# until a poll learns it (docs/d4.md "Where copies go"); once all 10 are
# learnt, a D4 change to another variable (a sync) must not forget them:
# no error and no lost reply over the 3 s after it.
. "$(dirname "$0")/../lib.sh"
d4_need_kernel_backend
lab=d4k$$
d4_lab_hosts $lab 2
for i in $(seq 20 29); do ip -n $lab-h2 addr add 10.77.0.$i/24 dev eth0; done
cat >"$T/echo.d4" <<'D4'
IP[] _other
loop echo {
pkt = recv()
sendto(pkt, src(pkt))
}
D4
cat >"$T/E.ini" <<INI
[node]
name = E
[discovery]
sap = off
mdns = off
[d4 echo]
file = $T/echo.d4
bind = echo udp 10.77.0.1:7000
interface = eth0
backend = kernel
INI
d4_node $lab-h1 E "$T/E.ini"
d4_wait_log "$T/E.log" "d4: loop echo in the kernel at eth0 ingress" 10
d4_wait_log "$T/E.log" "api: listening" 10
errors() {
	d4_api $lab-h1 E GET /d4/programs |
		sed -n 's/.*"name":"echo"[^}]*"errors":\([0-9]*\).*/\1/p'
}
# h2's senders: each address sends to the echo loop every 50 ms and
# counts the replies it gets; "sent N replies M" per address on SIGTERM
ip netns exec $lab-h2 python3 - "$T/stop" >"$T/senders.log" 2>&1 <<'PY' &
import os, select, socket, sys, time
stop = sys.argv[1]
socks = []
for i in range(20, 30):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.77.0.%d" % i, 9000))
    s.setblocking(False)
    socks.append(s)
sent = [0] * 10
got = [0] * 10
nxt = time.monotonic()
while not os.path.exists(stop):
    now = time.monotonic()
    if now >= nxt:
        for k, s in enumerate(socks):
            s.sendto(b"%d %d" % (k, sent[k]), ("10.77.0.1", 7000))
            sent[k] += 1
        nxt += 0.05
    r, _, _ = select.select(socks, [], [], max(0, nxt - time.monotonic()))
    for s in r:
        while True:
            try:
                d = s.recv(64)
            except BlockingIOError:
                break
            got[socks.index(s)] += 1
    with open(stop + ".counts.tmp", "w") as f:
        f.write("%d %d\n" % (sum(sent), sum(got)))
    os.replace(stop + ".counts.tmp", stop + ".counts")
PY
senders=$!
_pids="$_pids $senders"
counts() { cat "$T/stop.counts" 2>/dev/null || echo "0 0"; }
# learning: errors stop growing (every address answered)
deadline=$(($(date +%s) + 30))
prev=-1
while :; do
	sleep 1
	e=$(errors)
	[ "$e" = "$prev" ] && break
	prev=$e
	[ "$(date +%s)" -lt $deadline ] || fail "the loop did not learn its 10 senders in 30 s (errors $e)"
done
read -r s0 g0 < <(counts)
e0=$(errors)
echo "learnt: $e0 copies lost while the 10 senders were learnt; $g0 of $s0 answered"
d4_api $lab-h1 E POST /d4/exec '{"text": "_other += 10.77.0.2:5004"}' >/dev/null ||
	fail "exec on another variable: $(cat "$T/api-answer")"
sleep 3
read -r s1 g1 < <(counts)
e1=$(errors)
[ "$e1" = "$e0" ] ||
	fail "after a sync for another variable the loop lost $((e1 - e0)) copies (errors $e0 -> $e1)"
# every datagram sent since was answered, but for those still in flight
[ $((s1 - s0 - (g1 - g0))) -le 10 ] ||
	fail "after the sync $((s1 - s0)) sent, $((g1 - g0)) answered"
pass "a sync for another variable kept the 10 learnt senders: 0 copies lost, $((g1 - g0)) of $((s1 - s0)) answered in 3 s"
touch "$T/stop"
d4_wait_pid $senders 10 || true
