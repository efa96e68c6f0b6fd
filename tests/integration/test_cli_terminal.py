"""`regmirror sync` on a real terminal (a pseudo-terminal): the live display draws, and every log line
printed while it runs stands on its own line, whole, never glued to the bar."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
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


REPORT_LINE = re.compile(r"^(target repository +images|\S+/team/app\d+ +5 +5 +0 +0 +0$|60 images: 60 copied)")


def test_a_sync_of_60_images_reads_cleanly_on_a_tmux_screen(
    plain_registry: RegistryServer, second_plain_registry: RegistryServer, tmp_path: Path
) -> None:
    """What a person watches: tmux renders the terminal (cursor moves, line clears), and its captured
    screens show the live display with the plan's fixed total while copying, then only whole log lines
    and the report, the display gone."""
    for repo in range(12):
        for tag in range(5):
            push_image(plain_registry, f"team/app{repo}", f"1.{tag}", seed=f"tmux-{repo}-{tag}")
    config = tmp_path / "mirror.yaml"
    config.write_text(
        "tasks:\n  - name: t\n"
        f'    source: {{registry: "{plain_registry.host}", insecure: true}}\n'
        f'    target: {{registry: "{second_plain_registry.host}", insecure: true}}\n'
        '    mappings: [{from: "regex:team/.*"}]\n',
        encoding="utf-8",
    )
    session = f"regmirror-{os.getpid()}"
    command = f"{REGMIRROR} sync --no-record --concurrency 4 {config}; echo EXIT=$?; sleep 120"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "40", command], check=True)
    try:
        screens = []
        for _ in range(600):
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
            ).stdout
            screens.append(screen)
            if "EXIT=" in screen:
                break
            time.sleep(0.1)
        history = subprocess.run(
            ["tmux", "capture-pane", "-p", "-S", "-", "-t", session],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert "EXIT=0" in history
    # while copying: the display's line, with the total the plan fixed (never a growing one)
    live = [line for screen in screens for line in screen.splitlines() if re.search(r"\b\d+/60\b", line)]
    assert live and all(line.startswith("sync ") for line in live), live[:3]
    lines = [line.rstrip() for line in history.splitlines() if line.strip()]
    assert not [line for line in lines if re.search(r"\b\d+/60\b", line)]  # transient: gone at the end
    strays = [
        line for line in lines if not (LOG_LINE.match(line) or REPORT_LINE.match(line) or line == "EXIT=0")
    ]
    assert strays == []
    assert sum(1 for line in lines if "regmirror.relay: copy " in line) == 60
