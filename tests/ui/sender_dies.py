"""The browser half of tests/ui/sender_dies.sh: a click routes 1@A to 1@B,
the cell reads receiving; A is killed; the cell must read an error state
within 3 s (the node's honest states, docs/api.md)."""
import os
import signal
import time

from d4ui import browser, cell, cell_attr, fail, ok, quit, shot, wait

UI = "http://127.0.0.1:8090"
A, B = "10.77.0.2:8080", "10.77.0.3:8080"
TX, RX = "n:%s/1" % A, B + "/1"

d = browser()
try:
    d.get(UI + "/")
    wait("A and B in the matrix", lambda: cell(d, TX, RX))
    cell(d, TX, RX).click()
    wait("the cell to read receiving",
         lambda: cell_attr(d, TX, RX, "data-state") == "receiving",
         timeout=20)
    ok("a click routed 1@A -> 1@B; the cell reads receiving")
    # The page notes (its own clock: the machine's) when the cell first
    # shows an error, as drawn: what a person would see, however slowly
    # this script gets to ask on a loaded machine.
    d.execute_script("""
        const [tx, rx] = arguments;
        window.d4errorAt = null;
        const seen = () => {
            const c = document.querySelector(
                '.cell[data-tx="' + tx + '"][data-rx="' + rx + '"]');
            if (c && c.dataset.level === 'error' && !window.d4errorAt)
                window.d4errorAt = [Date.now(), c.dataset.state];
        };
        new MutationObserver(seen).observe(
            document.querySelector('.mx-canvas'),
            {subtree: true, attributes: true, childList: true});
        """, TX, RX)
    killed = time.time()
    os.kill(int(os.environ["D4_UI_SENDER_PID"]), signal.SIGKILL)
    got = wait("the cell to show an error", lambda: d.execute_script(
        "return window.d4errorAt"), timeout=30)
    shot(d, "matrix-sender-dead")
    after = got[0] / 1000.0 - killed
    if after > 3.0:
        fail("the cell showed '%s' %.1f s after A was killed, not within "
             "3 s" % (got[1], after))
    ok("%.1f s after A was killed the cell showed %s" % (after, got[1]))
finally:
    quit(d)
