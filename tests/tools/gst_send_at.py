#!/usr/bin/python3
"""A GStreamer AES67 sender whose RTP timestamps are on PTP time.

gst-launch cannot say when a pipeline's time zero is. This does, through
the GStreamer Python bindings: the pipeline runs on a CLOCK_REALTIME system
clock with its base time set to --start, so the file's first sample leaves
at that moment (udpsink sync=true) stamped (start in samples + offset)
mod 2^32, as a PTP-locked AES67 sender with that mediaclk offset would.

With --dest2 the stream has a second leg (SMPTE ST 2022-7): the
payloader's packets are tee'd to both destinations, each out of its own
interface; with --pair too, each leg gets its own rtpL24pay, both with the
same SSRC, seqnum-offset and timestamp-offset (two senders of one stream).

usage: gst_send_at.py WAV GROUP:PORT --start UNIX_NS --rtp-ts TS
                      [--pt 97] [--channels 2] [--iface eth0]
                      [--ptime-us 1000] [--dest2 GROUP:PORT --iface2 eth1
                      [--pair]]
"""
import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wav")
    ap.add_argument("dest")
    ap.add_argument("--start", type=int, required=True,
                    help="CLOCK_REALTIME ns of the first sample")
    ap.add_argument("--rtp-ts", type=int, required=True,
                    help="RTP timestamp of the first sample")
    ap.add_argument("--pt", type=int, default=97)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--ptime-us", type=int, default=1000)
    ap.add_argument("--dest2")
    ap.add_argument("--iface2", default="eth1")
    ap.add_argument("--pair", action="store_true")
    a = ap.parse_args()

    Gst.init(None)
    # Unpositioned channels beyond stereo: else rtpL24pay reorders them
    # (see tests/interop/gst_to_d4.sh).
    mask = ",channel-mask=(bitmask)0" if a.channels > 2 else ""
    ptime = a.ptime_us * 1000
    pay = (f"rtpL24pay pt={a.pt} min-ptime={ptime} max-ptime={ptime} "
           f"timestamp-offset={a.rtp_ts % (1 << 32)}")
    if a.pair:  # the same stream from two payloaders
        pay += " ssrc=287454020 seqnum-offset=4000"

    def sink(dest, iface):
        h, p = dest.rsplit(":", 1)
        return (f"udpsink host={h} port={p} ttl-mc=1 auto-multicast=true "
                f"multicast-iface={iface} sync=true")
    src = (f"filesrc location={a.wav} ! wavparse ! audioconvert ! "
           f"audio/x-raw,format=S24BE,channels={a.channels}{mask}")
    if not a.dest2:
        desc = f"{src} ! {pay} ! {sink(a.dest, a.iface)}"
    elif a.pair:
        desc = (f"{src} ! tee name=t "
                f"t. ! queue ! {pay} ! {sink(a.dest, a.iface)} "
                f"t. ! queue ! {pay} ! {sink(a.dest2, a.iface2)}")
    else:
        desc = (f"{src} ! {pay} ! tee name=t "
                f"t. ! queue ! {sink(a.dest, a.iface)} "
                f"t. ! queue ! {sink(a.dest2, a.iface2)}")
    pipe = Gst.parse_launch(desc)
    clock = Gst.SystemClock.obtain()
    clock.set_property("clock-type", Gst.ClockType.REALTIME)
    pipe.use_clock(clock)
    # Time zero of the pipeline is --start: no base time chosen at PLAYING.
    pipe.set_start_time(Gst.CLOCK_TIME_NONE)
    pipe.set_base_time(a.start)
    loop = GLib.MainLoop()
    rc = [0]

    def on_msg(bus, msg):
        if msg.type == Gst.MessageType.EOS:
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print(f"gst_send_at: {err.message} ({dbg})", file=sys.stderr)
            rc[0] = 1
            loop.quit()

    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_msg)
    # Pausing prerolls (the file read, the first buffer at the sink);
    # playing then only waits for the clock. Later than 100 ms before the
    # start, the first packets would leave late, and the receiver rightly
    # count them so: say it, and send nothing.
    pipe.set_state(Gst.State.PAUSED)
    pipe.get_state(Gst.CLOCK_TIME_NONE)
    late_ms = (time.time_ns() - a.start) / 1e6 + 100
    if late_ms > 0:
        print(f"gst_send_at: ready only {late_ms - 100:.0f} ms before "
              f"--start's 100 ms margin ran out (a start further ahead "
              f"is needed on this machine)", file=sys.stderr)
        pipe.set_state(Gst.State.NULL)
        return 3
    pipe.set_state(Gst.State.PLAYING)
    loop.run()
    pipe.set_state(Gst.State.NULL)
    return rc[0]


if __name__ == "__main__":
    sys.exit(main())
