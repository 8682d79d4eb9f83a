#!/usr/bin/env python3
"""The registry side of tests/nmos/subnets.sh: subnets.py STEP ENV_JSON,
run in lab host a1 (the registry's)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from nmos_check import Lab  # noqa: E402

lab = Lab()
step = sys.argv[1]
env = json.load(open(sys.argv[2]))
REG = "http://10.77.1.1:8235"
Q = REG + "/x-nmos/query/v1.3"
# rx_channels 2: one receiver each; A and C a flow each.
FULL = {"nodes": 3, "devices": 3, "sources": 2, "flows": 2, "senders": 2,
        "receivers": 3}


def stats():
    return lab.json(REG + "/x-d4/stats")


def node_ids():
    return {n["label"]: n["id"] for n in lab.json(Q + "/nodes")}


def heartbeats(ids):
    n = {i: 0 for i in ids.values()}
    for line in open(env["reglog"]):
        t, m, p, s = line.split()[:4]
        for i in n:
            if m == "POST" and p.endswith("/health/nodes/" + i) and \
                    s == "200":
                n[i] += 1
    return n


def by_label(coll, label, node):
    ids = node_ids()
    devs = {d["id"]: d["node_id"] for d in lab.json(Q + "/devices")}
    return next(x for x in lab.json(Q + "/" + coll)
                if x["label"] == label and devs[x["device_id"]] == ids[node])


if step == "registered":
    lab.wait("A, B and C registered", 40, lambda: stats()["counts"] == FULL)
    lab.ok("A (subnet 1), B and C (subnet 2) registered with the registry "
           "by URL")
elif step == "heartbeats":
    ids = node_ids()
    lab.wait("two heartbeats from each", 20,
             lambda: min(heartbeats(ids).values()) >= 2)
    lab.ok("A, B and C heartbeat: %s" % heartbeats(ids))
elif step == "again":
    lab.wait("A, B and C registered again", 40,
             lambda: stats()["counts"] == FULL)
    st = stats()
    if st["heartbeat_404"] < 3 or st["invalid"]:
        lab.fail("after the registry's restart: %s" % st)
    lab.ok("the registry restarted empty: all three got 404 on a "
           "heartbeat and registered again (%d resources)" %
           sum(FULL.values()))
elif step == "routed":
    for s, r in (("A", "B"), ("C", "A")):
        snd = by_label("senders", "uni", s)
        lab.wait("RX 1-2@%s connected to uni@%s in IS-04" % (r, s), 15,
                 lambda: by_label("receivers", "RX 1-2", r)[
                     "subscription"] == {"sender_id": snd["id"],
                                         "active": True})
        rcv = by_label("receivers", "RX 1-2", r)
        lab.wait("uni@%s sending to RX 1-2@%s" % (s, r), 15,
                 lambda: by_label("senders", "uni", s)["subscription"] ==
                 {"receiver_id": rcv["id"], "active": True})
    lab.ok("the registry shows both routes: receivers subscribed to their "
           "senders, unicast senders to their receivers")
elif step == "unrouted":
    lab.wait("RX 1-2@B inactive", 15, lambda: by_label(
        "receivers", "RX 1-2", "B")["subscription"] ==
        {"sender_id": None, "active": False})
    lab.wait("uni@A inactive", 15, lambda: by_label(
        "senders", "uni", "A")["subscription"]["active"] is False)
else:
    lab.fail("no step " + step)
