"""A week of social media around a fictional UK secondary school, for ``monitor demo``.

Ravens Wood School, week beginning Monday 16 November 2026: Anti-Bullying Week, Year 11 mocks,
Year 9 parents' evening on Thursday, a non-uniform day for Children in Need on Friday. Parents,
pupils, neighbours and local news post praise, questions, complaints, abuse, one threat and one
phone number; the school answers some comments quickly, some late and some not at all, so the
week has deadlines met, breached and still open.

Every name, handle and number is invented (phone numbers are from Ofcom's drama range).
Each :class:`DemoPost` names its platform; a post whose platform has no local fake server is
placed on another (see ``monitor.demo.run``). ``tag`` says what the post is, for the summary and tests:

- ``praise``, ``question``, ``complaint``, ``neutral``: ordinary comments;
- ``abuse``: abusive or insulting; ``threat``: a threat of violence; ``personal``: personal data;
- ``news``: a local news story (a feed, not a comment); ``school``: the school's own reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

SCHOOL = "Ravens Wood School"
TIMEZONE = "Europe/London"
#: Monday of the demo week
WEEK_START = date(2026, 11, 16)
TAGS = ("praise", "question", "complaint", "neutral", "abuse", "threat", "personal", "news", "school")
#: tags a moderator should be alerted about
SERIOUS = ("abuse", "threat", "personal")


@dataclass(frozen=True, kw_only=True)
class DemoPost:
    at: datetime
    platform: str
    author: str
    text: str
    tag: str
    #: a label other posts can answer (``reply_to``)
    ref: str | None = None
    reply_to: str | None = None

    @property
    def by_school(self) -> bool:
        return self.tag == "school"


def week_start_utc(tz: str = TIMEZONE) -> datetime:
    return datetime.combine(WEEK_START, time(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


# (day 0 = Monday, "HH:MM" local, platform, author, text, tag, ref, reply_to)
_WEEK: list[tuple[int, str, str, str, str, str, str | None, str | None]] = [
    # ---- Monday: Anti-Bullying Week begins --------------------------------------------------
    (0, "07:05", "facebook", "Sarah Whitfield", "Is the Year 11 maths mock still on Wednesday? My son has two different dates in his planner.", "question", "fb-mock-date", None),
    (0, "07:40", "x", "@ravenswood_mum", "Odd socks day for Anti-Bullying Week and my two are fighting over the stripiest pair. Love that @RavensWoodSch do this every year", "praise", None, None),
    (0, "08:12", "instagram", "amelia.j.rw", "the anti bullying assembly this morning was actually really good ngl", "praise", None, None),
    (0, "08:30", "facebook", "Gary Holt", "Buses from Thornbury were 25 minutes late again. Third time this month. Who do we complain to?", "complaint", "fb-bus", None),
    (0, "09:02", "facebook", "Ravens Wood School", "Hello Sarah, yes: the Year 11 maths mock is on Wednesday 18th, period 1-2 in the sports hall. The planner date is a misprint, sorry!", "school", None, "fb-mock-date"),
    (0, "09:15", "rss", "Thornbury Gazette", "Ravens Wood pupils launch Anti-Bullying Week with odd socks and a kindness wall\nStudents at Ravens Wood School started the national week with a wall of kindness notes in the main corridor.", "news", None, None),
    (0, "10:20", "youtube", "Priya Raman", "Lovely video of the kindness wall, well done to the student council", "praise", None, None),
    (0, "11:47", "facebook", "Dawn Mercer", "Same on the 34 from Linden Park. They just drive past when it's full.", "complaint", None, "fb-bus"),
    (0, "12:30", "x", "@thornbury_dad", "@RavensWoodSch any news on when the new astro pitch opens? Was meant to be October", "question", "x-astro", None),
    (0, "13:05", "instagram", "jaydenn_07", "who chose the canteen music today lmao", "neutral", None, None),
    (0, "14:22", "facebook", "Ravens Wood School", "Gary, Dawn, thank you: we have passed this to the county transport team today and will post their reply here.", "school", None, "fb-bus"),
    (0, "15:40", "facebook", "Helen Okafor", "Could you share the link for booking parents' evening appointments? The email went to my old address.", "question", "fb-booking", None),
    (0, "16:10", "instagram", "rw_netball", "U14s through to the county semi final!! So proud of this team", "praise", None, None),
    (0, "17:55", "facebook", "Mark Dennison", "Absolute joke of a school. Teachers couldn't organise a piss up in a brewery.", "abuse", "fb-dennison", None),
    (0, "18:30", "reddit", "u/linden_local", "Anyone know if Ravens Wood is still doing the community carol concert this year? Used to be lovely.", "question", None, None),
    (0, "19:12", "bluesky", "kate-b.bsky.social", "Ravens Wood drama dept posting rehearsal photos for Matilda and honestly the set looks professional", "praise", None, None),
    (0, "20:41", "facebook", "Lisa Crane", "My daughter was told off for wearing trainers on odd socks day. Odd socks, not odd shoes, I get it, but a bit harsh?", "complaint", "fb-trainers", None),
    (0, "21:30", "x", "@ex_rw_2019", "Ravens Wood teachers are a bunch of useless clowns, always were", "abuse", None, None),
    # ---- Tuesday --------------------------------------------------------------------------
    (1, "06:50", "facebook", "Sarah Whitfield", "Thank you for the quick answer!", "praise", None, "fb-mock-date"),
    (1, "07:30", "instagram", "mrs.k.parent", "Is PE still outside today in this rain? Kit or no kit?", "question", "ig-pe", None),
    (1, "08:05", "facebook", "Tom Brierley", "Parking on Ashdown Road at drop-off is getting dangerous. Someone is going to get hurt. Please remind parents not to park on the zigzags.", "complaint", "fb-parking", None),
    (1, "08:40", "instagram", "Ravens Wood School", "PE is in the sports hall today, kit as normal please!", "school", None, "ig-pe"),
    (1, "09:30", "youtube", "Chris Lowe", "Is this the same head of music who was at St Anne's? Brilliant teacher", "praise", None, None),
    (1, "10:15", "x", "@RavensWoodWatch", "Ravens Wood kids trashed the bus shelter on Linden Road again. Nobody from the school cares", "complaint", "x-shelter", None),
    (1, "10:50", "facebook", "Helen Okafor", "Found it on the website, all booked. Thanks anyway.", "neutral", None, "fb-booking"),
    (1, "11:25", "mastodon", "@thornbury_history@mastodon.social", "Lovely old photo of Ravens Wood School in 1962 from the town archive #Thornbury", "neutral", None, None),
    (1, "12:05", "facebook", "Kerry Ashworth", "Could the school please look again at the price of the hot lunch? £2.85 for pasta is a lot for families with three children.", "complaint", "fb-lunch", None),
    (1, "12:40", "instagram", "lils.rw", "miss hargreaves ur the best teacher ever", "praise", None, None),
    (1, "13:30", "reddit", "u/thornbury_parent", "Ravens Wood vs Kingsmead for a quiet kid who loves art? Visiting both next month", "question", None, None),
    (1, "14:10", "facebook", "Ravens Wood School", "Hello Lisa, thank you for raising this. We have spoken to the staff involved: no pupil should have been told off on odd socks day. We are sorry.", "school", None, "fb-trainers"),
    (1, "15:25", "x", "@thornbury_fc", "Great to host @RavensWoodSch Year 8s for the coaching session today. Future stars!", "praise", None, None),
    (1, "16:45", "facebook", "Amanda Pryce", "Lost: navy Ravens Wood coat, age 13-14, name tape says Ellis P. If anyone picked it up at the bus stop on Ashdown Road please ring me on 07700 900461", "personal", None, None),
    (1, "17:30", "youtube", "GamerBoyRW", "this school is a prison lol", "neutral", None, None),
    (1, "18:20", "instagram", "tyler_rw_09", "ur all fat losers in 10B get a life", "abuse", None, None),
    (1, "19:40", "facebook", "Joanne Fitch", "Will there be a pre-order for the Matilda tickets? Last year they sold out in an hour.", "question", "fb-tickets", None),
    (1, "20:15", "bluesky", "thornburyteacher.bsky.social", "Huge respect to Ravens Wood for their anti-bullying peer mentors, came to share ideas with us today", "praise", None, None),
    (1, "21:05", "x", "@rw_year11", "who else is absolutely not ready for the maths mock tomorrow", "neutral", None, None),
    # ---- Wednesday: mocks -------------------------------------------------------------------
    (2, "06:35", "facebook", "Nadia Hussein", "My son has a migraine this morning and will miss the maths mock. Is there a catch-up session? The absence line is full.", "question", "fb-migraine", None),
    (2, "07:50", "instagram", "year11.rw", "good luck everyone in the mock today x", "praise", None, None),
    (2, "08:15", "facebook", "Ravens Wood School", "Hello Nadia, sorry to hear that. Yes, there is a catch-up on Monday period 5; we have let the maths team know. Get well soon to him.", "school", None, "fb-migraine"),
    (2, "09:00", "x", "@RavensWoodSch_parody", "Ravens Wood: where the wifi is weaker than the maths department", "neutral", None, None),
    (2, "09:45", "facebook", "Tom Brierley", "Another near miss on Ashdown Road this morning. A car reversed onto the pavement.", "complaint", None, "fb-parking"),
    (2, "10:30", "rss", "Thornbury Gazette", "Neighbours call for action on school run parking near Ravens Wood\nResidents of Ashdown Road say parents' parking at drop-off is putting children at risk.", "news", None, None),
    (2, "11:10", "instagram", "ellie.m.art", "my painting is in the corridor exhibition!! thank you mr obi", "praise", None, None),
    (2, "12:20", "facebook", "Derek Lyle", "Why are there no male teachers in the primary liaison team? Bit one-sided.", "question", "fb-liaison", None),
    (2, "13:00", "youtube", "Rosa Delgado", "Do you have a video of the Year 7 welcome evening? We could not come.", "question", "yt-welcome", None),
    (2, "13:45", "x", "@anon88221", "Watch your back Mr Fenwick. I know where you live and what car you drive.", "threat", None, None),
    (2, "14:30", "facebook", "Claire Benson", "Just wanted to say thank you to Mrs Adeyemi for the support she has given our daughter this term. It has made such a difference.", "praise", None, None),
    (2, "15:10", "reddit", "u/ashdownresident", "Ravens Wood parents parking on pavements every morning, anyone else had enough?", "complaint", None, None),
    (2, "16:00", "facebook", "Ravens Wood School", "Tom, thank you. We have asked our community police officer to attend at drop-off on Thursday and Friday and we will remind all families in Friday's newsletter.", "school", None, "fb-parking"),
    (2, "16:40", "instagram", "jaydenn_07", "mock was actually ok?? shocked", "neutral", None, None),
    (2, "17:35", "mastodon", "@linden_green@mastodon.social", "Ravens Wood eco club planting 200 trees on the school field this weekend, volunteers welcome #Thornbury", "praise", None, None),
    (2, "18:50", "facebook", "Barry Cole", "Typical Ravens Wood. Clueless head, lazy staff and feral kids. Shut it down.", "abuse", "fb-barry", None),
    (2, "20:05", "bluesky", "rw-alumni.bsky.social", "Anyone from Ravens Wood class of 2006 coming to the reunion at the Crown in December?", "neutral", None, None),
    (2, "21:20", "instagram", "Kayleigh Moss", "Can Year 10s still sign up for the ski trip? My son missed the letter", "question", "ig-ski", None),
    # ---- Thursday: Year 9 parents' evening --------------------------------------------------
    (3, "07:10", "facebook", "Michelle Grant", "Is parents' evening tonight in the main hall or the library? And is there parking on site?", "question", "fb-pe-where", None),
    (3, "07:55", "x", "@thornbury_dad", "Still no reply about the astro pitch @RavensWoodSch. Do you actually read these?", "complaint", None, "x-astro"),
    (3, "08:20", "facebook", "Ravens Wood School", "Hello Michelle, it is in the main hall from 4pm. The staff car park is open to parents from 3.45pm.", "school", None, "fb-pe-where"),
    (3, "09:05", "instagram", "rw_netball", "semi final saturday 10am at Kingsmead, come and support!", "neutral", None, None),
    (3, "09:40", "youtube", "Ravens Wood School", "Hello Rosa, the welcome evening slides and video are on the Year 7 page of our website.", "school", None, "yt-welcome"),
    (3, "10:25", "facebook", "Paul Kingsley", "Are you aware some Year 10s are filming other pupils in the toilets and posting it? My son is too scared to go.", "complaint", "fb-toilets", None),
    (3, "11:00", "x", "@RavensWoodSch_parody", "breaking: Ravens Wood canteen pasta declared a listed building", "neutral", None, None),
    (3, "11:45", "rss", "Thornbury Gazette", "Ravens Wood netball stars reach county semi-final\nThe under-14 netball team beat Hillcrest Academy 24-19 on Monday.", "news", None, None),
    (3, "12:30", "facebook", "Gemma Ashby", "Has anyone got a spare Year 9 maths textbook? We lost ours. Text me on 07700 900872, I can collect", "personal", None, None),
    (3, "13:15", "instagram", "sophie_rw", "Can you post the Matilda cast list please!!", "question", "ig-cast", None),
    (3, "14:00", "facebook", "Ravens Wood School", "Mr Kingsley, thank you for telling us. Our designated safeguarding lead will call you this afternoon. Please do not share any of the videos.", "school", None, "fb-toilets"),
    (3, "14:40", "reddit", "u/linden_local", "Ravens Wood staff were brilliant when my lad was struggling last year, for what it's worth", "praise", None, None),
    (3, "15:30", "bluesky", "thornburygazette.bsky.social", "Parents' evening at Ravens Wood tonight: residents asked to expect extra traffic on Ashdown Road", "news", None, None),
    (3, "16:15", "facebook", "Steven Rudd", "Waited 40 minutes past my appointment time tonight. Completely disorganised.", "complaint", "fb-wait", None),
    (3, "17:20", "x", "@rw_parent_pta", "Thank you to all the Year 9 tutors staying late tonight. Packed hall, lovely atmosphere.", "praise", None, None),
    (3, "18:05", "facebook", "Aisha Bello", "Mr Clarke was so positive about our son tonight. Thank you Ravens Wood.", "praise", None, None),
    (3, "19:10", "instagram", "bigmike_thornbury", "that english teacher with the beard is a creep and a useless fat idiot", "abuse", None, None),
    (3, "20:30", "facebook", "Joanne Fitch", "Still hoping for an answer about Matilda tickets please.", "question", None, "fb-tickets"),
    (3, "21:15", "mastodon", "@thornbury_history@mastodon.social", "Does anyone have photos of the old Ravens Wood swimming pool before it closed in 1998?", "question", None, None),
    # ---- Friday: Children in Need, non-uniform ----------------------------------------------
    (4, "06:45", "facebook", "Louise Parry", "Is it £1 for non-uniform today? And can they wear Pudsey ears?", "question", "fb-ciN", None),
    (4, "07:20", "facebook", "Ravens Wood School", "Morning Louise, £1 on ParentPay or in cash to tutors, and yes to ears!", "school", None, "fb-ciN"),
    (4, "07:45", "instagram", "Ravens Wood School", "Hi Kayleigh, yes: letters are in the Year 10 office until Wednesday.", "school", None, "ig-ski"),
    (4, "08:30", "x", "@thornbury_fc", "Bake sale at @RavensWoodSch raised £640 for Children in Need by break time!", "praise", None, None),
    (4, "09:15", "youtube", "Ben Thorne", "Please upload the full Year 8 choir song, the clip cuts off", "question", "yt-choir", None),
    (4, "10:00", "facebook", "Steven Rudd", "No reply to my complaint about parents' evening then.", "complaint", None, "fb-wait"),
    (4, "10:45", "instagram", "mrs.k.parent", "Pudsey cakes were amazing thank you year 7", "praise", None, None),
    (4, "11:30", "facebook", "Ravens Wood School", "Hello Joanne, Matilda tickets go on sale on ParentPay on Monday 30th November at 6pm, with a limit of four per family.", "school", None, "fb-tickets"),
    (4, "12:10", "bluesky", "kate-b.bsky.social", "The Ravens Wood kindness wall is now in the town library window, go and see it", "praise", None, None),
    (4, "12:55", "reddit", "u/thornbury_parent", "Update: visited Ravens Wood, art department is excellent. Leaning towards it.", "praise", None, None),
    (4, "13:40", "x", "@RavensWoodWatch", "Ravens Wood kids fighting outside the chippy again at lunch. Where are the staff?", "complaint", "x-chippy", None),
    (4, "14:20", "facebook", "Derek Lyle", "Still waiting for an answer about the liaison team.", "complaint", None, "fb-liaison"),
    (4, "15:05", "instagram", "ellie.m.art", "non uniform day pics!!", "neutral", None, None),
    (4, "15:50", "facebook", "Ravens Wood School", "Hello Steven, we are sorry about the wait last night. The head of Year 9 will phone you on Monday to talk it through.", "school", None, "fb-wait"),
    (4, "16:30", "rss", "Thornbury Gazette", "Police patrols at school drop-off after parking complaints\nOfficers will attend Ashdown Road on Thursday and Friday mornings, Ravens Wood School said.", "news", None, None),
    (4, "17:45", "facebook", "Ryan Marsh", "You lot are a disgrace. Your teachers are thick as mince and the head is a joke.", "abuse", None, None),
    (4, "19:00", "x", "@rw_year11", "mock results on monday?? i am not ready", "neutral", None, None),
    (4, "20:20", "instagram", "dani_rw_10", "can someone ask about the lost property, my blazer has been gone for a week", "question", "ig-blazer", None),
    (4, "21:40", "facebook", "Karen Doyle", "Why do the school gates close at 8.40 exactly? My daughter was locked out for 2 minutes and marked late.", "complaint", "fb-gates", None),
    # ---- Saturday ---------------------------------------------------------------------------
    (5, "08:30", "instagram", "rw_netball", "WE ARE IN THE FINAL", "praise", None, None),
    (5, "09:15", "facebook", "Pauline Ward", "Is the school field open for the tree planting today? What should volunteers bring?", "question", "fb-trees", None),
    (5, "10:40", "x", "@thornbury_dad", "Coached the Ravens Wood Year 8 team this morning. Credit to the kids, great attitude", "praise", None, None),
    (5, "11:25", "mastodon", "@linden_green@mastodon.social", "200 trees in the ground at Ravens Wood! Thank you to every volunteer #Thornbury", "praise", None, None),
    (5, "12:50", "facebook", "Nadia Hussein", "Thank you for sorting the catch-up so quickly this week.", "praise", None, None),
    (5, "14:10", "youtube", "Ravens Wood School", "Hi Ben, the full song is now uploaded as its own video. Thank you for watching!", "school", None, "yt-choir"),
    (5, "15:35", "facebook", "Alan Pryor", "Are the holiday dates for next year published? Trying to book flights.", "question", "fb-holidays", None),
    (5, "17:05", "bluesky", "rw-alumni.bsky.social", "Ravens Wood old girls netball team v current staff, Boxing Day, who is in?", "neutral", None, None),
    (5, "18:40", "instagram", "tyler_rw_09", "10B are all dumb as rocks lol", "abuse", None, None),
    (5, "20:00", "reddit", "u/ashdownresident", "Credit where due: the police were at Ravens Wood drop-off both mornings and it was much calmer.", "praise", None, None),
    (5, "21:30", "facebook", "Gemma Ashby", "Found a textbook, thanks everyone", "neutral", None, None),
    # ---- Sunday -----------------------------------------------------------------------------
    (6, "09:05", "facebook", "Helen Okafor", "Do the Year 9 options booklets come out before Christmas?", "question", "fb-options", None),
    (6, "10:20", "x", "@ex_rw_2019", "still think Ravens Wood staff are pathetic morons", "abuse", None, None),
    (6, "11:45", "instagram", "amelia.j.rw", "is school open tomorrow if it snows??", "question", "ig-snow", None),
    (6, "13:00", "youtube", "Priya Raman", "Will the Matilda performance be streamed for grandparents abroad?", "question", "yt-stream", None),
    (6, "14:30", "facebook", "Pauline Ward", "Lovely morning planting trees, thank you to the eco club", "praise", None, None),
    (6, "16:15", "rss", "Thornbury Gazette", "Eco club and volunteers plant 200 trees at Ravens Wood\nThe trees form a new hedge along the school's northern boundary.", "news", None, None),
    (6, "18:00", "facebook", "Craig Foley", "Your PE department is a joke and so is the head. Pathetic idiots the lot of you.", "abuse", None, None),
    (6, "19:30", "x", "@thornbury_dad", "Looking forward to the astro pitch opening... whenever that is @RavensWoodSch", "complaint", None, "x-astro"),
    (6, "20:45", "instagram", "Ravens Wood School", "Hi Amelia, if the school has to close we will post here and text parents by 7am.", "school", None, "ig-snow"),
    (6, "21:50", "facebook", "Mandy Cole", "The Year 9 options evening clashes with the Kingsmead open evening, any chance it could move?", "question", "fb-options-clash", None),
]


#: (day, "HH:MM" local, platform, what, post): the moderator deletes an abusive comment on Facebook
#: on Wednesday evening (its case must close as removed, with no reminder or breach); the Instagram
#: token expires on Thursday morning and the school's IT technician renews it on Friday (the comments
#: posted meanwhile must not be lost)
INCIDENTS: list[tuple[int, str, str, str, str | None]] = [
    (2, "19:30", "facebook", "remove", "fb-barry"),
    (3, "11:20", "instagram", "expire_credentials", None),
    (4, "09:40", "instagram", "renew_credentials", None),
]


#: (day, "HH:MM" local, button, post, text): what the moderator does on Facebook from Slack, in her
#: round (see ``monitor.demo.run.MODERATOR_ROUNDS``): on Tuesday morning she hides Monday evening's
#: insult, and in the afternoon she answers the question about lunch prices with the Reply dialog
SLACK_WRITES: list[tuple[int, str, str, str, str | None]] = [
    (1, "09:00", "hide", "fb-dennison", None),
    (1, "15:30", "reply", "fb-lunch",
     "Hello Kerry, thank you for raising this. Our catering manager is reviewing lunch prices this term and we "
     "will post the outcome here. Families who are finding it hard can ask the office about free school meals."),
]


@dataclass(frozen=True, kw_only=True)
class Incident:
    at: datetime
    platform: str
    action: str  # a FakePlatform lever: expire_credentials, renew_credentials or remove (a post)
    post: str | None = None  # the ``ref`` of the post that ``remove`` deletes


def _local(day: int, clock: str, zone: ZoneInfo) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    local = datetime.combine(WEEK_START + timedelta(days=day), time(hours, minutes), tzinfo=zone)
    return local.astimezone(timezone.utc)


def demo_incidents(tz: str = TIMEZONE) -> list[Incident]:
    zone = ZoneInfo(tz)
    return [Incident(at=_local(day, clock, zone), platform=platform, action=action, post=post)
            for day, clock, platform, action, post in INCIDENTS]


def demo_posts(tz: str = TIMEZONE) -> list[DemoPost]:
    """The week's posts in time order (aware UTC times)."""
    zone = ZoneInfo(tz)
    posts = []
    for day, clock, platform, author, text, tag, ref, reply_to in _WEEK:
        posts.append(
            DemoPost(
                at=_local(day, clock, zone), platform=platform, author=author, text=text, tag=tag,
                ref=ref, reply_to=reply_to,
            )
        )
    posts.sort(key=lambda post: post.at)
    return posts
