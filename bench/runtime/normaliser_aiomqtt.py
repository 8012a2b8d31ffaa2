"""The same transform as the bench site, written by hand the idiomatic aiomqtt way.

`async for message in client.messages` and `await client.publish(...)`: what a
careful person writes from aiomqtt's documentation, with nothing tuned.

    python normaliser_aiomqtt.py --port PORT --qos 0|1
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime

import aiomqtt

IN_FILTER = "acme/+/+/hvac/+/metrics/cooling_power"


async def main(host: str, port: int, qos: int) -> None:
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(IN_FILTER, qos=qos)
        async for message in client.messages:
            parts = message.topic.value.split("/")
            building, floor, device = parts[1], parts[2], parts[4]
            sample = {
                "device_id": device,
                "building": building,
                "cooling_power_kw": float(message.payload),  # type: ignore[arg-type]
                "timestamp": datetime.now(UTC).isoformat(),
            }
            await client.publish(
                f"acme/{building}/{floor}/hvac/{device}/processed",
                json.dumps(sample),
                qos=qos,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--qos", type=int, default=0, choices=(0, 1))
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port, args.qos))
