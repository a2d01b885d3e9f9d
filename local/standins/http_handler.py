"""The request handler every Python stand-in serves with: http.server's, without Nagle's algorithm.

BaseHTTPRequestHandler writes an answer's headers and body in two writes. With Nagle on, the second
waits for the client's ACK of the first, and on a kept-alive connection Linux delays that ACK by up to
40 ms: every answer after a connection's first took 40 ms more (a Cloud Storage read 44 ms, not 1 ms).
That stall is an artefact of this server, not something Google documents of its APIs, so it is not kept
as a model of their latency. The stand-ins model no network latency at all (a real first event's round
trips to Cloud Storage, Vertex AI or Slack are longer than loopback's); bench/ says so beside the figures.
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


class StandinHandler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # socketserver.StreamRequestHandler sets TCP_NODELAY on each connection
