"""A seeded, inspectable directory of people and groups that every sandbox IdP serves."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field


@dataclass
class Person:
    id: str
    username: str
    email: str
    given_name: str
    family_name: str
    active: bool = True
    updated: float = 0.0

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass
class Team:
    id: str
    name: str
    parent_id: str | None = None
    member_ids: list[str] = field(default_factory=list)
    updated: float = 0.0


@dataclass
class Directory:
    """People, teams (groups), direct memberships and one level of nesting; mutable by tests."""

    people: dict[str, Person] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)

    def person_list(self) -> list[Person]:
        return list(self.people.values())

    def team_list(self) -> list[Team]:
        return list(self.teams.values())

    def children(self, team_id: str) -> list[Team]:
        return [t for t in self.teams.values() if t.parent_id == team_id]

    def member_counts(self) -> dict[str, int]:
        """Each team's direct members as an IdP lists them: its people and its child teams."""
        kids: dict[str, int] = {}
        for team in self.teams.values():
            if team.parent_id:
                kids[team.parent_id] = kids.get(team.parent_id, 0) + 1
        return {team.id: sum(1 for i in team.member_ids if i in self.people) + kids.get(team.id, 0)
                for team in self.teams.values()}

    def add_person(self, username: str, given: str = "Test", family: str = "User",
                   domain: str = "example.com", active: bool = True) -> Person:
        p = Person(id=str(uuid.uuid4()), username=username, email=f"{username}@{domain}",
                   given_name=given, family_name=family, active=active)
        self.people[p.id] = p
        return p

    def add_team(self, name: str, parent_id: str | None = None) -> Team:
        t = Team(id=str(uuid.uuid4()), name=name, parent_id=parent_id)
        self.teams[t.id] = t
        return t

    @classmethod
    def generate(cls, users: int, groups: int, memberships: int, *, seed: int = 1,
                 nested_fraction: float = 0.1, domain: str = "example.com") -> Directory:
        """N users, G groups, about M direct memberships; a fraction of groups nested one level."""
        rng = random.Random(seed)
        d = cls()
        for i in range(users):
            pid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            d.people[pid] = Person(id=pid, username=f"user{i:06d}", email=f"user{i:06d}@{domain}",
                                   given_name="User", family_name=f"{i:06d}")
        person_ids = list(d.people)
        for j in range(groups):
            tid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            d.teams[tid] = Team(id=tid, name=f"team-{j:05d}")
        team_ids = list(d.teams)
        for tid in team_ids[1:]:
            if rng.random() < nested_fraction:
                d.teams[tid].parent_id = rng.choice(team_ids[: team_ids.index(tid)])
        if users and groups:
            per_group = max(memberships // groups, 0)
            for tid in team_ids:
                k = min(per_group, users)
                d.teams[tid].member_ids = rng.sample(person_ids, k)
        return d
