"""Masking credentials: every common form, in free text and inside JSON."""

from __future__ import annotations

import json

import pytest

from applies.redact import MASK, redact, redact_json, short_token

M = MASK


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # URLs and DSNs, '@' in the password included
        ("dial mysql://app:hunter2@db:3306/x", f"dial mysql://app:{M}@db:3306/x"),
        ("mysql://u:p@ss@h/db failed", f"mysql://u:{M}@h/db failed"),
        ("redis://:s3cr3t@cache:6379/0", f"redis://:{M}@cache:6379/0"),
        (
            "https://x-access-token:ghp_abc123@github.com/o/r",
            f"https://x-access-token:{M}@github.com/o/r",
        ),
        # Go's MySQL DSN (SchemaBot's own form)
        (
            "open user:pass@tcp(db.internal:3306)/schemabot",
            f"open user:{M}@tcp(db.internal:3306)/schemabot",
        ),
        ("root:p@ss:w0rd@tcp(h:3306)/db?parseTime=true", f"root:{M}@tcp(h:3306)/db?parseTime=true"),
        ("app:pw@unix(/var/run/mysqld.sock)/db", f"app:{M}@unix(/var/run/mysqld.sock)/db"),
        ("app:pw@/db", f"app:{M}@/db"),
        # KEY=value for secret-looking keys, underscores and prefixes included
        ("PLANETSCALE_SERVICE_TOKEN=pscale_tkn_abc123 set", f"PLANETSCALE_SERVICE_TOKEN={M} set"),
        ("DB_PASSWORD=hunter2", f"DB_PASSWORD={M}"),
        ("export MYSQL_PWD='s3 cret'", f"export MYSQL_PWD='{M}'"),
        ("aws_secret_access_key = AKIAXYZ", f"aws_secret_access_key = {M}"),
        ("password=s3cret; retrying", f"password={M}; retrying"),
        ("--password=hunter2 --user=app", f"--password={M} --user=app"),
        ("api-key: abc123", f"api-key: {M}"),
        # Authorization headers: the credential goes, the scheme word stays
        ("Authorization: Bearer tok_ABCDEF123", f"Authorization: Bearer {M}"),
        ("authorization: Basic dXNlcjpwYXNz", f"authorization: Basic {M}"),
        ("Authorization: svc_id:svc_token", f"Authorization: {M}"),
        ('-H "Authorization: token ghp_abc"', f'-H "Authorization: token {M}"'),
        ("sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", f"sent Bearer {M}"),
        # JSON inside text, plain and escaped
        (
            'config {"password": "hunter2", "user": "app"}',
            f'config {{"password": "{M}", "user": "app"}}',
        ),
        ('{"api_key":"abc","n":1}', f'{{"api_key":"{M}","n":1}}'),
        ('{"token": 12345}', f'{{"token": {M}}}'),
        ('msg="{\\"password\\": \\"hunter2\\"}"', f'msg="{{\\"password\\": \\"{M}\\"}}"'),
        # query strings
        ("GET /api/v1/applies?token=tern_abc&limit=5", f"GET /api/v1/applies?token={M}&limit=5"),
        ("https://h/cb?access_token=xyz&state=1", f"https://h/cb?access_token={M}&state=1"),
        ("/x?client_secret=abc", f"/x?client_secret={M}"),
        ("GET /x?q=tern_Zm9vYmFyYmF6cXV4cXV1eA HTTP/1.1", f"GET /x?q={M} HTTP/1.1"),
        # private keys
        (
            "key -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- end",
            f"key {M} end",
        ),
        # nothing secret: unchanged
        (
            "dial tcp 10.0.0.1:3306: connection refused",
            "dial tcp 10.0.0.1:3306: connection refused",
        ),
        ("state running → completed at 12:00:01", "state running → completed at 12:00:01"),
        ("ssh://git@github.com/o/r", "ssh://git@github.com/o/r"),
    ],
)
def test_redact_masks_every_common_form(text: str, expected: str) -> None:
    assert redact(text) == expected


SECRETS = ("hunter2", "p@ss", "tok_ABCDEF123", "pscale_tkn_abc123", "s3cret")


@pytest.mark.parametrize(
    "value",
    [
        {"password": "hunter2"},
        {"dsn": "mysql://app:hunter2@db/x"},
        {"env": ["DB_PASSWORD=hunter2", "PLANETSCALE_SERVICE_TOKEN=pscale_tkn_abc123"]},
        {"headers": {"Authorization": "Bearer tok_ABCDEF123"}},
        {"nested": {"PlanetScaleServiceToken": {"any": "thing"}}},
        {"message": 'failed: {"client_secret": "s3cret"}'},
        {"go_dsn": "app:p@ss@tcp(h:3306)/db"},
    ],
)
def test_redact_json_masks_keys_and_strings_at_any_depth(value: dict[str, object]) -> None:
    shown = json.dumps(redact_json(value), ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in shown, (secret, shown)
    assert M in shown


def test_redact_json_keeps_what_is_not_secret() -> None:
    value = {"branch_name": "b-1", "deploy_request_id": 7, "ok": True, "items": [1, "two"]}
    assert redact_json(value) == value


def test_short_token_is_never_the_whole_token() -> None:
    assert short_token("aaaaaaaa-0000-4000-8000-000000000001") == "aaaaaaaa"
    assert short_token(None) == ""
