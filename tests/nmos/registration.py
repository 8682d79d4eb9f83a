#!/usr/bin/env python3
"""The HTTP side of tests/nmos/registration.sh: registration.py STEP
ENV_JSON, run in lab host h1."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from nmos_check import Lab  # noqa: E402

lab = Lab()
step = sys.argv[1]
env = json.load(open(sys.argv[2]))
R1 = "http://10.77.0.1:8235"
R2 = "http://10.77.0.2:8235"
C = "http://10.77.0.3:8080"
FULL = {"nodes": 1, "devices": 1, "sources": 1, "flows": 1, "senders": 1,
        "receivers": 4}


def stats(reg):
    return lab.json(reg + "/x-d4/stats")


def log(path):
    """(time, method, path, status) of a registry's request log."""
    out = []
    for line in open(path):
        t, m, p, s = line.split()[:4]
        out.append((float(t), m, p, int(s)))
    return out


def registered(reg, counts=FULL):
    lab.wait("C registered with " + reg, 40,
             lambda: stats(reg)["counts"] == counts)


node_id = lab.json(C + "/x-nmos/node/v1.3/self")["id"]

if step == "r1":
    registered(R1)
    if sum(stats(R2)["counts"].values()):
        lab.fail("C registered with R2 too")
    lab.ok("C found R1 by DNS-SD and registered there: pri 10 over R2's "
           "20; the v1.2-only (pri 0) and api_auth (pri 5) registries "
           "left out")
elif step == "r2":
    registered(R2)
    st = stats(R2)
    if st["heartbeat_404"] < 1:
        lab.fail("C did not ask R2 first (a heartbeat): %s" % st)
    lab.ok("R1 died: C failed over to R2, heartbeat first (404), then "
           "registered its %d resources" % sum(FULL.values()))
elif step == "beat2":
    n = stats(R2)["heartbeats"]
    lab.wait("a heartbeat to R2", 10, lambda: stats(R2)["heartbeats"] > n)
elif step == "r2-again":
    registered(R2)
    st = stats(R2)
    if st["heartbeat_404"] < 1 or st["invalid"]:
        lab.fail("R2 after its restart: %s" % st)
    lab.ok("R2 restarted empty: C's next heartbeat got 404 and C "
           "registered everything again")
elif step == "back":
    registered(R2, dict(FULL, flows=2, sources=2, senders=2))
    lab.ok("R2 came back: C registered there (with its new flow)")
elif step == "heartbeats":
    def gaps():
        hb = [t for t, m, p, s in log(env["r2log"])
              if m == "POST" and p.endswith("/health/nodes/" + node_id) and
              s == 200]
        # a registry restart or failover in between is not a gap
        return [b - a for a, b in zip(hb, hb[1:]) if b - a < 8]
    g = lab.wait("three heartbeats in a row", 30,
                 lambda: len(gaps()) >= 3 and gaps())
    if any(not 4.4 <= x <= 5.6 for x in g):
        lab.fail("heartbeat gaps: %s" % ["%.2f" % x for x in g])
    lab.ok("heartbeats %s s apart" % ", ".join("%.2f" % x for x in g))
else:
    lab.fail("no step " + step)
