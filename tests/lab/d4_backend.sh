#!/usr/bin/env bash
# backend = auto | vm | kernel, as a node will choose it at start-up
# (d4_kern_apply, through tests/tools/d4krelay until d4node calls it): the
# seed relay on lo of a private namespace, one datagram through it each
# time, counted by a receiver socket.
# - auto, where the kernel can: the kernel relays it, the VM nothing;
# - auto, for a loop the translator refuses (two nested fors over full
#   lists with a send): one logged line with the construct and why, and
#   the VM relays it;
# - auto, without CAP_BPF (setpriv drops every capability): one line
#   saying so, and the VM relays it;
# - kernel, refused: the relay does not start, and says why;
# - vm: the VM relays it, and nothing is attached.
. "$(dirname "$0")/../lib.sh"
D4KRELAY=${D4KRELAY:?D4KRELAY must point at d4krelay}
why=$("$D4KRELAY" --probe) || {
	echo "SKIP: the kernel back end cannot run here: $why"
	exit 77
}
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
cat >"$T/nested.d4" <<'D4'
IP[] _a
IP[] _b
loop nested {
pkt = recv()
for x in _a:
  for y in _b:
    sendto(pkt, y)
  endfor
endfor
}
D4

# relay NAME FILE BACKEND [cmd prefix...]: run it for a datagram; its log
# in $T/NAME.log, its exit status returned
relay() {
	local name=$1 file=$2 backend=$3 rc=0 lists
	shift 3
	lists=(--exec "_receivers += 127.0.0.1:7000")
	[ "$file" = "$T/nested.d4" ] &&
		lists=(--exec "_a += 127.0.0.1:9" --exec "_b += 127.0.0.1:7000")
	"$@" "$D4KRELAY" --program "$file" --bind "udp 127.0.0.1:6000" \
		--if lo --backend "$backend" "${lists[@]}" \
		--run-seconds 3 >"$T/$name.log" 2>&1 &
	local pid=$!
	_pids="$_pids $pid"
	if ! grep -q "worst case" "$T/$name.log" 2>/dev/null; then
		for _ in $(seq 1 50); do
			grep -qE "worst case|error" "$T/$name.log" && break
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
	fi
	# one datagram in, the copy counted at the receiver
	python3 - >"$T/$name.rx" <<'PY' || true
import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("127.0.0.1", 7000))
r.settimeout(2)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"d4 backend test", ("127.0.0.1", 6000))
try:
    print(r.recv(100).decode())
except OSError:
    print("nothing")
PY
	wait $pid || rc=$?
	return $rc
}
final() { grep "final: d4" "$T/$1.log" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

relay auto "$T/seed.d4" auto || fail "auto: $(cat "$T/auto.log")"
grep -q "d4: loop rtp_1_to_n in the kernel at lo ingress" "$T/auto.log" ||
	fail "auto: no kernel line: $(cat "$T/auto.log")"
[ "$(cat "$T/auto.rx")" = "d4 backend test" ] || fail "auto: the receiver got $(cat "$T/auto.rx")"
[ "$(final auto backend)" = kernel ] && [ "$(final auto kernel_sent)" = 1 ] &&
	[ "$(final auto vm_sent)" = 0 ] || fail "auto: $(grep final "$T/auto.log")"
pass "auto: the kernel relayed it"

relay refused "$T/nested.d4" auto || fail "auto, refused: $(cat "$T/refused.log")"
line=$(grep "d4: loop nested on the VM:" "$T/refused.log") ||
	fail "auto, refused: no line saying why: $(cat "$T/refused.log")"
[ "$(grep -c "on the VM" "$T/refused.log")" = 1 ] ||
	fail "auto, refused: not one line: $(cat "$T/refused.log")"
case $line in *"5:1: for: the kernel's verifier would walk about"*) ;;
*) fail "auto, refused: the line names no construct: $line" ;; esac
[ "$(cat "$T/refused.rx")" = "d4 backend test" ] && [ "$(final refused vm_sent)" = 1 ] ||
	fail "auto, refused: the VM did not relay it: $(grep final "$T/refused.log")"
pass "auto, refused: ${line#*info: }; the VM relayed it"

relay nocaps "$T/seed.d4" auto setpriv --inh-caps=-all --bounding-set=-all ||
	fail "auto, no capabilities: $(cat "$T/nocaps.log")"
line=$(grep "d4: loop rtp_1_to_n on the VM: no CAP_BPF" "$T/nocaps.log") ||
	fail "auto, no capabilities: $(cat "$T/nocaps.log")"
[ "$(cat "$T/nocaps.rx")" = "d4 backend test" ] && [ "$(final nocaps backend)" = vm ] ||
	fail "auto, no capabilities: the VM did not relay it"
pass "auto, no capabilities: ${line#*info: }; the VM relayed it"

if relay kernel "$T/nested.d4" kernel; then
	fail "backend = kernel started with a loop the kernel refuses"
fi
grep -q "loop nested: backend = kernel: 5:1: for:" "$T/kernel.log" ||
	fail "kernel, refused: $(cat "$T/kernel.log")"
pass "kernel, refused: the relay did not start: $(grep -o 'backend = kernel: .*' "$T/kernel.log")"

relay vm "$T/seed.d4" vm || fail "vm: $(cat "$T/vm.log")"
[ "$(cat "$T/vm.rx")" = "d4 backend test" ] && [ "$(final vm backend)" = vm ] &&
	[ "$(final vm kernel_in)" = 0 ] || fail "vm: $(grep final "$T/vm.log")"
! grep -q "in the kernel" "$T/vm.log" || fail "vm: attached anyway"
pass "vm: the VM relayed it, nothing attached"
