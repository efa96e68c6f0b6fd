"""Measure the AWS planner's throughput (the numbers in docs/aws.md "Limits"):

    .venv/bin/python -m tests.integration.aws_measure --repositories 2000 --tags 5

Real parts: two local distribution registries (source with N repositories × T tags, target holding
half of them already), moto SQS for the copy queue, the planner exactly as the lister runs it
(regmirror.aws.planner.TaskPlanner: catalog → tags → digest checks → send_message_batch).
Loopback latency is ~1 ms per request; see docs/aws.md for the scaling to real registries.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import boto3
from regmirror.aws.planner import TaskPlanner
from regmirror.aws.sqs import QueueSender
from regmirror.config import load_config

from tests.integration.aws_harness import MotoAws
from tests.testbed import RegistryServer, push_repositories, write_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repositories", type=int, default=1000)
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="regmirror-measure-"))
    moto = MotoAws()
    os.environ.update(AWS_ENDPOINT_URL=moto.url, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"
    with RegistryServer(base_dir=base / "src") as source, RegistryServer(base_dir=base / "dst") as target:
        names = [f"team/repo-{i:05d}" for i in range(args.repositories)]
        start = time.monotonic()
        for t in range(args.tags):
            push_repositories(source, names, tag=f"1.{t}")
            push_repositories(target, [f"mirror/{n}" for n in names[: len(names) // 2]], tag=f"1.{t}")
        print(f"seeded {len(names) * args.tags} source tags in {time.monotonic() - start:.1f} s")
        config = load_config(
            write_config(
                base,
                f"""
                lister: {{maxItems: -1}}
                tasks:
                  - name: big
                    source: {{registry: "{source.host}", insecure: true}}
                    target: {{registry: "{target.host}", insecure: true}}
                    mappings: [{{from: "regex:team/.*", to: mirror}}]
                """,
            )
        )
        queue = boto3.client("sqs").create_queue(QueueName="copy")["QueueUrl"]
        sender = QueueSender(queue)
        send_seconds = [0.0]

        def timed_send(items: object) -> int:
            begin = time.monotonic()
            sent = sender.send_items(items)  # type: ignore[arg-type]
            send_seconds[0] += time.monotonic() - begin
            return sent

        planner = TaskPlanner(config, timed_send, remaining=lambda: 10_000.0, workers=args.workers)
        outcome = planner.plan("big")
        items = outcome.planned
        check = outcome.seconds - outcome.enumerate_seconds
        listing_rate = args.repositories / outcome.enumerate_seconds
        print(
            f"planned {items} items in {outcome.seconds:.1f} s ({items / outcome.seconds:.0f} items/s): "
            f"enumerate {outcome.enumerate_seconds:.1f} s ({listing_rate:.0f} repositories/s), "
            f"check+send {check:.1f} s ({items / check:.0f} items/s); "
            f"{outcome.in_sync} in sync, {outcome.enqueued} enqueued in {sender.stats.batches} batches "
            f"({send_seconds[0]:.1f} s sending to moto SQS)"
        )
    moto.stop()


if __name__ == "__main__":
    main()
