"""How features attach to the core, checked on the source (no Odoo): the
core offers hooks and features extend them with ``super()``, as Odoo's own
modules do (``sale.order._action_confirm``, ``account.move._invoice_paid_hook``);
the core never calls a feature by name.

The core files of ``defining_retainer`` are the retainer, its ledger, levels,
audit, timesheets and projects, its customer emails and statements, and the
settings. Every other file of its models is a feature (selling and
invoicing, online payments, automatic top-ups, revenue).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "addons" / "defining_retainer" / "models"
CORE_FILES = frozenset(
    {
        "account_analytic_line.py",
        "project_project.py",
        "project_task.py",
        "res_company.py",
        "res_config_settings.py",
        "retainer_audit.py",
        "retainer_audit_line.py",
        "retainer_contract.py",
        "retainer_expiry_warning.py",
        "retainer_ledger_entry.py",
        "retainer_level.py",
        "retainer_server_values_mixin.py",
        "retainer_statement.py",
        "retainer_technology.py",
    }
)
# At most this many files declare or extend one model in one addon.
MAX_FILES_PER_MODEL = 2


def _model_files():
    return sorted(path for path in MODELS.glob("*.py") if path.name != "__init__.py")


def _calls_super_of_itself(function):
    """Whether ``function`` calls ``super().<its own name>``: it extends a
    method defined elsewhere (Odoo's or the core's hook)."""
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == function.name
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "super"
        ):
            return True
    return False


def _methods(path, new_only=False):
    """Names of the methods the classes of ``path`` define (``new_only``:
    but those extending a method of the same name through ``super()``)."""
    tree = ast.parse(path.read_text())
    names = set()
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        for item in cls.body:
            if isinstance(item, ast.FunctionDef) and not (
                new_only and _calls_super_of_itself(item)
            ):
                names.add(item.name)
    return names


def _called_names(path):
    """``{method name: first line}`` of every ``x.method(...)`` call in
    ``path``."""
    calls = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            calls.setdefault(node.func.attr, node.lineno)
    return calls


def test_core_files_exist():
    present = {path.name for path in _model_files()}
    assert CORE_FILES <= present, CORE_FILES - present


def test_the_core_never_calls_a_feature_by_name():
    """A method that only a feature file defines (not an extension of an
    existing method) is never called from a core file: the core offers a
    hook instead, and the feature extends it."""
    files = _model_files()
    core_methods = set().union(*(_methods(p) for p in files if p.name in CORE_FILES))
    feature_methods = set().union(
        *(_methods(p, new_only=True) for p in files if p.name not in CORE_FILES)
    )
    feature_only = feature_methods - core_methods
    calls = [
        f"{path.name}:{line} calls {name}"
        for path in files
        if path.name in CORE_FILES
        for name, line in sorted(_called_names(path).items())
        if name in feature_only
    ]
    assert calls == []


@pytest.mark.parametrize(
    "addon", ["defining_retainer", "defining_retainer_portal"], ids=str
)
def test_a_model_spans_few_files(addon):
    """One model is declared or extended in at most two files of an addon
    (pylint-odoo's consider-merging-classes-inherited, never disabled)."""
    files_per_model = {}
    for path in sorted((ROOT / "addons" / addon / "models").glob("*.py")):
        for cls in ast.parse(path.read_text()).body:
            if not isinstance(cls, ast.ClassDef):
                continue
            for item in cls.body:
                if (
                    isinstance(item, ast.Assign)
                    and isinstance(item.targets[0], ast.Name)
                    and item.targets[0].id in ("_name", "_inherit")
                ):
                    value = ast.literal_eval(item.value)
                    model = value if isinstance(value, str) else value[0]
                    files_per_model.setdefault(model, set()).add(path.name)
                    break
    spread = {
        model: sorted(names)
        for model, names in files_per_model.items()
        if len(names) > MAX_FILES_PER_MODEL
    }
    assert spread == {}


def test_no_lint_rule_is_disabled_for_spreading_a_model():
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "addons").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "consider-merging-classes-inherited" in line
    ]
    assert hits == []
