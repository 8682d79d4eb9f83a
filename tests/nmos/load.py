#!/usr/bin/env python3
"""tests/nmos/load.sh's checks: load.py STEP ENV_JSON (in lab host h1).
The curves come from the simulated nodes' own record of when they sent
each request (nmos_simnodes --log), so they show what the nodes' jitter
and backoff do, whatever the registry's process was doing then."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from nmos_check import Lab  # noqa: E402

lab = Lab()
step = sys.argv[1]
env = json.load(open(sys.argv[2]))
T, N = env["T"], env["N"]
REG = "http://10.77.0.1:8235"
FULL = N + 1  # and D


def nodes():
    return lab.json(REG + "/x-d4/stats")["counts"]["nodes"]


def times(path):
    """When the simulated nodes sent each request."""
    return sorted(float(line.split()[0]) for line in open(path))


def due(path):
    """When the nodes meant to send the requests their own timers
    decided (starts, heartbeats, retries): the schedule their jitter and
    backoff make, whatever this loaded machine made of it."""
    return sorted(float(f[4]) for f in (line.split() for line in open(path))
                  if float(f[4]) > 0)


def most_within(ts, window):
    """The most requests sent within any @window seconds."""
    best, j = 0, 0
    for i, t in enumerate(ts):
        while ts[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def curve(ts, t0, step_s=0.25, width=50):
    bins = {}
    for t in ts:
        k = int((t - t0) / step_s)
        bins[k] = bins.get(k, 0) + 1
    top = max(bins.values())
    lines = []
    for k in range(0, max(bins) + 1):
        n = bins.get(k, 0)
        lines.append("%6.2f s %5d/s %s" % (k * step_s, n / step_s,
                                           "#" * round(n * width / top)))
    return "\n".join(lines)


if step == "registered":
    lab.wait("%d nodes registered" % FULL, 40, lambda: nodes() == FULL)
    lab.ok("%d simulated nodes and D registered" % N)
elif step == "again":
    lab.wait("%d nodes registered again" % FULL, 40,
             lambda: nodes() == FULL)
    st = lab.json(REG + "/x-d4/stats")
    if st["heartbeat_404"] < N // 2:
        lab.fail("the nodes did not come back through 404s: %s" % st)
    lab.ok("the registry restarted empty: all %d nodes registered again "
           "(%d heartbeats answered 404)" % (FULL, st["heartbeat_404"]))
elif step == "curve":
    herd, ours = times(T + "/herd.log"), times(T + "/sim.log")
    # A herd is nodes asking together on their own: starts, heartbeats,
    # retries; each next resource of a registration follows the
    # registry's answer to the one before, at the registry's pace.
    h10 = most_within(due(T + "/herd.log"), 0.010)
    o10 = most_within(due(T + "/sim.log"), 0.010)
    killed = float(open(T + "/killed").read()) - ours[0]
    print("requests sent by the %d simulated nodes, per 250 ms, with the "
          "node's jitter and backoff (the registry restarted at %.1f s, "
          "503 for 3 s):" % (N, killed), flush=True)
    print(curve(ours, ours[0]), flush=True)
    print("the same nodes without jitter (control):", flush=True)
    print(curve(herd, herd[0]), flush=True)
    if h10 < N // 2:
        lab.fail("the control run did not herd (%d within 10 ms): the "
                 "measure cannot tell" % h10)
    if o10 > N // 10:
        lab.fail("%d nodes asked within 10 ms on their own, with jitter: "
                 "a herd" % o10)
    p = json.load(open(T + "/poll.json"))
    if p["nfailed"] or p["requests"] < 100:
        lab.fail("D's APIs during the load: %s" % p)
    lab.ok("no thundering herd: at most %d nodes meant to ask within any "
           "10 ms on their own (%d without jitter); %d requests in all; "
           "D's APIs answered "
           "all %d requests (slowest %.0f ms) while a black-hole "
           "registry held its first request for 5 s and %d nodes "
           "re-registered" % (o10, h10, len(ours), p["requests"],
                              p["worst_s"] * 1000, FULL))
else:
    lab.fail("no step " + step)
