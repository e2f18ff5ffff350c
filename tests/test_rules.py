"""Safeguarding rules: what they must catch, and the figures of speech they must let pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifiers import rules


def labels(text: str) -> set[str]:
    return {hit.label for hit in rules.check(text)}


@pytest.mark.parametrize(
    "text",
    [
        "I'm going to shoot up the school tomorrow",
        "im gonna stab you after school",
        "I will kill all the teachers",
        "we're going to burn down this school",
        "Someone should bomb your school",
        "gonna bring a knife to school on monday",
        "there will be a bloodbath at the school",
        "I'll kill Mr Jones if he gives me detention again",
        "i'm going to hurt the kids in year 7",
        "watch your back, I know where you live",
        "I will come to the school and hurt the head teacher",
        "im going to wait outside the gates and batter that teacher",
        "I\u200b'm going to sh\u200boot up the school",  # zero-width characters do not hide it
        "𝗜'𝗺 𝗴𝗼𝗶𝗻𝗴 𝘁𝗼 𝘀𝘁𝗮𝗯 𝘆𝗼𝘂",  # styled letters neither
        "I hope the head teacher dies in a fire",
        "i really hope you get stabbed on the way home",
        "We hope Mrs Patel burns in hell",
        "I will stab someone at the gate tomorrow",
        "im going to shoot people in the canteen on friday",
        "someone is gonna hurt a teacher after school",
    ],
)
def test_threats_are_caught(text):
    assert rules.THREAT in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "this exam killed me",
        "I could kill for a coffee",
        "she absolutely killed it on stage last night",
        "my feet are killing me after sports day",
        "I'm going to kill it in the exam",
        "shoot me an email when you're free",
        "the school play was the bomb",
        "we're going to smash the county final",
        "the rugby team will destroy them on saturday",
        "knife crime awareness assembly today",
        "I will come to the school and help the teachers",
        "I'll go to the fair and kill some time before pickup",
        "I hope the teachers get some rest this half term",
        "I hope you die of laughter at the pantomime",
        "I wish the school would get a new roof",
        "I hope my son gets picked for the team",
        "I could murder someone for a cup of tea at break",
        "we will beat anyone who plays us on saturday",
        "I will kill someone for a coffee before the school run",
    ],
)
def test_figures_of_speech_are_not_threats(text):
    assert rules.THREAT not in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "i dont want to be alive anymore",
        "honestly I'm thinking about ending it all",
        "I've been cutting myself again",
        "feeling suicidal tonight",
        "everyone would be better off if I was dead, better off dead",
        "i want to die",
        "kys loser",
        "go kill yourself",
    ],
)
def test_self_harm_is_caught(text):
    assert rules.SELF_HARM in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "this exam killed me",
        "I nearly killed myself laughing at the panto",
        "I'm going to die of embarrassment",
        "I cut myself some slack this week",
        "don't hurt yourself carrying those boxes",
        "dying to see the new sports hall",
    ],
)
def test_figures_of_speech_are_not_self_harm(text):
    assert rules.SELF_HARM not in labels(text)


def test_urging_self_harm_has_its_own_reason():
    (hit,) = rules.check("just kys")
    assert hit.reason.startswith("urges someone to harm themselves")


@pytest.mark.parametrize(
    "text",
    [
        "call her on 07700 900123",
        "ring 07700900123",
        "his number is +44 7700 900123",
        "+44 (0)20 7946 0958 is the house",
        "0044 7700 900 123",
        "landline 0161 496 0000",
        "020 7946 0958",
        "text +1 415 555 0100",
        "email jane.doe@example.co.uk",
        "she lives at SW1A 1AA",
        "postcode M1 1AE",
        "he lives at 12 Acacia Avenue",
        "42 Station Road, Leeds",
    ],
)
def test_personal_data_is_caught(text):
    assert rules.PERSONAL_DATA in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "parents evening on 12/03/2026 at 16:30",
        "term starts 2026-09-03",
        "doors open 18:00-21:00",
        "we raised £1,250,000 over 10 years",
        "room 101 at 10.30",
        "@user thanks for the photos",
        "year 7 and year 8 played 3 matches",
        "the score was 21 - 14 - 7",
        "ISBN 978 0 14 103614 4",
        "call me maybe",
        "b4 2day",
        "I have 3 sisters",
    ],
)
def test_numbers_and_mentions_are_not_personal_data(text):
    assert rules.PERSONAL_DATA not in labels(text)


def test_reasons_mask_the_personal_data_itself():
    (hit,) = rules.check("07700 900123")
    assert "900123" not in hit.reason
    assert "a mobile number" in hit.reason


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ring her on 07700 900123", "a mobile number"),
        ("+44 7700 900123", "a mobile number"),
        ("landline 0161 496 0000", "a UK phone number"),
        ("020 7946 0958", "a UK phone number"),
        ("his pager 07624 123456 lol", "a mobile number"),  # Isle of Man mobiles
        ("personal number 07031 234567", "a UK phone number"),  # 070 is not a mobile range
        ("text +1 415 555 0100", "a phone number"),
    ],
)
def test_the_reason_says_what_kind_of_number_was_found(text, kind):
    (hit,) = rules.check(text)
    assert f"personal data: {kind} " in hit.reason


SCHOOL = rules.contact_keys(["01632 960123", "Office@Ravenswood.example.sch.uk", "14 Station Road", "RW1 2AB"])


@pytest.mark.parametrize(
    "text",
    [
        "For absence please call the school office on 01632 960123",
        "ring the office on +44 1632 960123",
        "email office@ravenswood.example.sch.uk with any questions",
        "Parents evening at 14 Station Road, parking at the rear",
        "our postcode for the satnav is RW1 2AB",
    ],
)
def test_the_schools_own_published_contacts_are_not_personal_data(text):
    assert rules.check(text, contacts=SCHOOL) == []


@pytest.mark.parametrize(
    "text",
    [
        "call the office on 01632 960123 or her mobile 07700 900123",
        "email office@ravenswood.example.sch.uk or jane.doe@example.co.uk",
        "he lives at 12 Station Road",
        "she lives at SW1A 1AA",
    ],
)
def test_other_contacts_beside_the_schools_are_still_caught(text):
    assert rules.PERSONAL_DATA in {hit.label for hit in rules.check(text, contacts=SCHOOL)}


def test_several_kinds_of_finding_each_give_a_reason():
    hits = rules.check("I'm going to stab you, I know you live at 12 Acacia Avenue, ring 07700 900123")
    assert {hit.label for hit in hits} == {rules.THREAT, rules.PERSONAL_DATA}
    assert len(hits) == 3


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200f", "😀😀", "\ud800", "x" * 200_000, "مرحبا بالعالم"])
def test_any_text_is_checked_without_error(text):
    assert rules.check(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "I'll be waiting for that PE teacher by the car park on Friday. We'll see how brave he is then.",
        "I'll be waiting for that maths teacher at the gate tomorrow. Let's see how smug he is then.",
        "Mrs Okafor had better watch her back",
        "the deputy head should be careful walking home tonight",
        "That history teacher won't be so cocky when I catch him on his own",
        "I know which car is hers",
        "I know what time Mr Reid leaves",
        "somebody needs to teach the head of year 8 a lesson",
        "she'll get what's coming",
        "Mr Lowe \U0001f52a\U0001f52a tomorrow",
        "see you at the gate \U0001f52b",
        "you're next \U0001f5e1\ufe0f",
    ],
)
def test_veiled_threats_against_a_named_role_or_person_are_caught(text):
    assert rules.THREAT in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'll be waiting for my son at the gate after football",
        "I'll be at the school gates at 3 to collect the kids",
        "Mrs Okafor should enjoy her retirement, she has earned it",
        "I know what time the bus leaves",
        "the head taught us a lesson about kindness",
        "We loved carving pumpkins \U0001f52a\U0001f383",
        "the new PE teacher won't be so new next year",
        "Film club are shooting on the field today",
        "see you at the gate tomorrow for the trip",
    ],
)
def test_ordinary_school_talk_about_people_and_places_is_not_a_threat(text):
    assert rules.THREAT not in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "A self-harm awareness workshop for parents is on Thursday",
        "Suicide prevention training for all staff on the INSET day",
        "Self-harm and eating disorders: an evening for carers with the school nurse",
        "We raised £200 for a suicide prevention charity",
    ],
)
def test_self_harm_as_the_subject_of_a_service_is_not_a_disclosure(text):
    assert rules.SELF_HARM not in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "I self-harm every night and nobody knows",
        "I've been self harming again since the awareness talk",
        "my daughter is self-harming, is there a support group?",
        "feeling suicidal today",
        "I went to the workshop but I still want to kill myself",
    ],
)
def test_a_disclosure_is_caught_even_beside_a_service(text):
    assert rules.SELF_HARM in labels(text)


# ---- self-harm: ordinary disclosures and reports of someone else's risk ----------------------

FIXTURES = Path(__file__).parent / "fixtures" / "rules"


def dev_set(name: str, wanted: bool) -> list[str]:
    """The lines of a rule's dev set (``tests/fixtures/rules``): "+ " must raise the label, "- " must not."""
    lines = (FIXTURES / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [line[2:] for line in lines if line.startswith("+ " if wanted else "- ")]


@pytest.mark.parametrize(
    "text",
    [
        "nobody would miss me",
        "no one would miss me if I was gone",
        "everyone would be better off without me",
        "I've been cutting again and I can't stop",
        "I can't do this anymore. I just want it all to stop",
        "I keep thinking about ending it",
        "I'm going to take all my mum's pills tonight",
        "I wish I was dead",
        "I wish I could go to sleep and never wake up",
        "kms",
        "I'm going to unalive myself",
        "I've been s3lf h4rming",
        "I took a load of paracetamol last night",
        "everyone would be happier if I was dead",
        "my daughter told me she wants to kill herself, who do I talk to at school?",
        "my friend in Year 10 says she's going to kill herself tonight",
    ],
)
def test_ordinary_disclosures_of_self_harm_are_caught(text):
    assert rules.SELF_HARM in labels(text)


@pytest.mark.parametrize("text", dev_set("self_harm", wanted=True))
def test_self_harm_dev_set_disclosures_are_caught(text):
    assert rules.SELF_HARM in labels(text)


@pytest.mark.parametrize("text", dev_set("self_harm", wanted=False))
def test_self_harm_dev_set_school_talk_is_left_alone(text):
    assert rules.SELF_HARM not in labels(text)


def test_a_disclosure_has_the_self_harm_reason_not_the_urging_one():
    (hit,) = rules.check("my friend in Year 10 says she's going to kill herself tonight")
    assert hit.reason.startswith("possible self-harm or suicide risk")


# ---- threats against a named role or person, said outright or veiled; sport and film left alone --


@pytest.mark.parametrize(
    "text",
    [
        "I'm going to stab the PE teacher tomorrow",
        "I'm going to hurt the deputy head",
        "I'm going to batter the caretaker after school",
        "I'm going to stab Jake Wilson at break tomorrow",
        "gonna smash Liam's face in at the bus stop tomorrow",
        "I'll put a knife in Mr Davies",
        "the head deserves to be shot",
        "Ms Patel is dead meat on Monday",
        "I'll kill that maths teacher",
        "I'm going to kill Sophie in 9B",
        "Mr Davies is a dead man",
        "somebody needs to shoot that teacher",
        "I swear I'll kill the lot of them",
    ],
)
def test_explicit_threats_against_a_named_role_or_person_are_caught(text):
    assert rules.THREAT in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "I know which car is Mrs Hall's. She won't be so smug on Monday",
        "tell that english teacher to watch her back",
        "The deputy head will get what's coming to her",
        "We know where the head teacher parks. See you Monday",
        "Waiting outside the staffroom for Miss Jones. She'll regret what she said",
        "Jake in Year 9 won't be laughing after Friday, mark my words",
        "It would be a shame if something happened to Mrs Hall's car",
        "The head walks to the bus stop alone every night. Just saying",
    ],
)
def test_veiled_threats_with_a_menace_are_caught(text):
    assert rules.THREAT in labels(text)


@pytest.mark.parametrize(
    "text",
    [
        "We're going to batter them on Saturday, come and support the under 12s",
        "Our under 11s are going to murder them at netball tomorrow",
        "Film club is going to shoot the teachers for the staff video tomorrow",
        "Year 6 are going to bomb the teachers with water balloons on the last day!",
        "Mr Davies better watch out, Year 6 are coming for his quiz title",
        "Our netball girls are going to kill them in the final",
    ],
)
def test_sport_film_and_fun_are_not_threats(text):
    assert rules.THREAT not in labels(text)


@pytest.mark.parametrize("text", dev_set("threats", wanted=True))
def test_threat_dev_set_threats_are_caught(text):
    assert rules.THREAT in labels(text)


@pytest.mark.parametrize("text", dev_set("threats", wanted=False))
def test_threat_dev_set_school_talk_is_left_alone(text):
    assert rules.THREAT not in labels(text)


# ---- personal data: the school's address does not hide a pupil's; disguised numbers -----------

HILL_TOP = rules.contact_keys(["Hill Top Academy, 12 Orchard Road, Hilltown, AB1 2CD", "11 School Lane"])


@pytest.mark.parametrize(
    "text", ["Jake lives at 2 Orchard Road, go round and tell him", "Jake lives at 1 School Lane"]
)
def test_an_address_next_to_the_schools_is_still_personal_data(text):
    assert rules.PERSONAL_DATA in {hit.label for hit in rules.check(text, contacts=HILL_TOP)}


@pytest.mark.parametrize("text", ["Summer fair at 12 Orchard Road", "Deliveries to 12 Orchard Rd please",
                                  "The entrance is on 11 School Lane"])
def test_the_schools_own_address_is_recognised_whole(text):
    assert rules.check(text, contacts=HILL_TOP) == []


@pytest.mark.parametrize("text", ["Jake's num is 07700.900.987", "O77OO 9OO987", "text her on O77OO 9OO 987 lol"])
def test_disguised_phone_numbers_are_caught(text):
    (hit,) = rules.check(text)
    assert hit.reason.startswith("personal data: a mobile number")


@pytest.mark.parametrize(
    "text", ["term starts 03.09.2026", "version 1.2.3.4 of the app", "OOO 1234", "the 1970s and 1980s"]
)
def test_dotted_numbers_and_letters_are_not_phone_numbers(text):
    assert rules.check(text) == []


# ---- reasons quote the post as it was written ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("Mr Davies \U0001f52b\U0001f52b after school", '"Mr Davies \U0001f52b\U0001f52b after school"'),
        ("\u0456'll st\u0430b Mr Davies", '"\u0456\'ll st\u0430b Mr Davies"'),  # look-alike letters kept
        ("I will kill Mrs O'Brien", '"I will kill Mrs O\'Brien"'),
        ("im going to s t a b the PE teacher tomorrow", '"im going to s t a b the PE teacher"'),
        ("I w\u0430nt to k1ll mys\u0435lf", '"I w\u0430nt to k1ll mys\u0435lf"'),
    ],
)
def test_reasons_quote_the_post_as_written(text, quoted):
    (hit,) = rules.check(text)
    assert hit.reason.endswith(quoted)
