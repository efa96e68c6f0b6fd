"""Image size from manifests read back from the target: blobs counted once, hostile input bounded."""

from __future__ import annotations

import json

from regmirror.errors import RegistryError
from regmirror.registries.sizes import MAX_CHILD_MANIFESTS, image_bytes


class FakeReader:
    def __init__(self, manifests: dict[str, object], fail: bool = False) -> None:
        self.manifests, self.fail, self.reads = manifests, fail, 0

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        self.reads += 1
        if self.fail:
            raise RegistryError("unreachable")
        return json.dumps(self.manifests[reference]).encode(), "application/json", reference


def image(config: int, *layers: tuple[str, int]) -> dict[str, object]:
    return {
        "config": {"digest": f"sha256:c{config}", "size": config},
        "layers": [{"digest": d, "size": s} for d, s in layers],
    }


def test_single_manifest_sums_config_and_layers() -> None:
    reader = FakeReader({"1.0": image(10, ("sha256:a", 100), ("sha256:b", 1000))})
    assert image_bytes(reader, "repo", "1.0") == 1110


def test_index_counts_shared_blobs_once() -> None:
    reader = FakeReader(
        {
            "idx": {"manifests": [{"digest": "amd"}, {"digest": "arm"}]},
            "amd": image(10, ("sha256:base", 500), ("sha256:amd", 7)),
            "arm": image(11, ("sha256:base", 500), ("sha256:arm", 9)),
        }
    )
    assert image_bytes(reader, "repo", "idx") == 10 + 11 + 500 + 7 + 9


def test_hostile_index_reads_a_bounded_number_of_children() -> None:
    children = {f"m{i}": image(1, (f"sha256:l{i}", 1)) for i in range(MAX_CHILD_MANIFESTS * 4)}
    index = {"manifests": [{"digest": name} for name in children]}
    reader = FakeReader({"idx": index, **children})
    assert image_bytes(reader, "repo", "idx") == 1 + MAX_CHILD_MANIFESTS
    assert reader.reads == 1 + MAX_CHILD_MANIFESTS


def test_unreadable_or_malformed_gives_none() -> None:
    assert image_bytes(FakeReader({}, fail=True), "repo", "x") is None
    assert image_bytes(FakeReader({"x": ["not", "a", "manifest"]}), "repo", "x") is None
    assert image_bytes(FakeReader({"x": {"manifests": [{"no-digest": 1}]}}), "repo", "x") is None
