"""Two versions of one synthetic catalog, and swapping a catalog directory between them.

Version A is `bench/generate_catalog.py`'s catalog. Version B is A changed the ways a real catalog changes
between two syncs:

- a fraction of the entities rewritten in place (`mutate`: new descriptions, some new owners);
- some entities removed from their files, some new components added (each depending on a *pivot*
  component and on a resource no source defines, so the sync creates dangling targets);
- the pivot's owner changed, so its relation rows change in both directions (its `ownedBy` row, and the
  `dependencyOf` rows of the added components): a reader that mixes two states shows it there;
- one component made invalid (`spec.type: 42`): B's sync records a validation error and keeps that
  entity's A version.

Both versions have the same files (only their contents differ), so `install` can move a directory from one
to the other file by file, each file replaced atomically (`os.replace`).
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench.generate_catalog import (
    ROOT_FILE,
    dump_documents,
    generate,
    load_documents,
    location_targets,
    mutate,
)

MUTATED_SHARE = 0.2
"""Large enough that B's sync is a good part of an ingest's wall time, so that random kills land in it."""
REMOVED_SHARE = 0.015
ADDED_SHARE = 0.015
ADDED_PREFIX = "torture-added"
GHOST_PREFIX = "torture-ghost"


@dataclass(frozen=True)
class Probes:
    """Refs whose answers differ between A and B in known ways, plus a few that do not."""

    pivot: str
    """A component whose owner changes and which the added components depend on."""
    old_owner: str
    new_owner: str
    removed: list[str]
    added: list[str]
    invalid: str
    """Invalid in B: B's sync keeps its A version and records an error."""
    mutated: list[str]
    unchanged: list[str]

    @property
    def refs(self) -> list[str]:
        """Every probed ref, each once, in a fixed order."""
        refs = [self.pivot, self.old_owner, self.new_owner, self.invalid]
        refs += self.removed[:3] + self.added[:3] + self.mutated[:4] + self.unchanged[:2]
        return list(dict.fromkeys(refs))


@dataclass(frozen=True)
class CatalogVersions:
    a: Path
    b: Path
    entities: int
    seed: int
    probes: Probes
    counts: dict[str, int] = field(default_factory=dict)
    """What B changes: mutated, removed, added, invalid."""


def ref_of(doc: dict) -> str:
    return f"{doc['kind'].lower()}:default/{doc['metadata']['name']}"


def build_versions(out: Path, entities: int, seed: int) -> CatalogVersions:
    """Write version A under `out/a` and version B under `out/b` (deterministic for `entities` and `seed`)."""
    a, b = out / "a", out / "b"
    generate(entities, a, seed=seed)
    shutil.copytree(a, b)
    mutate(b, MUTATED_SHARE, seed + 1)
    files = location_targets(b)
    contents = [load_documents(path) for path in files]
    before = {ref_of(d): d for docs in load_all(a) for d in docs}
    rng = random.Random(seed + 2)

    components = [(f, i) for f, docs in enumerate(contents) for i, d in enumerate(docs) if d["kind"] == "Component"]
    depended = {dep for docs in contents for d in docs if d["kind"] == "Component" for dep in d["spec"]["dependsOn"]}
    pivot_slot = next((f, i) for f, i in components if f"component:{contents[f][i]['metadata']['name']}" in depended)
    pivot = contents[pivot_slot[0]][pivot_slot[1]]
    teams = sorted({d["metadata"]["name"] for docs in contents for d in docs if d["kind"] == "Group"} - {"acme"})
    teams = [t for t in teams if t.startswith("team-")]
    old_owner = before[ref_of(pivot)]["spec"]["owner"]
    new_owner = rng.choice([t for t in teams if t not in (old_owner, pivot["spec"]["owner"])])
    pivot["spec"]["owner"] = new_owner
    pivot["metadata"]["description"] = f"Pivot of the torture suite (seed {seed}), now owned by {new_owner}."

    removable = [
        (f, i)
        for f, docs in enumerate(contents)
        for i, d in enumerate(docs)
        if d["kind"] in ("Component", "API", "Resource", "User") and (f, i) != pivot_slot
    ]
    removed_slots = set(rng.sample(removable, max(3, round(REMOVED_SHARE * entities))))
    removed = sorted(ref_of(contents[f][i]) for f, i in removed_slots)

    keep = [(f, i) for f, i in components if (f, i) != pivot_slot and (f, i) not in removed_slots]
    invalid_slot = rng.choice(keep)
    invalid = contents[invalid_slot[0]][invalid_slot[1]]
    invalid["spec"]["type"] = 42

    systems = [d["metadata"]["name"] for docs in contents for d in docs if d["kind"] == "System"]
    added_docs = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": f"{ADDED_PREFIX}-{n}", "description": f"Added by version B (seed {seed})."},
            "spec": {
                "type": "service",
                "lifecycle": "experimental",
                "owner": new_owner,
                "system": rng.choice(systems),
                "dependsOn": [f"component:{pivot['metadata']['name']}", f"resource:{GHOST_PREFIX}-{n}"],
            },
        }
        for n in range(max(3, round(ADDED_SHARE * entities)))
    ]
    contents = [[d for i, d in enumerate(docs) if (f, i) not in removed_slots] for f, docs in enumerate(contents)]
    contents[pivot_slot[0]].extend(added_docs)  # the pivot's file: one file holds the whole pivot story
    for path, docs in zip(files, contents, strict=True):
        path.write_text(dump_documents(docs), encoding="utf-8")

    after = {ref_of(d): d for docs in contents for d in docs}
    changed = sorted(r for r in before.keys() & after.keys() if before[r] != after[r])
    mutated = [r for r in changed if r not in (ref_of(pivot), ref_of(invalid))]
    untouched = sorted(r for r in before.keys() & after.keys() if before[r] == after[r] and r.startswith("component:"))
    probes = Probes(
        pivot=ref_of(pivot),
        old_owner=f"group:default/{old_owner}",
        new_owner=f"group:default/{new_owner}",
        removed=removed,
        added=[ref_of(d) for d in added_docs],
        invalid=ref_of(invalid),
        mutated=rng.sample(mutated, min(8, len(mutated))),
        unchanged=rng.sample(untouched, min(4, len(untouched))),
    )
    counts = {"mutated": len(mutated), "removed": len(removed), "added": len(added_docs), "invalid": 1}
    return CatalogVersions(a, b, entities, seed, probes, counts)


def load_all(root: Path) -> list[list[dict]]:
    return [load_documents(path) for path in location_targets(root)]


def catalog_files(root: Path) -> list[Path]:
    """The files of a catalog directory, relative to it: the root Location and every file it lists."""
    return [Path(ROOT_FILE), *(path.relative_to(root) for path in location_targets(root))]


def catalog_root(path: Path) -> Path:
    """A new catalog directory, named as the service registers it (absolute, symlinks resolved)."""
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def install(content: Path, root: Path) -> None:
    """Make `root` hold the catalog in `content`, one file at a time, each replaced atomically: a reader of
    `root` sees every file whole, either its old content or its new one."""
    for relative in catalog_files(content):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.swap-{os.getpid()}")
        temporary.write_bytes((content / relative).read_bytes())
        os.replace(temporary, target)
