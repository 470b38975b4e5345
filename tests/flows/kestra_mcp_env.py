"""The environment variables kestra-mcp reads, taken from its source so that no list here can
drift: every `KESTRA_*` name passed to a clap `env = "..."` attribute, `std::env::var("...")`,
or the config's `non_empty("...")` / `get("...")` / `seconds(&non_empty, "...")` /
`bytes(&non_empty, "...")` lookups anywhere under src/."""

import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
READ = re.compile(
    # `pub const SETTING: &str = "KESTRA_MCP_NAMESPACES"`: a setting read through its constant.
    r'(?:env\s*=\s*|var(?:_os)?\(\s*|non_empty\(\s*|get\(\s*|(?:seconds|bytes|flag)\(\s*&non_empty,\s*'
    r'|const SETTING: &str = )'
    r'"(KESTRA_[A-Z0-9_]+)"'
)


def variables_read():
    names = set()
    for directory, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in files:
            if name.endswith(".rs"):
                with open(os.path.join(directory, name), encoding="utf-8") as f:
                    names.update(READ.findall(f.read()))
    # The grep must keep finding the basics, or it has stopped matching the source's style.
    assert {"KESTRA_BASE_URL", "KESTRA_API_TOKEN", "KESTRA_MCP_HTTP_TOKEN"} <= names, names
    return names
