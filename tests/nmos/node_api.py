#!/usr/bin/env python3
"""The HTTP side of tests/nmos/node_api.sh (see there), in one process:
node_api.py PHASE ENV_JSON, run in a lab host that reaches the nodes and
the registry. Phases: "connect" (everything up to A's restart), "after"
(A restarted), "stopped" (both stopped)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from nmos_check import Lab  # noqa: E402

lab = Lab()
phase = sys.argv[1]
env = json.load(open(sys.argv[2]))
T = env["T"]
REG = "http://10.77.0.1:8235"
Q = REG + "/x-nmos/query/v1.3"
A = "http://10.77.0.2:8080"
B = "http://10.77.0.3:8080"
CA = A + "/x-nmos/connection/v1.1/single"
CB = B + "/x-nmos/connection/v1.1/single"
NA = A + "/x-nmos/node/v1.3"
NB = B + "/x-nmos/node/v1.3"
TA = open(T + "/state/A/token").read().strip()
TB = open(T + "/state/B/token").read().strip()
ZERO = "00000000-0000-4000-8000-000000000000"


def stats():
    return lab.json(REG + "/x-d4/stats")


def label(res, coll, name):
    return next(x["id"] for x in res[coll] if x["label"] == name)


def patch(url, body, token, expect=200, schema="receiver"):
    return lab.req("PATCH", url, body, token, expect, schema)


def subs_b():
    return lab.req("GET", B + "/api/v1/subscriptions")


def connect():
    lab.wait("A and B registered", 30, lambda: stats()["counts"] == {
        "nodes": 2, "devices": 2, "sources": 2, "flows": 2, "senders": 2,
        "receivers": 6})
    lab.ok("A and B registered with the registry by URL")

    gm = env["gm"]
    lab.wait("B's clock locked to " + gm, 40, lambda: (
        lambda c: c["ref_type"] == "ptp" and c["locked"] and
        c["gmid"] == gm)(lab.json(NB + "/self")["clocks"][0]))
    lab.ok("B's IS-04 clock: ptp, locked, gmid " + gm)

    ra = lab.check_node(A, T + "/A1.json")
    rb = lab.check_node(B, T + "/B1.json")
    where = {}
    for base, r in ((NA, ra), (NB, rb)):
        where[r["self"]["id"]] = ("nodes", base + "/self")
        for c in ("devices", "sources", "flows", "senders", "receivers"):
            for x in r[c]:
                where[x["id"]] = (c, "%s/%s/%s" % (base, c, x["id"]))
    # The registry holds what the nodes serve, at their versions (a
    # registration may still be on its way).
    for i, (coll, url) in where.items():
        lab.wait("%s %s in the registry" % (coll, i), 15,
                 lambda: lab.json("%s/%s/%s" % (Q, coll, i)) ==
                 lab.json(url))
    lab.ok("every answer of A's and B's Node and Connection APIs meets "
           "AMWA's schemas (%d answers); the registry holds all %d "
           "resources as the nodes serve them" % (lab.c.n, len(where)))

    s_main = label(ra, "senders", "main")
    r12 = label(rb, "receivers", "RX 1-2")
    r34 = label(rb, "receivers", "RX 3-4")
    sdp = lab.get(CA + "/senders/%s/transportfile" % s_main)
    body = {"sender_id": s_main, "master_enable": True,
            "activation": {"mode": "activate_immediate"},
            "transport_file": {"data": sdp, "type": "application/sdp"}}
    u12 = CB + "/receivers/%s/staged" % r12
    patch(u12, body, None, 401, "error")
    patch(u12, body, "wrong", 401, "error")
    # a controller's token from B's tokens_file (BCP-003 style)
    patch(u12, body, "controller-token-0123456789")
    lab.wait("a subscription on B's RX 1-2, receiving", 10, lambda: (
        lambda j: len(j) == 1 and j[0]["rx_channels"] == [1, 2] and
        j[0]["state"] == "receiving" and j[0]["latency_us"] == 5000)(
            subs_b()))
    want = {"sender_id": s_main, "active": True}
    lab.wait("B's IS-04 RX 1-2 subscribed to A main", 5, lambda: lab.json(
        NB + "/receivers/" + r12)["subscription"] == want)
    lab.wait("the registry's RX 1-2 subscribed to A main", 10,
             lambda: lab.json(Q + "/receivers/" + r12)["subscription"] ==
             want)
    a = lab.get(CB + "/receivers/%s/active" % r12, schema="receiver")
    tp = a["transport_params"][0]
    if not (a["master_enable"] and a["sender_id"] == s_main and
            tp["multicast_ip"] == "239.69.5.1" and
            tp["destination_port"] == 5004 and
            tp["source_ip"] == "10.77.0.2" and
            tp["interface_ip"] == "10.77.0.3" and
            "s=A main" in a["transport_file"]["data"]):
        lab.fail("RX 1-2 active: %s" % a)
    lab.ok("IS-05: B's RX 1-2 connected to A main with a token of B's "
           "tokens_file (401 without one or with a wrong one): a "
           "subscription on RX 1-2, receiving; IS-04 and the registry show "
           "the sender")

    lab.req("POST", B + "/api/v1/subscriptions",
            {"name": "d4made", "address": "239.69.5.1:5004",
             "channels": 2, "rx_channels": [3, 4], "latency_us": 5000},
            TB, 201)
    a = lab.get(CB + "/receivers/%s/active" % r34, schema="receiver")
    if not (a["master_enable"] and a["sender_id"] is None):
        lab.fail("a d4 API route in IS-05: %s" % a)
    lab.wait("the registry's RX 3-4 active", 10, lambda: lab.json(
        Q + "/receivers/" + r34)["subscription"] ==
        {"sender_id": None, "active": True})
    lab.ok("a subscription made through d4's API is RX 3-4's IS-05 active "
           "connection (sender_id null) and IS-04 subscription")

    u34 = CB + "/receivers/%s/staged" % r34
    s = patch(u34, {"master_enable": False, "activation": {
        "mode": "activate_scheduled_relative", "requested_time": "30:0"}},
              TB, 202)
    if s["activation"]["mode"] != "activate_scheduled_relative":
        lab.fail("scheduled: %s" % s)
    patch(u34, {"master_enable": True}, TB, 423, "error")
    c = patch(u34, {"activation": {"mode": None}}, TB)
    if c["activation"]["mode"] is not None:
        lab.fail("cancelled: %s" % c)
    # B's PTP time: the relative activation's time, less its 30 s
    now = int(s["activation"]["activation_time"].split(":")[0]) - 30
    at = "%d:0" % (now + 3)
    s = patch(u34, {"master_enable": False, "activation": {
        "mode": "activate_scheduled_absolute", "requested_time": at}},
              TB, 202)
    if s["activation"]["activation_time"] != at:
        lab.fail("scheduled at %s: %s" % (at, s))
    lab.wait("RX 3-4 disconnected at " + at, 15, lambda: (
        lambda j: not j["master_enable"] and
        j["activation"]["activation_time"] == at)(
            lab.get(CB + "/receivers/%s/active" % r34,
                    schema="receiver")))
    lab.wait("d4made deleted", 5, lambda: [x["name"] for x in subs_b()]
             == ["nmos-rx1-2"])
    s = lab.get(u34, schema="receiver")
    if s["activation"] != {"mode": None, "requested_time": None,
                           "activation_time": None}:
        lab.fail("staged after the activation: %s" % s)
    lab.ok("scheduled activations: 202, 423 while pending, cancelled; one "
           "at %s disconnected RX 3-4 and removed d4made" % at)

    for bad in [{"master_enable": "yes"},
                {"transport_params": [{"fec_enabled": True}]},
                {"transport_params": [{}, {}]},
                {"sender_id": "not-a-uuid"},
                {"transport_file": {"data": "x", "type": "text/plain"}},
                {"activation": {"mode": "activate_scheduled_absolute"}},
                {"transport_params": [{"interface_ip": "10.1.2.3"}]},
                {"colour": "red"}]:
        patch(u12, bad, TB, 400, "error")
    patch(u12, {"transport_file": {"data": "not an SDP",
                                   "type": "application/sdp"}},
          TB, 500, "error")
    r = lab.req("POST", B + "/x-nmos/connection/v1.1/bulk/receivers",
                [{"id": r34, "params": {"master_enable": False}},
                 {"id": ZERO, "params": {}},
                 {"id": r12, "params": {"master_enable": 7}}],
                TB, 200, "bulk")
    if [x["code"] for x in r] != [200, 404, 400]:
        lab.fail("bulk: %s" % r)
    if lab.json(NB + "/receivers/" + r12)["subscription"] != want:
        lab.fail("RX 1-2 changed by refused requests")
    lab.ok("bad PATCHes answered 400 (an unparsable SDP 500) as NMOS "
           "errors, changing nothing; bulk answered per receiver")

    # Disconnected and connected again at once, before the subscription
    # that stops has gone (the fuzzer found it refused, 409).
    patch(u12, {"master_enable": False,
                "activation": {"mode": "activate_immediate"}}, TB)
    patch(u12, body, TB)
    lab.wait("RX 1-2 receiving again", 10, lambda: [
        x["state"] for x in subs_b() if x["rx_channels"] == [1, 2] and
        x["name"].startswith("nmos-rx1-2")] == ["receiving"])
    lab.ok("RX 1-2 disconnected and connected again at once")

    s_uni = label(ra, "senders", "uni")
    patch(CA + "/senders/%s/staged" % s_uni, {
        "transport_params": [{"destination_ip": "10.77.0.3",
                              "destination_port": 5012}],
        "activation": {"mode": "activate_immediate"}}, TA, 200, "sender")
    v = lab.req("GET", A + "/api/v1/d4/vars")
    if {"name": "_uni_receivers", "type": "IP[100]",
            "value": "[10.77.0.3:5012]"} not in v:
        lab.fail("A uni's relay list: %s" % v)
    sdp = lab.get(CA + "/senders/%s/transportfile" % s_uni)
    if "c=IN IP4 10.77.0.3" not in sdp or "m=audio 5012 " not in sdp:
        lab.fail("A uni's transport file: %s" % sdp)
    um = CA + "/senders/%s/staged" % s_main
    patch(um, {"master_enable": False,
               "activation": {"mode": "activate_immediate"}},
          TA, 200, "sender")
    lab.wait("A main inactive", 5, lambda: lab.json(
        NA + "/senders/" + s_main)["subscription"]["active"] is False)
    progs = {p["name"]: p for p in lab.req("GET", A + "/api/v1/d4/programs")}
    if progs["flow_main"]["running"]:
        lab.fail("A main's loop still runs: %s" % progs)

    def heard():
        return [x for x in subs_b()
                if x["rx_channels"] == [1, 2]][0]["stats"]["received"]
    time.sleep(0.3)
    b0 = heard()
    time.sleep(0.5)
    if heard() != b0:
        lab.fail("B still hears A main, stopped")
    patch(um, {"master_enable": True,
               "activation": {"mode": "activate_immediate"}},
          TA, 200, "sender")
    patch(um, {"transport_params": [{"destination_ip": "239.1.1.1"}]}, TA,
          400, "error")
    lab.wait("B hears A main again", 10, lambda: heard() > b0 + 200)
    lab.ok("IS-05 senders: A uni moved to 10.77.0.3:5012 (relay list and "
           "SDP), A main stopped (B heard nothing) and started again")
    json.dump({"s_uni": s_uni}, open(T + "/ids.json", "w"))


def after():
    ids = json.load(open(T + "/ids.json"))
    a1 = json.load(open(T + "/A1.json"))
    a2 = lab.check_node(A, T + "/A2.json")
    if a1["self"]["id"] != a2["self"]["id"] or any(
            sorted(x["id"] for x in a1[c]) != sorted(x["id"] for x in a2[c])
            for c in ("devices", "sources", "flows", "senders",
                      "receivers")):
        lab.fail("A's ids changed with the restart")
    a = lab.get(CA + "/senders/%s/active" % ids["s_uni"], schema="sender")
    tp = a["transport_params"][0]
    if (tp["destination_ip"], tp["destination_port"]) != ("10.77.0.3",
                                                           5012):
        lab.fail("A uni after the restart: %s" % a)
    # killed, A came back before the registry forgot it: its first POST
    # was answered 200, so it deleted the old copy before registering
    log = open(env["reglog"]).read().split("\n")
    nid = a1["self"]["id"]
    dels = [i for i, l in enumerate(log) if "DELETE" in l and nid in l]
    if not dels or not any(" 201" in l for l in log[dels[-1]:]):
        lab.fail("no DELETE of A's old copy before registering again")
    lab.wait("A registered again", 20, lambda: stats()["counts"] == {
        "nodes": 2, "devices": 2, "sources": 2, "flows": 2, "senders": 2,
        "receivers": 6})
    st = stats()
    if st["invalid"] or st["rejected"]:
        lab.fail("the registry refused registrations: %s" % st)
    lab.ok("A killed and restarted: the same ids; the registry's old copy "
           "deleted, registered again; A uni still to "
           "10.77.0.3:5012; the registry validated %d registrations, none "
           "invalid" % st["posts"])


def stopped():
    lab.wait("A and B unregistered", 5, lambda: set(
        stats()["counts"].values()) == {0})
    lab.ok("A and B unregistered when they stopped")


{"connect": connect, "after": after, "stopped": stopped}[phase]()
