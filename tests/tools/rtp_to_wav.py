#!/usr/bin/python3
"""What a sender put on the wire, as a WAV: the L24 RTP packets to a UDP
port in a capture (classic pcap, as `tshark -F pcap -w` writes it), placed
by their RTP timestamps from the first packet's on. Frames no packet
carried are zeros and counted. Only the first packet's SSRC is taken.
--squeeze drops every all-zero frame (a sender's silence, wherever it
is): of a test signal with no all-zero frame (d4wav gen) what is left
must be the signal itself. A summary goes to stdout:
  packets N frames N missing N ssrcs N silent-runs N silent-frames N
  max-gap-ms G
(silent runs and frames: all-zero stretches between the first and the
last sounding frame, before --squeeze took them out; G: the longest time
between two packets on the wire, a sender's stall).

usage: rtp_to_wav.py CAP.pcap OUT.wav --channels 2 [--port 5004]
                     [--dst GROUP] [--squeeze]
"""
import ipaddress
import argparse
import struct
import sys
import wave


def packets(path, port, dst):
    """(capture time in s, RTP bytes) of each UDP/IPv4 datagram to @port
    (and address @dst, if given), in capture order."""
    with open(path, "rb") as f:
        d = f.read()
    if len(d) < 24:
        sys.exit("%s: not a pcap file" % path)
    magic = struct.unpack("<I", d[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        sys.exit("%s: not a classic pcap file (use tshark -F pcap)" % path)
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(end + "I", d[20:24])[0]
    if linktype != 1:
        sys.exit("%s: link type %d, want Ethernet (1)" % (path, linktype))
    off = 24
    while off + 16 <= len(d):
        sec, frac, incl = struct.unpack(end + "III", d[off:off + 12])
        pkt = d[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 14 + 20 or pkt[12:14] != b"\x08\x00":
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17 or len(ip) < ihl + 8:
            continue
        if dst is not None and ip[16:20] != dst:
            continue
        udp = ip[ihl:]
        if struct.unpack(">H", udp[2:4])[0] != port:
            continue
        yield sec + frac * (1e-9 if nano else 1e-6), udp[8:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("out")
    ap.add_argument("--port", type=int, default=5004)
    ap.add_argument("--channels", type=int, required=True)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--dst", type=ipaddress.IPv4Address)
    ap.add_argument("--squeeze", action="store_true")
    a = ap.parse_args()
    dst = a.dst.packed if a.dst else None
    fs = 3 * a.channels
    ssrc = ts0 = None
    ssrcs = set()
    chunks = {}  # frame index -> payload
    n = 0
    last_t, max_gap = None, 0.0
    for t, rtp in packets(a.pcap, a.port, dst):
        if len(rtp) < 12 or rtp[0] >> 6 != 2:
            continue
        cc = rtp[0] & 15
        ts, s = struct.unpack(">II", rtp[4:12])
        ssrcs.add(s)
        if ssrc is None:
            ssrc, ts0 = s, ts
        if s != ssrc:
            continue
        if last_t is not None:
            max_gap = max(max_gap, t - last_t)
        last_t = t
        payload = rtp[12 + 4 * cc:]
        chunks[(ts - ts0) & 0xFFFFFFFF] = payload[:len(payload) // fs * fs]
        n += 1
    if not n:
        sys.exit("no RTP packets to port %d in %s" % (a.port, a.pcap))
    total = max(i + len(p) // fs for i, p in chunks.items())
    buf = bytearray(total * fs)
    have = 0
    for i, p in chunks.items():
        buf[i * fs:i * fs + len(p)] = p
        have += len(p) // fs
    missing = total - have
    zero = bytes(fs)
    mv = memoryview(buf)
    silent_frame = [mv[i * fs:(i + 1) * fs] == zero for i in range(total)]
    sounding = [i for i in range(total) if not silent_frame[i]]
    runs = silent = 0
    for prev, i in zip(sounding, sounding[1:]):
        if i != prev + 1:
            runs += 1
            silent += i - prev - 1
    if a.squeeze:
        buf = bytearray(b"".join(mv[i * fs:(i + 1) * fs] for i in sounding))
    # L24 is big-endian, WAV little-endian: swap each sample's bytes
    out = bytearray(len(buf))
    out[0::3], out[1::3], out[2::3] = buf[2::3], buf[1::3], buf[0::3]
    nframes = len(buf) // fs
    w = wave.open(a.out, "wb")
    w.setnchannels(a.channels)
    w.setsampwidth(3)
    w.setframerate(a.rate)
    w.writeframes(bytes(out))
    w.close()
    print("packets %d frames %d missing %d ssrcs %d silent-runs %d "
          "silent-frames %d max-gap-ms %.1f"
          % (n, nframes, missing, len(ssrcs), runs, silent, max_gap * 1e3))


if __name__ == "__main__":
    main()
