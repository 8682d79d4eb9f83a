#!/usr/bin/env bash
# Discovery lab (c): a Dante device in AES67 mode, played by real peers.
# Then the device's SDP changes (a new group, a new o= version): B's
# subscription follows it to the new address and receives there, and
# what it had buffered from the old group still plays (the recording's
# end, when the move comes within a latency of the last packet).
# Host h1 sends SAP announcements carrying a real Dante SDP from
# ../shared/interop/sdp (origin rewritten to h1, group kept: 239.69.x.x is
# the lab's range) while GStreamer sends the stream it describes, its RTP
# timestamps on PTP time plus that SDP's mediaclk offset. Node B on h2
# subscribes by the Dante session name and records from PTP time T: the
# recording must be the file, bit-exact, its first sample at index 0.
. "$(dirname "$0")/../lib.sh"

secs=3
lab=d4c$$
fixture=$D4_SRC/tests/data/sdp/dante-avio-2ch.sdp
name=$(sed -n 's/^s=\(.*\)\r\?$/\1/p' "$fixture" | tr -d '\r')
offset=$(sed -n 's/^a=mediaclk:direct=\([0-9]*\).*/\1/p' "$fixture")
group=$(sed -n 's|^c=IN IP4 \([0-9.]*\)/.*|\1|p' "$fixture")
[ -n "$name" ] && [ -n "$offset" ] && [ -n "$group" ] ||
	fail "cannot read name/offset/group from $fixture"
sed 's/^o=\(- [0-9]* [0-9]*\) IN IP4 .*/o=\1 IN IP4 10.77.0.1\r/' "$fixture" \
	>"$T/dante.sdp"

d4_lab_hosts $lab 2
d4_witness
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 5
# PTP time T (whole seconds, the node's free-running TAI clock) and the
# same instant on CLOCK_REALTIME for GStreamer.
read -r start start_rt_ns < <(python3 -c 'import time
tai = time.clock_gettime(11); rt = time.clock_gettime(time.CLOCK_REALTIME)
off = round(tai - rt) if tai - rt > 1 else 37
t = int(rt + off) + 15
print(t, (t - off) * 10**9)')
rtp_ts=$(((start * 48000 + offset) % 4294967296))

cat >"$T/B.ini" <<INI
[node]
name = B
[discovery]
interface = eth0
mdns = off
[subscription dante]
stream = $name
interface = eth0
timing = ptp
# GStreamer sends from a normal-priority thread: on a loaded machine it
# stalls for tens of ms. The largest latency keeps this test about the
# samples and their alignment; timing is bench/'s.
latency = 100ms
[sink take]
subscription = dante
path = $T/take.wav
start = $start
duration = $secs
INI
d4_node $lab-h2 B "$T/B.ini" --run-seconds 300 # until told, below
b=$!

# SAP announcements of the Dante SDP from h1, twice a second (each reads
# the file anew: the test changes the SDP under the running announcer).
d4_spawn "$T/sap.log" ip netns exec $lab-h1 python3 "$D4_SRC/tests/tools/sap_announce.py" \
	--count 120 "$T/dante.sdp"
sap=$!
# When each packet reached B, captured on its host (both groups): a
# packet GStreamer (a normal-priority process, held up by any other
# work) sent after its playout time is late on the wire, not B's.
d4_spawn "$T/cap.log" ip netns exec $lab-h2 dumpcap -q -i eth0 \
	-f "udp port 5004" -w "$T/b.pcapng"
cap=$!
d4_wait_log "$T/cap.log" "Capturing on" 10
# GStreamer first: starting it takes seconds on a loaded machine (it
# says when it was not ready before its start), B's lookup meanwhile.
d4_spawn "$T/gst.log" ip netns exec $lab-h1 /usr/bin/python3 \
	"$D4_SRC/tests/tools/gst_send_at.py" "$T/in.wav" "$group:5004" \
	--start "$start_rt_ns" --rtp-ts "$rtp_ts" --pt 97
gst=$!
d4_wait_log "$T/B.log" "subscription dante: stream '$name' \(SAP\) at $group:5004, 2 ch L24/48000, 48 frames/packet, mediaclk offset $offset" 10
pass "(c) B found the Dante session '$name' by SAP: $group:5004, mediaclk offset $offset"

d4_wait_pid $gst $((secs + 40)) || fail "GStreamer failed: $(tail -3 "$T/gst.log")"
# The device moves its stream: a new group and a new o= version.
moved=239.69.165.51
sed -i "s|^c=IN IP4 $group/|c=IN IP4 $moved/|; s/^o=- \([0-9]*\) \([0-9]*\) /o=- \1 $((RANDOM + 1000000)) /" "$T/dante.sdp"
d4_wait_log "$T/B.log" "subscription dante: stream '$name' \(SAP\) moved to $moved:5004" 15
# The same timeline: what the old group brought and B has not played
# yet (a move within a latency of the last packet) still plays.
d4_wait_log "$T/B.log" "subscription dante: what the old address brought plays out first" 5
read -r start2 start2_rt_ns < <(python3 -c 'import time
tai = time.clock_gettime(11); rt = time.clock_gettime(time.CLOCK_REALTIME)
off = round(tai - rt) if tai - rt > 1 else 37
t = int(rt + off) + 8
print(t, (t - off) * 10**9)')
d4_spawn "$T/gst2.log" ip netns exec $lab-h1 /usr/bin/python3 \
	"$D4_SRC/tests/tools/gst_send_at.py" "$T/in.wav" "$moved:5004" \
	--start "$start2_rt_ns" --rtp-ts $(((start2 * 48000 + offset) % 4294967296)) --pt 97
gst=$!
d4_wait_pid $gst $((secs + 20)) || fail "GStreamer (moved) failed: $(tail -3 "$T/gst2.log")"
sleep 0.5 # the last packets played out
kill -TERM $b
d4_wait_pid $b 15 || fail "B exited with an error"
kill $sap 2>/dev/null || true
kill -INT $cap
d4_wait_pid $cap 15 || fail "dumpcap failed: $(cat "$T/cap.log")"
# Packets late on the wire (arrived after their PTP time + 100 ms), per
# group: "GROUP COUNT".
tshark -r "$T/b.pcapng" -d udp.port==5004,rtp -T fields -e frame.time_epoch \
	-e ip.dst -e rtp.timestamp 2>/dev/null >"$T/b.txt"
python3 - "$T/b.txt" "$start" "$start_rt_ns" "$offset" "$group" "$start2" \
	"$moved" >"$T/wirelate.txt" <<'PY' || fail "reading B's capture"
import sys
path, start, start_rt_ns, offset, g1, start2, g2 = sys.argv[1:]
start, start2, offset = int(start), int(start2), int(offset)
off = start - int(start_rt_ns) / 1e9  # PTP time - CLOCK_REALTIME
base = {g1: start, g2: start2}
late = {g1: 0, g2: 0}
delays = {g1: [], g2: []}
for line in open(path):
    f = line.split()
    if len(f) != 3 or f[1] not in base:
        continue
    t0 = base[f[1]]
    d = (int(f[2]) - (t0 * 48000 + offset)) % (1 << 32)
    if d >= 1 << 31:
        d -= 1 << 32
    delay = float(f[0]) + off - (t0 + d / 48000)
    delays[f[1]].append(delay)
    if delay > 0.1:
        late[f[1]] += 1
for g in (g1, g2):
    v = sorted(delays[g]) or [0]
    # the median delay shows the capture is read on B's timeline
    print(g, late[g], len(delays[g]), "%.2f" % (v[len(v) // 2] * 1000))
PY

# Late packets only where a machine stall (the d4stall witness) held
# GStreamer or B past the 100 ms latency; a recording with some is not
# judged sample for sample (said).
grep -Eq "subscription dante: before the move: received=$((secs * 1000)) lost=0 late=[0-9]+ " "$T/B.log" ||
	fail "before the move: $(grep 'before the move' "$T/B.log")"
late1=$(grep "subscription dante: before the move:" "$T/B.log" | tail -n 1 |
	sed -n 's/.* late=\([0-9]*\) .*/\1/p')
read -r _ wire1 n1 med1 < <(grep "^$group " "$T/wirelate.txt")
read -r _ wire2 n2 med2 < <(grep "^$moved " "$T/wirelate.txt")
echo "captured at B: $n1 packets before the move ($wire1 late on the wire, median delay $med1 ms), $n2 after ($wire2 late, median $med2 ms)"
# the capture on B's timeline: most packets come within a few ms
python3 -c 'import sys; sys.exit(0 if all(-1 < float(m) < 50 for m in sys.argv[1:]) else 1)' "$med1" "$med2" ||
	fail "B's capture does not read on its timeline: median delays $med1 / $med2 ms"
own() { echo $(($1 > $2 ? $1 - $2 : 0)); }
d4_check_late "B before the move" "$(own "$late1" "$wire1")" 100000 1000
[ "$(d4_sub_stat "$T/B.log" dante received)" -ge $((secs * 1000)) ] ||
	fail "B received $(d4_sub_stat "$T/B.log" dante received) packets at the new address"
[ "$(d4_sub_stat "$T/B.log" dante lost)" = 0 ] || fail "B lost packets after the move"
late2=$(d4_sub_stat "$T/B.log" dante late)
d4_check_late "B after the move" "$(own "$late2" "$wire2")" 100000 1000
if [ "$late1" = 0 ]; then
	"$D4WAV" cmp "$T/in.wav" "$T/take.wav" --align none ||
		fail "B's recording is not GStreamer's file at the PTP index its timestamps give"
	pass "(c) B subscribed to Dante session '$name' by name and recorded GStreamer's stream bit-exact and sample-aligned (mediaclk offset $offset applied)"
else
	pass "(c) B subscribed to Dante session '$name' by name; $late1 packets late ($wire1 of them on the wire: GStreamer or the machine held up): its recording not judged sample for sample"
fi
pass "the SDP moved the stream to $moved: B's subscription followed and received $(d4_sub_stat "$T/B.log" dante received) packets there, 0 lost, $late2 late (judged above)"
