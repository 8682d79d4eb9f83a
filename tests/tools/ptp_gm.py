#!/usr/bin/python3
"""A PTPv2 grandmaster whose time is not the system clock's: the lab's
stand-in for a Dante device that won the election with its own idea of
time (ARB timescale, seconds since it booted), or for a grandmaster on
the PTP timescale. Its clock is CLOCK_REALTIME + --offset-s seconds; that
is the time it puts on the wire (Sync/Follow_Up origins, Delay_Resp
receive times), software-timestamped by the kernel. ptp4l with software
timestamps can only send the system clock's own time (GRANDMASTER_SETTINGS_NP
changes what it announces, not the time it sends): lab hosts share one
CLOCK_REALTIME, so a grandmaster far from UTC has to be this.

AES67 media profile, UDP/IPv4 multicast 224.0.1.129, domain 0, two-step,
E2E: Announce every 2^--log-announce s, Sync + Follow_Up every 125 ms,
Delay_Resp to every Delay_Req. DSCP 46. Announce says --timescale
(arb: ptpTimescale 0; ptp: ptpTimescale 1, currentUtcOffset
--utc-offset, valid), clockClass 248, priority1 --priority1. Stops on
SIGTERM/SIGINT; logs one line a second to stdout.

usage: ptp_gm.py IFNAME --offset-s S [--timescale arb|ptp]
       [--utc-offset 37] [--identity 00-1D-C1-FF-FE-12-34-56]
"""
import argparse
import ipaddress
import select
import signal
import socket
import struct
import sys
import time

PTP_GROUP = "224.0.1.129"
EVENT_PORT, GENERAL_PORT = 319, 320
SYNC, DELAY_REQ, FOLLOW_UP, DELAY_RESP, ANNOUNCE = 0x0, 0x1, 0x8, 0x9, 0xB
CONTROL = {SYNC: 0, DELAY_REQ: 1, FOLLOW_UP: 2, DELAY_RESP: 3, ANNOUNCE: 5}
SO_TIMESTAMPNS = 35
SO_TIMESTAMPING = 37
SOF_TX_SOFTWARE = 1 << 1
SOF_RX_SOFTWARE = 1 << 3
SOF_SOFTWARE = 1 << 4
SOF_OPT_TSONLY = 1 << 11
MSG_ERRQUEUE = 0x2000
# flagField: octet 0 holds twoStepFlag, octet 1 the time properties
TWO_STEP = 0x0200
UTC_VALID, PTP_TIMESCALE = 0x0004, 0x0008


class Gm:
    def __init__(self, a):
        self.offset_ns = int(round(a.offset_s * 1e9))
        self.ptp = a.timescale == "ptp"
        self.utc_offset = a.utc_offset
        self.priority1 = a.priority1
        self.log_announce = a.log_announce
        self.identity = bytes(int(x, 16) for x in a.identity.split("-"))
        if len(self.identity) != 8:
            sys.exit("--identity: want 8 bytes as XX-XX-XX-XX-XX-XX-XX-XX")
        self.seq = {SYNC: 0, ANNOUNCE: 0}
        self.sent_sync = self.sent_announce = self.answered = 0
        ifaddr = socket.if_nametoindex(a.ifname)
        self.ev = self.socket(EVENT_PORT, a.ifname, ifaddr)
        self.gen = self.socket(GENERAL_PORT, a.ifname, ifaddr)
        self.ev.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING,
                           SOF_TX_SOFTWARE | SOF_RX_SOFTWARE | SOF_SOFTWARE
                           | SOF_OPT_TSONLY)
        self.ev.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    @staticmethod
    def socket(port, ifname, ifindex):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                     ifname.encode())
        s.bind(("", port))
        mreq = struct.pack("4s4si", socket.inet_aton(PTP_GROUP),
                           socket.inet_aton("0.0.0.0"), ifindex)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreq)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 46 << 2)
        s.setblocking(False)
        return s

    def header(self, mtype, length, seq, log_interval, flags=0):
        return struct.pack(">BBHBBHQI8sHHBb",
                           mtype, 2, length, 0, 0, flags, 0, 0,
                           self.identity, 1, seq & 0xFFFF,
                           CONTROL[mtype], log_interval)

    @staticmethod
    def stamp(ns):
        s, n = divmod(ns, 1000000000)
        return struct.pack(">HIL", (s >> 32) & 0xFFFF, s & 0xFFFFFFFF, n)

    def now_ns(self):
        return time.clock_gettime_ns(time.CLOCK_REALTIME) + self.offset_ns

    def drain_tx_stamps(self):
        """Drops TX times that came too late to be used."""
        while True:
            try:
                self.ev.recvmsg(64, 256, MSG_ERRQUEUE)
            except BlockingIOError:
                return

    def tx_stamp(self):
        """The kernel's software TX time of the Sync just sent, on our
        clock; None if it does not come within 50 ms."""
        end = time.monotonic() + 0.05
        while time.monotonic() < end:
            try:
                _, anc, _, _ = self.ev.recvmsg(64, 256, MSG_ERRQUEUE)
            except BlockingIOError:
                select.select([self.ev], [], [], 0.005)
                continue
            for lvl, typ, data in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPING:
                    sec, nsec = struct.unpack("qq", data[:16])
                    return sec * 1000000000 + nsec + self.offset_ns
        return None

    def send_announce(self):
        flags = (UTC_VALID | PTP_TIMESCALE) if self.ptp else 0
        body = self.stamp(self.now_ns()) + struct.pack(
            ">hBBBBHB8sHB", self.utc_offset if self.ptp else 0, 0,
            self.priority1, 248, 0xFE, 0xFFFF, 128, self.identity, 0,
            0x20 if self.ptp else 0xA0)
        msg = self.header(ANNOUNCE, 34 + len(body), self.seq[ANNOUNCE],
                          self.log_announce, flags) + body
        self.gen.sendto(msg, (PTP_GROUP, GENERAL_PORT))
        self.seq[ANNOUNCE] += 1
        self.sent_announce += 1

    def send_sync(self):
        seq = self.seq[SYNC]
        self.seq[SYNC] += 1
        self.drain_tx_stamps()
        msg = self.header(SYNC, 44, seq, -3, TWO_STEP) + self.stamp(0)
        self.ev.sendto(msg, (PTP_GROUP, EVENT_PORT))
        t = self.tx_stamp()
        if t is None:
            return
        fup = self.header(FOLLOW_UP, 44, seq, -3) + self.stamp(t)
        self.gen.sendto(fup, (PTP_GROUP, GENERAL_PORT))
        self.sent_sync += 1

    def answer_delay_req(self):
        while True:
            try:
                data, anc, _, _ = self.ev.recvmsg(256, 256)
            except BlockingIOError:
                return
            if len(data) < 44 or data[0] & 0x0F != DELAY_REQ:
                continue
            rx = None
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", d[:16])
                    rx = sec * 1000000000 + nsec + self.offset_ns
            if rx is None:
                continue
            seq = struct.unpack(">H", data[30:32])[0]
            corr = data[8:16]
            msg = bytearray(self.header(DELAY_RESP, 54, seq, -3)
                            + self.stamp(rx) + data[20:30])
            msg[8:16] = corr
            self.gen.sendto(bytes(msg), (PTP_GROUP, GENERAL_PORT))
            self.answered += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ifname")
    ap.add_argument("--offset-s", type=float, required=True)
    ap.add_argument("--timescale", choices=("arb", "ptp"), default="arb")
    ap.add_argument("--utc-offset", type=int, default=37)
    ap.add_argument("--identity", default="00-1D-C1-FF-FE-12-34-56")
    ap.add_argument("--priority1", type=int, default=100)
    ap.add_argument("--log-announce", type=int, default=0)
    a = ap.parse_args()
    gm = Gm(a)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print("ptp_gm: %s on %s, clock = CLOCK_REALTIME %+.3f s, timescale %s"
          % (a.identity, a.ifname, a.offset_s, a.timescale), flush=True)
    t = time.monotonic()
    next_sync = next_announce = next_log = t
    while not stop:
        t = time.monotonic()
        if t >= next_announce:
            gm.send_announce()
            next_announce += 2.0 ** a.log_announce
        if t >= next_sync:
            gm.send_sync()
            next_sync += 0.125
            if next_sync < t:
                next_sync = t + 0.125
        if t >= next_log:
            print("ptp_gm: time %.3f announce %d sync %d delay_resp %d"
                  % (gm.now_ns() / 1e9, gm.sent_announce, gm.sent_sync,
                     gm.answered), flush=True)
            next_log += 1.0
        wait = max(0.0, min(next_sync, next_announce) - time.monotonic())
        try:
            select.select([gm.ev], [], [], wait)
        except InterruptedError:
            pass
        gm.answer_delay_req()


if __name__ == "__main__":
    main()
