#!/usr/bin/env python3
"""One version everywhere: Cargo.toml's [package] version is the crate's,
the wheel's (pyproject.toml takes it from Cargo.toml: `dynamic`), and every
npm package's (npm/minimax-mock/package.json and the versions of its
optionalDependencies). Fails naming each disagreement.

    .ci/check-versions.py [--tag vX.Y.Z] [--artifacts DIR]

--tag: the release tag must be v + that version (the release workflow
passes its tag). --artifacts: every wheel, npm tarball and archive in DIR
(recursively) must carry that version in its name.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", help="the release tag, vX.Y.Z")
    parser.add_argument("--artifacts", type=Path, help="a folder of built wheels, tarballs and archives")
    options = parser.parse_args()

    problems: list[str] = []
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    version = cargo["package"]["version"]
    name = cargo["package"]["name"]

    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    locked = [p["version"] for p in lock["package"] if p["name"] == name]
    if locked != [version]:
        problems.append(f"Cargo.lock has {name} {locked}, Cargo.toml {version}")

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    if "version" in project:
        if project["version"] != version:
            problems.append(f"pyproject.toml version {project['version']}, Cargo.toml {version}")
    elif "version" not in project.get("dynamic", []):
        problems.append("pyproject.toml neither sets a version nor takes it from Cargo.toml (dynamic)")

    manifests = sorted((ROOT / "npm").glob("**/package.json"))
    manifests = [m for m in manifests if "node_modules" not in m.parts]
    if not manifests:
        problems.append("no npm package.json found under npm/")
    for manifest in manifests:
        data = json.loads(manifest.read_text())
        where = manifest.relative_to(ROOT)
        if data.get("version") != version:
            problems.append(f"{where} version {data.get('version')}, Cargo.toml {version}")
        for dep, wanted in data.get("optionalDependencies", {}).items():
            if wanted != version:
                problems.append(f"{where} optionalDependencies {dep} {wanted}, Cargo.toml {version}")

    if options.tag is not None and options.tag != f"v{version}":
        problems.append(f"the tag is {options.tag}, the version {version} (tag v{version})")

    if options.artifacts is not None:
        # minimax_mock-0.1.0-py3-…whl, minimax-mock-linux-x64-gnu-0.1.0.tgz, minimax-mock-0.1.0-x86_64-….tar.gz
        pattern = re.compile(r"(?:^|[-_])" + re.escape(version) + r"(?:[-_.]|$)")
        found = [p for p in options.artifacts.rglob("*") if p.is_file() and p.suffix in {".whl", ".tgz", ".gz", ".zip"}]
        if not found:
            problems.append(f"no artifacts in {options.artifacts}")
        for artifact in found:
            if not pattern.search(artifact.name):
                problems.append(f"{artifact.name} does not carry version {version}")

    for problem in problems:
        print(f"check-versions: {problem}", file=sys.stderr)
    if problems:
        return 1
    checked = ["Cargo.toml", "Cargo.lock", "pyproject.toml"] + [str(m.relative_to(ROOT)) for m in manifests]
    print(f"check-versions: {version} in {', '.join(checked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
