"""Copy the pinned third-party browser files from node_modules (after `npm ci`) into static/vendor/.

Run by `make vendor`. MANIFEST.json records, for every vendored file, the npm package, its version
and tarball integrity from package-lock.json, and the file's own sha512, so tests can check that
the shipped files are exactly those of the locked packages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "static" / "vendor"

# (package, file inside the package, name in static/vendor)
FILES = [
    ("echarts", "dist/echarts.min.js", "echarts.min.js"),
    ("echarts", "LICENSE", "echarts.LICENSE"),
    ("swagger-ui-dist", "swagger-ui-bundle.js", "swagger-ui-bundle.js"),
    ("swagger-ui-dist", "swagger-ui.css", "swagger-ui.css"),
    ("swagger-ui-dist", "LICENSE", "swagger-ui.LICENSE"),
]


def sha512(data: bytes) -> str:
    """Subresource-integrity style digest, as npm writes it."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def main() -> int:
    lock = json.loads((HERE / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    VENDOR.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, str]] = {}
    for package, source, name in FILES:
        meta = lock[f"node_modules/{package}"]
        installed = json.loads((HERE / "node_modules" / package / "package.json").read_text(encoding="utf-8"))
        if installed["version"] != meta["version"]:
            print(f"node_modules/{package} is {installed['version']}, the lock says {meta['version']}: run npm ci",
                  file=sys.stderr)
            return 1
        data = (HERE / "node_modules" / package / source).read_bytes()
        shutil.copyfile(HERE / "node_modules" / package / source, VENDOR / name)
        manifest[name] = {"package": package, "version": meta["version"], "path": source,
                          "tarball_integrity": meta["integrity"], "sha512": sha512(data)}
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
