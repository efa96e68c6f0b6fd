"""One end-to-end run per lister through `regmirror sync`: the lister supplies the names, real skopeo
copies the matched images between real registries.

- dockerhub / index: the loopback Docker Hub API (tests/testbed/fake_hub.py) serves the names
  (`lister.baseUrl`), a local distribution registry serves the image data (`registry`).
- ecr: moto (server mode, behind the paging front) serves the names through the ECR API; the images
  come from a local registry, since moto's ECR is not a registry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from regmirror.cli.main import main
from regmirror.registries.ecr.caches import reset_caches
from regmirror.registries.listers import clear_lister_cache

from tests.testbed import RegistryServer, catalog, list_tags, manifest_digest, push_image
from tests.testbed.fake_hub import FakeHub
from tests.testbed.moto_env import REGION, MotoStack


def b64_auth(server: RegistryServer) -> str:
    body = json.dumps({"username": server.username, "password": server.password})
    return base64.b64encode(body.encode()).decode()


def sync(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = main(["sync", str(config), "--json", "--no-progress"])
    out, err = capsys.readouterr()
    return code, json.loads(out), out + err


@pytest.fixture(autouse=True)
def fresh_lister_cache() -> Iterator[None]:
    clear_lister_cache()  # lists are cached per source for the process: keep tests independent
    yield
    clear_lister_cache()


# -- dockerhub ----------------------------------------------------------------------------------
def test_dockerhub_lister_own_namespace_organisations_and_private_repositories(
    auth_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = auth_registry, second_plain_registry
    user = str(src.username)
    # Docker Hub uses one account for its API and its registry: so do the two servers here.
    with FakeHub(users={user: str(src.password)}, members={"acme": {user}}) as hub:
        hub.add(f"{user}/app")
        hub.add(f"{user}/secret", private=True)
        hub.add(f"{user}/chart", repository_type="plugin")  # not an image: never listed
        hub.add("acme/tool")
        hub.add("acme/internal", private=True)
        hub.add("other/stuff")  # a namespace nobody asked for
        names = [
            f"{user}/app",
            f"{user}/secret",
            f"{user}/chart",
            "acme/tool",
            "acme/internal",
            "other/stuff",
        ]
        digests = {name: push_image(src, name, "1.0", seed=name) for name in names}
        config = config_file(f"""
            tasks:
              - name: hub
                source:
                  registry: "{src.host}"
                  insecure: true
                  auth: {b64_auth(src)}
                  lister: {{type: dockerhub, baseUrl: "{hub.url}", namespaces: [acme], pageSize: 2}}
                target: {{registry: "{dst.host}", insecure: true}}
                mappings:
                  - from: regex:.*
                    to: dh
            """)
        code, report, output = sync(config, capsys)
        assert code == 0, output
        copied = ["acme/internal", "acme/tool", f"{user}/app", f"{user}/secret"]
        assert sorted(catalog(dst)) == sorted(f"dh/{name}" for name in copied)
        for name in copied:
            assert manifest_digest(dst, f"dh/{name}", "1.0") == digests[name]
        assert report["counts"]["copied"] == 4
        assert len(hub.requests("/v2/users/login", method="POST")) == 1
        pages = hub.requests(r"/v2/repositories/[^/]+/")
        assert {p.query["page_size"] for p in pages} == {"2"}
        assert len(pages) == 3  # own namespace: 3 entries → 2 pages of 2; acme: 2 entries → 1 page
        assert str(src.password) not in output


# -- index ------------------------------------------------------------------------------------
def test_index_lister_documented_jenkins_example(
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, second_plain_registry
    with FakeHub() as hub:
        hub.add("library/jenkins", description="Official Jenkins", star_count=5000)
        hub.add("jenkins/jenkins", description="The leading open source automation server", star_count=3000)
        hub.add_many([f"jenkins-fans/plugin-{i:03d}" for i in range(120)], description="jenkins plugin")
        hub.add("jenkins/jnlp-slave", star_count=1)  # ranked last: on the second page of 100
        hub.add("jenkins/jnlp-agent-maven", star_count=1)
        slave = push_image(src, "jenkins/jnlp-slave", "latest", seed="slave")
        push_image(src, "jenkins/jnlp-slave", "3.40", seed="slave-3.40")
        maven = push_image(src, "jenkins/jnlp-agent-maven", "latest", seed="maven")
        push_image(src, "jenkins/jenkins", "latest", seed="jenkins")
        config = config_file(f"""
            tasks:
            - name: index
              verbose: true
              source:
                registry: "{src.host}"
                skip-tls-verify: true
                lister:
                  type: index
                  search: jenkins
                  baseUrl: "{hub.url}"
              target:
                registry: "{dst.host}"
                skip-tls-verify: true
              mappings:
              - from: regex:jenkins/jnlp-.*
                to: regex:jenkins/,dh/other-jenkins/
                tags: ["latest"]
            """)
        code, report, output = sync(config, capsys)
        assert code == 0, output
        assert sorted(catalog(dst)) == ["dh/other-jenkins/jnlp-agent-maven", "dh/other-jenkins/jnlp-slave"]
        assert list_tags(dst, "dh/other-jenkins/jnlp-slave") == ["latest"]
        assert manifest_digest(dst, "dh/other-jenkins/jnlp-slave", "latest") == slave
        assert manifest_digest(dst, "dh/other-jenkins/jnlp-agent-maven", "latest") == maven
        searches = hub.requests("/v1/search")
        assert [(s.query["q"], s.query["page"]) for s in searches] == [("jenkins", "1"), ("jenkins", "2")]
        assert report["counts"]["copied"] == 2


# -- ecr --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moto() -> Iterator[MotoStack]:
    with MotoStack() as stack:
        yield stack


@pytest.fixture
def aws(moto: MotoStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStack]:
    moto.apply_env(monkeypatch)
    moto.reset()
    reset_caches()
    yield moto
    reset_caches()


def test_ecr_lister_names_from_the_ecr_api(
    aws: MotoStack,
    plain_registry: RegistryServer,
    second_plain_registry: RegistryServer,
    config_file: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, dst = plain_registry, second_plain_registry
    client = boto3.client("ecr", region_name=REGION)
    for name in ["team/app", "team/api", *[f"filler/repo-{i:03d}" for i in range(110)]]:
        client.create_repository(repositoryName=name)
    app = push_image(src, "team/app", "1.0", seed="app")
    api = push_image(src, "team/api", "2.0", seed="api")
    push_image(src, "team/hidden", "1.0", seed="hidden")  # in the registry, not in ECR: not listed
    config = config_file(f"""
        tasks:
          - name: ecr
            source:
              registry: "{src.host}"
              skip-tls-verify: true
              region: {REGION}
              lister: {{type: ecr, baseUrl: "{aws.url}", pageSize: 100}}
            target: {{registry: "{dst.host}", skip-tls-verify: true}}
            mappings:
              - from: regex:team/.*
                to: mirror
        """)
    code, report, output = sync(config, capsys)
    assert code == 0, output
    assert sorted(catalog(dst)) == ["mirror/team/api", "mirror/team/app"]
    assert manifest_digest(dst, "mirror/team/app", "1.0") == app
    assert manifest_digest(dst, "mirror/team/api", "2.0") == api
    assert [c.returned for c in aws.pager.paged_calls("DescribeRepositories")] == [100, 12]
    assert report["counts"]["copied"] == 2
