"""How long the expression parser of `autodiff graph` takes on long expressions inside every limit.

    python -m demos.benchmark --parser     # or python -m demos.bench_parser; seconds

Each expression is parsed, and parsed, evaluated and differentiated, `--repeats` times;
the figures are medians.
"""

from __future__ import annotations

import argparse
import statistics

from demos.bench_common import machine, timed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per expression (default 7)")
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args(argv)
    parser_benchmark(3 if args.quick else args.repeats)


def parser_benchmark(repeats: int) -> None:
    """Parse, and parse + evaluate + backward, long expressions inside every documented limit.

    Parsing was once quadratic in the text's length (the text of every node was cut out of the whole text,
    in case an error message needed it): 11.6 s for the max of 4,997 arguments. It is linear now; this shows it.
    """
    from autodiff.expression import MAX_LENGTH, parse_expression

    texts = {
        "softplus(x) + softplus(x) + ..., 833 terms": "+".join(["softplus(x)"] * 833),
        "max(x, x, ...), 4,997 arguments": "max(" + ",".join(["x"] * 4997) + ")",
        "x * x * ..., 1,000 operators": "*".join(["x"] * 1001),
    }
    print(f"machine: {machine()}")
    print(f"repeats: {repeats}, medians; texts of at most {MAX_LENGTH:,} characters (the limit)\n")
    print("| expression | characters | parse | parse + evaluate + backward |")
    print("| --- | --- | --- | --- |")
    for label, text in texts.items():
        assert len(text) <= MAX_LENGTH, label

        def run_all(text: str = text) -> None:
            out, _ = parse_expression(text).evaluate({"x": 0.5})
            out.backward()

        parse = statistics.median(
            timed(lambda text=text: parse_expression(text), collect=False)[0] for _ in range(repeats)
        )
        total = statistics.median(timed(run_all, collect=False)[0] for _ in range(repeats))
        print(f"| {label} | {len(text):,} | {parse * 1e3:.1f} ms | {total * 1e3:.1f} ms |")


if __name__ == "__main__":
    main()
