#!/usr/bin/env bash
# d4ctl ui under slow clients (a reviewer locked every browser out with
# 128 connections trickling a header line every 5 s from two addresses).
# d4ctl ui listens on 127.0.0.1 in a private network namespace (no nodes:
# the page is served whatever it finds). Ten addresses open 16
# connections each (160: past the 128 libmicrohttpd takes) and trickle a
# header line every second, for 12 s. Asserted:
# - a browser's request from another address is answered, in under 3 s,
#   every second of the attack (the newcomer closes the connection that
#   waited longest; a request not read whole in 5 s is cut);
# - every trickling connection was closed by the server, none lasted
#   past its 5 s (+ the 1 s reaper, + 2 s of margin for a loaded machine);
# - an event stream (GET /events, its request read) stays open through it;
# - libmicrohttpd's lines are rate-limited: at most 5 in 10 s (+ 1 for
#   the held-back count).
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
PY=${D4_PYTHON:-/usr/bin/python3}

d4_spawn "$T/ui.log" "$D4CTL" --config /dev/null --browse 0.2 ui \
	--listen 127.0.0.1:8099
ui=$!
d4_wait_log "$T/ui.log" "d4ctl ui: http://127.0.0.1:8099/" 20

"$PY" - <<'PY' || fail "slow clients locked the page out (above)"
import socket, sys, threading, time
URL = ("127.0.0.1", 8099)
ATTACK_S = 12

def conn(src):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(URL)
    return s

# an event stream, opened first: its request is read, it must live on
ev = conn("127.0.0.2")
ev.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1:8099\r\n"
           b"Accept: text/event-stream\r\n\r\n")
ev.settimeout(2)
first = ev.recv(4096)
if b" 200 " not in first.split(b"\r\n", 1)[0] + b" ":
    print("FAIL: GET /events answered %r" % first[:80]); sys.exit(1)

slow, opened, closed_at = [], {}, {}
lock = threading.Lock()
def attacker(src):
    for i in range(16):
        try:
            s = conn(src)
        except OSError:
            continue          # refused at the limit: fine
        s.sendall(b"GET / HTTP/1.1\r\n")
        with lock:
            slow.append(s); opened[s] = time.monotonic()
threads = [threading.Thread(target=attacker, args=("127.0.0.%d" % (10 + a),))
           for a in range(10)]
for t in threads: t.start()
for t in threads: t.join()
print("attack: %d trickling connections open" % len(slow))

worst = 0.0
t0 = time.monotonic()
while time.monotonic() - t0 < ATTACK_S:
    # a header line each second on every connection still open
    for s in list(slow):
        if s in closed_at: continue
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            closed_at[s] = time.monotonic()
    for s in list(slow):
        if s in closed_at: continue
        s.setblocking(False)
        try:
            if s.recv(4096) == b"":
                closed_at[s] = time.monotonic()
        except BlockingIOError:
            pass
        except OSError:
            closed_at[s] = time.monotonic()
        s.setblocking(True)
    # a browser from elsewhere
    a = time.monotonic()
    try:
        b = conn("127.0.0.3")
        b.settimeout(5)
        b.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8099\r\n"
                  b"Connection: close\r\n\r\n")
        got = b.recv(100)
        b.close()
    except OSError as e:
        print("FAIL: a browser's GET / failed during the attack: %s" % e)
        sys.exit(1)
    took = time.monotonic() - a
    worst = max(worst, took)
    if not got.startswith(b"HTTP/1.1 200"):
        print("FAIL: a browser's GET / answered %r" % got[:60]); sys.exit(1)
    if took > 3.0:
        print("FAIL: a browser's GET / took %.1f s during the attack" % took)
        sys.exit(1)
    time.sleep(1)
open_still = [s for s in slow if s not in closed_at]
if open_still:
    print("FAIL: %d trickling connections still open after %d s" %
          (len(open_still), ATTACK_S)); sys.exit(1)
lasted = max(closed_at[s] - opened[s] for s in slow)
if lasted > 5 + 1 + 2:
    print("FAIL: a trickling connection lasted %.1f s" % lasted); sys.exit(1)
# the event stream is still there: a keep-alive comment or an event comes
ev.settimeout(20)
try:
    more = ev.recv(4096)
except OSError as e:
    print("FAIL: the event stream died: %s" % e); sys.exit(1)
if not more:
    print("FAIL: the server closed the event stream"); sys.exit(1)
print("ok: %d trickling connections from 10 addresses: each closed within "
      "%.1f s; a browser's GET / answered every second, worst %.2f s; the "
      "event stream lived on" % (len(slow), lasted, worst))
PY
lines=$(grep -c "libmicrohttpd" "$T/ui.log" || true)
[ "$lines" -le 12 ] || fail "$lines libmicrohttpd lines in d4ctl ui's log (at most 5 in 10 s)"
kill -TERM $ui
d4_wait_pid $ui 10 || fail "d4ctl ui did not stop cleanly"
pass "slow clients: the page answered throughout; $lines libmicrohttpd lines"
