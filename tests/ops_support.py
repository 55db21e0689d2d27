"""Helpers for the operations tests: orders queued in bulk, a scrape parsed, a webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from orders import parse_order
from queueing.enqueue import enqueue_order
from settings import Settings


def queue_orders(conn: Redis, settings: Settings, count: int, email: str = 'mama@example.com') -> list[str]:
    ids = []
    for n in range(count):
        order = parse_order({'child_name': 'Lucía', 'age': 6, 'message': f'pedido {n}', 'parent_email': email,
                             'language': 'es', 'consent': True})  # fmt: skip
        ids.append(enqueue_order(conn, order, queue_name=settings.queue_name, job_timeout=60).video_id)
    return ids


def samples(scrape: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(scrape)
            for s in family.samples]  # fmt: skip


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get('content-length', 0)))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A Slack-style incoming webhook on loopback: the URL, and the JSON bodies it received."""
    server = HTTPServer(('127.0.0.1', 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}/hook', server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
