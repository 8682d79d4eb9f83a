#!/usr/bin/env bash
# The relay thread's two ways of waiting (node/relay.c relay_main): with a
# single loop bound to UDP it waits in recvmmsg() on that loop's socket,
# with two or more in epoll_wait(). A node starts with loop a; loop b is
# loaded and started through the API (two loops: epoll), unloaded again
# (one loop: its socket alone), and the node stopped. Asserted at each
# step: every datagram sent to a bound loop comes out at its receiver
# (a: 10.77.0.1:7000, b: :7001), none comes out for b once it is gone,
# a receiver the kernel refuses does not cost the others a datagram and
# its refusals are counted and logged with the reason, and the node
# stops within 10 s of SIGTERM (a thread blocked in a
# socket's read without a way back would hang it).
. "$(dirname "$0")/../lib.sh"
lab=d4l$$
d4_lab_hosts $lab 1
h=$lab-h1
relay_text() { # NAME VAR
	printf 'IP[] %s\nloop %s {\npkt = recv()\nfor ip in %s:\nsendto(pkt, ip)\nendfor\n}\n' "$2" "$1" "$2"
}
relay_text a _ra >"$T/a.d4"
cat >"$T/R.ini" <<INI
[node]
name = R
[discovery]
sap = off
mdns = off
[d4 a]
file = $T/a.d4
bind = a udp 10.77.0.1:6000
backend = vm
exec = _ra += [10.77.0.1:7000]
INI
d4_node $h R "$T/R.ini"
node=$!
d4_wait_log "$T/R.log" "d4: loop a on udp" 10
d4_wait_log "$T/R.log" "api: listening" 10

# send PORT COUNT: COUNT datagrams to PORT, 1 ms apart; then how many
# arrived at 7000 and at 7001, once both counts have been still for 1 s
# (at most 20 s)
send() {
	ip netns exec $h python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
rx = []
for p in (7000, 7001):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.77.0.1", p))
    s.setblocking(False)
    rx.append(s)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
got = [0, 0]
def drain():
    for k, s in enumerate(rx):
        while True:
            try:
                s.recv(2048)
            except BlockingIOError:
                break
            got[k] += 1
for i in range(count):
    tx.sendto(b"d4 relay loops %d" % i, ("10.77.0.1", port))
    time.sleep(0.001)
    drain()
last, still, end = list(got), time.monotonic(), time.monotonic() + 20
while time.monotonic() < end and time.monotonic() - still < 1:
    time.sleep(0.05)
    drain()
    if got != last:
        last, still = list(got), time.monotonic()
print(got[0], got[1])
PY
}
expect() { # WHAT GOT WANT
	[ "$2" = "$3" ] || fail "$1: arrived at 7000 and 7001: $2, expected $3"
}
# wakeups: how often the idle relay thread woke in 2 s (voluntary context
# switches). Waiting on a single loop's socket it wakes at the socket's
# 20 ms timeout (about 100 in 2 s; at least 20 asserted, for a busy
# machine); in epoll with two loops nothing wakes it.
wakeups() {
	local t a b
	for t in /proc/$node/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = d4-relay ] && break
	done
	[ "$(cat "$t/comm" 2>/dev/null)" = d4-relay ] || fail "no d4-relay thread in $node"
	a=$(sed -n 's/^voluntary_ctxt_switches:\s*//p' "$t/status")
	sleep 2
	b=$(sed -n 's/^voluntary_ctxt_switches:\s*//p' "$t/status")
	echo $((b - a))
}

w=$(wakeups)
[ "$w" -ge 20 ] || fail "one loop: the idle relay thread woke $w times in 2 s: not waiting on the loop's socket"
expect "loop a alone (its socket's own wait), 300 to a" "$(send 6000 300)" "300 0"
pass "one loop: the idle thread waits on its socket (woke $w times in 2 s); 300 of 300 datagrams relayed"

d4_api $h R POST /d4/exec "{\"text\": \"$(relay_text b _rb | sed 's/^loop b {/loop b on udp 10.77.0.1:6001 {/' |
	sed ':a;N;$!ba;s/\n/\\n/g')\"}" >/dev/null || fail "loading loop b: $(cat "$T/api-answer")"
d4_api $h R POST /d4/exec '{"text": "_rb += 10.77.0.1:7001"}' >/dev/null ||
	fail "_rb: $(cat "$T/api-answer")"
d4_api $h R POST /d4/programs/b/start >/dev/null || fail "starting b: $(cat "$T/api-answer")"
expect "two loops (epoll), 300 to b" "$(send 6001 300)" "0 300"
expect "two loops (epoll), 300 to a" "$(send 6000 300)" "300 0"
w=$(wakeups)
[ "$w" -le 3 ] || fail "two loops: the idle relay thread woke $w times in 2 s: not in epoll"
pass "two loops: 300 of 300 relayed by each; the idle thread in epoll (woke $w times in 2 s)"

d4_api $h R DELETE /d4/programs/b >/dev/null || fail "unloading b: $(cat "$T/api-answer")"
w=$(wakeups)
[ "$w" -ge 20 ] || fail "b unloaded: the idle relay thread woke $w times in 2 s: not back on a's socket"
expect "b unloaded, 300 to a" "$(send 6000 300)" "300 0"
expect "b unloaded, 100 to b's old port" "$(send 6001 100)" "0 0"
pass "b unloaded: a relays all 300 on its own again; b's port relays nothing"

# d4ctl programs: the kernel's refusals in a column of their own
ip netns exec $h env XDG_CONFIG_HOME="$T" D4_TOKEN="$(cat "$D4_STATE_DIR/R/token")" \
	"$D4CTL" programs 10.77.0.1:8080 >"$T/programs.txt" 2>&1 ||
	fail "d4ctl programs: $(cat "$T/programs.txt")"
python3 - "$T/programs.txt" <<'PY' || fail "d4ctl programs: $(cat "$T/programs.txt")"
import sys
lines = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
names = lines[0].split()
starts = [lines[0].index(" " + n + " ") + 1 if i else 0
          for i, n in enumerate(names[:-1])] + [lines[0].rindex(" " + names[-1]) + 1]
def row(l):  # columns by the header's positions (LAST_ERROR may be blank)
    return {n: l[s:e].strip() for n, s, e in
            zip(names, starts, starts[1:] + [len(l) + 1])}
a = [row(l) for l in lines[1:] if l.split()[0] == "a"]
assert "SEND_ERRORS" in names and len(a) == 1, lines
assert a[0]["SEND_ERRORS"] == "0", a
assert a[0]["IN"] == "900" and a[0]["SENT"] == "900", a
PY
pass "d4ctl programs: loop a in 900, sent 900, SEND_ERRORS 0"

# a receiver the kernel refuses (no route to 10.9.9.9): the other still
# gets every datagram, the refusals are counted and said, with the reason
d4_api $h R POST /d4/exec '{"text": "_ra += 10.9.9.9:7000"}' >/dev/null ||
	fail "_ra += 10.9.9.9: $(cat "$T/api-answer")"
expect "an unreachable receiver beside 7000, 50 to a" "$(send 6000 50)" "50 0"
# (the line may come while the 50 are still being sent: its count is any;
# the final line below holds the 50)
d4_wait_log "$T/R.log" "d4: loop a: [0-9]+ datagrams refused by the kernel since it started \(Network is unreachable; the last to 10\.9\.9\.9:7000; [0-9]+ in all\)" 10
pass "an unreachable receiver: 50 of 50 still at 7000; the refusals logged with the reason and the receiver"

kill -TERM $node
d4_wait_pid $node 10 || fail "the node exited with an error"
grep -q "final: d4 a backend=vm in=950 sent=1000 .* datagrams=950 send_errors=50 " "$T/R.log" ||
	fail "loop a's final counts: $(grep 'final: d4 a' "$T/R.log")"
pass "stopped on SIGTERM; loop a's final counts: in=950 sent=1000 datagrams=950 send_errors=50"
