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


@pytest.mark.skipif(not BUILD.is_dir(), reason="no .aws-sam/build: run `make build` to check the real artefacts")
def test_the_sam_build_output_ships_unchecked_bytecode_for_every_module() -> None:
    """The real artefacts (arm64 wheels: not importable on every machine, so read, not imported):
    every module of every layer and function has its CPython 3.13 .pyc, hash-based and unchecked
    (PEP 552 flags 0b01), which the import system uses whatever the files' dates are."""
    sources = [
        path
        for folder in sorted(BUILD.iterdir())
        if folder.is_dir() and folder.name.endswith(("Layer", "Function"))
        for path in folder.rglob("*.py")
    ]
    assert len(sources) > 1000
    problems = []
    for source in sources:
        cached = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        if not cached.is_file():
            problems.append(f"{source}: no 3.13 bytecode")
            continue
        flags = int.from_bytes(cached.read_bytes()[4:8], "little")
        if flags != 0b01:
            problems.append(f"{source}: {'timestamp-based' if flags == 0 else 'checked-hash'} bytecode")
    assert problems == [], f"{len(problems)} of {len(sources)}: {problems[:5]}"


def test_the_build_stamp_changes_with_the_layers_and_settings_the_functions_run_with(tmp_path: Path) -> None:
    """make build stamps each function with a digest of the layers, template and samconfig, so
    SAM publishes new versions of the saga's steps when only those changed (review finding: a
    layer fix or a new WithdrawalReviewAmount never reached the published steps)."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        from stamp_build import STAMP, stamp
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    build = tmp_path / "build"
    (build / "SharedLayer" / "python").mkdir(parents=True)
    (build / "WithdrawalSettleFunction").mkdir()
    module = build / "SharedLayer" / "python" / "rules.py"
    settings = tmp_path / "samconfig.toml"
    module.write_text("REVIEW = 1\n")
    settings.write_text('parameter_overrides = "WithdrawalReviewAmount=10000.00"\n')
    first = stamp(build, [settings])
    assert (build / "WithdrawalSettleFunction" / STAMP).read_text().strip() == first
    assert stamp(build, [settings]) == first  # nothing changed: no new version
    module.write_text("REVIEW = 2\n")
    second = stamp(build, [settings])
    settings.write_text('parameter_overrides = "WithdrawalReviewAmount=5000.00"\n')
    third = stamp(build, [settings])
    assert len({first, second, third}) == 3
