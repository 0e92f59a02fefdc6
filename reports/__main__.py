"""``python -m reports`` (``voicebox-report``): render reports and the compatibility matrix.

    python -m reports [render] INPUT... [--baseline INPUT...] --out DIR [--redact-hosts]
                      [--gpu-price LABEL=USD_PER_HOUR...]
    python -m reports matrix RECORD... [--label NAME...] [--out FILE]
    python -m reports environment [--out FILE]

An INPUT is a conformance record, a benchmark document, an environment snapshot, or a folder
searched for them. Exit status: 0 done, 2 bad arguments or inputs, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from reports.environment import capture_environment
from reports.inputs import InputError, load_inputs
from reports.matrix import render_matrix
from reports.redact import Redactor, secrets_from_environment
from reports.render import RenderOptions, render_report
from reports.sections.cost import parse_gpu_price

__all__ = ["main"]

_COMMANDS = ("render", "matrix", "environment")


def _redaction_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redact-hosts",
        action="store_true",
        help="replace hostnames and IP addresses with placeholders (host-1, ip-1), consistently",
    )
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="VALUE",
        help="a key to keep out of the report, besides those found in the inputs and in "
        "$TTS_API_KEY / $OPENAI_API_KEY (repeatable)",
    )


def _gpu_price(text: str) -> tuple[str, float]:
    try:
        return parse_gpu_price(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reports", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render report.md and its figures")
    render.add_argument(
        "inputs", nargs="+", type=Path, help="documents or folders (the provider's)"
    )
    render.add_argument(
        "--baseline",
        action="append",
        default=[],
        type=Path,
        metavar="INPUT",
        help="a document or folder of the reference server, to compare against",
    )
    render.add_argument("--out", type=Path, default=Path("report"), help="output folder (report)")
    render.add_argument("--title", help="the report's title (default: from the provider's /health)")
    render.add_argument("--image-base-url", help="prefix image links with this URL")
    render.add_argument(
        "--note",
        action="append",
        default=[],
        help="a note shown under the title (Markdown; repeatable)",
    )
    render.add_argument(
        "--gpu-price",
        action="append",
        default=[],
        type=_gpu_price,
        metavar="LABEL=USD_PER_HOUR",
        help="price of a GPU-hour for LABEL (provider, reference or a run's label): adds the "
        "cost per audio-hour at the measured throughput (repeatable)",
    )
    _redaction_arguments(render)

    matrix = commands.add_parser("matrix", help="the compatibility matrix of several providers")
    matrix.add_argument("records", nargs="+", type=Path, help="conformance.json files or folders")
    matrix.add_argument("--label", action="append", default=[], help="column names, in order")
    matrix.add_argument("--out", type=Path, help="write the Markdown here (default: stdout)")
    _redaction_arguments(matrix)

    environment = commands.add_parser("environment", help="snapshot this machine (CPU, GPU, OS)")
    environment.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    environment.add_argument("--role", default="server", help="what this machine does (server)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in _COMMANDS and not args[0].startswith("-"):
        args.insert(0, "render")
    options = _parser().parse_args(args)
    try:
        if options.command == "render":
            return _render(options)
        if options.command == "matrix":
            return _matrix(options)
        return _environment(options)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _redactor(options: argparse.Namespace) -> Redactor:
    return Redactor(
        secrets=[*options.secret, *secrets_from_environment()], redact_hosts=options.redact_hosts
    )


def _render(options: argparse.Namespace) -> int:
    redactor = _redactor(options)
    inputs = load_inputs(options.inputs, options.baseline, redactor)
    rendered = render_report(
        inputs,
        options.out,
        RenderOptions(
            title=options.title,
            image_base_url=options.image_base_url,
            notes=tuple(options.note),
            gpu_prices=dict(options.gpu_price),
        ),
        redactor,
    )
    for warning in rendered.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"Report: {rendered.markdown.resolve()} ({len(rendered.figures)} figures, "
        f"{rendered.characters:,} characters)"
    )
    return 0


def _matrix(options: argparse.Namespace) -> int:
    inputs = load_inputs(options.records, (), _redactor(options))
    if not inputs.conformance:
        raise InputError("no conformance record among the inputs")
    try:
        text = render_matrix(inputs.conformance, options.label or None)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if options.out is None:
        sys.stdout.write(text)
    else:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(text, encoding="utf-8")
        print(f"Matrix: {options.out.resolve()}")
    return 0


def _environment(options: argparse.Namespace) -> int:
    text = capture_environment(options.role).model_dump_json(indent=1) + "\n"
    if options.out is None:
        sys.stdout.write(text)
    else:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
