"""`regmirror sync` on a real terminal (a pseudo-terminal): the live display draws, and every log line
printed while it runs stands on its own line, whole, never glued to the bar."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from pathlib import Path

from tests.testbed import RegistryServer, push_image

REGMIRROR = str(Path(sys.executable).with_name("regmirror"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (INFO|WARNING|ERROR|DEBUG) +regmirror\.")


def test_log_lines_are_whole_on_a_terminal(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer, tmp_path: Path
) -> None:
    for n in range(6):
        push_image(plain_registry, f"team/app{n}", "1.0", seed=f"tty-{n}")
    config = tmp_path / "mirror.yaml"
    config.write_text(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{plain_registry.host}", skip-tls-verify: true}}\n'
        f'    target: {{registry: "{second_plain_registry.host}", skip-tls-verify: true}}\n'
        '    mappings: [{from: "regex:team/.*"}]\n',
        encoding="utf-8",
    )
    leader, follower = os.openpty()
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm"}
    process = subprocess.Popen(
        [REGMIRROR, "sync", "--no-record", "--concurrency", "2", str(config)],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    raw = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        raw += chunk
    out, _ = process.communicate(timeout=60)
    os.close(leader)
    assert process.returncode == 0
    assert "6 images: 6 copied" in out.decode()
    screen = ANSI.sub("", raw.decode(errors="replace")).replace("\r\n", "\n")
    pieces = [p for line in screen.split("\n") for p in line.split("\r")]
    logged = [p.strip() for p in pieces if "regmirror." in p and (" INFO " in p or " WARNING " in p)]
    assert any("regmirror.relay: copy " in p for p in logged)
    assert all(LOG_LINE.match(p) for p in logged), [p for p in logged if not LOG_LINE.match(p)]
