"""The browser half of tests/lab/redundancy_route.sh (issue 21): the page
shows each ST 2022-7 leg's state. With B's two two-legged routes made by
d4ctl, the latency view must read "leg A ok" and "leg B ok" on both rows;
when the shell takes B's network B link down (it writes $D4_UI_DIR/down
first, with the time), both rows must read "leg B down" within 3 s of it
(the page's own clock, as drawn), and the matrix cell's hover must say so
too; when the link is back, "leg B ok" again. Writes $D4_UI_DIR/ready,
/seen-down and /seen-up as it goes: the shell waits on them."""
import os
import json
import time
import urllib.request

from selenium.webdriver.common.by import By

from d4ui import browser, fail, ok, page_errors, quit, shot, view, wait

UI = "http://127.0.0.1:8090"
DIR = os.environ["D4_UI_DIR"]
ROWS = ("1-2@B", "3-4@B")


def mark(name, text=""):
    with open(os.path.join(DIR, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(DIR, name + ".tmp"), os.path.join(DIR, name))


def states(d):
    """{RX: text of its state cell} in the latency view"""
    return d.execute_script("""
        const out = {};
        for (const tr of document.querySelectorAll('#latency tbody tr'))
            out[tr.children[0].textContent] = tr.children[2].textContent;
        return out;""")


def rows_say(d, want):
    s = states(d)
    return all(want in s.get(r, "") for r in ROWS) and s


d = browser()
try:
    d.get(UI + "/")
    view(d, "latency")
    got = wait("both routes with both legs ok in the latency view",
               lambda: rows_say(d, "leg A ok") and rows_say(d, "leg B ok"),
               timeout=60)
    ok("the latency view: %s" % got)
    shot(d, "legs-ok")
    # the state message's routes say the legs as d4ctl routes does
    legs = d.execute_script(
        "return S.routes.filter((r) => r.legs).map((r) => r.legs)")
    if sorted(legs) != ["A ok, B ok", "A ok, B ok"]:
        fail("the state's routes: legs %r, want 'A ok, B ok' twice" % legs)
    # the page notes (its own clock) when both rows first read leg B down
    d.execute_script("""
        window.d4downAt = null;
        const rows = arguments[0];
        const seen = () => {
            const s = {};
            for (const tr of document.querySelectorAll('#latency tbody tr'))
                s[tr.children[0].textContent] = tr.children[2].textContent;
            if (!window.d4downAt &&
                rows.every((r) => (s[r] || '').includes('leg B down')))
                window.d4downAt = Date.now();
        };
        new MutationObserver(seen).observe(
            document.getElementById('latency'),
            {subtree: true, characterData: true, childList: true,
             attributes: true});
        """, list(ROWS))
    mark("ready")
    wait("the shell to take leg B down",
         lambda: os.path.exists(os.path.join(DIR, "down")), timeout=120)
    down_at = float(open(os.path.join(DIR, "down")).read())
    at = wait("both rows to read leg B down",
              lambda: d.execute_script("return window.d4downAt"),
              timeout=30)
    after = at / 1000.0 - down_at
    got = states(d)
    shot(d, "legs-b-down")
    if after > 3.0:
        fail("the latency view read 'leg B down' %.1f s after the link "
             "went down, not within 3 s: %s" % (after, got))
    for r in ROWS:
        if "degraded" not in got[r] or "leg A ok" not in got[r]:
            fail("%s reads %r, want degraded with leg A ok" % (r, got[r]))
    ok("%.1f s after B's network B link went down: %s" % (after, got))
    # the matrix: the routed cell of B's RX 1 says it on hover
    view(d, "routing")
    title = wait("the routed cell of B's RX 1 to say leg B down on hover",
                 lambda: d.execute_script("""
        for (const c of document.querySelectorAll('.cell.routed'))
            if ((c.title || '').includes('leg B down') &&
                c.dataset.rx && c.dataset.rx.endsWith('/1'))
                return c.title;
        return null;"""), timeout=15)
    ok("the matrix cell's hover: %r" % title)
    shot(d, "legs-matrix-b-down")
    view(d, "latency")
    mark("seen-down")
    got = wait("both rows to read leg B ok again",
               lambda: rows_say(d, "leg B ok"), timeout=30)
    for r in ROWS:
        if not got[r].startswith("receiving"):
            fail("%s reads %r after the link came back" % (r, got[r]))
    ok("back up: %s" % got)
    shot(d, "legs-b-back")
    # A quiet network sends no state message (docs/ui.md): two-legged
    # flows' per-leg counters and the streams' order made one every 2 s
    # (a new user's count). Counted on the event stream for 6 s, once
    # both rows read receiving for 2 s; its first state is the current one.
    # A message may still come for a real change: a route's state
    # flickering in a machine stall (late at 20 ms); one that changed
    # nothing a route shows is the fault this looks for, and is named.
    time.sleep(2)
    msgs, kind = [], None
    with urllib.request.urlopen(UI + "/events", timeout=15) as ev:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 6:
            line = ev.readline()
            if line.startswith(b"event: "):
                kind = line[7:].strip()
            elif line.startswith(b"data: ") and kind == b"state":
                msgs.append(json.loads(line[6:]))
    def shown(m):
        return sorted((r.get("rx"), r.get("state"), r.get("legs"))
                      for r in m.get("routes", []))
    def nodes_of(m):
        return {n.get("address"): n for n in m.get("nodes", [])}
    n, real = len(msgs) - 1 if msgs else 0, 0
    for a, b in zip(msgs, msgs[1:]):
        if shown(a) != shown(b):
            real += 1
            continue
        na, nb = nodes_of(a), nodes_of(b)
        diff = sorted("%s.%s" % (addr, k) for addr in nb
                      for k in set(na.get(addr, {})) | set(nb[addr])
                      if na.get(addr, {}).get(k) != nb[addr].get(k))
        if n > 1:
            fail("%d state messages in 6 s of a quiet network; one changed "
                 "no route, only %s" % (n, ", ".join(diff) or "nothing"))
    ok("a quiet network: %d state message(s) in 6 s (%d a route's own "
       "change)" % (n, real))
    errors = page_errors(d)
    if errors:
        fail("the page logged errors: %s" % errors[:3])
    ok("no error on the page's console")
    mark("seen-up")
finally:
    quit(d)
