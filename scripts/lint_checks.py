"""Small file checks for the pre-commit hooks in .pre-commit-config.yaml.

Usage: python scripts/lint_checks.py CHECK FILE...

CHECK is one of:
  trailing-whitespace  no line ends with spaces or tabs
  end-of-file          a non-empty file ends with exactly one newline
  odoo18-xml           no view syntax that Odoo 18 removed (<tree>, attrs=)

Prints one line per finding (file:line: message) and exits 1 if any.
Standard library only, so the hooks need nothing but the venv's Python.
"""

import re
import sys
from pathlib import Path

# Odoo 17 removed attrs=/states= and Odoo 18 renamed <tree> to <list>;
# the old syntax fails at install time, this catches it before.
ODOO18_XML_PATTERNS = [
    (re.compile(rb"<tree[\s>/]"), "<tree> is <list> in Odoo 18"),
    (re.compile(rb"\sattrs\s*="), "attrs= is gone since Odoo 17: use invisible= etc."),
]


def check_trailing_whitespace(path, data):
    for number, line in enumerate(data.splitlines(), start=1):
        if line != line.rstrip(b" \t"):
            yield number, "trailing whitespace"


def check_end_of_file(path, data):
    if not data:
        return
    if not data.endswith(b"\n"):
        yield data.count(b"\n") + 1, "no newline at the end of the file"
    elif data.endswith((b"\n\n", b"\r\n\r\n")):
        yield data.count(b"\n"), "blank line(s) at the end of the file"


def check_odoo18_xml(path, data):
    for number, line in enumerate(data.splitlines(), start=1):
        for pattern, message in ODOO18_XML_PATTERNS:
            if pattern.search(line):
                yield number, message


CHECKS = {
    "trailing-whitespace": check_trailing_whitespace,
    "end-of-file": check_end_of_file,
    "odoo18-xml": check_odoo18_xml,
}


def main(argv):
    if len(argv) < 1 or argv[0] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    check = CHECKS[argv[0]]
    findings = 0
    for name in argv[1:]:
        data = Path(name).read_bytes()
        for number, message in check(name, data):
            print(f"{name}:{number}: {message}")
            findings += 1
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
