#!/usr/bin/env python3
"""A small AMWA NMOS IS-04 v1.3 registry for d4's tests: the Registration
API (resources, heartbeats, garbage collection after 12 s without one,
referential integrity, versions) and the Query API (lists, single
resources, equality filters), in memory. Every POST to /resource is
validated against AMWA's JSON schemas (registrationapi-resource-post-
request.json and the resource's own); an invalid one is answered 400 and
counted, so a test can require none. Every request is logged with its
arrival and answer times (monotonic seconds) for request-rate curves:
"ARRIVED METHOD PATH STATUS ANSWERED".

    nmos_registry.py --port 8235 --schemas DIR [--log FILE]
        [--gc SECONDS] [--fail 503] [--stall]

--fail CODE answers every request with CODE (a broken registry); --stall
reads requests and never answers (a black hole). GET /x-d4/stats gives
the counters; POST /x-d4/restart?down=S is a restart without a new
process (whose start a loaded machine may take long over): everything
registered is forgotten and every request answered 503 for S seconds.
Not for production: no auth, no persistence, no WebSockets.
"""
import argparse
import json
import os
import queue
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nmos_schema import Schemas  # noqa: E402

TYPES = ["node", "device", "source", "flow", "sender", "receiver"]
PLURAL = {t: t + "s" for t in TYPES}
SINGULAR = {t + "s": t for t in TYPES}
PARENT = {"device": ("node_id", "node"), "source": ("device_id", "device"),
          "flow": ("device_id", "device"), "sender": ("device_id", "device"),
          "receiver": ("device_id", "device")}
UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-"
    r"[0-9a-f]{12}$")
REG = "/x-nmos/registration/v1.3"
QUERY = "/x-nmos/query/v1.3"


def tai(v):
    s, n = v.split(":")
    return (int(s), int(n))


class Registry:
    def __init__(self, schemas, gc, log):
        self.schemas = schemas
        self.gc = gc
        # reentrant: a handler may log while it holds it
        self.lock = threading.RLock()
        self.res = {t: {} for t in TYPES}
        self.health = {}
        self.down_until = 0.0
        self.logf = open(log, "a", buffering=1) if log else None
        self.stats = {"requests": 0, "posts": 0, "created": 0,
                      "updated": 0, "invalid": 0, "rejected": 0,
                      "heartbeats": 0, "heartbeat_404": 0, "deletes": 0,
                      "expired": 0, "invalid_last": [], "rejected_last": []}

    def log(self, t0, method, path, code):
        """One line per request: its arrival and answer times."""
        if self.logf:
            with self.lock:
                self.logf.write("%.6f %s %s %d %.6f\n" % (
                    t0, method, path, code, time.monotonic()))

    def remove(self, t, rid):
        """Remove a resource and everything under it (lock held)."""
        self.res[t].pop(rid, None)
        if t == "node":
            self.health.pop(rid, None)
        for ct, (key, pt) in PARENT.items():
            if pt != t:
                continue
            for cid in [i for i, d in self.res[ct].items()
                        if d.get(key) == rid]:
                self.remove(ct, cid)

    def post(self, body):
        # registrationapi-resource-post-request.json is a oneOf whose
        # branches differ by "type": only the branch of the body's type
        # can match, so it is checked as that branch, the resource's own
        # schema (node.json...), without trying the other five.
        t = body.get("type") if isinstance(body, dict) else None
        data = body.get("data") if isinstance(body, dict) else None
        errs = []
        if "type" not in body or "data" not in body:
            errs.append("a registration needs \"type\" and \"data\"")
        elif t not in TYPES:
            errs.append("type %r is not one of %s" % (t, TYPES))
        else:
            errs = self.schemas.errors("is-04", t + ".json", data)
        with self.lock:
            self.stats["posts"] += 1
            if errs or t not in TYPES:
                self.stats["invalid"] += 1
                self.stats["invalid_last"] = (
                    self.stats["invalid_last"] + [
                        {"type": t, "errors": errs[:8]}])[-5:]
                return 400, "the resource does not meet its schema: " + \
                    "; ".join(errs[:4]), None
            rid = data["id"]
            for ot in TYPES:
                if ot != t and rid in self.res[ot]:
                    return self.reject(400, "id %s is a %s already" %
                                       (rid, ot))
            if t in PARENT:
                key, pt = PARENT[t]
                if data[key] not in self.res[pt]:
                    return self.reject(400, "%s %s: no %s %s registered"
                                       % (t, rid, pt, data[key]))
            old = self.res[t].get(rid)
            if old is not None:
                if tai(data["version"]) < tai(old["version"]):
                    return self.reject(400, "version %s is older than "
                                       "%s" % (data["version"],
                                               old["version"]))
                if t in PARENT and old[PARENT[t][0]] != data[PARENT[t][0]]:
                    return self.reject(400, "the parent of %s changed"
                                       % rid)
            self.res[t][rid] = data
            if t == "node":
                self.health[rid] = time.monotonic()
            self.stats["updated" if old else "created"] += 1
            loc = "%s/resource/%s/%s" % (REG, PLURAL[t], rid)
            return (200 if old else 201), data, loc

    def reject(self, code, msg):
        self.stats["rejected"] += 1
        self.stats["rejected_last"] = (self.stats["rejected_last"] +
                                       [msg])[-5:]
        return code, msg, None

    def collect(self):
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self.lock:
                for nid in [n for n, t in self.health.items()
                            if now - t > self.gc]:
                    self.stats["expired"] += 1
                    self.remove("node", nid)


class PoolServer(HTTPServer):
    """A few worker threads take accepted connections in turn (one
    request each: HTTP/1.0, closed after the answer), so that hundreds
    of nodes asking at once queue in the kernel's backlog instead of
    starting hundreds of threads that fight over the interpreter."""
    request_queue_size = 1024

    def __init__(self, addr, handler, workers):
        super().__init__(addr, handler)
        self.q = queue.Queue()
        for _ in range(workers):
            threading.Thread(target=self.work, daemon=True).start()

    def process_request(self, request, client_address):
        self.q.put((request, client_address))

    def work(self):
        while True:
            request, addr = self.q.get()
            try:
                self.finish_request(request, addr)
            except Exception:  # noqa: BLE001 - one client's problem
                self.handle_error(request, addr)
            finally:
                self.shutdown_request(request)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "d4-test-registry/1.0"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj=None, headers=None):
        reg = self.server.reg
        if isinstance(obj, str) or (obj is None and code >= 400):
            obj = {"code": code, "error": obj or "error", "debug": None}
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        reg.log(self.t0, self.command, urlparse(self.path).path, code)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return ValueError

    def start(self):
        self.t0 = time.monotonic()
        reg = self.server.reg
        with reg.lock:
            reg.stats["requests"] += 1
        if self.server.stall:
            # a black hole: never answer; let go once the client does
            self.body()
            try:
                while self.connection.recv(4096):
                    pass
            except OSError:
                pass
            return False
        if self.server.fail:
            self.body()
            self.reply(self.server.fail, "failing on purpose (--fail)")
            return False
        if time.monotonic() < reg.down_until:
            self.body()
            self.reply(503, "restarting")
            return False
        return True

    def do_OPTIONS(self):
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods",
                         "GET, POST, DELETE, OPTIONS")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        if not self.start():
            return
        reg = self.server.reg
        url = urlparse(self.path)
        path = url.path.rstrip("/")
        body = self.body()
        if path == "/x-d4/restart":
            down = float(parse_qs(url.query).get("down", ["0"])[0])
            with reg.lock:
                reg.res = {t: {} for t in TYPES}
                reg.health = {}
                reg.down_until = time.monotonic() + down
                reg.stats = dict(reg.stats, heartbeat_404=0, posts=0,
                                 created=0, updated=0)
            return self.reply(200, {"down_s": down})
        if path == REG + "/resource":
            if body is ValueError or not isinstance(body, dict):
                with reg.lock:
                    reg.stats["invalid"] += 1
                return self.reply(400, "the body is not a JSON object")
            code, out, loc = reg.post(body)
            return self.reply(code, out, {"Location": loc} if loc else None)
        m = re.match(r"^%s/health/nodes/([^/]+)$" % REG, path)
        if m:
            with reg.lock:
                reg.stats["heartbeats"] += 1
                if m.group(1) not in reg.res["node"]:
                    reg.stats["heartbeat_404"] += 1
                    known = False
                else:
                    reg.health[m.group(1)] = time.monotonic()
                    known = True
            if not known:
                return self.reply(404, "node %s is not registered"
                                  % m.group(1))
            return self.reply(200, {"health": str(int(time.time()))})
        return self.reply(404, "no such resource")

    def do_DELETE(self):
        if not self.start():
            return
        reg = self.server.reg
        path = urlparse(self.path).path.rstrip("/")
        self.body()
        m = re.match(r"^%s/resource/([a-z]+)/([^/]+)$" % REG, path)
        if not m or m.group(1) not in SINGULAR:
            return self.reply(404, "no such resource")
        t, rid = SINGULAR[m.group(1)], m.group(2)
        with reg.lock:
            reg.stats["deletes"] += 1
            found = rid in reg.res[t]
            if found:
                reg.remove(t, rid)
        if not found:
            return self.reply(404, "%s %s is not registered" % (t, rid))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        reg.log(self.t0, "DELETE", path, 204)

    def do_GET(self):
        if not self.start():
            return
        reg = self.server.reg
        url = urlparse(self.path)
        path = url.path.rstrip("/")
        if path == "/x-d4/stats":
            with reg.lock:
                st = dict(reg.stats)
                st["counts"] = {PLURAL[t]: len(reg.res[t]) for t in TYPES}
            return self.reply(200, st)
        bases = {"/x-nmos": ["registration/", "query/"],
                 "/x-nmos/registration": ["v1.3/"],
                 "/x-nmos/query": ["v1.3/"],
                 REG: ["resource/", "health/"],
                 QUERY: [PLURAL[t] + "/" for t in TYPES]}
        if path in bases:
            return self.reply(200, bases[path])
        m = re.match(r"^%s/resource/([a-z]+)/([^/]+)$" % REG, path)
        if m and m.group(1) in SINGULAR:
            with reg.lock:
                d = reg.res[SINGULAR[m.group(1)]].get(m.group(2))
            return self.reply(200, d) if d else self.reply(404, "none")
        m = re.match(r"^%s/health/nodes/([^/]+)$" % REG, path)
        if m:
            with reg.lock:
                t = reg.health.get(m.group(1))
            if t is None:
                return self.reply(404, "node is not registered")
            return self.reply(200, {"health": str(int(time.time()))})
        m = re.match(r"^%s/([a-z]+)(?:/([^/]+))?$" % QUERY, path)
        if m and m.group(1) in SINGULAR:
            t = SINGULAR[m.group(1)]
            with reg.lock:
                d = reg.res[t].get(m.group(2)) if m.group(2) else None
                items = list(reg.res[t].values())
            if m.group(2):
                return (self.reply(200, d) if d else
                        self.reply(404, "no %s %s" % (t, m.group(2))))
            q = parse_qs(url.query)
            for k, vals in q.items():
                if k.startswith("paging."):
                    continue
                items = [i for i in items if str(i.get(k)) == vals[0] or
                         (isinstance(i.get(k), bool) and
                          str(i.get(k)).lower() == vals[0])]
            return self.reply(200, items)
        return self.reply(404, "no such resource")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8235)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--log")
    ap.add_argument("--gc", type=float, default=12.0)
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--stall", action="store_true")
    a = ap.parse_args()

    srv = PoolServer((a.bind, a.port), Handler, 4)
    srv.reg = Registry(Schemas(a.schemas), a.gc, a.log)
    srv.fail = a.fail
    srv.stall = a.stall
    threading.Thread(target=srv.reg.collect, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("registry listening on %s:%d%s" % (
        a.bind, a.port, " (failing %d)" % a.fail if a.fail else
        " (stalling)" if a.stall else ""), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
