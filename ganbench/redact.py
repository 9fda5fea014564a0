"""Keep passwords in storage and tracking URLs out of everything a person or a log reads.

Optuna storage (`postgresql://optuna:PASSWORD@db/optuna`) and MLflow tracking URLs
(`http://user:PASSWORD@mlflow:5000`) may carry credentials. On a cluster, error messages,
logs, MLflow params and the JSON line on stdout all end up in the Ray job log, which many
people can read. Every such text goes through `redact_text` before it is shown or stored.

Two nets, because either alone misses cases:
- a pattern masks the password of any `scheme://user:password@host` in the text;
- passwords of URLs this process was given (`remember`) are masked wherever they appear,
  e.g. decoded, or quoted back by a driver's error message without the URL around them.
"""
from __future__ import annotations

import dataclasses
import re
import threading
from typing import Iterable, Optional
from urllib.parse import unquote, urlsplit

MASK = "***"
# Shorter "passwords" would mask ordinary letters all over a message; the pattern still
# masks them inside URLs.
MIN_SECRET_LEN = 3

# user:password@ after a scheme. The password may hold '@' (the last '@' before the host
# ends it, as URL parsers read it), never '/' or whitespace or a quote.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"]*):(?P<pw>[^/\s'\"]*)@")
# ?password=... style parameters (libpq and some object-store URLs take them).
_QUERY_SECRET = re.compile(r"(?i)(?P<head>[?&;](?:password|passwd|pwd|token|secret|api_key|access_key)=)(?P<val>[^&\s'\"]*)")

_known: set[str] = set()
_lock = threading.Lock()


def passwords_in(url: str) -> set[str]:
    """The password of `url` as written and as decoded (empty set when it has none)."""
    try:
        pw = urlsplit(url).password
    except ValueError:  # a malformed URL: the pattern in redact_text still applies
        pw = None
    if not pw:
        return set()
    return {s for s in (pw, unquote(pw)) if len(s) >= MIN_SECRET_LEN}


def remember(*urls: Optional[str]) -> None:
    """Mask these URLs' passwords in every later redact_text call of this process."""
    found = set().union(*(passwords_in(u) for u in urls if isinstance(u, str) and "://" in u))
    if found:
        with _lock:
            _known.update(found)


def redact_text(text: str, urls: Iterable[Optional[str]] = ()) -> str:
    """`text` with every URL password (and every remembered or given one) masked."""
    if not isinstance(text, str):
        text = str(text)
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m['head']}{MASK}", text)
    extra = set().union(*(passwords_in(u) for u in urls if isinstance(u, str)))
    with _lock:
        secrets = _known | extra
    for s in sorted(secrets, key=len, reverse=True):  # longest first: one may contain another
        text = text.replace(s, MASK)
    return text


def redact_url(url: Optional[str]) -> Optional[str]:
    """The URL with its password masked; other URLs (and None) unchanged."""
    return url if url is None else redact_text(url, [url])


def is_masked(url: str) -> bool:
    """Whether `url`'s password (or ?password=) was masked by this module: written to disk
    redacted and read back, it cannot be used to connect."""
    try:
        pw = urlsplit(url).password
    except ValueError:
        pw = None
    return pw == MASK or any(m["val"] == MASK for m in _QUERY_SECRET.finditer(url))


def redact_fields(obj):
    """A copy of a (nested, frozen) dataclass with every URL-valued string field's password
    masked. Field by field, not on the YAML text: a remembered password that happens to be a
    word of the config ("dcgan") must not rewrite a model name."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: redact_fields(getattr(obj, f.name))
                                           for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_fields(v) for v in obj)
    if isinstance(obj, str) and "://" in obj:
        return redact_url(obj)
    return obj


def redact_obj(obj):
    """Strings inside nested dicts/lists/tuples redacted (JSON output, MLflow params)."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_obj(v) for v in obj)
    return obj


class RedactingFilter:
    """A logging filter for handlers: the formatted message and any traceback redacted.

    It rewrites the record in place, so every handler after it sees the redacted text too."""

    def filter(self, record) -> bool:
        import traceback

        msg = record.getMessage()
        clean = redact_text(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info))).rstrip("\n")
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def install_log_filter() -> None:
    """Redact every record the root logger's handlers write (once per handler)."""
    import logging

    for h in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
