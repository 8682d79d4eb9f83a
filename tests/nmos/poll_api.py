#!/usr/bin/env python3
"""poll_api.py OUT.json SECONDS URL...: GET each URL every 100 ms for
SECONDS (2 s timeout each), writing {"requests", "failed", "worst_s"} to
OUT.json as it goes: a node's API must answer while it registers under
load (tests/nmos/load.sh)."""
import json
import os
import sys
import time
import urllib.request

out, secs, urls = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
n, bad, worst = 0, [], 0.0
end = time.monotonic() + secs
while time.monotonic() < end:
    for url in urls:
        t = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                json.load(r)
                if r.status != 200:
                    bad.append("%s: HTTP %d" % (url, r.status))
        except Exception as e:  # noqa: BLE001 - every failure counts
            bad.append("%s: %s" % (url, e))
        worst = max(worst, time.monotonic() - t)
        n += 1
    with open(out + ".tmp", "w") as f:
        json.dump({"requests": n, "failed": bad[:20], "nfailed": len(bad),
                   "worst_s": worst}, f)
    os.replace(out + ".tmp", out)
    time.sleep(0.1)
