"""The words every rule of the matcher weighs alike: the knee's, function words, courtesies, gym words.

Shared by the matcher's scoring (`voicecoach.text.matcher`) and its own-words rules (`voicecoach.text.own_words`).
"""

from __future__ import annotations

from voicecoach.text.normalize import stem

KNEE_WORDS = frozenset(stem(w) for w in ("knee", "kneecap", "patella", "patellar"))
FUNCTION_WORD_WEIGHT = 0.25
"""Function words ("i", "need", "how") say little about the intent; rare in the knowledge base is not rare in
English, so their IDF would overrate them."""
FUNCTION_WORDS = frozenset(
    """a an the and or but so if then than of to in on at for from with by about into onto over under
    out i me my mine myself you your yours we our us it its itself this that these those there here he she
    they them their is am are was were be been being do doe did done have has had having can could would should
    will shall may might must need want like just really very too also still even please now then when while
    how what why where which who whom whose get got make made know think let lets some any all more
    most much many each every im ive id youre thats whats its hey well oh um uh
    coach one thing something anything tell say said way time day next long first good best bad use put start
    back gave give gives feel feels doing""".split()
)
FUNCTION_STEMS = frozenset(stem(w) for w in FUNCTION_WORDS)
COURTESY_STEMS = frozenset(stem(w) for w in "please hey coach okay ok um uh oh well so now just".split())
"""Words said around any command ("more please", "okay coach, why"): they neither make nor break one."""
GYM_WORDS = frozenset(
    stem(w)
    for w in """weight bar workout heavy light set rep gym machine leg train lift up down off
    after because does go going though keep heard felt top bottom""".split()
)
"""Words any gym question (or any question: "up", "after", "going") uses: they do not make it about knees.
A recogniser's closed vocabulary turns chatter into exactly these ("knees on go", measured on speech). Not
"exercise": "what is the best knee exercise" is a knee question, and was lost typed and spoken (held-out typed
155 -> 156 of 157; stop 21's Moonshine decodes replayed, rescore_readings.py: right 87.6 -> 88.4% quiet,
81.1 -> 81.8% at 20 dB; CLINC150 acted on 0 of 5,290 before and after)."""


def generic(token: str) -> bool:
    """A function word or a word any gym question uses: it tells no intent apart."""
    return token in FUNCTION_STEMS or token in GYM_WORDS


def token_weight(token: str, idf: float) -> float:
    return idf * FUNCTION_WORD_WEIGHT if token in FUNCTION_STEMS else idf


WAKE_ALIKES = {"coach": frozenset({"coke", "coat", "cole", "code", "cove", "colt", "coachy", "coaches", "co"})}
"""What Moonshine writes for "coach" when it is unsure, most of all in gym noise ("hey coke, my knees hurt ..."): a
wake word heard so counts only when what follows is a clear request, as a wake word of low confidence does. Read off
the listen path of benchmarks/bench_ear.py (questions and commands lost to activation, four voices)."""
