#!/usr/bin/env bash
# Control API lab, with curl: node A (h1) sends a file on a multicast flow;
# node B (h2) starts with an empty config. Through the API only:
# - B subscribes to A's stream by name and records it (bit-exact);
# - A gets a unicast flow to B, B subscribes to it by address (bit-exact);
# - a write without the token gets 401 and changes nothing; malformed JSON
#   gets 400, a 70 kB body 413 — and B loses no packet;
# - GET /meters and d4ctl meters show the file's level while it plays;
# - B restarts: its subscriptions come back from its state file.
. "$(dirname "$0")/../lib.sh"

secs=8
lab=d4a$$
d4_lab_hosts $lab 2
d4_witness
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 21
# The file's own level per channel, [[peak, rms], ...] in dBFS of 24-bit
# full scale, for the meters below.
file_levels=$(python3 - "$T/in.wav" <<'PY'
import json, math, sys, wave
w = wave.open(sys.argv[1])
nch, raw = w.getnchannels(), w.readframes(w.getnframes())
assert w.getsampwidth() == 3
out = []
for c in range(nch):
    s = [int.from_bytes(raw[i:i + 3], "little", signed=True)
         for i in range(3 * c, len(raw), 3 * nch)]
    peak = max(abs(v) for v in s) / 8388608
    ms = sum(v * v for v in s) / len(s) / 8388608 ** 2
    out.append([20 * math.log10(peak), 10 * math.log10(ms)])
print(json.dumps(out))
PY
)
start=$(($(d4_ptp_now) + 4))
cat >"$T/A.ini" <<INI
[node]
name = A
[discovery]
interface = eth0
mdns = off
sap_interval = 1s
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = program
destination = 239.69.5.1:5004
interface = eth0
INI
printf '[node]\nname = B\nrecordings_dir = %s\n[discovery]\ninterface = eth0\nmdns = off\n' "$T" >"$T/B.ini"
d4_node $lab-h1 A "$T/A.ini"
a=$!
d4_node $lab-h2 B "$T/B.ini"
b=$!
d4_wait_log "$T/A.log" "api: listening on 0.0.0.0:8080" 15
d4_wait_log "$T/B.log" "api: listening on 0.0.0.0:8080" 15
TA=$(cat "$T/state/A/token")
TB=$(cat "$T/state/B/token")
[ "$(stat -c %a "$T/state/B/token")" = 600 ] || fail "token file is not 0600"

api() { # api HOST-NUMBER METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY"
	local h=$1 m=$2 p=$3 body=${4:-} tok=${5:-}
	local args=(-s -o "$T/resp" -w '%{http_code}' -X "$m")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	local code
	code=$(ip netns exec $lab-h$h curl "${args[@]}" "http://10.77.0.$h:8080/api/v1$p")
	echo "$code $(cat "$T/resp")"
}
expect() { # expect STATUS "what" RESULT
	[ "${3%% *}" = "$1" ] || fail "$2: want $1, got: $3"
}

# B subscribes by name once SAP has told it about "A main".
d4_wait_log "$T/B.log" "sap: session 'A main' from 10.77.0.1 announced" 15
r=$(api 2 POST /subscriptions "{\"name\":\"main\",\"stream\":\"A main\",\"timing\":\"ptp\",\"latency_us\":100000,\"record\":{\"path\":\"main.wav\",\"start\":$start,\"duration\":$secs}}" "$TB")
expect 201 "subscribe by name" "$r"
# A unicast flow on A to B, and B's subscription to it.
r=$(api 1 POST /flows '{"name":"mon","source":"program","channels":[1,2],"destination":"10.77.0.2:5010"}' "$TA")
expect 201 "unicast flow" "$r"
r=$(api 2 POST /subscriptions "{\"name\":\"mon\",\"address\":\"10.77.0.2:5010\",\"channels\":2,\"rx_channels\":[4,3],\"timing\":\"ptp\",\"latency_us\":100000,\"record\":{\"path\":\"mon.wav\",\"start\":$start,\"duration\":$secs}}" "$TB")
expect 201 "subscribe by address" "$r"
pass "subscriptions by name and by address, a unicast flow: 201 each"

# Refusals, while the streams run.
r=$(api 2 POST /subscriptions '{"name":"evil","address":"10.77.0.2:5999"}')
expect 401 "write without a token" "$r"
r=$(api 2 POST /subscriptions '{"name":"evil","address":"10.77.0.2:5999"}' wrongtoken)
expect 401 "write with a wrong token" "$r"
r=$(api 2 GET /subscriptions)
[ "$(echo "${r#* }" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 2 ] ||
	fail "a refused write changed the subscriptions: $r"
r=$(api 2 POST /subscriptions '{"name": broken' "$TB")
expect 400 "malformed JSON" "$r"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
r=$(api 2 POST /d4/exec "@$T/big.json" "$TB")
expect 413 "oversize body" "$r"
r=$(api 2 DELETE /subscriptions/nosuch "" "$TB")
expect 404 "delete of nothing" "$r"
pass "no token / wrong token: 401 and nothing changed; bad JSON 400; 70 kB 413; unknown 404"

# Meters, while the file plays (from start to start + secs): two reads of
# B 0.5 s apart and one of A. Every channel of B's subscriptions and A's
# flows shows the file's level: peak within 0.1 dB (1 sample in 32 is full
# scale, so every 50 ms window holds one), RMS within 0.5 dB (the file is
# noise; a 2400-sample window's RMS strays from the file's by 0.08 dB at
# one sigma). 10 windows are due in 0.5 s: at least 5 must have come.
while [ "$(d4_ptp_now)" -lt $((start + 1)) ]; do sleep 0.1; done
d4ctl() { ip netns exec $lab-h2 env XDG_CONFIG_HOME="$T" "$D4CTL" "$@"; }
m1=$(api 2 GET /meters)
sleep 0.5
m2=$(api 2 GET /meters)
ma=$(api 1 GET /meters)
out=$(d4ctl meters 10.77.0.2:8080 --count 2) || fail "d4ctl meters --count 2 failed"
js=$(d4ctl meters 10.77.0.2:8080 --json) || fail "d4ctl meters --json failed"
# All of it while the file played, or the levels mean nothing.
[ "$(d4_ptp_now)" -lt $((start + secs)) ] ||
	fail "meters read after the file ended (a loaded machine?)"
python3 - "$file_levels" "${m1#* }" "${m2#* }" "${ma#* }" <<'PY' || fail "meters: $m2 / A: $ma"
import json, sys
want = json.loads(sys.argv[1])
m1, m2, ma = (json.loads(a) for a in sys.argv[2:5])
assert m2["window_ms"] == 50, m2
subs1 = {b["name"]: b for b in m1["subscriptions"]}
subs2 = {b["name"]: b for b in m2["subscriptions"]}
assert set(subs2) == {"main", "mon"}, subs2
for name in subs2:
    d = subs2[name]["updates"] - subs1[name]["updates"]
    assert d >= 5, (name, "updates in 0.5 s", d)
banks = list(subs2.values()) + ma["flows"]
assert len(banks) == 4, banks
for b in banks:
    assert len(b["channels"]) == len(want), b
    for c in b["channels"]:
        peak, rms = want[c["channel"] - 1]
        assert c["peak_dbfs"] is not None and \
            abs(c["peak_dbfs"] - peak) <= 0.1, (b["name"], c, peak)
        assert c["rms_dbfs"] is not None and \
            abs(c["rms_dbfs"] - rms) <= 0.5, (b["name"], c, rms)
PY
[ "$(grep -c '^subscription main ' <<<"$out")" = 2 ] ||
	fail "d4ctl meters --count 2 did not draw twice: $out"
grep -Eq '^ +2( RX [0-9]+ *| - *)? \[#+-* *\] peak +-?[0-9]+\.[0-9]  rms +-[0-9]+\.[0-9]$' <<<"$out" ||
	fail "d4ctl meters: no bar for channel 2: $out"
# each subscription channel says the RX channel it fills (mon: 1 -> RX 4,
# 2 -> RX 3; main fills none)
grep -Eq '^ +1 RX 4 +\[#+-* *\] peak' <<<"$out" && grep -Eq '^ +2 RX 3 +\[' <<<"$out" &&
	grep -Eq '^ +2 - +\[' <<<"$out" ||
	fail "d4ctl meters: no RX channel beside mon's channels: $out"
python3 -c '
import json, sys
m = json.loads(sys.argv[1])
assert sorted(b["name"] for b in m["subscriptions"]) == ["main", "mon"], m
subs = {b["name"]: b for b in m["subscriptions"]}
assert [c["rx"] for c in subs["mon"]["channels"]] == [4, 3], subs["mon"]
assert [c["rx"] for c in subs["main"]["channels"]] == [None, None], subs["main"]
' "$js" || fail "d4ctl meters --json: $js"
pass "meters: the file's peak and RMS on both subscriptions and both flows, >= 5 updates in 0.5 s; d4ctl meters --count 2 and --json"

while [ "$(d4_ptp_now)" -lt $((start + secs + 1)) ]; do sleep 0.2; done
skipped() { api 1 GET "/flows/$1" "" "$TA" | cut -d' ' -f2- | python3 -c '
import json, sys; print(json.load(sys.stdin)["stats"]["skipped"])'; }
r=$(api 2 GET /stats)
# every packet A sent in the file's 8 s (less those a stall made it skip)
echo "${r#* }" | python3 -c '
import json, sys
s = json.load(sys.stdin)["subscriptions"]
for name, skipped in (("main", int(sys.argv[1])), ("mon", int(sys.argv[2]))):
    st = s[name]
    assert st["received"] >= '$((secs * 1000))' - skipped, (name, st)
    assert st["lost"] == 0, (name, st)
' "$(skipped main)" "$(skipped mon)" || fail "B's stats: $r"
late() { echo "${r#* }" | python3 -c 'import json, sys
print(json.load(sys.stdin)["subscriptions"][sys.argv[1]]["late"])' "$1"; }
kill -TERM $b
d4_wait_pid $b 10 || fail "B exited with an error"
# A machine stall (the d4stall witness) can hold A's media thread past
# its catch-up (it skips packets) or make packets late at B: each is
# held against the witness; a recording it touched is checked for no
# more silent packets than the sender skipped, not sample for sample.
for f in main:main mon:mon; do
	sub=${f%%:*} flow=${f#*:}
	sk=$(skipped "$flow") lt=$(late "$sub")
	d4_check_skipped "A's flow $flow" "$sk" 1000
	d4_check_late "B's subscription $sub" "$lt" 100000 1000
	d4_cmp_stalled "the recording of $sub" "$T/in.wav" "$T/$sub.wav" "$sk" "$lt"
done
pass "both recordings at the same PTP index, bit-exact but for what a machine stall explains; 0 lost through the refused requests"

# Restart B with the same (empty) config: the API's work comes back.
d4_node $lab-h2 B2 "$T/B.ini"
b=$!
d4_wait_log "$T/B2.log" "state: restored 0 flow\(s\), 2 subscription\(s\)" 15
d4_wait_log "$T/B2.log" "subscription main: stream 'A main' \(SAP\) at" 15
sleep 1
r=$(api 2 GET /subscriptions)
echo "${r#* }" | python3 -c '
import json, sys
subs = {s["name"]: s for s in json.load(sys.stdin)}
assert set(subs) == {"main", "mon"}, subs
for s in subs.values():
    assert s["state"] == "receiving", s
    assert s["latency_us"] == 100000, s
' || fail "after the restart: $r"
pass "B restarted: both subscriptions restored from its state file and receiving"

# d4ctl exec, programs and unload: a loop loaded through the API goes
# (a new user could not remove one), and a second unload is an error
dtb() { D4_TOKEN=$TB d4ctl "$@"; }
out=$(dtb exec 10.77.0.2:8080 'loop spare on udp 10.77.0.2:5099 {
pkt = recv()
}') || fail "d4ctl exec of loop spare"
# it names the loop (a new user was given a handle no command takes)
case "$out" in "loaded, stopped: loop spare (d4ctl start "*" spare)") ;;
*) fail "d4ctl exec printed '$out'" ;; esac
dtb programs 10.77.0.2:8080 | grep -q "^spare " || fail "spare is not listed"
out=$(dtb unload 10.77.0.2:8080 spare) || fail "d4ctl unload spare: $out"
[ "$out" = "10.77.0.2:8080: unloaded spare" ] || fail "d4ctl unload printed '$out'"
dtb programs 10.77.0.2:8080 | grep -q "^spare " && fail "spare is listed after unload"
rc=0; dtb unload 10.77.0.2:8080 spare 2>"$T/unload.err" || rc=$?
[ $rc = 1 ] && grep -q "no D4 loop 'spare'" "$T/unload.err" ||
	fail "a second unload: exit $rc, $(cat "$T/unload.err")"
pass "d4ctl unload: the loop gone from B2's programs; again: exit 1, 'no D4 loop'"
kill -TERM $a $b
d4_wait_pid $a 10 || fail "A exited with an error"
d4_wait_pid $b 10 || fail "B exited with an error"
