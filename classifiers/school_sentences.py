"""School-domain training sentences, built from templates written for this project.

TweetEval teaches what is offensive on Twitter; it never saw a school newsletter. These sentences
teach the output layer (``python -m classifiers.train --head-only``) that a school's ordinary
language is not abuse even when it has trigger words ("smashed it", "shooting a film", "self-harm
awareness"), that a neutral or positive statement about an identity group is not hate, that a
sharp complaint is not an insult, and that quoting abuse to condemn it is not abuse, and
reminds it that insulting staff and pupils is. None of them is in ``classifiers/devsets``, and
no public evaluation suite was used to write them.

``examples()`` returns (text, offensive, hate) triples; both labels are 0 for the innocent kinds. Model
version 3 was refitted on the kinds before the "version 4" ones below (3,684 sentences), version 4 on
all of them (8,633).
"""

from __future__ import annotations

import itertools
import random
import re

TEAMS = ["the netball team", "our under 13s", "the Year 6 footballers", "the girls' hockey squad", "the chess club",
         "the debating society", "the Year 9 rugby boys", "our cross country runners", "the school orchestra",
         "the quiz team", "the Year 4 choir", "our swimmers", "the cricket XI", "the dance troupe", "the band"]
WINS = ["smashed it", "killed it", "absolutely destroyed it", "slayed", "nailed it", "crushed it",
        "blew everyone away", "knocked it out of the park", "stormed to victory", "tore the opposition apart",
        "were on fire", "murdered that last song, in a good way", "annihilated the competition",
        "obliterated their personal bests", "battered the other schools"]
OCCASIONS = ["at the county finals", "on Saturday", "at the regional heats", "last night", "in assembly",
             "at the festival", "this afternoon", "at the trust tournament", "in the cup", "at the open evening"]
LAUGHS = ["Parents said they nearly died laughing during {event}", "We were dying laughing at {event}", "{event} had us in stitches, "
          "I could have died", "Honestly I'm dead, {event} was hilarious", "I laughed so hard I cried at {event}",
          "I'm dying to see {event}", "{event} is to die for", "My kids were crying with laughter at {event}"]
EVENTS = ["the panto", "the staff talent show", "the Year 6 leavers' play", "the teachers' football match",
          "the Christmas concert", "the school disco", "the sports day dads' race", "the nativity",
          "the Year 11 prom video", "the open mic night"]
ACTIVITIES = ["Photography students are shooting portraits in the hall",
              "The media class will be filming a murder mystery in the library", "Our archery club shoot on Tuesdays",
              "Drama rehearsals for the battle scene continue after school", "Bath bomb making at the Christmas fair",
              "The science department will blow up a watermelon at the open evening",
              "Year 8 are dissecting hearts in biology this week", "The history club are re-enacting the Battle of Hastings",
              "Cadets will fire the starting gun at sports day", "Year 10 are studying war poetry this term",
              "Year 9 are reading Macbeth: expect blood, daggers and murder", "The art room is covered in fake blood for "
              "the Halloween display", "The cooking club made a cake that was the bomb",
              "Please shoot me an email if your child needs a packed lunch",
              "We are going to crush them on Saturday, bring flags",
              "The Year 7s attacked their maths test with energy"]
AWARENESS = ["self-harm awareness", "suicide prevention", "knife crime awareness", "drug and alcohol awareness",
             "eating disorder awareness", "online grooming awareness", "anti-bullying", "domestic abuse awareness",
             "mental health first aid", "prostate cancer awareness", "breast cancer awareness", "sexual health",
             "relationships and sex education", "county lines awareness", "radicalisation awareness"]
AWARENESS_FORMS = ["Booking is open for the {topic} course for carers next month",
                   "{topic_cap} session for Year 10 with the school nurse this week",
                   "Thank you to the police for the {topic} talk to Year 9",
                   "Our {topic} evening raised important questions, resources are on the website",
                   "Join our {topic} fun run on Sunday", "Staff training on {topic} took place today",
                   "If you are worried about {topic_plain}, please speak to our safeguarding lead",
                   "We raised £300 for {topic} this term, thank you"]

GROUPS = ["trans kids", "trans pupils", "gay parents", "lesbian teachers", "bisexual students", "immigrants",
          "refugees", "asylum seekers", "migrant families", "Muslim families", "Muslim girls", "Jewish pupils",
          "Hindu families", "Sikh pupils", "Christian families", "Black pupils", "Asian families",
          "Polish families", "Romanian pupils", "disabled children", "autistic pupils", "deaf students",
          "women", "girls", "single mums", "Traveller families", "wheelchair users", "LGBT young people",
          "non-binary students", "Eastern European families", "Somali families", "Irish families"]
GROUP_PRAISE = ["{group} are welcome at this school", "we are proud of our {group}",
                "{group} should feel safe here", "our {group} organised a brilliant event",
                "{group} belong here, like everyone else", "a big thank you to the {group} who helped at the fete",
                "{group} are valued members of our community", "{group} enriched our international evening",
                "thank you to the {group} who volunteered at the fair", "our library now has books by and about {group}",
                "{group} spoke in assembly about their lives and it was brilliant",
                "the council's report shows {group} contribute a great deal locally"]

TOPICS = ["the new uniform policy", "sending pupils home for a haircut", "the phone ban", "the homework load",
          "the late buses", "the car park at pick up", "the price of school dinners", "the cancelled trip",
          "another INSET day", "the detention system", "the new timetable", "the lack of communication",
          "charging for school photos", "the state of the toilets", "the reports arriving late",
          "the decision to cancel sports day", "the hair rules", "the lunch queues"]
COMPLAINTS = ["{topic} is ridiculous", "{topic} is absurd, get your priorities right",
              "frankly {topic} is unacceptable", "{topic} is a shambles", "{topic} is madness, please rethink",
              "why is nobody fixing {topic}??", "I'm furious about {topic}", "{topic} is not good enough",
              "very disappointed by {topic}", "{topic} is shocking and the school should be embarrassed",
              "{topic}? Seriously? Absurd.", "sick and tired of {topic}", "{topic} is appalling"]

QUOTED = ["fat slag", "retard", "stupid bitch", "ugly cow", "go back to your country", "kill yourself", "gay",
          "terrorist", "slut", "loser", "freak", "useless prick", "paki", "faggot", "scum"]
COUNTER = ['A reminder to all families: comments such as "{q}" break our online code of conduct.',
           'Our pupils told us they hear "{q}" in the corridors. This week\'s assemblies are about why it hurts.',
           'Posting "{q}" about another family\'s child will get you blocked from this page.',
           'The boys who said "{q}" to a Year 7 have been spoken to. Thank you for reporting it.',
           'Words like "{q}" hurt real people. Please think before you post.',
           'Is "{q}" really how we want our children to talk? Let\'s set a better example.',
           'Thank you to the Year 10s who stood up for a classmate when others shouted "{q}".']

STAFF = ["the head", "Mr Jones", "Mrs Ahmed", "the deputy head", "Miss Taylor", "that PE teacher",
         "the maths teacher", "the head of year", "the receptionist", "the SENCO", "the governors",
         "the teachers at that school", "the staff", "whoever runs this page", "your son", "that kid in year 8"]
INSULTS = ["is a useless idiot", "is a fucking joke", "is a lying bitch", "is a fat prick", "is a total moron",
           "is scum", "is a creepy pervert", "is a thick twat", "should be sacked, what a loser",
           "is a pathetic waste of space", "is a stupid cow", "is a vile little rat", "is a brainless clown",
           "is an arrogant dickhead", "are a bunch of useless wankers", "can go fuck themselves",
           "is an ugly slag", "is a worthless piece of shit"]
SCHOOL_INSULTS = ["this school is a shithole", "this academy is run by idiots", "what a dump of a school",
                  "these teachers are lazy scum", "the parents here are thick as pigshit",
                  "the kids at that school are feral animals", "shut up you stupid cow",
                  "nobody cares what you think, loser"]


# more of each innocent kind, in other shapes than the templates above: a head's fundraiser, a
# parent's remark, a complaint with a question or a request, a statement of fact about a group
INNOCENT_MORE = [
    "Mrs {name} is going to smash her 10k on Saturday, sponsor her on the link", "Mr {name} will murder that karaoke "
    "song at the staff party, come and watch", "Our {team} are going to destroy the opposition in the semi-final!",
    "We're going to slaughter them at the quiz night, bring your brains", "{team_cap} absolutely killed it today, "
    "so proud", "Mr {name} nearly died of embarrassment when his slides froze in assembly",
    "The Year 3 play was so funny I almost died", "Mrs {name}'s cake is the bomb, we want the recipe",
    "{team_cap} were a force of nature, they crushed every race", "I could kill for one of the PTA's bacon rolls",
    "Come and watch {team} fight it out for the cup on Friday", "The fire drill went off with a bang this morning",
    "Year 5 exploded volcanoes in science, it went everywhere", "The photography club will shoot the sunset "
    "from the top field", "Year 10 loved the war poetry trip, especially the trenches", "The Year 6s stabbed at "
    "a guess in the maths quiz and got it right", "{team_cap} beat {rival} to a pulp, 6-0 at full time",
    "Mr {name} dies a little every time someone forgets their PE kit", "Sports day was a bloodbath for the dads' race",
    "The hall looks like a crime scene after the art workshop, sorry cleaners!",
]
NAMES = ["Patel", "Jones", "Okafor", "Hughes", "Nowak", "Clarke", "Begum", "Murphy"]
RIVALS = ["St Mary's", "Hillcrest", "the Grammar", "Oakfield", "the academy down the road"]
GROUP_MORE = ["{group} are just people, like the rest of us", "{group} make our school a better place",
              "{group} deserve respect and kindness", "{group} have every right to be here",
              "there is nothing wrong with being one of the {group}", "{group} work hard in our community",
              "{group} are part of this town's story", "my best friends growing up were {group}",
              "{group} should never be bullied for who they are", "{group} run some of the best clubs we have",
              "{group} add so much to our classrooms", "{group} are our neighbours and our friends",
              "being one of the {group} is nothing to be ashamed of", "{group} can be anything they want to be",
              "{group} contribute so much to our NHS and care homes", "{group} make brilliant teachers",
              "stand up for {group} when you see them picked on", "{group} are as British as anyone else"]
COMPLAINT_MORE = ["{topic}? Really? Get a grip.", "{topic} is chaos, somebody will get hurt one day",
                  "{topic} is pointless and heavy handed", "honestly {topic} is a joke, please sort it out",
                  "{topic} is a disgrace and the governors should look at it", "{topic} is ridiculous, "
                  "who thought this was a good idea?", "I am sick of {topic}, please listen to parents",
                  "{topic} is utterly daft", "{topic} is a nightmare for working parents",
                  "{topic} is a total mess this term", "{topic} is unfair on the kids, rethink it please",
                  "{topic} makes no sense whatsoever", "{topic} is filthy and nobody seems to care",
                  "can someone explain {topic}? Absurd.", "{topic} is beyond a joke now",
                  "{topic} is daylight robbery", "{topic} is crazy, it has to change", "{topic}. Disgraceful."]
TOPICS_MORE = ["the state of the changing rooms", "the muddy playground", "the broken heating in the mobiles",
               "making Year 7 buy a £40 blazer", "banning coats in lessons", "the queue for parents evening",
               "the traffic on Church Lane at 3pm", "the fees for the ski trip", "the email that came at 10pm",
               "the new behaviour points app", "no hot water in the toilets", "the mess in the canteen",
               "the six week wait for a reply", "the loss of the music teacher", "the shoe rules"]
COUNTER_MORE = ["Calling a child a {q} is never ok and we will report it", "Using \"{q}\" as a joke is still abuse",
                "My daughter was called a {q} at the bus stop, please talk to your kids",
                "If your child thinks \"{q}\" is banter, please have a word",
                "Shouting \"{q}\" at a classmate is bullying, plain and simple",
                "We reported the account that called our teachers \"{q}\"",
                "Nobody deserves to be called a {q}. Be kind.",
                "Saying \"{q}\" to a pupil is not free speech, it is harassment",
                "Comments like \"{q}\" were removed from this page and the posters blocked",
                "Is it really acceptable to call a 12 year old a \"{q}\"? No."]
QUOTED_MORE = ["fat slag", "retard", "stupid bitch", "ugly cow", "terrorist", "slut", "loser", "freak", "paki",
               "faggot", "scum", "nonce", "tramp", "whore", "thick twat", "gay boy"]

# more abuse, so that the innocent kinds above do not outweigh it: insults, dehumanising words and
# contempt aimed at staff, pupils and families
INSULTS_MORE = ["is a gobshite", "is a filthy liar", "is a spineless coward", "is a complete bellend",
                "is a dirty little rat", "is a fat waste of oxygen", "is a sad pathetic little man",
                "is a thick as mince idiot", "is a greedy parasite", "is a sneaky snake", "is a miserable old bag",
                "is a smug git", "is an absolute clown", "is a dumb cow", "is a sick freak", "is a nasty piece of work",
                "are savages", "are a pack of rats", "are subhuman", "are a plague on this town",
                "are cockroaches", "are filthy pigs", "are inbred trash", "are a bunch of degenerates",
                "are worthless wastes of space", "should be put down like dogs", "needs a slap, the lazy cow",
                "is too thick to teach", "is a bully and a creep", "is ugly inside and out, vile woman",
                "couldn't teach a dog to sit, useless tart"]


# dehumanising words said of people (vermin, animals, scum, parasites, rats, pigs...): abuse without a
# swear word, aimed at staff, pupils and families, in several sentence shapes
PEOPLE = ["the kids from the estate", "the Year 10 boys", "that family", "the parents at the gate",
          "the teachers at this school", "the dinner staff", "the governors", "the senior leadership team",
          "the lads on the back of the bus", "her children", "the whole of Year 8", "the new families",
          "the staff in the office", "the supply teachers", "that lot in the sixth form", "the mums on the PTA",
          "the kids in the unit", "the teaching assistants", "his brothers", "the pupils at that academy"]
PERSON = ["the head", "Mr Clarke", "Mrs Begum", "that teacher", "the caretaker", "the deputy", "her son",
          "the SENCO", "the chair of governors", "that girl in Year 9", "the new PE teacher", "their dad"]
BEASTS = ["animals", "vermin", "scum", "parasites", "rats", "subhuman", "cockroaches", "pigs", "filthy animals",
          "feral vermin", "scum of the earth", "bloodsucking parasites", "sewer rats", "greedy pigs",
          "subhuman filth", "a plague of cockroaches", "leeches", "wild dogs", "maggots", "dirty rats"]
BEAST = ["an animal", "vermin", "scum", "a parasite", "a rat", "subhuman", "a cockroach", "a pig", "a filthy animal",
         "a leech", "a maggot", "a dirty rat", "a greedy pig", "a sewer rat", "a piece of scum"]
DEHUMANISING_MANY = ["{people} are {beasts}", "{people} are nothing but {beasts}", "{people_cap}? {beasts_cap}, the lot of them",
                     "{people} are {beasts}, every last one of them", "{people} behave like {beasts}",
                     "honestly {people} are {beasts} and should be kept away from decent kids",
                     "{people} are {beasts}, not human beings", "you can't reason with {people}, they're {beasts}",
                     "{people} breed like rats and live like {beasts}", "get {people} out, they are {beasts}",
                     "{people} are {beasts}, treat them like it", "I've met {people}. {beasts_cap}. Total {beasts}.",
                     "{people} are a bunch of {beasts}", "this school is crawling with {beasts} like {people}",
                     "{people} should be caged like the {beasts} they are"]
DEHUMANISING_ONE = ["{person} is {beast}", "{person} is {beast} and always will be",
                    "{person_cap}? Absolute {beast_bare}.", "{person} is nothing but {beast}",
                    "{person} is {beast}, not a person", "{person} is {beast}, stay away from our kids",
                    "everyone knows {person} is {beast}", "{person} is lower than {beast}",
                    "{person} is {beast}, crawl back under your stone", "{person_cap}, you are {beast}"]

# the same words used literally or quoted to condemn them: the school farm, pest control, topics, clubs
LITERAL = [
    "The school farm's pigs had eight piglets over the weekend, come and see them at pick up",
    "Year 4 will be feeding the pigs and goats at the school farm on Wednesday",
    "Our two school pigs, Peppa and Hamlet, won a rosette at the county show",
    "Pigs in blankets are on the Christmas lunch menu this Thursday",
    "Volunteers needed to muck out the pigs at the school farm over half term",
    "Guinea Pig Club meets on Thursdays at lunch in the science lab, new members welcome",
    "Can anyone look after the class guinea pigs over the Easter holidays?",
    "Year 3's guinea pigs, Biscuit and Crumble, are settling in well",
    "The staff were guinea pigs for the new lunch menu this week and loved the curry",
    "Pest control notice: rats have been seen near the canteen bins, the kitchen is closed on Monday",
    "Rat traps have been laid behind the kitchen, please keep children away from that area",
    "The canteen will reopen on Wednesday once pest control have dealt with the rats",
    "Please don't leave food in the playground, it attracts rats and vermin",
    "The council has treated the top field for vermin and it reopens on Monday",
    "Year 2's topic this term is animals and their habitats, bring in a photo of your pet",
    "Reception loved meeting the animals at the farm visit today",
    "Animals week: the zoo outreach team brought a snake, a tortoise and two ferrets",
    "Year 2 have been drawing their favourite animals for the corridor display",
    "Our Year 1s learned which animals are nocturnal, ask them about owls and bats",
    "In biology Year 10 are learning about parasites and their hosts",
    "Head lice are tiny parasites, please check your child's hair this weekend",
    "Year 12 biologists looked at malaria parasites under the microscope",
    "Tapeworms and ticks: Year 9's parasites project is on display in the science corridor",
    "The minibeast hunt found woodlice, beetles and one very large cockroach",
    "Science club is looking after three Madagascar hissing cockroaches this term",
    "Food tech: skim the scum off the top of the jam before you jar it",
    "The wildlife pond is covered in green scum, the eco club are clearing it on Friday",
    "Year 3 are performing The Pied Piper of Hamelin, we need lots of rats for the chorus!",
    "Year 10 are reading Animal Farm, where the pigs take over the farm",
    "In history Year 9 study how Nazi propaganda called people vermin and subhuman",
    "Calling refugees vermin is how hatred starts, our Year 11 assembly explained why",
    "Nobody should ever call a child an animal, whatever they have done",
    "Year 8's debate looked at why newspapers once described migrants as a plague of rats",
    "The Year 6 rats and mice science investigation is on display in the hall",
    "Badgers class have been learning about hedgehogs, foxes and other garden animals",
    "Our rugby boys played like animals today, what a performance, so proud",
    "Lost: a toy pig called Percy, left on the Year 1 playground",
    "Thank you to the farmer who brought his pigs and sheep to our harvest festival",
    "Year 5 kept a diary of the animals that visit the school garden at night",
    "Tick season: parasites like ticks can carry disease, check after the camping trip",
]

CLASSES = ["Reception", "Year 1", "Year 2", "Year 3", "Year 4", "the eco club", "the farm club", "Hedgehogs class",
           "the nursery", "Year 5"]
FARM_VISITS = ["{cls} will feed the {beast} at the school farm {when}", "{cls} met the {beast} on the farm visit {when}",
               "{cls} are drawing the school {beast} for the newsletter {when}",
               "{cls} helped clean out the {beast} {when}, wellies needed",
               "{cls} learned how to look after {beast} {when}"]
FARM_BEASTS = ["pigs", "piglets", "guinea pigs", "goats", "rabbits", "hens", "lambs", "ducks", "animals"]
PESTS = ["{place} is closed {when} while pest control deal with {pest}",
         "Pest control are treating {place} for {pest} {when}, please keep away",
         "We have reported {pest} in {place} to the council, it will be closed {when}",
         "Please do not eat in {place}: food left out has attracted {pest}"]
PLACES = ["the canteen", "the kitchen", "the sports hall store", "the mobile classroom", "the staff room",
          "the bike shed", "the Year 6 cloakroom", "the library"]
PEST_KINDS = ["rats", "mice", "cockroaches", "vermin", "rats and mice", "a wasps' nest"]
WHENS = ["on Monday", "this week", "tomorrow", "until Friday", "over half term", "after the holidays"]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def innocent() -> list[str]:
    texts = [f"{_cap(team)} {win} {when}!" for team, win, when in itertools.product(TEAMS, WINS, OCCASIONS)]
    texts += [form.format(event=event) for form, event in itertools.product(LAUGHS, EVENTS)]
    texts += ACTIVITIES
    texts += [form.format(topic=topic, topic_cap=_cap(topic), topic_plain=topic.replace(" awareness", ""))
              for form, topic in itertools.product(AWARENESS_FORMS, AWARENESS)]
    texts += [form.format(name=name, team=team, team_cap=_cap(team), rival=rival)
              for form, name, team, rival in zip(INNOCENT_MORE * 8, NAMES * 20, TEAMS * 11, RIVALS * 32)]
    return texts


def identity() -> list[str]:
    forms = GROUP_PRAISE + GROUP_MORE
    return [_cap(form.format(group=group)) for form, group in itertools.product(forms, GROUPS)]


def complaints() -> list[str]:
    return [_cap(form.format(topic=topic)) for form, topic in itertools.product(COMPLAINTS + COMPLAINT_MORE,
                                                                                TOPICS + TOPICS_MORE)]


def counter_speech() -> list[str]:
    return [form.format(q=q) for form, q in itertools.product(COUNTER, QUOTED)] + \
        [_cap(form.format(q=q)) for form, q in itertools.product(COUNTER_MORE, QUOTED_MORE)]


def abuse() -> list[str]:
    return [f"{_cap(staff)} {insult}" for staff, insult in itertools.product(STAFF, INSULTS + INSULTS_MORE)] + \
        SCHOOL_INSULTS


def dehumanising() -> list[str]:
    many = [_cap(form.format(people=people, people_cap=_cap(people), beasts=beasts, beasts_cap=_cap(beasts)))
            for form, people, beasts in itertools.product(DEHUMANISING_MANY, PEOPLE, BEASTS)]
    one = [_cap(form.format(person=person, person_cap=_cap(person), beast=beast,
                            beast_bare=beast.removeprefix("a ").removeprefix("an ")))
           for form, person, beast in itertools.product(DEHUMANISING_ONE, PERSON, BEAST)]
    return many + one


def literal() -> list[str]:
    farm = [_cap(form.format(cls=cls, beast=beast, when=when))
            for form, cls, beast, when in itertools.product(FARM_VISITS, CLASSES, FARM_BEASTS, WHENS[:3])]
    pests = [_cap(form.format(place=place, pest=pest, when=when))
             for form, place, pest, when in itertools.product(PESTS, PLACES, PEST_KINDS, WHENS)]
    rng = random.Random(11)  # the fixed sentences count in full, the templated ones beside them
    return LITERAL * 3 + rng.sample(farm, 150) + rng.sample(pests, 150)


# ---- version 4: identity statements in more shapes, sharper civil complaints, more insults ----

#: (adjective, plural noun phrase) for identity groups named plainly, as people name themselves
IDENTITIES = [("gay", "gay people"), ("lesbian", "lesbian couples"), ("bisexual", "bisexual people"),
              ("trans", "trans people"), ("non-binary", "non-binary people"), ("Muslim", "Muslims"),
              ("Jewish", "Jewish people"), ("Hindu", "Hindus"), ("Sikh", "Sikhs"), ("Christian", "Christians"),
              ("Catholic", "Catholics"), ("Black", "Black people"), ("Asian", "Asian people"),
              ("mixed-race", "mixed-race families"), ("Chinese", "Chinese families"), ("Polish", "Polish people"),
              ("Romanian", "Romanians"), ("Lithuanian", "Lithuanian families"), ("Nigerian", "Nigerians"),
              ("Pakistani", "Pakistani families"), ("Bangladeshi", "Bangladeshi families"),
              ("Somali", "Somalis"), ("Irish", "Irish people"), ("Traveller", "Travellers"), ("Roma", "Roma families"),
              ("immigrant", "immigrants"), ("refugee", "refugees"), ("migrant", "migrants"),
              ("disabled", "disabled people"), ("deaf", "deaf people"), ("blind", "blind people"),
              ("autistic", "autistic people"), ("dyslexic", "dyslexic people"), ("single", "single parents"),
              ("Ukrainian", "Ukrainians"), ("Syrian", "Syrian families"), ("Afghan", "Afghan families"),
              ("Caribbean", "Caribbean families"), ("Welsh", "Welsh speakers"), ("Kurdish", "Kurdish families")]
ROLES = ["dad", "mum", "parent", "grandparent", "foster carer", "teacher", "teaching assistant", "governor",
         "student", "pupil", "dinner lady", "school nurse", "PTA member", "coach"]
SELF_FORMS = ["I'm {a} {adj} {role} and I love this school", "As {a} {adj} {role}, I want to thank the staff",
              "I am {a} {adj} {role} and my children are happy here", "Proud to be {a} {adj} {role} at this school",
              "Being {a} {adj} {role} here has never been a problem, everyone is kind",
              "I'm {a} {adj} {role}. Happy to talk to any family who wants advice",
              "Speaking as {a} {adj} {role}: this school gets inclusion right",
              "I'm {a} {adj} {role} and I'm standing for the governors this year",
              "Hi, I'm {a} {adj} {role}, new here, looking forward to meeting everyone",
              "I'm {a} {adj} {role}, and yes, I'll be at the quiz night"]
FAMILY_FORMS = ["We are {a} {adj} family and we have always felt welcome here",
                "We're {a} {adj} family, new to the area: any tips for the school run?",
                "Our family is {adj} and our kids have never felt different here",
                "As {a} {adj} family we were nervous about starting, but Reception were wonderful",
                "We're {a} {adj} family and our son just got into the football team!",
                "Being {a} {adj} family at this school has been easy, thank you all"]
GROUP_QUESTIONS = ["Are there other {adj} families in Year 3? Would love to meet up",
                   "Is there a support group for {plural} at the school?",
                   "Does the school have a club or network for {adj} pupils?",
                   "How does the school support {adj} children who are new to the country?",
                   "Are any other {adj} parents going to the coffee morning?",
                   "Could the school invite {adj} speakers for careers week?",
                   "Do the library books include stories with {adj} characters?",
                   "Is the PTA looking for {adj} volunteers to help with the cultural evening?"]
GROUP_FACTS = ["{plural_cap} have lived in this town for generations",
               "Many {plural} in our town work for the NHS",
               "The census shows more {plural} living in the area than ten years ago",
               "The local paper ran a story about {plural} who started businesses on the high street",
               "A speaker came to talk to Year 9 about the history of {plural} in Britain",
               "Our geography unit looks at why {plural} moved to the UK after the war",
               "{plural_cap} are more likely to be bullied online, the report says, and we want that to change",
               "{plural_cap} are people, not a problem to be solved",
               "{plural_cap} are part of every community in this country",
               "{adj_cap} pupils at our school won three of the five art prizes this year"]
FESTIVALS = ["Diwali", "Eid", "Hanukkah", "Vaisakhi", "Chinese New Year", "Pride Month", "Black History Month",
             "Holi", "Passover", "Ramadan", "Rosh Hashanah", "Gypsy, Roma and Traveller History Month",
             "International Women's Day", "Deaf Awareness Week", "Autism Acceptance Week", "Refugee Week",
             "Windrush Day", "St Patrick's Day", "Lunar New Year", "Christmas", "Easter"]
FESTIVAL_FORMS = ["Could the school mark {festival} this year?", "Will there be an assembly for {festival}?",
                  "Thank you for celebrating {festival} with the children", "The {festival} assembly was wonderful",
                  "Happy {festival} to all our families who are celebrating",
                  "The PTA would love volunteers to help plan our {festival} event",
                  "Please could the school let families know the dates for {festival} activities?",
                  "Our class learned about {festival} today and made cards",
                  "Can pupils wear their own clothes for {festival}?",
                  "Year 5 have been reading stories for {festival} this week"]
REQUESTS = ["Could the canteen offer halal options on more days?", "Could there be a quiet room for Muslim pupils to pray?",
            "Please can the school put up a rainbow flag for Pride?", "Will the trip have kosher food available?",
            "Could the school add gender-neutral toilets in the new block?",
            "Can the school provide a sign language interpreter at the concert for deaf parents?",
            "Could letters home be translated into Polish and Romanian?",
            "Would the school consider a vegetarian option for Hindu families?",
            "Please could the uniform list say that hijabs in school colours are fine?",
            "Could the sports day timetable fit around fasting pupils during Ramadan?",
            "Can the school make sure the stage has a ramp for wheelchair users?",
            "Could the school library stock more books by Black authors?",
            "Will the residential trip have an accessible room for disabled pupils?",
            "Could the parents' forum include a translator for refugee families?",
            "Please can the school call my child by their new name, they are trans",
            "Could we have a Pride club at lunchtime for LGBT pupils?",
            "Can turbans and patkas be worn for PE?", "Could girls play football at lunch as well as the boys?",
            "Is there an EAL teacher for children who have just arrived from Ukraine?",
            "Will the school recognise Traveller pupils' absences when families are working away?"]


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" and not word.lower().startswith(("uk", "eu")) else "a"


def _possessive(noun: str) -> str:
    return noun + "'" if noun.endswith("s") else noun + "'s"


def _draw(seed: int, *groups: tuple[list[str], int]) -> list[str]:
    """``count`` sentences of each group (all of a smaller one), so that no sentence shape outnumbers the rest."""
    rng = random.Random(seed)
    return [text for texts, count in groups for text in rng.sample(texts, min(count, len(texts)))]


#: the groups HatEval's hateful tweets were aimed at (immigrants, women) and others that draw the same abuse,
#: with things said of them that are true and kind
NAMED = ["immigrants", "migrants", "refugees", "asylum seekers", "Muslims", "Muslim women", "women", "migrant workers",
         "Eastern Europeans", "families who came here from abroad", "newcomers to this town", "immigrant parents",
         "the Windrush generation", "refugee children", "girls", "working mums", "Polish families", "foreign-born nurses"]
CONTRIBUTIONS = ["keep our hospitals and care homes running", "have shaped British food, music and sport",
                 "pay their taxes like everyone else", "opened many of the shops on our high street",
                 "bring new ideas and energy to this town", "are doctors, nurses, cleaners and teachers here",
                 "helped rebuild Britain after the war", "are good neighbours", "give so much to this country",
                 "have enriched the culture of this town", "have every right to a good education",
                 "volunteer at the food bank every week", "are the reason our cricket club survived",
                 "deserve to be treated with dignity", "are welcome in our school community",
                 "have made our school choir so much better", "are part of what makes Britain great",
                 "teach our children that kindness has no borders"]
NAMED_FORMS = ["{named_cap} {contribution}", "It's simple: {named} {contribution}.", "Remember that {named} {contribution}",
               "Fact: {named} {contribution}", "Our town knows {named} {contribution}", "So many {named} {contribution}"]


def identity_more() -> list[str]:
    """People naming their own group, questions and requests about a group, facts, festivals."""
    first_person = [form.format(a=_a(adj), adj=adj, role=role)
                    for form, (adj, _), role in itertools.product(SELF_FORMS, IDENTITIES, ROLES)
                    if adj != "single" or role in ("dad", "mum", "parent")]
    about = [_cap(form.format(a=_a(adj), adj=adj, adj_cap=_cap(adj), plural=plural, plural_cap=_cap(plural)))
             for form, (adj, plural) in itertools.product(FAMILY_FORMS + GROUP_QUESTIONS + GROUP_FACTS, IDENTITIES)
             if adj != "single" or "{plural" in form]
    festivals = [form.format(festival=festival) for form, festival in itertools.product(FESTIVAL_FORMS, FESTIVALS)]
    named = [form.format(named=named, named_cap=_cap(named), contribution=contribution)
             for form, named, contribution in itertools.product(NAMED_FORMS, NAMED, CONTRIBUTIONS)]
    return _draw(41, (first_person, 450), (about, 500), (festivals, 210), (named, 400)) + REQUESTS * 3


#: things a parent complains about (not people), each with its verb
THINGS = [("the toilets", "are"), ("the changing rooms", "are"), ("the canteen", "is"), ("the playground", "is"),
          ("the new uniform policy", "is"), ("the phone ban", "is"), ("the homework policy", "is"),
          ("communication from the school", "is"), ("the parents' evening booking system", "is"),
          ("the school website", "is"), ("the car park at home time", "is"), ("the school bus service", "is"),
          ("the lunch menu", "is"), ("the price of after-school club", "is"), ("the new behaviour policy", "is"),
          ("the building work", "is"), ("the heating in the science block", "is"), ("the water fountains", "are"),
          ("the portacabins", "are"), ("the handling of my daughter's bullying complaint", "is"),
          ("the reply to my email", "was"), ("the timetable changes", "are"), ("the PE kit rules", "are"),
          ("the school app", "is"), ("the state of the toilets", "is"), ("the state of the field", "is"),
          ("the SEN provision", "is"), ("the organisation of sports day", "was"), ("the Year 9 options evening", "was"),
          ("the queue system at parents' evening", "is"), ("the new detention rules", "are"),
          ("the leaking roof in the hall", "is"), ("the way the trip was cancelled", "was"),
          ("the admissions process", "is"), ("the lost property cupboard", "is"), ("the school's Facebook updates", "are")]
#: things that can be dirty or unsafe, as a place or a building can be
PHYSICAL = {"the toilets", "the changing rooms", "the canteen", "the playground", "the water fountains", "the portacabins",
            "the state of the toilets", "the state of the field", "the leaking roof in the hall", "the lost property cupboard",
            "the heating in the science block", "the car park at home time"}
#: said only of a place
DIRTY = {"filthy", "a health hazard", "grim"}
SHARP = ["filthy", "disgusting", "absurd", "ridiculous", "a shambles", "a disgrace", "appalling", "pathetic",
         "shocking", "a joke", "a farce", "outrageous", "unacceptable", "dreadful", "atrocious", "diabolical",
         "laughable", "a complete mess", "beyond ridiculous", "an absolute shambles", "utterly useless",
         "a total waste of money", "disgraceful", "rubbish", "awful", "terrible", "a nightmare", "embarrassing",
         "a scandal", "bonkers", "chaotic", "not fit for purpose", "a health hazard", "grim", "woeful"]
COMPLAINT_FORMS = ["{thing_cap} {verb} {sharp}.", "{thing_cap} {verb} {sharp}, and we have asked for months for it to be fixed.",
                   "Honestly, {thing} {verb} {sharp}. Please sort it out.",
                   "Why {verb} {thing} still {sharp}? We raised this in September.",
                   "I'm sorry but {thing} {verb} {sharp}.", "{thing_cap} {verb} {sharp}; the children deserve better.",
                   "Not being funny, but {thing} {verb} {sharp}.", "{thing_cap}? {sharp_cap}. Absolutely {sharp}.",
                   "Third email about this: {thing} {verb} {sharp} and nobody replies.",
                   "{thing_cap} {verb} {sharp} and it has been for months.",
                   "Can the governors explain why {thing} {verb} {sharp}?",
                   "My son says {thing} {verb} {sharp}, and from what I saw he is right.",
                   "With respect, {thing} {verb} {sharp}. Parents have said so for a year.",
                   "Let's be honest, {thing} {verb} {sharp}.", "{thing_cap} {verb} {sharp}!! Fix it please."]
DECISIONS = ["cancel the Year 6 residential", "ban coats in lessons", "send pupils home for haircuts",
             "give a detention for a missing pen", "close the library at lunch", "charge £5 for the school disco",
             "move parents' evening online", "stop the late minibus", "scrap the school orchestra",
             "make Year 7 buy new blazers", "shut the field all winter", "put the trip price up again",
             "cut the lunch break to thirty minutes", "take away the Year 11 prom"]
DECISION_FORMS = ["The decision to {decision} is {sharp}.", "Whoever decided to {decision} got it badly wrong. {sharp_cap}.",
                  "{staff_cap} decision to {decision} is {sharp}, please think again.",
                  "I emailed {staff} about the plan to {decision} and got no answer. {sharp_cap}.",
                  "The plan to {decision} is {sharp}, and I have told {staff} so.",
                  "With respect to {staff}, the choice to {decision} is {sharp}."]
MIXED_STAFF = ["the head", "Mr Hughes", "Mrs Nowak", "the governors", "the deputy head", "the office", "the trust",
               "the head of Year 7", "the business manager", "the senior team"]


#: places that get dirty, and what parents say of them: strong words about a place are not an insult
DIRTY_PLACES = [("the toilets", "are"), ("the girls' toilets", "are"), ("the boys' loos", "are"),
                ("the changing rooms", "are"), ("the showers after PE", "are"), ("the canteen tables", "are"),
                ("the lunch hall floor", "is"), ("the Year 7 cloakroom", "is"), ("the water fountains", "are"),
                ("the mobile classrooms", "are"), ("the bins by the playground", "are"), ("the sinks", "are"),
                ("the carpet in the reception class", "is"), ("the sports hall", "is"), ("the minibus", "is")]
DIRTY_WORDS = ["filthy", "disgusting", "grim", "minging", "rank", "a disgrace", "gross", "vile", "a health hazard",
               "absolutely filthy", "revolting", "squalid", "falling apart", "stinking", "in a disgusting state"]
DIRTY_FORMS = ["{place_cap} {verb} {dirty} and nobody cleans them properly.",
               "{place_cap} {verb} {dirty}. My daughter won't use them all day.",
               "Has anyone from the office actually seen {place}? {dirty_cap}.",
               "{place_cap} {verb} {dirty} again, third week running. Please get the cleaners in.",
               "I've complained twice: {place} {verb} {dirty}.", "Why {verb} {place} always {dirty}?",
               "Frankly {place} {verb} {dirty} and the kids deserve better than that.",
               "{place_cap} {verb} {dirty}, is there a cleaning rota at all?",
               "The smell from {place} is vile, they are {dirty}.", "Walked past {place} at pick up: {dirty}."]


def dirty_places() -> list[str]:
    """Parents complaining, in strong words, about a place that is dirty."""
    return [form.format(place=place, place_cap=_cap(place), verb=verb, dirty=dirty, dirty_cap=_cap(dirty))
            for form, (place, verb), dirty in itertools.product(DIRTY_FORMS, DIRTY_PLACES, DIRTY_WORDS)]


def complaints_more() -> list[str]:
    """Strong words about conditions and decisions (never about a person's worth)."""
    things = [_cap(form.format(thing=thing, thing_cap=_cap(thing), verb=verb, sharp=sharp, sharp_cap=_cap(sharp)))
              for form, (thing, verb), sharp in itertools.product(COMPLAINT_FORMS, THINGS, SHARP)
              if thing in PHYSICAL or sharp not in DIRTY]
    decisions = [form.format(decision=decision, sharp=sharp, sharp_cap=_cap(sharp), staff=staff,
                             staff_cap=_cap(_possessive(staff)))
                 for form, decision, sharp, staff in itertools.product(DECISION_FORMS, DECISIONS, SHARP, MIXED_STAFF)
                 if sharp not in DIRTY]
    return _draw(43, (things, 900), (decisions, 500), (dirty_places(), 300))


#: insults aimed at a person: a complaint that calls a person names is abuse, whatever else it says
PERSON_INSULTS = ["couldn't organise a piss up in a brewery", "is a complete waste of space",
                  "is about as much use as a chocolate teapot", "is as thick as two short planks",
                  "hasn't got two brain cells to rub together", "is a few sandwiches short of a picnic",
                  "is a jumped-up little Hitler", "is an absolute muppet", "is a total plonker", "is a gormless pillock",
                  "is a numpty who shouldn't be let near children", "is a spineless jobsworth", "is a slimy toad",
                  "is a poisonous old witch", "is a sad little power-tripping man",
                  "couldn't run a bath, never mind a school", "is all mouth and no trousers, a total fraud",
                  "is a knob", "is a useless tosser", "is a brain-dead halfwit", "has the brains of a goldfish",
                  "is a lazy good-for-nothing", "is two-faced scum", "is a nasty bully and a coward",
                  "is a pathetic excuse for a teacher", "is a disgusting excuse for a human being",
                  "is a disgrace to the profession and a liar", "is vile and everyone knows it",
                  "is pathetic, a sad little man", "is a joke of a headteacher", "is a clueless clown",
                  "is a waste of a salary", "is thick as mud", "is a miserable cow who hates kids",
                  "is a snivelling weasel", "is a creepy old perv", "is a fat lazy slob", "is an utter cretin",
                  "should crawl back under whatever rock she came from", "is a gutless wimp",
                  "is dumb as a box of rocks", "is a brainless bimbo", "is a fat ugly troll", "is a lying toad",
                  "needs a smack in the mouth", "is an embarrassment to the human race"]
SECOND_PERSON = ["You are a waste of space, {name}", "Shut up {name}, you clueless muppet",
                 "Get lost {name}, nobody wants you here, you pathetic loser", "{name}, you are a disgusting excuse for a teacher",
                 "Nobody likes you {name}, you miserable old witch", "{name} you absolute halfwit",
                 "Do the world a favour {name} and disappear, you parasite", "{name}, you thick useless plank",
                 "Go away {name}, you vile little weasel", "Crawl back into your hole, {name}"]
PERSON_NAMES = ["Mr Jones", "Mrs Ahmed", "Miss Taylor", "Mr Clarke", "Mrs Begum", "sir", "miss", "Mrs Murphy"]
COMPLAINT_THEN_INSULT = ["{thing_cap} {verb} {sharp} and {person} is {insult}",
                         "{thing_cap} {verb} {sharp}. Then again {person} is {insult}, so what do you expect?",
                         "Of course {thing} {verb} {sharp}, {person} is {insult}"]
INSULTED = ["the head", "Mr Hughes", "Mrs Nowak", "the deputy head", "the head of Year 7", "the business manager",
            "that receptionist", "the PE teacher"]
INSULT_NOUNS = ["a useless idiot", "a clueless muppet", "a lazy cow", "a lying toad", "a total waste of space",
                "a spineless coward", "a brainless clown", "a pathetic little man", "a vile woman", "a thick plank"]


def abuse_more() -> list[str]:
    """British insults, a person called names to their face, and complaints that call a person names."""
    one = [person for person in STAFF + PERSON if person not in ("the governors", "the teachers at that school", "the staff")]
    idioms = [f"{_cap(person)} {insult}" for person, insult in itertools.product(one, PERSON_INSULTS)]
    direct = [form.format(name=name) for form, name in itertools.product(SECOND_PERSON, PERSON_NAMES)]
    mixed = [form.format(thing=thing, thing_cap=_cap(thing), verb=verb, sharp=sharp, person=person, insult=insult)
             for form, (thing, verb), sharp, person, insult in
             itertools.product(COMPLAINT_THEN_INSULT, THINGS, SHARP, INSULTED, INSULT_NOUNS)
             if thing in PHYSICAL or sharp not in DIRTY]
    return _draw(47, (idioms, 700), (direct, 80), (mixed, 350))


COUNTER_FORMS_V4 = ['Someone wrote "{q}" about a dinner lady on here. Not acceptable, and reported.',
                    'We have removed comments calling staff "{q}". Disagree with us, by all means, but be civil.',
                    'My son came home upset because a boy said "{q}" to him. Please talk to your children.',
                    'Kids repeat what they hear: if you say "{q}" at home, they will say it in the playground.',
                    'The words "{q}" have no place on a school page.',
                    'Let\'s be clear: "{q}" is abuse, not an opinion.',
                    'A parent shouted "{q}" at a teacher in the car park. They are now banned from the site.',
                    'If you see "{q}" written about anyone here, please report it to the office.',
                    'Our anti-bullying ambassadors talked about why "{q}" is never banter.',
                    'Being called "{q}" online left her in tears. Words matter.',
                    'Whoever called the supply teacher "{q}" should be ashamed of themselves.',
                    'No child should hear an adult call them "{q}". We expect better of this community.',
                    'Screenshots of messages saying "{q}" to our staff have been passed to the police.',
                    'Please don\'t reply to the troll who wrote "{q}", just report the comment.',
                    'The girls in Year 8 showed me the group chat: "{q}" over and over. Heartbreaking.',
                    'I asked my son why he said "{q}" to a friend. He didn\'t know it was cruel. Now he does.']
QUOTED_V4 = ["stupid bitch", "ugly cow", "fat slag", "waste of space", "go back where you came from", "vermin",
             "animals", "scum", "thick", "useless idiot", "loser", "freak", "retard", "paki", "terrorist",
             "you're dead", "tranny", "gyppo", "monkey", "disgusting pervert", "stupid cow", "fat ugly cow",
             "lazy prick", "thick bitch", "useless twat", "silly old bag", "dumb slag"]


def counter_speech_more() -> list[str]:
    return [form.format(q=q) for form, q in itertools.product(COUNTER_FORMS_V4, QUOTED_V4)]


INNOCENT_V4 = ["{person_cap} ran the 10k for the library fund and smashed her personal best",
               "{person_cap} absolutely killed it in the staff panto", "{person_cap} is running the London marathon, "
               "she'll destroy it", "{person_cap} murdered the quiz round on 80s music, legend",
               "{person_cap} is dying to hear about your summer holidays", "{person_cap} will be shooting the "
               "leavers' video on Friday", "{person_cap} nailed the Macbeth death scene in the staff play",
               "{person_cap} is going to attack the sponsored swim with everything she's got",
               "{person_cap} crushed the dads' race, nobody else stood a chance",
               "{person_cap} blew us all away with that speech on prize night"]


def innocent_more() -> list[str]:
    people = INSULTED + ["Mrs Okafor", "our caretaker", "the head of PE", "Mr Patel"]
    return [form.format(person_cap=_cap(person)) for form, person in itertools.product(INNOCENT_V4, people)]


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z']+", text.lower()))


def _far_from_devsets(texts: list[str]) -> list[str]:
    """Drop any sentence that shares half its words or more with a dev-set sentence (either half)."""
    from classifiers import devsets

    held = [_words(line) for path in sorted(devsets.FOLDER.glob("*.txt"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = []
    for text in texts:
        words = _words(text)
        if all(len(words & other) < 0.5 * len(words | other) for other in held):
            kept.append(text)
    return kept


def examples(per_kind: int = 600, seed: int = 5) -> list[tuple[str, float, float]]:
    """(text, offensive, hate): up to ``per_kind`` sentences of each kind, sampled with ``seed``."""
    rng = random.Random(seed)

    def sample(texts: list[str]) -> list[str]:
        texts = _far_from_devsets(texts)
        return rng.sample(texts, min(per_kind, len(texts)))

    out = [(t, 0.0, 0.0) for kind in (innocent, identity, complaints, counter_speech) for t in sample(kind())]
    out += [(t, 1.0, 0.0) for t in sample(abuse())]
    out += [(t, 1.0, 0.0) for t in sample(dehumanising())]
    out += [(t, 0.0, 0.0) for t in sample(literal())]

    # the kinds added for version 4, each drawn evenly from its sentence shapes
    for kind, offensive in ((identity_more, 0.0), (complaints_more, 0.0), (counter_speech_more, 0.0),
                            (innocent_more, 0.0), (abuse_more, 1.0)):
        out += [(t, offensive, 0.0) for t in _far_from_devsets(kind())]
    return out
