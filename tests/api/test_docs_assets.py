"""``/docs`` and ``/redoc`` with their assets from the package: each asset served with its
type and a Content-Security-Policy on the pages; any other name a 404, never a file read
from elsewhere nor a 5xx (hostile names)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Api

KNOWN = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}


def test_the_pages_name_only_local_assets_and_each_is_served(api: Api) -> None:
    with api.client() as c:
        for page in ("/docs", "/redoc"):
            r = c.get(page)
            assert r.status_code == 200
            assert "cdn." not in r.text
            assert "fonts.googleapis" not in r.text
            assert "default-src 'self'" in r.headers["content-security-policy"]
        for name, media in KNOWN.items():
            r = c.get(f"/docs/assets/{name}")
            assert r.status_code == 200, name
            assert r.headers["content-type"].startswith(media)
            assert len(r.content) > 1000


hostile = st.one_of(
    st.text(min_size=1, max_size=300),
    st.sampled_from(["../pyproject.toml", "..%2F..%2Fetc%2Fpasswd", "core.py", "__init__.py",
                     "favicon.png/..", "swagger-ui.css\x00", "\ud800.js", "a" * 5000,
                     "RECORD", "..", "%00"]),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=hostile)
def test_any_other_asset_name_is_a_404(api: Api, name: str) -> None:
    # dots encoded too: a client would resolve "/docs/assets/.." before sending it
    quoted = quote(name.encode("utf-8", "surrogatepass"), safe="").replace(".", "%2E")
    path = "/docs/assets/" + quoted
    with api.client(follow_redirects=True) as c:  # "x/" is redirected to "x" first
        r = c.get(path)
    if name in KNOWN:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(KNOWN[name])
    else:
        assert r.status_code in (404, 400), (name, r.status_code, r.text[:200])
