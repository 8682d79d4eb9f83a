"""The browser half of tests/ui/routing.sh, run on the tablet host: the
page finds both nodes, two clicks route A's TX 1-2 to B's RX 1-2 (the
recording is checked by routing.sh), one click unroutes one channel of a
range, the keyboard routes a cell, a channel renamed from the devices view
and the filter, a preset saved and applied (its difference shown first),
a cross-origin page's POST refused, no token and no node address in
anything the browser sent or got; a screenshot of every view."""
import json
import os
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from d4ui import (browser, cell, cell_attr, d4ctl, fail, ok, quit,
                  requests, shot, type_into, view, wait)

UI = "http://10.77.0.1:8090"
A, B = "10.77.0.2:8080", "10.77.0.3:8080"
START = int(os.environ["D4_UI_START"])
SECS = int(os.environ["D4_UI_SECS"])
TOKENS = os.environ["D4_UI_TOKENS"].split()
WORK = os.environ["D4_UI_WORK"]


def lab_now():
    return time.time()  # the lab's PTP time is the system's UTC clock


def routes():
    return json.loads(d4ctl("routes", "--json").stdout)


def route_of(rx):
    return [r for r in routes() if r["rx"] == rx]


def routed(d, tx, rx):
    return cell_attr(d, tx, rx, "data-level") not in (None, "")


d = browser()
try:
    d.get(UI + "/")
    # both nodes found: their groups across and down
    wait("A and B in the matrix", lambda: cell(d, "n:%s/1" % A, B + "/1"))
    heads = d.execute_script("return [...document.querySelectorAll("
                             "'.mx-colhdr .hg')].map(e => e.textContent)")
    if not any("A" in h for h in heads):
        fail("no TX group A: %r" % heads)
    ok("the page found A (TX 1-6) and B (RX 1-8)")
    shot(d, "matrix-empty")

    # two clicks: A TX 1 -> B RX 1, A TX 2 -> B RX 2
    for ch in (1, 2):
        cell(d, "n:%s/%d" % (A, ch), "%s/%d" % (B, ch)).click()
        wait("the route %d@A -> %d@B on the page" % (ch, ch),
             lambda: routed(d, "n:%s/%d" % (A, ch), "%s/%d" % (B, ch)))
    if lab_now() >= START - 1:
        fail("the clicks took until after the file started (a loaded "
             "machine?)")
    for ch in (1, 2):
        r = route_of("%d@B" % ch)
        if not r or r[0]["from"] != "%d@A" % ch:
            fail("after the click, routes say %r" % routes())
    ok("two clicks routed 1@A -> 1@B and 2@A -> 2@B (d4ctl routes agrees)")
    wait("the cells to read receiving",
         lambda: all(cell_attr(d, "n:%s/%d" % (A, c), "%s/%d" % (B, c),
                               "data-state") == "receiving"
                     for c in (1, 2)), timeout=20)
    shot(d, "matrix")

    # the recording ends; then change the routing
    while lab_now() < START + SECS + 1:
        time.sleep(0.2)

    # one channel of a range: 3-6@A (the tone source) -> 3-6@B by d4ctl,
    # then a click on A TX 4 x B RX 4 unroutes that one channel
    d4ctl("route", "3-6@A", "3-6@B", "--latency", "100")
    wait("the range on the page", lambda: all(
        routed(d, "n:%s/%d" % (A, c), "%s/%d" % (B, c)) for c in range(3, 7)))
    cell(d, "n:%s/4" % A, B + "/4").click()
    wait("RX 4 unrouted on the page",
         lambda: not routed(d, "n:%s/4" % A, B + "/4"))
    left = [r["rx"] for r in routes() if r["node"] == "B"]
    if "3,5-6@B" not in left or any(r.startswith("3-6") for r in left):
        fail("after unrouting 4@B of 3-6@B, routes say %r" % left)
    r = route_of("3,5-6@B")[0]
    if r["from"] != "3,5-6@A" or r["tx_channels"] != [3, 5, 6]:
        fail("3,5-6@B comes from %r" % r)
    if not all(routed(d, "n:%s/%d" % (A, c), "%s/%d" % (B, c))
               for c in (3, 5, 6)):
        fail("RX 3, 5, 6 no longer show routed")
    ok("a click unrouted 4@B of the range 3-6@B: 3,5-6@B from 3,5-6@A kept")

    # the keyboard: focus the grid, walk to A TX 4 x B RX 7, Enter
    body = d.find_element(By.CSS_SELECTOR, ".mx-body")
    target = cell(d, "n:%s/4" % A, B + "/7")
    tr, tc = (int(target.get_attribute("data-r")),
              int(target.get_attribute("data-c")))
    d.execute_script("arguments[0].focus()", body)
    body.send_keys(Keys.CONTROL, Keys.HOME)
    for _ in range(tr):
        body.send_keys(Keys.ARROW_DOWN)
    for _ in range(tc):
        body.send_keys(Keys.ARROW_RIGHT)
    act = d.find_element(By.CSS_SELECTOR, ".cell.active")
    if (act.get_attribute("data-tx"), act.get_attribute("data-rx")) != \
            ("n:%s/4" % A, B + "/7"):
        fail("the keyboard reached %s x %s" % (act.get_attribute("data-tx"),
                                              act.get_attribute("data-rx")))
    body.send_keys(Keys.ENTER)
    wait("4@A -> 7@B made from the keyboard",
         lambda: route_of("7@B") and route_of("7@B")[0]["from"] == "4@A")
    ok("arrow keys and Enter routed 4@A -> 7@B")

    # devices: rename B's RX 8 to "Monitor"; the filter finds it
    view(d, "devices")
    d.execute_script("document.querySelector("
                     "'#devices button[data-node=\"B\"]').click()")
    type_into(d, 'input[aria-label="RX 8"]', "Monitor")
    wait("B's RX 8 renamed", lambda: json.loads(d4ctl(
        "channels", "B", "--json").stdout)["rx"][7]["name"] == "Monitor")
    shot(d, "devices")
    view(d, "routing")
    f = d.find_element(By.ID, "filter")
    f.send_keys("Monitor")
    wait("the filter to leave RX 8 alone", lambda: d.execute_script(
        "return document.querySelector('.mx-body')"
        ".getAttribute('aria-rowcount')") == "1")
    f.clear()
    f.send_keys(" ")
    f.send_keys(Keys.BACKSPACE)
    ok("renamed B's RX 8 'Monitor' from the devices view; the filter "
       "finds it")

    # the other views, live
    view(d, "clock")
    wait("A's clock locked", lambda: "locked" in d.find_element(
        By.ID, "clocks").text)
    shot(d, "clock")
    view(d, "meters")
    def tone_level():
        for m in d.find_elements(By.CSS_SELECTOR, ".meter"):
            t = m.text.split()
            if t[:2] == ["TX", "3"] and t[-1] not in ("-inf", "sent"):
                return -26 < float(t[-1]) < -14
        return False
    wait("the tone (-20 dBFS) on A's TX 3 meter", tone_level)
    n0 = d.execute_script("return d4perf.meterMsgs")
    time.sleep(2)
    n1 = d.execute_script("return d4perf.meterMsgs")
    if n1 - n0 < 20:
        fail("meters: %d updates in 2 s" % (n1 - n0))
    ok("meters: TX 3 at the tone's level, %d updates in 2 s" % (n1 - n0))
    shot(d, "meters")
    view(d, "latency")
    wait("the latency table", lambda: "3,5-6@B" in d.find_element(
        By.ID, "latency").text)
    shot(d, "latency")

    # The states of issue 15 (docs/api.md) as a node will give them: the
    # page's own drawing of a route that is late, below its measured safe
    # latency, and of a state it does not know. (Today's node gives
    # neither; the next state message from d4ctl ui draws the truth again.)
    warn = d.execute_script("""
        statsNow = {};  /* no live reason over the one drawn here */
        const r = S.routes.find((x) => x.rx === '1@B');
        r.said = {state: 'late',
                  state_reason: 'packets 3 ms late: 13 ms would work'};
        r.latency_safe_us = r.latency_us + 3000;
        derive();
        renderLatency();
        return [...document.querySelectorAll('#latency td.warn')]
            .map((e) => e.textContent).join('|') + '#' +
            document.querySelector('#latency .badge.lv-warn').textContent;
        """)
    if "below the measured safe minimum" not in warn or \
            "13 ms would work" not in warn:
        fail("a latency below the safe minimum reads %r" % warn)
    shot(d, "latency-warning")
    view(d, "routing")
    got = d.execute_script("""
        const out = [];
        statsNow = {};
        for (const st of ['late', 'frobnicated', 'no-audio', 'gone']) {
            const r = S.routes.find((x) => x.rx === '1@B');
            const b = S.nodes.find((x) => x.name === 'B');
            r.said = {state: st === 'gone' ? 'receiving' : st,
                      state_reason: st === 'late' ? '3 ms late' :
                                    st === 'gone' ? '1000 packets' : ''};
            b.reachable = st !== 'gone'; /* B stops answering */
            derive();
            buildAxes();
            renderMatrix();
            const c = d4cell(arguments[0], arguments[1]);
            out.push([c.dataset.state, c.dataset.level, c.textContent,
                      c.title.split('\\n')[0]]);
            b.reachable = true;
        }
        return out;
        """, "n:%s/1" % A, B + "/1")
    if got != [["late", "warn", "!", "late: 3 ms late"],
               ["frobnicated", "unknown", "?", "frobnicated"],
               ["no-audio", "error", "\u2717", "no-audio"],
               ["unknown", "unknown", "?",
                "unknown: B does not answer; it last said receiving: "
                "1000 packets"]]:
        fail("states drawn as %r" % got)
    ok("late (with its reason on hover), a latency below the safe minimum "
       "(warned), no-audio (error), an unknown state (neutral ?) and a "
       "route whose receiver does not answer (?, its last word on hover) "
       "drawn as docs/ui.md says")

    # presets: save the routing, change it, apply the preset back
    preset = d.execute_async_script(
        "fetch('/api/preset').then(r => r.text()).then(arguments[0])")
    path = os.path.join(WORK, "preset.json")
    open(path, "w").write(preset)
    saved = json.loads(preset)
    if len(saved["routes"]) != 4:
        fail("the preset holds %r" % saved)
    view(d, "routing")
    cell(d, "n:%s/1" % A, B + "/1").click()
    wait("1@B unrouted", lambda: not route_of("1@B"))
    view(d, "presets")
    d.find_element(By.ID, "preset-file").send_keys(path)
    diff = wait("the preset's difference", lambda: d.find_element(
        By.ID, "preset-diff").text if "+ 1@B from 1@A" in d.find_element(
            By.ID, "preset-diff").text else None)
    if "= 2@B from 2@A" not in diff or "- " in diff:
        fail("the difference shown: %r" % diff)
    shot(d, "presets")
    d.find_element(By.ID, "preset-apply").click()
    wait("the preset applied", lambda: "Done." in d.find_element(
        By.ID, "preset-result").text)
    wait("1@B back from 1@A", lambda: route_of("1@B") and
         route_of("1@B")[0]["from"] == "1@A")
    ok("a preset saved, the routing changed, the difference shown "
       "(+ 1@B from 1@A), applied: 1@B is routed from 1@A again")

    view(d, "events")
    wait("events", lambda: "grandmaster" in d.find_element(
        By.ID, "events").text)
    shot(d, "events")

    # the browser asked d4ctl ui only, never a node, and carried no token
    page = d.page_source
    state = d.execute_async_script(
        "fetch('/api/state').then(r => r.text()).then(arguments[0])")
    # requests that leave the browser: http(s) and websockets (not the
    # browser's own chrome:, data: or about: pages)
    sent = [(u, h) for u, h in requests(d)
            if u == "(extra)" or u.split(":")[0] in ("http", "https",
                                                      "ws", "wss")]
    urls = [u for u, h in sent if u != "(extra)"]
    if not urls:
        fail("the performance log holds no request")
    for u, h in sent:
        if u != "(extra)" and not u.startswith(UI + "/"):
            fail("the browser asked %s" % u)
        for k, v in h.items():
            if k.lower() == "authorization" or any(t in v for t in TOKENS):
                fail("a request carried %s: %s" % (k, v))
    for t in TOKENS:
        if t in page or t in state or t in preset:
            fail("a node token reached the browser")
    if A.split(":")[0] in "".join(urls):
        fail("a request named a node's address")
    ok("%d requests, all to d4ctl ui, none with a token; no token in the "
       "page, its state or a preset" % len(urls))

    # a page of another origin tries a POST (form and fetch): refused
    before = routes()
    d.get("http://10.77.0.4:8099/")
    wait("the cross-origin form's answer", lambda: d.current_url.startswith(
        UI + "/api/unroute") and "Origin" in d.page_source, timeout=15)
    after = routes()
    if [r["rx"] for r in after] != [r["rx"] for r in before]:
        fail("a cross-origin POST changed the routes: %r" % after)
    ok("a cross-origin page's POSTs were refused; routes unchanged")

    # a phone-sized screen: the matrix fits, nothing wider than the page
    d.set_window_size(390, 844)
    d.get(UI + "/")
    wait("the matrix on a phone", lambda: cell(d, "n:%s/1" % A, B + "/1"))
    over = d.execute_script("return document.documentElement.scrollWidth"
                            " - window.innerWidth")
    if over > 0:
        fail("on a phone the page is %d px too wide" % over)
    shot(d, "matrix-phone")
    view(d, "meters")
    shot(d, "meters-phone")
    ok("a phone-sized screen (390x844): no sideways scrolling")

    # rename a node from the page
    d.set_window_size(1280, 900)
    view(d, "devices")
    d.execute_script("document.querySelector("
                     "'#devices button[data-node=\"A\"]').click()")
    type_into(d, 'input[aria-label="Node name"]', "A-one")
    wait("A renamed A-one on the page", lambda: "A-one" in d.find_element(
        By.ID, "devices").text, timeout=20)
    ok("renamed node A to A-one from the devices view")
finally:
    quit(d)
