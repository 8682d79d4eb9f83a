#!/usr/bin/env python3
"""SAP announcer for lab tests (RFC 2974): announces SDP files to
239.255.255.255:9875 from a lab host, as a device (or a forger) would.

usage: sap_announce.py [--from ADDR] [--hash N] [--interval S]
                       [--seconds S | --count N] SDP [SDP ...]

Each announcement reads its file anew (a test changes the SDP under a
running announcer); with several files they take turns (a forger moving
a stream back and forth). Runs until --seconds or --count is reached, or
for ever."""
import argparse
import socket
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--from", dest="origin", default="10.77.0.1",
                   help="origin address, and the interface sent from")
    p.add_argument("--hash", type=lambda v: int(v, 0), default=0x1234,
                   help="message id hash (16 bits)")
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("sdp", nargs="+")
    a = p.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
                 socket.inet_aton(a.origin))
    head = bytes([0x20, 0, a.hash >> 8 & 0xFF, a.hash & 0xFF]) + \
        socket.inet_aton(a.origin) + b"application/sdp\0"
    end = time.time() + a.seconds if a.seconds else None
    n = 0
    while (not a.count or n < a.count) and (end is None or time.time() < end):
        with open(a.sdp[n % len(a.sdp)], "rb") as f:
            s.sendto(head + f.read(), ("239.255.255.255", 9875))
        n += 1
        time.sleep(a.interval)


if __name__ == "__main__":
    main()
