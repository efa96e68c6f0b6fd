"""What every command pays before it runs: the CLI's own modules import no HTTP stack, no config
models and no sync engine (each command imports what it uses when it runs)."""

from __future__ import annotations

import os
import subprocess
import sys

HEAVY = ("requests", "urllib3", "pydantic", "yaml", "boto3", "botocore", "regmirror.sync.run")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=os.environ
    )
    return eval(out.stdout.splitlines()[-1])  # noqa: S307 - our own probe's list of names


def test_importing_the_commands_and_the_secrets_resolver_loads_nothing_heavy() -> None:
    # what `regmirror.cli.main.main` imports for every command, before dispatching
    code = "import regmirror.cli.main, regmirror.cli.commands, regmirror.aws.secrets, regmirror.logs"
    assert loaded_after(code) == []


def test_match_on_names_needs_no_http_stack_nor_config_models() -> None:
    code = (
        "from regmirror.cli.main import main\n"
        "main(['match', '--from', 'regex:library/.*', 'library/nginx', 'other/x'])"
    )
    assert loaded_after(code) == []
