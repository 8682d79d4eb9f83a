#!/usr/bin/env python3
"""Check an NMOS node against AMWA's JSON schemas (tests/tools/
nmos_schema.py) for d4's tests.

  nmos_check.py node BASE [--dump FILE]
      Every read of the IS-04 Node API and the IS-05 Connection API at
      BASE (http://HOST:PORT), each answer validated against its schema;
      references between resources; every sender's manifest_href an SDP
      (application/sdp), equal to the IS-05 transport file; CORS headers
      and an OPTIONS preflight; 404s as NMOS errors. --dump writes the
      resources (by type) as JSON. Prints how many answers it validated.

  nmos_check.py req METHOD URL [--body JSON] [--token T] --expect CODE
        [--schema NAME]
      One request: its status must be CODE and its body meet NAME
      (receiver, sender, error, bulk, constraints, node, ...); the body
      on stdout.

Exit status 1 on the first failure, saying what failed.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nmos_schema import SchemaError, Schemas  # noqa: E402

ROOT = os.environ.get(
    "D4_NMOS_SPECS",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                 "nmos"))
SHORT = {
    "receiver": ("is-05", "receiver-response-schema.json"),
    "sender": ("is-05", "sender-response-schema.json"),
    "constraints": ("is-05", "constraints-schema.json"),
    "bulk": ("is-05", "bulk-response-schema.json"),
    "error": ("is-04", "error.json"),
    "error05": ("is-05", "error.json"),
    "node": ("is-04", "node.json"),
    "receiver04": ("is-04", "receiver.json"),
    "sender04": ("is-04", "sender.json"),
}


class Fail(Exception):
    pass


def request(method, url, body=None, token=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Checker:
    def __init__(self, schemas):
        self.s = schemas
        self.n = 0

    def valid(self, spec, name, obj, what):
        try:
            self.s.check(spec, name, obj)
        except SchemaError as e:
            raise Fail("%s: %s" % (what, e))
        self.n += 1

    def get(self, url, spec=None, name=None, code=200):
        st, hdr, raw = request("GET", url)
        if st != code:
            raise Fail("GET %s: HTTP %d, want %d: %s" % (url, st, code,
                                                        raw[:300]))
        if hdr.get("Access-Control-Allow-Origin") != "*":
            raise Fail("GET %s: no CORS header" % url)
        if code >= 400:
            self.valid("is-04", "error.json", json.loads(raw), url)
            return None
        if "application/json" not in hdr.get("Content-Type", ""):
            raise Fail("GET %s: Content-Type %s" % (
                url, hdr.get("Content-Type")))
        obj = json.loads(raw)
        if name:
            self.valid(spec, name, obj, "GET " + url)
        return obj


def check_node(c, base, dump):
    n = base.rstrip("/") + "/x-nmos/node/v1.3"
    k = base.rstrip("/") + "/x-nmos/connection/v1.1"
    top = c.get(base.rstrip("/") + "/x-nmos/")
    if sorted(top) != ["connection/", "node/"]:
        raise Fail("/x-nmos/: %s" % top)
    if c.get(base.rstrip("/") + "/x-nmos/node/") != ["v1.3/"]:
        raise Fail("/x-nmos/node/ does not list v1.3/")
    c.get(n + "/", "is-04", "nodeapi-base.json")
    # trailing slash or not: the same answer (IS-04 APIs.md)
    c.get(n, "is-04", "nodeapi-base.json")
    self_ = c.get(n + "/self", "is-04", "node.json")
    res = {"self": self_}
    for coll, one in [("devices", "device"), ("sources", "source"),
                      ("flows", "flow"), ("senders", "sender"),
                      ("receivers", "receiver")]:
        items = c.get(n + "/" + coll, "is-04", coll + ".json")
        for it in items:
            got = c.get(n + "/" + coll + "/" + it["id"], "is-04",
                        one + ".json")
            if got["id"] != it["id"]:
                raise Fail("%s/%s answered %s" % (coll, it["id"],
                                                   got["id"]))
        res[coll] = items
    c.get(n + "/senders/00000000-0000-4000-8000-000000000000", code=404)
    c.get(base.rstrip("/") + "/x-nmos/node/v1.0/self", code=404)
    # references
    ids = {coll: {x["id"] for x in res[coll]} for coll in res
           if coll != "self"}
    for d in res["devices"]:
        if d["node_id"] != self_["id"]:
            raise Fail("device %s: node_id %s" % (d["id"], d["node_id"]))
        if set(d["senders"]) != {s["id"] for s in res["senders"]
                                 if s["device_id"] == d["id"]}:
            raise Fail("device %s lists other senders" % d["id"])
    for coll in ("sources", "flows", "senders", "receivers"):
        for x in res[coll]:
            if x["device_id"] not in ids["devices"]:
                raise Fail("%s %s: no device %s" % (coll, x["id"],
                                                    x["device_id"]))
    for f in res["flows"]:
        if f["source_id"] not in ids["sources"]:
            raise Fail("flow %s: no source %s" % (f["id"], f["source_id"]))
    for s in res["senders"]:
        if s["flow_id"] not in ids["flows"]:
            raise Fail("sender %s: no flow %s" % (s["id"], s["flow_id"]))
    # IS-05 reads
    if sorted(c.get(base.rstrip("/") + "/x-nmos/connection/")) != \
            ["v1.1/"]:
        raise Fail("/x-nmos/connection/ does not list v1.1/")
    c.get(k + "/", "is-05", "connectionapi-base.json")
    c.get(k + "/single", "is-05", "connectionapi-single.json")
    c.get(k + "/bulk", "is-05", "connectionapi-bulk.json")
    st, _, raw = request("GET", k + "/bulk/senders")
    if st != 405:
        raise Fail("GET bulk/senders: HTTP %d, want 405" % st)
    for kind, one in [("senders", "sender"), ("receivers", "receiver")]:
        lst = c.get(k + "/single/" + kind, "is-05",
                    "sender-receiver-base.json")
        if {x.rstrip("/") for x in lst} != ids[kind]:
            raise Fail("IS-05 %s are not IS-04's" % kind)
        for x in lst:
            u = k + "/single/" + kind + "/" + x.rstrip("/")
            c.get(u, "is-05", "connectionapi-%s.json" % one)
            c.get(u + "/constraints", "is-05", "constraints-schema.json")
            c.get(u + "/staged", "is-05", one + "-response-schema.json")
            c.get(u + "/active", "is-05", one + "-response-schema.json")
            c.get(u + "/transporttype", "is-05",
                  "transporttype-response-schema.json")
        c.get(k + "/single/" + kind +
              "/00000000-0000-4000-8000-000000000000/staged", code=404)
    for s in res["senders"]:
        st, hdr, raw = request("GET", s["manifest_href"])
        if st != 200 or hdr.get("Content-Type") != "application/sdp":
            raise Fail("sender %s manifest_href: HTTP %d %s" % (
                s["id"], st, hdr.get("Content-Type")))
        sdp = raw.decode()
        if not sdp.startswith("v=0") or "\nm=audio " not in sdp:
            raise Fail("sender %s manifest is not an SDP: %r" % (
                s["id"], sdp[:100]))
        st2, _, raw2 = request("GET", k + "/single/senders/" + s["id"] +
                               "/transportfile")
        if st2 != 200 or raw2 != raw:
            raise Fail("sender %s: transportfile is not its manifest" %
                       s["id"])
        c.n += 1
    # a CORS preflight needs no token
    st, hdr, _ = request("OPTIONS", k + "/single/receivers")
    if st != 200 or "PATCH" not in hdr.get(
            "Access-Control-Allow-Methods", ""):
        raise Fail("OPTIONS: HTTP %d %s" % (st, hdr))
    if dump:
        with open(dump, "w") as f:
            json.dump(res, f, indent=1)
    return res


class Lab:
    """Helpers for a test driver that runs in one process (one schema
    load, no process per check: the lab machines are slow)."""

    def __init__(self):
        self.c = Checker(Schemas(ROOT))

    def ok(self, msg):
        print("ok: " + msg, flush=True)

    def fail(self, msg):
        print("FAIL: " + msg, file=sys.stderr, flush=True)
        sys.exit(1)

    def req(self, method, url, body=None, token=None, expect=200,
            schema=None):
        """One request; its status must be @expect and its body meet
        @schema (a SHORT name). The decoded body (text when not JSON)."""
        st, hdr, raw = request(method, url, body, token)
        if st != expect:
            self.fail("%s %s: HTTP %d, want %d: %s" % (
                method, url, st, expect, raw[:500].decode(errors="replace")))
        try:
            obj = json.loads(raw) if raw else None
        except ValueError:
            return raw.decode()
        if schema:
            spec, name = SHORT[schema]
            try:
                self.c.valid(spec, name, obj, "%s %s" % (method, url))
            except Fail as e:
                self.fail(str(e))
        return obj

    def get(self, url, expect=200, schema=None):
        return self.req("GET", url, expect=expect, schema=schema)

    def wait(self, what, secs, fn):
        """Call @fn until it returns a true value (errors count as
        false); that value, or a failure naming @what."""
        import time
        end = time.monotonic() + secs
        last = None
        while True:
            try:
                v = fn()
                if v:
                    return v
                last = "returned %r" % (v,)
            except Exception as e:  # noqa: BLE001 - a poll
                last = "%s: %s" % (type(e).__name__, e)
            if time.monotonic() > end:
                self.fail("timed out after %s s waiting for %s (%s)" % (
                    secs, what, str(last)[:600]))
            time.sleep(0.25)

    def json(self, url):
        st, _, raw = request("GET", url)
        if st != 200:
            raise Fail("GET %s: HTTP %d" % (url, st))
        return json.loads(raw)

    def check_node(self, base, dump=None):
        try:
            res = check_node(self.c, base, dump)
        except Fail as e:
            self.fail(str(e))
        return res


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("node")
    p.add_argument("base")
    p.add_argument("--dump")
    p = sub.add_parser("req")
    p.add_argument("method")
    p.add_argument("url")
    p.add_argument("--body")
    p.add_argument("--token")
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--schema")
    a = ap.parse_args()
    c = Checker(Schemas(ROOT))
    try:
        if a.cmd == "node":
            check_node(c, a.base, a.dump)
            print("validated %d answers of %s" % (c.n, a.base))
            return 0
        body = json.loads(a.body) if a.body is not None else None
        st, hdr, raw = request(a.method, a.url, body, a.token)
        if st != a.expect:
            raise Fail("%s %s: HTTP %d, want %d: %s" % (
                a.method, a.url, st, a.expect, raw[:400].decode()))
        obj = json.loads(raw) if raw else None
        if a.schema:
            spec, name = SHORT[a.schema]
            c.valid(spec, name, obj, "%s %s" % (a.method, a.url))
        if obj is not None:
            print(json.dumps(obj))
        return 0
    except Fail as e:
        print("nmos_check: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
