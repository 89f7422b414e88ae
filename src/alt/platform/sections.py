"""A section of the settings: the knobs of one area, each read from the environment variable
of the section's prefix and its name in capitals.

    class FetchLimits(BaseModel):
        model_config = section("ALT_FETCH_")
        max_redirects: int = 5
        \"\"\"What it does: the documentation table (`alt settings`) shows this text.\"\"\"

`max_redirects` is `ALT_FETCH_MAX_REDIRECTS`. A section reads nothing by itself:
`alt.config.load_settings` fills every section from the environment once per process, and
`FetchLimits(max_redirects=3)` is just those values (the defaults for the rest), as in tests.
A new section is a field of `alt.config.Settings`; tests/test_config.py wants a docstring on
the class, a description on every field, and a bad value of the section in its list.
"""

from __future__ import annotations

from pydantic import AliasGenerator, ConfigDict


def section(prefix: str) -> ConfigDict:
    return ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        use_attribute_docstrings=True,
        alias_generator=AliasGenerator(validation_alias=lambda name: prefix + name.upper()),
    )
