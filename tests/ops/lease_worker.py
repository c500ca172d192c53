"""A process that holds a lease and, while it does, appends "<name> <epoch> <time>" lines to a
file every 0.1 s (tests/ops/test_lease.py kills it). Usage: URL NAME WHO FILE TTL"""

from __future__ import annotations

import asyncio
import sys
import time

from storage.db import make_engine
from storage.lease import hold


def main() -> None:
    url, name, who, path, ttl = sys.argv[1:6]
    engine = make_engine(url)
    epoch = [0]

    def changed(held: bool, e: int) -> None:
        epoch[0] = e if held else 0

    async def work() -> None:
        while True:
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"{who} {epoch[0]} {time.time():.3f}\n")
            await asyncio.sleep(0.1)

    print("ready", flush=True)
    asyncio.run(hold(engine, name, work, holder=who, ttl=float(ttl), on_change=changed))


if __name__ == "__main__":
    main()
