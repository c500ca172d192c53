"""Post classifier (issue 15): an honest evaluation at the group's decision, speed, size, load.

- leave-one-writer-out (LOWO, the headline): for every writer of the training files (A, B, C
  for part1–3, then writers/*.jsonl, whatever files exist when run), a model trained on all
  the other writers scores that writer's posts; per writer, the mean over writers, and per
  style (all writers' posts of that style, each scored by the model that never saw its writer);
- frozen: data/posts/frozen/*.jsonl (two writers never trained on), scored by a model trained
  on every writer; aggregate figures only: this script never prints, stores or returns one of
  its posts, and nothing is tuned on it;
- heldout: data/posts/heldout.jsonl (formal complaints), the same model: kept and registered;
- thresholds: a sweep of the group and low thresholds and of the privacy margin over the LOWO
  scores (how the constants of handlers/classifier.py were chosen);
- speed: `predict` of the shipped model on one core over every post, the model file's size and
  load time (LinearModel.load, median of 5). Duplicates: bench/duplicates.py.

Every figure is taken at the group decision (classifier.base.decide, private=False): a post
counts as the kind it would be registered under when registered, else as 非事项.

Run: .venv/bin/python bench/classifier.py [--jobs 2] [--write]   (--write replaces the
"## Classifier" section of docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from classifier.base import (  # noqa: E402
    GROUP_THRESHOLD,
    LOW_THRESHOLD,
    PRIVACY_MARGIN,
    REGISTERED,
    TRIAGE,
    Prediction,
    decide,
)
from classifier.model import SHIPPED, LinearModel  # noqa: E402
from classifier.training import (  # noqa: E402
    FROZEN_DIR,
    LABELS,
    REPO_POSTS,
    Example,
    dataset,
    read_jsonl,
    train,
)
from storage.models import NOT_MATTER  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
_DIGIT_OR_LATIN = re.compile(r"[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]")
NEW_STYLES = ("plain", "terse", "wrapped", "petition", "hard_kind", "hard_chatter", "notice")
PRIVATE = ("户里事", "邻里事")


@dataclass(frozen=True)
class Scored:
    """One post's gold label and the model's scores (enough to replay any decision rule)."""

    label: str
    style: str
    writer: str
    matter: float
    kind: str
    kind_confidence: float
    model_label: str
    short: bool = False  # under 12 characters
    digits: bool = False  # has a digit or a Latin letter

    def prediction(self) -> Prediction:
        conf = self.matter * self.kind_confidence if self.model_label != NOT_MATTER else 0.0
        return Prediction(self.model_label, conf, self.matter, self.kind, self.kind_confidence)


def score(model: LinearModel, examples: Sequence[Example]) -> list[Scored]:
    out = []
    for e in examples:
        p = model.predict(e.text)
        out.append(
            Scored(
                e.label,
                e.style,
                e.writer,
                p.matter,
                p.kind,
                p.kind_confidence,
                p.label,
                len(e.text.strip()) < 12,
                bool(_DIGIT_OR_LATIN.search(e.text)),
            )
        )
    return out


Rule = Callable[[Scored], tuple[str, bool]]  # (outcome, shown_in_group)


def group_rule(
    group: float = GROUP_THRESHOLD, low: float = LOW_THRESHOLD, margin: float = PRIVACY_MARGIN
) -> Rule:
    """decide() with other constants (the sweep); with the defaults, decide() itself."""

    def rule(s: Scored) -> tuple[str, bool]:
        if (group, low, margin) == (GROUP_THRESHOLD, LOW_THRESHOLD, PRIVACY_MARGIN):
            d = decide(s.prediction(), private=False)
            return d.outcome, d.shown_in_group
        if s.matter >= group:
            kind = s.model_label if s.model_label != NOT_MATTER else s.kind
            return REGISTERED, kind == "村里事" and 1 - s.kind_confidence <= margin
        return (TRIAGE if s.matter >= low else "chatter"), False

    return rule


@dataclass
class Figures:
    n: int
    macro_f1: float
    f1: dict[str, float]
    chatter_registered: float  # of gold 非事项, registered in the group
    chatter_triage: float  # of gold 非事项, sent to a cadre's card
    kept: float  # of gold matters, registered or triage
    registered: float  # of gold matters, registered
    kind_right: float  # of gold matters registered, registered under the right kind
    private_shown: float  # of gold 户里事/邻里事, text shown in the group
    n_chatter: int
    n_matter: int
    n_private: int


def figures(scored: Sequence[Scored], rule: Rule | None = None) -> Figures:
    rule = rule or group_rule()
    conf: dict[tuple[str, str], int] = defaultdict(int)
    chat_reg = chat_tri = kept = reg = right = shown = 0
    n_chat = n_matter = n_private = 0
    for s in scored:
        outcome, visible = rule(s)
        kind = s.model_label if s.model_label != NOT_MATTER else s.kind
        pred = kind if outcome == REGISTERED else NOT_MATTER
        conf[s.label, pred] += 1
        if s.label == NOT_MATTER:
            n_chat += 1
            chat_reg += outcome == REGISTERED
            chat_tri += outcome == TRIAGE
        else:
            n_matter += 1
            kept += outcome in (REGISTERED, TRIAGE)
            reg += outcome == REGISTERED
            right += outcome == REGISTERED and kind == s.label
        if s.label in PRIVATE:
            n_private += 1
            shown += visible
    f1 = {}
    for lab in LABELS:
        tp = conf[lab, lab]
        gold = sum(v for (g, _), v in conf.items() if g == lab)
        n_pred = sum(v for (_, q), v in conf.items() if q == lab)
        p = tp / n_pred if n_pred else 0.0
        r = tp / gold if gold else 0.0
        if gold:
            f1[lab] = 2 * p * r / (p + r) if p + r else 0.0

    def share(a: int, b: int) -> float:
        return a / b if b else float("nan")

    return Figures(
        len(scored),
        sum(f1.values()) / len(f1) if f1 else float("nan"),
        f1,
        share(chat_reg, n_chat),
        share(chat_tri, n_chat),
        share(kept, n_matter),
        share(reg, n_matter),
        share(right, reg),
        share(shown, n_private),
        n_chat,
        n_matter,
        n_private,
    )


def pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}"


HEADER = (
    "| set | n | macro-F1 | F1 村里事 / 邻里事 / 户里事 / 非事项 | chatter registered % "
    "| chatter to triage % | matters kept % | matters registered % | right kind % "
    "| 户里事/邻里事 shown % |\n|---|---|---|---|---|---|---|---|---|---|"
)


def row(name: str, f: Figures, bold: bool = False) -> str:
    per = " / ".join(f"{f.f1[lab]:.3f}" if lab in f.f1 else "—" for lab in LABELS)
    mf = f"**{f.macro_f1:.3f}**" if bold else f"{f.macro_f1:.3f}"
    return (
        f"| {name} | {f.n} | {mf} | {per} | {pct(f.chatter_registered)} | "
        f"{pct(f.chatter_triage)} | {pct(f.kept)} | {pct(f.registered)} | {pct(f.kind_right)} | "
        f"{pct(f.private_shown)} |"
    )


def mean_row(per: list[Figures]) -> str:
    def m(get: Callable[[Figures], float]) -> float:
        vals = [v for v in map(get, per) if v == v]
        return sum(vals) / len(vals) if vals else float("nan")

    f1 = {lab: m(lambda f, lab=lab: f.f1.get(lab, float("nan"))) for lab in LABELS}  # type: ignore[misc]
    f = Figures(
        sum(x.n for x in per),
        m(lambda f: f.macro_f1),
        f1,
        m(lambda f: f.chatter_registered),
        m(lambda f: f.chatter_triage),
        m(lambda f: f.kept),
        m(lambda f: f.registered),
        m(lambda f: f.kind_right),
        m(lambda f: f.private_shown),
        0,
        0,
        0,
    )
    return row("**mean over writers**", f, bold=True)


# --- the runs ------------------------------------------------------------------------------------


def _lowo_one(args: tuple[str, list[Example], list[Example]]) -> tuple[str, list[Scored]]:
    writer, tr, te = args
    return writer, score(train(tr), te)


def lowo(data: list[Example], jobs: int) -> dict[str, list[Scored]]:
    writers = sorted({e.writer for e in data}, key=lambda w: (len(w) > 1, w))
    tasks = [
        (w, [e for e in data if e.writer != w], [e for e in data if e.writer == w]) for w in writers
    ]
    out: dict[str, list[Scored]] = {}
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for w, s in pool.map(_lowo_one, tasks):
                out[w] = s
                print(row(w, figures(s)), flush=True)
    else:
        for t in tasks:
            w, s = _lowo_one(t)
            out[w] = s
            print(row(w, figures(s)), flush=True)
    return {w: out[w] for w in writers}


def frozen_figures(model: LinearModel) -> tuple[int, Figures | None]:
    """Aggregate figures on the frozen files; no post leaves this function."""
    files = sorted((REPO_POSTS / FROZEN_DIR).glob("*.jsonl"))
    if not files:
        return 0, None
    scored = score(model, [e for f in files for e in read_jsonl(f)])
    return len(files), figures(scored)


def sweep(scored: list[Scored]) -> list[str]:
    """The pooled LOWO figures for other constants: how the shipped ones were chosen."""
    lines = [
        "| group threshold | macro-F1 | chatter registered % | matters registered % |",
        "|---|---|---|---|",
    ]
    for g in (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
        f = figures(scored, group_rule(group=g))
        lines.append(
            f"| {g:.2f} | {f.macro_f1:.3f} | {pct(f.chatter_registered)} | {pct(f.registered)} |"
        )
    lines += [
        "",
        "| low threshold | matters kept % | chatter to triage % |",
        "|---|---|---|",
    ]
    for low in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4):
        f = figures(scored, group_rule(low=low))
        lines.append(f"| {low:.2f} | {pct(f.kept)} | {pct(f.chatter_triage)} |")
    lines += [
        "",
        "| privacy margin | 户里事/邻里事 shown % | 村里事 registered with its text shown % |",
        "|---|---|---|",
    ]
    village = [s for s in scored if s.label == "村里事"]
    for margin in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0):
        rule = group_rule(margin=margin)
        f = figures(scored, rule)
        public = sum(rule(s)[1] for s in village) / max(1, len(village))
        lines.append(f"| {margin:.2f} | {pct(f.private_shown)} | {pct(public)} |")
    return lines


def heldout_figures(model: LinearModel) -> tuple[Figures, Figures]:
    held = read_jsonl(REPO_POSTS / "heldout.jsonl")
    scored = score(model, held)
    return figures(scored), figures([s for s in scored if s.label != NOT_MATTER])


def speed(texts: list[str]) -> dict[str, float]:
    m = LinearModel.load(SHIPPED)
    for t in texts[:200]:
        m.predict(t)
    best = best_cpu = 0.0
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        for t in texts:
            m.predict(t)
        best = max(best, len(texts) / (time.perf_counter() - start))
        best_cpu = max(best_cpu, len(texts) / (time.process_time() - cpu))
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        LinearModel.load(SHIPPED)
        loads.append(time.perf_counter() - start)
    return {
        "posts_per_s": best,
        "posts_per_cpu_s": best_cpu,
        "load_s": statistics.median(loads),
        "size_kb": SHIPPED.stat().st_size / 1024,
        "vocab": len(m.vocab),
        "mean_chars": sum(map(len, texts)) / len(texts),
        "examples": float(m.meta.get("examples", 0)),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write the figures to docs/benchmarks.md")
    ap.add_argument("--jobs", type=int, default=1, help="LOWO models trained in parallel")
    ap.add_argument(
        "--scores",
        type=Path,
        help="also write the LOWO scores (labels and probabilities, no text) to this JSON file",
    )
    args = ap.parse_args()
    started = time.perf_counter()
    data = dataset()
    counts: dict[str, int] = defaultdict(int)
    for e in data:
        counts[e.writer] += 1
    print("writers:", dict(counts), flush=True)

    print(HEADER, flush=True)
    per_writer = lowo(data, args.jobs)
    lowo_lines = [row(w, figures(s)) for w, s in per_writer.items()]
    lowo_lines.append(mean_row([figures(s) for s in per_writer.values()]))
    pooled = [s for ss in per_writer.values() for s in ss]
    if args.scores:
        args.scores.write_text(json.dumps([s.__dict__ for s in pooled], ensure_ascii=False))
    lowo_lines.append(row("all LOWO posts pooled", figures(pooled)))
    print(lowo_lines[-2], flush=True)

    style_lines = []
    for st in NEW_STYLES:
        sub = [s for s in pooled if s.style == st]
        if sub:
            style_lines.append(row(st, figures(sub)))
    old = [s for s in pooled if s.writer in ("A", "B", "C")]
    if old:
        style_lines.append(row("A–C (their own styles)", figures(old)))
    style_lines.append(
        row("any writer: under 12 characters", figures([s for s in pooled if s.short]))
    )
    style_lines.append(
        row("any writer: with digits or Latin letters", figures([s for s in pooled if s.digits]))
    )

    sweep_lines = sweep(pooled)

    everyone = train(data)
    n_frozen, fz = frozen_figures(everyone)
    frozen_line = row("frozen (trained on every writer)", fz, bold=True) if fz else ""
    held_all, held_matters = heldout_figures(everyone)
    print(frozen_line or "frozen: no files", flush=True)

    sp = speed([e.text for e in data])
    print(sp, flush=True)
    minutes = (time.perf_counter() - started) / 60
    speed_table = (
        "| posts/s (one core, wall) | posts per CPU-second | model file | n-grams | load (median) "
        "| mean post | trained on |\n|---|---|---|---|---|---|---|\n"
        f"| {sp['posts_per_s']:,.0f} | {sp['posts_per_cpu_s']:,.0f} | {sp['size_kb']:.0f} KB "
        f"| {sp['vocab']:,.0f} | {sp['load_s'] * 1000:.0f} ms | {sp['mean_chars']:.0f} chars "
        f"| {sp['examples']:,.0f} posts |"
    )

    load = os.getloadavg()[0]
    shared = (
        "the machine was shared with other work, so speed is a lower bound — the CPU-second "
        "figure is the less disturbed one"
        if load > 1.5
        else "nothing else was running"
    )
    frozen_text = (
        f"{frozen_line}\n"
        if fz
        else "| frozen | — | no file in data/posts/frozen/ when run | | | | | | | |\n"
    )
    writers_text = ", ".join(f"{w} {n}" for w, n in counts.items())
    section = f"""## Classifier

Run: `.venv/bin/python bench/classifier.py --jobs 2 --write` ({time.strftime("%Y-%m-%d")},
Python {platform.python_version()}; load average {load:.1f} on {os.cpu_count()} cores during the
run: {shared}; {minutes:.0f} minutes). Model: character 1–3-grams of the post's content
(emoji, leading greetings and trailing thanks removed, digits and Latin letters one neutral
token, no length feature) + cue-word categories, two logistic regressions (is-matter,
Platt-calibrated on out-of-fold scores; kind among 3, temperature-calibrated), pure numpy
(handlers/model.py, handlers/normalize.py). Dataset: docs/dataset.md ({len(data):,} posts by
{len(counts)} writers: {writers_text}).

Every figure is at the **group decision** (`classifier.base.decide`, private=False): a post
is registered when P(matter) ≥ {GROUP_THRESHOLD} (GROUP_THRESHOLD) and then counts as its kind;
triage (a cadre's card) when {LOW_THRESHOLD} ≤ P(matter) < {GROUP_THRESHOLD}; else chatter.
macro-F1 is over the four labels, a post not registered counting as 非事项. "Kept" is
registered or triage. "Shown" is a 户里事/邻里事 post whose text the group would see (registered
as 村里事 with P(户里事)+P(邻里事) ≤ {PRIVACY_MARGIN}, PRIVACY_MARGIN).

### Leave-one-writer-out (headline)

Each row: a model trained on every other writer, scored on this writer's posts.

{HEADER}
{chr(10).join(lowo_lines)}

Before (hand run: the model of df0dba4 — length buckets, emoji as a chatter cue, cue words
anywhere, L2 1e-4 — trained the same way on the same 11 writers, decided at 0.6 / 0.35 with no
privacy margin): mean macro-F1 0.911, chatter registered 9.6 %, matters kept 98.1 %, registered
95.7 %, 户里事/邻里事 shown 4.1 %; wrapped matters registered 92.4 %, matters with digits or Latin
letters 93.8 %, posts under 12 characters: 5.6 % of chatter registered and 7.7 % of private
matters shown. The new features alone (same L2) gave 0.914 and 9.6 % chatter registered;
dropping the L2 penalty (a fixed 150 Adam steps regularise) gave the figures above. How the
settings were chosen, on the LOWO of five writers (C, w02, w04, w06, w07; macro-F1 at the
threshold that registers 5 % of chatter): L2 1e-3 0.71, 1e-4 0.86, 1e-5 0.92, 1e-6 0.94,
none 0.946; then, without L2, 150 / 300 / 450 steps 0.946 / 0.946 / 0.946, cue weight 0.2
0.946, greetings and thanks kept (not removed) 0.942, digits as separators 0.946, chatter
weighted 1.5× 0.945, skip-bigrams added 0.941, min_df 1 / 3 0.945 / 0.938, Adam step 0.05 / 0.2
0.946 / 0.946; 4-grams (L2 1e-5) 0.915 against 0.917. A few Cantonese words added to
the dialect table changed nothing on w06 and B (0.888 against 0.889) and were not kept; jieba
was not needed (character n-grams already reach the targets at about 15,000 posts/s).

Honesty: the cue-word lists and the dialect table date from issue 7 and were extended then
after looking at part1–3 cross-writer and heldout errors, so A–C's rows and the heldout rows
are somewhat optimistic. No word list or rule was changed after looking at any new writer's
errors; the greeting and thanks patterns (handlers/normalize.py) were written from the issue's
description before the first evaluation. The thresholds and the margin were chosen on the LOWO
figures only (the sweep below), never on frozen or heldout.

### Frozen test set and heldout

The frozen files ({n_frozen} in data/posts/frozen/) are two writers never trained on; only
these aggregate figures are computed on them (never a post printed or looked at), and nothing
was tuned on them. Heldout: data/posts/heldout.jsonl (formal complaints, evaluation only).
Both scored by a model trained on every writer (as the shipped one).

{HEADER}
{frozen_text}{row("heldout.jsonl (all 300)", held_all)}
{row("heldout.jsonl, the 230 complaints", held_matters)}

Heldout complaints kept **{pct(held_matters.kept)} %**, registered
**{pct(held_matters.registered)} %**.

A problem signal as a further way into triage (a post under the low threshold with a problem,
request, report or dispute cue word) was measured on the LOWO scores and left out: it would
keep 0.1–0.5 % more matters for 0.2–21 % more of chatter sent to a cadre's card (depending on
the cue words and on a floor of 0–0.2 for P(matter)); the model already weighs those cues.

### Per style (LOWO)

Each writer's posts of a style, scored by the model that never saw that writer (the styles of
the new writers' files; A–C wrote their own, see docs/dataset.md), and two slices the issue
named: short posts and posts with digits or Latin letters.

{HEADER}
{chr(10).join(style_lines)}

### How the thresholds and the margin were chosen (LOWO, all writers' posts pooled)

{chr(10).join(sweep_lines)}

### Speed and size

{speed_table}

Load is `LinearModel.load` of the file alone; importing classifier.model (numpy, sqlmodel through
storage.models) is the bot's own start-up cost.
"""
    print(section)
    if args.write:
        text = DOC.read_text("utf-8") if DOC.exists() else "# Benchmarks\n"
        start = text.find("## Classifier")
        if start >= 0:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + section
        DOC.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
