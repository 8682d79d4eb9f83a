#!/usr/bin/env bash
# Redundancy lab (issue 21), skew between the legs: node A sends a file
# over both legs of an ST 2022-7 flow; leg B passes a delay relay
# (tests/tools/d4delay on h3: no netem in this kernel) that holds it SKEW
# ms behind leg A, and nftables at A drops 5 % of leg A's packets as they
# leave, so those can only come from the late leg. For SKEW in 0, 2 and
# 5 ms at once (three relays on h3, each to a group of its own,
# 239.69.(151 + SKEW).1), B subscribes three times to A's DUP SDP (leg B
# from that skew's relay group) at a latency of SKEW + 1 ms and records
# the same 4 s, while dumpcap records when each copy of each packet
# reached B, on each leg (one capture per interface, split by group).
# The machine is shared: A's packets leave up to tens of ms late now and
# then, and a copy that comes after its playout time misses on any
# receiver, so "bit-exact" alone would test the machine. What is asserted
# is the receiver's part, packet by packet, from the captures:
# - every packet of which at least one copy came before its playout time
#   (its PTP time + latency) is in the recording, bit for bit at its
#   index; a packet missing from the recording is silence, never garbage;
# - leg A's gaps were filled by leg B's late copies: at least 50 packets
#   (about 190 expected) came only on leg B, SKEW later, and played;
# - B's API shows leg B's copies at least SKEW after their time.
# The count of packets the machine delayed past the latency is printed.
. "$(dirname "$0")/../lib.sh"

D4DELAY=${D4DELAY:?D4DELAY must point at the d4delay tool}
lab=d4rs$$
d4_lab_hosts $lab 3 2
d4_witness
h1=$lab-h1 h2=$lab-h2 h3=$lab-h3
secs=4
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds 60 --bits 24 --seed 22

d4_ptp_gm $h1
d4_ptp_follower $h2
d4_wait_log "$T/$h2-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 40
t0=$(d4_lab_ptp_now 2)
{ echo "[node]"; echo "name = A"; echo "api = off"; d4_ptp_ini $h1
cat <<INI
[source program]
type = file
path = $T/in.wav
loop = true
start = $t0
[flow main]
source = program
destination = 239.69.22.1:5004
interface = eth0
destination2 = 239.69.150.1:5004
interface2 = eth1
sdp_file = $T/main.sdp
INI
} >"$T/A.ini"
printf '[node]\nname = B\nrecordings_dir = %s/rec\n%s\n' "$T" \
	"$(d4_ptp_ini $h2)" >"$T/B.ini"
mkdir -p "$T/rec"
d4_node $h1 A "$T/A.ini"
d4_node $h2 B "$T/B.ini"
d4_wait_file "$T/main.sdp" 10
for n in A B; do d4_wait_log "$T/$n.log" "-> clock locked gm" 30; done

# 5 % of leg A lost on its way out of A (before B's captures see it)
ip netns exec $h1 nft add table inet lab
ip netns exec $h1 nft add chain inet lab out '{ type filter hook output priority 0; }'
ip netns exec $h1 nft add rule inet lab out oifname eth0 udp dport 5004 \
	jhash @th,80,16 mod 100 seed 0xd4 0-4 drop

api_b() { d4_api $h2 B "$@"; }
# JSON member $2 of the object on stdin (python: the API's JSON)
jget() { python3 -c "import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split('.'): v=v[int(k)] if k.isdigit() else v[k]
print(v)" "$1"; }
wait_recorded() { # SUB: until its recording is complete
	local i
	for i in $(seq 1 $(((secs + 15) * 10))); do
		[ "$(api_b GET "/subscriptions/$1" | jget recordings.0.state)" = complete ] &&
			return 0
		sleep 0.1
	done
	fail "$1's recording did not complete"
}

skews="0 2 5"
declare -A born read_at # SKEW: when its subscription was made, its stats read
group_b() { echo "239.69.$((151 + $1)).1"; } # SKEW: its relay's group
relays=""
for skew in $skews; do
	d4_spawn "$T/relay$skew.log" ip netns exec $h3 "$D4DELAY" \
		--in 239.69.150.1:5004 --in-if eth1 --out "$(group_b $skew):5004" \
		--out-if eth1 --delay-us $((skew * 1000))
	relays="$relays $!"
done
for skew in $skews; do
	d4_wait_log "$T/relay$skew.log" "d4delay: ready" 10
done
# 15 s ahead: on a busy machine two dumpcaps and three API calls took
# more than 6 s, and the recordings' start had passed
start=$(($(d4_lab_ptp_now) + 15))
# what B's legs hear: A's leg A group on eth0, the relays' on eth1 (A's
# own leg B group floods bridge B too: not B's); the eth1 capture is
# split by group below
cap=$((start + secs + 2 - $(date +%s)))
caps=""
fb="udp port 5004 and ("
for skew in $skews; do fb="$fb dst host $(group_b $skew) or"; done
fb="${fb% or} )"
for i in 0 1; do
	f="udp port 5004 and dst host 239.69.22.1"
	[ $i = 1 ] && f=$fb
	d4_spawn "$T/cap$i.log" ip netns exec $h2 dumpcap -q -i eth$i \
		-f "$f" -a duration:$cap -w "$T/eth$i.pcapng"
	caps="$caps $!"
done
for skew in $skews; do
	lat=$((skew * 1000 + 1000))
	name=red$skew
	body=$(python3 - "$T/main.sdp" "$name" "$lat" "$start" "$secs" \
		"$(group_b $skew)" <<'PY'
import json, sys
sdp, name, lat, start, secs, gb = open(sys.argv[1]).read(), *sys.argv[2:]
print(json.dumps({"name": name, "sdp": sdp, "timing": "ptp",
                  "latency_us": int(lat), "address2": gb + ":5004",
                  "interface2": "eth1", "source_filter2": "10.78.0.3",
                  "record": {"path": name + ".wav", "start": int(start),
                             "duration": int(secs)}}))
PY
)
	born[$skew]=$(date +%s%N)
	api_b POST /subscriptions "$body" >/dev/null ||
		fail "B refused the redundant subscription: $(cat "$T/api-answer")"
done
[ "$(date +%s)" -lt "$start" ] ||
	fail "the subscriptions were made only after their recordings' start"
for skew in $skews; do
	wait_recorded red$skew
	api_b GET "/subscriptions/red$skew" >"$T/red$skew.json"
	read_at[$skew]=$(date +%s%N)
done
for skew in $skews; do api_b DELETE "/subscriptions/red$skew" >/dev/null; done
for p in $caps; do d4_wait_pid $p 30 || fail "dumpcap failed"; done
for p in $relays; do
	kill -INT $p
	wait $p 2>/dev/null || true
done
tshark -r "$T/eth0.pcapng" -d udp.port==5004,rtp \
	-T fields -e frame.time_epoch -e rtp.timestamp >"$T/eth0.txt" 2>/dev/null
for skew in $skews; do
	cat "$T/relay$skew.log"
	lat=$((skew * 1000 + 1000))
	name=red$skew
	get() { jget "$1" <"$T/$name.json"; }
	tshark -r "$T/eth1.pcapng" -d udp.port==5004,rtp \
		-Y "ip.dst == $(group_b $skew)" \
		-T fields -e frame.time_epoch -e rtp.timestamp \
		>"$T/$name-eth1.txt" 2>/dev/null
	# B counts late every packet whose first copy came after its
	# playout: those late on the wire (A's sender, or the relay, a
	# normal-priority process, held up: leg B's margin is only 1 ms at
	# 5 ms of skew) and those in time on the wire that B's media thread
	# read only after their playout (a machine stall): only the second
	# are B's, held against the stall witness below.
	blate=$(get stats.late)
	python3 - "$T/in.wav" "$t0" "$start" "$secs" "$lat" "$T/rec/$name.wav" \
		"$T/eth0.txt" "$T/$name-eth1.txt" "$blate" "$T/$name.wirelate" \
		"${born[$skew]}" "${read_at[$skew]}" <<'PY' || fail "skew $skew ms: see above"
import sys, wave
inwav, t0, start, secs, lat_us, rec, capa, capb, blate, wl, born, read_at = sys.argv[1:]
blate, born, read_at = int(blate), int(born), int(read_at)
t0, start, secs, lat_ns = int(t0), int(start), int(secs), int(lat_us) * 1000
R, FPP = 48000, 48
def arrivals(path):  # RTP timestamp -> arrival (ns, lab PTP time)
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) == 2:
            out.setdefault(int(f[1]), int(round(float(f[0]) * 1e9)))
    return out
A, B = arrivals(capa), arrivals(capb)
w = wave.open(rec)
got = w.readframes(w.getnframes())
fr = 6  # 2 channels x 3 bytes
src = wave.open(inwav)
nsrc = src.getnframes()
x0 = start * R
bad = missing_in_time = judged = machine_late = wire_late = garbage = 0
for k in range(secs * R // FPP):
    x = x0 + k * FPP
    ts = x % (1 << 32)
    t_play = x * 10**9 // R + lat_ns
    copies = [a for a in (A.get(ts), B.get(ts)) if a is not None]
    in_time = any(a < t_play for a in copies)
    src.setpos((x - t0 * R) % nsrc)
    want = src.readframes(FPP)
    have = got[k * FPP * fr:(k + 1) * FPP * fr]
    if have != want:
        # what differs must be silence (a missing packet), never garbage
        for i in range(0, len(have), 3):
            if have[i:i + 3] != want[i:i + 3] and have[i:i + 3] != b"\0\0\0":
                garbage += 1
                break
    if not in_time:
        machine_late += 1
        wire_late += bool(copies)  # came, after its playout time
        continue
    if ts not in A and B.get(ts, t_play) < t_play:
        judged += 1
    if have != want:
        missing_in_time += 1
        if missing_in_time <= 5:
            print("packet at position %d: copies came %s ns after its time "
                  "(latency %d ns), yet it is not in the recording"
                  % (x, [a - x * 10**9 // R for a in copies], lat_ns))
print("%d packets: %d came only on leg B (in time), %d came on no leg in "
      "time (the machine), %d in time but not played (B counted %d late "
      "itself: read after their playout in a machine stall), %d garbage"
      % (secs * R // FPP, judged, machine_late, missing_in_time, blate,
         garbage))
# B's late count is its subscription's whole life, not the recording's
# 4 s (a rehearsal: 3 late, 1 of them late on the wire in the recording,
# the other 2 before it): what came late on the wire is counted over
# the same life, from when it was made to when its stats were read.
wire_late = 0
for ts in set(A) | set(B):
    first = min(a for a in (A.get(ts), B.get(ts)) if a is not None)
    if not born <= first <= read_at:
        continue
    x = ts + (1 << 32) * round((first * R // 10**9 - ts) / (1 << 32))
    if first >= x * 10**9 // R + lat_ns:
        wire_late += 1
print("over the subscription's life: %d packets came late on the wire"
      % wire_late)
open(wl, "w").write("%d\n" % wire_late)
sys.exit(1 if missing_in_time > blate or garbage or judged < 50 else 0)
PY
	wlate=$(cat "$T/$name.wirelate")
	own=$((blate > wlate ? blate - wlate : 0))
	echo "B's $name: $blate late, $wlate of them late on the wire: $own B's own"
	d4_check_late "B's $name" "$own" "$lat" 1000
	db=$(get legs.1.delay_max_us)
	[ "$db" -ge $((skew * 1000)) ] ||
		fail "skew $skew ms: B's API shows leg B's latest copy $db us after its time"
	pass "skew $skew ms at latency $((lat / 1000)) ms: every packet that came in time on either leg is in the recording bit for bit (but for those B itself read after their playout in a machine stall, said above), leg B's late copies filling leg A's gaps"
done
