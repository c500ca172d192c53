"""The dataset's files in figures, for docs/dataset.md: posts, labels, styles, writers.

Run: .venv/bin/python bench/dataset.py   (prints markdown; frozen/ files are counted, never read
beyond their labels)
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from classifier.training import (  # noqa: E402
    FROZEN_DIR,
    LABELS,
    PART_WRITERS,
    REPO_POSTS,
    read_jsonl,
    training_files,
    usable,
)
from handlers.parsing import explicit_tag  # noqa: E402


def main() -> int:
    files = training_files(REPO_POSTS)
    print(
        "| file | writer | posts | 村里事 | 邻里事 | 户里事 | 非事项 | explicit tag | mean chars |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    every = []
    styles: dict[str, Counter[str]] = {}
    for f in files:
        rows = read_jsonl(f, writer=PART_WRITERS.get(f.stem, f.stem))
        every += rows
        labels = Counter(e.label for e in rows)
        writer = ", ".join(sorted({e.writer for e in rows}))
        tags = sum(explicit_tag(e.text) is not None for e in rows)
        mean = sum(len(e.text) for e in rows) / max(1, len(rows))
        name = f.relative_to(REPO_POSTS)
        print(
            f"| {name} | {writer} | {len(rows)} | "
            + " | ".join(str(labels[lab]) for lab in LABELS)
            + f" | {tags} | {mean:.0f} |"
        )
        if f.parent.name == "writers":
            styles[writer] = Counter(e.style for e in rows)
    labels = Counter(e.label for e in every)
    print(
        f"| **training, all** | {len({e.writer for e in every})} writers | {len(every)} | "
        + " | ".join(str(labels[lab]) for lab in LABELS)
        + f" | | {sum(len(e.text) for e in every) / max(1, len(every)):.0f} |"
    )
    print(f"\ndistinct untagged posts trained on: {len(usable(every))}")
    frozen = sorted((REPO_POSTS / FROZEN_DIR).glob("*.jsonl"))
    n_frozen = sum(len(read_jsonl(f)) for f in frozen)
    print(f"frozen: {len(frozen)} files, {n_frozen} posts (counted only)")
    if styles:
        names = sorted({s for c in styles.values() for s in c})
        print("\n| writer | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for w, c in styles.items():
            print(f"| {w} | " + " | ".join(str(c[s]) for s in names) + " |")
        total = Counter[str]()
        for c in styles.values():
            total.update(c)
        print("| **all** | " + " | ".join(f"**{total[s]}**" for s in names) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
