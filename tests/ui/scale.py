"""The browser half of tests/ui/scale.sh: the page with 8 nodes x 64
channels (the whole 512 x 512 matrix expanded) loads and draws every
corner; the meters view updates at least 10 times a second without
falling behind. Figures are printed and written to ui-artifacts/scale.txt:
page load (Navigation Timing), and beside it a peer, the same server's
state as a bare JSON document loaded by the same browser. The 300 ms
target of issue 19 is judged by bench/ui.sh (a timed target is not a
test here: the machine is shared); with D4_UI_ROWS set this script
appends its rows for it."""
import json
import os
import statistics
import time
import urllib.request

from d4ui import ARTIFACTS, browser, cell, fail, ok, quit, shot, view, wait

UI = "http://127.0.0.1:8090"
NODES = ["127.0.0.1:808%d" % i for i in range(1, 9)]
out = []


def note(line):
    out.append(line)
    print(line, flush=True)


def state():
    return json.load(urllib.request.urlopen(UI + "/api/state", timeout=5))


wait("d4ctl ui to poll 8 nodes of 64 + 64 channels", lambda: sum(
    1 for n in state()["nodes"] if n["reachable"] and
    len(n.get("channels", {}).get("tx", [])) == 64 and
    len(n["channels"]["rx"]) == 64) == 8, timeout=60)
note("d4ctl ui polls 8 nodes of 64 + 64 channels")
# every node's subscription to its neighbour in the state (receiving, or
# late on a loaded machine: the state is the full one either way)
wait("8 routes", lambda: len(state()["routes"]) == 8, timeout=60)
size = len(urllib.request.urlopen(UI + "/", timeout=60).read())
note("the network's 8 routes are in the state; starting the browser")

d = browser()
note("the browser is up")
try:
    d.get("about:blank")
    loads, peer = [], []
    for k in range(int(os.environ.get("D4_UI_LOADS", "2"))):
        for url, into in ((UI + "/", loads), (UI + "/api/state", peer)):
            d.get("about:blank")
            d.get(url)
            wait("the load event", lambda: d.execute_script(
                "const e = performance.getEntriesByType('navigation')[0];"
                "return e && e.loadEventEnd > 0"), timeout=120)
            into.append(d.execute_script(
                "const e = performance.getEntriesByType('navigation')[0];"
                "return [e.responseEnd, e.domInteractive, e.loadEventEnd,"
                " window.d4perf ? d4perf.firstMatrixMs : 0]"))
    d.get(UI + "/")
    wait("the matrix", lambda: d.execute_script(
        "return window.d4perf && d4perf.firstMatrixMs !== null"),
        timeout=120)
    diag = d.execute_script(
        "const r = {}; for (const e of performance.getEntriesByType('mark'))"
        " r[e.name] = e.startTime; for (const e of performance"
        ".getEntriesByType('resource')) r[e.name] = [e.startTime, "
        "e.responseEnd]; let t = performance.now(); derive(); "
        "r.derive = performance.now() - t; t = performance.now(); "
        "buildAxes(); r.axes = performance.now() - t; t = performance.now();"
        " renderMatrix(); r.render = performance.now() - t; return r")
    note("where the time goes (last load): %s" % json.dumps(diag))
    cols = d.execute_script("return document.querySelector('.mx-body')"
                            ".getAttribute('aria-colcount')")
    rows = d.execute_script("return document.querySelector('.mx-body')"
                            ".getAttribute('aria-rowcount')")
    if (cols, rows) != ("512", "512"):
        fail("the matrix is %s x %s, not 512 x 512" % (cols, rows))
    shot(d, "matrix-8x64")
    note("page: %d bytes with the state of 8 nodes x 64 + 64 channels; "
         "matrix %s x %s cells, all expanded" % (size, cols, rows))
    for k, (resp, inter, load, mx) in enumerate(loads):
        note("load %d%s: response %.0f ms, DOM interactive %.0f ms, matrix "
             "drawn %.0f ms, load event end %.0f ms" %
             (k + 1, " (cold browser)" if k == 0 else "", resp, inter, mx,
              load))
    warm = [l[2] for l in loads[1:]] or [loads[0][2]]
    peer_warm = [l[2] for l in peer[1:]] or [peer[0][2]]
    med, best = statistics.median(warm), min(warm)
    pmed = statistics.median(peer_warm)
    note("page load (load event end, loads 2-%d): median %.0f ms, best "
         "%.0f ms; peer (the state as bare JSON): median %.0f ms; "
         "target < 300 ms" % (len(loads), med, best, pmed))
    # The time is bench/ui.sh's to judge (this machine is shared); what
    # keeps it small on any machine is checked here: the matrix is drawn
    # with a few elements, not one per cell.
    n_dom = d.execute_script(
        "return document.querySelectorAll('.mx-canvas *').length")
    note("matrix elements after the load: %d (of %d cells)" %
         (n_dom, 512 * 512))
    if n_dom > 2000:
        fail("the matrix made %d elements" % n_dom)
    ok("page load: median %.0f ms (peer %.0f ms) with 8 nodes x 64 "
       "channels; %d matrix elements" % (med, pmed, n_dom))

    # the far corner draws too: only the cells in view exist
    d.execute_script("const b = document.querySelector('.mx-body');"
                     "b.scrollTop = b.scrollHeight; "
                     "b.scrollLeft = b.scrollWidth;")
    wait("the far corner of the matrix",
         lambda: cell(d, "n:%s/64" % NODES[7], NODES[7] + "/64"))
    n_cells = d.execute_script(
        "return document.querySelectorAll('.cell:not([hidden])').length")
    note("cells in the DOM at a time: %d (of %d)" % (n_cells, 512 * 512))

    view(d, "meters")
    wait("meters flowing", lambda: d.execute_script(
        "return d4perf.meterMsgs") > 20, timeout=60)
    time.sleep(2)
    p0 = d.execute_script("return JSON.stringify(d4perf)")
    t0 = time.monotonic()
    time.sleep(10)
    p1 = d.execute_script("return JSON.stringify(d4perf)")
    dt = time.monotonic() - t0
    a, b = json.loads(p0), json.loads(p1)
    msgs = (b["meterMsgs"] - a["meterMsgs"]) / dt
    frames = (b["meterFrames"] - a["meterFrames"]) / dt
    key = NODES[0] + " f/main"
    windows = (b["windows"][key]["n"] - a["windows"][key]["n"]) / dt
    new = b["meterMsgs"] - a["meterMsgs"]
    lags = b["lags"][-new:] if new else []
    first = statistics.mean(lags[: len(lags) // 5])
    last = statistics.mean(lags[-len(lags) // 5:])
    p95 = sorted(lags)[int(len(lags) * 0.95)]
    shot(d, "meters-8x64")
    bars = d.execute_script(
        "return document.querySelectorAll('.meter:not(.none)').length")
    note("meters: %d live bars; %.1f messages/s, %.1f frames drawn/s, "
         "%.1f new windows/s of N1's flow; behind the server: median %.0f "
         "ms, p95 %.0f ms, max %.0f ms; first fifth %.0f ms, last fifth "
         "%.0f ms" % (bars, msgs, frames, windows,
                      statistics.median(lags), p95, max(lags), first, last))
    if msgs < 10 or windows < 10:
        fail("meters update fewer than 10 times a second")
    # frames follow the browser's own rate, lower on a loaded machine;
    # a page that redraws everything per message falls to 1 or 2
    if frames < 5:
        fail("the meters view draws %.1f frames a second" % frames)
    if last > first + 500:
        fail("the page falls behind the meters: %.0f ms behind at first, "
             "%.0f ms at last" % (first, last))
    if bars < 128:
        fail("%d live meter bars, want 8 x (8 TX + 8 RX)" % bars)
    ok("meters: %.1f updates/s, %.1f frames/s, p95 %.0f ms behind"
       % (msgs, frames, p95))
finally:
    quit(d)
os.makedirs(ARTIFACTS, exist_ok=True)
open(os.path.join(ARTIFACTS, "scale.txt"), "w").write("\n".join(out) + "\n")
if os.environ.get("D4_UI_ROWS"):
    with open(os.environ["D4_UI_ROWS"], "a") as f:
        f.write("page load, median ms\t%.0f\t%.0f\t%.2f\n" %
                (med, pmed, med / pmed))
        f.write("page load, best ms\t%.0f\t%.0f\t%.2f\n" %
                (best, min(peer_warm), best / min(peer_warm)))
        f.write("meter messages/s\t%.1f\t20\t%.2f\n" % (msgs, msgs / 20))
        f.write("node meter windows/s seen\t%.1f\t20\t%.2f\n" %
                (windows, windows / 20))
        f.write("meters behind the server, p95 ms\t%.0f\t-\t-\n" % p95)
