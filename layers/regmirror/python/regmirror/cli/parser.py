"""The command line's grammar: commands, options, exit codes, and dregsy's `-config=` form."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from regmirror import __version__

if TYPE_CHECKING:
    from regmirror.sync.pacing import Concurrency

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a tool whose reader went away


class _Version(argparse.Action):
    """`--version`: regmirror's, then the skopeo on PATH (or why there is none usable)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help=str(kwargs.get("help", "")))

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        from regmirror.sync.skopeo_check import describe_skopeo  # only --version needs it

        print(f"regmirror {__version__}\n{describe_skopeo()}")
        parser.exit()


class _Help(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default (when it has a meaningful one) and the epilog's examples as
    written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default in (None, False, [], argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


EXAMPLES = {
    "validate": "regmirror validate mirror.yaml --strict",
    "plan": "regmirror plan mirror.yaml\nregmirror plan mirror.yaml --task 'hub-.*' --json | jq .counts\n"
    'regmirror plan mirror.yaml --format markdown >> "$GITHUB_STEP_SUMMARY"',
    "sync": "regmirror sync mirror.yaml\nregmirror sync mirror.yaml --concurrency 8 --verify\n"
    "regmirror -config=mirror.yaml -run=tools        # dregsy's form",
    "run": "regmirror run mirror.yaml                      # until SIGTERM; SIGHUP reloads",
    "match": "regmirror match mirror.yaml --task hub-tools     # the config's rules on the real source\n"
    "regmirror match --from 'regex:team/.*' --to mirror team/app other/x\n"
    "regmirror match --from 'regex:library/.*' --tags 'semver:>=1.2' --registry 127.0.0.1:5000 --insecure",
    "schema": "regmirror schema -o regmirror.schema.json\n"
    "# then, first line of mirror.yaml:  # yaml-language-server: $schema=./regmirror.schema.json",
    "completion": "source <(regmirror completion bash)              # in ~/.bashrc",
}


def _epilog(command: str) -> str:
    lines = EXAMPLES[command].splitlines()
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# shtab's marker for "complete file names" (shtab.FILE), written out: shtab is imported only by
# `regmirror completion`, not by every command.
FILE_COMPLETION = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="regmirror",
        description="Mirror container images between registries.",
        formatter_class=_Help,
        epilog="examples:\n  regmirror plan mirror.yaml\n  regmirror sync mirror.yaml\n"
        "  regmirror <command> --help      # each command's options, defaults and examples",
    )
    parser.add_argument("--version", action=_Version, help="the version, and the skopeo it will use")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v: debug logging; -vv: the HTTP library's too"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="warnings and errors only (and the result)"
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default=None, help="default: $LOG_FORMAT or text"
    )
    # The same options after the command; SUPPRESS keeps a subcommand from resetting them.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS)
    common.add_argument("--log-format", choices=["text", "json"], default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            formatter_class=_Help,
            epilog=_epilog(name),
        )
        p.add_argument("config", help="regmirror / dregsy YAML config file").complete = FILE_COMPLETION  # type: ignore[attr-defined]
        p.add_argument(
            "--task",
            metavar="REGEX",
            help="tasks as dregsy's -run selects them (^ and $ added, a leading ! inverts)",
        )
        if name != "run":
            p.add_argument(
                "--strict",
                action="store_true",
                help="exit 1 on warnings too (config warnings; a `from` or tags that select nothing)",
            )
        return p

    with_config("validate", "check a config file and exit")
    p = with_config("plan", "list, match and compare digests; copy nothing")
    p.add_argument("--json", action="store_true", help="machine-readable plan on stdout")
    p.add_argument("--all", action="store_true", help="list every image, not only those that change")
    _format_option(p)
    p.add_argument("--no-check", action="store_true", help="skip digest checks (no HEAD requests)")
    p = with_config("sync", "plan, then copy what differs")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    _format_option(p)
    p.add_argument("--dry-run", action="store_true", help="same as plan")
    _concurrency_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    _record_options(p)
    p = with_config("run", "daemon: one-off tasks once, periodic tasks at their interval (dregsy behaviour)")
    _concurrency_option(p)
    _record_options(p)
    p = sub.add_parser(
        "match",
        help="show what a config's rules select on their real sources, or try a from/to pair (and tags) "
        "on names, offline or on a registry catalog",
        formatter_class=_Help,
        epilog=_epilog("match"),
    )
    p.add_argument(
        "config",
        nargs="?",
        help="a config: run its mappings on the real sources (their listers and credentials) and show "
        "what each rule selects, repository by repository, tag by tag",
    ).complete = FILE_COMPLETION  # type: ignore[attr-defined]
    p.add_argument("--task", metavar="REGEX", help="with CONFIG: the tasks, as dregsy's -run selects them")
    p.add_argument("--from", dest="from_", help="e.g. 'regex:myproject/.*' or a plain path (without CONFIG)")
    p.add_argument("--to", default=None, help="e.g. 'regex:my(.+)/,from-dh/your$1/' or a prefix")
    p.add_argument("--tags", action="append", default=[], help="a tags entry; repeat for several")
    p.add_argument("--registry", help="take names from this registry's catalog (host[:port])")
    p.add_argument("--insecure", action="store_true", help="registry speaks plain HTTP")
    p.add_argument("--json", action="store_true")
    p.add_argument("names", nargs="*", help="repository names to try (offline)")
    p = sub.add_parser(
        "schema",
        help="print the config file's JSON Schema (for editors: yaml-language-server)",
        description="Print the JSON Schema of a regmirror / dregsy config file. In an editor with "
        "yaml-language-server, start the config with "
        "`# yaml-language-server: $schema=<path or URL of the saved schema>`.",
        parents=[common],
        formatter_class=_Help,
        epilog=_epilog("schema"),
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of stdout")
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or tcsh)",
        description="Print a completion script: `source <(regmirror completion bash)` in ~/.bashrc, or "
        '`regmirror completion zsh > "${fpath[1]}/_regmirror"` for zsh.',
        formatter_class=_Help,
        epilog=_epilog("completion"),
    )
    p.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    return parser


def _format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=["text", "markdown"],
        default="text",
        help="markdown: tables for a CI job summary (e.g. >> $GITHUB_STEP_SUMMARY)",
    )


def _record_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait",
        action="store_true",
        help="queue behind another sync/run of this config instead of exiting 1",
    )
    group = p.add_argument_group("copy record (trusted target checks; see README)")
    group.add_argument("--no-record", action="store_true", help="check every target, remember nothing")
    group.add_argument("--record-file", metavar="PATH", help="default: $XDG_STATE_HOME/regmirror/records/…")
    group.add_argument(
        "--record-ttl",
        metavar="DURATION",
        type=_record_ttl,
        default="1h",
        help="how long a recorded target is trusted (Go duration: 90s, 30m, 1h30m; at most 24h)",
    )
    group.add_argument("--verify", action="store_true", help="check every target this run (record TTL 0)")


MAX_RECORD_TTL = 24 * 3600.0  # a target changed behind regmirror's back is found within a day at worst


def _record_ttl(text: str) -> float:
    seconds = _duration(text)
    if seconds > MAX_RECORD_TTL:
        raise argparse.ArgumentTypeError(f"{text!r} is longer than the 24h a recorded target may be trusted")
    return seconds


def _duration(text: str) -> float:
    """Seconds of a Go duration (`1h30m`); a usage error (exit 2) otherwise."""
    from regmirror.config.values import parse_go_duration  # pydantic & co only when a command runs

    try:
        return parse_go_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _concurrency_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--concurrency",
        type=_concurrency,
        default="auto",  # a string default goes through `type` too, once the command line is parsed
        metavar="auto|auto:MAX|N",
        help="copies at once: auto adapts to the network per route (from min(8, 2 x cores) up to 32, "
        "fewer on 429/5xx), auto:MAX sets its most, N fixes it",
    )


def _concurrency(text: str) -> Concurrency:
    from regmirror.sync.pacing import Concurrency  # not on the start-up path of --help

    try:
        return Concurrency.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def translate_dregsy_args(argv: list[str]) -> list[str]:
    """`dregsy -config=FILE [-run=REGEX]` keeps working: it becomes `run FILE [--task REGEX]`."""
    if not argv or not argv[0].startswith("-config"):
        return argv
    out = ["run"]
    for arg in argv:
        key, _, value = arg.lstrip("-").partition("=")
        if key == "config":
            out.append(value)
        elif key == "run":
            out += ["--task", value]
        else:
            out.append(arg)
    return out
