#!/usr/bin/env bash
# d4c, the offline checker, from the command line: the worst case and exit 0
# for a good program, FILE:LINE:COL: message and exit 1 for a bad one,
# --dump's bytecode, exit 2 for usage errors. Every example program in
# EXAMPLES (examples/d4) must pass d4c and be run by a case in CASES
# (-- srcfile) that checks what it sends.
# Usage: d4c_test.sh PATH/TO/d4c [EXAMPLES CASES]
set -u
d4c=$1
examples=${2:-}
cases=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

check() { # name, condition (as a command)
	if "${@:2}"; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		fail=1
	fi
}

cat >"$tmp/seed.d4" <<'D4'
IP[] _receivers
loop rtp_1_to_n { # coroutine to relay/pass on RTP packets
pkt = recv()
for ip in _receivers:
sendto(pkt, ip)
endfor
}
D4
cat >"$tmp/bad.d4" <<'D4'
IP[] _r
loop x {
pkt = recv()
for ip in _r:
  sendto(pkt, _nowhere)
endfor
}
D4
printf 'loop a {\npkt = recv()\n}\nloop b on udp 239.69.0.1:5004 {\np = recv()\ndrop\n}\n' >"$tmp/two.d4"

out=$("$d4c" "$tmp/seed.d4" 2>&1)
rc=$?
check "seed program exits 0" test $rc -eq 0
check "seed program prints its worst case" \
	test "$out" = "$tmp/seed.d4: loop rtp_1_to_n: worst case 405 instructions and 100 datagrams per packet"
out=$("$d4c" --max-sends 99 "$tmp/seed.d4" 2>&1)
rc=$?
check "a node's smaller send budget refuses it" \
	test $rc -eq 1 -a "$out" = "$tmp/seed.d4:5:1: loop 'rtp_1_to_n' may send 100 datagrams per packet, 100 by this sendto; the limit is 99"
"$d4c" --max-sends 1001 "$tmp/seed.d4" >/dev/null 2>&1
check "a budget over 1000 is a usage error" test $? -eq 2

out=$("$d4c" "$tmp/bad.d4" 2>&1)
rc=$?
check "bad program exits 1" test $rc -eq 1
check "bad program prints FILE:LINE:COL: message" \
	test "$out" = "$tmp/bad.d4:5:15: undefined name '_nowhere'"

# The seed's three nested loops: exactly its two errors, a line each.
printf 'loop three {\npkt = recv()\nfor i = 0 to 1000 step 1\nfor j = 0 to 10 step 1\nfor k = 0 to 10 step 1\npass\nendfor\nendfor\nendfor\n}\n' >"$tmp/three.d4"
out=$("$d4c" "$tmp/three.d4" 2>&1)
rc=$?
check "the seed's three loops exit 1" test $rc -eq 1
check "the seed's three loops give exactly its two errors" \
	test "$out" = "$tmp/three.d4:3:1: for runs 1001 times, limit is 100
$tmp/three.d4:5:1: 'for' nested more than 2 deep"

out=$("$d4c" "$tmp/two.d4" 2>&1)
rc=$?
check "a file may hold several loops" test $rc -eq 0
check "each loop gets a line" test "$(printf '%s\n' "$out" | wc -l)" -eq 2

out=$("$d4c" --dump "$tmp/seed.d4" 2>&1)
rc=$?
check "--dump exits 0" test $rc -eq 0
for op in LCOUNT JZ LOADI LGET SEND ADD FORLOOP END; do
	check "--dump shows $op" grep -q " $op " <<<"$out"
done

"$d4c" >/dev/null 2>&1
check "no file is a usage error" test $? -eq 2
"$d4c" "$tmp/none.d4" >/dev/null 2>&1
check "a missing file exits 2" test $? -eq 2
"$d4c" --frobnicate "$tmp/seed.d4" >/dev/null 2>&1
check "an unknown option exits 2" test $? -eq 2
if [ -n "$examples" ]; then
	n=0
	for f in "$examples"/*.d4; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		name=$(basename "$f")
		out=$("$d4c" "$f" 2>&1)
		rc=$?
		check "example $name passes d4c" test $rc -eq 0
		[ $rc -eq 0 ] || printf '%s\n' "$out" >&2
		check "example $name is run by a case" \
			grep -lqE "^-- srcfile .*examples/d4/$name\$" "$cases"/*.d4
	done
	check "examples/d4 holds the six examples" test $n -ge 6
	# the seed as docs/d4.md (and DESIGN.md) give it, below the header
	doc=$(dirname "$examples")/../docs/d4.md
	check "seed-relay.d4 is the seed program verbatim" test \
		"$(sed -n '/^IP\[\] _receivers$/,$p' "$examples/seed-relay.d4")" = \
		"$(awk '/^The seed program runs exactly/ { s = 1 }
			s && /^```$/ { if (in_) exit; in_ = 1; next }
			in_' "$doc")"
fi
exit $fail
