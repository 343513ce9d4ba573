#!/usr/bin/env python3
"""A callback receiver for trying minimax-mock's callbacks by hand: it echoes
MiniMax's challenge and prints every status update it gets.
    python3 examples/callback_receiver.py 9000
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        answer = {"challenge": body["challenge"]} if "challenge" in body else {}
        print(json.dumps(body, ensure_ascii=False), flush=True)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Receiver).serve_forever()
