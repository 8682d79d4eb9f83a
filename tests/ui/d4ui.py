"""Helpers for the ui suite: a real headless Chromium driven by Selenium
(Debian's chromium, chromium-driver, python3-selenium), and waits on what
the page shows. Imported by the tests/ui/*.py drivers."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ARTIFACTS = os.environ.get("D4_UI_ARTIFACTS", "/tmp/d4-ui-artifacts")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def ok(msg):
    print("ok: " + msg, flush=True)


def browser(width=1280, height=900):
    """Chromium as root in a lab namespace: no sandbox (root), no GPU, no
    network of its own (no QUIC, no background fetches, no updates), and
    a new empty profile. Logs every network request (performance log)."""
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="d4ui-chromium.")
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-quic", "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage",
              "--user-data-dir=" + profile,
              "--window-size=%d,%d" % (width, height)]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs",
                     {"performance": "ALL", "browser": "ALL"})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                         options=o)
    # generous: a shared two-core machine can stall the page for seconds
    d.set_script_timeout(120)
    d.set_page_load_timeout(300)
    d._d4_profile = profile
    return d


def quit(d):
    try:
        d.quit()
    finally:
        shutil.rmtree(d._d4_profile, ignore_errors=True)


def wait(what, fn, timeout=30, period=0.1):
    """Wait until fn() is truthy; its value, or fail naming @what."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
        except Exception as e:  # the page is redrawing: try again
            last = e
        else:
            if last:
                return last
        time.sleep(period)
    fail("timed out after %g s waiting for %s (last: %r)" %
         (timeout, what, last))


def shot(d, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name + ".png")
    d.save_screenshot(path)
    print("screenshot: " + path, flush=True)
    return path


def view(d, name):
    d.execute_script("location.hash = arguments[0]", name)
    wait("view " + name, lambda: d.execute_script(
        "return !document.getElementById('v-' + arguments[0]).hidden",
        name))


def type_into(d, css, text):
    """Clear the input @css and type @text and Enter, again if the page
    redrew it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException

    def attempt():
        try:
            e = d.find_element(By.CSS_SELECTOR, css)
            e.clear()
            e.send_keys(text)
            e.send_keys("\n")
            return True
        except StaleElementReferenceException:
            return False
    wait("typing into " + css, attempt, timeout=10)


def cell(d, tx, rx):
    """The matrix cell of TX key @tx ("n:ADDR/CH") and RX @rx
    ("ADDR/CH"), made the active cell and scrolled into view (the page
    draws only the cells that show something, and the active one), or
    None when the matrix has no such row or column."""
    return d.execute_script("return d4cell(arguments[0], arguments[1])",
                            tx, rx)


def cell_attr(d, tx, rx, attr):
    """An attribute of a drawn cell without moving the active cell: None
    when the cell shows nothing (not routed) or is out of view."""
    els = d.find_elements(By.CSS_SELECTOR,
                          '.cell[data-tx="%s"][data-rx="%s"]' % (tx, rx))
    return els[0].get_attribute(attr) if els else None


def requests(d):
    """Every request the browser sent since the last call: (url,
    headers) from Chrome's performance log."""
    out = []
    for entry in d.get_log("performance"):
        m = json.loads(entry["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            r = m["params"]["request"]
            out.append((r["url"], r.get("headers", {})))
        elif m.get("method") == "Network.requestWillBeSentExtraInfo":
            out.append(("(extra)", m["params"].get("headers", {})))
    return out


def page_errors(d):
    """The page's uncaught errors and console errors since the last call
    (Chrome's browser log, level SEVERE)."""
    return [e["message"] for e in d.get_log("browser")
            if e.get("level") == "SEVERE"]


def d4ctl(*args, check=True):
    """Run d4ctl on the controller's host ($D4CTL_RUN wraps it)."""
    r = subprocess.run([os.environ["D4CTL_RUN"]] + list(args),
                       capture_output=True, text=True, timeout=60)
    if check and r.returncode:
        fail("d4ctl %s: exit %d: %s%s" % (" ".join(args), r.returncode,
                                          r.stdout, r.stderr))
    return r
