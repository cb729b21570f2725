"""A realistic company directory, generated the same way every time from a seed: people with
plausible names, departments as groups with nested teams, a couple of leavers, one disabled account."""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

from sandbox.idps.directory import Directory, Person, Team

_GIVEN = ("Aisha Alice Amir Ana Ben Bianca Carlos Chen Chloe Daniel Dara Elena Emeka Emma Farah "
         "Felix Grace Hana Hugo Ines Isaac Jade Jonas Kai Karin Leila Liam Lucia Maya Mateo "
         "Mei Nadia Nikhil Noah Olga Omar Priya Rafael Rosa Sam Sara Sofia Tariq Tom Uma Victor "
         "Wen Yara Yusuf Zoe")
_FAMILY = ("Adams Ahmed Alvarez Baker Becker Brown Castro Chen Cohen Costa Diaz Dubois Evans "
          "Fischer Garcia Gupta Hansen Hill Ito Jensen Khan Kim Kowalski Larsen Lopez Martin "
          "Meyer Moreau Nakamura Nguyen Novak Okafor Olsen Patel Perez Popov Rossi Santos Schmidt "
          "Silva Singh Smith Tanaka Torres Wagner Walker Wang Weber Wilson Yilmaz")
GIVEN, FAMILY = _GIVEN.split(), _FAMILY.split()
# department → its teams (nested groups); the weights say how many people each department has
DEPARTMENTS: dict[str, tuple[int, tuple[str, ...]]] = {
    "engineering": (40, ("platform", "mobile", "web", "data", "security")),
    "product": (8, ("design", "research")),
    "sales": (18, ("sales-emea", "sales-americas", "sales-apac")),
    "marketing": (8, ("content", "events")),
    "support": (12, ("support-tier1", "support-tier2")),
    "finance": (5, ()),
    "people": (4, ()),
    "legal": (3, ()),
}
DOMAIN = "example.com"
LEAVERS = 2
DISABLED = 1


def generate(people: int = 300, *, seed: int = 16, domain: str = DOMAIN) -> Directory:
    """`people` people spread over departments and their teams; the same seed, the same company."""
    rng = random.Random(seed)
    d = Directory()
    clock = time.time()

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    departments: dict[str, Team] = {}
    teams: dict[str, list[Team]] = {}
    for name, (_weight, team_names) in DEPARTMENTS.items():
        dept = Team(id=new_id(), name=name, updated=clock)
        d.teams[dept.id] = dept
        departments[name] = dept
        teams[name] = []
        for team_name in team_names:
            team = Team(id=new_id(), name=team_name, parent_id=dept.id, updated=clock)
            d.teams[team.id] = team
            teams[name].append(team)
    everyone = Team(id=new_id(), name="all-staff", updated=clock)
    d.teams[everyone.id] = everyone
    names, weights = list(DEPARTMENTS), [w for w, _ in DEPARTMENTS.values()]
    taken: set[str] = set()
    for _ in range(people):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        username = _unique(f"{given}.{family}".lower(), taken)
        person = Person(id=new_id(), username=username, email=f"{username}@{domain}",
                        given_name=given, family_name=family, updated=clock)
        d.people[person.id] = person
        everyone.member_ids.append(person.id)
        dept = rng.choices(names, weights)[0]
        # most people sit in one of the department's teams; the rest in the department itself
        home = rng.choice(teams[dept]) if teams[dept] and rng.random() < 0.8 else departments[dept]
        home.member_ids.append(person.id)
    ids = list(d.people)
    # leavers: deactivated in the IdP, still in their groups, as an HR system leaves them
    for pid in ids[-(LEAVERS + DISABLED):]:
        d.people[pid].active = False
    return d


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    taken.add(name)
    return name


def save(d: Directory, path: Path) -> None:
    """Write the directory as JSON (the sandbox IdP's state across restarts)."""
    data = {"people": [vars(p) for p in d.person_list()],
            "teams": [vars(t) for t in d.team_list()]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


def load(path: Path) -> Directory:
    """Read a directory written by `save`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    d = Directory()
    for p in data["people"]:
        d.people[p["id"]] = Person(**p)
    for t in data["teams"]:
        d.teams[t["id"]] = Team(**t)
    return d
