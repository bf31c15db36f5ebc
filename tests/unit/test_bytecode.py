"""What Lambda runs is what was built: every module of a handler imports from shipped bytecode.

SAM zips artefacts with every file dated 1980-01-01 and Lambda unpacks them read-only (/opt,
/var/task). A timestamp-based .pyc then no longer matches its source's date: Python recompiles
the module on every cold start and cannot keep the result. The builds compile hash-based
(unchecked) bytecode instead; this test zips and unzips the way SAM and Lambda do and asks the
import system which modules it had to compile from source.

Offline it builds the shared layer with its own Makefile and compiles the functions the way
``make build`` does, with the running Python. After ``make build`` (``.aws-sam/build``) it also
checks the real artefacts - the dependency layers included - with the runtime's Python 3.13.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from local.template import REPO_ROOT

SAM_DATE = (1980, 1, 1, 0, 0, 0)
BUILD = REPO_ROOT / ".aws-sam" / "build"
HANDLERS = sorted(path.parent.name for path in (REPO_ROOT / "functions").glob("*/app.py"))

#: Imports every handler in a fresh interpreter and prints the modules compiled from source
#: under the given roots (the unpacked artefacts), i.e. whose shipped bytecode was not used.
_PROBE = """
import importlib.machinery, json, sys
roots, handlers = json.loads(sys.argv[1]), json.loads(sys.argv[2])
compiled = []
original = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    if any(str(path).startswith(root) for root in roots):
        compiled.append(str(path))
    return original(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
imported = 0
for folder in handlers:
    sys.path.insert(0, folder)
    sys.modules.pop("app", None)
    __import__("app")
    sys.path.remove(folder)
    imported += 1
shipped = [m.__file__ for m in list(sys.modules.values())
           if getattr(m, "__file__", None) and any(m.__file__.startswith(r) for r in roots)]
print(json.dumps({"compiled": sorted(set(compiled)), "modules": len(shipped), "handlers": imported}))
"""


def _zip_round_trip(source: Path, target: Path) -> Path:
    """Zip ``source`` as SAM does (fixed 1980 date) and unpack it as Lambda does (dates kept)."""
    archive = target.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(source)), SAM_DATE)
                bundle.writestr(info, path.read_bytes())
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            bundle.extract(info, target)
            stamp = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(target / info.filename, (stamp, stamp))
    return target


def _probe(python: str, layers: list[Path], handlers: list[Path], extra_path: list[str]) -> dict:
    """``layers`` are on the path as /opt/python is; modules under them or the handlers' folders
    that the import system compiles from source are reported."""
    roots = [*layers, *handlers]
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",  # as on Lambda: a recompiled module cannot be kept
        "PYTHONPATH": os.pathsep.join([*(str(layer) for layer in layers), *extra_path]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Probe",
    }
    result = subprocess.run(  # noqa: S603 - our probe
        [python, "-c", _PROBE, json.dumps([str(r) for r in roots]), json.dumps([str(h) for h in handlers])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _built_offline(tmp_path: Path, mode: str) -> tuple[Path, Path]:
    """The shared layer by its own Makefile, the functions compiled as ``make build`` does."""
    layer = tmp_path / "layer-build"
    make = ["make", "-s", "-C", str(REPO_ROOT / "shared"), "build-SharedLayer", f"ARTIFACTS_DIR={layer}"]
    subprocess.run([*make, f"LAMBDA_PYTHON={sys.executable}"], check=True, timeout=300)  # noqa: S603
    functions = tmp_path / "functions-build"
    shutil.copytree(REPO_ROOT / "functions", functions, ignore=shutil.ignore_patterns("__pycache__"))
    if mode != "unchecked-hash":  # the sensitivity check: what SAM's default build ships
        for folder in (layer, functions):
            for cache in folder.rglob("__pycache__"):
                shutil.rmtree(cache)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(folder)], check=True)  # noqa: S603
        return layer, functions
    flags = ["-q", "-f", "--invalidation-mode", "unchecked-hash"]
    assert " ".join(flags) in (REPO_ROOT / "Makefile").read_text()  # what make build runs on the functions
    subprocess.run([sys.executable, "-m", "compileall", *flags, str(functions)], check=True)  # noqa: S603
    return layer, functions


def _site_packages() -> list[str]:
    return [path for path in sys.path if path.endswith("site-packages")]


def test_no_module_of_any_handler_is_compiled_at_cold_start(tmp_path: Path) -> None:
    layer, functions = _built_offline(tmp_path, "unchecked-hash")
    opt = _zip_round_trip(layer, tmp_path / "opt")
    task = _zip_round_trip(functions, tmp_path / "task")
    seen = _probe(sys.executable, [opt / "python"], [task / name for name in HANDLERS], _site_packages())
    assert seen["handlers"] == len(HANDLERS)
    assert seen["modules"] > 50  # the payments package really came from the unpacked layer
    assert seen["compiled"] == []


def test_the_check_sees_timestamp_bytecode_go_stale(tmp_path: Path) -> None:
    """The same round trip with compileall's default (timestamp) bytecode: all of it is stale."""
    layer, functions = _built_offline(tmp_path, "timestamp")
    opt = _zip_round_trip(layer, tmp_path / "opt")
    task = _zip_round_trip(functions, tmp_path / "task")
    seen = _probe(sys.executable, [opt / "python"], [task / name for name in HANDLERS], _site_packages())
    assert len(seen["compiled"]) >= seen["modules"] > 50


def _lambda_python() -> str | None:
    script = str(REPO_ROOT / "scripts" / "lambda-python")
    found = subprocess.run([script], capture_output=True, text=True, check=False)  # noqa: S603
    return found.stdout.strip() or None


@pytest.mark.skipif(not BUILD.is_dir(), reason="no .aws-sam/build: run `make build` to check the real artefacts")
def test_the_sam_build_output_ships_usable_bytecode(tmp_path: Path) -> None:
    python = _lambda_python()
    if python is None:
        pytest.skip("no Python 3.13 here (scripts/lambda-python says how to get one)")
    layers = [
        _zip_round_trip(BUILD / name, tmp_path / name) / "python"
        for name in ("DependenciesLayer", "GatewaysLayer", "SharedLayer")
    ]
    functions = sorted(path for path in BUILD.glob("*Function") if (path / "app.py").is_file())
    tasks = [_zip_round_trip(path, tmp_path / path.name) for path in functions]
    seen = _probe(python, layers, tasks, [])
    assert seen["handlers"] == len(functions) > 20
    assert seen["modules"] > 200
    assert seen["compiled"] == []
