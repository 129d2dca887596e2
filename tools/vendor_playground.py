"""Copy the playground's browser libraries from node_modules into service/static/playground/vendor/.

The service serves these committed copies itself (no CDN, no npm in the image). Their versions are the
ones package-lock.json pins; tests/test_playground.py checks that the copies are byte-identical to the
installed packages. To update: `npm install --save-dev --save-exact marked@X dompurify@Y`, then
`make vendor`, then commit the result.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "service" / "static" / "playground" / "vendor"
NODE_MODULES = ROOT / "node_modules"
# package -> {file served by the playground: file inside the npm package}
FILES: dict[str, dict[str, str]] = {
    "marked": {"marked.umd.js": "lib/marked.umd.js", "marked.LICENSE": "LICENSE"},
    "dompurify": {"purify.min.js": "dist/purify.min.js", "dompurify.LICENSE": "LICENSE"},
}


def main() -> int:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    provenance: dict[str, dict[str, object]] = {}
    VENDOR.mkdir(parents=True, exist_ok=True)
    for package, files in FILES.items():
        installed = NODE_MODULES / package
        meta = json.loads((installed / "package.json").read_text(encoding="utf-8"))
        pinned = lock["packages"][f"node_modules/{package}"]["version"]
        if meta["version"] != pinned:
            print(f"{package}: node_modules has {meta['version']}, package-lock.json pins {pinned}: run npm ci")
            return 1
        for served, inside in files.items():
            shutil.copyfile(installed / inside, VENDOR / served)
        repository = meta.get("repository")
        provenance[package] = {
            "version": meta["version"],
            "license": meta["license"],
            "repository": repository.get("url") if isinstance(repository, dict) else repository,
            "files": files,
        }
    text = json.dumps(provenance, indent=2) + "\n"
    (VENDOR / "VENDOR.json").write_text(text, encoding="utf-8")
    names = ", ".join(f"{package} {info['version']}" for package, info in provenance.items())
    print(f"vendored {names} into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
