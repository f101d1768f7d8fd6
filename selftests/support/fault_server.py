"""A small real HTTP server that misbehaves on purpose, for the harness's fault tests.

    python fault_server.py MODE --port PORT [--marker TOKEN]

MODE: healthy | dies | never_healthy | hangs | forks (healthy, and leaves a grandchild running) |
      fatal_lingers (logs a fatal error, then lingers unhealthy, as vLLM's API server does when its engine dies).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--marker", default="")
    args = parser.parse_args()
    print(f"fault server starting in mode {args.mode}", flush=True)
    if args.mode == "dies":
        time.sleep(0.5)
        print("RuntimeError: planted startup failure", flush=True)
        sys.exit(3)
    if args.mode == "fatal_lingers":
        print("ERROR EngineCore failed to start.", flush=True)
        time.sleep(600)
    if args.mode == "forks":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", args.marker])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status = 503 if args.mode == "never_healthy" else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}")

        def do_POST(self):
            if args.mode == "hangs":
                time.sleep(600)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)  # fails if the port is held
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
