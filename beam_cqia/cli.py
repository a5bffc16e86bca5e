"""``beam-cqia``: run, check and report Beam YAML specs; run the embedded demo.

beam-cqia run SPEC.yaml [--var k=v ...] [--runner R] [--wait|--no-wait] [beam options...]
beam-cqia validate SPEC.yaml [--var k=v ...]
beam-cqia demo [OUT] [beam options...]
beam-cqia report OUT
beam-cqia trace OUT ID [--json]
beam-cqia sample OUT [--subset S] [--rejected [REASON]] [--errors [KIND]] [-n N] [--seed N]
beam-cqia diff OUT_A OUT_B [--json]
beam-cqia train-quality --pos FILES... --neg FILES... --out MODEL [--field F] [--epochs N ...]
beam-cqia train-domain --records FILES... --out MODEL [--label first|all] [--exclude D ...]
"""

import argparse
import contextlib
import logging
import os
import sys
from typing import Any

from beam_cqia import report
from beam_cqia.spec import SpecError

EXIT_SPEC = 2
EXIT_RUN = 1
EXIT_CHECK = 3


def _needs_yaml() -> None:
    try:
        import apache_beam.yaml.yaml_transform  # noqa: F401
    except ImportError as exc:
        raise SystemExit(
            f"beam-cqia: Beam YAML is not installed ({exc}); pip install 'beam-cqia[yaml]'"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beam-cqia",
        description="Build COIG-CQIA-style Chinese instruction data with Apache Beam YAML specs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add_vars(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--var",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a Jinja variable of the spec (repeatable)",
        )

    run = sub.add_parser("run", help="run a spec; other options go to Beam (--runner, ...)")
    run.add_argument(
        "spec", help="a Beam YAML spec (e.g. pipelines/demo.yaml) or a packaged spec's name (demo)"
    )
    add_vars(run)
    waiting = run.add_mutually_exclusive_group()
    waiting.add_argument(
        "--wait",
        dest="wait",
        action="store_const",
        const=True,
        default=None,
        help="block until the job ends and check its outputs (default for local runners)",
    )
    waiting.add_argument(
        "--no-wait",
        dest="wait",
        action="store_const",
        const=False,
        help="return after submitting (default for DataflowRunner, which prints the job id "
        "and console URL); the manifest is still written by the job",
    )
    validate = sub.add_parser("validate", help="check a spec without running it")
    validate.add_argument("spec")
    add_vars(validate)
    demo = sub.add_parser("demo", help="build the dataset of the embedded demo corpus")
    demo.add_argument(
        "out",
        nargs="?",
        default=os.path.join("out", "demo"),
        help="output directory (default: out/demo)",
    )
    rep = sub.add_parser("report", help="print the stage funnel of a finished output")
    rep.add_argument("out", help="an output directory with a _manifest.json")
    for p in (run, demo):
        _add_progress(p)
    _add_explain(sub)
    _add_train_quality(sub)
    _add_train_domain(sub)
    return parser


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        choices=("auto", "live", "log", "off"),
        default="auto",
        help="progress of local runs on stderr: a live table (on a terminal), log lines, or "
        "nothing (default auto: live on a terminal, log lines otherwise)",
    )
    p.add_argument(
        "--progress-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between progress log lines (default 5)",
    )


def _add_explain(sub: Any) -> None:
    trace = sub.add_parser(
        "trace", help="print one record's history: origin, every stage, signals, why it left"
    )
    trace.add_argument("out", help="a finished output directory (with _manifest.json)")
    trace.add_argument("id", help="a record id (or a unique prefix of one)")
    trace.add_argument("--json", action="store_true", help="print the findings as JSON")
    sample = sub.add_parser("sample", help="pretty-print a few records of a finished output")
    sample.add_argument("out", help="a finished output directory (with _manifest.json)")
    sample.add_argument("--subset", help="only records of this subset")
    what = sample.add_mutually_exclusive_group()
    what.add_argument(
        "--rejected",
        nargs="?",
        const="",
        metavar="REASON",
        help="rejected records instead (of this reason, or stage:reason)",
    )
    what.add_argument(
        "--errors", nargs="?", const="", metavar="KIND", help="error records instead (of a kind)"
    )
    sample.add_argument("-n", type=int, default=5, help="how many records (default 5)")
    sample.add_argument("--seed", type=int, default=0, help="which records (default 0)")
    sample.add_argument("--full", action="store_true", help="do not shorten long texts")
    sample.add_argument("--json", action="store_true", help="print the records as JSON lines")
    diff = sub.add_parser(
        "diff", help="compare two outputs: records added, removed, changed; funnel per stage"
    )
    diff.add_argument("out_a", help="the earlier output")
    diff.add_argument("out_b", help="the later output")
    diff.add_argument("--examples", type=int, default=5, help="ids listed per change (default 5)")
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _add_train_quality(sub: Any) -> None:
    tq = sub.add_parser(
        "train-quality",
        help="train the fastText quality classifier; prints held-out AUC and accuracy",
        description=(
            "Train a fastText quality classifier (character n-grams) on good and bad documents. "
            "FILES are glob patterns: JSONL files (.jsonl/.ndjson, optionally .gz) give the first "
            "--field present in each record, other files one document per line. A held-out part "
            "of both classes (chosen by a hash of the text) measures the model."
        ),
    )
    tq.add_argument("--pos", nargs="+", required=True, metavar="FILES", help="good documents")
    tq.add_argument("--neg", nargs="+", required=True, metavar="FILES", help="bad documents")
    tq.add_argument("--out", required=True, metavar="MODEL", help="model file to write (.bin)")
    tq.add_argument(
        "--field",
        action="append",
        metavar="NAME",
        help="JSONL field holding the text, repeatable, first present wins "
        "(default: output, text, content, raw_content)",
    )
    tq.add_argument(
        "--holdout", type=float, default=0.2, help="held-out fraction (default 0.2; 0: none)"
    )
    tq.add_argument("--epochs", type=int, help="fastText epochs (default 10)")
    tq.add_argument("--lr", type=float, help="learning rate (default 0.1)")
    tq.add_argument("--dim", type=int, help="vector size (default 16)")
    tq.add_argument("--word-ngrams", type=int, help="character n-gram length (default 2)")
    tq.add_argument(
        "--max-chars",
        type=int,
        help="characters read per document (default 2000; scoring must use the same)",
    )
    tq.add_argument("--seed", type=int, default=0, help="seed of the held-out split")


def _add_train_domain(sub: Any) -> None:
    td = sub.add_parser(
        "train-domain",
        help="train the fastText domain classifier; prints held-out accuracy per domain",
        description=(
            "Train a fastText domain classifier (character n-grams) on labelled records: "
            "COIG-CQIA-style JSON lines (instruction, input, output, domain; optionally .gz). "
            "FILES are glob patterns. The label is the first domain (--label first) or every "
            "domain (--label all, one-vs-all). A held-out part (chosen by a hash of the text) "
            "measures the model. TagSchema uses it with domains: {model: MODEL}."
        ),
    )
    td.add_argument("--records", nargs="+", required=True, metavar="FILES", help="records")
    td.add_argument("--out", required=True, metavar="MODEL", help="model file to write (.bin)")
    td.add_argument("--label", choices=("first", "all"), default="first", help="default first")
    td.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="a domain value never used as a label (repeatable; e.g. 通用, 百科)",
    )
    td.add_argument(
        "--min-examples",
        type=int,
        default=1,
        help="drop labels with fewer training records (default 1: keep all)",
    )
    td.add_argument(
        "--holdout", type=float, default=0.2, help="held-out fraction (default 0.2; 0: none)"
    )
    td.add_argument("--epochs", type=int, help="fastText epochs (default 25)")
    td.add_argument("--lr", type=float, help="learning rate (default 0.1)")
    td.add_argument("--dim", type=int, help="vector size (default 16)")
    td.add_argument("--word-ngrams", type=int, help="character n-gram length (default 2)")
    td.add_argument("--seed", type=int, default=0, help="seed of the held-out split")


def _train_domain(args: argparse.Namespace, unknown: list[str]) -> int:
    if unknown:
        print(
            f"beam-cqia train-domain: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr
        )
        return EXIT_SPEC
    from collections import Counter

    from beam_cqia.models import domain

    options = {"epoch": args.epochs, "lr": args.lr, "dim": args.dim, "wordNgrams": args.word_ngrams}
    params = {k: v for k, v in options.items() if v is not None}
    try:
        examples, files = domain.read_labelled(args.records, args.label, args.exclude)
        counts = Counter(d for _, domains in examples for d in domains)
        keep = {d for d, n in counts.items() if n >= args.min_examples}
        examples = [
            (text, [d for d in domains if d in keep])
            for text, domains in examples
            if any(d in keep for d in domains)
        ]
        print(f"records: {len(examples):,} from {len(files)} file(s), {len(keep)} domains")
        result = domain.train_and_evaluate(
            examples, args.out, args.holdout, args.seed, multi_label=args.label == "all", **params
        )
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        print(f"beam-cqia: {exc}", file=sys.stderr)
        return EXIT_SPEC
    print(f"trained on {result.n_train:,} records in {result.train_seconds:.1f} s")
    if result.n_test:
        print(f"held out {result.n_test:,}: accuracy {result.accuracy:.4f} (top domain)")
        for name, (seen, right) in sorted(result.per_domain.items(), key=lambda kv: -kv[1][0]):
            print(f"  {name}\t{seen}\t{right / seen:.3f}")
    else:
        print("no held-out records: nothing measured")
    print(f"model: {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)")
    return 0


class _QuietKnownNoise(logging.Filter):
    """Drops two warnings Beam logs on every run that say nothing about the user's pipeline."""

    NOISE = (
        "Could not load ML transform module",  # Beam YAML imports optional ML extras eagerly
        "requested in with_outputs() but not declared in type hints",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in self.NOISE)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``beam-cqia`` console script."""
    args, beam_args = _parser().parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_QuietKnownNoise())
    try:
        if args.command == "validate":
            return _validate(args, beam_args)
        if args.command == "run":
            from beam_cqia import spec

            path, variables = spec.resolve(args.spec, _vars(args))
            return run_spec(path, variables, beam_args, wait=args.wait, progress=_progress_of(args))
        if args.command == "demo":
            return _demo(args.out, beam_args, _progress_of(args))
        if args.command == "report":
            return _report(args.out)
        if args.command in ("trace", "sample", "diff"):
            return _explain(args, beam_args)
        if args.command == "train-quality":
            return _train_quality(args, beam_args)
        if args.command == "train-domain":
            return _train_domain(args, beam_args)
    except SpecError as exc:
        print(f"beam-cqia: {exc}", file=sys.stderr)
        return EXIT_SPEC
    return EXIT_SPEC


def _vars(args: argparse.Namespace) -> dict[str, str]:
    from beam_cqia import spec

    return spec.parse_vars(args.var)


def _validate(args: argparse.Namespace, beam_args: list[str]) -> int:
    _needs_yaml()
    from beam_cqia import spec

    parsed = spec.check(args.spec, _vars(args), beam_args)
    sinks = spec.sink_paths(parsed)
    print(f"{args.spec}: OK" + (f" (writes {', '.join(sinks)})" if sinks else ""))
    if not sinks:
        print(
            "note: no WriteCqiaParquet sink, so rejected and error records are not written",
            file=sys.stderr,
        )
    return 0


def _progress_of(args: argparse.Namespace) -> tuple[str, float]:
    return args.progress, args.progress_interval


def run_spec(
    path: str,
    variables: dict[str, str],
    beam_args: list[str],
    wait: bool | None = None,
    progress: tuple[str, float] = ("auto", 5.0),
) -> int:
    """Builds and runs a spec (``beam-cqia run``; also the Flex Template and Airflow launcher).

    Local runners: waits, prints each output's funnel and checks its counts. DataflowRunner:
    prints the job id and console URL and returns unless ``wait``. With ``--template_location``
    Beam only stages the files and writes the template: nothing runs, nothing is checked.

    Args:
        path: the spec (local path or any Beam filesystem URL).
        variables: its Jinja variables.
        beam_args: pipeline options, e.g. ``["--runner", "DataflowRunner", ...]``.
        wait: True to block until the job ends, False to return after submitting, None for the
            runner's default (wait locally, not on Dataflow).
        progress: ``(mode, seconds)``: how a local run that is waited for shows its progress on
            stderr (``auto``, ``live``, ``log`` or ``off``; see :class:`beam_cqia.progress.Watch`)
            and the interval between log lines.

    Returns:
        The exit status: 0, EXIT_RUN (the job failed) or EXIT_CHECK (counts do not add up).
    """
    _needs_yaml()
    from beam_cqia import launch, spec

    pipeline, parsed = spec.build(path, variables, beam_args)
    mode = launch.launch_mode(pipeline.options)
    waits = launch.should_wait(mode, wait)
    if not mode.remote:
        from beam_cqia import fnapi_memory

        fnapi_memory.install()
    watch: Any = contextlib.nullcontext()
    if waits and not mode.remote and progress[0] != "off":
        from beam_cqia import progress as live

        watch = live.Watch(live.stages_of(pipeline), progress[0], log_seconds=progress[1])
    with watch:
        result = pipeline.run()
        state = result.wait_until_finish() if waits else None
    if not waits:
        for line in launch.describe_submission(result, pipeline.options):
            print(f"beam-cqia: {line}")
        return 0
    if str(state) not in ("DONE", "PipelineState.DONE"):
        print(f"beam-cqia: pipeline ended in state {state}", file=sys.stderr)
        return EXIT_RUN
    return _print_outputs(spec.sink_paths(parsed), result)


def _print_outputs(outputs: list[str], result: Any) -> int:
    status = 0
    counters = None
    try:
        counters = result.metrics().query()["counters"]
    except Exception:  # noqa: BLE001 - some runners cannot report metrics; the manifest still can
        counters = None
    for out in outputs:
        manifest = report.read_manifest(out)
        where = os.path.abspath(out) if "://" not in out else out
        print(f"\noutput: {where}")
        # The funnel as Beam's counters tell it; the check below says it equals the manifest.
        print(
            report.format_funnel(
                report.funnel_from_metrics(counters, manifest) if counters is not None else manifest
            )
        )
        problems = report.conservation_problems(manifest)
        if counters is None:
            print("counters: none reported by this runner; the funnel is the manifest's")
        else:
            mismatches = report.metric_mismatches(counters, manifest)
            problems += mismatches
            if not mismatches:
                stages = len(manifest["stages"])
                print(f"counters: Beam's agree with the manifest on all {stages} stages")
        for problem in problems:
            print(f"beam-cqia: COUNT MISMATCH {problem}", file=sys.stderr)
            status = EXIT_CHECK
        print(f"report: {where.rstrip('/')}/report.html")
    return status


def _demo(out: str, beam_args: list[str], progress: tuple[str, float] = ("auto", 5.0)) -> int:
    from beam_cqia import spec

    _needs_yaml()
    variables = {"input": spec.demo_data_dir(), "output": out}
    print(f"beam-cqia demo: building {spec.packaged_spec('demo')} into {out}")
    return run_spec(spec.packaged_spec("demo"), variables, beam_args, progress=progress)


def _explain(args: argparse.Namespace, unknown: list[str]) -> int:
    if unknown:
        print(
            f"beam-cqia {args.command}: unrecognized arguments: {' '.join(unknown)}",
            file=sys.stderr,
        )
        return EXIT_SPEC
    from beam_cqia import explain

    try:
        if args.command == "trace":
            return explain.trace_command(args.out, args.id, as_json=args.json)
        if args.command == "sample":
            return explain.sample_command(
                args.out,
                subset=args.subset,
                rejected=args.rejected,
                errors=args.errors,
                n=args.n,
                seed=args.seed,
                full=args.full,
                as_json=args.json,
            )
        return explain.diff_command(
            args.out_a, args.out_b, examples=args.examples, as_json=args.json
        )
    except explain.ExplainError as exc:
        print(f"beam-cqia {args.command}: {exc}", file=sys.stderr)
        return EXIT_SPEC


def _report(out: str) -> int:
    manifest = report.read_manifest(out)
    print(report.format_funnel(manifest))
    problems = report.conservation_problems(manifest)
    for problem in problems:
        print(f"beam-cqia: COUNT MISMATCH {problem}", file=sys.stderr)
    return EXIT_CHECK if problems else 0


def _train_quality(args: argparse.Namespace, unknown: list[str]) -> int:
    if unknown:
        print(
            f"beam-cqia train-quality: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr
        )
        return EXIT_SPEC
    from beam_cqia.models import training
    from beam_cqia.models.quality import DEFAULT_MAX_CHARS

    fields = [f for value in args.field or [] for f in value.split(",") if f] or list(
        training.DEFAULT_FIELDS
    )
    options = {
        "epoch": args.epochs,
        "lr": args.lr,
        "dim": args.dim,
        "wordNgrams": args.word_ngrams,
    }
    params = {k: v for k, v in options.items() if v is not None}
    try:
        pos, pos_files = training.read_documents(args.pos, fields)
        neg, neg_files = training.read_documents(args.neg, fields)
        print(f"positives: {len(pos):,} documents from {len(pos_files)} file(s)")
        print(f"negatives: {len(neg):,} documents from {len(neg_files)} file(s)")
        max_chars = DEFAULT_MAX_CHARS if args.max_chars is None else args.max_chars
        result = training.train_and_evaluate(
            pos, neg, args.out, args.holdout, args.seed, max_chars, **params
        )
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        print(f"beam-cqia: {exc}", file=sys.stderr)
        return EXIT_SPEC
    print(
        f"trained on {result.n_train_pos:,} + {result.n_train_neg:,} documents "
        f"in {result.train_seconds:.1f} s"
    )
    if result.n_test_pos and result.n_test_neg:
        print(
            f"held out {result.n_test_pos:,} + {result.n_test_neg:,}: "
            f"AUC {result.auc:.4f}, accuracy {result.accuracy:.4f} (threshold 0.5)"
        )
    else:
        print("no held-out documents of both classes: nothing measured")
    size = training.model_size(args.out) / 1e6
    print(f"model: {args.out} ({size:.1f} MB)")
    if max_chars != DEFAULT_MAX_CHARS:
        print(f"score with QualityModel({args.out!r}, max_chars={max_chars})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
