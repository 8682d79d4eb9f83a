#!/usr/bin/env bash
# backend = auto | vm | kernel, as d4node chooses it at start-up
# (d4_kern_apply in node/relay.c) and as POST /d4/programs/NAME/backend
# changes it: the seed relay of a [d4] section on lo of a private
# namespace, one datagram through it each time, counted by a receiver
# socket, and the node's final line.
# - auto, where the kernel can: the kernel relays it, the VM nothing;
# - auto, for a loop the translator refuses (two nested fors over full
#   lists): one logged line with the construct and why, and the VM relays
#   it;
# - auto, without CAP_BPF (setpriv drops every capability): one line
#   saying so, and the VM relays it;
# - kernel, refused: the node does not start, and says why;
# - vm: the VM relays it, and nothing is attached;
# - the API moves a running loop to the VM and back into the kernel;
# - the send budgets: a loop over max_sends_per_packet keeps the node from
#   starting, naming the sendto; in the kernel, max_sends_per_second holds
#   a burst of 1000 copies to its bucket and counts the rest;
# - copies the kernel refuses (a veth whose queue takes nothing): counted
#   as send_fail and send_errors, and logged.
. "$(dirname "$0")/../lib.sh"
d4_need_kernel_backend
d4_private_netns "$@"

cat >"$T/seed.d4" <<'D4'
IP[] _receivers
loop rtp_1_to_n { # coroutine to relay/pass on RTP packets
pkt = recv()
for ip in _receivers:
sendto(pkt, ip)
endfor
}
D4
# 100 x 100 trips the kernel's verifier would walk: on the VM only
cat >"$T/nested.d4" <<'D4'
IP[] _a
IP[] _b
loop nested {
pkt = recv()
for x in _a:
  for y in _b:
    if x == y:
      pkt[0] = 1
    endif
  endfor
endfor
for y in _b:
  sendto(pkt, y)
endfor
}
D4

# node_ini NAME FILE BACKEND [extra [d4] lines...]: a node relaying from
# 127.0.0.1:6000 to 127.0.0.1:7000 on lo
node_ini() {
	local name=$1 file=$2 backend=$3
	shift 3
	{
		printf '[node]\nname = %s\napi = 127.0.0.1:8080\n' "$name"
		printf '[d4 relay]\nfile = %s\ninterface = lo\nbackend = %s\n' \
			"$file" "$backend"
		if [ "$file" = "$T/nested.d4" ]; then
			printf 'bind = nested udp 127.0.0.1:6000\n'
			printf 'exec = _a += 127.0.0.1:9\nexec = _b += 127.0.0.1:7000\n'
		else
			printf 'bind = rtp_1_to_n udp 127.0.0.1:6000\n'
			printf 'exec = _receivers += 127.0.0.1:7000\n'
		fi
		for l in "$@"; do echo "$l"; done
	} >"$T/$name.ini"
}

# send_one NAME: one datagram in, what the receiver got in $T/NAME.rx
send_one() {
	python3 - >"$T/$1.rx" <<'PY' || true
import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("127.0.0.1", 7000))
r.settimeout(3)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"d4 backend test", ("127.0.0.1", 6000))
try:
    print(r.recv(100).decode())
except OSError:
    print("nothing")
PY
}

# start NAME [cmd prefix...]: the node NAME.ini, until its relay is bound
# (or it gave up); PID in $node
start() {
	local name=$1 i
	shift
	"$@" "$D4NODE" --config "$T/$name.ini" --run-seconds "${run_secs:-30}" \
		>"$T/$name.log" 2>&1 &
	node=$!
	_pids="$_pids $node"
	for i in $(seq 1 100); do
		grep -qE "datagrams? per packet|error" "$T/$name.log" && break
		kill -0 $node 2>/dev/null || break
		sleep 0.1
	done
}
stop() {
	kill "$node" 2>/dev/null || true
	wait "$node" || return $?
}
# relay NAME [cmd prefix...]: start, one datagram through, stop
relay() {
	local name=$1
	shift
	start "$name" "$@"
	send_one "$name"
	stop
}
final() { grep "final: d4" "$T/$1.log" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
api() { # METHOD PATH [BODY], for the node named in $name
	curl -s -X "$1" -H "Authorization: Bearer $(cat "$D4_STATE_DIR/$name/token")" \
		${3:+-H "Content-Type: application/json" --data-binary "$3"} \
		"http://127.0.0.1:8080/api/v1$2"
}

node_ini auto "$T/seed.d4" auto
relay auto || fail "auto: $(cat "$T/auto.log")"
grep -q "d4: loop rtp_1_to_n in the kernel at lo ingress" "$T/auto.log" ||
	fail "auto: no kernel line: $(cat "$T/auto.log")"
[ "$(cat "$T/auto.rx")" = "d4 backend test" ] || fail "auto: the receiver got $(cat "$T/auto.rx")"
[ "$(final auto backend)" = kernel ] && [ "$(final auto kernel_sent)" = 1 ] &&
	[ "$(final auto vm_sent)" = 0 ] && [ "$(final auto datagrams)" = 1 ] ||
	fail "auto: $(grep final "$T/auto.log")"
pass "auto: the kernel relayed it"

node_ini refused "$T/nested.d4" auto
relay refused || fail "auto, refused: $(cat "$T/refused.log")"
line=$(grep "d4: loop nested on the VM:" "$T/refused.log") ||
	fail "auto, refused: no line saying why: $(cat "$T/refused.log")"
[ "$(grep -c "on the VM" "$T/refused.log")" = 1 ] ||
	fail "auto, refused: not one line: $(cat "$T/refused.log")"
case $line in *"5:1: for: the kernel's verifier would walk about"*) ;;
*) fail "auto, refused: the line names no construct: $line" ;; esac
[ "$(cat "$T/refused.rx")" = "d4 backend test" ] && [ "$(final refused vm_sent)" = 1 ] ||
	fail "auto, refused: the VM did not relay it: $(grep final "$T/refused.log")"
pass "auto, refused: ${line#*info: }; the VM relayed it"

node_ini nocaps "$T/seed.d4" auto
relay nocaps setpriv --inh-caps=-all --bounding-set=-all ||
	fail "auto, no capabilities: $(cat "$T/nocaps.log")"
line=$(grep "d4: loop rtp_1_to_n on the VM: no CAP_BPF" "$T/nocaps.log") ||
	fail "auto, no capabilities: $(cat "$T/nocaps.log")"
[ "$(cat "$T/nocaps.rx")" = "d4 backend test" ] && [ "$(final nocaps backend)" = vm ] ||
	fail "auto, no capabilities: the VM did not relay it"
pass "auto, no capabilities: ${line#*info: }; the VM relayed it"

node_ini kernel "$T/nested.d4" kernel
if relay kernel; then
	fail "backend = kernel started with a loop the kernel refuses"
fi
grep -q "loop nested: backend = kernel: 5:1: for:" "$T/kernel.log" ||
	fail "kernel, refused: $(cat "$T/kernel.log")"
pass "kernel, refused: the node did not start: $(grep -o 'backend = kernel: .*' "$T/kernel.log")"

node_ini vm "$T/seed.d4" vm
relay vm || fail "vm: $(cat "$T/vm.log")"
[ "$(cat "$T/vm.rx")" = "d4 backend test" ] && [ "$(final vm backend)" = vm ] &&
	[ "$(final vm kernel_in)" = 0 ] || fail "vm: $(grep final "$T/vm.log")"
! grep -q "in the kernel" "$T/vm.log" || fail "vm: attached anyway"
pass "vm: the VM relayed it, nothing attached"

# The API moves the running loop: to the VM (one datagram there), back
# into the kernel (one there), and refuses what is not a back end.
name=moves
node_ini $name "$T/seed.d4" auto
start $name
out=$(api POST /d4/programs/rtp_1_to_n/backend '{"backend": "vm"}')
case $out in *'"backend":"vm"'*'"backend_setting":"vm"'*) ;;
*) fail "to the VM: $out" ;; esac
send_one moves-vm
out=$(api POST /d4/programs/rtp_1_to_n/backend '{"backend": "kernel"}')
case $out in *'"backend":"kernel"'*) ;; *) fail "to the kernel: $out" ;; esac
send_one moves-kernel
out=$(api POST /d4/programs/rtp_1_to_n/backend '{"backend": "nic"}')
case $out in *"'backend': 'nic' is not auto, vm or kernel"*) ;;
*) fail "a bad back end: $out" ;; esac
out=$(api GET /d4/programs)
case $out in *'"backend":"kernel","backend_why":"tc ingress of lo'*) ;;
*) fail "GET /d4/programs: $out" ;; esac
stop || fail "moves: $(cat "$T/moves.log")"
[ "$(cat "$T/moves-vm.rx")" = "d4 backend test" ] &&
	[ "$(cat "$T/moves-kernel.rx")" = "d4 backend test" ] &&
	[ "$(final moves vm_sent)" = 1 ] && [ "$(final moves kernel_sent)" = 1 ] &&
	[ "$(final moves datagrams)" = 2 ] ||
	fail "moves: $(grep final "$T/moves.log")"
pass "the API moved the loop to the VM and back into the kernel, one datagram each"

# Budgets. Per packet: the seed over a full list is 100 datagrams a packet.
node_ini small "$T/seed.d4" auto "max_sends_per_packet = 50"
if relay small; then
	fail "a loop over max_sends_per_packet was loaded"
fi
grep -q "seed.d4:5:1: loop 'rtp_1_to_n' may send 100 datagrams per packet, 100 by this sendto; the limit is 50" "$T/small.log" ||
	fail "per packet: $(cat "$T/small.log")"
pass "max_sends_per_packet = 50: the node refused the seed relay, naming its sendto"

# Per second, in the kernel: 100 packets at once to 10 receivers, 1000
# copies, against 20 a second (a bucket of 100, the loop's fan-out).
name=budget
node_ini $name "$T/seed.d4" kernel "max_sends_per_second = 20" \
	"exec = _receivers = [$(seq -s, -f '127.0.0.1:%g' 7000 7009)]"
start $name
t0=$(date +%s.%N)
python3 - >"$T/budget.rx" <<'PY'
import socket, time
rs = []
for p in range(7000, 7010):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    r.bind(("127.0.0.1", p))
    r.setblocking(False)
    rs.append(r)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(100):
    s.sendto(b"budget %d" % i, ("127.0.0.1", 6000))
time.sleep(1)
n = 0
for r in rs:
    while True:
        try:
            r.recv(100)
            n += 1
        except BlockingIOError:
            break
print(n)
PY
t1=$(date +%s.%N)
stop || fail "budget: $(cat "$T/budget.log")"
got=$(cat "$T/budget.rx")
ks=$(final budget kernel_sent)
bd=$(final budget budget_drops)
ki=$(final budget kernel_in)
# what the bucket may have given: 100, and 20 a second since
most=$(python3 -c "import math; print(100 + math.ceil(20 * ($t1 - $t0)) + 20)")
[ "$(final budget backend)" = kernel ] && [ "$ki" = 100 ] &&
	[ "$(final budget vm_sent)" = 0 ] || fail "budget: $(grep final "$T/budget.log")"
[ "$ks" -ge 100 ] && [ "$ks" -le "$most" ] && [ $((ks + bd)) = 1000 ] &&
	[ "$got" = "$ks" ] || fail "budget: receivers got $got, final: $(grep final "$T/budget.log"), at most $most"
grep -q "d4: loop rtp_1_to_n: [0-9]* datagrams not sent, over its budget of 20 a second" "$T/budget.log" ||
	fail "budget: no line logged: $(cat "$T/budget.log")"
pass "max_sends_per_second = 20 in the kernel: $ks of 1000 copies sent (at most $most), $bd counted as budget drops and logged"

# Copies the kernel refuses: the receiver is behind a veth whose queue
# takes nothing (pfifo, limit 0; its neighbour entry fixed), so each
# bpf_clone_redirect() to it fails. Counted as send_fail (and
# send_errors), and logged; moved out of the kernel and back, counted and
# logged again from its return. (Up to 30 s of waits: the node runs 100,
# under meson's 120 for the whole script.)
ip link add d4v0 type veth peer name d4v1
ip addr add 10.98.0.1/24 dev d4v0
ip link set d4v0 up
ip link set d4v1 up
ip neigh add 10.98.0.2 lladdr 02:00:00:00:00:02 dev d4v0 nud permanent
tc qdisc add dev d4v0 root pfifo limit 0
name=refusing
node_ini $name "$T/seed.d4" kernel "exec = _receivers = [10.98.0.2:7000]"
run_secs=100 start $name
# send_n N: N datagrams into the relay, 10 ms apart
send_n() {
	python3 - "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(b"refused %d" % i, ("127.0.0.1", 6000))
    time.sleep(0.01)
PY
}
line_re="d4: loop rtp_1_to_n: ([0-9]+) copies refused by the kernel back end \(bpf_clone_redirect\) since it entered the kernel \(([0-9]+) in all; d4ctl programs: SEND_ERRORS\)"
send_n 50
d4_wait_log "$T/$name.log" "$line_re" 10 ||
	fail "refusing: no line logged: $(cat "$T/$name.log")"
# Out of the kernel and back: its counters start over, and so does the
# count the next line gives (not the difference from the old total).
out=$(api POST /d4/programs/rtp_1_to_n/backend '{"backend": "vm"}')
case $out in *'"backend":"vm"'*) ;; *) fail "refusing: to the VM: $out" ;; esac
out=$(api POST /d4/programs/rtp_1_to_n/backend '{"backend": "kernel"}')
case $out in *'"backend":"kernel"'*) ;; *) fail "refusing: back to the kernel: $out" ;; esac
send_n 30
for i in $(seq 1 100); do
	[ "$(grep -cE "$line_re" "$T/$name.log")" = 2 ] && break
	sleep 0.1
done
second=$(grep -E "$line_re" "$T/$name.log" | sed -n 2p)
[[ $second =~ $line_re ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] &&
	[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le 30 ] ||
	fail "refusing: after the move back, not a line counting from its return: ${second:-none}: $(grep refused "$T/$name.log")"
stop || fail "refusing: $(cat "$T/$name.log")"
sf=$(final $name send_fail)
[ "$(final $name backend)" = kernel ] && [ "$(final $name kernel_in)" = 30 ] &&
	[ "$sf" -ge 1 ] && [ $((sf + $(final $name no_neigh))) = 30 ] &&
	[ "$(final $name send_errors)" = "$sf" ] ||
	fail "refusing: $(grep final "$T/$name.log")"
[ "$(grep -c "copies refused by the kernel back end" "$T/$name.log")" = 2 ] ||
	fail "refusing: not two lines: $(grep refused "$T/$name.log")"
pass "a receiver whose network takes nothing: copies refused in the kernel counted as send_fail and send_errors, logged; after a move out of the kernel and back, counted and logged from its return ($sf)"
