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
    os.kill(int(os.environ["D4_UI_SENDER_PID"]), signal.SIGKILL)
    t0 = time.monotonic()
    end = t0 + 3.0
    state = level = None
    while time.monotonic() < end:
        # state and level of one drawing of the cell, read at once
        state, level = d.execute_script(
            "const c = document.querySelector("
            "'.cell[data-tx=\"' + arguments[0] + '\"][data-rx=\"' + "
            "arguments[1] + '\"]');"
            "return c ? [c.dataset.state, c.dataset.level] : [null, null]",
            TX, RX)
        if level == "error":
            break
        time.sleep(0.05)
    shot(d, "matrix-sender-dead")
    if level != "error":
        fail("3 s after A was killed the cell reads '%s' (level %s), not "
             "an error state" % (state, level))
    ok("%.1f s after A was killed the cell reads %s" %
       (time.monotonic() - t0, state))
finally:
    quit(d)
