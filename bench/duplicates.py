"""Duplicate detection (issues 7 and 15): is a later post the same matter as a reported one?

Pairs: data/dups/pairs.jsonl (mixed near misses: another light, another 组, the same road for
another reason, a new occurrence, thanks after the fix) and data/dups/places.jsonl (writer d01:
near misses that differ only by place, and same-place pairs worded with aliases).

Two figures per file, precision and recall of "same":
- matcher: `classifier.duplicates.same_matter(a, b)` alone, weighted by the document frequencies
  of the shipped model as the bot weighs them (unweighted when the model cannot be loaded);
- as intake: linked only when, in addition, the shipped model takes the later post for a matter
  of the first one's kind (intake compares a post with open issues of its kind only).

places.jsonl is also reported in two fixed halves (SHA-1 of the pair): the place rules of
handlers/places.py were checked against the errors of the "dev" half only; "test" is the half
whose pairs were not read one by one while writing them.

Run: .venv/bin/python bench/duplicates.py [--errors FILE:HALF] [--write]   (--write replaces the
"## Duplicates" section of docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from classifier import duplicates  # noqa: E402
from classifier.places import places  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FILES = {"pairs": ROOT / "data/dups/pairs.jsonl", "places": ROOT / "data/dups/places.jsonl"}
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Duplicates"


def half(pair: dict[str, Any]) -> str:
    digest = hashlib.sha1(f"{pair['a']}\n{pair['b']}".encode()).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def load_model() -> tuple[Any, Callable[[str], float], str]:
    """The shipped model and its IDF weight, or (None, unweighted) when it cannot be loaded."""
    try:
        from classifier.model import SHIPPED, LinearModel

        model = LinearModel.load(SHIPPED)
    except Exception as exc:  # another format while the classifier is retrained
        return None, duplicates._default_weight, f"unweighted ({exc})"

    class Holder:
        pass

    holder = Holder()
    holder.model = model  # type: ignore[attr-defined]
    weight = duplicates.idf_of(holder)
    return model, weight or duplicates._default_weight, "IDF of the shipped model"


def score(outcomes: Iterable[tuple[bool, bool]]) -> dict[str, float]:
    tp = fp = fn = n = 0
    for linked, same in outcomes:
        n += 1
        tp += linked and same
        fp += linked and not same
        fn += (not linked) and same
    return {
        "pairs": n,
        "same": tp + fn,
        "tp": tp,
        "fp": fp,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write the section to docs/benchmarks.md")
    ap.add_argument("--errors", help="print the errors of FILE[:HALF], e.g. places:dev or pairs")
    args = ap.parse_args()

    model, weight, weighting = load_model()
    not_matter = None
    if model is not None:
        from storage.models import NOT_MATTER

        not_matter = NOT_MATTER
    rows: list[tuple[str, str, dict[str, float], dict[str, float] | None]] = []
    for name, path in FILES.items():
        pairs = read(path)
        linked = [duplicates.same_matter(p["a"], p["b"], weight) for p in pairs]
        gated: list[bool] | None = None
        if model is not None:
            gated = []
            for p, link in zip(pairs, linked, strict=True):
                pa, pb = model.predict(p["a"]), model.predict(p["b"])
                gated.append(link and pb.label != not_matter and pa.kind == pb.kind)
        subsets: list[tuple[str, list[int]]] = [("all", list(range(len(pairs))))]
        if name == "places":
            for h in ("dev", "test"):
                subsets.append((h, [i for i, p in enumerate(pairs) if half(p) == h]))
        for label, idx in subsets:
            alone = score((linked[i], pairs[i]["same"]) for i in idx)
            intake = score((gated[i], pairs[i]["same"]) for i in idx) if gated else None
            rows.append((name, label, alone, intake))
        if args.errors and args.errors.split(":")[0] == name:
            want = args.errors.split(":")[1] if ":" in args.errors else None
            for p, link in zip(pairs, linked, strict=True):
                if link != p["same"] and (want is None or half(p) == want):
                    kind = "WRONG LINK" if link else "missed"
                    print(f"{kind}: {p['a']} | {p['b']}  ({p['note']})")
                    print(f"    {sorted(places(p['a']))} | {sorted(places(p['b']))}")

    lines = [
        "| file | pairs | same | matcher: precision | recall | wrong links | as intake: precision"
        " | recall | wrong links |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label, alone, intake in rows:
        file = f"{FILES[name].name}" + ("" if label == "all" else f" ({label} half)")
        cells = [
            file,
            f"{alone['pairs']:.0f}",
            f"{alone['same']:.0f}",
            f"**{alone['precision']:.3f}**",
            f"{alone['recall']:.3f}",
            f"{alone['fp']:.0f}",
        ]
        if intake:
            cells += [
                f"{intake['precision']:.3f}",
                f"{intake['recall']:.3f}",
                f"{intake['fp']:.0f}",
            ]
        else:
            cells += ["—", "—", "—"]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(f"weights: {weighting}\n\n{table}")
    if args.write:
        text = DOC.read_text("utf-8")
        start = text.find(SECTION + "\n")
        if start < 0:
            raise SystemExit(f"{DOC}: no '{SECTION}' section to fill in")
        end = text.find("\n## ", start + 1)
        body = text[start : end if end >= 0 else len(text)]
        begin, stop = "<!-- bench/duplicates.py -->\n", "<!-- /bench/duplicates.py -->"
        if begin not in body or stop not in body:
            raise SystemExit(f"{DOC}: the '{SECTION}' section has no bench markers")
        a, b = body.index(begin) + len(begin), body.index(stop)
        new = body[:a] + f"Weights: {weighting}.\n\n{table}\n" + body[b:]
        DOC.write_text(text[:start] + new + text[start + len(body) :], "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
