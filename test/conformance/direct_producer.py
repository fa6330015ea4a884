"""A direct producer of another stack (librdkafka through confluent-kafka, Avro through
fastavro) that writes everything a Kafka client may legally write to the events topic, and
says what the projector must make of each record.

Usage: direct_producer.py BROKERS REGISTRY_URL TOPIC CONTRACT_AVSC MANIFEST_OUT

The manifest (JSON) holds `counts` (domain -> {delivered, bounced}: what the read model
must hold) and `deadLetters` ([{partition, offset, reason}]: what the dead-letter topic must
hold, each once). Records of aborted transactions appear in neither.
"""

import copy
import http.client
import io
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request
import uuid

import fastavro
from confluent_kafka import KafkaException, Producer

BROKERS, REGISTRY, TOPIC, CONTRACT, MANIFEST = sys.argv[1:6]
RUN = "r" + uuid.uuid4().hex[:10]
NOW_MS = 1767225600000  # 2026-01-01T00:00:00Z

counts = {}
dead_letters = []


def registry(method, path, body=None):
    """One call of the registry's REST API. A connection the registry closed without an answer
    or reset, or a 502, 503 or 504, is tried again, up to 5 times with a doubling pause, as
    confluent-kafka's own registry client does (max.retries): every call made here (a schema
    registered, a subject's compatibility set) gives the same result when made twice."""
    request = urllib.request.Request(
        REGISTRY + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
    )
    pause = 0.5
    for attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            if err.code not in (502, 503, 504) or attempt == 4:
                raise
            failure = f"answered {err.code}"
        except (http.client.RemoteDisconnected, ConnectionResetError) as err:
            if attempt == 4:
                raise
            failure = f"closed the connection ({type(err).__name__})"
        print(f"registry {failure}; trying again in {pause} s", file=sys.stderr)
        time.sleep(pause)
        pause *= 2


def register(subject, schema):
    """Registers under `subject` (checked by the registry, BACKWARD); fails if refused."""
    answer = registry(
        "POST",
        f"/subjects/{subject}/versions",
        {"schema": json.dumps(schema), "schemaType": "AVRO"},
    )
    return answer["id"]


with open(CONTRACT) as f:
    BASE = json.load(f)

base_subject = f"{TOPIC}-value"
BASE_ID = register(base_subject, BASE)


def variant(name, change):
    """The contract changed by `change`, registered in a subject of its own after the
    contract itself, under BACKWARD: the registry's own check decides it is acceptable."""
    schema = copy.deepcopy(BASE)
    change(schema)
    subject = f"{TOPIC}-{name}-value"
    register(subject, BASE)
    registry("PUT", f"/config/{subject}", {"compatibility": "BACKWARD"})
    return schema, register(subject, schema)


def field(schema, name):
    return next(f for f in schema["fields"] if f["name"] == name)


def wire(schema_id, schema, record):
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(copy.deepcopy(schema)), record)
    return b"\x00" + struct.pack(">I", schema_id) + body.getvalue()


def event(domain, kind="delivered", occurred=NOW_MS, **extra):
    value = {"eventId": str(uuid.uuid4()), "domain": domain, "type": kind,
             "occurredAt": occurred, "source": None}
    value.update(extra)
    return value


def domain(case, i=0):
    return f"{case}-{i}.{RUN}.conformance.test"


def expect_count(name, kind="delivered"):
    entry = counts.setdefault(name, {"delivered": 0, "bounced": 0})
    entry[kind] += 1


def producer(**config):
    settings = {
        "bootstrap.servers": BROKERS,
        # The documented contract: a domain lands where the Java client and kafkajs put it.
        "partitioner": "murmur2_random",
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
    }
    settings.update(config)
    return Producer(settings)


def send(p, value, key, outcome, headers=None, timestamp=0, partition=-1):
    """Produces one record; `outcome` is ("count", domain, kind), ("dead", reason), ("try",
    None) for another try of an event counted once, or None.
    `timestamp`: the record's Kafka timestamp in epoch ms, 0 for the producer's clock;
    `partition`: -1 for the partitioner's choice."""

    def delivered(err, msg):
        if outcome is None:
            # Not counted either way (an aborted transaction's records may be purged unsent).
            return
        if err is not None:
            raise KafkaException(err)
        if outcome[0] == "try":
            # Another try of an event expected once: it must reach Kafka, and count nothing.
            return
        if outcome[0] == "count":
            expect_count(outcome[1], outcome[2])
        else:
            dead_letters.append(
                {"partition": msg.partition(), "offset": msg.offset(), "reason": outcome[1]}
            )

    p.produce(
        TOPIC,
        value=value,
        key=key,
        headers=headers,
        timestamp=timestamp,
        partition=partition,
        on_delivery=delivered,
    )
    p.poll(0)


def counted(p, schema_id, schema, record, key=None, **kw):
    kind = record["type"] if record["type"] in ("delivered", "bounced") else None
    outcome = ("count", record["domain"], kind) if kind else None
    send(p, wire(schema_id, schema, record), key if key is not None else record["domain"], outcome, **kw)


# Every compression codec Kafka defines.
for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
    p = producer(**{"compression.type": codec})
    for i in range(40):
        d = domain(f"codec-{codec}", i % 7)
        counted(p, BASE_ID, BASE, event(d, "bounced" if i % 5 == 0 else "delivered"))
    p.flush(30)

p = producer(**{"compression.type": "lz4"})
# Null keys (the domain in the value counts), keys that disagree with the value, headers.
counted(p, BASE_ID, BASE, event(domain("null-key")), key=b"")
send(p, wire(BASE_ID, BASE, event(domain("no-key"))), None, ("count", domain("no-key"), "delivered"))
counted(p, BASE_ID, BASE, event(domain("other-key")), key="somewhere.else.example")
counted(p, BASE_ID, BASE, event(domain("headers")), headers=[("trace", b"abc"), ("trace", b"def")])
# Normalized by the projector: Mixed-CASE-0.<RUN>.CONFORMANCE.TEST. counts as mixed-case-0.<run>...
raw = "Mixed-" + domain("case").upper() + "."
send(p, wire(BASE_ID, BASE, event(raw)), raw, ("count", domain("mixed-case"), "delivered"))

# Tries of one event (one eventId) on several partitions: no key and a random partitioner,
# minutes apart in Kafka timestamps (other tables of ids), while the projector flushes its
# partitions at once. Each event counts once, whichever try comes first.
p.flush(30)
spread = producer(partitioner="random")
clock_ms = int(time.time() * 1000)
for i in range(120):
    record = event(domain("spread", i % 6), "bounced" if i % 4 == 0 else "delivered")
    value = wire(BASE_ID, BASE, record)
    for n, behind_ms in enumerate((0, 7 * 60_000, 16 * 60_000)):
        outcome = ("count", record["domain"], record["type"]) if n == 0 else ("try", None)
        send(spread, value, None, outcome, timestamp=clock_ms - behind_ms)
spread.flush(30)
# Then one record on every partition: once the read model holds these, every try above
# was applied (a partition is applied in offset order), and none may have counted twice.
for n in spread.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions:
    record = event(domain("after-spread", n))
    send(spread, wire(BASE_ID, BASE, record), None, ("count", record["domain"], "delivered"), partition=n)
spread.flush(30)

# Writer schemas the registry accepts under BACKWARD.
variants = [
    ("namespace", lambda s: s.update(namespace="com.example.other"), {}),
    ("renamed", lambda s: s.update(name="Outcome", aliases=["io.catchall.events.DomainEvent"]), {}),
    ("reordered", lambda s: s["fields"].reverse(), {}),
    ("added-field", lambda s: s["fields"].append(
        {"name": "mx", "type": ["null", "string"], "default": None}), {"mx": "mx1.example"}),
    ("no-source", lambda s: s.update(fields=[f for f in s["fields"] if f["name"] != "source"]), {}),
    ("no-event-id", lambda s: s.update(fields=[f for f in s["fields"] if f["name"] != "eventId"]), {}),
    ("double-time", lambda s: field(s, "occurredAt").update(type="double"), {"occurredAt": NOW_MS + 0.75}),
    ("bytes-domain", lambda s: field(s, "domain").update(type="bytes"), "bytes"),
    ("union-domain", lambda s: field(s, "domain").update(type=["null", "string"]), {}),
    ("wide-source", lambda s: field(s, "source").update(type=["null", "string", "int"]), {"source": 7}),
    ("micros", lambda s: field(s, "occurredAt").update(
        type={"type": "long", "logicalType": "timestamp-micros"}), {"occurredAt": NOW_MS * 1000}),
    ("alias-field", lambda s: field(s, "domain").update(name="host", aliases=["domain"]), "host"),
    ("more-symbols", lambda s: field(s, "type")["type"]["symbols"].append("deferred"), {}),
]
for name, change, extra in variants:
    schema, schema_id = variant(name, change)
    d = domain(f"schema-{name}")
    record = event(d)
    if extra == "bytes":
        record["domain"] = d.encode()
    elif extra == "host":
        record["host"] = record.pop("domain")
    else:
        record.update(extra)
    if name == "no-source":
        record.pop("source")
    if name == "no-event-id":
        record.pop("eventId")
    send(p, wire(schema_id, schema, record), d, ("count", d, "delivered"))
    if name == "union-domain":
        send(p, wire(schema_id, schema, event(None)), None, ("dead", "undecodable"))
    if name == "more-symbols":
        send(p, wire(schema_id, schema, event(d, "deferred")), d, None)

# A union writer with two record branches (the registry accepts it under BACKWARD: the
# contract's records are read by their branch); each value is read by its own branch.
micros = copy.deepcopy(BASE)
micros["name"] = "DomainEventMicros"
field(micros, "occurredAt")["type"] = {"type": "long", "logicalType": "timestamp-micros"}
enum = field(BASE, "type")["type"]
field(micros, "type")["type"] = f"{BASE['namespace']}.{enum['name']}"
two_records = [copy.deepcopy(BASE), micros]
subject = f"{TOPIC}-two-records-value"
register(subject, BASE)
registry("PUT", f"/config/{subject}", {"compatibility": "BACKWARD"})
two_records_id = register(subject, two_records)
d = domain("schema-two-records")
for branch, occurred in ((f"{BASE['namespace']}.{BASE['name']}", NOW_MS),
                         (f"{BASE['namespace']}.DomainEventMicros", NOW_MS * 1000)):
    # fastavro's (name, value) form picks the branch of a union whose records look alike.
    send(p, wire(two_records_id, two_records, (branch, event(d, occurred=occurred))), d,
         ("count", d, "delivered"))

# Records that must be dead-lettered, each with its reason.
send(p, b"plain text, not Avro", b"bad", ("dead", "not-wire-format"))
send(p, None, b"tombstone", ("dead", "not-wire-format"))
send(p, b"\x00" + struct.pack(">I", 2**31 - 7) + b"\x02", b"unknown", ("dead", "unknown-schema-id"))
send(p, wire(BASE_ID, BASE, event("not a domain!")), b"invalid", ("dead", "invalid-domain"))
send(p, wire(BASE_ID, BASE, event(domain("ancient"), occurred=-300000000000000)), b"t1",
     ("dead", "time-out-of-range"))
# Beyond 2^53 ms the contract's own long cannot be read as a number: undecodable.
send(p, wire(BASE_ID, BASE, event(domain("far-future"), occurred=2**62)), b"t2",
     ("dead", "undecodable"))
p.flush(30)

# A storm of bad records, then one good record, on one partition (one key).
storm_key = domain("storm").encode()
for i in range(3000):
    send(p, b"junk-%d" % i, storm_key, ("dead", "not-wire-format"))
send(p, wire(BASE_ID, BASE, event(domain("storm"))), storm_key, ("count", domain("storm"), "delivered"))
p.flush(30)

# `redrive-origin` headers (the dead-letter tools' own) written by a client, naming no
# record before them in their partition: an offset the projector will not read for a long
# while, on another partition and after the record on its own, twice; text that is not
# coordinates. None is a copy: each counts as any record, and none stalls partition 0 (the
# record after them counts too).
last = max(p.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions)
far = 10**12
origins = (f"{TOPIC}:{last}:{far}", f"{TOPIC}:{last}:{far}", f"{TOPIC}:0:{far}", "not-coordinates")
for n, origin in enumerate(origins):
    counted(p, BASE_ID, BASE, event(domain("foreign-origin", n % 3)), partition=0,
            headers=[("redrive-origin", origin.encode()), ("redrive-count", b"1")])
counted(p, BASE_ID, BASE, event(domain("after-foreign-origin")), partition=0)
p.flush(30)

# Transactions: committed ones count, aborted ones do not (read_committed).
t = producer(**{"transactional.id": f"conformance-{RUN}", "compression.type": "snappy"})
t.init_transactions(30)
t.begin_transaction()
for i in range(10):
    counted(t, BASE_ID, BASE, event(domain("committed", i % 3)))
t.commit_transaction(30)
t.begin_transaction()
for i in range(10):
    send(t, wire(BASE_ID, BASE, event(domain("aborted", i % 3))), None, None)
# Sent and in the log before the abort, so that the abort markers are what hides them:
# aborting records still queued raced the broker's own handling of the transaction's
# partitions (INVALID_TXN_STATE from EndTxn, once in some thirty runs).
t.flush(30)
t.abort_transaction(30)
t.begin_transaction()
counted(t, BASE_ID, BASE, event(domain("after-abort")))
t.commit_transaction(30)
t.flush(30)

with open(MANIFEST, "w") as f:
    json.dump({"run": RUN, "counts": counts, "deadLetters": dead_letters}, f)
print(f"{sum(c['delivered'] + c['bounced'] for c in counts.values())} events counted over "
      f"{len(counts)} domains, {len(dead_letters)} dead letters expected")
