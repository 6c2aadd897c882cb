from __future__ import annotations

import pytest

from voicecoach.text import knowledge
from voicecoach.text.dialogue import Dialogue
from voicecoach.text.matcher import Matcher
from voicecoach.text.readings import READING_WEIGHT, REQUEST_SHARE, RIVAL_WITHIN, RIVAL_WITHIN_UNCLEAR
from voicecoach.text.reply import State, opening_replies, respond


@pytest.fixture()
def dialogue() -> Dialogue:
    return Dialogue(knowledge.load())


def test_answer_is_cause_then_fix(dialogue: Dialogue) -> None:
    topic = dialogue.kb.topic("knee_pain_squat")
    reply = dialogue.turn("my knees hurt after squats")
    assert reply.say == f"{topic.cause} {topic.fix}"
    assert reply.topic == reply.intent == "knee_pain_squat"


def test_follow_ups_stay_on_the_topic(dialogue: Dialogue) -> None:
    topic = dialogue.kb.topic("knee_pain_treadmill")
    dialogue.turn("my knees hurt after the treadmill")
    assert dialogue.turn("why").say == topic.cause
    assert dialogue.turn("how do i fix that").say == topic.fix
    more = dialogue.turn("tell me more")
    assert more.say == topic.more and more.topic == topic.id
    cues = dialogue.turn("tell me more").say
    assert all(cue in cues for cue in topic.cues)
    assert dialogue.turn("give me a cue").say.rstrip(".") in topic.cues
    assert dialogue.turn("repeat").topic == topic.id


def test_follow_up_without_topic_asks_for_one(dialogue: Dialogue) -> None:
    reply = dialogue.turn("why")
    assert reply.topic is None and "hurts" in reply.say


@pytest.mark.parametrize(("answer", "chosen"), [("yes", 0), ("no", 1)])
def test_clarifying_question_answered_by_yes_or_no(dialogue: Dialogue, answer: str, chosen: int) -> None:
    question = dialogue.turn("knee pain on leg day")
    assert question.intent == "clarify" and question.say.endswith("?")
    options = dialogue.state.clarify
    assert options is not None
    assert dialogue.turn(answer).topic == options[chosen]


def test_clarifying_question_answered_by_naming_one(dialogue: Dialogue) -> None:
    dialogue.turn("knee pain on leg day")
    assert dialogue.turn("the leg extension").topic == "knee_pain_leg_extension"


def test_other_body_part_is_declined_by_name(dialogue: Dialogue) -> None:
    reply = dialogue.turn("my shoulder hurts when i bench")
    assert reply.intent is None and reply.topic is None and "shoulder" in reply.say


def test_commands_carry_the_topic_and_a_short_reply(dialogue: Dialogue) -> None:
    dialogue.turn("my knees hurt after squats")
    reply = dialogue.turn("pause")
    assert reply.command is not None and reply.command.value == "pause"
    assert reply.topic == "knee_pain_squat" and len(reply.say.split()) < 10


def test_transition_is_pure() -> None:
    kb = knowledge.load()
    matcher = Matcher(kb)
    state = State()
    first, after = respond(kb, matcher, state, "my knees hurt after squats")
    again, _ = respond(kb, matcher, state, "my knees hurt after squats")
    assert first == again and state == State() and after.topic == "knee_pain_squat"


def test_first_answers_are_short_enough_to_hear_mid_set() -> None:
    for topic in knowledge.load().topics:
        assert len(f"{topic.cause} {topic.fix}".split()) <= 41  # ~15 s at 165 words per minute


def test_speech_without_the_word_knee_is_confirmed_first() -> None:
    dialogue = Dialogue(knowledge.load(), confirm_unnamed=True)
    question = dialogue.turn("squats hurt after leg press")
    assert question.intent == "clarify" and question.topic == "knee_pain_squat" and question.say.endswith("?")
    assert dialogue.turn("yes").intent == "knee_pain_squat"
    dialogue.turn("squats hurt after leg press")
    declined = dialogue.turn("no")
    assert declined.topic is None and "hurts" in declined.say
    assert dialogue.turn("my knees hurt after squats").intent == "knee_pain_squat"  # named: answered at once
    assert dialogue.turn("my knee popped").intent == "knee_pain_red_flag"


def test_speech_advice_needs_the_confident_words_to_agree() -> None:
    dialogue = Dialogue(knowledge.load(), confirm_unnamed=True)
    heard = "my knees hurt after squats"
    assert dialogue.turn(heard, sure=heard).intent == "knee_pain_squat"
    # Chatter decoded into knee words at low word confidence: asked about, never answered.
    doubtful = dialogue.turn("knees do my the weak", sure="do my the")
    assert doubtful.intent == "clarify" and doubtful.topic == "knee_strengthen"
    unnamed_alarm = Dialogue(knowledge.load(), confirm_unnamed=True).turn("my got stuck the aches", sure="my stuck")
    assert unnamed_alarm.intent == "clarify"
    # Typed text (no recogniser) is answered as before.
    assert Dialogue(knowledge.load()).turn("knees do my the weak").intent == "knee_strengthen"


def test_opening_replies_cover_what_a_turn_says_first() -> None:
    kb = knowledge.load()
    replies = set(opening_replies(kb))
    dialogue = Dialogue(kb, confirm_unnamed=True)
    for heard in ("my knees hurt after squats", "squats hurt after leg press", "blah", "thanks", "stop"):
        say = dialogue.turn(heard).say
        assert not say or say in replies, say


def test_something_else_named_as_hurting_gets_no_knee_advice() -> None:
    """An open-vocabulary recogniser hears "my ankle hurts when I run" as "my uncle hurts when I run"."""
    kb = knowledge.load()
    topics = {t.id for t in kb.topics}
    for heard in ("my uncle hurts when i run", "my sins hurt after running on the treadmill",
                  "my hamstrings are sore after squats"):  # fmt: skip
        reply = Dialogue(kb).turn(heard)
        assert reply.intent not in topics, (heard, reply)
    for heard, topic in (("my knees hurt after running on the treadmill", "knee_pain_treadmill"),
                         ("what should i do to warm up before the leg press", "knee_pain_warmup")):  # fmt: skip
        assert Dialogue(kb).turn(heard).intent == topic, heard


# -- rescoring a recogniser's readings (`ReadingChoice.best`) ----------------------------------------------------
def test_a_close_second_reading_that_names_the_knee_is_answered(dialogue: Dialogue) -> None:
    # Moonshine's beam: "my niece hurt after squats" first, the knee 0.5 nats behind.
    assert dialogue.readings.best("my niece hurt after squats", [("my knees hurt after squats", 0.5)]) == (
        "my knees hurt after squats"
    )


def test_a_reading_far_behind_is_not_taken(dialogue: Dialogue) -> None:
    far = 3 * READING_WEIGHT
    assert dialogue.readings.best("my niece hurt after squats", [("my knees hurt after squats", far)]) == (
        "my niece hurt after squats"
    )


def test_the_best_reading_wins_a_tie_of_knee_answers(dialogue: Dialogue) -> None:
    best = "my knees hurt after squats"
    assert dialogue.readings.best(best, [("my knees hurt after running on the treadmill", 0.1)]) == best


def test_a_command_in_the_best_reading_stands(dialogue: Dialogue) -> None:
    assert dialogue.readings.best("stop", [("my knee hurts after squats", 0.1)]) == "stop"
    assert dialogue.readings.best("tell me more", [("my knee hurts after squats", 0.1)]) == "tell me more"


def test_a_close_reading_that_says_a_command_in_its_own_words_is_taken(dialogue: Dialogue) -> None:
    # Moonshine's beam: "fold on a millet" first (nothing), "hold on a minute" 1 nat behind; an everyday look-alike
    # command first ("can't sell it" -> no), the lifter's own words 0.6 behind.
    assert dialogue.readings.best("fold on a millet", [("hold on a minute", 1.0)]) == "hold on a minute"
    assert dialogue.turn("fold on a millet", others=[("hold on a minute", 1.0)]).intent == "pause"
    assert dialogue.matcher.match("can't sell it").intent == "no"
    assert dialogue.readings.best("can't sell it", [("cancel it", 0.6)]) == "cancel it"
    # Further behind than its worth (REQUEST_SHARE of READING_WEIGHT at most): the first reading stands.
    far = REQUEST_SHARE * READING_WEIGHT + 0.1
    assert dialogue.readings.best("fold on a millet", [("hold on a minute", far)]) == "fold on a millet"


def test_a_second_reading_never_starts_the_warm_up(dialogue: Dialogue) -> None:
    assert dialogue.matcher.match("start the warm up").intent == "start_warmup"
    assert dialogue.readings.best("starter to water mop", [("start the warm up", 0.1)]) == "starter to water mop"


def test_a_second_reading_that_is_a_command_only_in_part_is_not_taken(dialogue: Dialogue) -> None:
    # The matcher takes "turn on the lights" for louder ("turn"), but the lights are no word of louder's.
    assert dialogue.readings.best("turn on the lives", [("turn on the lights", 0.2)]) == "turn on the lives"
    weather = "what's the weather like today"
    assert dialogue.readings.best("what's the weather like to dat", [(weather, 0.2)]) != weather


def test_a_reading_with_the_knee_restored_may_take_over_a_command(dialogue: Dialogue) -> None:
    # The beam's close second does not ("take knee through the warmup" was a warm-up asked for in noise) ...
    assert dialogue.readings.best("me warm up routine", [("knee warm up routine", 0.0)]) == "me warm up routine"
    # ... a reading the engine put the knee back in does, when the knowledge base answers it clearly enough.
    restored = [("knee warm up routine", 0.0)]
    assert dialogue.readings.best("me warm up routine", [], restored=restored) == "knee warm up routine"
    assert dialogue.turn("me warm up routine", restored=restored).intent == "knee_pain_warmup"
    assert (
        dialogue.readings.best("me warm up routine", [], restored=[("knee warm up routine", 9.0)])
        == "me warm up routine"
    )


def test_other_readings_of_chatter_give_no_advice(dialogue: Dialogue) -> None:
    others = [("what is the winner tomorrow", 0.2), ("what's the weather to marlow", 1.0)]
    assert dialogue.readings.best("what is the weather tomorrow", others) == "what is the weather tomorrow"


def test_a_reading_is_chosen_by_what_the_knowledge_base_makes_of_it(dialogue: Dialogue) -> None:
    # A weak knee answer first, a clear one a little behind: the clearer one, when close enough.
    weak, clear = "my knee hurts on the left", "my knees hurt after squats"
    confidence = dialogue.matcher.match
    assert confidence(clear).confidence > confidence(weak).confidence
    gap = READING_WEIGHT * (confidence(clear).confidence - confidence(weak).confidence)
    assert dialogue.readings.best(weak, [(clear, gap / 2)]) == clear
    assert dialogue.readings.best(weak, [(clear, gap * 2)]) == weak


# -- a close reading of another knee topic (`RIVAL_WITHIN`) ------------------------------------------------------
CREST = "pain in both knees from the leg crest machine"  # Festival's "leg press machine" in 20 dB gym noise
PRESS = "pain in both knees from the leg press machine"


def test_a_close_reading_of_another_knee_topic_is_asked_back_not_answered(dialogue: Dialogue) -> None:
    alone = Dialogue(dialogue.kb).turn(CREST)
    assert alone.intent == "knee_pain_leg_extension"
    reply = dialogue.turn(CREST, others=[(PRESS, RIVAL_WITHIN / 2)])
    assert reply.intent == "clarify"
    titles = [dialogue.kb.topic(t).title.lower() for t in ("knee_pain_leg_extension", "knee_pain_squat")]
    assert all(title in reply.say for title in titles), reply.say
    # The lifter names the one meant, and gets its answer.
    assert dialogue.turn("the squats").intent == "knee_pain_squat"


def test_a_reading_of_another_topic_further_behind_does_not_stop_the_answer(dialogue: Dialogue) -> None:
    assert dialogue.turn(CREST, others=[(PRESS, RIVAL_WITHIN + 0.5)]).intent == "knee_pain_leg_extension"


def test_heard_barely_over_the_room_a_rival_counts_from_further_off(dialogue: Dialogue) -> None:
    further = [(PRESS, (RIVAL_WITHIN + RIVAL_WITHIN_UNCLEAR) / 2)]
    assert dialogue.turn(CREST, others=further).intent == "knee_pain_leg_extension"
    assert dialogue.turn(CREST, others=further, clear=False).intent == "clarify"
    dialogue.reset()
    beyond = [(PRESS, RIVAL_WITHIN_UNCLEAR + 0.5)]
    assert dialogue.turn(CREST, others=beyond, clear=False).intent == "knee_pain_leg_extension"


def test_close_readings_of_the_same_topic_or_of_no_topic_do_not_ask_back(dialogue: Dialogue) -> None:
    same = [("pain in both knees from the leg grass machine", 0.1), ("pain in both niece from the leg crest", 0.2)]
    assert dialogue.turn(CREST, others=same).intent == "knee_pain_leg_extension"
    chatter = [("pain in both keys from the lake crest marine", 0.1), ("stop", 0.2)]
    assert dialogue.turn(CREST, others=chatter).intent == "knee_pain_leg_extension"


def test_rivals_are_measured_from_the_reading_answered(dialogue: Dialogue) -> None:
    # The listening loop chose the reading itself: the engine's best (squats) lies 0.3 nats ahead of it.
    assert dialogue.turn(CREST, rivals=[(PRESS, -0.3)]).intent == "clarify"
    assert dialogue.turn(CREST, rivals=[(PRESS, -(RIVAL_WITHIN + 0.5))]).intent == "knee_pain_leg_extension"
    # A reading taken over the best one is checked against the best one, measured from itself.
    close = dialogue.turn("my niece hurt after squats", others=[("my knees hurt after squats", 0.5)])
    assert close.intent == "knee_pain_squat"  # the best reading gets no knee answer: nothing to ask between


def test_typed_questions_have_no_rivals(dialogue: Dialogue) -> None:
    assert dialogue.turn(PRESS).intent == "knee_pain_squat"


def test_a_close_reading_about_another_body_part_is_asked_back(dialogue: Dialogue) -> None:
    # espeak-ng's "my calves are sore after the treadmill", quiet: the beam's best lost the calves.
    heard, calves = "i can't sore after the treadmill", "my calves are sore after the treadmill"
    assert Dialogue(dialogue.kb).turn(heard).intent == "knee_pain_treadmill"
    reply = dialogue.turn(heard, others=[(calves, 0.9)])
    assert reply.intent == "clarify" and " Or " not in reply.say, reply.say
    assert dialogue.turn("no").topic is None  # not the knee: no advice
    assert Dialogue(dialogue.kb).turn(heard, others=[(calves, RIVAL_WITHIN + 0.5)]).intent == "knee_pain_treadmill"


def test_a_reading_that_names_another_body_part_stands(dialogue: Dialogue) -> None:
    # Festival's "my shoulder hurts when i bench" in 10 dB gym noise: the beam also had the knee in front of it.
    best = "my shoulder hurts when i bend"
    assert dialogue.readings.best(best, [("knee shoulder hurts when i bend", 1.0)]) == best
    assert dialogue.readings.best(best, [], restored=[("knee shoulder hurts when i bend", 0.0)]) == best
    assert dialogue.turn(best, others=[("knee shoulder hurts when i bend", 1.0)]).topic is None


def test_a_looping_reading_heard_barely_over_the_room_is_asked_back(dialogue: Dialogue) -> None:
    # Moonshine in 10 dB gym noise: "front squats give me knee pain" came out so.
    looping = "run squat skip knee knee knee"
    assert Dialogue(dialogue.kb).turn(looping).intent in dialogue.matcher.topic_ids  # clear audio: answered
    reply = dialogue.turn(looping, clear=False)
    assert reply.intent == "clarify" and " Or " not in reply.say, reply.say
    assert dialogue.turn("yes").intent in dialogue.matcher.topic_ids  # one "yes" is enough
    # A pair of words twice loops too; a question that does not repeat itself is answered in noise.
    assert Dialogue(dialogue.kb).turn("knee sled up knee sled up", clear=False).intent == "clarify"
    assert Dialogue(dialogue.kb).turn("my knees hurt after squats", clear=False).intent == "knee_pain_squat"


# -- a warm-up start that another reading opens with the knee ------------------------------------------------------
def test_a_start_whose_reading_opens_with_the_knee_is_asked_back(dialogue: Dialogue) -> None:
    # espeak-ng's "hey coach, knee warm up routine", quiet: heard "lead warmup routine", the knee restored 4.9 behind.
    heard, knee = "lead warmup routine", "knee warmup routine"
    assert Dialogue(dialogue.kb).turn(heard).intent == "start_warmup"
    reply = dialogue.turn(heard, rivals=[(knee, 4.9)])
    assert reply.intent == "clarify" and reply.topic == "knee_pain_warmup" and reply.command is None
    assert dialogue.turn("yes").intent == "knee_pain_warmup"
    # On the file path the restored reading comes with the utterance.
    assert Dialogue(dialogue.kb).turn("me warm up routine", restored=[("knee warm up routine", 2.0)]).intent == (
        "clarify"
    )


def test_a_start_with_the_knee_further_in_is_a_start(dialogue: Dialogue) -> None:
    # Piper's "take me through a warm up" in 20 dB noise: the knee restored in place of "me", 3.4 nats behind.
    assert dialogue.turn("take me through a warm up", rivals=[("take knee through a warm up", 3.4)]).intent == (
        "start_warmup"
    )


def test_no_then_what_they_want_instead(dialogue: Dialogue) -> None:
    dialogue.turn("lead warmup routine", rivals=[("knee warmup routine", 4.9)])
    reply = dialogue.turn("no, start the warm-up")
    assert reply.intent == "start_warmup" and reply.heard == "no, start the warm-up"
    dialogue.turn("lead warmup routine", rivals=[("knee warmup routine", 4.9)])
    assert dialogue.turn("no thanks").topic is None and dialogue.state.clarify is None


def test_warning_signs_without_the_knee_named_are_asked_back(dialogue: Dialogue) -> None:
    # espeak-ng's "my hip pops when i squat" in 20 dB gym noise: the hip became "a bit hot", an alarm word.
    reply = dialogue.turn("am i a bit hot when i squat")
    assert reply.intent == "clarify" and reply.topic == "knee_pain_red_flag"
    assert dialogue.turn("yes").intent == "knee_pain_red_flag"  # one word and the warning is given
    assert Dialogue(dialogue.kb).turn("my knee is hot and swollen").intent == "knee_pain_red_flag"


@pytest.mark.parametrize(
    ("heard", "answered"),
    [
        ("my knee hot weed", False),  # espeak-ng's "my knees are weak" in 20 dB gym noise
        ("knee more about hot", False),  # "tell me more about that"
        ("my knee gets away when i walk", True),  # "my knee gives way when i walk": close to a warning sign
        ("my knee is locked", True),
    ],
)
def test_warning_advice_needs_something_like_a_warning_sign(dialogue: Dialogue, heard: str, answered: bool) -> None:
    reply = Dialogue(dialogue.kb).turn(heard)
    assert reply.topic == "knee_pain_red_flag", reply
    assert (reply.intent == "knee_pain_red_flag") == answered, reply
