"""A direct producer of another stack (librdkafka through confluent-kafka) over a secured
cluster: SASL_SSL with SCRAM-SHA-512 to Kafka, the registry over https with basic auth,
both verified against a CA file. It registers the contract, then writes COUNT delivered
events for DOMAIN in the Confluent wire format and waits for every acknowledgement.

Usage: secured_producer.py BROKERS REGISTRY_URL TOPIC CONTRACT_AVSC CA_FILE DOMAIN COUNT
Credentials come from the environment: KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD,
SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD.
"""

import base64
import io
import json
import os
import ssl
import struct
import sys
import time
import urllib.error
import urllib.request
import uuid

import fastavro
from confluent_kafka import Producer

BROKERS, REGISTRY, TOPIC, CONTRACT, CA_FILE, DOMAIN, COUNT = sys.argv[1:8]

with open(CONTRACT) as f:
    schema = json.load(f)

credentials = f"{os.environ['SCHEMA_REGISTRY_USERNAME']}:{os.environ['SCHEMA_REGISTRY_PASSWORD']}"
request = urllib.request.Request(
    f"{REGISTRY}/subjects/{TOPIC}-value/versions",
    method="POST",
    data=json.dumps({"schema": json.dumps(schema), "schemaType": "AVRO"}).encode(),
    headers={
        "Content-Type": "application/vnd.schemaregistry.v1+json",
        "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
    },
)


def register():
    """The schema id the registry gives the contract. A gateway's 502, 503 or 504 is tried
    again, up to 5 times with a doubling pause, as confluent-kafka's own registry client does
    (max.retries): registering the same schema again is idempotent (the same id)."""
    context = ssl.create_default_context(cafile=CA_FILE)
    pause = 0.5
    for attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as answer:
                return json.loads(answer.read())["id"]
        except urllib.error.HTTPError as err:
            if err.code not in (502, 503, 504) or attempt == 4:
                raise
            print(f"registry answered {err.code}; trying again in {pause} s", file=sys.stderr)
            time.sleep(pause)
            pause *= 2


schema_id = register()

producer = Producer({
    "bootstrap.servers": BROKERS,
    "security.protocol": "SASL_SSL",
    "sasl.mechanisms": "SCRAM-SHA-512",
    "sasl.username": os.environ["KAFKA_SASL_USERNAME"],
    "sasl.password": os.environ["KAFKA_SASL_PASSWORD"],
    "ssl.ca.location": CA_FILE,
    "partitioner": "murmur2_random",
    "acks": "all",
    "enable.idempotence": True,
})
parsed = fastavro.parse_schema(schema)
failures = []
for _ in range(int(COUNT)):
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parsed, {
        "eventId": str(uuid.uuid4()), "domain": DOMAIN, "type": "delivered",
        "occurredAt": int(time.time() * 1000), "source": None,
    })
    producer.produce(
        TOPIC, key=DOMAIN.encode(), value=b"\x00" + struct.pack(">I", schema_id) + body.getvalue(),
        on_delivery=lambda err, msg: err and failures.append(str(err)),
    )
if producer.flush(30) != 0 or failures:
    sys.exit(f"not every record was acknowledged: {failures}")
print(f"{COUNT} events acknowledged over SASL_SSL")
