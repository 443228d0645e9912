"""The built-in definitions' digests (``module_registry.checked``): each built-in file passes
every meta-check, the list is current, and only a file with exactly those bytes skips the
checks at load (an edited copy, or an operator's file, is checked in full)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from module_registry import catalogue, checked, meta
from module_registry.errors import RegistryError


@pytest.mark.parametrize("path", catalogue.definition_files(catalogue.builtin_modules_dir()), ids=lambda p: p.name)
def test_every_builtin_definition_passes_every_check(path: Path) -> None:
    definition = catalogue.load_definition(path, trust_checked=False)
    assert definition.id == path.stem


def test_the_list_is_the_builtin_files_current_digests() -> None:
    listed = json.loads(checked.manifest_path().read_text(encoding="utf-8"))
    assert listed == checked.current_manifest(catalogue.builtin_modules_dir()), (
        "a built-in definition changed: refresh the list with `python -m module_registry.checked`"
    )
    assert len(checked.checked_digests()) == len(catalogue.definition_files(catalogue.builtin_modules_dir()))


def test_a_listed_file_skips_the_meta_checks_and_any_other_file_gets_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_schema, real_conventions = meta._check_schema, meta._check_conventions
    monkeypatch.setattr(meta, "_check_schema", lambda schema, file: (calls.append(file), real_schema(schema, file)))
    monkeypatch.setattr(
        meta, "_check_conventions", lambda definition, file: (calls.append(file), real_conventions(definition, file))
    )
    source = catalogue.builtin_modules_dir() / "sqs-queue.json"
    copy = tmp_path / "sqs-queue.json"
    shutil.copyfile(source, copy)
    assert catalogue.load_registry(tmp_path).ids() == ["sqs-queue"]
    assert calls == []  # the same bytes as the checked built-in file
    catalogue.load_registry(tmp_path, trust_checked=False)
    assert calls == [str(copy), str(copy)]
    calls.clear()
    copy.write_text(source.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # one byte more
    catalogue.load_registry(tmp_path)
    assert calls == [str(copy), str(copy)]


def test_an_edited_builtin_file_is_refused_by_the_full_checks(tmp_path: Path) -> None:
    doc = json.loads((catalogue.builtin_modules_dir() / "sqs-queue.json").read_text(encoding="utf-8"))
    doc["schema"]["type"] = "objekt"  # not a JSON Schema type
    (tmp_path / "sqs-queue.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(RegistryError, match="not a valid JSON Schema"):
        catalogue.load_registry(tmp_path)


def test_the_id_is_still_compared_with_the_file_name(tmp_path: Path) -> None:
    shutil.copyfile(catalogue.builtin_modules_dir() / "sqs-queue.json", tmp_path / "queue.json")
    with pytest.raises(RegistryError, match="does not match the file name"):
        catalogue.load_registry(tmp_path)


def test_an_unreadable_list_trusts_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    checked.checked_digests.cache_clear()
    monkeypatch.setattr(checked, "manifest_path", lambda: tmp_path / "missing.json")
    try:
        assert checked.checked_digests() == frozenset()
        text = (catalogue.builtin_modules_dir() / "sqs-queue.json").read_text(encoding="utf-8")
        assert not checked.is_checked(text)
    finally:
        checked.checked_digests.cache_clear()


VALIDATE_SCRIPT = """
import json, sys
from module_registry import catalogue
registry = catalogue.load_registry()
loaded_at_start = "jsonschema" in sys.modules
result = registry.validate("sqs-queue", {"name": "Orders!"}, "dev", prod=False)
print(json.dumps({"at_start": loaded_at_start, "after": "jsonschema" in sys.modules, "ok": result.ok}))
"""


def test_the_built_in_registry_loads_without_jsonschema_and_validates_with_it() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", VALIDATE_SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    state = json.loads(done.stdout)
    assert state == {"at_start": False, "after": True, "ok": False}  # "Orders!" is refused by its pattern
