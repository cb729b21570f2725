"""The packaged spec copies are the published files themselves, not drifted versions."""

import gzip
import json

import pytest

from sandbox.atlassian.spec import PACKAGED, specs_dir


@pytest.mark.parametrize("name", sorted(p.name[:-3] for p in PACKAGED.glob("*.json.gz")))
def test_packaged_copy_matches_the_shared_file(name):
    shared = specs_dir() / name
    if not shared.is_file():
        pytest.skip(f"no shared copy of {name} beside the repository to compare with")
    with gzip.open(PACKAGED / f"{name}.gz", "rt", encoding="utf-8") as fh:
        assert json.load(fh) == json.loads(shared.read_text(encoding="utf-8"))
