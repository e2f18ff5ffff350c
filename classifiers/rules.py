"""Safeguarding rules that run beside the model.

A statistical model misses rare, serious things that a school must never miss, so these are
matched by pattern: each hit adds a label and a human-readable reason, and forces ``flagged``.

======================  ===========================================================
label                   hits
======================  ===========================================================
``threat``              a threat of violence against the school or people in it, named
                        by role ("the PE teacher", "the deputy head"), by name with or
                        without a title ("Mrs O'Brien", "Jake Wilson", "Sophie in
                        9B") or as a group ("the lot of them"): said outright ("I'll
                        put a knife in Mr Davies", "the head deserves to be shot",
                        "Ms Patel is dead meat"), veiled (lying in wait for someone,
                        or a remark on their car, home or movements, with a menace
                        alongside: "We know where the head parks. See you Monday";
                        "X had better watch her back", "it would be a shame if
                        something happened to Mrs Hall's car"), against anyone at a
                        school place or time ("I will stab someone at the gate
                        tomorrow"), or a weapon emoji aimed at a person, place or time
``self_harm``           someone speaking of harming or killing themselves, said outright
                        or in the usual words ("nobody would miss me", "I just want it
                        all to stop", "kms", "took a load of paracetamol"), a report of
                        someone else at risk ("my friend says she's going to kill
                        herself"), or urging another person to
``personal_data``       a phone number (a mobile is named as one; dotted "07700.900.987"
                        or with the letter O for zero), an email address, a UK postcode
                        or a street address posted publicly, other than the school's own
                        published contacts (``classifier.school_contacts``: an address is
                        the school's when its house number and street are)
======================  ===========================================================

These label names are a contract: alerts are headed by them. Reasons start with "threat of
violence", "urges someone to harm themselves", "possible self-harm or suicide risk" or
"personal data: <what>"; threats and self-harm quote the post as it was written (the words the
finding was read from, look-alike letters and emoji included), personal data is masked.

The patterns look for intent aimed at a person or at the school, so figures of speech pass:
"this exam killed me", "I could kill for a coffee", "she killed it on stage", "I'm dead 😂"; so do
violent words in a game, a film, fun or a story ("we'll batter them on Saturday, come and support
the under 12s", "film club will shoot the teachers for the staff video", "bomb the teachers with
water balloons", "Tybalt kills Mercutio in Act 3"), unless a weapon or real harm is named; self-harm
named as the subject of a service ("a self-harm awareness workshop for parents"), of a story or of
history ("Juliet kills herself", "Hitler killed himself in 1945") is not a disclosure, unless the
writer speaks of themselves or of someone close ("my daughter").
Threats and self-harm are read after normalisation (``classifiers.normalise``), personal data
before it (leetspeak must not turn digits into letters).
"""

from __future__ import annotations

import difflib
import itertools
import re
import unicodedata
from dataclasses import dataclass

from classifiers.normalise import normalise, violent_emoji
from classifiers.text import to_valid_str, truncate

VERSION = "8"
MAX_CHARS = 20_000

THREAT = "threat"
SELF_HARM = "self_harm"
PERSONAL_DATA = "personal_data"
LABELS = (THREAT, SELF_HARM, PERSONAL_DATA)


@dataclass(frozen=True)
class Hit:
    label: str
    reason: str


@dataclass(frozen=True)
class _Found:
    """A threat or self-harm finding in the reading of a post: its label, what the reason calls it, and
    where it is (the reason quotes the post as written there)."""

    label: str
    what: str
    start: int
    end: int


class _Anchored:
    """A pattern tried only around the words it cannot match without. A pattern that opens with a person
    ("the new maths teacher", "Jake Wilson") or with "I" is slow to try at every position of a long
    letter; the words it needs are quick to find."""

    def __init__(self, anchor: str, pattern: str, reach: int = 160):
        self.anchor = re.compile(anchor, re.I)
        self.pattern = re.compile(pattern, re.I)
        self.reach = reach

    def finditer(self, text: str):
        spans: list[list[int]] = []
        for hit in self.anchor.finditer(text):
            start, end = max(0, hit.start() - self.reach), min(len(text), hit.end() + self.reach)
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
        for start, end in spans:
            yield from self.pattern.finditer(text, start, end)

    def search(self, text: str):
        return next(self.finditer(text), None)


# ---- threats -------------------------------------------------------------------------------

# who may be threatened: a pronoun or a group, a role at school ("the new maths teacher", "the deputy
# head"), a name with a title ("Mrs O'Brien") or without ("Jake Wilson", "Sophie in 9B")
_ROLE = (
    r"(?:(?!(?:with|and|for|of|to|in|on|at|from|by|the|a)\s)[\w'-]+\s+){0,2}?"  # "new maths", "stupid PE"
    r"(?:teacher|tutor|coach|head ?teacher|headmaster|headmistress|head of (?:year(?: \d+)?|sixth form|department|"
    r"\w+)|deputy(?: head| headteacher| head teacher)?|assistant head|head|principal|receptionist|caretaker|"
    r"site manager|dinner lady|lunch lady|dinner ladies|senco|teaching assistant|ta|technician|librarian|"
    r"school nurse|governor|lollipop (?:man|lady)|staff|students?|pupils?|kids|children|sixth formers?|year \d+s?)"
)
_TITLED = r"(?:mr|mrs|miss|ms|mx|sir|dr)\.?\s+[a-z]+(?:['-][a-z]+)*"
# capitalised words that are not a person's name
_NOT_NAME = (
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|July|"
    r"August|September|October|November|December|The|This|That|These|Those|My|Our|Your|His|Her|Their|It|We|You|"
    r"He|She|They|Them|Him|Me|Us|All|Everyone|Everybody|Someone|Somebody|Anyone|Nobody|School|Year|Form|Class|"
    r"Christmas|Easter|Halloween|God|English|French|Spanish|German|Maths|Math|Science|History|Geography|Music|"
    r"Drama|Art|Mum|Mom|Mummy|Dad|Daddy|Nan|Nana|Nanna|Gran|Granny|Grandad|Grandma|Grandpa|Auntie|Uncle|Lol|Omg|"
    r"Tomorrow|Tonight|Today|After|Before|At|In|On|Off|Up|Down|Out|Time|Now|Then|Next|Some|Any|Every|Each)"
)
_CAPITALISED = rf"(?!{_NOT_NAME}\b)[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?"
_NAME = rf"(?-i:{_CAPITALISED}(?:\s+{_CAPITALISED})?)"  # case matters here: "Jake Wilson", not "jake"
_FORM = (r"(?:\s+(?:in|from)\s+(?:(?:year|yr|y)\s?\d{1,2}|\d{1,2}[a-z]{1,2}\b|"
         r"(?:my|our|his|her)\s+(?:class|form|year)))?")  # "Sophie in 9B", "Jake in Year 9"
_GROUP = (
    r"(?:you|u|ya|y'all|you all|all of (?:you|u|ya|them)|him|her|them|everyone|everybody|every one|every1|evry1|"
    r"every (?:last|single) one of (?:you|u|them)|the (?:whole )?lot of (?:you|u|ya|them)|"
    r"each (?:one )?of (?:you|them)|(?:year|yr|y)\s?\d{1,2}s?)"
)
_STAFF = (rf"(?:(?:the|that|this|your|ur|my|our|his|her|their|every|all the|all of the|some|one of the)\s+{_ROLE}s?|"
          rf"{_TITLED}|(?:the|this|that|your|ur|our|my)\s+(?:school|academy|college|class|classroom))")
_STAFF_RE = re.compile(_STAFF, re.I)
_PERSON = rf"(?:{_STAFF}|{_GROUP}|{_NAME}){_FORM}"
# one person: a role, a name, or "you"
_SOMEONE = rf"(?:(?:the|that|this|your|ur|my|our|his|her|their)\s+{_ROLE}|{_TITLED}|{_NAME}|you|u){_FORM}"
# whose face or car: "Liam's", "Mr Ellis'", "the caretakers" (the apostrophe left out)
_WHOSE = rf"(?:his|her|their|your|ur|(?:{_STAFF}|{_NAME}){_FORM}(?:'s|')?)"

_I = r"(?:i|i'm|im|i am|i'll|ill|i will|i swear|we|we're|we are|we'll|we will|someone|somebody|gonna|going to)"
_INTENT = (
    r"(?:(?:am|are|is|'m|'re)?\s*(?:going to|gonna|gunna|about to|planning to|plans? to|will|'ll|wants? to|"
    r"wanna|needs? to|should|ought to|intends? to|am gonna|finna|has to|have to|must)\s+|(?:'ll|will)\s+)"
)
_VIOLENCE = (
    r"(?:kill|murder|shoot|stab|knife|bomb|blow up|burn|torch|hurt|attack|beat up|batter|strangle|"
    r"slit|behead|rape|punch|hunt down|gun down|glass|smack|slap|kick|deck|poison|run over|jump|bash|thump|"
    r"knock out)"
)
# violence that has no sporting, film or playful sense
_LITERAL = re.compile(r"\b(?:stab|knife|strangle|slit|behead|rape|punch|gun down|glass|poison|beat up|hunt down)",
                      re.I)
# "I will come to the school and hurt ...": a short errand between the intent and the violence
_ARRIVE = r"(?:(?:come|go|get|turn up|show up|walk|drive|wait)\b[\w\s']{0,40}?\band\s+)"
# anyone at all, which is a threat when a place or a time at school goes with it ("I will stab someone
# at the gate tomorrow"), and a figure of speech without one ("I'm going to kill someone if it rains")
_ANYONE = (r"(?:someone|somebody|some1|anyone|anybody|any1|people|some people|a few people|loads of people|"
           r"a (?:teacher|kid|child|student|pupil|parent|year \d+))")
_AT_SCHOOL = (
    r"(?:school|academy|college|gates?|playground|field|canteen|hall|assembly|class|classroom|corridor|car park|"
    r"bus stop|parents'? evening|sports day|tomorrow|tonight|today|next week|this week|after school|"
    r"first thing|monday|tuesday|wednesday|thursday|friday|saturday|sunday|break|lunch|home time)"
)
_HARMED = r"(?:shot|stabbed|knifed|battered|beaten up|glassed|punched|strangled|hanged|hung|lynched|killed|murdered)"
_BEATEN = r"(?:shot|stabbed|knifed|battered|beaten up|glassed|done in|jumped|punched|smashed)"
_THREAT_PATTERNS = [
    _Anchored(rf"\b{_VIOLENCE}",
              rf"\b{_I}\s+{_INTENT}?{_ARRIVE}?{_VIOLENCE}(?:ing|ed)?\s+(?:up\s+|down\s+)?{_PERSON}\b"),
    _Anchored(rf"\b{_VIOLENCE}",
              rf"\b{_I}\s+{_INTENT}?{_ARRIVE}?{_VIOLENCE}(?:ing|ed)?\s+(?:up\s+|down\s+)?{_ANYONE}\b"
              rf"(?!\s+for\s+(?:a|an|some|the|my)\b)[^.!?]{{0,40}}?\b{_AT_SCHOOL}\b"),
    # harm spelt out: "smash Liam's face in", "break his legs", "put a knife in Mr Davies", "put her in hospital"
    _Anchored(r"\b(?:smash|kick|punch|bash|cave|knock|batter|stamp|break|slit|put|stick|shove|plunge|stab|beat)\b",
              rf"\b(?:smash|kick|punch|bash|cave|knock|batter|stamp)\s+(?:in\s+)?{_WHOSE}\s+(?:face|head|teeth|skull)"
              rf"\s+in\b|\bbreak\s+{_WHOSE}\s+(?:legs?|arms?|neck|nose|jaw|face|fingers|skull)\b|"
              rf"\bslit\s+{_WHOSE}\s+throat\b|"
              rf"\b(?:put|stick|shove|plunge|stab)\s+(?:a|my|the|this|that)\s+(?:knife|blade|machete|screwdriver|"
              rf"bullet)\s+(?:in|into|through)\s+{_PERSON}\b|"
              rf"\bput\s+{_PERSON}\s+in\s+(?:hospital|a coffin|the ground|a body bag|an early grave|intensive care|"
              rf"a wheelchair)\b|"
              rf"\b(?:beat|kick|knock|smash)\s+the\s+(?:shit|crap|hell|living daylights)\s+out\s+of\s+{_PERSON}\b"),
    # a fate wished or foretold: "the head deserves to be shot", "Mr O'Connor is going to get stabbed"
    _Anchored(r"\b(?:deserves?|needs?|ought|wants?|should|must)\b",
              rf"\b{_SOMEONE}\s+(?:(?:deserves?|needs?|ought|wants?)\s+to|should|must)\s+(?:be|get)\s+{_HARMED}\b"),
    _Anchored(rf"\bget\s+{_BEATEN}\b",
              rf"\b{_SOMEONE}\s+(?:is|are|'s|'re)?\s*(?:going to|gonna|about to|will|'ll)\s+get\s+{_BEATEN}\b"),
    # "Ms Patel is dead meat on Monday", "Mr Davies is a dead man", "you're dead after school"
    _Anchored(r"\bdead\b",
              rf"\b{_SOMEONE}\s*(?:is|are|'s|'re|re|r)\s+(?:so\s+|a\s+|as good as\s+)?dead\s+(?:meat|man|woman)\b"),
    _Anchored(r"\bdead\b",
              rf"\b(?:(?:the|that|this|your|ur|my|our)\s+{_ROLE}|{_TITLED}|you|u)\s*(?:is|are|'s|'re|re|r)\s+"
              rf"dead\s+(?:when|after|on|{_AT_SCHOOL})\b"),
    re.compile(r"\b(?:shoot|shooting|bomb|bombing|blow|blowing|burn|burning|torch)\s+(?:up|down)?\s*"
               r"(?:the|this|that|your|ur|our|my)\s+(?:school|academy|college)\b", re.I),
    re.compile(r"\bbring(?:ing)?\s+(?:a|my|his|her|the|some)\s+(?:gun|knife|blade|bomb|machete|weapon|rifle)s?"
               r"\s+(?:to|into|in)\s+(?:school|class|college|the school|assembly)\b", re.I),
    re.compile(r"\b(?:there(?:'s| is| will be)|gonna be|going to be)\s+(?:a\s+)?(?:bloodbath|massacre|"
               r"shooting|school shooting|bomb)\s+(?:at|in)\s+(?:the|this|that|your|our)?\s*"
               r"(?:school|academy|college)\b", re.I),
    # a wish of death or harm on someone: "I hope the head teacher dies in a fire"
    _Anchored(r"\b(?:hope|wish|pray)\b",
              rf"\b(?:i|we)\s+(?:really\s+|just\s+)?(?:hope|wish|pray)\s+(?:that\s+)?{_PERSON}\s+"
              r"(?:(?:dies?|die)\b(?!\s+(?:of|laughing|from embarrassment|inside|happy))|"
              r"(?:gets?|get)\s+(?:killed|shot|stabbed|raped|murdered|beaten up|run over|hurt)\b|"
              r"burns?\s+(?:to death|alive|in hell)\b)"),
    re.compile(r"\b(?:watch your back(?!\s+(?:when|while|as)\b)|you(?:'re| are| r) (?:a )?dead (?:man|meat)|"
               r"you(?:'re| are| r) going to die|you(?:'re| are| r) gonna die|"
               r"i know where you live)\b", re.I),
]

# veiled threats: lying in wait for someone, or a remark on their movements, car or home, with
# something menacing said alongside ("She'll regret it", "Just saying", "See you Monday")...
_MENACE = re.compile(
    r"\b(?:see how (?:smug|brave|tough|cocky|clever|funny|hard|big|happy)\s+(?:he|she|they|you)(?:'s| is| are)?\s*"
    r"(?:then|now|after)|(?:won't|wont|will not) be (?:so |laughing|smiling)?\s*(?:smug|brave|tough|cocky|clever|"
    r"laughing|smiling|happy)?|(?:he|she|they|you)(?:'ll| will) (?:regret|see|learn|pay)|regret|"
    r"get what(?:'s| is|s) coming|just saying|watch (?:his|her|their|your) back|you(?:'ll| will) see|mark my words|"
    r"trust me|i swear|wait and see|watch this space|not for long|tick tock|be afraid|be scared|"
    r"see (?:you|u|him|her|them) (?:soon|then|on|at|after|tomorrow|monday|tuesday|wednesday|thursday|friday|later)|"
    r"knife|gun|bomb|axe|blood|coffin|death|grave|while (?:you|he|she|they) (?:still )?can|"
    r"(?:shame|pity) if (?:something|anything)|(?:and )?what car (?:he|she|they|you) drives?)\b", re.I)
_TARGET = rf"(?:{_STAFF}|{_NAME}|\b(?:him|her|you|u|them)\b){_FORM}"
_LURK = re.compile(
    rf"\b(?:wait(?:ing)?\s+(?:(?:outside|by|at|near|in|behind|round|around)\s+(?:the\s+)?[\w' -]{{1,30}}?\s+)?"
    rf"for\s+{_TARGET}|be\s+(?:waiting|there)\s+for\s+{_TARGET}|catch\s+(?:him|her|them|you)"
    rf"(?:\s+alone|\s+on (?:his|her|their) own)?|pay\s+{_TARGET}\s+a\s+visit|"
    r"see\s+(?:you|u|him|her)\s+(?:at|after|outside|by|near|in)\b|wait\s+for\s+me\s+(?:at|outside|after|by)\b|"
    r"(?:i'll|ill|i will|i'm|im|i am)\s+(?:be\s+)?(?:at|outside|by)\s+(?:the\s+)?(?:school|gates?|car park|"
    r"parents'? evening|bus stop)\b|"
    # "I know where the head parks", "we know which car is Mrs Hall's"
    rf"(?:i|we)\s+know\s+(?:which\s+car\s+is\s+(?:his|hers|theirs|yours|{_TARGET}'s)|"
    rf"what\s+car\s+{_TARGET}\s+drives|where\s+(?:{_TARGET}|he|she|they)\s+(?:lives?|parks?|goes|walks|sleeps)|"
    rf"what\s+time\s+{_TARGET}\s+(?:leaves|finishes|gets home|goes home|walks home)|"
    rf"{_TARGET}'s\s+(?:address|house|car|reg)))", re.I)
# "the head walks to the bus stop alone every night"
_ROUTINE = _Anchored(
    r"\b(?:alone|on (?:his|her|their) own|by (?:himself|herself|themselves))\b",
    rf"{_TARGET}\s+(?:always\s+|usually\s+)?(?:walks|goes|leaves|drives|cycles|gets the bus|stays|locks up)\b"
    r"[^.!?]{0,50}?\b(?:alone|on (?:his|her|their) own|by (?:himself|herself|themselves))", reach=120)
# ...and veiled threats that need nothing more
_VEILED_PATTERNS = [
    _Anchored(r"\b(?:watch|enjoy|careful|scared|worried|afraid)\b",
              rf"{_TARGET}\s+(?:should|better|had better|'d better|needs? to|wants? to|ought to)\s+"
              r"(?:watch\s+(?:his|her|their)\s+back|watch\s+(?:himself|herself|themselves|out)|"
              r"enjoy\s+(?:his|her|their)\s+last|be\s+(?:careful|scared|worried|afraid)\s+"
              r"(?:on\s+(?:his|her|their)\s+way|walking|tonight|after|when|going))"),
    re.compile(r"\b(?:watch|mind)\s+(?:his|her|their)\s+back\b(?!\s*(?:line|four|row|garden|door|pocket|after|"
               r"following|since|while|when|as)\b)", re.I),
    _Anchored(r"\bteach\b", rf"\bteach\s+{_TARGET}\s+a\s+lesson\b"),
    # catching someone alone: "wait till I catch Mr Cole on his own"
    _Anchored(r"\bcatch\b", rf"\bcatch\s+{_TARGET}\s+(?:alone|on (?:his|her|their) own|by (?:himself|herself))\b"
              r"(?!\s+to\s+(?:say|thank|ask|tell|give|talk|chat|show)\b)"),
    _Anchored(r"\b(?:won't|wont|will not)\b",
              rf"{_TARGET}\s+(?:won't|wont|will not)\s+be\s+(?:so\s+)?(?:smug|brave|tough|cocky|clever|laughing|"
              r"smiling)\b(?![^.!?]{0,30}\bwhen\s+(?:he|she|they|you)\b)[^.!?]{0,30}\b(?:when\s+(?:i|we)\b|"
              r"mark my words|trust me|i swear|you'?ll see|wait and see|just saying)"),
    # said and left hanging at the end of the post: "I know which car is hers"
    re.compile(rf"\bi\s+know\s+(?:which\s+car\s+is\s+(?:his|hers|theirs|yours|{_TARGET}'s)|what\s+time\s+"
               rf"{_TARGET}\s+(?:leaves|finishes|gets home|goes home))\b(?=\W*$)", re.I),
    re.compile(r"\bget(?:s|ting)?\s+what(?:'s|\s+is|s)\s+coming(?:\s+to\s+(?:him|her|them|you))?", re.I),
    _Anchored(r"\bhappen",
              r"\b(?:shame|pity|sad|terrible|awful|tragic)\s+if\s+(?:something|anything)\s+(?:bad\s+|nasty\s+)?"
              rf"(?:happened|were to happen|was to happen|happens|should happen)\s+to\s+(?:{_TARGET}|{_WHOSE}\s+\w+)"),
]

# the sporting, film, playful and story senses of violent words
_SPORT = re.compile(
    r"\b(?:match|matches|game|games|final|finals|semi|league|cup|tournament|fixture|netball|football|rugby|hockey|"
    r"cricket|rounders|basketball|volleyball|badminton|tennis|athletics|swimming|gala|race|relay|sports day|"
    r"under[ -]?\d{1,2}s?|u\d{1,2}s?|squad|team|pitch|score|goals?|quiz|chess|debate|debating|competition|contest|"
    r"trophy|title|crown|medal|spelling bee|bake off|karaoke|sponsored|marathon|fun run|mario kart|fortnite|fifa|"
    r"minecraft|roblox|xbox|playstation|ps5|gaming|cheer|come and support|dodgeball|tug of war|talent show|"
    r"sports)\b", re.I)
# the game the violence happens in: "... at netball", "... in the final", "... after his quiz title"
_IN_GAME = re.compile(rf"\b(?:at|in|for|during|after (?:his|her|their))\s+(?:\w+\s+){{0,2}}?{_SPORT.pattern}", re.I)
_AFTER = re.compile(r"\b(?:after|outside|before|at the end of)\s+(?:the\s+|tonight's\s+|the\s+\w+\s+)?$", re.I)
_FILM = re.compile(r"\b(?:film|filming|video|vlog|photos?|photograph\w*|camera|footage|scene|documentary|yearbook|"
                   r"trailer|advert|tiktok|hoops|baskets|selfies?|portraits?|photo ?shoot)\b", re.I)
_FUN = re.compile(r"\b(?:water (?:balloons|bombs|pistols|guns|fight)|wet sponges|sponges|nerf|silly string|confetti|"
                  r"glitter|flour|foam|paintball|snowballs?|pillows?|custard pies?|questions|kindness|compliments|"
                  r"cake|surprise party|prank|pranks)\b", re.I)
_STORY = re.compile(r"\b(?:the play|our play|school play|novel|character|scene|act \d|shakespeare|macbeth|banquo|"
                    r"hamlet|romeo|juliet|tybalt|mercutio|othello|film|movie|episode|poem|history|1[0-9]\d\d|"
                    r"\d+ (?:bc|ad))\b", re.I)
# words that condemn what they quote: "please stop the 'you're dead after school' comments"
_CONDEMNED = re.compile(r"\b(?:comments?|posts?|messages?|language|banter|joke|stop|not (?:ok|okay|acceptable|funny)|"
                        r"unacceptable|never acceptable|will be reported|reported|abuse|bullying|police)\b", re.I)
# words of real harm, which no sport or film makes playful
_HARM_WORDS = re.compile(r"\b(?:knife|knives|gun|blade|machete|hospital|blood|bleed|face in|head in|coffin|grave|"
                         r"body bag)\b", re.I)


# ---- self-harm -----------------------------------------------------------------------------

_MYSELF_ACTS = (  # what a person may say they will do to themselves, after "I want to", "I'm going to"...
    r"kill(?:ing)? myself|unaliv(?:e|ing)(?: myself)?|top(?:ping)? myself|hang(?:ing)? myself|"
    r"end(?:ing)? (?:it all|my (?:own )?life|things|everything|it)\b(?!\s+(?:with|on|early|there|here|at|for|now|by|"
    r"off|up|in|after|before|between|once|like))|"
    r"(?:take|taking) my (?:own )?life|hurt(?:ing)? myself|cut(?:ting)? myself|harm(?:ing)? myself|overdose|"
    r"suicide\b(?!\s+(?:prevention|awareness|talk|training|workshop|charity|helpline|first aid|research|week|day|"
    r"month|walk|run))|not be here(?: anymore| any more)?|disappear forever|"
    r"jump (?:off|from) (?:a|the) (?:bridge|roof|building|multi-storey(?: car park)?|block of flats|tower block)|"
    r"(?:throw|chuck|fling)(?:ing)? myself (?:off|in front of|under)|"
    r"(?:step|walk|jump)(?:ing)? in front of (?:a|the) (?:train|bus|lorry|car|truck)"
)
_LIFE_ENDS = (  # ...and what they may only want or plan, not merely expect ("I'm going to die of shame")
    r"die\b(?!\s+(?:of|laughing|from|with|for|inside|happy|on|in|at|when|if|before|after|trying|tho|lol|"
    r"(?:my|your|his|her|their|our|it|them|the)\s))"  # "I want to die my hair pink"
)
# "dead good", "dead proud": an intensifier
_NOT_DEAD = (r"(?!\s+(?:good|funny|nice|proud|keen|excited|happy|lucky|chuffed|jealous|set|easy|hard|serious|tired|"
             r"posh|clever|smart|cool|fit|bored|right|pleased|impressed|busy|quick|fast|slow|loud|quiet|sweet)\b)")
_PILLS = (r"(?:pills|tablets|paracetamol|painkillers|pain killers|sleeping pills|meds|medication|"
          r"antidepressants|ibuprofen|aspirin|co-codamol|codeine)")
_WHOSE_PILLS = r"(?:(?:of\s+)?(?:the|my|his|her|\w+'s)\s+){0,3}"
_HERSELF = r"(?:him|her|them)(?:self|selves)"
_SHE = r"(?:he|she|they|he's|she's|they're|hes|shes|theyre)"
_NOT_MEANT = (  # "she'll kill herself laughing", "he hurt himself in PE": an accident or a figure of speech
    r"(?!\s+(?:laughing|with laughter|trying|doing|carrying|running|working|getting|to get|over|on|off|by accident|"
    r"accidentally|playing|in|at|during|when|while|falling|some slack|shaving|cooking|out))"
)
# each pattern with whose risk it tells of: "first" (the writer's own), "other" (a report of someone
# else's), "pills" (either), "urge" (the writer urges someone to), "topic" (a word that may be the
# subject of a service)
_SELF_HARM_PATTERNS = [
    ("first", _Anchored(
        r"\b(?:kill|unaliv|top|hang|end|take|taking|hurt|cut|harm|overdose|suicide|not be here|disappear|jump|throw|"
        r"chuck|fling|step|walk)",
        r"\b(?:i|i'm|im|i am|i've|ive|i have|i'd|id|i'll|ill)\s+(?:\w+\s+){0,3}?(?:want|wanna|going|gonna|need|"
        r"thinking about|thinking of|think about|thought about|thought of|plan|planning|tried|trying|about|"
        r"decided|will|keep thinking about)\s+(?:to\s+)?"
        rf"(?:{_MYSELF_ACTS})")),
    ("first", _Anchored(
        r"\bdie\b",
        r"\b(?:i|i'm|im|i am|i've|ive|i have|i'd|id)\s+(?:\w+\s+){0,3}?(?:want|wanna|need|ready|plan|planning|tried|"
        rf"trying|deserve)\s+(?:to\s+)?{_LIFE_ENDS}")),
    ("first", re.compile(r"\b(?:kill(?:ing)?|harm(?:ing)?|hang(?:ing)?|top(?:ping)?|unaliv(?:e|ing)|hurting|cutting)"
                         rf" myself\b{_NOT_MEANT}|\bhurt(?:ing)? myself (?:on purpose|deliberately|again)\b", re.I)),
    # "nobody would miss me", "everyone would be better off without me"
    ("first", re.compile(
        r"\b(?:nobody|no one|no-one|noone|no1|not one person)\s+(?:would|will|'d|is going to|is gonna|gonna)?\s*"
        r"(?:even\s+|really\s+|actually\s+)?(?:miss me\b(?!\s+(?:if|when)\s+i\s+(?!was gone|were gone|was dead|"
        r"were dead|died|disappeared|wasn't here|weren't here|wasn't around|killed myself|left forever|left for good))|"
        r"(?:care|notice) (?:if|when) i(?:'m|\s+am|\s+was|\s+were)?\s+"
        r"(?:gone|dead|not here|disappeared|disappear|died|die|killed myself))\b", re.I)),
    ("first", _Anchored(
        r"\b(?:better|happier|easier)\b",
        r"\b(?:everyone|everybody|every1|the world|world|my (?:family|mum|mom|dad|parents|friends|mates)|family|they|"
        r"people|you all|all of you|you lot|everyone else)\b[^.!?]{0,25}?\b(?:better off|better|happier|easier)\s+"
        r"(?:off\s+)?(?:without me\b|if i (?:was|were) (?:dead|gone|not here|not around|never born)|"
        r"if i (?:wasn't|weren't|was not|were not) (?:here|around|alive|born)|"
        r"if i (?:died|disappeared|didn't exist|never existed|killed myself))")),
    # "I wish I was dead", "I wish I could go to sleep and never wake up"
    ("first", _Anchored(
        r"\b(?:wish|wake)",
        rf"\bwish(?:ed|ing)?\s+(?:that\s+)?i\s+(?:was|were|could be|'d be|would be)\s+dead\b{_NOT_DEAD}|"
        r"\bwish(?:ed|ing)?\s+i(?:'d| had)?\s+never\s+been\s+born\b|"
        r"\bwish\s+i\s+(?:could|would|'d)\s+(?:just\s+)?(?:die|disappear forever)\b|"
        r"\bwish\s+i\s+(?:didn't|did not|don't|dont)\s+exist\b|"
        r"\bwish\s+i\s+(?:wasn't|was not|weren't|were not)\s+alive\b|"
        r"\b(?:go to sleep|fall asleep|sleep) and (?:never|not) wake up\b(?!\s+(?:to|early|before|at|for|in time)\b)|"
        r"\bhope (?:that )?i (?:never|don't|dont|do not|won't|wont) wake up\b"
        r"(?!\s+(?:to|early|before|at|for|in time)\b)")),
    ("first", _Anchored(
        r"\bcut",
        r"\b(?:i|i've|ive|i'm|im|i have|i am|been|started|start|keep|kept|began)\s+(?:\w+\s+){0,2}?cutting\s+"
        r"(?:again|myself|my\s+(?:arms?|wrists?|legs?|thighs?|skin|stomach|body))\b|"
        rf"\bcut(?:ting)? (?:my|his|her|their) wrists\b")),
    ("first", _Anchored(
        r"\b(?:stop|end|over)\b",
        r"\bi\s+(?:\w+\s+){0,2}?(?:want|wanna|need|wish)\s+(?:it all|everything|all of it|all this)\s+"
        r"(?:all\s+)?to\s+(?:stop|end|be over)\b")),
    ("first", re.compile(r"(?<![\d.,])(?<!\d )\bkms\b", re.I)),
    # "took a load of paracetamol", "take all my mum's pills"
    ("pills", re.compile(
        r"\b(?:take|took|taking|taken|swallow|swallowed|swallowing|downed|necked)\s+(?:"
        rf"all\s+{_WHOSE_PILLS}|(?:a\s+)?(?:whole\s+)?(?:load|loads|lot|lots|bunch|handful|handfuls|packet|packets|"
        rf"box|boxes|bottle|bottles|tub|strip|pack)\s+of\s+{_WHOSE_PILLS}|"
        rf"(?:\d{{2,3}}|twenty|thirty|forty|fifty|a hundred|too many|(?:way )?more than i should)\s+{_WHOSE_PILLS})"
        rf"(?:\w+\s+)?{_PILLS}\b"
        r"(?!\s+(?:with (?:him|her|me|them|us|you)|back|home|away|on holiday|to (?:school|the|his|her|my|class))\b)",
        re.I)),
    # someone else at risk: "she wants to kill herself", "he tried to end his life", "my friend took an overdose"
    ("other", re.compile(rf"\b(?:kill(?:s|ed|ing)?|unaliv(?:e|es|ed|ing)|hang(?:s|ed|ing)?|top(?:s|ped|ping)?|"
                         rf"harm(?:s|ed|ing)?|cutting|hurting)\s+{_HERSELF}\b{_NOT_MEANT}", re.I)),
    ("other", _Anchored(
        r"\b(?:end|ending|suicide|take|taking|overdos)",
        rf"\b{_SHE}\s+(?:\w+\s+){{0,3}}?(?:wants?|wanted|wanna|going|gonna|tried|trying|planning|plans|"
        r"talk(?:s|ed|ing)? about|think(?:s|ing)? about|thought about)\s+(?:to\s+)?"
        r"(?:end(?:ing)? (?:it all|(?:his|her|their) (?:own )?life|it|things)\b(?!\s+with)|"
        r"suicide|tak(?:e|ing) (?:his|her|their) (?:own )?life|overdos(?:e|ing))")),
    ("other", _Anchored(
        r"\bdie\b",
        rf"\b{_SHE}\s+(?:\w+\s+){{0,3}}?(?:wants?|wanted|wanna|tried|trying|planning|plans|talk(?:s|ed|ing)? about|"
        rf"think(?:s|ing)? about|ready)\s+(?:to\s+)?{_LIFE_ENDS}")),
    ("topic", re.compile(
        r"\b(?:suicidal|self[- ]?h[a4@]rm(?:ing|ed|er|ers)?|suicide note|no reason to live|"
        r"nothing (?:left )?to live for|(?:no|not any|isn't any|is no) point (?:in )?(?:living|being alive|going on)|"
        r"not worth living|life (?:isn't|is not|ain't|aint) worth living|(?:tired|sick) of (?:living|being alive)|"
        r"(?:don't|dont|do not) want to (?:live|be alive|exist)(?: anymore| any more)?|"
        r"(?:don't|dont|do not) want to (?:be here|wake up)(?: anymore| any more| again| ever again)|"
        r"better off dead|(?:want|wanna) to disappear forever|end my life|attempt(?:ed|ing|s)? suicide|"
        rf"tried to (?:kill|hang|unalive|hurt|harm) (?:my|him|her|them)sel(?:f|ves)|suicide attempt|"
        r"(?:took|taken|take|taking|had) an overdose|overdosed|(?:thinking|thought) (?:about|of) (?:suicide|"
        r"killing myself|ending (?:it all|my life|things|it)\b(?!\s+with)))\b", re.I)),
    ("urge", re.compile(r"\b(?:kill|hang|end)\s+(?:your ?self|urself|yo self)\b|\bkys\b|"
                        r"\bgo (?:and )?die\b|\bdrink bleach\b|\bgo jump off\b", re.I)),
]
# a mention of self-harm or suicide as a topic: a workshop, a campaign, a service, not a disclosure
_SERVICE = re.compile(
    r"\b(?:awareness|prevention|workshops?|sessions?|talks?|training|courses?|evenings?|week|day|month|charity|"
    r"charities|leaflets?|resources|polic(?:y|ies)|assembl(?:y|ies)|support group|helplines?|services?|nurse|"
    r"counsell?ors?|fun run|fundraiser|fundraising|research|campaign|lessons?|curriculum|guidance|signs of|"
    r"warning signs|parents|carers|staff|professionals|first aid|speaker|survivors?)\b", re.I)
# ... or what happens in a story, a play, a song or history
_FICTION = re.compile(
    r"\b(?:play|novel|story|book|poem|poet|poetry|character|scene|act \d|shakespeare|macbeth|hamlet|ophelia|"
    r"juliet|romeo|cleopatra|antony|othello|lear|film|movie|episode|series|lyrics?|song|sang|singing|choir|"
    r"musical|history|historian|war|century|emperor|king|queen|hitler|nero|studying|revision|essay|"
    r"1[0-9]\d\d)\b", re.I)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|ive|i'll|i'd|me|my|myself)\b", re.I)
# the person who reports someone else's risk: "my daughter", "a boy in my form", "my friend in Year 10"
_REPORTER = re.compile(r"\b(?:my|our)\s+(?:\w+\s+)?(?:son|daughter|child|kid|friend|mate|bestie|sister|brother|"
                       r"girlfriend|boyfriend|cousin|pupil|student|classmate|form|class|year)\b", re.I)
_QUOTE = re.compile(r"\"[^\"\n]{1,200}\"|“[^”\n]{1,200}”|(?<!\w)'(?:[^'\n]|'(?=\w)){2,200}'(?!\w)")

# ---- personal data -------------------------------------------------------------------------

_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*\.[a-z]{2,24}\b", re.I)
# Digits separated only by spaces, dots, dashes or brackets: "07700 900123", "07700.900.123",
# "+44 (0)20 7946 0958". Dates and times ("12/03/2024", "12.03.2024", "10:30", "2024-03-12") never pass
# the digit checks below.
_PHONE_CANDIDATE = re.compile(r"(?<![\w/.:+-])(\+?\(?\d[\d\s().-]{8,20}\d)(?![\w/:-]|\.\d)")
# ...and disguised with the letter O for a zero or l for a one: "O77OO 9OO987"
_PHONE_DISGUISED = re.compile(r"(?<![\w/.:+-])(\+?\(?[\dOo][\dOoIl\s().-]{8,20}[\dOo])(?![\w/:-])")
_DIGIT_LOOKALIKES = str.maketrans("OoIl", "0011")
_POSTCODE = re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b")
_NON_DIGIT = re.compile(r"\D")
_SPACES = re.compile(r"\s+")
_SPACES_IN_LINE = re.compile(r"[^\S\n]+")
_STREET_TYPES = (r"(?:Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Drive|Way|Crescent|Cres|Gardens|Place|Terrace|"
                 r"Court|Grove|Row|Walk|Mews|Square|Parade|Rise|View)")
_STREET = re.compile(rf"\b\d{{1,4}}[a-z]?,?\s+(?:[A-Z][a-z']+\s+){{1,3}}{_STREET_TYPES}\b\.?")


def _phone_kind(candidate: str) -> str | None:
    national = _national_number(candidate)
    if national is None:
        return None
    if national.startswith("+"):
        return "a phone number"
    if not _is_uk_national(national):
        return None
    # Ofcom's numbering: 071-075, 077-079 and 07624 are mobiles; 070 and 076 are not
    if national[:3] in ("071", "072", "073", "074", "075", "077", "078", "079") or national.startswith("07624"):
        return "a mobile number"
    return "a UK phone number"


def _national_number(candidate: str) -> str | None:
    """UK numbers as national digits ("07700900123"), others as "+" and digits; None if neither."""
    digits = _NON_DIGIT.sub("", candidate)
    stripped = candidate.lstrip("(").strip()
    if stripped.startswith("+44") or stripped.startswith("0044"):
        national = "0" + (digits[4:] if stripped.startswith("00") else digits[2:])
        return national[1:] if national.startswith("00") else national
    if stripped.startswith("+"):
        return "+" + digits if 8 <= len(digits) <= 15 else None
    return digits


def _is_uk_national(digits: str) -> bool:
    if not digits.startswith("0") or len(digits) not in (10, 11):
        return False
    if digits[1] == "7":
        return len(digits) == 11  # mobiles: 07xxx xxxxxx
    return digits[1] in "123589"


def _key(kind: str, value: str) -> str:
    if kind == "phone":
        return "phone:" + (_national_number(value) or "")
    if kind == "postcode":
        return "postcode:" + _SPACES.sub("", value).upper()
    return f"{kind}:" + _SPACES.sub(" ", value).strip().lower().rstrip(".")


def contact_keys(contacts) -> frozenset[str]:
    """The school's own published contacts (``classifier.school_contacts``) as the rule compares them:
    phone numbers by their digits, postcodes without spaces, emails and addresses ignoring case."""
    keys = set()
    for contact in contacts or ():
        contact = prepare(contact).strip()
        if _EMAIL.fullmatch(contact):
            keys.add(_key("email", contact))
        elif _POSTCODE.fullmatch(contact.upper()):
            keys.add(_key("postcode", contact))
        elif re.fullmatch(r"[+\d\s()-]{6,}", contact):
            keys.add(_key("phone", contact))
        else:
            keys.update(_street_key(found) for found in _STREET_PARTS.finditer(contact))
            for found in _POSTCODE.finditer(contact.upper()):
                keys.add(_key("postcode", found.group(0)))
    return frozenset(keys)


# a street address in a post or in the school's contacts, in parts: "12", "orchard", "road"
_STREET_PARTS = re.compile(rf"\b(\d{{1,4}}[a-z]?),?\s+((?:[a-z']+\s+){{1,3}}?)({_STREET_TYPES})\b", re.I)
_STREET_ABBREVIATIONS = {"rd": "road", "st": "street", "ln": "lane", "ave": "avenue", "cres": "crescent"}


def _street_key(parts: re.Match) -> str:
    """"12 Orchard Rd" as "street:12|orchard road": the house number and the street, each whole."""
    number, name, kind = (part.strip().lower() for part in parts.groups())
    return f"street:{number}|{' '.join(name.split())} {_STREET_ABBREVIATIONS.get(kind, kind)}"


def _is_school_address(found: str, contacts: frozenset[str]) -> bool:
    """Whether a street address is one of the school's: the same house number on the same street (the
    school at 12 Orchard Road does not hide a pupil at 2 Orchard Road)."""
    parts = _STREET_PARTS.search(found)
    return parts is not None and _street_key(parts) in contacts


def _excerpt(text: str, start: int, end: int, mask: bool = False) -> str:
    found = text[start:end].strip()
    if mask:
        keep = max(2, len(found) // 3)
        return found[:keep] + "…"
    if len(found) > 80:
        found = found[:77] + "…"
    return found


def prepare(text: object) -> str:
    """The text as the personal-data rule reads it: valid, NFKC-folded, without invisible characters."""
    text = unicodedata.normalize("NFKC", truncate(to_valid_str(text), MAX_CHARS))
    if not text.isascii():
        text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cs", "Co"))
    text = text.replace("’", "'").replace("‘", "'")
    return _SPACES_IN_LINE.sub(" ", text)


def read(text: object) -> str:
    """The text as the threat and self-harm rules read it: disguises undone as well
    (``classifiers.normalise``: "k1ll", "s t a b", look-alike letters, "🔪" as "knife")."""
    return prepare(normalise(truncate(to_valid_str(text), MAX_CHARS)))


_AIMED = re.compile(
    rf"{_TARGET}|\b(?:you're|youre|ur|next|school|hall|gates?|class|car park|bus stop|tomorrow|tonight|today|soon|"
    r"this week|after school|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)


def _emoji_threat(text: str, reading: str) -> list[_Found]:
    """A weapon or death emoji aimed at someone, a place or a time: "Mrs Carter 🔫 tomorrow"."""
    if text.isascii() or not violent_emoji(text):
        return []
    match = _AIMED.search(reading)
    if not match:
        return []
    return [_Found(THREAT, "threat of violence (weapon emoji)", 0, len(reading))]


def check(text: object, reading: str | None = None, contacts: frozenset[str] = frozenset()) -> list[Hit]:
    """Every rule that the text trips, at most one hit per kind of finding.

    ``reading`` is ``read(text)`` when the caller already has it; ``contacts`` are the school's own
    published contacts (from :func:`contact_keys`), which are not personal data.
    """
    plain = prepare(text)
    if not plain.strip():
        return []
    reading = read(text) if reading is None else reading
    found = (_threats(reading) or _emoji_threat(plain, reading)) + _self_harm(reading)
    quoted = _Quoter(plain, reading)
    hits = [Hit(f.label, f'{f.what}: "{quoted.excerpt(f.start, f.end)}"') for f in found]
    return hits + _personal_data(plain, contacts)


class _Quoter:
    """Quotes the post as written where the rules found something in its reading: "Mr Davies 🔫🔫 after
    school", not "Mr Davies gun gun after school"; "і'll stab" with the look-alike letter it was posted
    with. Normalisation changes words, not their order, so the reading's words are matched to the
    post's (``difflib``) and a finding is quoted as the post's words it came from, whole."""

    _WORD = re.compile(r"\S+")

    def __init__(self, plain: str, reading: str):
        self.plain, self.reading = plain, reading
        self._map: list[tuple[int, int] | None] | None = None

    def excerpt(self, start: int, end: int) -> str:
        if self.plain == self.reading:
            return _excerpt(self.plain, start, end)
        words = [m.span() for m in self._WORD.finditer(self.reading)]
        sources = [self._sources()[i] for i, (s, e) in enumerate(words) if s < end and e > start]
        sources = [span for span in sources if span is not None]
        if not sources:
            return _excerpt(self.reading, start, end)
        return _excerpt(self.plain, min(s for s, _ in sources), max(e for _, e in sources))

    def _sources(self) -> list[tuple[int, int] | None]:
        """For each word of the reading, the span of the post's words it comes from (None: none)."""
        if self._map is None:
            read_words = list(self._WORD.finditer(self.reading))
            plain_words = list(self._WORD.finditer(self.plain))
            matcher = difflib.SequenceMatcher(None, [w.group(0).lower() for w in read_words],
                                              [w.group(0).lower() for w in plain_words], autojunk=False)
            self._map = [None] * len(read_words)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if j1 == j2:
                    continue  # words normalisation added
                for i in range(i1, i2):
                    # an equal word comes from its twin; a changed one from all the words it replaced
                    first, last = (j1 + i - i1,) * 2 if tag == "equal" else (j1, j2 - 1)
                    self._map[i] = (plain_words[first].start(), plain_words[last].end())
        return self._map


def _threats(text: str) -> list[_Found]:
    for pattern in _THREAT_PATTERNS:
        match = next((m for m in pattern.finditer(text) if not _playful(text, m)), None)
        if match:
            return [_Found(THREAT, "threat of violence", *match.span())]
    for pattern in _VEILED_PATTERNS:
        match = next((m for m in pattern.finditer(text) if not _playful(text, m)), None)
        if match:
            return [_Found(THREAT, "threat of violence (veiled)", *match.span())]
    for lurk in itertools.chain(_LURK.finditer(text), _ROUTINE.finditer(text)):
        if _MENACE.search(text, lurk.end()) or _MENACE.search(text, 0, lurk.start()):
            if not _playful(text, lurk):
                return [_Found(THREAT, "threat of violence (veiled)", *lurk.span())]
    return []


def _playful(text: str, match: re.Match) -> bool:
    """Violent words in a sporting, film, playful or story sense: "we'll batter them on Saturday, come and
    support the under 12s", "film club will shoot the teachers for the staff video", "bomb the teachers
    with water balloons", "Year 6 are coming for his quiz title", "kill Emma at Mario Kart".

    Words of real harm nearby (a knife, a hospital, "smash his face in") and violence with no such sense
    ("stab") are never playful. Against someone on the staff, the game must be named in the same
    sentence, after the threat ("... at netball"), and a story makes nothing playful."""
    around = text[max(0, match.start() - 150) : match.end() + 150]
    found = match.group(0)
    if _quoted(text, match) and _CONDEMNED.search(around) and not _REPORTER.search(around):
        return True
    if _HARM_WORDS.search(around) or _LITERAL.search(found):
        return False
    if _FUN.search(around) or (re.search(r"\bshoot", found, re.I) and _FILM.search(around)):
        return True
    if _STAFF_RE.search(found):
        rest = re.split(r"[.!?\n]", text[match.end() : match.end() + 60], maxsplit=1)[0]
        return bool(_IN_GAME.search(rest))
    start = max(0, match.start() - 150)
    if any(not _AFTER.search(text, max(0, s.start() - 25), s.start())
           for s in _SPORT.finditer(text, start, match.end() + 150)):
        return True
    return bool(_STORY.search(around))


def _sentence(text: str, match: re.Match) -> str:
    """The sentence a match is in, but no further than a few words either side: run-on text is not one sentence."""
    start = max(text.rfind(".", 0, match.start()), text.rfind("!", 0, match.start()),
                text.rfind("?", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
    ends = [i for i in (text.find(c, match.end()) for c in ".!?\n") if i != -1]
    start, end = max(start, match.start() - 60), min(min(ends) if ends else len(text), match.end() + 60)
    return text[start:end]


def _quoted(text: str, match: re.Match) -> bool:
    """Whether the match is inside quotation marks ("warning signs include 'I want it all to stop'")."""
    offset = max(0, match.start() - 200)
    window = text[offset : match.end() + 200]
    return any(q.start() + offset <= match.start() and match.end() <= q.end() + offset for q in _QUOTE.finditer(window))


def _is_mention(text: str, match: re.Match, whose: str) -> bool:
    """Self-harm as the subject of a service ("a self-harm awareness workshop", "suicide prevention training"),
    of a story or of history ("Juliet kills herself", "Hitler killed himself in 1945"), or words quoted in
    one: a mention, not a disclosure. The writer's own words are a disclosure unless they are quoted;
    a report of someone close ("my daughter", "a boy in my form") is never a mention."""
    if whose == "urge":
        return False
    sentence = _sentence(text, match)
    quoted = _quoted(text, match)
    if whose == "first" and not quoted:
        return False
    if whose in ("other", "pills") and quoted:
        return True  # "comments telling children to 'go kill themselves'": reported abuse
    unquoted = _QUOTE.sub(" ", sentence)
    if _SERVICE.search(sentence) and not _FIRST_PERSON.search(unquoted):
        return True
    if not _FICTION.search(sentence):
        return False
    return not _REPORTER.search(sentence) and (whose in ("other", "pills") or not _FIRST_PERSON.search(unquoted))


# "remember to take all your tablets": medicine as prescribed, not an overdose
_AS_PRESCRIBED = re.compile(r"\b(?:remember|forget|make sure|please|has to|have to|had to|prescribed|told to|"
                            r"should|shouldn't|not|never|mustn't|must)\W+"
                            r"(?:\w+\W+){0,2}$", re.I)
_YOURS = re.compile(r"\b(?:your|their|our)\b", re.I)


def _as_prescribed(text: str, match: re.Match) -> bool:
    before = text[max(0, match.start() - 40) : match.start()]
    return bool(_YOURS.search(match.group(0)) or _AS_PRESCRIBED.search(before))


def _self_harm(text: str) -> list[_Found]:
    for whose, pattern in _SELF_HARM_PATTERNS:
        for match in pattern.finditer(text):
            if _is_mention(text, match, whose):
                continue
            if whose == "pills" and _as_prescribed(text, match):
                continue
            if whose == "urge":
                return [_Found(SELF_HARM, "urges someone to harm themselves", *match.span())]
            return [_Found(SELF_HARM, "possible self-harm or suicide risk", *match.span())]
    return []


def _phone_numbers(text: str):
    """Each phone number candidate as written (its span) and as digits."""
    for match in _PHONE_CANDIDATE.finditer(text):
        yield match.span(1), match.group(1)
    for match in _PHONE_DISGUISED.finditer(text):
        written = match.group(1)
        if not written.isascii() or written.translate(_DIGIT_LOOKALIKES) == written:
            continue
        if sum(c.isdigit() for c in written) >= 5:  # a number with a few letters in it, not a word
            yield match.span(1), written.translate(_DIGIT_LOOKALIKES)


def _personal_data(text: str, contacts: frozenset[str] = frozenset()) -> list[Hit]:
    hits = []
    for span, number in _phone_numbers(text):
        kind = _phone_kind(number)
        if kind and _key("phone", number) not in contacts:
            hits.append(Hit(PERSONAL_DATA, f'personal data: {kind} ("{_excerpt(text, *span, mask=True)}")'))
            break
    for match in _EMAIL.finditer(text):
        if _key("email", match.group(0)) not in contacts:
            hits.append(Hit(PERSONAL_DATA,
                            f'personal data: an email address ("{_excerpt(text, *match.span(), mask=True)}")'))
            break
    for match in _POSTCODE.finditer(text):
        if _key("postcode", match.group(0)) not in contacts:
            hits.append(Hit(PERSONAL_DATA, f'personal data: a postcode ("{match.group(0)}")'))
            break
    for match in _STREET.finditer(text):
        if not _is_school_address(match.group(0), contacts):
            hits.append(Hit(PERSONAL_DATA,
                            f'personal data: a street address ("{_excerpt(text, *match.span(), mask=True)}")'))
            break
    return hits
