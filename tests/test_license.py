"""pyproject.toml declares Apache-2.0: the LICENSE file must exist and say so, and nothing is
pinned that is never imported (optuna-integration was, until issue 13)."""
from __future__ import annotations

import tomllib

from conftest import REPO


def test_license_file_matches_the_declared_license():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]
    assert "Apache-2.0" in str(declared)
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text, "the full license text, not a stub"
    assert "Copyright 2026 the ganbench authors" in text


def test_optuna_integration_is_not_a_dependency():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if d.startswith("optuna-integration")]
