#!/usr/bin/env bash
# Lab: a sender and a receiver d4node on two hosts (network namespaces on a
# bridge). The sender plays a file from PTP time T; the receiver records
# from the same T. Dante's promise is that the recording is then the file
# itself, sample for sample at the same index: no alignment, no loss, no
# late packet.
# usage: two_hosts.sh [SECONDS] [CHANNELS] [multicast|unicast]
# Latency 100 ms: the lab is a virtual machine whose hypervisor stops a
# vCPU for tens of ms now and then (tests/tools/d4stall.c sees it, idle
# or loaded), and such a stall must not make this functional test flaky;
# the smallest safe latency is bench/latency.sh's question.
. "$(dirname "$0")/../lib.sh"

secs=${1:-10}
ch=${2:-8}
mode=${3:-multicast}
dest=239.69.1.1:5004
[ "$mode" = unicast ] && dest=10.77.0.2:5004
lab=d4l$$

d4_lab_hosts $lab 2
d4_witness
"$D4WAV" gen "$T/in.wav" --channels "$ch" --seconds "$secs" --seed 3
start=$(($(d4_ptp_now) + 5))

cat >"$T/tx.ini" <<INI
[node]
name = stagebox
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = program
destination = $dest
interface = eth0
dscp = 46
sdp_file = $T/main.sdp
INI

cat >"$T/rx.ini" <<INI
[node]
name = recorder
[subscription main]
sdp = $T/main.sdp
interface = eth0
timing = ptp
latency = 100ms
[sink take1]
subscription = main
path = $T/take1.wav
start = $start
duration = $secs
INI

run=$((secs + 6))
d4_spawn "$T/tx.log" ip netns exec $lab-h1 "$D4NODE" --config "$T/tx.ini" \
	--run-seconds $((run + 1))
tx=$!
d4_wait_file "$T/main.sdp" 5
grep -q "^o=- [0-9]* [0-9]* IN IP4 10.77.0.1" "$T/main.sdp" ||
	fail "SDP origin is not the sender's address: $(grep ^o= "$T/main.sdp")"
d4_spawn "$T/rx.log" ip netns exec $lab-h2 "$D4NODE" --config "$T/rx.ini" \
	--run-seconds $run
rx=$!
d4_wait_log "$T/rx.log" "running:" 20
[ "$(d4_ptp_now)" -lt "$start" ] || {
	echo "SKIP: the receiver was running only after the file's start (a machine this slow): the recording cannot be judged"
	exit 77
}
d4_wait_pid $rx $((run + 10)) || fail "receiver exited with an error"
d4_wait_pid $tx 10 || fail "sender exited with an error"

received=$(d4_sub_stat "$T/rx.log" main received)
lost=$(d4_sub_stat "$T/rx.log" main lost)
late=$(d4_sub_stat "$T/rx.log" main late)
bad=$(d4_sub_stat "$T/rx.log" main bad_size)
# a sender held up past its 100 ms catch-up by the machine skips packets
# (d4_check_skipped: only what the witness's stalls explain), and a
# stall past the latency makes packets late (d4_check_late): both play as
# silence, accounted for
skipped=$(d4_flow_stat "$T/tx.log" main skipped)
d4_check_skipped "the sender" "$skipped" 1000
[ -n "$received" ] && [ "$received" -ge $((secs * 1000 - skipped)) ] ||
	fail "receiver got $received packets, want >= $((secs * 1000 - skipped))"
[ "$lost" = 0 ] || fail "receiver counted $lost lost packets"
d4_check_late "the receiver" "$late" 100000 1000
[ "$bad" = 0 ] || fail "receiver counted $bad bad packets"
frames=$("$D4WAV" info "$T/take1.wav" | sed -n 's/^frames=\([0-9]*\).*/\1/p')
[ "$frames" = $((secs * 48000)) ] ||
	fail "recording has $frames frames, want $((secs * 48000))"
d4_cmp_but_skipped "the recording" "$T/in.wav" "$T/take1.wav" "$skipped" "$late"
grep "final: subscription main" "$T/rx.log" | sed 's/.*final: //'
pass "$mode: $secs s of $ch-channel audio across the lab: identical at the same PTP index (but for what the machine's stalls explain), $received packets, 0 lost, $late late, $skipped skipped"
