#!/usr/bin/env bash
# Fault lab: 5 % random packet loss on one RTP port (nftables in the
# receiver's namespace, lab/RECIPES.md). Node A sends one file on two
# multicast flows, ports 5004 and 5006; node B records both from the same
# PTP index. A rule drops 1 packet in 20 at random on port 5004 only,
# counting each drop in a named nft counter. Asserted:
# - B runs to the end and exits cleanly (no crash);
# - B's lost count on 5004 equals the nft counter exactly;
# - the recording of 5004 is silent in exactly that many 48-frame blocks
#   (one packet each: 1 ms at 48 kHz) and bit-exact everywhere else;
# - the stream on 5006 is untouched: 0 lost, 0 late, bit-exact.
# The rule drops only while the stream is well under way (from its 2nd to
# its last-but-one second): a lost first or last packet has no
# neighbours to be counted from (the receiver cannot know a stream began
# earlier or went on longer), so the loss it counts would not be exact.
# Latency 100 ms: lab hosts are a virtual machine's two vCPUs, which its
# hypervisor stops for up to tens of ms now and then (tests/lab/load.sh
# measures it), and the ASan build is slower: such a stall must not read as a late packet here; the
# smallest safe latency is bench/latency.sh's question.
. "$(dirname "$0")/../../lib.sh"

secs=10
ch=2
lab=d4fl$$
d4_lab_hosts $lab 2
d4_witness
"$D4WAV" gen "$T/in.wav" --channels $ch --seconds $secs --seed 9
start=$(($(d4_ptp_now) + 3))

cat >"$T/tx.ini" <<INI
[node]
name = A
api = off
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[flow lossy]
source = program
destination = 239.69.7.1:5004
interface = eth0
sdp_file = $T/lossy.sdp
[flow clean]
source = program
destination = 239.69.7.2:5006
interface = eth0
sdp_file = $T/clean.sdp
INI
cat >"$T/rx.ini" <<INI
[node]
name = B
api = off
[subscription lossy]
sdp = $T/lossy.sdp
interface = eth0
timing = ptp
latency = 100ms
[subscription clean]
sdp = $T/clean.sdp
interface = eth0
timing = ptp
latency = 100ms
[sink lossy]
subscription = lossy
path = $T/lossy.wav
start = $start
duration = $secs
[sink clean]
subscription = clean
path = $T/clean.wav
start = $start
duration = $secs
INI

nft_b() { ip netns exec $lab-h2 nft "$@"; }
nft_b add table inet lab
nft_b add counter inet lab dropped
nft_b add chain inet lab in '{ type filter hook input priority 0; }'

run=$((secs + 6))
d4_node $lab-h1 A "$T/tx.ini" --run-seconds $((run + 1))
tx=$!
d4_wait_file "$T/lossy.sdp" 5
d4_wait_file "$T/clean.sdp" 5
d4_node $lab-h2 B "$T/rx.ini" --run-seconds 300 # until told, below
rx=$!

# Drop from start + 1 s to start + secs - 1 s (see above), in stream
# time: the rule matches the RTP timestamp (UDP payload bytes 4-7, the
# flow's media clock in samples), so when this shell gets to run on a
# loaded machine does not move the window.
lo=$(((start + 1) * 48000 % 4294967296))
hi=$(((start + secs - 1) * 48000 % 4294967296))
drop_ts() { # FIRST-LAST
	nft_b add rule inet lab in udp dport 5004 @th,96,32 "$1" \
		numgen random mod 20 == 0 counter name dropped drop
}
if [ $lo -lt $hi ]; then
	drop_ts "$lo-$((hi - 1))"
else # the 32-bit timestamp wraps inside the window
	drop_ts "$lo-4294967295"
	[ $hi = 0 ] || drop_ts "0-$((hi - 1))"
fi
while [ "$(d4_ptp_now)" -lt $((start + secs - 1)) ]; do
	sleep 0.2
	kill -0 $rx 2>/dev/null || fail "B died while packets were dropped"
done
# B stops once the file and every dropped packet's place have played out
# (the flush may come late on a loaded machine)
while [ "$(d4_ptp_now)" -lt $((start + secs + 1)) ]; do sleep 0.2; done
sleep 1
kill -TERM $rx
d4_wait_pid $rx 15 || fail "B exited with an error"
d4_wait_pid $tx 10 || fail "A exited with an error"

dropped=$(nft_b list counter inet lab dropped |
	sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p')
[ -n "$dropped" ] || fail "cannot read the nft counter"
# 1 in 20 of some 8000 packets: 400 expected, fewer than 300 is no
# longer 5 % (p < 1e-6), and means the rule did not do what it should.
[ "$dropped" -ge 300 ] || fail "nft dropped only $dropped packets"

for s in lossy clean; do
	grep "final: subscription $s " "$T/B.log" | sed 's/.*final: //'
done
# A sender that stalls past its 100 ms catch-up skips packets without a
# gap in its sequence numbers: no receiver counts them lost, each plays
# out as 48 missing frames. Only a machine stall the witness saw may
# explain a skip (d4_check_skipped fails otherwise); what was skipped is
# then accounted for exactly, beside what nft dropped.
for f in lossy clean; do
	skipped=$(d4_flow_stat "$T/A.log" $f skipped)
	d4_check_skipped "A's flow $f" "$skipped" 1000
	eval "skipped_$f=\$skipped"
done
lost=$(d4_sub_stat "$T/B.log" lossy lost)
late=$(d4_sub_stat "$T/B.log" lossy late)
[ "$lost" = "$dropped" ] ||
	fail "B counted $lost lost packets on 5004; nft dropped $dropped"
d4_check_late "B on 5004" "$late" 100000 1000
missing=$(d4_sub_stat "$T/B.log" lossy missing_frames)
[ "$late" != 0 ] || [ "$missing" = $(((dropped + skipped_lossy) * 48)) ] ||
	fail "B played out $missing missing frames on 5004, want $(((dropped + skipped_lossy) * 48)) (48 for each of $dropped dropped and $skipped_lossy skipped packets)"
for k in lost bad_header bad_size ssrc_changes; do
	v=$(d4_sub_stat "$T/B.log" clean $k)
	[ "$v" = 0 ] || fail "the untouched stream on 5006 has $k=$v"
done
d4_check_late "B on 5006" "$(d4_sub_stat "$T/B.log" clean late)" 100000 1000
v=$(d4_sub_stat "$T/B.log" clean missing_frames)
[ "$(d4_sub_stat "$T/B.log" clean late)" != 0 ] || [ "$v" = $((skipped_clean * 48)) ] ||
	fail "the untouched stream on 5006 has missing_frames=$v, A skipped $skipped_clean packets of it"
pass "nft dropped $dropped packets on 5004; B counted $lost lost, $late late; 5006: 0 lost"

if [ "$late" != 0 ]; then
	# late packets (a machine stall, judged above) play as silence,
	# whole or in part: the silent blocks are not the drops alone
	echo "5004: $late late packets (d4stall): its recording is not judged block for block"
	gaps="(not judged)"
else
	out=$("$D4WAV" gaps "$T/in.wav" "$T/lossy.wav" --block 48) ||
		fail "the recording of 5004 differs from the file other than by silent packets"
	gaps=$(echo "$out" | sed -n 's/^gaps=\([0-9]*\) .*/\1/p')
	[ "$gaps" = $((dropped + skipped_lossy)) ] ||
		fail "the recording has $gaps silent packets; nft dropped $dropped, A skipped $skipped_lossy"
fi
how=$(d4_cmp_but_skipped "5006" "$T/in.wav" "$T/clean.wav" "$skipped_clean" \
	"$(d4_sub_stat "$T/B.log" clean late)")
pass "5004's recording: silent in exactly the $gaps dropped or skipped packets' 48-frame blocks, bit-exact elsewhere; $how"
