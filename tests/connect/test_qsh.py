"""qsh canonicalisation against Atlassian's documented example and the awkward cases."""

from hashlib import sha256

from workers.atlassian.qsh import canonical, qsh, relative_url


def test_documented_example():
    url = ("/path/to/service?zee_last=param&repeated=parameter%201&first=param"
           "&repeated=parameter%202")
    assert canonical("get", url) == (
        "GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param")
    assert qsh("GET", url) == sha256(canonical("GET", url).encode()).hexdigest()


def test_ampersand_in_path_is_encoded():
    assert canonical("POST", "/a&b/c") == "POST&/a%26b/c&"


def test_trailing_slash_and_empty_query():
    assert canonical("GET", "/path/") == "GET&/path&"
    assert canonical("GET", "/") == "GET&/&"


def test_jwt_parameter_is_stripped():
    assert canonical("GET", "/admin?jwt=abc.def.ghi&lic=none") == "GET&/admin&lic=none"


def test_unicode_and_reserved_characters():
    url = "/search?q=J%C3%BCrgen%20M%C3%BCller&star=%2A&tilde=~"
    assert canonical("GET", url) == "GET&/search&q=J%C3%BCrgen%20M%C3%BCller&star=%2A&tilde=~"


def test_repeated_keys_sorted_and_joined():
    assert canonical("GET", "/x?b=2&a=z&a=y") == "GET&/x&a=y,z&b=2"


def test_relative_url_drops_product_context_path():
    assert relative_url("https://x.atlassian.net/wiki/rest/api/group?limit=5",
                        "https://x.atlassian.net/wiki") == "/rest/api/group?limit=5"
    assert relative_url("https://app.example/installed", "https://app.example") == "/installed"
