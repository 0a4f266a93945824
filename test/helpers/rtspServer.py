"""
A real RTSP server on loopback for the tests (test/helpers/rtspServer.ts starts it):
GStreamer's gst-rtsp-server (Debian: gir1.2-gst-rtsp-server-1.0, python3-gi,
gstreamer1.0-plugins-good/-bad) serving an H.264+AAC MP4 as an IP camera would, its
packets taken from the file as they are (no encode here: the test measures the
camera's CPU, and the box has two cores).

    python3 rtspServer.py PORT PATH FILE      ->  rtsp://127.0.0.1:PORT/PATH

Prints "ready <port>" once it listens. One shared media for every client; a client
that comes after the last one left starts the file again (a camera that reboots does
not resume where it was either). The file is made long enough for a test (looping in
the pipeline would fight gst-rtsp-server's own bus watch). Exits on SIGTERM/SIGINT; the test kills it
with SIGKILL to play a camera that loses power.
"""
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    port, path, media_file = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    loop = GLib.MainLoop()

    factory = GstRtspServer.RTSPMediaFactory()
    # qtdemux hands out the file's own H.264 (avc) and AAC; the payloaders only packetize.
    # The video's config (SPS/PPS) goes in-band before every IDR as well as in the SDP,
    # as cameras do, so a client that joins late can decode at the next keyframe.
    factory.set_launch(
        f'( filesrc location="{media_file}" ! qtdemux name=d '
        "d.video_0 ! queue ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 "
        "d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )"
    )
    factory.set_shared(True)

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    server.get_mount_points().add_factory(f"/{path}", factory)
    if server.attach(None) == 0:
        print(f"could not listen on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        return 1

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"ready {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
