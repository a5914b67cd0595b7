"""A realistic upstream for the benchmark: tornado, the server jupyter_server is built on.

One handler, ``GET /user/alice/small`` -> 100 bytes, on tornado's default asyncio loop, as a
user's notebook server would answer a small API request (it adds the Date, Server, Etag and
Content-Type headers tornado always sends; jupyter_server adds its own handler work on top,
so a real notebook server is slower still). The main bench upstream
(``upstream_server.py``) is as cheap as a Python server can be; this one shows what share of
a request's cost the proxy is when the upstream does ordinary work.

Run: ``python bench/tornado_upstream.py --port 0``; prints ``READY <port>`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web

SMALL_BODY = b"s" * 100


class SmallHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain")
        self.write(SMALL_BODY)


async def serve(port: int) -> None:
    app = tornado.web.Application([(r"/user/alice/small", SmallHandler)])
    sockets = tornado.netutil.bind_sockets(port, address="127.0.0.1")
    tornado.httpserver.HTTPServer(app).add_sockets(sockets)
    bound = sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {bound}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
