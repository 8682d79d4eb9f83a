#!/usr/bin/env bash
# Redundancy lab (issue 21), a link lost on each leg in turn: node A sends
# a file for 29 s over both legs of an ST 2022-7 flow; node B subscribes to
# A's DUP SDP and records it from the same PTP time. B's link on network A
# (eth0, which also carries PTP) goes down at the bridge at T + 3 s for
# 10 s; 2 s after it is back, B's link on network B goes down at T + 15 s
# for 10 s. Asserted:
# - the recording is the file, bit for bit at the same index, 0 lost and 0
#   late on the merged stream (a sender stalled past 100 ms by the machine
#   skips packets: the recording must then differ by exactly those silent
#   packet blocks, as tests/lab/redundancy_loss.sh explains);
# - B logs each leg's failure and its return once, each within 1 s of the
#   link going down or up (B's log times against the test's clock), and
#   the subscription goes degraded and back to receiving, never no-audio;
# - B's API, polled every 100 ms, showed each leg "down" while its link was
#   down (and the other "ok"), and both "ok" at the end;
# - each leg's loss is its outage: 10 s of packets (the outage as long
#   as the ip commands bracketing it measured, within 1 s), on that leg
#   only.
# Latency 100 ms: this test is about what arrives, not when.
. "$(dirname "$0")/../lib.sh"

secs=29
lab=d4rk$$
d4_lab_hosts $lab 2 2
h1=$lab-h1 h2=$lab-h2
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 23

d4_ptp_gm $h1
d4_ptp_follower $h2
d4_wait_log "$T/$h2-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 40
start=$(d4_lab_ptp_now 8)
{ echo "[node]"; echo "name = A"; echo "api = off"; d4_ptp_ini $h1
cat <<INI
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = program
destination = 239.69.23.1:5004
interface = eth0
destination2 = 239.69.151.1:5004
interface2 = eth1
sdp_file = $T/main.sdp
INI
} >"$T/A.ini"
{ echo "[node]"; echo "name = B"; d4_ptp_ini $h2
cat <<INI
[subscription main]
sdp = $T/main.sdp
timing = ptp
latency = 100ms
[sink take]
subscription = main
path = $T/take.wav
start = $start
duration = $secs
INI
} >"$T/B.ini"

# A stops at T + secs + 6, B at T + secs + 3 (each counted from its
# own launch): B must stop first, or it counts the end of A's stream
# as missing frames (a loaded run launched B 1.7 s after A, which then
# stopped 0.68 s before B: 27758 missing frames after the recording)
run=$((start + secs + 6 - $(date +%s)))
d4_node $h1 A "$T/A.ini" --run-seconds $run
a=$!
d4_wait_file "$T/main.sdp" 10
run=$((start + secs + 3 - $(date +%s)))
d4_node $h2 B "$T/B.ini" --run-seconds $run
b=$!
d4_wait_log "$T/B.log" "two legs \(ST 2022-7\)" 10
for n in A B; do d4_wait_log "$T/$n.log" "-> clock locked gm" 20; done
[ "$(date +%s)" -lt "$start" ] || fail "the nodes locked only after T"

# B's subscription every 100 ms: "REALTIME STATE LEG_A LEG_B".
d4_spawn "$T/poll.log" ip netns exec $h2 python3 -c '
import json, sys, time, urllib.request
tok = open(sys.argv[1]).read().strip()
req = urllib.request.Request("http://10.77.0.2:8080/api/v1/subscriptions/main",
                             headers={"Authorization": "Bearer " + tok})
req2 = urllib.request.Request("http://10.78.0.2:8080/api/v1/subscriptions/main",
                              headers={"Authorization": "Bearer " + tok})
while True:
    t = time.time()
    try:  # the API answers on both networks: ask on the one that is up
        try:
            s = json.load(urllib.request.urlopen(req, timeout=0.5))
        except Exception:
            s = json.load(urllib.request.urlopen(req2, timeout=0.5))
        legs = s.get("legs", [{}, {}])
        print("%.3f %s %s %s" % (t, s["state"], legs[0].get("state"),
                                  legs[1].get("state")), flush=True)
    except Exception as e:
        print("%.3f ? ? ?" % t, flush=True)
    time.sleep(0.1)
' "$D4_STATE_DIR/B/token"

now() { date +%s.%N; }
clock_off=$(python3 -c 'import time; print(time.time() - time.monotonic())')
# the real time of the first line of B.log matching REGEX
log_time() {
	local m
	m=$(grep -E "$1" "$T/B.log" | head -n 1 | sed -n 's/^[a-z0-9]*\[\([0-9.]*\)\].*/\1/p')
	[ -n "$m" ] || fail "B never logged /$1/"
	python3 -c "print('%.3f' % ($m + $clock_off))"
}
until_ptp() { while [ "$(date +%s)" -lt "$1" ]; do sleep 0.05; done; }

# Each link change is bracketed: it happened between X0 (before the ip
# command) and X (after it returned), which on this machine can be tens
# of ms apart. B's log is judged from X0 (nothing is seen before the
# change, everything within 1 s of it), the API's states inside [X, Y0].
until_ptp $((start + 3))
a_down0=$(now)
d4_leg_link $lab 2 A down
a_down=$(now)
until_ptp $((start + 13))
a_up0=$(now)
d4_leg_link $lab 2 A up
a_up=$(now)
until_ptp $((start + 15))
b_down0=$(now)
d4_leg_link $lab 2 B down
b_down=$(now)
until_ptp $((start + 25))
b_up0=$(now)
d4_leg_link $lab 2 B up
b_up=$(now)
until_ptp $((start + 27))
final=$(tail -n 1 "$T/poll.log")

d4_wait_pid $b $((run + 20)) || fail "B exited with an error"
d4_wait_pid $a 20 || fail "A exited with an error"
grep "final: flow main " "$T/A.log" | sed 's/.*final: //'
grep "final: subscription main " "$T/B.log" | sed 's/.*final: //'
grep -E "leg [AB] (down|back)|-> (degraded|receiving|no-audio)|ptp:" "$T/B.log" |
	sed 's/^/  B: /'

# The log: each leg down and back once, each within 1 s (the leg's own
# line: the state change to degraded names the leg down too).
for leg in A B; do
	n=$(grep -cE "subscription main: leg $leg down" "$T/B.log" || true)
	[ "$n" = 1 ] || fail "B logged leg $leg down $n times"
	n=$(grep -cE "subscription main: leg $leg back" "$T/B.log" || true)
	[ "$n" = 1 ] || fail "B logged leg $leg back $n times"
done
check_within() { # WHAT CAUSE_TIME LOG_REGEX (the log's times are ms)
	local t d
	t=$(log_time "$3")
	d=$(python3 -c "print('%.3f' % ($t - $2))")
	echo "$1: shown after $d s"
	python3 -c "import sys; sys.exit(not (-0.001 <= $d <= 1.0))" ||
		fail "$1: B said so $d s after the link changed (want within 1 s)"
}
check_within "leg A down" "$a_down0" "leg A down"
check_within "leg A back" "$a_up0" "leg A back"
check_within "leg B down" "$b_down0" "leg B down"
check_within "leg B back" "$b_up0" "leg B back"
grep -q -- "-> degraded (leg A down" "$T/B.log" ||
	fail "B's subscription never read degraded for leg A"
grep -q -- "-> degraded (leg B down" "$T/B.log" ||
	fail "B's subscription never read degraded for leg B"
grep -q -- "-> no-audio" "$T/B.log" && fail "B's subscription went no-audio"

# The API, polled: each leg down while its link was, the other ok.
python3 - "$T/poll.log" "$a_down" "$a_up0" "$a_up" "$b_down0" "$b_down" "$b_up0" <<'PY' || fail "B's API did not show the legs' states"
import sys
rows = [l.split() for l in open(sys.argv[1])]
a_down, a_up0, a_up, b_down0, b_down, b_up0 = map(float, sys.argv[2:8])
def seen(t0, t1, state, a, b):
    return any(t0 <= float(r[0]) <= t1 and r[1:] == [state, a, b] for r in rows)
# well inside each outage (1 s after it began) to its end
assert seen(a_down + 1, a_up0, "degraded", "down", "ok"), "leg A down"
assert seen(b_down + 1, b_up0, "degraded", "ok", "down"), "leg B down"
assert seen(a_up + 1, b_down0, "receiving", "ok", "ok"), "both ok between"
print("api: leg A down seen during A's outage, leg B down during B's, both ok between")
PY
echo "$final" | grep -q " receiving ok ok$" ||
	fail "B's API at the end: '$final', want receiving ok ok"

stat() { d4_sub_stat "$T/B.log" main "$1"; }
for k in lost late duplicate bad_header; do
	[ "$(stat $k)" = 0 ] || fail "B's merged stream has $k=$(stat $k)"
done
# each leg lost its outage (10 s, as long as the ip commands around it
# took on this machine: a loaded one took 1.8 s to bring a link up), to
# within 1 s of packets (the link's own timing), and only that
outage_ok() { # LEG LOST DOWN0 DOWN UP0 UP: the outage was UP0-DOWN..UP-DOWN0
	python3 -c "import sys
lost, d0, d, u0, u = int('$2'), $3, $4, $5, $6
lo, hi = (u0 - d) * 1000 - 1000, (u - d0) * 1000 + 1000
print('leg $1: lost %d packets over an outage of %.2f-%.2f s' % (lost, u0 - d, u - d0))
sys.exit(not lo <= lost <= hi)" ||
		fail "leg $1 lost $2 packets: not its outage's"
}
outage_ok A "$(stat legA_lost)" "$a_down0" "$a_down" "$a_up0" "$a_up"
outage_ok B "$(stat legB_lost)" "$b_down0" "$b_down" "$b_up0" "$b_up"
skipped=$(d4_flow_stat "$T/A.log" main skipped)
[ "$(stat missing_frames)" = $((skipped * 48)) ] ||
	fail "B played $(stat missing_frames) missing frames; A skipped $skipped packets"
how=$(d4_cmp_stalled "the recording" "$T/in.wav" "$T/take.wav" "$skipped")
pass "each leg's link down 10 s in turn: $how; legs lost $(stat legA_lost) and $(stat legB_lost) packets; each failure and return shown within 1 s"
