"""Small-message throughput in one process, no network: a 1 KB dictionary through
``smartsend(publish=False)`` then ``smartreceive`` of the JSON bytes, messages per second.

    cd packages/python && PYTHONPATH=.:../../generated/python ../../.venv/bin/python bench/throughput.py
"""

from __future__ import annotations

import asyncio
import json
import time

from natsbridge import smartreceive, smartsend

DICT = {f"k{i:03d}": "v" * 6 for i in range(64)}


async def measure(n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        sent = await smartsend("bench", [("d", DICT, "dictionary")], publish=False)
        received = await smartreceive(sent.json.encode())
        assert received.payloads[0].data == DICT
    return n / (time.perf_counter() - started)


def main() -> None:
    size = len(json.dumps(DICT, separators=(",", ":")))
    asyncio.run(measure(500))  # warm-up
    rates = [asyncio.run(measure(5000)) for _ in range(3)]
    print(json.dumps({"payload_bytes": size, "messages": 5000, "runs": 3,
                      "msgs_per_sec_median": round(sorted(rates)[1]), "msgs_per_sec_all": [round(r) for r in rates]}))


if __name__ == "__main__":
    main()
