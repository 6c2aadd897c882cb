"""Re-score the recogniser's readings offline: how `ReadingChoice.best` would fare at other weights and margins.

bench_ear.py --outcomes FILE keeps, for every decode on the answer path, the engine's best reading and its
others with how far behind each is. This replays the dialogue on them (no audio, no decoding: seconds), so the
weight (`READING_WEIGHT`) and the beam margin (`READINGS_WITHIN`, at most what the run kept) are chosen on
one set of decodes. Usage (from the repository root):
    .venv/bin/python benchmarks/bench_ear.py --engines moonshine --paths answer --readings 8 --outcomes o.jsonl
    .venv/bin/python benchmarks/rescore_readings.py o.jsonl [--weights 0,1,2,3,4,6] [--within 2,4,8]
        [--voices "piper joe,festival slt"] [--unclear-margins 0,0.1,0.2,0.3]
`--unclear-margins` also asks back ("Did you mean X?") every knee answer to audio heard barely over the room
(`Transcript.clear` False) whose topic leads the next knee topic by less than the margin (the matcher's scores):
a confidence gate of the kind that trades answers for confirmations, to see whether any setting gives both
>= 50% right and <= 2% wrong advice at 10 dB (issue 9).
Rows per condition: knee questions right / confirmed / wrong advice, commands right / wrong, out-of-domain
questions given advice or taken for a command (the same scoring as bench_ear's table).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from itertools import product
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_ear import Outcome, pct, score  # noqa: E402

from voicecoach.text import knowledge  # noqa: E402
from voicecoach.text.dialogue import Dialogue  # noqa: E402
from voicecoach.text.matcher import Matcher  # noqa: E402


def replay(outcome: Outcome, dialogue: Dialogue, weight: float, within: float) -> Outcome:
    """The outcome had the dialogue chosen among the readings at this weight and margin."""
    if not outcome.readings:
        return outcome
    (best, _), *others = outcome.readings
    kept = [(t, b) for t, b in others if b <= within]
    heard = dialogue.readings.best(best, kept, restored=outcome.restored, weight=weight)
    readings = [(best, 0.0), *kept, *outcome.restored]
    behind = dict(readings)[heard]
    dialogue.reset()
    # The readings not chosen, measured from the one chosen: the dialogue asks back on a close rival (RIVAL_WITHIN).
    rivals = [(text, nats - behind) for text, nats in readings if text != heard]
    reply = dialogue.turn(heard, rivals=rivals, clear=outcome.clear)
    return Outcome(**{**outcome.__dict__, "heard": reply.heard, "intent": reply.intent, "topic": reply.topic})


def asked_back(outcome: Outcome, matcher: Matcher, margin: float) -> Outcome:
    """The outcome had a knee answer to unclear audio that leads the next knee topic by less than `margin` been
    asked back instead."""
    if outcome.clear or margin <= 0 or outcome.intent not in matcher.topic_ids:
        return outcome
    normalizer = matcher.normalizer
    scores = dict(matcher.rank(tuple(matcher._repair(t) for t in normalizer.tokens(outcome.heard))))
    others = [score for topic, score in scores.items() if topic in matcher.topic_ids and topic != outcome.intent]
    if scores.get(outcome.intent, 0.0) - max(others, default=0.0) >= margin:
        return outcome
    return Outcome(**{**outcome.__dict__, "intent": "clarify", "topic": outcome.intent})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outcomes", help="bench_ear.py --outcomes FILE")
    parser.add_argument("--weights", default="0,1,2,3,4,6")
    parser.add_argument("--within", default="2,4,8")
    parser.add_argument("--voices", help="only these voices (comma-separated), e.g. to tune on some, test on others")
    parser.add_argument("--unclear-margins", default="0", help="see above; 0: the dialogue as it is")
    args = parser.parse_args()
    kb = knowledge.load()
    topics = {t.id for t in kb.topics}
    dialogue = Dialogue(kb)  # Moonshine is open-vocabulary: no confirm_unnamed, as bench_ear's answer path
    outcomes = []
    for line in Path(args.outcomes).read_text().splitlines():
        raw = json.loads(line)
        raw["readings"] = tuple(tuple(r) for r in raw.get("readings", ()))
        raw["restored"] = tuple(tuple(r) for r in raw.get("restored", ()))
        outcome = Outcome(**raw)
        if outcome.path == "answer" and (not args.voices or outcome.voice in args.voices.split(",")):
            outcomes.append(outcome)
    header = "condition  weight  within  margin  right   confirmed  wrong  commands  commands_wrong  ood_advice"
    print(header + "  ood_commanded")
    grid = product(*(map(float, a.split(",")) for a in (args.within, args.weights, args.unclear_margins)))
    for within, weight, margin in grid:
        groups: dict[str, list[str]] = defaultdict(list)
        kinds: dict[str, list[str]] = defaultdict(list)
        for o in outcomes:
            verdict = score(asked_back(replay(o, dialogue, weight, within), dialogue.matcher, margin), topics)
            kind = "knee" if o.expected in topics else "ood" if o.expected is None else "command"
            groups[o.condition].append(verdict)
            kinds[o.condition].append(kind)
        for condition, verdicts in groups.items():
            by = defaultdict(list)
            for verdict, kind in zip(verdicts, kinds[condition], strict=True):
                by[kind].append(verdict)
            knee, cmds, ood = by["knee"], by["command"], by["ood"]
            print(
                f"{condition:<9}  {weight:<6g}  {within:<6g}  {margin:<6g}  {pct(knee.count('right'), len(knee)):<6}  "
                f"{pct(knee.count('confirmed'), len(knee)):<9}  {pct(knee.count('wrong'), len(knee)):<5}  "
                f"{pct(cmds.count('right'), len(cmds)):<8}  {pct(cmds.count('wrong'), len(cmds)):<14}  "
                f"{pct(ood.count('advice'), len(ood)):<10}  {pct(ood.count('commanded'), len(ood))}"
            )


if __name__ == "__main__":
    main()
