#!/usr/bin/env python3
"""Write the fuzz seed corpora under corpus/TARGET/ in the input format of
each harness (see the comment at the top of fuzz_TARGET.c). Seeds are named
"seed-*"; files named by a hash were kept by libFuzzer or are reproducers,
and are left alone. Run after adding cases or fixtures:
    python3 tests/fuzz/seed_corpus.py [TARGET...]      (default: all)

ptp_mgmt's seeds are real ptp4l 3.1.1 replies, captured once from a
follower (free_running 1) and its grandmaster on a veth pair between two
network namespaces: the five datasets d4 asks for, TIME_STATUS_NP before
the follower found its master, two datasets d4 ignores (VERSION_NUMBER,
DEFAULT_DATA_SET) and two error replies (WRONG_LENGTH to an empty SET of
PORT_DATA_SET, NOT_SUPPORTED to a GET of 0x0003). They are kept as files,
not generated here."""
import os
import re
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
corpus = os.path.join(here, "corpus")


def write(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- d4: the D4 test cases ----

def sections(text):
    parts = re.split(r"^-- ", text, flags=re.M)
    for p in parts[1:]:
        head, _, body = p.partition("\n")
        yield head.split(), body


def seed_d4():
    """Each case's program, a NUL byte, then its input packets as the
    harness reads them (2-byte big-endian length, bytes)."""
    cases = os.path.join(here, "..", "d4", "cases")
    out = os.path.join(corpus, "d4")
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(cases)):
        if not name.endswith(".d4"):
            continue
        with open(os.path.join(cases, name)) as f:
            text = f.read()
        src, pkts = None, []
        for head, body in sections(text):
            if head[0] == "src" and src is None:
                src = body
            elif head[0] == "srcfile" and src is None:
                # an example program, by path from the cases folder
                with open(os.path.join(cases, head[1])) as f:
                    src = f.read()
            elif head[0] == "in":
                hexs = re.sub(r"#.*", "", body)
                pkts.append(bytes.fromhex("".join(hexs.split())))
        if src is None or len(src) > 8000:
            continue
        data = src.encode() + b"\0"
        for p in pkts:
            data += len(p).to_bytes(2, "big") + p
        # d4 keeps its historical names (case-*); d4_bpf (the kernel
        # back end's translator) takes the same inputs
        for target in ("d4", "d4_bpf"):
            d = os.path.join(corpus, target)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "case-" + name[:-3]), "wb") as f:
                f.write(data)
        n += 1
    return n


# ---- SDP ----

def fixtures():
    """The SDPs of real gear, by name."""
    d = os.path.join(root, "tests", "data", "sdp")
    out = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".sdp"):
            continue  # PROVENANCE, expect.tsv
        with open(os.path.join(d, name), "rb") as f:
            out[name[:-4]] = f.read()
    return out


D4_SDP = ("v=0\r\no=- 1311738121 1311738121 IN IP4 10.0.0.1\r\n"
          "s=tone-lineup\r\nc=IN IP4 239.69.0.2/16\r\nt=0 0\r\n"
          "m=audio 5004 RTP/AVP 98\r\ni=8 channels\r\n"
          "a=rtpmap:98 L24/48000/8\r\na=ptime:1\r\n"
          "a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-50-36-33:0\r\n"
          "a=mediaclk:direct=0\r\na=recvonly\r\n")

EXTRA_SDP = {
    # what d4 writes (Dante's line order)
    "d4-writer": D4_SDP,
    # LF only, free-running d4 (localmac), 125 us L16
    "lf-localmac": D4_SDP.replace("\r\n", "\n")
    .replace("ptp=IEEE1588-2008:00-1D-C1-FF-FE-50-36-33:0",
             "localmac=00-1D-C1-50-36-33")
    .replace("L24/48000/8", "L16/96000/2").replace("ptime:1", "ptime:0.125"),
    # PipeWire style: traceable clock, session-level c= and attributes
    "pipewire-traceable": "v=0\no=- 42 0 IN IP4 192.168.1.5\ns=pw\n"
    "c=IN IP4 239.1.2.3/32\nt=0 0\n"
    "a=ts-refclk:ptp=IEEE1588-2008:traceable\n"
    "a=mediaclk:direct=0\nm=audio 46000 RTP/AVP 127\n"
    "a=rtpmap:127 L16/48000/2\na=ptime:2\na=sendonly\n",
    # RFC 7273 domain forms and a 2002 clock
    "refclk-domain-nmbr": D4_SDP.replace(
        ":0\r\n", ":domain-nmbr=3\r\n", 1),
    "refclk-2002": D4_SDP.replace(
        "IEEE1588-2008:00-1D-C1-FF-FE-50-36-33:0",
        "IEEE1588-2002:00-1D-C1-FF-FE-50-36-33:domain-name=_ALT1"),
    # a video section first, the audio one second; then a second audio leg
    "video-then-audio-dup": "v=0\r\no=- 7 8 IN IP4 10.0.0.7\r\ns=av\r\n"
    "t=0 0\r\na=group:DUP a b\r\nm=video 5000 RTP/AVP 96\r\n"
    "c=IN IP4 239.0.0.1/32\r\na=rtpmap:96 raw/90000\r\n"
    "m=audio 5004 RTP/AVP 98 99\r\nc=IN IP4 239.0.0.2/32\r\n"
    "a=rtpmap:98 L24/44100/4\r\na=rtpmap:99 L16/44100/4\r\n"
    "a=framecount:48\r\na=source-filter: incl IN IP4 * 10.0.0.7\r\n"
    "a=mid:a\r\nm=audio 5004 RTP/AVP 98\r\nc=IN IP4 239.0.1.2/32\r\n"
    "a=rtpmap:98 L24/44100/4\r\na=mid:b\r\n",
    # a static payload type, no rtpmap; unicast, no TTL
    "static-pcmu-unicast": "v=0\no=user 1 1 IN IP4 10.0.0.3\ns= \n"
    "c=IN IP4 10.0.0.9\nt=0 0\nm=audio 5004/2 RTP/AVP 0\na=inactive\n",
    # rejected: each names its line
    "bad-version": "v=1\r\n",
    "bad-rtpmap": D4_SDP.replace("L24/48000/8", "L24/x/8"),
    "bad-conn": D4_SDP.replace("239.69.0.2/16", "239.69.0/16"),
    "missing-rtpmap": D4_SDP.replace("a=rtpmap:98 L24/48000/8\r\n", ""),
    "nul-inside": D4_SDP.replace("a=ptime:1", "a=ptime:1\0garbage"),
}


def all_sdps():
    out = dict(fixtures())
    out.update({k: v.encode() if isinstance(v, str) else v
                for k, v in EXTRA_SDP.items()})
    return out


def seed_sdp():
    n = 0
    for name, text in all_sdps().items():
        write("sdp", name, text)
        n += 1
    return n


# ---- SAP: records of 2-byte length, step byte, packet ----

MIME = b"application/sdp\0"


def sap_packet(sdp, origin=b"\x0a\x00\x00\x01", hash_=0xbeef, delete=False,
               mime=True, auth=b""):
    assert len(auth) % 4 == 0
    h = bytes([0x20 | (0x04 if delete else 0), len(auth) // 4,
               hash_ >> 8, hash_ & 0xff]) + origin + auth
    return h + (MIME if mime else b"") + sdp


def sap_records(*recs):
    """(step, packet) pairs in the harness's record format."""
    out = b""
    for step, pkt in recs:
        out += struct.pack(">HB", len(pkt), step) + pkt
    return out


def origin_line(sdp):
    m = re.search(rb"^o=.*$", sdp, re.M)
    return m.group(0).rstrip(b"\r") + b"\r\n"


def seed_sap():
    n = 0
    sdps = all_sdps()
    for i, (name, sdp) in enumerate(fixtures().items()):
        # announced at 30 s intervals, then deleted by its o= line
        write("sap", "fixture-" + name, sap_records(
            (0, sap_packet(sdp, hash_=0x100 + i)),
            (30, sap_packet(sdp, hash_=0x100 + i)),
            (30, sap_packet(sdp, hash_=0x100 + i, mime=False)),
            (1, sap_packet(origin_line(sdp), hash_=0x100 + i, delete=True))))
        n += 1
    d4 = sdps["d4-writer"]
    changed = d4.replace(b"1311738121 1311738121", b"1311738121 1311738122")
    write("sap", "change-then-expire", sap_records(
        (0, sap_packet(d4, hash_=1)), (1, sap_packet(d4, hash_=1)),
        (1, sap_packet(changed, hash_=2)), (0xff, sap_packet(changed, hash_=2)),
        (0xff, sap_packet(d4, hash_=1))))
    # more sessions than the table holds: evictions
    flood = []
    for k in range(7):
        s = d4.replace(b"1311738121 1311738121", b"%d 1" % (1000 + k))
        flood.append((1, sap_packet(s, origin=bytes([10, 0, 0, 2 + k]),
                                    hash_=k + 1)))
    write("sap", "flood-evict", sap_records(*flood))
    # our own origin, auth data, a deletion by hash only, an invalid SDP
    write("sap", "own-auth-delete-hash", sap_records(
        (0, sap_packet(sdps["pipewire-traceable"], auth=b"\1\2\3\4" * 2)),
        (2, sap_packet(b"v=0\r\ns=not valid\r\n", hash_=7)),
        (2, sap_packet(b"", hash_=7, delete=True, mime=False))))
    # refused packets: version, flags, truncations, payload types
    bad = [bytes([0x00, 0, 0, 1]) + b"\x0a\0\0\1" + MIME + d4,
           bytes([0x22, 0, 0, 1]) + b"\x0a\0\0\1" + d4,
           bytes([0x21, 0, 0, 1]) + b"\x0a\0\0\1" + d4,
           bytes([0x30, 0, 0, 1]) + b"\x0a\0\0\1" * 4 + d4,
           b"\x20\x00\x00",
           bytes([0x20, 9, 0, 1]) + b"\x0a\0\0\1" + b"1234",
           bytes([0x20, 0, 0, 1]) + b"\x0a\0\0\1" + b"text/plain\0hi",
           bytes([0x20, 0, 0, 1]) + b"\x0a\0\0\1" + b"application/sdp",
           bytes([0x20, 0, 0, 1]) + b"\x0a\0\0\1" + MIME]
    write("sap", "refused", sap_records(*[(0, b) for b in bad]))
    return n + 4


# ---- RTSP: a byte picking the read size, then the stream ----

REQ_DESCRIBE = ("DESCRIBE rtsp://10.0.0.1:9010/by-name/Stage%20left RTSP/1.0"
                "\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n")
# what GStreamer's rtspsrc and ffmpeg send first
REQ_GST = ("OPTIONS rtsp://10.0.0.1:9010/by-name/tone RTSP/1.0\r\n"
           "CSeq: 1\r\nUser-Agent: GStreamer/1.22.0\r\n\r\n"
           "DESCRIBE rtsp://10.0.0.1:9010/by-name/tone RTSP/1.0\r\n"
           "CSeq: 2\r\nUser-Agent: GStreamer/1.22.0\r\n"
           "Accept: application/sdp\r\n\r\n")
REQ_FFMPEG = ("OPTIONS rtsp://10.0.0.1:9010/by-name/tone RTSP/1.0\r\n"
              "CSeq: 1\r\nUser-Agent: Lavf59.27.100\r\n\r\n"
              "DESCRIBE rtsp://10.0.0.1:9010/by-name/tone RTSP/1.0\r\n"
              "Accept: application/sdp\r\nCSeq: 2\r\n"
              "User-Agent: Lavf59.27.100\r\n\r\n")
# aes67-linux-daemon's and RAVENNA's source browsers
REQ_RAVENNA = ("DESCRIBE /by-name/Stage%20left/ RTSP/1.0\r\nCSeq: 312\r\n"
               "Accept: application/sdp\r\n\r\n")


def seed_rtsp():
    seeds = {
        "describe": (255, REQ_DESCRIBE),
        "gstreamer": (255, REQ_GST),
        "ffmpeg-trickle": (0, REQ_FFMPEG),
        "ravenna": (16, REQ_RAVENNA),
        "lf-pipelined-body": (255, "OPTIONS * RTSP/1.0\nCSeq:1\n\n"
                              "ANNOUNCE * RTSP/1.0\nCSeq: 2\n"
                              "Content-Length: 5\n\nhello"
                              "\r\nSETUP * RTSP/1.0\r\nCSeq: 3\r\n\r\n"
                              "TEARDOWN * RTSP/1.0\r\nCSeq: 4\r\n\r\n"
                              "FOO * RTSP/1.0\r\nCSeq: 5\r\n\r\n"),
        "not-found-and-bad-uri": (255, "DESCRIBE /by-name/nope RTSP/1.0\r\n"
                                  "CSeq: 1\r\n\r\n"
                                  "DESCRIBE /by-name/%zz RTSP/1.0\r\n"
                                  "CSeq: 2\r\n\r\n"
                                  "DESCRIBE /other/x RTSP/1.0\r\n"
                                  "CSeq: 3\r\n\r\n"),
        "version-2": (255, "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n"),
        "no-cseq": (255, "OPTIONS * RTSP/1.0\r\nX-Pad: \t x \t\r\n\r\n"),
        "http": (255, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        "control-char": (255, "OPTIONS * RTSP/1.0\r\nCSeq: 1\x01\r\n\r\n"),
        "body-too-long": (255, "ANNOUNCE * RTSP/1.0\r\nCSeq: 1\r\n"
                          "Content-Length: 99999\r\n\r\n"),
        "head-too-long": (255, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" +
                          "".join("X-%d: %s\r\n" % (k, "v" * 250)
                                  for k in range(17))),
    }
    for name, (b, text) in seeds.items():
        write("rtsp", name, bytes([b]) + text.encode())
    return len(seeds)


def response(status, reason, cseq, body=None, extra=""):
    head = "RTSP/1.0 %d %s\r\n" % (status, reason)
    if cseq is not None:
        head += "CSeq: %d\r\n" % cseq
    head += extra
    if body is not None:
        head += "Content-Type: application/sdp\r\n"
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + (body or b"")


def seed_rtsp_client():
    sdps = all_sdps()
    seeds = {
        # d4's own server, aes67-linux-daemon (LF), a RAVENNA device
        "d4-200": (255, response(200, "OK", 1, sdps["d4-writer"],
                                 "Server: d4/0.1.0\r\nContent-Base: "
                                 "rtsp://10.0.0.1:9010/by-name/tone/\r\n")),
        "daemon-200-lf": (7, response(200, "OK", 1,
                                      sdps["aes67-linux-daemon-2ch"])
                          .replace(b"\r\n", b"\n", 5)),
        "merging-200": (255, response(200, "OK", 1,
                                      sdps["merging-anubis-l16"])),
        "404": (255, response(404, "Not Found", 1)),
        "454-no-reason": (255, b"RTSP/1.0 454\r\nCSeq: 1\r\n\r\n"),
        "200-short-body": (255, response(200, "OK", 1, b"v=0\r\n")[:-2]),
        "200-no-length": (255, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\nv=0\r\n"),
        "http-answer": (255, b"HTTP/1.1 200 OK\r\n\r\n"),
        "too-long-body": (255, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n"
                          b"Content-Length: 70000\r\n\r\n"),
        "head-too-long": (255, b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n" +
                          b"".join(b"X-%d: %s\r\n" % (k, b"v" * 250)
                                   for k in range(17))),
    }
    for name, (b, data) in seeds.items():
        write("rtsp_client", name, bytes([b]) + data)
    return len(seeds)


# ---- config: INI text ----

CONFIGS = {
    "full": """# every section
[node]
name = stage-box
status_interval = 0
spin_us = 100
rt_priority = 0

[ptp]
mode = external
clock = follow
domain = 3
lock_threshold = 250ns
holdover = 10s

[source music]
type = file
path = lineup.flac
loop = false
start = 1795000000.5

[source tone]
type = tone
channels = 8
rate = 96000
frequency = 1000, 250, 500
level = -18, -20

[flow main]
source = tone
channels = 1-4,8
destination = 239.69.0.1:5004
encoding = L16
rate = 96000
ptime = 125us
payload_type = 100
dscp = 46
ttl = 32
sdp_file = /tmp/x.sdp

[subscription in]
sdp = stream.sdp
latency = 2ms
timing = arrival

[subscription raw]
address = 10.0.0.1:6000
encoding = L24
channels = 64
rate = 44100
ptime = 333us
payload_type = 0
mediaclk_offset = 4294967295
source_filter = 10.0.0.2

[sink take]
subscription = in
channels = 2,1
path = take.flac
format = flac
bits = 16
start = now
duration = 500ms

[sink drop]
type = null
subscription = raw

[d4 relay]
file = relay.d4
exec = _receivers += 10.0.0.5:5004
bind = main udp 239.1.1.1:5004
dscp = 34
ttl = 4
""",
    "spawn-phc": "[ptp]\nmode = spawn\nclock = phc\nphc = /dev/ptp0\n"
    "ptp4l = /usr/sbin/ptp4l\nptp4l_config = aes67-media.cfg\n"
    "interface = eth0\nuds = /var/run/ptp4l\n",
    "discovery": "[discovery]\nsap = true\nsap_interval = 30s\n"
    "sap_ttl = 15\nmdns = true\nrtsp_port = 9010\n\n"
    "[subscription s]\nstream = Stage left\n",
    "sdp-l16-pcmu": "[subscription a]\nsdp = l16.sdp\n"
    "[subscription b]\nsdp = pcmu.sdp\n[sink k]\nsubscription = a\n"
    "type = null\n",
    "more-keys": "[node]\napi = 127.0.0.1:8080\napi_read_token = yes\n"
    "state_dir = /var/lib/d4\n[discovery]\nsap_timeout_factor = 4\n"
    "sap_timeout_floor = 30s\nsap_group = 239.255.255.255\n"
    "[ptp]\nmode = off\n[source s]\ntype = silence\n[source m]\n"
    "type = alsa\n[subscription a]\nsdp = stream.sdp\ntiming = ptp\n"
    "[subscription b]\nstream = Stage left\nchannels = 2\ntiming = auto\n"
    "[sink w]\nsubscription = a\npath = a.wav\nformat = wav\n"
    "[sink x]\nsubscription = a\npath = a.aiff\nformat = aiff\n"
    "[sink y]\nsubscription = b\npath = b.w64\nformat = w64\n"
    "[sink z]\nsubscription = b\ntype = alsa\n",
    "errors-sink-channel": "[subscription a]\nsdp = stream.sdp\n"
    "[sink k]\nsubscription = a\nchannels = 3\npath = k.wav\n",
    "errors-sink-path": "[subscription a]\nsdp = stream.sdp\n"
    "[sink k]\nsubscription = a\n",
    "errors-bad-sdp": "[subscription a]\nsdp = bad.sdp\n",
    "errors-ref": "[flow f]\nsource = nope\ndestination = 239.1.1.1\n",
    "errors-value": "[flow f]\nptime = 2ms\n",
    "errors-long-line": "[node]\nname = " + "x" * 250 + "\n",
    "errors-empty-section": "[node]\n[node]\n[source]\n",
}


def seed_config():
    n = 0
    for name in sorted(os.listdir(os.path.join(root, "examples"))):
        if name.endswith(".ini"):
            with open(os.path.join(root, "examples", name), "rb") as f:
                write("config", "example-" + name[:-4], f.read())
            n += 1
    for name, text in CONFIGS.items():
        write("config", name, text)
        n += 1
    return n


# ---- RTP: 8 config bytes, then records of length, control, datagram ----

T_BASE_S = 1800000000
RATES = [48000, 96000, 44100, 88200, 192000, 8000, 1, 32000]


def rtp_config(l24, timing, filt, unlocked, rate_i, ch, pt, lat_i, fpp_i,
               offset):
    b0 = (l24 | timing << 1 | filt << 3 | unlocked << 4 | rate_i << 5)
    return bytes([b0, ch - 1, pt, lat_i | fpp_i << 2]) + \
        struct.pack(">I", offset)


def rtp_packet(pt, seq, ts, ssrc, payload, csrc=0, ext=b"", pad=0,
               version=2):
    b0 = version << 6 | csrc | (0x10 if ext else 0) | (0x20 if pad else 0)
    h = struct.pack(">BBHII", b0, pt, seq & 0xffff, ts & 0xffffffff, ssrc)
    h += b"\0\0\0\1" * csrc
    if ext:
        h += struct.pack(">HH", 0xbede, len(ext) // 4) + ext
    return h + payload + (bytes(pad - 1) + bytes([pad]) if pad else b"")


def rtp_stream(cfg, rate, ch, bps, pt, fpp, offset, n, step=8, order=None,
               extra=()):
    """n packets of a PTP-timed stream, one per step x 125 us."""
    x0 = (T_BASE_S * rate) // fpp * fpp
    out = cfg
    order = order or range(n)
    for k in order:
        payload = bytes((k * 7 + i) & 0xff for i in range(fpp * ch * bps))
        pkt = rtp_packet(pt, 1000 + k, x0 + k * fpp + offset, 0x1234,
                         payload)
        out += struct.pack(">HB", len(pkt), step) + pkt
    for ctl, pkt in extra:
        out += struct.pack(">HB", len(pkt), ctl) + pkt
    return out


def seed_rtp():
    seeds = {}
    # AES67 default: L24 2 ch 48 kHz 1 ms, PTP timed
    cfg = rtp_config(1, 1, 0, 0, 0, 2, 98, 0, 1, 0)
    seeds["l24-2ch-1ms"] = rtp_stream(cfg, 48000, 2, 3, 98, 48, 0, 6)
    # Dante-like offset, auto timing, reordered and duplicated
    cfg = rtp_config(1, 0, 0, 0, 0, 2, 97, 2, 1, 1266592257)
    seeds["auto-reorder-dup"] = rtp_stream(
        cfg, 48000, 2, 3, 97, 48, 1266592257, 6, order=[0, 2, 1, 3, 3, 5])
    # L16 8 ch 96 kHz 125 us (12 frames), arrival timing, lost packets
    cfg = rtp_config(0, 2, 0, 0, 1, 8, 96, 1, 3, 0)
    seeds["l16-8ch-96k-loss"] = rtp_stream(
        cfg, 96000, 8, 2, 96, 12, 12345, 8, step=1,
        order=[0, 1, 4, 5, 7, 8, 9, 10])
    # 64 ch L24 at 125 us, 44.1 kHz, source filter, foreign packets
    cfg = rtp_config(1, 1, 1, 0, 2, 64, 98, 0, 2, 0)
    foreign = rtp_packet(98, 1, 0, 0x99, bytes(6 * 64 * 3))
    seeds["64ch-filter-foreign"] = rtp_stream(
        cfg, 44100, 64, 3, 98, 6, 0, 3, step=1,
        extra=[(0x41, foreign), (0x01, foreign)])
    # header forms: CSRCs, extension, padding; and malformed ones
    cfg = rtp_config(1, 1, 0, 0, 0, 1, 98, 0, 0, 0)
    x0 = T_BASE_S * 48000
    pay = bytes(48 * 3)
    pkts = [rtp_packet(98, 1, x0, 7, pay, csrc=2),
            rtp_packet(98, 2, x0 + 48, 7, pay, ext=b"\1\2\3\4"),
            rtp_packet(98, 3, x0 + 96, 7, pay, pad=4),
            rtp_packet(98, 4, x0 + 144, 7, pay, version=1),
            rtp_packet(98, 5, x0 + 192, 7, pay[:-1]),
            rtp_packet(99, 6, x0 + 240, 7, pay),
            rtp_packet(98, 7, x0 + 288, 7, b""),
            rtp_packet(98, 8, x0 + 336, 7, pay, csrc=15)[:40],
            rtp_packet(98, 9, x0 + 384, 8, pay),  # a new SSRC
            b"\x80\x62\x00"]
    out = cfg
    for p in pkts:
        out += struct.pack(">HB", len(p), 8) + p
    seeds["header-forms"] = out
    # a late stream, then a clock step (resync) and the lock flipping
    cfg = rtp_config(1, 1, 0, 0, 0, 2, 98, 1, 1, 0)
    late = rtp_stream(cfg, 48000, 2, 3, 98, 48, 0, 2, step=0x94)
    seeds["late-resync-unlock"] = late + b"\0\0\x01" + b"\0\0\x02" + \
        rtp_stream(b"", 48000, 2, 3, 98, 48, 0, 3, step=8)
    for name, data in seeds.items():
        write("rtp", name, data)
    return len(seeds)


# ---- api: a byte picking the request, then the body ----

# The requests of kinds[] in fuzz_api.c, in its order.
API_KINDS = [
    "POST /flows", "POST /subscriptions", "PUT /subscriptions/fz",
    "PUT /subscriptions/api", "PUT /subscriptions/named",
    "PUT /channels/tx/1", "PUT /channels/tx/3", "PUT /channels/rx/1",
    "PUT /channels/rx/8", "PUT /node", "POST /d4/exec",
    "POST /d4/programs/fz/start", "POST /d4/programs/fz/stop",
    "POST /d4/programs/flow_fz_main_0123456789abcdef/start",
    "POST /d4/programs/flow_fz_main_0123456789abcdef/stop",
    "GET /d4/vars", "GET /d4/programs", "GET /channels",
]
API_REPEAT = 0x80  # make, delete, and again REPEATS times

API_SDP = ("v=0\r\no=- 7 1 IN IP4 10.0.0.7\r\ns=Stage left\r\n"
           "c=IN IP4 239.69.1.2/32\r\nt=0 0\r\nm=audio 5008 RTP/AVP 98\r\n"
           "a=rtpmap:98 L24/48000/8\r\na=ptime:1\r\n"
           "a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-50-36-33:0\r\n"
           "a=mediaclk:direct=963\r\n")


def seed_api():
    """Valid and refused requests of docs/api.md, tests/unit/test_api.c
    and tests/lab/api.sh, one per file."""
    import json
    seeds = {
        # flows
        "flow-unicast": ("POST /flows", {
            "name": "mon", "source": "program", "channels": [2, 1],
            "destination": "127.0.0.1:5010", "ptime_us": 250}),
        "flow-multicast-l16-again": ("POST /flows", {
            "name": "mc", "source": "aux", "destination": "239.69.1.1:5004",
            "encoding": "L16", "ptime_us": 125, "dscp": 46, "ttl": 4},
            API_REPEAT),
        "flow-interface": ("POST /flows", {
            "name": "stage left", "source": "program",
            "destination": "127.0.0.1", "interface": "lo"}),
        "flow-bad-channel": ("POST /flows", {
            "name": "bad", "source": "program", "channels": [1, 3],
            "destination": "127.0.0.1"}),
        "flow-bad-destination": ("POST /flows", {
            "name": "bad", "source": "program",
            "destination": "10.0.0.300:5004"}),
        "flow-bad-ptime": ("POST /flows", {
            "name": "bad", "source": "program", "ptime_us": 100,
            "destination": "127.0.0.1"}),
        "flow-exists": ("POST /flows", {
            "name": "fz-main-0123456789abcdef", "source": "program",
            "destination": "127.0.0.1"}),
        "flow-no-body": ("POST /flows", None),
        "flow-broken-json": ("POST /flows", '{"name": broken'),
        # subscriptions
        "sub-address-rx": ("POST /subscriptions", {
            "name": "uni", "address": "127.0.0.1:5012", "channels": 2,
            "latency_us": 2000, "rx_channels": [3, 4]}),
        "sub-sdp-again": ("POST /subscriptions", {
            "name": "bysdp", "sdp": API_SDP, "timing": "arrival",
            "rx_channels": [6], "stream_channels": [8]}, API_REPEAT),
        "sub-stream-record": ("POST /subscriptions", {
            "name": "take", "stream": "Stage left", "timing": "ptp",
            "latency_us": 10000, "record": {
                "path": "take.wav", "start": 1800000000.5, "duration": 3}}),
        "sub-multicast-record": ("POST /subscriptions", {
            "name": "rec", "address": "239.69.1.1:5004", "encoding": "L16",
            "rate": 96000, "ptime_us": 125, "payload_type": 97,
            "channels": 8, "record": {"path": "rec.wav"}}),
        "sub-rx-taken": ("POST /subscriptions", {
            "name": "b", "stream": "nosuch B", "rx_channels": [2, 3]}),
        "sub-two-kinds": ("POST /subscriptions", {
            "name": "bad", "stream": "x", "address": "127.0.0.1"}),
        "sub-bad-rate-rx": ("POST /subscriptions", {
            "name": "bad", "address": "127.0.0.1:5004", "rate": 44100,
            "rx_channels": [1]}),
        "sub-bad-sdp": ("POST /subscriptions", {
            "name": "bad", "sdp": "v=0\r\no=broken\r\n"}),
        "sub-array-body": ("POST /subscriptions", "[1, 2]"),
        # updates and renames
        "latency-fz": ("PUT /subscriptions/fz", {"latency_us": 5000}),
        "latency-api": ("PUT /subscriptions/api", {"latency_us": 3000}),
        "latency-named": ("PUT /subscriptions/named", {"latency_us": 250}),
        "latency-bad": ("PUT /subscriptions/api", {"latency_us": "2000"}),
        "tx1-vox": ("PUT /channels/tx/1", {"name": "Vox"}),
        "tx3-aux": ("PUT /channels/tx/3", {"name": "Aux 1"}),
        "rx1-return": ("PUT /channels/rx/1",
                       {"name": "Return L abcdefghijklmnopqrstu"}),
        "rx8-digits": ("PUT /channels/rx/8", {"name": "1-2,3"}),
        "node-rename": ("PUT /node", {"name": "Stage-Left"}),
        "node-bad-name": ("PUT /node", {"name": "-stage"}),
        # D4
        "exec-list": ("POST /d4/exec", {"text": "IP[] _api_list"}),
        "exec-route": ("POST /d4/exec", {
            "text": "_fz_main_0123456789ab_receivers += 127.0.0.1:5030"}),
        "exec-loop-fz": ("POST /d4/exec",
                         {"text": "loop fz {\npkt = recv()\n}\n"}),
        "exec-undefined": ("POST /d4/exec", {"text": "x += 1"}),
        "exec-not-text": ("POST /d4/exec", {"text": 7}),
        "start-fz": ("POST /d4/programs/fz/start", None),
        "stop-main": ("POST /d4/programs/flow_fz_main_0123456789abcdef/stop",
                      "{}"),
        "start-main": (
            "POST /d4/programs/flow_fz_main_0123456789abcdef/start", None),
        # reads with a body
        "vars": ("GET /d4/vars", "{}"),
        "programs-bad-body": ("GET /d4/programs", "[1"),
        "channels": ("GET /channels", None),
    }
    for name, seed in seeds.items():
        kind, body = seed[0], seed[1]
        flags = seed[2] if len(seed) > 2 else 0
        if body is None:
            body = ""
        elif not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"))
        write("api", name, bytes([API_KINDS.index(kind) | flags]) +
              body.encode())
    return len(seeds)


TARGETS = {
    "d4": seed_d4,
    "sdp": seed_sdp,
    "sap": seed_sap,
    "rtsp": seed_rtsp,
    "rtsp_client": seed_rtsp_client,
    "config": seed_config,
    "rtp": seed_rtp,
    "api": seed_api,
}


def main(argv):
    names = argv[1:] or list(TARGETS)
    for name in names:
        if name not in TARGETS:
            print("unknown target %s; have %s" % (name, " ".join(TARGETS)),
                  file=sys.stderr)
            return 1
        n = TARGETS[name]()
        print("%s: %d seed files in %s" %
              (name, n, os.path.join(corpus, name)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
