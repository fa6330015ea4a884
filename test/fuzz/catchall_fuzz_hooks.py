"""Schemathesis hooks: test data for the string formats the Catch-all APIs declare.

`domain`: a mail domain as a client may send it; positive data are names the domain rules
accept (ASCII and internationalized labels, any case, an optional trailing dot), so that
schemathesis's positive_data_acceptance check means "every valid name is answered 2xx".
`page-cursor`: a listing cursor as the query API makes it (base64url of {"after": domain}).
`consistency-token`: a token the read model has applied already (a valid one it has not
applied is a 503 after CONSISTENCY_WAIT_MS): offset 0 of partitions the fuzz test seeded
(`CATCHALL_FUZZ_TOPIC`, `CATCHALL_FUZZ_APPLIED_PARTITIONS`), in any order, the topic repeated
or tokens joined by `, ` as repeated header lines are.
`application/x-ndjson`: the ingest API's batch media type, whose document gives it the same
array schema as JSON: each item of the array is written as one line.
"""

import base64
import json
import os

import schemathesis
from hypothesis import strategies as st

# RFC 1123 labels; no `xn--` prefix (that would have to be valid punycode).
_ascii_label = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?\Z").filter(
    lambda label: not label.startswith("xn--")
)
# Labels that normalize to punycode (UTS #46), some of them at the 63-character limit once
# encoded.
_unicode_label = st.sampled_from(["bücher", "münchen", "例え", "ελληνικά", "тест", "ü" * 20])
# A top-level label is never all-numeric (RFC 1123 section 2.1).
_top_label = st.from_regex(r"\A[a-z][a-z0-9]{1,9}\Z")


def _name(labels: list[str], top: str, upper: bool, trailing_dot: bool) -> str:
    name = ".".join([*labels, top])
    if upper:
        name = name.upper()
    return name + ("." if trailing_dot else "")


domains = st.builds(
    _name,
    st.lists(_ascii_label | _unicode_label, min_size=0, max_size=4),
    _top_label,
    st.booleans(),
    st.booleans(),
)

# The query API's cursors hold a domain as the read model does (normalized): plain ASCII
# names here, the form every normalized name takes.
_normalized = st.builds(
    _name, st.lists(_ascii_label, min_size=0, max_size=4), _top_label, st.just(False), st.just(False)
)
cursors = _normalized.map(
    lambda d: base64.urlsafe_b64encode(json.dumps({"after": d}).encode()).decode().rstrip("=")
)

_topic = os.environ.get("CATCHALL_FUZZ_TOPIC", "domain-events")
_applied = [int(p) for p in os.environ.get("CATCHALL_FUZZ_APPLIED_PARTITIONS", "0").split(",")]


def _token(partitions: list[int], joined: bool) -> str:
    entries = [f"{p}:0" for p in partitions]
    if joined:
        return ", ".join(f"{_topic}:{entry}" for entry in entries)
    return f"{_topic}:" + ",".join(entries)


tokens = st.builds(
    _token,
    st.lists(st.sampled_from(_applied), min_size=1, max_size=len(_applied), unique=True),
    st.booleans(),
)

schemathesis.openapi.format("domain", domains)
schemathesis.openapi.format("page-cursor", cursors)
schemathesis.openapi.format("consistency-token", tokens)


@schemathesis.serializer("application/x-ndjson")
def ndjson(_ctx, value):
    """A batch as NDJSON: one JSON line per item of the array.

    A value that is not an array (negative data) has no NDJSON form as a batch; it is sent
    as one line holding it in an array, which is not an event and so is refused as the
    value would be in JSON. Values JSON cannot hold (bytes) are written as text.
    """
    items = value if isinstance(value, list) else [[value]]
    return "".join(json.dumps(item, default=str) + "\n" for item in items).encode()
