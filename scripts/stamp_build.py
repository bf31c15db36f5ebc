"""Stamp every built function with a digest of what it runs with: the built layers, the template
and samconfig.toml (``make build`` runs this after ``sam build``).

The saga's steps are published as Lambda versions (``AutoPublishAlias``) and the state machine
names those versions, so a running execution keeps the code it started with. SAM publishes a new
version only when a function's own package changes, and the steps' logic lives in the shared
layer while their settings come from template parameters: without this stamp a fix in the layer
or a new ``WithdrawalReviewAmount`` would reach ``$LATEST`` and never the saga. Standard library
only (it runs with the Lambda runtime's Python, outside the virtualenv).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

STAMP = "build-stamp.txt"


def digest(build: Path, extra: list[Path]) -> str:
    sha = hashlib.sha256()
    inputs = [path for layer in sorted(build.glob("*Layer")) for path in sorted(layer.rglob("*")) if path.is_file()]
    for path in inputs:
        sha.update(str(path.relative_to(build)).encode())
        sha.update(path.read_bytes())
    for path in extra:
        if path.is_file():
            sha.update(path.name.encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def stamp(build: Path, extra: list[Path]) -> str:
    value = digest(build, extra)
    for function in sorted(build.glob("*Function")):
        (function / STAMP).write_text(value + "\n")
    return value


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".aws-sam/build")
    print(f"build stamp {stamp(root, [Path('template.yaml'), Path('samconfig.toml')])[:12]}")
