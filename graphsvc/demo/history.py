"""The demo catalog's git history: eleven dated commits, March to November 2026, that end at the catalog.

`build_demo_repository(path)` writes a git repository whose last commit is exactly the shipped demo catalog
(`graphsvc/demo/catalog/`), and whose earlier commits tell how it got there, so that `catalog serve --demo`
has a past to travel in:

| date (UTC)        | author           | what changed                                                              |
|-------------------|------------------|---------------------------------------------------------------------------|
| 2026-03-02 09:15  | Tom Fletcher     | the whole catalog imported                                                |
| 2026-04-13 14:02  | Priya Raman      | component:checkout-service moves from payments-core to checkout-team      |
| 2026-05-11 10:41  | Ethan Brooks     | checkout-service starts to depend on component:fraud-scoring-service      |
| 2026-06-22 08:30  | Sofia Lindqvist  | group:loyalty-team moves from payments to customer-experience             |
| 2026-07-06 16:05  | Liam O'Connor    | component:legacy-pnr-sync removed (decommissioned)                        |
| 2026-07-27 11:20  | Hana Sato        | component:legacy-pnr-sync restored (the travel desk still needs it)       |
| 2026-08-17 15:48  | Julia Nowak      | systems/loyalty.yaml broken (a mis-indented annotation)                   |
| 2026-08-18 09:03  | Mohammed Farouk  | systems/loyalty.yaml fixed: loyalty-service gets its PagerDuty service    |
| 2026-09-14 13:37  | Marta Sousa      | platform/edge.yaml moved to systems/edge.yaml (same entities)             |
| 2026-10-19 10:12  | Zainab Ali       | checkout-service no longer depends on fraud-scoring-service               |
| 2026-11-16 17:25  | Sarah Goldberg   | component:legacy-booking-monolith deprecated                              |

The story is data (`DEMO_STORY`): each commit lists its changes to the files. The first commit's tree is
the shipped catalog with every later change undone, so the last commit always equals the shipped catalog,
whatever `generate.py` writes; a change that no longer fits the catalog fails loudly (`DemoStoryError`).

Git runs without any user or system configuration, with fixed names, emails and dates in UTC, so the same
catalog gives the same commit SHAs on every machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from graphsvc.demo import DEMO_CATALOG_DIR

FINGERPRINT_FILE = "catalog-demo-fingerprint"
"""Kept in the repository's `.git` directory: what the repository was built from, so it is built only once."""

_DOCUMENT_SEPARATOR = re.compile(r"(?m)^---\n")
_AUTHOR = re.compile(r"^(?P<name>[^<>]+?) <(?P<email>[^<>]+)>$")


class DemoStoryError(RuntimeError):
    """The story no longer fits the demo catalog (a change names text or an entity that is not there)."""


class DemoRepositoryError(RuntimeError):
    """The demo repository cannot be written where it was asked to be."""


# --- the story as data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace `old` by `new` (each exactly once) in the document of one entity."""

    path: str
    kind: str
    name: str
    old: str
    new: str

    def apply(self, tree: dict[str, str], stash: dict[tuple[str, str, str], tuple[int, str]]) -> None:
        documents, index = _find(tree, self.path, self.kind, self.name)
        if documents[index].count(self.old) != 1:
            raise DemoStoryError(f"{self.path}: {self.kind} {self.name} does not contain {self.old!r} exactly once")
        documents[index] = documents[index].replace(self.old, self.new)
        tree[self.path] = "---\n".join(documents)

    def inverse(self) -> Edit:
        return Edit(self.path, self.kind, self.name, self.new, self.old)


@dataclass(frozen=True)
class Remove:
    """Delete one entity's document from its file (kept aside, for a later `Restore`)."""

    path: str
    kind: str
    name: str

    def apply(self, tree: dict[str, str], stash: dict[tuple[str, str, str], tuple[int, str]]) -> None:
        documents, index = _find(tree, self.path, self.kind, self.name)
        stash[(self.path, self.kind, self.name)] = (index, documents.pop(index))
        tree[self.path] = "---\n".join(documents)

    def inverse(self) -> Restore:
        return Restore(self.path, self.kind, self.name)


@dataclass(frozen=True)
class Restore:
    """Put back, at the same place, a document a `Remove` took out."""

    path: str
    kind: str
    name: str

    def apply(self, tree: dict[str, str], stash: dict[tuple[str, str, str], tuple[int, str]]) -> None:
        if (self.path, self.kind, self.name) not in stash:
            raise DemoStoryError(f"{self.path}: {self.kind} {self.name} is restored but was never removed")
        index, document = stash.pop((self.path, self.kind, self.name))
        documents = _DOCUMENT_SEPARATOR.split(tree[self.path])
        documents.insert(index, document)
        tree[self.path] = "---\n".join(documents)

    def inverse(self) -> Remove:
        return Remove(self.path, self.kind, self.name)


@dataclass(frozen=True)
class Move:
    """Rename a file (git records it as a rename: same content, new path)."""

    old: str
    new: str

    def apply(self, tree: dict[str, str], stash: dict[tuple[str, str, str], tuple[int, str]]) -> None:
        if self.old not in tree or self.new in tree:
            raise DemoStoryError(f"cannot move {self.old} to {self.new}")
        tree[self.new] = tree.pop(self.old)

    def inverse(self) -> Move:
        return Move(self.new, self.old)


Change = Edit | Remove | Restore | Move


@dataclass(frozen=True)
class StoryCommit:
    when: str
    """ISO 8601 instant in UTC (`2026-04-13T14:02:00`): both the author and the committer date."""
    author: str
    """`Name <email>`."""
    message: str
    changes: tuple[Change, ...] = ()

    @property
    def timestamp(self) -> int:
        """Seconds since the epoch."""
        return int(datetime.fromisoformat(self.when).replace(tzinfo=UTC).timestamp())


def _person(name: str) -> str:
    email = name.lower().replace("'", "").replace(" ", ".")
    return f"{name} <{email}@skylark-travel.example>"


_CHECKOUT = ("systems/payments.yaml", "Component", "checkout-service")
_FRAUD_DEPENDENCY = (
    "  - component:kotlin-service-chassis\n",
    "  - component:kotlin-service-chassis\n  - component:fraud-scoring-service\n",
)
_GROUPS = "org/groups.yaml"
_LOYALTY = ("systems/loyalty.yaml", "Component", "loyalty-service")
_PAGERDUTY_ABOVE = "    backstage.io/kubernetes-id: loyalty-service\n"
_MONOLITH = ("systems/booking.yaml", "Component", "legacy-booking-monolith")
_PNR_SYNC = ("systems/flights.yaml", "Component", "legacy-pnr-sync")
_ROOT = ("catalog-info.yaml", "Location", "skylark-demo-catalog")

DEMO_STORY: tuple[StoryCommit, ...] = (
    StoryCommit("2026-03-02T09:15:00", _person("Tom Fletcher"), "Import the Skylark Travel catalog"),
    StoryCommit(
        "2026-04-13T14:02:00",
        _person("Priya Raman"),
        "Hand checkout-service over to the Checkout team",
        (Edit(*_CHECKOUT, "  owner: payments-core\n", "  owner: checkout-team\n"),),
    ),
    StoryCommit(
        "2026-05-11T10:41:00",
        _person("Ethan Brooks"),
        "checkout-service: score every checkout with fraud-scoring-service",
        (Edit(*_CHECKOUT, *_FRAUD_DEPENDENCY),),
    ),
    StoryCommit(
        "2026-06-22T08:30:00",
        _person("Sofia Lindqvist"),
        "Move the Loyalty team to Customer Experience",
        (
            Edit(_GROUPS, "Group", "loyalty-team", "  parent: payments\n", "  parent: customer-experience\n"),
            Edit(
                _GROUPS, "Group", "payments", "  - finance-engineering\n  - loyalty-team\n", "  - finance-engineering\n"
            ),
            Edit(
                _GROUPS,
                "Group",
                "customer-experience",
                "  - mobile-team\n  - support-tools-team\n",
                "  - mobile-team\n  - loyalty-team\n  - support-tools-team\n",
            ),
        ),
    ),
    StoryCommit(
        "2026-07-06T16:05:00",
        _person("Liam O'Connor"),
        "Decommission legacy-pnr-sync",
        (Remove(*_PNR_SYNC),),
    ),
    StoryCommit(
        "2026-07-27T11:20:00",
        _person("Hana Sato"),
        "Restore legacy-pnr-sync: the corporate travel desk still uses it",
        (Restore(*_PNR_SYNC),),
    ),
    StoryCommit(
        "2026-08-17T15:48:00",
        _person("Julia Nowak"),
        "loyalty-service: page the on-call through PagerDuty",
        (Edit(*_LOYALTY, _PAGERDUTY_ABOVE, _PAGERDUTY_ABOVE + "   pagerduty.com/service-id: P5CDTHS\n"),),
    ),
    StoryCommit(
        "2026-08-18T09:03:00",
        _person("Mohammed Farouk"),
        "Fix the indentation of loyalty-service's PagerDuty annotation",
        (Edit(*_LOYALTY, "\n   pagerduty.com/service-id: P5CDTHS\n", "\n    pagerduty.com/service-id: P5CDTHS\n"),),
    ),
    StoryCommit(
        "2026-09-14T13:37:00",
        _person("Marta Sousa"),
        "Keep the edge system's catalog file with the other systems",
        (
            Move("platform/edge.yaml", "systems/edge.yaml"),
            Edit(*_ROOT, "  - ./platform/edge.yaml\n", "  - ./systems/edge.yaml\n"),
        ),
    ),
    StoryCommit(
        "2026-10-19T10:12:00",
        _person("Zainab Ali"),
        "checkout-service: fraud scores now arrive asynchronously through payment-events",
        (Edit(*_CHECKOUT, *reversed(_FRAUD_DEPENDENCY)),),
    ),
    StoryCommit(
        "2026-11-16T17:25:00",
        _person("Sarah Goldberg"),
        "Deprecate legacy-booking-monolith",
        (
            Edit(*_MONOLITH, "  lifecycle: production\n", "  lifecycle: deprecated\n"),
            Edit(*_MONOLITH, "  - monolith\n", "  - monolith\n  - deprecated\n"),
        ),
    ),
)


# --- building the repository -------------------------------------------------------------------------------


def build_demo_repository(path: Path) -> Path:
    """Write the demo repository at `path` (or keep the one there, if it was built from the same catalog
    and story) and return `path`. Takes well under a second; the same inputs give the same commit SHAs.

    It is built next to `path` and renamed into place, so an interrupted build leaves nothing half-written.
    """
    path = Path(path)
    fingerprint = _fingerprint()
    marker = path / ".git" / FINGERPRINT_FILE
    if marker.is_file() and marker.read_text() == fingerprint:
        return path
    if path.exists() and any(path.iterdir()) and not marker.is_file():
        raise DemoRepositoryError(
            f"{path} exists and is not a demo repository built by catalog-graph; remove it or choose another path"
        )
    building = path.with_name(path.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    repository = ScriptedRepository(building)
    for commit, tree in zip(DEMO_STORY, story_trees(), strict=True):
        repository.commit_tree(tree, when=commit.timestamp, author=commit.author, message=commit.message)
    (building / ".git" / FINGERPRINT_FILE).write_text(fingerprint)
    shutil.rmtree(path, ignore_errors=True)  # empty, or built by us from an older catalog or story
    building.rename(path)
    return path


def story_trees(catalog_dir: Path = DEMO_CATALOG_DIR) -> list[dict[str, str]]:
    """The files (path -> text) of each commit of `DEMO_STORY`; the last one is the catalog in `catalog_dir`."""
    shipped = _read_tree(catalog_dir)
    tree, stash = dict(shipped), {}
    for commit in reversed(DEMO_STORY):
        for change in reversed(commit.changes):
            change.inverse().apply(tree, stash)
    trees = [dict(tree)]
    for commit in DEMO_STORY[1:]:
        for change in commit.changes:
            change.apply(tree, stash)
        trees.append(dict(tree))
    if trees[-1] != shipped:
        raise DemoStoryError("replaying DEMO_STORY does not end at the shipped demo catalog")
    return trees


class ScriptedRepository:
    """A git repository whose commits carry exactly the dates, authors and messages they are given.

    Git runs with no user or system configuration and a minimal environment, so nothing of the machine it
    runs on (a signing key, a default branch name, a hook, a time zone) reaches the commits.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self._tree: dict[str, str] = {}

    def git(self, *args: str, when: int | None = None, author: str | None = None) -> str:
        name, email = _split_author(author or "Catalog Demo <demo@skylark-travel.example>")
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.devnull,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "TZ": "UTC",
            "LC_ALL": "C",
        }
        if when is not None:
            date = f"{when} +0000"
            environment |= {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        identity = [f"user.name={name}", f"user.email={email}", "commit.gpgsign=false", "core.autocrlf=false"]
        options = [option for setting in identity for option in ("-c", setting)]
        try:
            completed = subprocess.run(
                ["git", *options, "-C", str(self.path), *args],
                capture_output=True,
                env=environment,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise DemoRepositoryError(
                "the git command is not installed; the demo history is a git repository"
            ) from None
        if completed.returncode != 0:
            said = completed.stderr.decode("utf-8", "replace").strip()
            raise DemoRepositoryError(f"git {args[0]} failed in {self.path}: {said}")
        return completed.stdout.decode("utf-8", "replace").strip()

    def commit(self, files: Mapping[str, str | None], *, when: int | datetime, author: str, message: str) -> str:
        """Write (or, for None, delete) `files`, commit everything, and return the new commit's SHA.
        `when` is seconds since the epoch or an aware datetime; `author` is `Name <email>`."""
        for relative, text in files.items():
            target = self.path / relative
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        seconds = int(when.timestamp()) if isinstance(when, datetime) else when
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "--message", message, when=seconds, author=author)
        return self.git("rev-parse", "HEAD")

    def commit_tree(self, tree: Mapping[str, str], *, when: int, author: str, message: str) -> str:
        """Commit so that the repository holds exactly `tree` (path -> text)."""
        changed: dict[str, str | None] = {path: text for path, text in tree.items() if self._tree.get(path) != text}
        changed |= {path: None for path in self._tree if path not in tree}
        sha = self.commit(changed, when=when, author=author, message=message)
        self._tree = dict(tree)
        return sha


def _find(tree: dict[str, str], path: str, kind: str, name: str) -> tuple[list[str], int]:
    """The documents of `path` and the index of the one that defines `kind` `name`."""
    if path not in tree:
        raise DemoStoryError(f"the demo catalog has no file {path}")
    documents = _DOCUMENT_SEPARATOR.split(tree[path])
    kind_line = re.compile(rf"(?m)^kind: {re.escape(kind)}$")
    name_line = re.compile(rf"(?m)^  name: {re.escape(name)}$")
    for index, document in enumerate(documents):
        if kind_line.search(document) and name_line.search(document):
            return documents, index
    raise DemoStoryError(f"{path} defines no {kind} {name}")


def _read_tree(directory: Path) -> dict[str, str]:
    return {
        file.relative_to(directory).as_posix(): file.read_text(encoding="utf-8")
        for file in sorted(directory.rglob("*.yaml"))
    }


def _split_author(author: str) -> tuple[str, str]:
    match = _AUTHOR.match(author)
    if match is None:
        raise DemoStoryError(f"an author is written 'Name <email>', not {author!r}")
    return match["name"], match["email"]


def _fingerprint() -> str:
    """What the repository is built from: the catalog files and this module (the story and how it is told)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path, text in _read_tree(DEMO_CATALOG_DIR).items():
        digest.update(f"\0{path}\0{text}".encode())
    return digest.hexdigest()
