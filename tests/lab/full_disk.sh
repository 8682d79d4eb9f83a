#!/usr/bin/env bash
# Full disks (issue 16): node B's state directory and recordings directory
# are small tmpfs mounts of their own (a mount namespace kept by a holder
# process, so they outlive a node's restart).
# - Recordings: B records A's 8-channel stream through the API until the
#   disk is full: the recording stops, "failed" with the error in the API
#   and one log line; B's subscription goes on receiving and B's own flow
#   to A goes on: 0 skipped, A hears 0 lost, 0 late.
# - State: with the state disk full, a write is refused (507) and changes
#   nothing, in memory or on disk; with room again it is saved (201), and
#   after SIGKILL and a restart every acknowledged write is there.
. "$(dirname "$0")/../lib.sh"
lab=d4f$$
d4_lab_hosts $lab 2
mkdir -p "$T/stateB" "$T/recB"
d4_spawn "$T/holder.log" unshare -m --propagation private sh -c "
	mount -t tmpfs -o size=256k none '$T/stateB' &&
	mount -t tmpfs -o size=3m none '$T/recB' && echo ready &&
	exec sleep 100000"
holder=$!
d4_wait_log "$T/holder.log" ready 10
inB() { nsenter -t $holder -m "$@"; }

cat >"$T/A.ini" <<INI
[node]
name = A
[discovery]
sap = off
mdns = off
[source tone]
type = tone
channels = 8
[flow out]
source = tone
destination = 239.69.11.1:5004
interface = eth0
[subscription back]
address = 239.69.11.2:5004
interface = eth0
channels = 2
timing = ptp
# a margin for a machine busy with other work: what is asserted is that
# B's full disk costs its flow nothing, not how tight it can be
latency = 20ms
INI
cat >"$T/B.ini" <<INI
[node]
name = B
state_dir = $T/stateB
recordings_dir = $T/recB
[discovery]
sap = off
mdns = off
[source tone]
type = tone
channels = 2
[flow out]
source = tone
destination = 239.69.11.2:5004
interface = eth0
INI
startB() {
	d4_spawn "$T/$1.log" nsenter -t $holder -m ip netns exec $lab-h2 \
		"$D4NODE" --config "$T/B.ini"
	b=$!
	for i in $(seq 1 100); do
		inB test -s "$T/stateB/token" && break
		sleep 0.1
	done
	for i in $(seq 1 100); do
		apiB GET /node >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "B's API did not answer"
}
apiB() { # METHOD PATH [BODY]: the body on stdout, the status in $T/code
	ip netns exec $lab-h2 curl -s -o "$T/answer" -w '%{http_code}' -X "$1" \
		-H "Authorization: Bearer $(inB cat "$T/stateB/token")" \
		${3:+-H "Content-Type: application/json" --data-binary "$3"} \
		"http://10.77.0.2:8080/api/v1$2" >"$T/code" || true
	cat "$T/answer"
	case $(cat "$T/code") in 2*) return 0 ;; *) return 1 ;; esac
}
js() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

d4_witness
d4_node $lab-h1 A "$T/A.ini"
a=$!
startB B
# B's token is inside its namespace; D4_STATE_DIR is not used by B.
export D4_STATE_DIR=$T/state
mkdir -p "$T/state/A"
d4_wait_file "$T/state/A/token" 10

# --- the recording disk fills up ---
# (latency 100 ms: this VM's hypervisor stops a vCPU for up to 100 ms now
# and then, tests/lib.sh d4_witness; what is asserted is that the full disk
# costs the subscription nothing, not how tight it can be)
apiB POST /subscriptions '{"name":"rec","address":"239.69.11.1:5004","interface":"eth0","channels":8,"timing":"ptp","latency_us":100000,"record":{"path":"take.wav"}}' >/dev/null ||
	fail "recording subscription: $(cat "$T/code") $(cat "$T/answer")"
b0=$(apiB GET /flows/out | js 'd["stats"]["skipped"]')
ca0=$(d4_api $lab-h1 A GET /flows/out | js 'd["stats"]["skipped"]')
a0=$(d4_api $lab-h1 A GET /subscriptions/back | js 'd["stats"]["lost"]')
for i in $(seq 1 200); do
	st=$(apiB GET /subscriptions/rec | js 'd["recordings"][0]["state"]')
	[ "$st" = failed ] && break
	sleep 0.1
done
[ "$st" = failed ] || fail "the recording did not stop on a full disk: $(apiB GET /subscriptions/rec)"
apiB GET /subscriptions/rec | js 'd["recordings"][0]["error"]' | grep -q "No space left" ||
	fail "the recording's error: $(apiB GET /subscriptions/rec)"
d4_wait_log "$T/B.log" "recording $T/recB/take.wav: stopped after [0-9]+ frames: No space left on device; the node runs on" 15
sleep 3 # the node runs on with the disk full
[ "$(grep -c "recording .*take.wav: stopped" "$T/B.log")" = 1 ] || fail "the stop is not said once"
[ "$(apiB GET /subscriptions/rec | js 'd["state"]')" = receiving ] ||
	fail "B's subscription after its recording stopped: $(apiB GET /subscriptions/rec)"
b1=$(apiB GET /flows/out | js 'd["stats"]["skipped"]')
ca1=$(d4_api $lab-h1 A GET /flows/out | js 'd["stats"]["skipped"]')
a1=$(d4_api $lab-h1 A GET /subscriptions/back | js 'd["stats"]["lost"]')
# A, whose disk is fine, is the control: a stall of the whole machine
# (one that makes senders skip is 100 ms) shows in both, unless the
# hypervisor stopped only B's vCPU: what B skipped beyond A must be what
# the witness's stalls of 100 ms or more explain (d4_check_skipped)
d4_check_skipped "B (disk full), beyond A's $((ca1 - ca0))" \
	$(((b1 - b0) > (ca1 - ca0) ? (b1 - b0) - (ca1 - ca0) : 0)) 1000
[ "$a0" = "$a1" ] || fail "A lost $((a1 - a0)) of B's packets while B's disk was full"
frames=$(apiB GET /subscriptions/rec | js 'd["recordings"][0]["frames"]')
pass "recording disk full: the recording stopped after $frames frames (failed, No space left on device, said once); B receives on and its flow lost nothing"

# --- the state disk fills up ---
inB sh -c "cat /dev/zero >'$T/stateB/filler' 2>/dev/null; true"
before=$(inB sha256sum "$T/stateB/state.json" | cut -d' ' -f1)
apiB POST /flows '{"name":"f2","source":"tone","channels":[1,2],"destination":"239.69.11.3:5004","interface":"eth0"}' >/dev/null &&
	fail "a write on a full state disk was acknowledged"
[ "$(cat "$T/code")" = 507 ] || fail "a write on a full disk: $(cat "$T/code") $(cat "$T/answer")"
apiB GET /flows/f2 >/dev/null && fail "the refused flow exists"
[ "$(cat "$T/code")" = 404 ] || fail "GET of the refused flow: $(cat "$T/code")"
[ "$(inB sha256sum "$T/stateB/state.json" | cut -d' ' -f1)" = "$before" ] ||
	fail "state.json changed on a refused write"
apiB PUT /subscriptions/rec '{"latency_us":80000}' >/dev/null && fail "a latency change on a full disk was acknowledged"
[ "$(apiB GET /subscriptions/rec | js 'd["latency_us"]')" = 100000 ] || fail "the refused latency was applied"
pass "state disk full: writes answered 507, nothing changed in memory or in state.json"

inB rm -f "$T/stateB/filler"
apiB POST /flows '{"name":"f2","source":"tone","channels":[1,2],"destination":"239.69.11.3:5004","interface":"eth0"}' >/dev/null ||
	fail "with room again: $(cat "$T/code") $(cat "$T/answer")"
apiB PUT /subscriptions/rec '{"latency_us":80000}' >/dev/null || fail "latency with room again: $(cat "$T/code")"
kill -9 $b
wait $b 2>/dev/null || true
startB B2
apiB GET /flows/f2 >/dev/null || fail "the acknowledged flow is gone after SIGKILL: $(cat "$T/code")"
[ "$(apiB GET /subscriptions/rec | js 'd["latency_us"]')" = 80000 ] ||
	fail "the acknowledged latency is gone after SIGKILL: $(apiB GET /subscriptions/rec)"
pass "with room again: saved (201, 200); after SIGKILL and a restart the flow and the latency are there"
