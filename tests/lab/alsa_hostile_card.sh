#!/usr/bin/env bash
# A card's own trouble must not take the node down (an attacker's finds):
# (a) the test card's log writer dies (its log is /dev/full: cat fails,
#     the card's next write is to a pipe nobody reads): the node runs to
#     its end, exit 0 with its final lines, not dead of SIGPIPE; the card
#     says what it lost;
# (b) a FIFO as the capture file: a clear error and exit 1 at start, not
#     a node blocked in open() for good;
# (c) a period of 65536 frames: no frame overflows the position ring
#     (a fixed half second lost them all, silently).
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
. "$(dirname "$0")/alsa_common.sh"
cat >>"$T/asound.conf" <<CONF
pcm.full { type d4test ppm 0 channels 2 capture_in "$T/tc.raw" capture_log "/dev/full" }
pcm.fifo { type d4test ppm 0 channels 2 capture_in "$T/fifo.raw" capture_log "$T/fifo.log" }
pcm.big { type d4test ppm 0 channels 2 capture_in "$T/tc.raw" capture_log "$T/big.log" }
CONF
mkfifo "$T/fifo.raw"
ini() { # DEVICE [EXTRA-LINE]
	cat <<INI
[node]
name = $1
api = off
[discovery]
mdns = off
sap = off
[source card]
type = alsa
device = $1
channels = 2
sample_format = s32
${2:-buffer = 1920}
[flow tc]
source = card
destination = 239.69.9.2:5004
INI
}
ini full >"$T/full.ini"
d4_spawn "$T/full.log" "$D4NODE" --config "$T/full.ini" --run-seconds 4
n=$!
d4_wait_pid $n 30 || fail "(a) the node did not end well (exit $?) when its card's log writer died: $(tail -n 3 "$T/full.log")"
grep -q "final: alsa source card" "$T/full.log" || fail "(a) no final line"
grep -q "d4test: /dev/full: [0-9]* bytes lost" "$T/full.log" ||
	fail "(a) the card did not say what it lost"
pass "(a) the card's writer died: the node ran on and ended well; $(grep -o 'd4test: /dev/full: [0-9]* bytes lost' "$T/full.log")"

ini fifo >"$T/fifo.ini"
d4_spawn "$T/fifo.log" "$D4NODE" --config "$T/fifo.ini" --run-seconds 4
n=$!
rc=0
d4_wait_pid $n 20 || rc=$?
kill -0 $n 2>/dev/null && { kill -9 $n; fail "(b) the node hung at start on a FIFO"; }
[ "$rc" = 1 ] || fail "(b) exit $rc, want 1"
grep -q "not a regular file" "$T/fifo.log" || fail "(b) no reason: $(cat "$T/fifo.log")"
pass "(b) a FIFO as the capture file: exit 1, $(grep -o 'd4test: .*' "$T/fifo.log" | head -n 1)"

ini big "period = 65536
buffer = 65536" >"$T/big.ini"
d4_spawn "$T/big.log" "$D4NODE" --config "$T/big.ini" --run-seconds 5
n=$!
d4_wait_pid $n 30 || fail "(c) the node failed"
grep "final: alsa source card" "$T/big.log"
[ "$(d4_alsa_stat "$T/big.log" "source card" overflows)" = 0 ] ||
	fail "(c) frames overflowed the ring"
pass "(c) period 65536: no frame overflowed the ring"
