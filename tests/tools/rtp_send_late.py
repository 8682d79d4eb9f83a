#!/usr/bin/python3
"""An AES67 sender with a fault: its packets leave --late-ms after their RTP
timestamps (the timestamp of its first sample, on lab PTP time, the CLOCK_REALTIME of the grandmaster's ARB
timescale; mediaclk offset 0) and carry IP TOS --tos. A Raspberry Pi sender
was seen putting its packets 23.7 ms late on the wire (issue 22): this is
that sender. 2 channels L24 48 kHz, 1 ms packets of silence, paced by
absolute deadlines, for --seconds.

usage: rtp_send_late.py GROUP PORT --late-ms 23.7 --tos 184 --seconds 8
"""
import argparse
import socket
import struct
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("group")
    ap.add_argument("port", type=int)
    ap.add_argument("--late-ms", type=float, default=0.0)
    ap.add_argument("--tos", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, a.tos)
    payload = bytes(48 * 2 * 3)
    late_ns = int(a.late_ms * 1e6)
    now = time.clock_gettime_ns(time.CLOCK_REALTIME)
    # packet k carries samples from t0 + k ms and leaves --late-ms after
    t0 = (now // 1000000 + 5) * 1000000
    seq, ssrc = 0, 0x1234abcd
    end = t0 + int(a.seconds * 1e9)
    k = 0
    while True:
        stamp_ns = t0 + k * 1000000
        if stamp_ns > end:
            break
        due = stamp_ns + late_ns
        while True:
            left = due - time.clock_gettime_ns(time.CLOCK_REALTIME)
            if left <= 0:
                break
            time.sleep(min(left, 500000) / 1e9)
        ts = (stamp_ns * 48000 // 1000000000) & 0xffffffff
        hdr = struct.pack("!BBHII", 0x80, 98, seq & 0xffff, ts, ssrc)
        s.sendto(hdr + payload, (a.group, a.port))
        seq += 1
        k += 1


if __name__ == "__main__":
    main()
