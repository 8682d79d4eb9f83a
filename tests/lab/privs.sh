#!/usr/bin/env bash
# Privileges (docs/reliability.md "Privileges"): nodes started as root drop
# what they do not need once started.
# - B ([node] user = nobody) runs as nobody with nobody's groups, A (no
#   user) as root; both without capabilities, with no_new_privs, on every
#   thread, the media thread SCHED_FIFO all the same;
# - B, already dropped, takes an API subscription to A's flow (a new
#   socket, new memory, a new file) and records it bit-exact; its
#   state.json follows (the state directory is nobody's);
# - a node in [ptp] mode = spawn keeps ptp4l's four capabilities, only in
#   its permitted set: the ptp4l it starts, and the one it restarts after
#   a kill -9, hold exactly those and run;
# - user = no-such-user and user with mode = spawn stop the node at start.
. "$(dirname "$0")/../lib.sh"

secs=3
lab=d4p$$
d4_lab_hosts $lab 2
d4_witness
# nobody must reach its state directory under $T (its recordings are made
# in it, by nobody).
chmod 755 "$T"
nobody_uid=$(id -u nobody)
nobody_gid=$(id -g nobody)
nobody_groups=$(id -G nobody | tr ' ' '\n' | sort -n | paste -sd ' ')

"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 9
start=$(($(d4_ptp_now) + 15)) # the API subscription below must come before it, on a loaded machine too
cat >"$T/A.ini" <<INI
[node]
name = A
rt_priority = 60
[discovery]
sap = off
mdns = off
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = program
destination = 10.77.0.2:5004
interface = eth0
INI
cat >"$T/B.ini" <<INI
[node]
name = B
user = nobody
rt_priority = 60
[discovery]
sap = off
mdns = off
[source t]
type = tone
[flow back]
source = t
destination = 10.77.0.1:5006
interface = eth0
sdp_file = $T/back.sdp
INI
run=$((start - $(d4_ptp_now) + secs + 3))
d4_spawn "$T/A.log" ip netns exec $lab-h1 "$D4NODE" --config "$T/A.ini" \
	--run-seconds $((run + 1))
a=$!
d4_spawn "$T/B.log" ip netns exec $lab-h2 "$D4NODE" --config "$T/B.ini" \
	--run-seconds $run
b=$!
d4_wait_log "$T/A.log" "privileges: running as" 15
d4_wait_log "$T/B.log" "privileges: running as" 15

# What root here cannot give up: without CAP_SYS_RESOURCE (a container)
# RLIMIT_MEMLOCK stays finite, and a node with locked memory keeps
# CAP_IPC_LOCK (effective) or its next allocation would fail.
keep_of() { # keep_of PID: the capability mask that node should keep
	local lck
	lck=$(awk '/^VmLck:/ {print $2}' "/proc/$1/status")
	if [ "$lck" -gt 0 ] && [ "$(ulimit -Hl)" != unlimited ] &&
		[ $((0x$(awk '/^CapEff:/ {print $2}' /proc/self/status) >> 24 & 1)) = 0 ]; then
		echo $((1 << 14))
	else
		echo 0
	fi
}
# check_node PID UID GID GROUPS PRM EFF: every thread of PID
check_node() {
	local pid=$1 uid=$2 gid=$3 groups=$4 prm=$5 eff=$6 s t n=0
	for t in /proc/$pid/task/*; do
		s=$t/status
		n=$((n + 1))
		[ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "$s")" = "$uid$uid$uid$uid" ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^Uid: "$s"), want $uid"
		[ "$(awk '/^Gid:/ {print $2 $3 $4 $5}' "$s")" = "$gid$gid$gid$gid" ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^Gid: "$s"), want $gid"
		[ -z "$groups" ] ||
			[ "$(awk '/^Groups:/ {$1 = ""; print}' "$s" | tr ' ' '\n' |
				sed '/^$/d' | sort -n | paste -sd ' ')" = "$groups" ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^Groups: "$s"), want $groups"
		[ $((0x$(awk '/^CapPrm:/ {print $2}' "$s"))) = "$prm" ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^CapPrm: "$s"), want $(printf %x "$prm")"
		[ $((0x$(awk '/^CapEff:/ {print $2}' "$s"))) = "$eff" ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^CapEff: "$s"), want $(printf %x "$eff")"
		[ $((0x$(awk '/^CapBnd:/ {print $2}' "$s"))) = "$prm" ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^CapBnd: "$s"), want $(printf %x "$prm")"
		[ $((0x$(awk '/^CapAmb:/ {print $2}' "$s"))) = 0 ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^CapAmb: "$s")"
		[ "$(awk '/^NoNewPrivs:/ {print $2}' "$s")" = 1 ] ||
			fail "$pid/$(cat "$t/comm"): $(grep ^NoNewPrivs: "$s")"
	done
	echo "$n"
}
media_fifo() { # media_fifo PID: the media thread is SCHED_FIFO 60
	local t
	for t in /proc/$1/task/*; do
		[ "$(cat "$t/comm")" = d4-media ] || continue
		chrt -p "${t##*/}" | grep -q "policy: SCHED_FIFO" &&
			chrt -p "${t##*/}" | grep -q "priority: 60" && return 0
		fail "media thread ${t##*/} of $1: $(chrt -p "${t##*/}" | tr '\n' ' ')"
	done
	fail "no d4-media thread in $1"
}
mask_text() { # the log's words for a kept mask of 0 or cap_ipc_lock
	[ "$1" = 0 ] && echo "kept: none;" ||
		echo "kept: cap_ipc_lock (RLIMIT_MEMLOCK cannot be unlimited);"
}

ka=$(keep_of $a)
kb=$(keep_of $b)
na=$(check_node $a 0 0 "" "$ka" "$ka")
nb=$(check_node $b "$nobody_uid" "$nobody_gid" "$nobody_groups" "$kb" "$kb")
media_fifo $a
media_fifo $b
grep -q "privileges: running as uid=0 gid=0, capabilities $(mask_text "$ka")" "$T/A.log" ||
	fail "A's privileges line: $(grep privileges: "$T/A.log")"
grep -q "privileges: running as uid=$nobody_uid gid=$nobody_gid, capabilities $(mask_text "$kb")" "$T/B.log" ||
	fail "B's privileges line: $(grep privileges: "$T/B.log")"
pass "A as root, B as nobody (groups $nobody_groups): $na and $nb threads, CapPrm=CapEff=CapBnd=$(printf %x "$kb"), no ambient, NoNewPrivs 1; media threads SCHED_FIFO 60"

api() { # api HOST-NUMBER METHOD PATH [BODY] [TOKEN]: prints "STATUS BODY"
	local h=$1 m=$2 p=$3 body=${4:-} tok=${5:-}
	local args=(-s -o "$T/resp" -w '%{http_code}' -X "$m")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	local code
	code=$(ip netns exec $lab-h$h curl "${args[@]}" "http://10.77.0.$h:8080/api/v1$p")
	echo "$code $(cat "$T/resp")"
}
sd=$T/state/B
[ "$(stat -c %U "$sd") $(stat -c %U "$sd/token")" = "nobody nobody" ] ||
	fail "B's state directory and token: $(stat -c '%U %a' "$sd" "$sd/token" | tr '\n' ' ')"
[ "$(stat -c %a "$sd") $(stat -c %a "$sd/token")" = "700 600" ] ||
	fail "B's state modes: $(stat -c %a "$sd" "$sd/token" | tr '\n' ' ')"
[ ! -e "$sd/state.json" ] || fail "B has a state.json before any API write"
# B rewrites its flow's SDP file when the grandmaster changes.
[ "$(stat -c %U "$T/back.sdp")" = nobody ] || fail "B's SDP file is not nobody's"
r=$(api 2 POST /subscriptions "{\"name\":\"main\",\"address\":\"10.77.0.2:5004\",\"channels\":2,\"timing\":\"ptp\",\"latency_us\":100000,\"record\":{\"path\":\"main.wav\",\"start\":$start,\"duration\":$secs}}" "$(cat "$sd/token")")
[ "${r%% *}" = 201 ] || fail "subscription through B's API: $r"
[ "$(d4_ptp_now)" -lt "$start" ] || fail "the subscription came after the start"
d4_wait_file "$sd/state.json" 2
python3 - "$sd/state.json" <<'PY' || fail "state.json: $(cat "$sd/state.json")"
import json, sys
st = json.load(open(sys.argv[1]))
assert [s["name"] for s in st["subscriptions"]] == ["main"], st
PY
[ "$(stat -c %U "$sd/state.json")" = nobody ] || fail "state.json is not nobody's"
pass "B (nobody) took an API subscription: 201, state.json written by nobody; its state directory, token and SDP file are nobody's"

d4_wait_pid $b $((run + 10)) || fail "B exited with an error"
d4_wait_pid $a 10 || fail "A exited with an error"
received=$(d4_sub_stat "$T/B.log" main received)
lost=$(d4_sub_stat "$T/B.log" main lost)
late=$(d4_sub_stat "$T/B.log" main late)
[ -n "$received" ] && [ "$received" -ge $((secs * 1000)) ] ||
	fail "B got $received packets, want >= $((secs * 1000))"
[ "$lost" = 0 ] || fail "B: $lost lost, $late late"
d4_check_late B "$late" 100000 1000
[ "$(stat -c %U "$sd/recordings/main.wav")" = nobody ] || fail "the recording is not nobody's"
d4_cmp_but_skipped "B's recording" "$T/in.wav" "$sd/recordings/main.wav" 0 "$late"
! grep -E "error:" "$T/A.log" "$T/B.log" || fail "errors in the logs"
pass "A (root) streamed $secs s to B (nobody): $received packets, 0 lost, 0 late, recording identical"

# [ptp] mode = spawn: the node keeps ptp4l's capabilities, permitted only;
# the real ptp4l it starts after the drop, and restarts, runs with them.
cat >"$T/S.ini" <<INI
[node]
name = S
api = off
[discovery]
sap = off
mdns = off
[ptp]
mode = spawn
clock = follow
ptp4l_config = $D4_SRC/ptp/configs/aes67-follow.cfg
interface = eth0
uds = $T/spawned-ptp4l
INI
d4_spawn "$T/S.log" ip netns exec $lab-h1 "$D4NODE" --config "$T/S.ini" \
	--run-seconds 30
s=$!
d4_wait_log "$T/S.log" "ptp: ptp4l at .* answers" 10
ks=$(keep_of $s)
ptp4l_caps=$(((1 << 10) | (1 << 12) | (1 << 13) | (1 << 25)))
check_node $s 0 0 "" $((ks | ptp4l_caps)) "$ks" >/dev/null
grep -q "capabilities kept: .*cap_net_bind_service,cap_net_admin,cap_net_raw,cap_sys_time (permitted only, for ptp4l)" "$T/S.log" ||
	fail "S's privileges line: $(grep privileges: "$T/S.log")"
check_ptp4l() { # check_ptp4l PID: runs with the node's permitted set
	local s=/proc/$1/status
	[ $((0x$(awk '/^CapEff:/ {print $2}' "$s"))) = $((ks | ptp4l_caps)) ] &&
		[ "$(awk '/^NoNewPrivs:/ {print $2}' "$s")" = 1 ] ||
		fail "ptp4l $1: $(grep -E '^(CapEff|NoNewPrivs):' "$s" | tr '\n' ' ')"
}
p1=$(sed -n 's/.*ptp4l: started .*(pid \([0-9]*\)).*/\1/p' "$T/S.log" | head -n 1)
check_ptp4l "$p1"
n0=$(wc -l <"$T/S.log")
kill -9 "$p1"
for i in $(seq 1 50); do
	[ "$(grep -c "ptp4l: started" "$T/S.log")" -ge 2 ] && break
	sleep 0.1
done
p2=$(sed -n 's/.*ptp4l: started .*(pid \([0-9]*\)).*/\1/p' "$T/S.log" | tail -n 1)
[ "$p2" != "$p1" ] || fail "ptp4l was not started again"
for i in $(seq 1 50); do
	tail -n +$((n0 + 1)) "$T/S.log" | grep -q "ptp: ptp4l at .* answers" && break
	[ "$i" = 50 ] && fail "the restarted ptp4l does not answer"
	sleep 0.1
done
check_ptp4l "$p2"
kill -TERM $s
d4_wait_pid $s 10 || fail "S exited with an error"
kill -0 "$p2" 2>/dev/null && fail "ptp4l $p2 still runs after its node"
pass "spawn: the node keeps cap_net_bind_service,cap_net_admin,cap_net_raw,cap_sys_time permitted only; ptp4l $p1 and, after kill -9, $p2 run with them and answer"

# Refusals at start.
sed 's/^user = nobody$/user = no-such-user-d4/' "$T/B.ini" >"$T/C.ini"
rc=0
ip netns exec $lab-h2 "$D4NODE" --config "$T/C.ini" --run-seconds 5 \
	>"$T/C.log" 2>&1 || rc=$?
[ $rc != 0 ] || fail "a node with user = no-such-user-d4 ran"
grep -q "error: privileges: \[node\] user = 'no-such-user-d4': no such user" "$T/C.log" ||
	fail "no clear message for an unknown user: $(grep error "$T/C.log")"
sed 's/^\[node\]$/[node]\nuser = nobody/' "$T/S.ini" >"$T/D.ini"
rc=0
"$D4NODE" --config "$T/D.ini" --run-seconds 5 >"$T/D.log" 2>&1 || rc=$?
[ $rc != 0 ] && grep -q "user = nobody cannot go with \[ptp\] mode = spawn" "$T/D.log" ||
	fail "user with mode = spawn: exit $rc, $(cat "$T/D.log")"
pass "user = no-such-user-d4: exit $rc, '$(grep -o 'privileges: .*no such user' "$T/C.log")'; user with mode = spawn refused"
