"""Mutated envelopes, seeded: whatever arrives, smartreceive either decodes it or raises a
NatsBridgeError, never another exception."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pyarrow as pa

from natsbridge import FetchOptions, NatsBridgeError, ReceiveOptions, encode_table, smartreceive, smartsend

from .conftest import run

VALUES: list[Any] = [None, True, -1, 0, 1.5, 1 << 70, "", "x", "QQ==", "http://127.0.0.1:9/x", [], {}, [{}], {"a": []},
                     "00000000-0000-4000-8000-000000000000", float(1e300), "\u0000", "😀" * 10]


def base() -> str:
    async def go() -> str:
        sent = await smartsend("s", [
            ("t", "text ü", "text"), ("d", {"a": [1, 2]}, "dictionary"), ("r", [{"a": 1}], "jsontable"),
            ("a", encode_table(pa.table({"x": [1, 2, 3], "s": ["a", "b", None]})), "arrowtable"),
            ("b", b"\x00\x01\x02", "binary"),
        ], publish=False)
        return sent.json
    return run(go())


def pick(rng: random.Random) -> Any:
    return copy.deepcopy(rng.choice(VALUES))


def mutate(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        choice = rng.random()
        if choice < 0.2:
            del value[key]
        elif choice < 0.6:
            value[key] = pick(rng)
        else:
            value[key] = mutate(value[key], rng)
        return value
    if isinstance(value, list) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        value[i] = mutate(value[i], rng) if rng.random() < 0.7 else pick(rng)
        return value
    if isinstance(value, str) and value and rng.random() < 0.5:
        i = rng.randrange(len(value))
        return value[:i] + rng.choice("A=/+\n\\\"x") + value[i + 1:]
    return pick(rng)


def test_mutated_envelopes_only_ever_raise_typed_errors() -> None:
    text = base()
    rng = random.Random(1234)
    options = ReceiveOptions(allowed_hosts=("http://127.0.0.1:9",), fetch=FetchOptions(max_attempts=1, deadline=2))

    async def go() -> tuple[int, int]:
        ok = bad = 0
        for i in range(3000):
            if i % 3 == 0:  # byte-level damage
                raw = bytearray(text.encode())
                for _ in range(rng.randint(1, 4)):
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
                body: bytes = bytes(raw)
            else:  # structural damage
                value = json.loads(text)
                for _ in range(rng.randint(1, 3)):
                    value = mutate(value, rng)
                body = json.dumps(value).encode()
            try:
                await smartreceive(body, options)
                ok += 1
            except NatsBridgeError as e:
                assert e.code, e
                bad += 1
        return ok, bad

    ok, bad = run(go())
    assert ok + bad == 3000 and bad > 1000
