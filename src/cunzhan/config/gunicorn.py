"""gunicorn's settings for production: ``gunicorn -c python:cunzhan.config.gunicorn``
(README "Run in production", ``make serve-prod``; ADR 0023). Every value comes from the
environment; the defaults suit one small machine behind a TLS-terminating proxy.

CUNZHAN_BIND         address to listen on (default 127.0.0.1:8000: the proxy in front)
WEB_CONCURRENCY      worker processes (default 2 × CPUs + 1, at most 8)
CUNZHAN_THREADS      threads per worker (default 4)
CUNZHAN_TIMEOUT      seconds a request may take before its worker is restarted (120:
                     a county's plan build or an export can take a while)
FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-* headers gunicorn trusts (127.0.0.1)
"""

from __future__ import annotations

import os

wsgi_app = "cunzhan.config.wsgi:application"
bind = [os.environ.get("CUNZHAN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8)))
threads = int(os.environ.get("CUNZHAN_THREADS", 4))
timeout = int(os.environ.get("CUNZHAN_TIMEOUT", 120))
graceful_timeout = 30
keepalive = 5
# a worker is replaced after this many requests (bounds any slow leak), not all at once
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "warning").lower()
# heartbeat files in memory, not on a possibly slow disk
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
