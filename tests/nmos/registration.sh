#!/usr/bin/env bash
# IS-04 registration behaviour (docs/nmos.md "Registration"): two test
# registries advertised by DNS-SD, R1 (h1, pri 10) and R2 (h2, pri 20),
# with two decoys R1 must win over (pri 0 but v1.2 only; pri 5 but
# api_auth=true), and node C (h3) configured with no registry URL: it
# finds them through its host's avahi-daemon.
# - C registers with R1, the best usable priority;
# - R1 dies: C fails over to R2 (heartbeat first: 404, then registers);
# - R2 restarts empty between heartbeats: C's next heartbeat gets 404
#   and C registers everything again;
# - heartbeats every 5 s (±10 %) all along;
# - both registries die: C backs off and advertises itself peer to peer
#   (_nmos-node._tcp with api_proto, api_ver, api_auth and the ver_
#   records) once no registry has taken it for a heartbeat interval; a
#   new flow bumps ver_flw and ver_snd;
# - R2 comes back: C registers there and withdraws _nmos-node._tcp;
# - d4ctl --registry auto finds R2's Query API (_nmos-query._tcp) and
#   lists C.
. "$(dirname "$0")/../lib.sh"

lab=d4g$$
d4_lab_hosts $lab 3
for h in 1 2 3; do d4_avahi $lab-h$h; done
publish() { # HOST NAME PRI [TXT...]
	local host=$1 name=$2 pri=$3
	shift 3
	d4_spawn "$T/pub-$name.log" env "$(d4_host_bus "$host")" \
		ip netns exec "$host" avahi-publish -s "$name" \
		_nmos-register._tcp 8235 api_proto=http api_auth=false \
		"pri=$pri" "$@"
}
d4_nmos_registry $lab-h1 8235
r1=$!
d4_nmos_registry $lab-h2 8235
r2=$!
publish $lab-h1 reg1 10 api_ver=v1.2,v1.3
publish $lab-h2 reg2 20 api_ver=v1.3
# R2's Query API too (the test registry serves both on one port), for
# d4ctl --registry auto
d4_spawn "$T/pub-query2.log" env "$(d4_host_bus $lab-h2)" \
	ip netns exec $lab-h2 avahi-publish -s query2 _nmos-query._tcp 8235 \
	api_proto=http api_auth=false pri=20 api_ver=v1.3
publish $lab-h2 decoy-old 0 api_ver=v1.0,v1.2
d4_spawn "$T/pub-decoy-auth.log" env "$(d4_host_bus $lab-h2)" \
	ip netns exec $lab-h2 avahi-publish -s decoy-auth \
	_nmos-register._tcp 8236 api_proto=http api_auth=true pri=5 \
	api_ver=v1.3

# C's avahi-daemon resolves them before C asks (on a loaded machine
# their answers can come after C's first try; C would use what it has).
for i in $(seq 1 80); do
	env "$(d4_host_bus $lab-h3)" ip netns exec $lab-h3 \
		avahi-browse -rtp _nmos-register._tcp 2>/dev/null |
		grep "^=" >"$T/regs.txt" || true
	grep -q ";reg1;" "$T/regs.txt" && grep -q ";reg2;" "$T/regs.txt" && break
	[ $i = 80 ] && fail "h3 does not see reg1 and reg2: $(cat "$T/regs.txt")"
	sleep 0.5
done
cat >"$T/C.ini" <<INI
[node]
name = C
[nmos]
enable = on
[source tone]
type = tone
[flow main]
source = tone
destination = 239.69.6.1
INI
d4_node $lab-h3 C "$T/C.ini"
c=$!
printf '{"T": "%s", "r1log": "%s", "r2log": "%s"}\n' "$T" \
	"$T/reg-$lab-h1-8235.log" "$T/reg-$lab-h2-8235.log" >"$T/env.json"
drive() { ip netns exec $lab-h1 "$D4_PY" "$(dirname "$0")/registration.py" "$@" "$T/env.json"; }

drive r1 || fail "registering with R1"
kill -9 $r1
drive r2 || fail "failing over to R2"
env "$(d4_host_bus $lab-h1)" ip netns exec $lab-h1 "$D4CTL" --browse 5 \
	--registry auto list --json >"$T/auto.json" ||
	fail "d4ctl --registry auto list"
grep -q '"name": "C"' "$T/auto.json" && grep -q '"address": "10.77.0.3:8080"' "$T/auto.json" ||
	fail "d4ctl --registry auto: $(cat "$T/auto.json")"
pass "d4ctl --registry auto found R2's Query API by DNS-SD and lists C"
# R2 restarts between two heartbeats: wait for one, then restart it.
drive beat2 || fail "a heartbeat to R2"
kill -9 $r2
d4_nmos_registry $lab-h2 8235
r2=$!
drive r2-again || fail "registering again with R2"
kill -9 $r2
# No registry: C advertises itself peer to peer, with the ver_ records.
browse() {
	env "$(d4_host_bus $lab-h1)" ip netns exec $lab-h1 \
		avahi-browse -rtp _nmos-node._tcp 2>/dev/null | grep "^=" |
		awk -F';' '$4 ~ /^C( #[0-9]+)?$/' || true
}
for i in $(seq 1 80); do
	browse >"$T/p2p1.txt"
	[ -s "$T/p2p1.txt" ] && break
	[ $i = 80 ] && fail "C did not advertise _nmos-node._tcp without a registry"
	sleep 0.5
done
for k in api_proto=http api_ver=v1.3 api_auth=false ver_slf= ver_src= \
	ver_flw= ver_dvc= ver_snd= ver_rcv=; do
	grep -q "\"$k" "$T/p2p1.txt" || fail "C's _nmos-node._tcp lacks $k: $(cat "$T/p2p1.txt")"
done
grep -q ";8080;" "$T/p2p1.txt" || fail "C's _nmos-node._tcp is not on its API port: $(cat "$T/p2p1.txt")"
ver() { sed -n "s/.*\"$1=\([0-9]*\)\".*/\1/p" "$2" | head -n 1; }
d4_api $lab-h3 C POST /flows \
	'{"name": "second", "source": "tone", "destination": "239.69.6.2"}' \
	>/dev/null || fail "a flow on C"
for i in $(seq 1 40); do
	browse >"$T/p2p2.txt"
	[ "$(ver ver_snd "$T/p2p2.txt")" = $(($(ver ver_snd "$T/p2p1.txt") + 1)) ] &&
		[ "$(ver ver_flw "$T/p2p2.txt")" = $(($(ver ver_flw "$T/p2p1.txt") + 1)) ] && break
	[ $i = 40 ] && fail "ver_snd/ver_flw did not go up by one: $(cat "$T/p2p1.txt" "$T/p2p2.txt")"
	sleep 0.5
done
pass "no registry: C advertised _nmos-node._tcp on its API port with api_proto, api_ver, api_auth and ver_*; a new flow took ver_snd $(ver ver_snd "$T/p2p1.txt") -> $(ver ver_snd "$T/p2p2.txt")"
d4_nmos_registry $lab-h2 8235
r2=$!
drive back || fail "registering when R2 came back"
for i in $(seq 1 40); do
	browse >"$T/p2p3.txt"
	[ -s "$T/p2p3.txt" ] || break
	[ $i = 40 ] && fail "C still advertises _nmos-node._tcp while registered"
	sleep 0.5
done
pass "registered again, C withdrew _nmos-node._tcp"
drive heartbeats || fail "heartbeat intervals"
kill -INT $c
d4_wait_pid $c 15
