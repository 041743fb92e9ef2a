"""README.md is the reference users read: it must list every setting, error code and environment variable."""

import re
from pathlib import Path

from magiclink_auth.conf import DEFAULTS
from magiclink_auth.errors import ERRORS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def table_first_cells(heading: str) -> set[str]:
    section = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return {cells[1].strip().strip("`") for line in section.splitlines()
            if line.startswith("|") and len(cells := line.split("|")) > 2}


def test_every_setting_is_documented_in_the_settings_table():
    assert set(DEFAULTS) - table_first_cells("Settings") == set()


def test_every_error_code_is_documented_with_its_status():
    documented = README.split("## Error codes\n", 1)[1]
    for spec in ERRORS.values():
        assert f"| {spec.code} | {spec.status} |" in documented, spec.code


def test_error_codes_are_unique():
    codes = [spec.code for spec in ERRORS.values()]
    assert len(codes) == len(set(codes))


def test_every_environment_variable_of_the_example_site_is_documented():
    source = (ROOT / "example_project" / "settings.py").read_text()
    used = set(re.findall(r"""(?:environ(?:\.get)?|env_list)\(\s*["']([A-Z_]+)["']""", source))
    used |= set(re.findall(r"""environ\[["']([A-Z_]+)["']\]""", source))
    assert used - table_first_cells("The example site's environment variables") == set()


def test_ci_runs_the_readme_test_command():
    assert "<!-- test-command -->" in README
    assert "test-command" in (ROOT / ".ci" / "run").read_text()
