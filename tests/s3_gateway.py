"""A loopback front for moto's S3 server that checks presigned URLs the way S3 does.

moto 5.2.5 serves any presigned GET whatever its signature or age (it only refuses unsigned
requests for private objects), so on its own it cannot show that a presigned URL is valid,
or that a tampered or expired one is refused. This gateway recomputes each query-string
SigV4 signature with botocore's signer for its own host, refuses a mismatch or an expired
URL with S3's 403 answers, and passes everything else through to moto unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import requests
from botocore.auth import S3SigV4QueryAuth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

_HOP_BY_HOP = {'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'expect', 'server', 'date'}


class Gateway:
    def __init__(self, upstream: str, access_key: str, secret_key: str) -> None:
        self.upstream = upstream.rstrip('/')
        self.credentials = Credentials(access_key, secret_key)
        #: Seconds added to the gateway's clock: lets a test see a URL from the future's point of view.
        self.clock_skew = 0.0
        self.refused: list[str] = []

    def check(self, host: str, target: str) -> str | None:
        """Why a presigned request must be refused (an S3 error code), or None to let it through."""
        parts = urlsplit(target)
        query = parse_qsl(parts.query, keep_blank_values=True)
        fields = dict(query)
        if 'X-Amz-Signature' not in fields:
            return None
        try:
            signed_at = datetime.strptime(fields['X-Amz-Date'], '%Y%m%dT%H%M%SZ').replace(tzinfo=UTC)
            expires = int(fields['X-Amz-Expires'])
            region = fields['X-Amz-Credential'].split('/')[2]
        except (KeyError, ValueError, IndexError):
            return 'AuthorizationQueryParametersError'
        now = datetime.now(UTC) + timedelta(seconds=self.clock_skew)
        if now > signed_at + timedelta(seconds=expires):
            return 'AccessDenied'  # S3: "Request has expired"
        unsigned = urlencode([(k, v) for k, v in query if k != 'X-Amz-Signature'], quote_via=quote)
        request = AWSRequest(method='GET', url=f'http://{host}{parts.path}?{unsigned}')
        request.context['timestamp'] = fields['X-Amz-Date']
        auth = S3SigV4QueryAuth(self.credentials, 's3', region, expires=expires)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        return None if expected == fields['X-Amz-Signature'] else 'SignatureDoesNotMatch'


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'  # botocore sends Expect: 100-continue on uploads

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _proxy(self) -> None:
            refusal = gateway.check(self.headers.get('Host', ''), self.path)
            if refusal is not None:
                gateway.refused.append(refusal)
                body = f'<Error><Code>{refusal}</Code></Error>'.encode()
                self._answer(403, {'Content-Type': 'application/xml'}, body)
                return
            length = int(self.headers.get('Content-Length') or 0)
            data = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            upstream = requests.request(
                self.command, gateway.upstream + self.path, headers=headers, data=data, timeout=30,
                allow_redirects=False,
            )  # fmt: skip
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
            if self.command == 'HEAD':
                kept['Content-Length'] = upstream.headers.get('Content-Length', '0')
            self._answer(upstream.status_code, kept, upstream.content)

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if self.command != 'HEAD':
                self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy

    return Handler


@contextmanager
def s3_gateway(upstream: str, access_key: str, secret_key: str) -> Iterator[tuple[str, Gateway]]:
    """Serve a checking gateway to `upstream` on a free loopback port; yield its URL and itself."""
    gateway = Gateway(upstream, access_key, secret_key)
    server = ThreadingHTTPServer(('127.0.0.1', 0), _handler(gateway))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', gateway
    finally:
        server.shutdown()
        server.server_close()
