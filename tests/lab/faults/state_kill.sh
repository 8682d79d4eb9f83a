#!/usr/bin/env bash
# Crashes during state writes (issue 9): a node on one lab host (API on, no
# PTP, no discovery) is started, gets a burst of API writes (flows made and
# deleted, subscriptions made and deleted, D4 statements: routes added to
# and removed from a flow's receivers, an int counted up) and is killed
# with SIGKILL 0-300 ms into the burst; 100 times (ITERATIONS). Each write
# saves STATE_DIR/state.json (temp file, fsync, rename: node/node_api.c
# save_state) before its answer. After each kill:
# - state.json parses and is a d4 state (version 2), and it is exactly the
#   state after the last answered write, or after the one in flight when
#   the node died (old or new: never truncated, empty or a mix): the same
#   flows and subscriptions, and D4 variables holding the values the
#   answered statements made;
# - no state.json.bad-* appears (nothing was judged corrupt);
# then the node starts again (the next round's start) and
# - logs "state: restored F flow(s), S subscription(s), V D4 variable
#   value(s)" with the counts of that file, never "corrupt", "not
#   restored" or "refused";
# - GET /flows and /subscriptions list exactly the file's API objects, and
#   GET /d4/vars shows the routes (_main_receivers) and the counter (_x)
#   the file's statements make: what state.json holds came back, not a
#   leftover state.json.tmp.
. "$(dirname "$0")/../../lib.sh"

iterations=${ITERATIONS:-100}
lab=d4k$$
d4_lab_hosts $lab 1
cat >"$T/K.ini" <<INI
[node]
name = K
[discovery]
sap = off
mdns = off
[source tone]
type = tone
channels = 2
INI

ip netns exec $lab-h1 python3 - "$D4NODE" "$T" "$iterations" <<'PY'
import http.client, json, os, random, re, signal, subprocess, sys, threading, time

d4node, T, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
state_dir = os.path.join(os.environ["D4_STATE_DIR"], "K")
state_file = os.path.join(state_dir, "state.json")
HOST, PORT = "10.77.0.1", 8080
seed = int(os.environ.get("SEED", os.getpid()))
rng = random.Random(seed)
print("kill times from seed %d (SEED=N repeats them)" % seed)

def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)

def request(method, path, body=None, token=None, timeout=5):
    c = http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    hdr = {}
    if token:
        hdr["Authorization"] = "Bearer " + token
    data = None
    if body is not None:
        data = json.dumps(body)
        hdr["Content-Type"] = "application/json"
    c.request(method, "/api/v1" + path, body=data, headers=hdr)
    r = c.getresponse()
    text = r.read()
    c.close()
    return r.status, (json.loads(text) if text else None)

# ---- the model: what state.json must hold after each write ----
class Model:
    def __init__(self):
        self.flows, self.subs, self.d4 = [], [], []

    def copy(self):
        m = Model()
        m.flows, m.subs, m.d4 = list(self.flows), list(self.subs), list(self.d4)
        return m

    def view(self):
        """What state.json must say of this model: the API's flows and
        subscriptions by name, and the values its statements made."""
        recv, x = expected_vars(self)
        return {"flows": sorted(f["name"] for f in self.flows),
                "subscriptions": sorted(s["name"] for s in self.subs),
                "_main_receivers": recv if self.flows else None,
                "_x": str(x)}

def file_view(st):
    """The same of a state file (version 2: records and values)."""
    v = {o["name"]: o["value"] for o in st["d4"]["vars"]}
    recv = v.get("_main_receivers")
    return {"flows": sorted(f["name"] for f in st["flows"]),
            "subscriptions": sorted(s["name"] for s in st["subscriptions"]),
            "_main_receivers": None if recv is None else
                [e.strip() for e in recv.strip("[]").split(",") if e.strip()],
            "_x": v.get("_x")}

def put(lst, obj):
    for i, o in enumerate(lst):
        if o["name"] == obj["name"]:
            lst[i] = obj
            return
    lst.append(obj)

def drop(lst, name):
    lst[:] = [o for o in lst if o["name"] != name]

seq = [0]  # global op counter: unique names across rounds
def next_op(m):
    """The next write for model m: (method, path, body, status, after)."""
    k = seq[0]
    seq[0] += 1
    step = k % 7
    mine = lambda lst: [o["name"] for o in lst if o["name"] != "main"]
    after = m.copy()
    if step == 0:
        b = {"name": "f%d" % k, "source": "tone", "channels": [1, 2],
             "destination": "10.77.0.1:%d" % (6000 + k % 1000)}
        put(after.flows, b)
        return "POST", "/flows", b, 201, after
    if step == 1:
        b = {"text": "_main_receivers += 10.77.0.1:%d" % (7000 + k % 40)}
        after.d4.append(b["text"])
        return "POST", "/d4/exec", b, 200, after
    if step == 2:
        b = {"name": "s%d" % k, "address": "239.69.9.%d:5004" % (k % 200 + 1),
             "channels": 2, "timing": "arrival", "latency_us": 5000}
        put(after.subs, b)
        return "POST", "/subscriptions", b, 201, after
    if step == 3 and mine(m.flows):
        name = mine(m.flows)[0]
        drop(after.flows, name)
        return "DELETE", "/flows/" + name, None, 204, after
    if step == 4:
        b = {"text": "_x += %d" % (k % 5 + 1)}
        after.d4.append(b["text"])
        return "POST", "/d4/exec", b, 200, after
    if step == 5 and mine(m.subs):
        name = mine(m.subs)[0]
        drop(after.subs, name)
        return "DELETE", "/subscriptions/" + name, None, 204, after
    b = {"text": "_main_receivers -= 10.77.0.1:%d" % (7000 + (k + 20) % 40)}
    after.d4.append(b["text"])
    return "POST", "/d4/exec", b, 200, after

# What the statements of a model make of the shared variables.
def expected_vars(m):
    recv = ["10.77.0.1:6999"]  # flow main's destination starts the list
    x = 0
    for s in m.d4:
        mo = re.fullmatch(r"_main_receivers ([+-])= (\S+)", s)
        if mo and mo.group(1) == "+":
            if mo.group(2) not in recv:
                recv.append(mo.group(2))
        elif mo:
            recv = [r for r in recv if r != mo.group(2)]
        elif s.startswith("_x += "):
            x += int(s[6:])
    return recv, x

# ---- the node ----
log_path = os.path.join(T, "K.log")
def start():
    log = open(log_path, "a")
    log.write("=== start\n")
    log.flush()
    p = subprocess.Popen([d4node, "--config", os.path.join(T, "K.ini")],
                         stdout=log, stderr=subprocess.STDOUT)
    log.close()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:
        if p.poll() is not None:
            fail("d4node exited with %s at start" % p.returncode)
        try:
            if request("GET", "/node", timeout=1)[0] == 200:
                return p, time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.01)
    fail("the API did not answer within 10 s")

def last_start_log():
    return open(log_path).read().rsplit("=== start\n", 1)[1]

def check_restored(m, st, rnd):
    text = last_start_log()
    for bad in ("corrupt", "moved to", "not restored", "refused",
                "cannot write", "cannot rename"):
        if bad in text:
            fail("round %d: the log says '%s':\n%s" % (rnd, bad, text))
    want = "state: restored %d flow(s), %d subscription(s), %d D4 " \
           "variable value(s)" % (len(st["flows"]), len(st["subscriptions"]),
                                  len(st["d4"]["vars"]))
    if m.flows or m.subs or m.d4:
        if want not in text:
            fail("round %d: no '%s' in the log:\n%s" % (rnd, want, text))
    st, flows = request("GET", "/flows")
    names = sorted(f["name"] for f in flows if f.get("origin") == "api")
    if names != sorted(f["name"] for f in m.flows):
        fail("round %d: GET /flows %s, state.json %s"
             % (rnd, names, [f["name"] for f in m.flows]))
    st, subs = request("GET", "/subscriptions")
    names = sorted(s["name"] for s in subs if s.get("origin") == "api")
    if names != sorted(s["name"] for s in m.subs):
        fail("round %d: GET /subscriptions %s, state.json %s"
             % (rnd, names, [s["name"] for s in m.subs]))
    if not m.flows:
        return
    st, vs = request("GET", "/d4/vars")
    v = {o["name"]: o["value"] for o in vs}
    recv, x = expected_vars(m)
    got = [e.strip() for e in v.get("_main_receivers", "").strip("[]").split(",")
           if e.strip()]
    if got != recv or str(x) != str(v.get("_x")):
        fail("round %d: D4 vars _main_receivers=%s _x=%s, state.json's "
             "statements make %s and %d" % (rnd, got, v.get("_x"), recv, x))

def read_state():
    try:
        with open(state_file) as f:
            text = f.read()
    except FileNotFoundError:
        return None, ""
    try:
        st = json.loads(text)
    except ValueError as e:
        fail("state.json does not parse (%s): %d bytes: %r"
             % (e, len(text), text[:200]))
    # version 2 (docs/api.md "State"): every member always
    if (not isinstance(st, dict) or st.get("version") != 2
            or set(st) != {"version", "d4", "flows", "subscriptions",
                           "names", "node_name", "latencies"}
            or not isinstance(st["d4"], dict)
            or set(st["d4"]) != {"vars", "programs"}):
        fail("state.json is not a d4 state: %r" % text[:200])
    return st, text

# Where the node's control thread (the one that saves) is when it is
# killed: /proc/PID/syscall's number, or "running".
SYSCALLS = {"x86_64": {1: "write", 74: "fsync", 82: "rename", 257: "openat",
                       264: "renameat", 316: "renameat2", 7: "poll",
                       232: "epoll_wait", 281: "epoll_pwait", 271: "ppoll",
                       0: "read", 45: "recvfrom", 3: "close",
                       230: "clock_nanosleep", 35: "nanosleep"},
            "aarch64": {64: "write", 82: "fsync", 56: "openat",
                        38: "renameat", 276: "renameat2", 22: "epoll_pwait",
                        73: "ppoll", 63: "read", 207: "recvfrom",
                        57: "close", 115: "clock_nanosleep",
                        101: "nanosleep"}}.get(os.uname().machine, {})
def where(pid):
    try:
        f = open("/proc/%d/syscall" % pid).read().split()
    except OSError:
        return "?"
    if not f or not f[0].isdigit():
        return f[0] if f else "?"
    return SYSCALLS.get(int(f[0]), "syscall %s" % f[0])

# ---- round 0: the flow main and the counter _x, before any kill ----
token = None
p, _ = start()
token = open(os.path.join(state_dir, "token")).read().strip()
model = Model()
for method, path, body, want, after in (
        ("POST", "/flows", {"name": "main", "source": "tone",
                            "channels": [1, 2],
                            "destination": "10.77.0.1:6999"}, 201, None),
        ("POST", "/d4/exec", {"text": "int _x"}, 200, None)):
    st, resp = request(method, path, body, token)
    if st != want:
        fail("set-up %s %s: %d %s" % (method, path, st, resp))
    if path == "/flows":
        model.flows.append(body)
    else:
        model.d4.append(body["text"])

# ---- the rounds ----
starts, kill_ms, acked_total, in_flight_saved, tmp_left = [], [], 0, 0, 0
sizes, killed_in, tmp_differs = [], {}, 0
t_all = time.monotonic()
for rnd in range(1, iterations + 1):
    done = []          # models after each answered write of this burst
    stop = threading.Event()
    errors = []

    def burst(m0):
        m = m0
        while not stop.is_set():
            method, path, body, want, after = next_op(m)
            pending[0] = after
            try:
                st, resp = request(method, path, body, token)
            except OSError:
                return  # the node died under us
            if st != want:
                errors.append("%s %s: %d %s (want %d)"
                              % (method, path, st, resp, want))
                return
            m = after
            done.append(m)
    pending = [None]   # the model after the write in flight

    th = threading.Thread(target=burst, args=(model,))
    th.start()
    delay = rng.uniform(0, 0.3)
    time.sleep(delay)
    w = where(p.pid)
    p.send_signal(signal.SIGKILL)
    p.wait()
    stop.set()
    th.join()
    if errors:
        fail("round %d: %s" % (rnd, errors[0]))
    kill_ms.append(delay * 1000)
    acked = done[-1] if done else model
    acked_total += len(done)
    # The write in flight when the node died (sent, not answered): it
    # may have been saved.
    inflight = pending[0] or acked
    st, text = read_state()
    if st is None:
        fail("round %d: state.json is gone" % rnd)
    sizes.append(len(text))
    if file_view(st) == acked.view():
        model = acked
    elif file_view(st) == inflight.view():
        model = inflight
        in_flight_saved += 1
    else:
        fail("round %d: state.json is neither the state after the last "
             "answered write nor the one after the write in flight:\n%s\n"
             "want\n%s\nor\n%s" % (rnd, json.dumps(file_view(st))[:2000],
                                   json.dumps(acked.view())[:2000],
                                   json.dumps(inflight.view())[:2000]))
    killed_in[w] = killed_in.get(w, 0) + 1
    if os.path.exists(state_file + ".tmp"):
        tmp_left += 1
        if open(state_file + ".tmp").read() != text:
            tmp_differs += 1
    bad = [f for f in os.listdir(state_dir) if ".bad-" in f]
    if bad:
        fail("round %d: %s" % (rnd, bad))
    p, dt = start()
    starts.append(dt)
    check_restored(model, st, rnd)

p.terminate()
p.wait()
total = time.monotonic() - t_all
starts.sort()
print("ok: %d SIGKILLs 0-300 ms into write bursts (%d writes answered, "
      "%d more saved but not answered); state.json parsed and was the "
      "old or the new state every time, never corrupt; a temp file was "
      "left %d times (%d times not the same as state.json) and never "
      "loaded" % (iterations, acked_total, in_flight_saved, tmp_left,
                  tmp_differs))
print("ok: the saving thread was in these system calls when killed: %s"
      % ", ".join("%s %d" % kv for kv in sorted(killed_in.items())))
print("ok: every restart restored exactly state.json (flows, "
      "subscriptions, routes, counter); start to API answering: median "
      "%.0f ms, max %.0f ms; state.json up to %d bytes after %d D4 statements; "
      "%.1f s for %d rounds" % (1000 * starts[len(starts) // 2],
                                1000 * starts[-1], max(sizes),
                                len(model.d4), total, iterations))
PY
