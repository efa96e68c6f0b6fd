"""The command line's entry point: parse arguments, set up logging, run the command, map errors to
exit codes.

Exit codes: 0 ok, 1 some images failed, 2 bad config or usage, 141 stdout's reader went away.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from regmirror.cli.parser import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_USAGE,
    build_parser,
    translate_dregsy_args,
)
from regmirror.cli.stopping import Stopped
from regmirror.errors import ConfigError, RegmirrorError, UsageError


def setup_logging(verbose: int, fmt: str | None, *, quiet: bool = False, dated: bool = False) -> None:
    """`-q` warnings and errors, default `$LOG_LEVEL` (dregsy's) or INFO, `-v` DEBUG, `-vv` DEBUG of
    the HTTP library too (connections and requests, no headers: credentials stay out)."""
    from regmirror.logs import configure_logging, log_http_library

    default = "WARNING" if quiet else os.environ.get("LOG_LEVEL", "INFO")
    level = "DEBUG" if verbose else default
    configure_logging(level, fmt or os.environ.get("LOG_FORMAT", "text"), dated=dated)
    if verbose >= 2:
        log_http_library()


def main(argv: Sequence[str] | None = None) -> int:
    args_list = translate_dregsy_args(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(args_list)
    setup_logging(
        int(args.verbose or 0),
        args.log_format,
        quiet=getattr(args, "quiet", False),
        dated=args.command == "run",  # the daemon's lines are read days later
    )
    from regmirror.aws.secrets import register_secrets_manager_resolver

    register_secrets_manager_resolver()  # `auth: secretsmanager:<id>` works locally too (AWS default chain)
    try:
        return dispatch(args)
    except BrokenPipeError:
        return _reader_gone()
    except UsageError as exc:
        print(f"regmirror: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"regmirror: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except (RegmirrorError, ValueError) as exc:
        print(f"regmirror: {exc}", file=sys.stderr)
        return EXIT_USAGE if args.command in {"validate", "match"} else EXIT_FAILED
    except Stopped as exc:
        print(
            f"regmirror: stopped by {exc.name}; copies not finished are copied by the next run",
            file=sys.stderr,
        )
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("regmirror: interrupted", file=sys.stderr)
        return 130


def _reader_gone() -> int:
    """stdout's reader left (`regmirror plan … | head`): no traceback, and no second EPIPE when the
    interpreter flushes stdout at exit; the status a shell reports for a SIGPIPE death."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def dispatch(args: argparse.Namespace) -> int:
    from regmirror.cli import commands

    handler = {
        "validate": commands.cmd_validate,
        "plan": commands.cmd_plan,
        "sync": commands.cmd_sync,
        "run": commands.cmd_run,
        "match": commands.cmd_match,
        "schema": commands.cmd_schema,
        "completion": commands.cmd_completion,
    }[args.command]
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
