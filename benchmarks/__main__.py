"""``python -m benchmarks <name> [options]``: run one benchmark script by name."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def available() -> list[str]:
    skip = {"harness", "__main__"}
    return sorted(
        m.name
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if not m.name.startswith("_") and m.name not in skip and not m.ispkg
    )


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: python -m benchmarks <name> [--out DIR] [--quick]\nbenchmarks: "
            + ", ".join(names)
        )
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in names:
        print(f"unknown benchmark {name!r}; choose one of: {', '.join(names)}", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"benchmarks.{name}")
    rc = mod.main(rest)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
