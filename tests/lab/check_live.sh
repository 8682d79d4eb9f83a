#!/usr/bin/env bash
# d4ctl check on live streams (issue 22). Hosts: h1 grandmaster and node
# "play" sending a flow made with the Dante-compatible preset
# (examples/send-file.ini: 239.69.x.x:5004, L24, 1 ms, 2 ch, DSCP 46);
# h2 node "mon" (its /ptp and /streams) and d4ctl, which reads PTP time
# from h2's ptp4l as a follow-mode node does. A faulty sender on h1 plays
# the two wire cases the field reported.
# (a) the d4 flow passes every rule, measured live (DSCP 46, send offset)
# (b) a sender 23.7 ms late: wire.late, measured on its packets
# (c) a sender marking DSCP 0: wire.dscp, seen on its packets
# (d) an SDP naming another grandmaster than the network's: aes67.gm-stale
# (e) what d4 marks on the wire: audio DSCP 46, SAP and RTSP 0
# (f) the node's own check of its flows at start (node/tx.c): mon's flow
#     "wide" (10 ch, 239.70.x.x, port 5006) is logged with what Dante
#     refuses; play's Dante-preset flow with nothing but the reference
#     clock it had before its first lock
. "$(dirname "$0")/../lib.sh"
D4CTL=${D4CTL:?}
lab=d4k$$
d4_lab_hosts $lab 2
h1=$lab-h1 h2=$lab-h2

{ echo "[node]"; echo "name = play"; d4_ptp_ini $h1
cat <<INI
[source tone]
type = tone
channels = 2
[flow music]
source = tone
destination = 239.69.0.1:5004
encoding = L24
ptime = 1ms
dscp = 46
ttl = 16
interface = eth0
sdp_file = $T/music.sdp
INI
} >"$T/play.ini"
{ echo "[node]"; echo "name = mon"; d4_ptp_ini $h2
cat <<INI
[source wide]
type = tone
channels = 10
[flow wide]
source = wide
destination = 239.70.0.5:5006
interface = eth0
INI
} >"$T/mon.ini"

d4_ptp_gm $h1
d4_ptp_follower $h2
d4_wait_log "$T/$h1-ptp4l.log" "selected local clock .* as best master" 10
gm=$(d4_ptp_gm_id "$T/$h1-ptp4l.log")
d4_node $h1 play "$T/play.ini" -v
d4_node $h2 mon "$T/mon.ini" -v
d4_wait_log "$T/play.log" "-> clock locked gm $gm" 40
d4_wait_log "$T/mon.log" "-> clock locked gm $gm" 40
d4_wait_log "$T/mon.log" "api: listening on 0.0.0.0:8080" 15
d4_wait_file "$T/music.sdp" 10

check() { # check OUT HOST ARGS...: d4ctl [--host HOST] check from h2,
	# exit code in $rc
	local out=$1 host=$2
	shift 2
	rc=0
	ip netns exec $h2 "$D4CTL" --timeout 10 ${host:+--host $host} check \
		--ptp4l "$T/$h2-ptp4l" "$@" >"$out" 2>&1 || rc=$?
}

# (a) the flow, named on its node; the stream seen announced by mon too
check "$T/a.out" "" --listen 3 --flow music 10.77.0.1:8080
cat "$T/a.out"
# Every rule passes; the one the machine decides (wire.spread: how evenly
# a node on a loaded machine sends, bench/'s question) is only reported.
broken=$(grep -E '^ *(error|warning) ' "$T/a.out" | grep -v ' wire\.spread ' || true)
[ $rc = 0 ] || { [ $rc = 4 ] && [ -z "$broken" ]; } ||
	fail "(a) the Dante-preset flow fails check (exit $rc): $broken"
grep -q "on the wire: DSCP 46" "$T/a.out" || fail "(a) DSCP 46 not seen"
grep -q "send-time offset: mean" "$T/a.out" || fail "(a) no timing measured"
pass "(a) d4 flow with the Dante preset passes, measured live: $(grep -E 'DSCP|offset' "$T/a.out" | tr -s ' ' | tr '\n' ';')"

# An SDP naming the live grandmaster, for the faulty sender's stream
sed -e 's/239.69.0.1/239.69.0.2/g' -e 's/^o=- [0-9]*/o=- 4242/' \
	"$T/music.sdp" >"$T/late.sdp"

# (b) 23.7 ms late, marked EF: only the timing rule breaks
# The faulty senders run SCHED_FIFO: their lateness is the one they are
# told, not the loaded machine's.
d4_spawn "$T/late-sender.log" ip netns exec $h1 chrt -f 20 python3 \
	"$D4_SRC/tests/tools/rtp_send_late.py" 239.69.0.2 5004 \
	--late-ms 23.7 --tos 184 --seconds 12
bpid=$!
sleep 1
check "$T/b.out" 10.77.0.2:8080 --listen 4 "$T/late.sdp"
cat "$T/b.out"
[ $rc = 4 ] || fail "(b) exit $rc, want 4"
grep -q "wire.late .*arrive 2[34]\.[0-9] ms after" "$T/b.out" ||
	fail "(b) the 23.7 ms late sender was not flagged"
# (a Python sender's pacing may add wire.spread; nothing but the wire)
grep -E '^  (error|warning)' "$T/b.out" | grep -qv ' wire\.' &&
	fail "(b) a rule of the SDP broken, not only the wire's"
pass "(b) $(grep -o 'send-time offset: mean [0-9.]* ms' "$T/b.out"): wire.late"

# (c) on time, DSCP 0, on the same group: (b)'s sender stopped first
kill $bpid 2>/dev/null || true
wait $bpid 2>/dev/null || true
d4_spawn "$T/dscp0-sender.log" ip netns exec $h1 chrt -f 20 python3 \
	"$D4_SRC/tests/tools/rtp_send_late.py" 239.69.0.2 5004 \
	--late-ms 1 --tos 0 --seconds 12
cpid=$!
sleep 1
check "$T/c.out" 10.77.0.2:8080 --listen 3 "$T/late.sdp"
cat "$T/c.out"
[ $rc = 4 ] || fail "(c) exit $rc, want 4"
grep -q "on the wire: DSCP 0" "$T/c.out" || fail "(c) DSCP 0 not seen"
grep -q "wire.dscp .*DSCP 0" "$T/c.out" || fail "(c) DSCP 0 not flagged"
grep -q "wire.late" "$T/c.out" && fail "(c) an on-time sender flagged late"
pass "(c) DSCP 0 on the wire flagged"
# its DSCP 0 packets would be in (e)'s capture
kill $cpid 2>/dev/null || true
wait $cpid 2>/dev/null || true

# (d) a stale grandmaster in the SDP, against mon's live one
sed 's/ts-refclk:ptp=IEEE1588-2008:[0-9A-F-]*:/ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-00-00-01:/' \
	"$T/music.sdp" >"$T/stale.sdp"
check "$T/d.out" 10.77.0.2:8080 --listen 0 "$T/stale.sdp"
cat "$T/d.out"
[ $rc = 4 ] || fail "(d) exit $rc, want 4"
grep -q "aes67.gm-stale .*the network's is $gm" "$T/d.out" ||
	fail "(d) stale grandmaster not flagged"
pass "(d) stale grandmaster flagged against the live $gm"

# (e) what d4 marks on the wire (docs/interop.md "DSCP"): audio with the
# flow's DSCP (46 here), SAP and RTSP with 0, as Dante's control traffic.
rport=$(sed -n 's/.*rtsp: answering DESCRIBE on port \([0-9]*\).*/\1/p' \
	"$T/play.log" | head -n 1)
[ -n "$rport" ] || fail "(e) no RTSP port in play's log"
d4_spawn "$T/tshark.log" ip netns exec $h2 tshark -i eth0 -n -l \
	-a duration:80 -f "udp port 9875 or udp port 5004 or tcp port $rport" \
	-w "$T/wire.pcap"
tshark_pid=$!
d4_wait_log "$T/tshark.log" "Capturing on" 30 || fail "(e) tshark did not start"
d4_describe $h2 10.77.0.1 "$rport" "play music" >"$T/describe.sdp" ||
	fail "(e) DESCRIBE failed"
# SAP repeats every 30 s (+-10 %): wait for one of play's announcements in
# the capture (other hosts announce too)
for i in $(seq 1 70); do
	[ -s "$T/wire.pcap" ] &&
		tshark -r "$T/wire.pcap" -Y 'udp.port == 9875 && ip.src == 10.77.0.1' 2>/dev/null |
		grep -q . && break
	sleep 1
done
kill -INT $tshark_pid 2>/dev/null || true
d4_wait_pid $tshark_pid 10 || true
dscp_of() { # dscp_of FILTER: the DSCP values of matching packets, sorted
	tshark -r "$T/wire.pcap" -Y "$1" -T fields -e ip.dsfield.dscp |
		sort -u | tr '\n' ' '
}
sap=$(dscp_of 'udp.port == 9875 && ip.src == 10.77.0.1')
rtp=$(dscp_of 'udp.dstport == 5004 && ip.src == 10.77.0.1')
rtsp=$(dscp_of "tcp.srcport == $rport && ip.src == 10.77.0.1")
[ "$sap" = "0 " ] || fail "(e) SAP DSCP '$sap', want 0"
[ "$rtp" = "46 " ] || fail "(e) audio DSCP '$rtp', want 46"
[ "$rtsp" = "0 " ] || fail "(e) RTSP DSCP '$rtsp', want 0"
pass "(e) on the wire (tshark): audio DSCP $rtp, SAP $sap, RTSP $rtsp"

# (f) each node checked its multicast flows when they started
for rule in "error dante.port: port 5006" "error dante.channels: 10 channels" \
	"warning dante.prefix: 239.70.0.5 is outside 239.69.0.0/16"; do
	grep -q "flow wide: $rule" "$T/mon.log" ||
		fail "(f) mon did not log 'flow wide: $rule'"
done
findings=$(grep -E "flow music: (error|warning) " "$T/play.log" || true)
other=$(echo "$findings" | grep -v "error aes67.ts-refclk: a=ts-refclk is not PTP" |
	grep . || true)
[ -z "$other" ] || fail "(f) the Dante-preset flow was logged with: $other"
# the one finding is the free-run reference clock of a flow that started
# before the node's first lock (its SDP names the grandmaster since)
if [ -n "$findings" ]; then
	[ "$(grep -n -m1 "flow music: error aes67.ts-refclk" "$T/play.log" | cut -d: -f1)" -lt \
		"$(grep -n -m1 -- "-> clock locked gm" "$T/play.log" | cut -d: -f1)" ] ||
		fail "(f) play's flow was found without PTP after the lock"
fi
pass "(f) at start, mon logged its flow wide with $(grep -c "flow wide: \(error\|warning\) dante" "$T/mon.log") of Dante's rules broken; play's Dante-preset flow with none (${findings:+only the free-run ts-refclk from before its first lock})"
