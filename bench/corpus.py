"""The benchmark corpus: images in a real distribution registry, built once and cached on disk.

A corpus is a pure function of its `CorpusSpec` (image content is seeded), so the cache key is a hash
of the spec. The registry's storage lives under `bench/.cache/<kind>-<key>/registry`; `corpus.json`
next to it lists every (repository, tag, digest) and is written last: a directory without it is an
interrupted build and is rebuilt. Loading starts a registry on the cached storage and checks every
tag's digest with a HEAD, so a damaged cache can never feed wrong expectations to the verification.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.verify import digests_in
from tests.testbed import ImageApi, RegistryServer, push_image, push_repositories

FORMAT = 1  # bump when the way images are built changes
NAMESPACE = "bench"
PLATFORMS = ["linux/amd64", "linux/arm64"]
BUILD_WORKERS = 4


@dataclass(frozen=True)
class CorpusSpec:
    repos: int = 50
    tags_per_repo: int = 25
    layers: int = 1
    layer_size: int = 512  # bytes of (incompressible) content per layer
    multi_arch_share: float = 0.1  # this share of the tags are two-platform indexes

    @property
    def tags(self) -> int:
        return self.repos * self.tags_per_repo

    def key(self) -> str:
        text = json.dumps({"format": FORMAT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def images(self) -> Iterator[tuple[str, str, bool]]:
        """(repository, tag, multi-arch) for every image, multi-arch ones spread evenly."""
        every = round(1 / self.multi_arch_share) if self.multi_arch_share > 0 else 0
        for r in range(self.repos):
            for t in range(self.tags_per_repo):
                index = r * self.tags_per_repo + t
                yield f"{NAMESPACE}/r{r:04d}", f"t{t:04d}", bool(every) and index % every == every - 1


@dataclass
class Corpus:
    spec: CorpusSpec
    server: RegistryServer
    digests: dict[tuple[str, str], str]  # (repository, tag) -> manifest digest
    build_seconds: float | None  # None when loaded from the cache

    def push(self, repository: str, tag: str, seed: str) -> str:
        """Push new content (seeded) to one tag; the expected digest follows."""
        multi = self.is_multi_arch(repository, tag)
        digest = push_image(self.server, repository, tag, seed=seed, **self._image_args(multi))
        self.digests[(repository, tag)] = digest
        return digest

    def point(self, repository: str, tag: str, at: str) -> str:
        """Point `tag` at the image tag `at` of the repository is (a release promoted, a rollback):
        a re-tag, no new content. `restore` puts the tag's own content back."""
        api = ImageApi(self.server)
        body, media_type, _digest = api.get_manifest(repository, at)
        digest = api.put_manifest(repository, tag, body, media_type)
        self.digests[(repository, tag)] = digest
        return digest

    def restore(self, repository: str, tag: str) -> None:
        """Put the corpus content back on a tag (after a `push`)."""
        self.push(repository, tag, seed=f"{repository}:{tag}")

    def is_multi_arch(self, repository: str, tag: str) -> bool:
        return any(r == repository and t == tag and m for r, t, m in self.spec.images())

    def _image_args(self, multi: bool) -> dict[str, Any]:
        return {
            "platforms": PLATFORMS if multi else None,
            "layers": self.spec.layers,
            "layer_size": self.spec.layer_size,
            "shared_base": self.spec.layers > 1,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self.spec),
            "tags": self.spec.tags,
            "multi_arch_tags": sum(1 for *_, m in self.spec.images() if m),
            "key": self.spec.key(),
            "build_s": None if self.build_seconds is None else round(self.build_seconds, 1),
        }


@contextmanager
def open_corpus(spec: CorpusSpec, cache_dir: Path, log: Callable[[str], None]) -> Iterator[Corpus]:
    """A running registry serving the corpus (built on first use); stopped on exit."""
    import time

    root = cache_dir / f"corpus-{spec.key()}"
    index = root / "corpus.json"
    built: float | None = None
    if not index.exists():
        log(f"building corpus {spec.key()} ({spec.tags} tags) in {root} ...")
        start = time.monotonic()
        _build(spec, root, index)
        built = time.monotonic() - start
        log(f"corpus built in {built:.1f} s")
    data = json.loads(index.read_text())
    digests = {(i["repo"], i["tag"]): i["digest"] for i in data["images"]}
    (root / "registry" / "access.log").unlink(missing_ok=True)  # count only this run's requests
    with RegistryServer(base_dir=root / "registry") as server:
        corpus = Corpus(spec, server, digests, built)
        _check_cached(corpus)
        yield corpus


def _build(spec: CorpusSpec, root: Path, index: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    (root / "registry").mkdir(parents=True)
    with RegistryServer(base_dir=root / "registry") as server:
        corpus = Corpus(spec, server, {}, None)
        local = threading.local()

        def push_one(image: tuple[str, str, bool]) -> dict[str, str]:
            repo, tag, multi = image
            if not hasattr(local, "api"):
                local.api = ImageApi(server)
            digest = push_image(server, repo, tag, api=local.api, **corpus._image_args(multi))
            return {"repo": repo, "tag": tag, "digest": digest}

        with ThreadPoolExecutor(max_workers=BUILD_WORKERS) as pool:
            images = list(pool.map(push_one, spec.images()))
    _write_index(index, {"spec": asdict(spec), "images": images})


def _check_cached(corpus: Corpus) -> None:
    """Every cached tag must still carry its recorded digest (a tag changed by an interrupted run is
    put back first: its content is seeded, so the digest is the recorded one)."""
    seen = digests_in(corpus.server, list(corpus.digests))
    for (repo, tag), digest in corpus.digests.items():
        if seen.get((repo, tag)) != digest:
            corpus.restore(repo, tag)
            if corpus.digests[(repo, tag)] != digest:
                raise RuntimeError(
                    f"cached corpus is damaged at {repo}:{tag}; delete {corpus.server.base_dir}"
                )


def _write_index(index: Path, data: dict[str, Any]) -> None:
    tmp = index.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(index)


# -- the 20 000-repository catalog for planning at scale -------------------------------------------
@dataclass(frozen=True)
class ScaleSpec:
    repos: int = 20000
    matching: int = 2000  # repositories the mapping's regex selects, spread over the catalog

    def names(self) -> list[str]:
        step = max(1, self.repos // max(1, self.matching))
        return [
            f"scale/{'m' if i % step == 0 and i // step < self.matching else 'x'}{i:05d}"
            for i in range(self.repos)
        ]

    @property
    def regex(self) -> str:
        return r"regex:scale/m\d+"

    def key(self) -> str:
        return hashlib.sha256(json.dumps({"format": FORMAT, **asdict(self)}).encode()).hexdigest()[:12]


@contextmanager
def open_scale_catalog(
    spec: ScaleSpec, cache_dir: Path, log: Callable[[str], None]
) -> Iterator[RegistryServer]:
    """A registry with `spec.repos` one-tag repositories (one shared, layer-less image), cached."""
    import time

    root = cache_dir / f"scale-{spec.key()}"
    marker = root / "catalog.json"
    if not marker.exists():
        log(f"building a catalog of {spec.repos} repositories in {root} ...")
        start = time.monotonic()
        shutil.rmtree(root, ignore_errors=True)
        (root / "registry").mkdir(parents=True)
        with RegistryServer(base_dir=root / "registry") as server:
            digest = push_repositories(server, spec.names(), workers=BUILD_WORKERS)
        _write_index(marker, {"spec": asdict(spec), "digest": digest})
        log(f"catalog built in {time.monotonic() - start:.1f} s")
    (root / "registry" / "access.log").unlink(missing_ok=True)
    with RegistryServer(base_dir=root / "registry") as server:
        yield server
