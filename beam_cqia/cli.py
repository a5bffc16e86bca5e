"""``beam-cqia``: run, check and report Beam YAML specs; run the embedded demo.

beam-cqia run SPEC.yaml [--var k=v ...] [--runner R] [--wait|--no-wait] [beam options...]
beam-cqia validate SPEC.yaml [--var k=v ...]
beam-cqia demo [OUT] [beam options...]
beam-cqia report OUT
beam-cqia train-quality --pos FILES... --neg FILES... --out MODEL [--field F] [--epochs N ...]
beam-cqia train-domain --records FILES... --out MODEL [--label first|all] [--exclude D ...]
"""

import argparse
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
    _add_train_quality(sub)
    _add_train_domain(sub)
    return parser


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
            return run_spec(path, variables, beam_args, wait=args.wait)
        if args.command == "demo":
            return _demo(args.out, beam_args)
        if args.command == "report":
            return _report(args.out)
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


def run_spec(
    path: str, variables: dict[str, str], beam_args: list[str], wait: bool | None = None
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

    Returns:
        The exit status: 0, EXIT_RUN (the job failed) or EXIT_CHECK (counts do not add up).
    """
    _needs_yaml()
    from beam_cqia import launch, spec

    pipeline, parsed = spec.build(path, variables, beam_args)
    mode = launch.launch_mode(pipeline.options)
    result = pipeline.run()
    if not launch.should_wait(mode, wait):
        for line in launch.describe_submission(result, pipeline.options):
            print(f"beam-cqia: {line}")
        return 0
    state = result.wait_until_finish()
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
        print(f"\noutput: {os.path.abspath(out) if '://' not in out else out}")
        print(report.format_funnel(manifest))
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
    return status


def _demo(out: str, beam_args: list[str]) -> int:
    from beam_cqia import spec

    _needs_yaml()
    variables = {"input": spec.demo_data_dir(), "output": out}
    print(f"beam-cqia demo: building {spec.packaged_spec('demo')} into {out}")
    return run_spec(spec.packaged_spec("demo"), variables, beam_args)


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
