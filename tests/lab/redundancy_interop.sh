#!/usr/bin/env bash
# Redundancy lab (issue 21), ST 2022-7 with other senders and receivers.
# h1 sends (GStreamer, or node A), h2 receives on both networks (node B),
# h3 is on network A only (its eth1 removed): a receiver that takes the
# first leg alone.
# 1. Every SDP with a=group:DUP in tests/data/sdp and ../shared/interop/sdp
#    (real gear's: aes67-linux-daemon, NMOS IS-05, aes67-vsc-2, Lawo's
#    first leg), its addresses moved into the lab and nothing else
#    changed: B subscribes to it; B's API must show the legs the SDP
#    names (groups, ports, the leg left out when there is none); GStreamer
#    sends the stream it describes (one rtpL24pay, tee'd to both legs) and
#    nft drops 5 % of leg A at B: B's recording is the file, bit for bit,
#    leg B having filled leg A's gaps.
# 2. A GStreamer-built pair of legs: two rtpL24pay with the same ssrc,
#    seqnum-offset and timestamp-offset, one per leg; B is given both
#    addresses (address, address2): bit-exact through 5 % loss on leg A,
#    no SSRC change, no foreign SSRC.
# 3. d4's own DUP SDP (node A, two legs): it round-trips through B's
#    parser (B takes both legs, at the addresses A was given); on h3,
#    node C takes its first leg alone (and says why), and ffmpeg reads the
#    SDP file and records it: both bit-exact.
# GStreamer's timestamps are not on PTP: B plays them aligned on arrival.
# GStreamer runs at SCHED_FIFO 10, as in tests/interop: at the default
# policy a loaded machine held Lawo's 8000 packets a second back past the
# 40 ms latency (277 late) with no stall the witness could see.
# The machine is shared: a sender or receiver stalled past the latency
# makes late packets, judged against the stalls the witness (d4stall)
# saw; a recording with late packets must then be the file but for
# silent packets, no more of them than were late.
. "$(dirname "$0")/../lib.sh"

lab=d4ri$$
d4_lab_hosts $lab 3 2
h1=$lab-h1 h2=$lab-h2 h3=$lab-h3
ip -n $h3 link del eth1
"$D4WAV" gen "$T/in2.wav" --channels 2 --seconds 3 --seed 24
"$D4WAV" gen "$T/in8.wav" --channels 8 --seconds 3 --seed 25
"$D4WAV" gen "$T/in64.wav" --channels 64 --seconds 3 --seed 26
for c in 2 8 64; do sox "$T/in$c.wav" -t raw -e signed -b 24 -B "$T/in$c.raw"; done
lat_us=40000
d4_witness

nft_b() { ip netns exec $h2 nft "$@"; }
nft_b add table inet lab
nft_b add counter inet lab legA
nft_b add chain inet lab in '{ type filter hook input priority 0; }'
dropped() { nft_b list counter inet lab legA | sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'; }
# drop 5 % of leg A's packets to port $1 at B
lossy_a() {
	nft_b flush chain inet lab in
	nft_b reset counter inet lab legA >/dev/null
	nft_b add rule inet lab in iifname eth0 udp dport "$1" \
		jhash @th,80,16 mod 100 seed 0xd4 0-4 counter name legA drop
}

# gst_send CHANNELS PT PTIME_US A_GROUP A_PORT [B_GROUP B_PORT]: one
# payloader, its packets to leg A from eth0 and to leg B from eth1.
gst_send() {
	local ch=$1 pt=$2 ptime=$3 b=""
	[ -n "${6:-}" ] && b="t. ! queue ! udpsink host=$6 port=$7 multicast-iface=eth1 ttl-mc=1 auto-multicast=true sync=false"
	timeout 60 ip netns exec $h1 chrt -f 10 gst-launch-1.0 -q \
		filesrc location="$T/in$ch.raw" ! \
		rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 \
		num-channels="$ch" ! \
		capssetter caps="audio/x-raw,channel-mask=(bitmask)0x0" ! \
		rtpL24pay pt=$pt min-ptime=$((ptime * 1000)) max-ptime=$((ptime * 1000)) ! \
		identity sync=true ! tee name=t \
		t. ! queue ! udpsink host=$4 port=$5 multicast-iface=eth0 ttl-mc=1 \
		auto-multicast=true sync=false $b >"$T/gst.log" 2>&1 ||
		fail "gst-launch failed: $(tail -n 3 "$T/gst.log")"
}

# start_b NAME INI_LINES [START]: node B records 3 s of subscription
# NAME (the INI lines): from the stream's first data, aligned on arrival
# (GStreamer's timestamps are not on PTP); or, given a PTP START (d4's
# own stream), on PTP time from START.
start_b() {
	{ printf '[node]\nname = B\nrecordings_dir = %s\n' "$T"
	  printf '[subscription %s]\n%s\ntiming = %s\nlatency = %sus\n' "$1" "$2" \
		"$([ -n "${3:-}" ] && echo ptp || echo arrival)" "$lat_us"
	  printf '[sink rec]\nsubscription = %s\npath = %s/%s.wav\nduration = 3\n' "$1" "$T" "$1"
	  [ -z "${3:-}" ] || printf 'start = %s\n' "$3"
	} >"$T/B-$1.ini"
	rm -rf "$D4_STATE_DIR/B"
	d4_node $h2 "B-$1" "$T/B-$1.ini"
	bpid=$!
	d4_wait_log "$T/B-$1.log" "api: listening" 10
}
stop_b() {
	kill -TERM $bpid
	d4_wait_pid $bpid 15 || fail "B exited with an error"
}
legs_of() { # SUB: "A_ADDR A_IF B_ADDR B_IF" from B's API ("-" for none)
	d4_api $h2 B GET "/subscriptions/$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)
legs = s.get("legs") or [{"address": s["address"], "interface": "-"}]
print(" ".join("%s %s" % (l["address"], l["interface"] or "-") for l in legs))'
}
# same_but_late WHAT REF GOT LATE PTIME_US [CMP_ARGS...]: GOT is REF bit
# for bit; with LATE late packets (already judged against the stalls),
# REF but for at most LATE silent packets.
unjudged=
same_but_late() {
	local what=$1 ref=$2 got=$3 late=$4 ptime=$5 out gaps
	shift 5
	if [ "$late" = 0 ]; then
		"$D4WAV" cmp "$ref" "$got" "$@" || fail "$what: the recording is not the file"
		return
	fi
	if ! out=$("$D4WAV" gaps "$ref" "$got" --block $((ptime * 48 / 1000))); then
		# aligned on arrival, a stall past the latency may realign
		# the stream: the recording cannot be judged sample for sample
		if d4_stalled_over $((lat_us - ptime)); then
			unjudged="$unjudged; $what (a machine stall of $(d4_worst_stall) us, past the latency)"
			echo "$what: not judged: the machine stalled past the latency"
			return
		fi
		fail "$what: the recording differs from the file other than by silent packets"
	fi
	gaps=$(echo "$out" | sed -n 's/^gaps=\([0-9]*\) .*/\1/p')
	[ "$gaps" -le "$late" ] ||
		fail "$what: the recording has $gaps silent packets; $late were late"
	echo "$what: the file bit for bit but for $gaps silent packets (of $late late ones)"
}
check_rec() { # SUB CHANNELS WHAT PTIME_US
	local s=$1 stat
	stat() { d4_sub_stat "$T/B-$s.log" "$s" "$1"; }
	grep "final: subscription $s " "$T/B-$s.log" | sed 's/.*final: //'
	[ "$(stat lost)" = 0 ] || fail "$3: B lost $(stat lost) packets"
	d4_check_late "$3 at B" "$(stat late)" $lat_us "$4"
	same_but_late "$3 at B" "$T/in$2.wav" "$T/$s.wav" "$(stat late)" "$4" \
		--align first --max-lead-loss 0 --min-frames 140000
}

# --- 1. real gear's DUP SDPs ------------------------------------------------
fixtures=$(grep -l "^a=group:DUP" "$D4_SRC"/tests/data/sdp/*.sdp \
	"$D4_SRC"/../shared/interop/sdp/*.sdp 2>/dev/null || true)
[ -n "$fixtures" ] || fail "no DUP SDP found"
n=0
for f in $fixtures; do
	n=$((n + 1))
	# Move the SDP into the lab: groups into 239.69.40+/16 (equal ones
	# stay equal), the first sender address to h1's eth0, the second to
	# its eth1. Prints the legs it describes: "CH PT PTIME A_GROUP
	# A_PORT [B_GROUP B_PORT]" (the first audio section, and the one of
	# the DUP group's other mid).
	desc=$(python3 - "$f" "$T/fx$n.sdp" <<'PY'
import re, sys
text = open(sys.argv[1], newline="").read()
# senders in the order their legs' source filters name them
senders = {}
for m in re.finditer(r"a=source-filter: *incl IN IP4 \S+ (\S+)", text):
    senders.setdefault(m.group(1), ["10.77.0.1", "10.78.0.1"][len(senders) % 2])
groups = {}
def sub(m):
    a = m.group(0)
    if 224 <= int(a.split(".")[0]) < 240:
        groups.setdefault(a, "239.69.%d.1" % (40 + len(groups)))
        return groups[a]
    return senders.get(a, "10.77.0.1")  # o=: the sender's first address
out = re.sub(r"\b\d+\.\d+\.\d+\.\d+\b", sub, text)
open(sys.argv[2], "w", newline="").write(out)
lines = out.replace("\r\n", "\n").split("\n")
dup = next((l.split()[1:] for l in lines if l.startswith("a=group:DUP")), [])
secs, cur, sess_c = [], None, None
for l in lines:
    if l.startswith("m="):
        cur = {"m": l.split(), "c": sess_c, "mid": None, "rtpmap": None, "ptime": None, "fc": None}
        secs.append(cur)
    elif l.startswith("c=") and cur is None:
        sess_c = l.split()[2].split("/")[0]
    elif cur is not None:
        if l.startswith("c="): cur["c"] = l.split()[2].split("/")[0]
        if l.startswith("a=mid:"): cur["mid"] = l[6:]
        if l.startswith("a=rtpmap:"): cur["rtpmap"] = l
        if l.startswith("a=ptime:"): cur["ptime"] = float(l[8:])
        if l.startswith("a=framecount:"): cur["fc"] = int(l[13:])
a = secs[0]
b = next((s for s in secs[1:] if s["mid"] and s["mid"] in dup and s["mid"] != a["mid"]), None)
pt = a["m"][3]
ch = a["rtpmap"].split("/")[-1]
ptime = a["fc"] * 1000000 // 48000 if a["fc"] else round(a["ptime"] * 1000)
print(ch, pt, ptime, a["c"], a["m"][1], *((b["c"], b["m"][1]) if b else ()))
PY
)
	set -- $desc
	ch=$1 pt=$2 ptime=$3 ga=$4 pa=$5 gb=${6:-} pb=${7:-}
	name=fx$n
	# a leg without a sender address in the SDP: say where it is (the
	# node names no interface for a group it cannot place)
	if1="" if2=""
	[ -n "$gb" ] && ! grep -q "source-filter:.* 10.77.0.1" "$T/fx$n.sdp" &&
		if1="interface = eth0"
	[ -n "$gb" ] && ! grep -q "10.78.0.1" "$T/fx$n.sdp" && if2="interface2 = eth1"
	start_b $name "sdp = $T/fx$n.sdp
$if1
$if2"
	legs=$(legs_of $name)
	want="$ga:$pa eth0"
	[ -n "$gb" ] && want="$want $gb:$pb eth1"
	[ -n "$gb" ] || want="$ga:$pa -"
	[ "$legs" = "$want" ] ||
		fail "$(basename "$f"): B's legs are '$legs'; the SDP says '$want'"
	lossy_a $pa
	[ -n "$gb" ] || nft_b flush chain inet lab in
	gst_send $ch $pt $ptime $ga $pa $gb $pb
	sleep 0.5
	stop_b
	check_rec $name $ch "$(basename "$f")" $ptime
	if [ -n "$gb" ]; then
		# a copy from leg B that came late is not used
		used=$(d4_sub_stat "$T/B-$name.log" $name legB_used)
		late=$(d4_sub_stat "$T/B-$name.log" $name legB_late)
		[ $((used + late)) -ge "$(dropped)" ] && [ "$(dropped)" -gt 0 ] ||
			fail "$(basename "$f"): leg B filled $used packets; nft dropped $(dropped) on A"
		pass "$(basename "$f"): legs $legs; ${ch} ch; bit-exact through 5 % loss on leg A ($(dropped) dropped, $used from leg B)"
	else
		grep -q "the stream has a second leg .* on no network\|two legs" "$T/B-$name.log" &&
			fail "$(basename "$f"): B claims a second leg the SDP does not have"
		pass "$(basename "$f"): one leg (the DUP group names a section the SDP does not carry): $legs; ${ch} ch at ${ptime} us; bit-exact"
	fi
done

echo "part 1 took $SECONDS s"
# --- 2. a GStreamer-built pair of legs --------------------------------------
# Each leg's payloader paced by its own identity sync=true: rawaudioparse
# hands out about 100 ms at a time, which a payloader paced before it
# sends as one burst, 100 ms ahead of the stream's arrival timeline.
start_b pair "address = 239.69.45.1:5004
interface = eth0
address2 = 239.69.173.1:5006
interface2 = eth1
channels = 2
payload_type = 98"
lossy_a 5004
timeout 60 ip netns exec $h1 chrt -f 10 gst-launch-1.0 -q \
	filesrc location="$T/in2.raw" ! \
	rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 num-channels=2 ! \
	capssetter caps="audio/x-raw,channel-mask=(bitmask)0x0" ! \
	tee name=t \
	t. ! queue ! rtpL24pay pt=98 ssrc=287454020 seqnum-offset=4000 \
		timestamp-offset=123456789 min-ptime=1000000 max-ptime=1000000 ! \
		identity sync=true ! \
		udpsink host=239.69.45.1 port=5004 multicast-iface=eth0 ttl-mc=1 sync=false \
	t. ! queue ! rtpL24pay pt=98 ssrc=287454020 seqnum-offset=4000 \
		timestamp-offset=123456789 min-ptime=1000000 max-ptime=1000000 ! \
		identity sync=true ! \
		udpsink host=239.69.173.1 port=5006 multicast-iface=eth1 ttl-mc=1 sync=false \
	>"$T/gst.log" 2>&1 || fail "gst-launch (pair) failed: $(tail -n 3 "$T/gst.log")"
sleep 0.5
stop_b
check_rec pair 2 "GStreamer pair" 1000
st() { d4_sub_stat "$T/B-pair.log" pair "$1"; }
for k in ssrc_changes foreign_ssrc duplicate; do
	[ "$(st $k)" = 0 ] || fail "GStreamer pair: $k=$(st $k) (the two payloaders differ)"
done
[ $(($(st legB_used) + $(st legB_late))) -ge "$(dropped)" ] && [ "$(st redundant)" -gt 2500 ] ||
	fail "GStreamer pair: leg B filled $(st legB_used) of $(dropped) drops, $(st redundant) redundant copies"
pass "GStreamer pair (two rtpL24pay, same ssrc/seqnum-offset/timestamp-offset): bit-exact through 5 % loss on leg A; $(st redundant) redundant copies, 0 SSRC changes"

# --- 3. d4's own DUP SDP ----------------------------------------------------
echo "parts 1-2 took $SECONDS s"
start=$(($(d4_ptp_now) + 5))
cat >"$T/A.ini" <<INI
[node]
name = A
api = off
[source program]
type = file
path = $T/in2.wav
loop = false
start = $start
[flow main]
source = program
destination = 239.69.46.1:5004
interface = eth0
destination2 = 239.69.174.1:5008
interface2 = eth1
sdp_file = $T/main.sdp
INI
d4_node $h1 A "$T/A.ini" --run-seconds 12
a=$!
d4_wait_file "$T/main.sdp" 10
grep -q "^m=audio 5008 RTP/AVP 98" "$T/main.sdp" && grep -q "^a=mid:secondary" "$T/main.sdp" ||
	fail "A's SDP has no second leg: $(cat "$T/main.sdp")"
# ffmpeg records from now (A sends silence until the start) until A has
# stopped: the stream is in its recording however long the steps below
# take on a busy machine.
d4_spawn "$T/ffmpeg.log" ip netns exec $h3 ffmpeg -nostdin -hide_banner \
	-protocol_whitelist file,udp,rtp -i "$T/main.sdp" -map 0:0 \
	-c:a pcm_s24le -y "$T/ff.wav"
ff=$!
start_b own "sdp = $T/main.sdp" "$start"
[ "$(legs_of own)" = "239.69.46.1:5004 eth0 239.69.174.1:5008 eth1" ] ||
	fail "B read A's DUP SDP as legs '$(legs_of own)'"
printf '[node]\nname = C\napi = off\n[subscription own]\nsdp = %s\nlatency = 40ms\n[sink rec]\nsubscription = own\npath = %s/C.wav\nstart = %s\nduration = 3\n' \
	"$T/main.sdp" "$T" "$start" >"$T/C.ini"
d4_node $h3 C "$T/C.ini" --run-seconds 10
c=$!
[ "$(d4_ptp_now)" -lt "$start" ] || fail "B and C were started only after T"
d4_wait_log "$T/C.log" "second leg \(ST 2022-7, a=mid:secondary\) on no network of this host's" 10
d4_wait_pid $c 30 || fail "C exited with an error"
d4_wait_pid $a 30 || fail "A exited with an error"
kill -0 $ff 2>/dev/null || fail "ffmpeg ended early on d4's DUP SDP: $(tail -n 5 "$T/ffmpeg.log")"
kill -INT $ff
d4_wait_pid $ff 20 || true # ffmpeg stopped by a signal exits 255
grep -q "Exiting normally, received signal 2" "$T/ffmpeg.log" ||
	fail "ffmpeg did not finish its recording of d4's DUP SDP: $(tail -n 5 "$T/ffmpeg.log")"
stop_b
grep "final: flow main " "$T/A.log" | sed 's/.*final: /A: /'
grep "final: subscription own " "$T/C.log" | sed 's/.*final: /C: /'
# A stalled past 100 ms skips packets (docs/architecture.md "Send"): no
# receiver can play those, and nothing below allows for them
d4_check_skipped "A" "$(d4_flow_stat "$T/A.log" main skipped)" 1000
[ "$(d4_flow_stat "$T/A.log" main skipped)" = 0 ] ||
	fail "A skipped packets (a machine stall past 100 ms, see above): this run cannot judge the receivers"
c_late=$(d4_sub_stat "$T/C.log" own late)
d4_check_late "C (first leg alone)" "$c_late" 40000 1000
same_but_late "C (first leg alone)" "$T/in2.wav" "$T/C.wav" "$c_late" 1000 --align none
"$D4WAV" cmp "$T/in2.wav" "$T/ff.wav" --align first --max-lead-loss 0 \
	--min-frames 140000 || fail "ffmpeg's recording of the first leg is not the file"
[ "$(d4_sub_stat "$T/B-own.log" own legB_received)" -gt 2500 ] ||
	fail "B took no packets on leg B of A's flow"
check_rec own 2 "d4's own DUP SDP at B" 1000
pass "d4's DUP SDP: B takes both legs from it (bit-exact); C on one network takes the first leg (bit-exact at the PTP index); ffmpeg records the first leg bit-exact"
if [ -n "$unjudged" ]; then
	echo "SKIP: not judged sample for sample${unjudged}: the 'bit-exact' above does not hold for those (every other check passed)"
	exit 77
fi
