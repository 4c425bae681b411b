"""The production posture (ADR 0023): a Content-Security-Policy with no inline script
anywhere (every template scanned), Swagger UI served from our own static files, hashed
and compressed static files through WhiteNoise, `check --deploy` clean with the
documented production environment, and the production server (gunicorn) serving it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "cunzhan"
MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    out: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


# --- Content-Security-Policy -------------------------------------------------------------


@pytest.mark.parametrize("url", ["/login/", "/shop/", "/open/", "/api/v1/docs"])
def test_pages_carry_a_csp_without_inline_script(db, client, url):
    r = client.get(url)
    assert r.status_code == 200, url
    policy = _policy(r)
    assert policy.get("script-src") == ["'self'"], policy
    assert policy.get("default-src") == ["'self'"]
    assert policy.get("object-src") == ["'none'"]
    assert policy.get("frame-ancestors") == ["'none'"]
    for directive, sources in policy.items():
        assert "'unsafe-eval'" not in sources, directive
        assert not any(s.startswith(("http:", "https:")) for s in sources), directive


def test_logged_in_pages_carry_the_csp(regions, client, make_user):
    from cunzhan.accounts.roles import Role

    client.force_login(make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm"))
    from django.urls import reverse

    for name in ("accounts:home", "network:map", "registry:households", "accounts:users"):
        url = reverse(name)
        r = client.get(url, follow=True)
        assert r.status_code == 200, url
        assert _policy(r).get("script-src") == ["'self'"], url


def _templates() -> list[Path]:
    found = sorted(SRC.glob("**/templates/**/*.html"))
    assert len(found) > 100  # the scan sees the templates
    return found


SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.I)
EVAL_ATTRS = re.compile(
    r"""\b(?:data-)?hx-(?:on\b|on:|on-|vars\b)|\b(?:data-)?hx-vals\s*=\s*["']\s*(?:js|javascript):""",
    re.I,
)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def test_no_template_has_inline_script_or_handlers():
    """Every template: scripts only by src= (or JSON data), no on...= handler, no htmx
    attribute that needs eval (hx-on, hx-vars, hx-vals with js:), no javascript: URL."""
    bad = []
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(SRC)
        for m in SCRIPT_TAG.finditer(text):
            attrs = m.group(1)
            if "src=" not in attrs and 'type="application/json"' not in attrs:
                bad.append(f"{rel}: inline <script{attrs}>")
        bad += [f"{rel}: handler {m.group(0).strip()}" for m in HANDLER.finditer(text)]
        bad += [f"{rel}: needs eval {m.group(0)}" for m in EVAL_ATTRS.finditer(text)]
        bad += [f"{rel}: {m.group(0)}" for m in JS_URL.finditer(text)]
    assert not bad, "\n".join(bad)


PY_HANDLER = re.compile(r"""\son(?:click|submit|change|load|input|error)\s*=|<script>""")


def test_no_python_builds_inline_handlers():
    """HTML built in code (format_html, SVG strings) follows the same rule."""
    bad = []
    for path in sorted(SRC.glob("**/*.py")):
        text = path.read_text(encoding="utf-8")
        for m in PY_HANDLER.finditer(text):
            bad.append(f"{path.relative_to(SRC)}: {m.group(0).strip()}")
    assert not bad, "\n".join(bad)


def test_htmx_runs_without_eval():
    base = (SRC / "templates" / "base.html").read_text(encoding="utf-8")
    meta = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", base)
    assert meta, "base.html configures htmx"
    import json

    config = json.loads(meta.group(1))
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["allowScriptTags"] is False
    assert base.index('name="htmx-config"') < base.index("htmx.min.js")


# --- API docs ----------------------------------------------------------------------------


def test_api_docs_reference_no_external_host(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    body = r.content.decode()
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", body)
    assert refs
    external = [u for u in refs if u.startswith(("http:", "https:", "//"))]
    assert not external, external
    assert "cdn" not in body.lower()
    for name in ("vendor/swagger-ui/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui.css"):
        assert f"/static/{name}" in refs
        assert finders.find(name), name
    assert finders.find("js/swagger-init.js")


# --- static files ------------------------------------------------------------------------


def test_collectstatic_hashes_and_compresses_and_templates_resolve(db, client, tmp_path):
    with override_settings(STATIC_ROOT=str(tmp_path), STORAGES=MANIFEST_STORAGES):
        call_command("collectstatic", interactive=False, verbosity=0)
        assert (tmp_path / "staticfiles.json").exists()
        css = list(tmp_path.glob("css/cunzhan.*.css"))
        assert css, "hashed copy"
        assert list(tmp_path.glob("css/cunzhan.*.css.gz")), "compressed copy"
        login = client.get("/login/").content.decode()
        assert f"/static/css/{css[0].name}" in login
        assert re.search(r"/static/js/cunzhan\.[0-9a-f]{12}\.js", login)
        docs = client.get("/api/v1/docs").content.decode()
        assert re.search(r"/static/vendor/swagger-ui/swagger-ui-bundle\.[0-9a-f]{12}\.js", docs)
        shop = client.get("/shop/").content.decode()
        assert re.search(r"/static/favicon\.[0-9a-f]{12}\.svg", shop)


# --- check --deploy and the production server --------------------------------------------


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The production environment README and .env.example document."""
    from cryptography.fernet import Fernet

    # and the test harness's own variables (the browser tests allow async-unsafe calls)
    drop = {
        "DEBUG",
        "CUNZHAN_TESTING",
        "DATABASE_URL",
        "PYTEST_CURRENT_TEST",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("CUNZHAN_")}
    env.update(
        DJANGO_SETTINGS_MODULE="cunzhan.config.settings",
        PYTHONPATH=str(ROOT / "src"),
        CUNZHAN_HOME=str(tmp_path),
        DEBUG="0",
        SECRET_KEY="p-" + os.urandom(32).hex(),
        CUNZHAN_FIELD_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="cunzhan.example.org,127.0.0.1",
        CSRF_TRUSTED_ORIGINS="https://cunzhan.example.org",
        CUNZHAN_BEHIND_PROXY="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        CUNZHAN_STATIC_ROOT=str(tmp_path / "static"),
    )
    env.update(extra)
    return env


def _cunzhan(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cunzhan", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_deploy_is_clean_with_the_documented_production_env(tmp_path):
    out = _cunzhan(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout, out.stdout + out.stderr


def test_check_deploy_fails_with_the_sandbox_on_in_production(tmp_path):
    env = _production_env(
        tmp_path,
        CUNZHAN_PAYMENTS_SANDBOX_ENABLED="1",
        CUNZHAN_PAYMENT_SANDBOX_SECRET="s-" + os.urandom(16).hex(),
    )
    out = _cunzhan(env, "check", "--deploy")
    assert out.returncode != 0
    assert "commerce.E001" in out.stdout + out.stderr


def test_development_keeps_https_off():
    """Tests (and DEBUG) run over plain HTTP: no redirect, no secure-only cookies."""
    assert settings.SECURE_SSL_REDIRECT is False
    assert settings.SESSION_COOKIE_SECURE is False
    assert settings.SECURE_HSTS_SECONDS == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def _get(url: str, **headers: str):
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        return opener.open(urllib.request.Request(url, headers=headers), timeout=60)  # noqa: S310
    except urllib.error.HTTPError as exc:
        return exc


def test_gunicorn_serves_with_the_production_posture(tmp_path):
    """`make serve-prod` in small: collectstatic, then gunicorn with our config."""
    port = _free_port()
    env = _production_env(tmp_path, CUNZHAN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    out = _cunzhan(env, "collectstatic", "--no-input", "-v0")
    assert out.returncode == 0, out.stderr
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cunzhan.config.gunicorn"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up when it answers at all (here: the redirect to HTTPS)
            try:
                _get(f"{base}/static/favicon.svg")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-3000:]
                time.sleep(0.2)
        # plain HTTP is sent to HTTPS
        r = _get(f"{base}/login/", Host="cunzhan.example.org")
        assert r.status == 301
        assert r.headers["Location"] == "https://cunzhan.example.org/login/"
        # behind the TLS proxy: the page, with HSTS and the CSP
        r = _get(f"{base}/login/", Host="cunzhan.example.org", X_Forwarded_Proto="https")
        assert r.status == 200
        assert "max-age=31536000" in r.headers["Strict-Transport-Security"]
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        page = r.read().decode()
        css = re.search(r'href="(/static/css/cunzhan\.[0-9a-f]{12}\.css)"', page)
        assert css, "hashed static URL"
        # WhiteNoise serves it compressed and cached for ever
        r = _get(
            f"{base}{css.group(1)}",
            Host="cunzhan.example.org",
            X_Forwarded_Proto="https",
            Accept_Encoding="gzip",
        )
        assert r.status == 200
        assert r.headers["Content-Encoding"] == "gzip"
        assert "immutable" in r.headers["Cache-Control"]
    finally:
        server.terminate()
        server.wait(timeout=30)
