#!/usr/bin/env bash
# The browser controller in a real headless Chromium against real nodes:
# a grandmaster and the controller (d4ctl ui, sharing the page with
# --listen) on h1, node A on h2, node B on h3, each host with a ptp4l and
# an avahi-daemon, and a "tablet" on h4 running the browser. routing.py
# drives the page; this script builds the lab and checks what only the
# nodes and the network can tell:
# - a route made by clicking two matrix cells records the file bit-exact
#   on B (tests/tools/d4wav cmp);
# - no connection ever reaches a node's API from the tablet, only from
#   the controller (nftables counters on A and B), and the browser's own
#   request log (routing.py) shows it asked only d4ctl ui, with no token;
# - writes from elsewhere are refused: another origin, no session, a
#   wrong Host (curl here, a cross-origin page in routing.py).
. "$(dirname "$0")/../lib.sh"

PY=${D4_PYTHON:-/usr/bin/python3}
lab=d4u$$
secs=4
d4_lab_hosts $lab 4
d4_witness
for h in 1 2 3; do d4_avahi $lab-h$h; done
d4_ptp_gm $lab-h1
for h in 2 3; do d4_ptp_follower $lab-h$h; done
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 19

# The file plays once the clicks are done: lock (~15 s), the browser and
# two clicks fit in 45 s; the test fails, saying so, if not.
start=$(($(d4_lab_ptp_now) + 45))
node_ini() { # NAME HOST
	printf '[node]\nname = %s\nrx_channels = 8\n' "$1"
	printf '[discovery]\ninterface = eth0\n'
	d4_ptp_ini "$2"
}
{ node_ini A $lab-h2; cat <<INI; } >"$T/A.ini"
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[source tone]
type = tone
channels = 4
level = -20
INI
{ node_ini B $lab-h3; cat <<INI; } >"$T/B.ini"
[sink take]
rx = 1-2
path = $T/B.wav
start = $start
duration = $secs
INI
d4_node $lab-h2 A "$T/A.ini"
a=$!
d4_node $lab-h3 B "$T/B.ini"
for n in A B; do d4_wait_log "$T/$n.log" "api: listening" 10; done

# Who reaches the nodes' APIs: the controller (10.77.0.1) and nobody else.
for h in 2 3; do
	ip netns exec $lab-h$h nft -f - <<'NFT'
table inet uitest {
	chain in {
		type filter hook input priority 0;
		tcp dport 8080 ip saddr 10.77.0.1 counter
		tcp dport 8080 ip saddr != 10.77.0.1 counter
	}
}
NFT
done

mkdir -p "$T/d4ctl"
for n in A B; do
	printf '[node %s]\ntoken = %s\n' $n "$(cat "$T/state/$n/token")"
done >"$T/d4ctl/config"
cat >"$T/d4ctl.sh" <<SH
#!/bin/sh
exec env "$(d4_host_bus $lab-h1)" XDG_CONFIG_HOME="$T" \
	ip netns exec $lab-h1 "$D4CTL" "\$@"
SH
chmod +x "$T/d4ctl.sh"
d4_spawn "$T/ui.log" "$T/d4ctl.sh" ui --listen 10.77.0.1:8090 --latency 100
ui=$!
d4_wait_log "$T/ui.log" "d4ctl ui: http://10.77.0.1:8090/" 10

# d4ctl ui finds A and B (mDNS) and polls them.
for i in $(seq 1 60); do
	ip netns exec $lab-h4 curl -s http://10.77.0.1:8090/api/state >"$T/state.json" &&
		"$PY" - "$T/state.json" <<'PY' && break
import json, sys
s = json.load(open(sys.argv[1]))
names = {n["name"] for n in s["nodes"] if n["reachable"] and "channels" in n}
sys.exit(0 if names >= {"A", "B"} else 1)
PY
	[ $i = 60 ] && fail "d4ctl ui did not find A and B: $(cat "$T/state.json")"
	sleep 0.5
done

# Writes that do not come from the page, by curl from the tablet.
post() { # EXPECTED-STATUS CURL-ARGS...
	local want=$1 got
	shift
	got=$(ip netns exec $lab-h4 curl -s -o "$T/post.out" -w '%{http_code}' \
		-X POST -H 'Content-Type: application/json' \
		-d '{"rx_node": "10.77.0.3:8080", "rx_channels": [1]}' "$@")
	[ "$got" = "$want" ] || fail "POST $*: HTTP $got, want $want: $(cat "$T/post.out")"
}
session=$(ip netns exec $lab-h4 curl -s http://10.77.0.1:8090/ |
	sed -n 's/.*name="d4-session" content="\([0-9a-f]*\)".*/\1/p')
[ ${#session} = 32 ] || fail "no session secret in the page"
url=http://10.77.0.1:8090/api/unroute
post 403 -H "X-D4-Session: $session" "$url"
post 403 -H "Origin: http://evil.example" -H "X-D4-Session: $session" "$url"
post 403 -H "Origin: http://10.77.0.1:8090" -H "X-D4-Session: 0123" "$url"
post 403 -H "Origin: http://10.77.0.1:8090" -H "X-D4-Session: $session" \
	-H "Sec-Fetch-Site: cross-site" "$url"
post 421 -H "Host: evil.example:8090" -H "Origin: http://evil.example:8090" \
	-H "X-D4-Session: $session" "$url"
r=$(ip netns exec $lab-h4 curl -s -o /dev/null -w '%{http_code}' -X OPTIONS \
	-H "Origin: http://evil.example" "$url")
[ "$r" = 405 ] || fail "OPTIONS (a CORS pre-flight): HTTP $r, want 405"
# The page's own way in works (nothing is routed yet: no change).
post 200 -H "Origin: http://10.77.0.1:8090" -H "X-D4-Session: $session" "$url"
pass "writes need the page's origin, its session and the server's Host"

# A cross-origin page for the browser to try (served from the tablet).
mkdir -p "$T/evil"
cat >"$T/evil/index.html" <<'HTML'
<!doctype html><title>elsewhere</title>
<form id="f" method="POST" action="http://10.77.0.1:8090/api/unroute"
      enctype="text/plain"><input name='{"rx_node":"10.77.0.3:8080","rx_channels":[2],"x":"' value='"}'></form>
<script>
fetch("http://10.77.0.1:8090/api/unroute", {method: "POST", mode: "no-cors",
	headers: {"Content-Type": "text/plain"},
	body: JSON.stringify({rx_node: "10.77.0.3:8080", rx_channels: [2]})})
	.finally(() => document.getElementById("f").submit());
</script>
HTML
d4_spawn "$T/evil.log" ip netns exec $lab-h4 "$PY" -m http.server 8099 \
	--bind 10.77.0.4 --directory "$T/evil"

D4CTL_RUN="$T/d4ctl.sh" D4_UI_START=$start D4_UI_SECS=$secs \
	D4_UI_TOKENS="$(cat "$T/state/A/token") $(cat "$T/state/B/token")" \
	D4_UI_LOG="$T/ui.log" D4_UI_WORK="$T" \
	ip netns exec $lab-h4 "$PY" "$(dirname "$0")/routing.py" ||
	fail "the browser test failed"

# d4ctl ui stops cleanly on SIGTERM (under ASan: no leak, no error)
kill $ui
rc=0
d4_wait_pid $ui 20 || rc=$?
[ $rc = 0 ] || fail "d4ctl ui exited $rc on SIGTERM: $(tail -n 20 "$T/ui.log")"
! grep -q "Sanitizer" "$T/ui.log" || fail "d4ctl ui: $(grep -A5 Sanitizer "$T/ui.log")"
pass "d4ctl ui stopped cleanly"


grep -q "refused POST /api/unroute from 10.77.0.4: the request's Origin is not this page's" "$T/ui.log" ||
	fail "d4ctl ui did not refuse the cross-origin page's POST: $(cat "$T/ui.log")"
for h in 2 3; do
	ip netns exec $lab-h$h nft list table inet uitest >"$T/nft$h.txt"
	ctl=$(sed -n 's/.*saddr 10.77.0.1 counter packets \([0-9]*\).*/\1/p' "$T/nft$h.txt")
	other=$(sed -n 's/.*saddr != 10.77.0.1 counter packets \([0-9]*\).*/\1/p' "$T/nft$h.txt")
	[ "${ctl:-0}" -gt 0 ] || fail "h$h: no packet from the controller: $(cat "$T/nft$h.txt")"
	[ "$other" = 0 ] || fail "h$h: $other packets to the API from elsewhere than the controller"
done
pass "the nodes' APIs were reached only from the controller (the browser never reached a node)"

# A's skipped packets (its media thread held past its catch-up) and B's
# late ones only where a machine stall (the d4stall witness) explains
# them; the recording is then judged around them (tests/lib.sh). After
# the count above: this asks B itself.
late=$(d4_api $lab-h3 B GET /stats | python3 -c 'import json, sys
print(sum(s["late"] for s in json.load(sys.stdin)["subscriptions"].values()))')
kill $a
d4_wait_pid $a 10 || true
skipped=$(grep "final: flow uc[12] " "$T/A.log" | tr ' ' '\n' |
	sed -n 's/^skipped=//p' | awk '{ s += $1 } END { print s + 0 }')
d4_check_skipped "A's flows uc1, uc2" "$skipped" 1000
d4_check_late "B" "$late" 100000 1000
d4_cmp_stalled "B's RX 1-2 (routed by two clicks)" "$T/in.wav" "$T/B.wav" \
	"$skipped" "$late"
pass "the route made by two clicks recorded the file on B (as judged above)"

