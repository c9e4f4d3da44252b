"""The vendored browser files are exactly those of the packages package-lock.json pins, and the
package data of a built wheel includes them."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

from api.web import STATIC
from api.web.vendor import FILES, sha512

WEB = STATIC.parent
ROOT = WEB.parents[1]


def test_vendored_files_match_the_manifest_and_the_lock() -> None:
    lock = json.loads((WEB / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    declared = json.loads((WEB / "package.json").read_text(encoding="utf-8"))["dependencies"]
    manifest = json.loads((STATIC / "vendor" / "MANIFEST.json").read_text(encoding="utf-8"))
    assert sorted(manifest) == sorted(name for _, _, name in FILES)
    for package, source, name in FILES:
        entry, locked = manifest[name], lock[f"node_modules/{package}"]
        assert declared[package] == locked["version"] == entry["version"]  # pinned exactly
        assert entry["tarball_integrity"] == locked["integrity"] and entry["path"] == source
        assert sha512((STATIC / "vendor" / name).read_bytes()) == entry["sha512"], f"{name} differs: run make vendor"


def test_pages_use_only_local_files() -> None:
    """No page, script or style loads anything from another host (no CDN)."""
    for path in STATIC.glob("*.*"):
        if path.suffix in (".html", ".js", ".css"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
            assert "@import" not in text and "url(http" not in text, path.name


def test_package_data_covers_every_static_file() -> None:
    """An installed wheel serves the console: every file under static/ matches a package-data glob."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["api.web"]
    files = [p.relative_to(WEB).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert files and [f for f in files if not any(fnmatch.fnmatchcase(f, g) for g in globs)] == []
