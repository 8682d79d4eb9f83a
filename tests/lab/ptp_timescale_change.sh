#!/usr/bin/env bash
# PTP lab: the grandmaster's timescale changes under a running route
# (docs/ptp.md "A grandmaster's timescale"). A (h2) sends a tone, B (h3)
# receives it (timing = ptp, 100 ms); both follow their ptp4l.
# (a) Grandmaster 1 (h1, ptp4l, ARB) is told by pmc to announce the PTP
#     timescale with currentUtcOffset 37 (d4_ptp_gm_timescale), then ARB
#     again. The time it sends does not change (the system clock), so
#     PTP time does not either: ptp4l's master_offset moves by 37 s and
#     the nodes take the 37 s announced off it again. No step, nothing
#     lost or late.
# (b) Grandmaster 1 stops; grandmaster 2 (h4, tests/tools/ptp_gm.py)
#     takes over on the PTP timescale, currentUtcOffset 37, its time TAI
#     (UTC + 37 s on the wire): PTP time jumps 37 s. Both nodes step
#     their media clocks by 37 s, A's SDP names grandmaster 2, and B
#     receives again; what the route lost across the change is measured
#     and printed. CLOCK_REALTIME is never stepped.
. "$(dirname "$0")/../lib.sh"
lab=d4t$$
d4_lab_hosts $lab 4
h1=$lab-h1 h2=$lab-h2 h3=$lab-h3 h4=$lab-h4
gm2=00-1D-C1-FF-FE-65-43-21

rt0=$(d4_realtime_minus_monotonic_ns)
tai0=$(d4_kernel_tai_offset)
{ echo "[node]"; echo "name = A"; echo "status_interval = 1"; d4_ptp_ini $h2
cat <<INI
[source tone]
type = tone
channels = 2
[flow main]
source = tone
destination = 239.69.7.1:5004
interface = eth0
sdp_file = $T/A-main.sdp
INI
} >"$T/A.ini"
{ echo "[node]"; echo "name = B"; echo "status_interval = 1"; d4_ptp_ini $h3
cat <<INI
[subscription main]
address = 239.69.7.1:5004
interface = eth0
timing = ptp
latency = 100ms
[sink out]
type = null
subscription = main
INI
} >"$T/B.ini"

# the machine's own stalls: late packets are held against them
# (tests/lib.sh d4_witness, d4_check_late)
d4_witness
d4_ptp_gm $h1
gm1_pid=$!
d4_ptp_follower $h2
d4_ptp_follower $h3
d4_node $h2 A "$T/A.ini" -v
a_pid=$!
d4_node $h3 B "$T/B.ini" -v
b_pid=$!
d4_wait_log "$T/$h1-ptp4l.log" "selected local clock .* as best master" 20
gm1=$(d4_ptp_gm_id "$T/$h1-ptp4l.log")
[ -n "$gm1" ] || fail "no identity in h1's ptp4l log"
d4_wait_log "$T/A.log" "-> clock locked gm $gm1" 40
d4_wait_log "$T/B.log" "-> clock locked gm $gm1" 40
d4_wait_log "$T/B.log" "subscription main: .*-> receiving" 20
sleep 2

# B's counter KEY in its last status line
stat() { grep "status:" "$T/B.log" | tail -n 1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
# follower h3's ptp4l: FIELD of a management GET
pmc_get() {
	ip netns exec $h3 pmc -u -s "$T/$h3-ptp4l" -b 0 "GET $1" |
		awk -v f="$2" '$1 == f { print $2 }' | tail -n 1
}
steps() { grep -c "media clock stepped" "$T/$1.log" || true; }

# (a) the same clock announcing another timescale
lost0=$(stat lost) late0=$(stat late) sa=$(steps A) sb=$(steps B)
d4_ptp_gm_timescale $h1 37
for i in $(seq 1 50); do
	[ "$(pmc_get TIME_PROPERTIES_DATA_SET ptpTimescale)" = 1 ] && break
	[ $i = 50 ] && fail "(a) h3's ptp4l never saw the PTP timescale"
	sleep 0.2
done
sleep 3
offset=$(pmc_get TIME_STATUS_NP master_offset)
d4_ptp_gm_timescale $h1 arb
for i in $(seq 1 50); do
	[ "$(pmc_get TIME_PROPERTIES_DATA_SET ptpTimescale)" = 0 ] && break
	[ $i = 50 ] && fail "(a) h3's ptp4l never saw the ARB timescale again"
	sleep 0.2
done
sleep 3
[ "$(steps A)" = "$sa" ] && [ "$(steps B)" = "$sb" ] ||
	fail "(a) a media clock stepped: $(grep -h 'media clock stepped' "$T/A.log" "$T/B.log" | tail -n 2)"
[ "$(stat lost)" = "$lost0" ] || fail "(a) B lost $(($(stat lost) - lost0))"
d4_check_late "(a) B" $(($(stat late) - late0)) 100000 1000
grep -q "clock locked gm $gm1" <(grep "status:" "$T/B.log" | tail -n 1) ||
	fail "(a) B is not locked to $gm1 any more"
pass "(a) $gm1 announced PTP + 37 s, then ARB: ptp4l's master_offset was ${offset} ns, the nodes' PTP time did not move: no step, nothing lost or late"

# (b) another grandmaster, on TAI
lost1=$(stat lost) late1=$(stat late)
kill $gm1_pid
d4_wait_log "$T/B.log" "locked -> clock holdover" 15
d4_ptp_gm_far $h4 37 ptp 37 $gm2
d4_wait_log "$T/A.log" "-> clock locked gm $gm2" 40
d4_wait_log "$T/B.log" "-> clock locked gm $gm2" 40
for n in A B; do
	d4_wait_log "$T/$n.log" "media clock stepped by 3[67][0-9]{9} ns" 10
done
sleep 2
grep -q "ts-refclk:ptp=IEEE1588-2008:$gm2:0" "$T/A-main.sdp" ||
	fail "(b) A's SDP still says $(grep ts-refclk "$T/A-main.sdp")"
rx0=$(stat rx)
sleep 3
rx1=$(stat rx) lost2=$(stat lost) late2=$(stat late)
[ "$((rx1 - rx0))" -ge 2000 ] ||
	fail "(b) B received $((rx1 - rx0)) packets in 3 s after the change"
sleep 3
[ "$(stat lost)" = "$lost2" ] || fail "(b) B still loses packets after the change"
d4_check_late "(b) B after the change" $(($(stat late) - late2)) 100000 1000
kill -TERM $a_pid $b_pid
d4_wait_pid $b_pid 10 || fail "B failed"
d4_wait_pid $a_pid 10 || fail "A failed"
rt1=$(d4_realtime_minus_monotonic_ns)
moved=$((rt1 - rt0))
[ "${moved#-}" -lt 50000000 ] ||
	fail "CLOCK_REALTIME moved by $moved ns against CLOCK_MONOTONIC"
[ "$(d4_kernel_tai_offset)" = "$tai0" ] || fail "the kernel's TAI offset changed"
echo "B across the change: $(grep -h "media clock stepped" "$T/B.log" | tail -n 1)"
grep -E "subscription main: " "$T/B.log" | sed -n '/holdover/,$p' | head -n 8 || true
pass "(b) ARB $gm1 replaced by $gm2 on TAI: both media clocks stepped 37 s, A's SDP names $gm2, B receives again; across the change B lost $((lost2 - lost1)) packets, $((late2 - late1)) late ($(d4_sub_stat "$T/B.log" main missing_frames) frames missing in all); CLOCK_REALTIME moved $moved ns"
