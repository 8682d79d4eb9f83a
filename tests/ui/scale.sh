#!/usr/bin/env bash
# The browser controller at scale: 8 real nodes of 64 TX and 64 RX
# channels each (one private network namespace, APIs on 127.0.0.1:8081-
# 8088), each sending 8 channels by multicast to the next one. scale.py
# measures in the browser the page's load (Navigation Timing) with the
# whole 512 x 512 matrix expanded, and the meters view's updates a second
# and how far behind the server it runs. Figures: ui-artifacts/scale.txt.
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"

PY=${D4_PYTHON:-/usr/bin/python3}
: >"$T/config"
for i in 1 2 3 4 5 6 7 8; do
	j=$((i % 8 + 1))
	cat >"$T/N$i.ini" <<INI
[node]
name = N$i
api = 127.0.0.1:808$i
rx_channels = 64
[discovery]
mdns = off
[source tone]
type = tone
channels = 64
frequency = $((200 * i))
level = -$((6 + i))
[flow main]
source = tone
channels = 1-8
destination = 239.69.0.$i:$((5000 + 2 * i))
[subscription in]
address = 239.69.0.$j:$((5000 + 2 * j))
channels = 8
rx_channels = 1-8
latency = 100ms
INI
	d4_spawn "$T/N$i.log" "$D4NODE" --config "$T/N$i.ini"
done
for i in 1 2 3 4 5 6 7 8; do
	d4_wait_log "$T/N$i.log" "api: listening" 20
	printf '[node N%s]\nhost = 127.0.0.1:808%s\ntoken = %s\n' $i $i \
		"$(cat "$T/state/N$i/token")" >>"$T/config"
done
d4_spawn "$T/ui.log" "$D4CTL" --config "$T/config" --browse 0.2 ui
ui=$!
d4_wait_log "$T/ui.log" "d4ctl ui: http://127.0.0.1:8090/" 10
"$PY" "$(dirname "$0")/scale.py" || fail "the browser test failed"

# d4ctl ui stops cleanly on SIGTERM (under ASan: no leak, no error)
kill $ui
rc=0
d4_wait_pid $ui 20 || rc=$?
[ $rc = 0 ] || fail "d4ctl ui exited $rc on SIGTERM: $(tail -n 20 "$T/ui.log")"
! grep -q "Sanitizer" "$T/ui.log" || fail "d4ctl ui: $(grep -A5 Sanitizer "$T/ui.log")"
pass "d4ctl ui stopped cleanly"
