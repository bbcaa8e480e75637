#!/usr/bin/env python3
"""A minimal Sandesh collector for benchmarks: accepts generators, answers
each control hello with success, reads and counts every frame, stores
nothing. Prints "listening HOST:PORT" once bound; on SIGTERM prints the
frame and byte counts as JSON and exits.

Usage: sink_collector.py [PORT]   (0 or none: a free port)
"""
import json
import re
import signal
import socket
import sys
import threading
import time

counts = {"sessions": 0, "frames": 0, "bytes": 0, "by_message": {}}
lock = threading.Lock()
OPEN = b'<sandesh length="'
REPLY_BODY = (
    '<SandeshCtrlServerToClient type="sandesh"><type_info type="list" identifier="1">'
    '<list type="struct" size="0"></list></type_info><success type="bool" identifier="2">true'
    '</success></SandeshCtrlServerToClient>'
)


def reply(seq):
    ts = int(time.time() * 1e6)
    header = (
        '<SandeshHeader><Namespace type="string" identifier="1"></Namespace>'
        f'<Timestamp type="i64" identifier="2">{ts}</Timestamp>'
        '<Module type="string" identifier="3">contrail-collector</Module>'
        '<Source type="string" identifier="4">sink</Source><Context type="string" identifier="5">ctrl</Context>'
        f'<SequenceNum type="i32" identifier="6">{seq}</SequenceNum><VersionSig type="i32" identifier="7">0</VersionSig>'
        '<Type type="i32" identifier="8">2</Type><Hints type="i32" identifier="9">2</Hints>'
        '<Level type="i32" identifier="10">2147483647</Level><Category type="string" identifier="11"></Category>'
        '<NodeType type="string" identifier="12">Analytics</NodeType><InstanceId type="string" identifier="13">0</InstanceId>'
        '</SandeshHeader>'
    )
    inner = (header + REPLY_BODY).encode()
    total = 29 + len(inner) + 10
    return b'<sandesh length="%010d">' % total + inner + b"</sandesh>"


def session(conn):
    buf = b""
    seq = 0
    with lock:
        counts["sessions"] += 1
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while len(buf) >= 29:
                if not buf.startswith(OPEN):
                    return
                total = int(buf[17:27])
                if len(buf) < total:
                    break
                frame, buf = buf[:total], buf[total:]
                m = re.search(rb"</SandeshHeader><(\w+) type=\"sandesh\">", frame)
                name = m.group(1).decode() if m else "?"
                with lock:
                    counts["frames"] += 1
                    counts["bytes"] += total
                    counts["by_message"][name] = counts["by_message"].get(name, 0) + 1
                if name == "SandeshCtrlClientToServer":
                    seq += 1
                    conn.sendall(reply(seq))
    except OSError:
        return
    finally:
        conn.close()


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    print(f"listening 127.0.0.1:{srv.getsockname()[1]}", flush=True)

    def stop(*_):
        with lock:
            print(json.dumps(counts), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=session, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
