#!/usr/bin/env python3
"""tests/nmos/scheduled.sh's IS-05 side: both receivers given the
sender's transport file, activated at T (activate_scheduled_absolute);
202 with T as activation time; after T, both active and connected."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
from nmos_check import Lab  # noqa: E402

lab = Lab()
env = json.load(open(sys.argv[1]))
T = env["T"]
S = "http://10.77.0.2:8080"
R = {"R1": "http://10.77.0.3:8080", "R2": "http://10.77.0.4:8080"}
C = "/x-nmos/connection/v1.1/single"

sender = lab.json(S + "/x-nmos/node/v1.3/senders")[0]["id"]
sdp = lab.get(S + C + "/senders/%s/transportfile" % sender)
rx = {}
for name, base in R.items():
    rid = lab.json(base + "/x-nmos/node/v1.3/receivers")[0]["id"]
    token = open("%s/state/%s/token" % (T, name)).read().strip()
    st = lab.req("PATCH", base + C + "/receivers/%s/staged" % rid, {
        "sender_id": sender, "master_enable": True,
        "transport_file": {"data": sdp, "type": "application/sdp"},
        "activation": {"mode": "activate_scheduled_absolute",
                       "requested_time": env["at"]}},
        token, 202, "receiver")
    if st["activation"]["activation_time"] != env["at"]:
        lab.fail("%s scheduled at %s" % (name, st["activation"]))
    rx[name] = (base, rid)
if time.time() >= env["start"]:
    lab.fail("scheduled only after START (a loaded machine?)")
lab.ok("R1 and R2 scheduled at %s (202, activation_time %s)" % (
    env["at"], env["at"]))
t = int(env["at"].split(":")[0]) + 1
while time.time() < t:  # lab PTP time is the system clock
    time.sleep(0.2)
for name, (base, rid) in rx.items():
    a = lab.wait("%s active" % name, 10, lambda: (lambda j: j if (
        j["master_enable"] and j["sender_id"] == sender and
        j["activation"]["activation_time"] == env["at"]) else None)(
            lab.get(base + C + "/receivers/%s/active" % rid,
                    schema="receiver")))
    lab.wait("%s's IS-04 receiver subscribed" % name, 5, lambda: lab.json(
        base + "/x-nmos/node/v1.3/receivers/" + rid)["subscription"] ==
        {"sender_id": sender, "active": True})
lab.ok("after T both receivers are active, connected to the sender, "
       "activated at %s" % env["at"])
