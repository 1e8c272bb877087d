"""Drives the gateway with the official OpenAI Python SDK, unchanged but for the base URL and
the key, and prints what it saw as one JSON object. Run by tests/openai_sdk.rs."""

import json
import sys
import time

import openai
from openai import OpenAI

base_url, key, model = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=10)
report = {"sdk_version": openai.__version__}

models = client.models.list()
report["models"] = sorted(m.id for m in models.data)

plain = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "Say hello."}]
)
report["plain"] = {
    "object": plain.object,
    "content": plain.choices[0].message.content,
    "finish_reason": plain.choices[0].finish_reason,
    "usage": plain.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}),
}

started = time.monotonic()
arrivals, pieces, usage, finish = [], [], None, None
stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Say hello, slowly."}],
    stream=True,
    stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage.model_dump(
            include={"prompt_tokens", "completion_tokens", "total_tokens"}
        )
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
            arrivals.append(time.monotonic() - started)
        if choice.finish_reason:
            finish = choice.finish_reason
report["stream"] = {
    "content": "".join(pieces),
    "content_chunks": len(pieces),
    "first_arrival": arrivals[0] if arrivals else None,
    "last_arrival": arrivals[-1] if arrivals else None,
    "finish_reason": finish,
    "usage": usage,
}

errors = {}
try:
    OpenAI(base_url=base_url, api_key="gwz-not-a-key", max_retries=0).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
except openai.AuthenticationError as e:
    errors["bad_key"] = {"status": e.status_code, "code": e.code, "message": e.message}
try:
    client.chat.completions.create(
        model="no-such-model", messages=[{"role": "user", "content": "hi"}]
    )
except openai.NotFoundError as e:
    errors["unknown_model"] = {"status": e.status_code, "code": e.code, "message": e.message}
report["errors"] = errors

print(json.dumps(report))
