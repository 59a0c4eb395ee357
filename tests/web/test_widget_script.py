"""``/widget.js`` as served (without a browser; the browser tests load it on real pages): the script with its UI
strings in place, ``GET`` and ``HEAD`` with an ``ETag`` and ``Cache-Control``, and 304 when the browser's copy is
current, so the park's pages revalidate it for the cost of a header."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.messages import catalogue
from assistant.testing import FakeAssistant
from assistant.web.api import create_app
from assistant.web.widget import CACHE_CONTROL, PLACEHOLDER


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(FakeAssistant(), Settings(allowed_hosts=("testserver",)), None))


def test_the_script_carries_its_strings_in_every_language(client: TestClient) -> None:
    r = client.get("/widget.js")
    assert r.status_code == 200 and r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert PLACEHOLDER not in r.text
    for lang in ("zh-Hans", "zh-Hant", "en"):
        shown = {k.removeprefix("widget."): v for k, v in catalogue(lang).items() if k.startswith("widget.")}
        assert json.dumps(lang) + ":{" in r.text
        assert all(json.dumps(v, ensure_ascii=False) in r.text for v in list(shown.values())[:5]), lang


def test_get_and_head_carry_the_etag_and_cache_control(client: TestClient) -> None:
    body = client.get("/widget.js")
    head = client.head("/widget.js")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(body.content))
    assert body.headers["etag"] == head.headers["etag"] and body.headers["etag"].startswith('"')
    assert body.headers["cache-control"] == head.headers["cache-control"] == CACHE_CONTROL == "public, max-age=300"


@pytest.mark.parametrize("form", ["{etag}", "W/{etag}", '"stale", {etag}', "*"])
def test_a_current_copy_is_answered_304_without_a_body(client: TestClient, form: str) -> None:
    etag = client.get("/widget.js").headers["etag"]
    for method in ("GET", "HEAD"):
        r = client.request(method, "/widget.js", headers={"If-None-Match": form.format(etag=etag)})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
        assert r.headers["cache-control"] == CACHE_CONTROL


def test_a_stale_copy_gets_the_script(client: TestClient) -> None:
    r = client.get("/widget.js", headers={"If-None-Match": '"an-older-build"'})
    assert r.status_code == 200 and "attachShadow" in r.text
