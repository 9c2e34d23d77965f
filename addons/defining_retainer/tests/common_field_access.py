"""Who may set each field an addon adds: the generic check of the rule that
fields deciding units, money or charging are set by the server only, and
that the other fields are editable by the roles that should edit them.

Every stored field the addon adds to any model is put to each role, through
the ORM as a client's ``create()``/``write()`` would reach it:

- a *server field* (``_retainer_server_fields`` of its model): whatever a
  role sends, on create or write, the stored value is the server's;
- a *derived field* (stored and read-only, as a computed field is unless
  declared editable) of a model some role may write must be a server
  field, or be listed with the reason it decides nothing: a new field
  cannot slip through unclassified;
- an *editable field*: writing it succeeds for the roles listed for its
  model, and is refused with an ``AccessError`` for every other role.
"""

from contextlib import contextmanager, suppress
from datetime import date, datetime

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user

MAGIC_FIELDS = frozenset({"id", "create_uid", "create_date", "write_uid", "write_date"})
# Roles as the issue tracker names them; each a user of the test company
# (but "other_company", a manager of everything in another company only).
ROLE_GROUPS = {
    "portal": "base.group_portal",
    "timesheet": "hr_timesheet.group_hr_timesheet_user",
    "salesman": "sales_team.group_sale_salesman",
    "billing": "account.group_account_invoice",
    "retainer_user": "defining_retainer.group_retainer_user",
    "retainer_manager": "defining_retainer.group_retainer_manager,"
    "hr_timesheet.group_hr_timesheet_approver",
    "admin": "base.group_system,base.group_erp_manager,"
    "sales_team.group_sale_manager,account.group_account_manager,"
    "defining_retainer.group_retainer_manager,project.group_project_manager,"
    "hr_timesheet.group_timesheet_manager",
}
ROLE_GROUPS["other_company"] = ROLE_GROUPS["admin"]


class _Undo(Exception):
    """Raised to roll a savepoint back after its outcome was read."""


class FieldAccessMixin:
    """Mixed into a test case that defines, in ``setUpClass``:

    - ``field_access_module``: the addon whose fields are checked;
    - ``field_access_samples``: model name -> a record of it, for every
      model with a stored field of the addon that some role may write;
    - ``field_access_writers``: model name -> the roles that may write its
      editable fields (others are refused);
    - ``field_access_field_writers``: ``{(model, field): roles}`` where a
      field's writers differ from its model's;
    - ``field_access_client_values``: ``{(model, field): value}`` the value
      a client sends, where the first other valid value is one a client
      may choose (a retainer may be created as a draft);
    - ``field_access_reviewed``: ``{(model, field): why}`` derived fields
      that decide nothing (a label, a relation kept by its own model);
    - ``field_access_create_vals``: model name -> ``(role, vals)`` a role
      creates a record with, to try the server fields on ``create()`` too.
    """

    field_access_module = None
    field_access_field_writers = {}
    field_access_client_values = {}

    @classmethod
    def _setup_field_access_roles(cls, company, other_company):
        cls.role_users = {}
        for role, groups in ROLE_GROUPS.items():
            user_company = other_company if role == "other_company" else company
            cls.role_users[role] = new_test_user(
                cls.env,
                login=f"field_access_{role}",
                groups=groups,
                name=f"Field access {role}",
                company_id=user_company.id,
                company_ids=[Command.set(user_company.ids)],
            )

    # === WHAT THE ADDON ADDS === #

    def _addon_fields(self):
        """``(model, field)`` of every stored field the addon adds to a
        model some role may write, but relations to many records (kept by
        the records of the other side) and the ORM's own fields."""
        data = self.env["ir.model.data"].search(
            [
                ("model", "=", "ir.model.fields"),
                ("module", "=", self.field_access_module),
            ]
        )
        result = []
        for field_rec in self.env["ir.model.fields"].browse(data.mapped("res_id")):
            Model = self.env.get(field_rec.model)
            field = Model._fields.get(field_rec.name) if Model is not None else None
            if (
                field is None
                or Model._transient
                or Model._abstract
                or not Model._auto
                or not field.store
                or field.name in MAGIC_FIELDS
                or field.type in ("one2many", "many2many")
                or not self._model_writable_by_someone(Model._name)
            ):
                continue
            result.append((Model._name, field.name))
        return sorted(result)

    def _model_writable_by_someone(self, model):
        return bool(
            self.env["ir.model.access"].search_count(
                [
                    ("model_id.model", "=", model),
                    "|",
                    ("perm_write", "=", True),
                    ("perm_create", "=", True),
                ]
            )
        )

    @staticmethod
    def _is_derived(field):
        """Read-only in its definition (a computed field is, unless it is
        declared editable): its value is meant to come from the server."""
        return bool(field.readonly)

    def _server_fields(self, model):
        return getattr(self.env[model], "_retainer_server_fields", frozenset())

    # === VALUES AND ATTEMPTS === #

    def _client_value(self, record, fname):
        """A valid value of ``fname`` that differs from ``record``'s."""
        if (record._name, fname) in self.field_access_client_values:
            return self.field_access_client_values[record._name, fname]
        field = record._fields[fname]
        current = record.sudo()[fname]
        if field.type == "boolean":
            return not current
        if field.type in ("integer", "float", "monetary"):
            return 4001 if current == 4000 else 4000
        if field.type == "selection":
            values = [value for value, _label in field._description_selection(self.env)]
            return next(value for value in values if value != current)
        if field.type == "date":
            return date(2001, 2, 3)
        if field.type == "datetime":
            return datetime(2001, 2, 3, 4, 5, 6)
        if field.type in ("char", "text", "html"):
            return "Value sent by a client"
        if field.type == "many2one":
            other = (
                self.env[field.comodel_name]
                .sudo()
                .search([("id", "!=", current.id)], limit=1, order="id desc")
            )
            self.assertTrue(other, f"no other {field.comodel_name} to try {fname}")
            return other.id
        raise AssertionError(f"no client value for {field.type} field {fname}")

    def _stored(self, record, fname):
        record.invalidate_recordset([fname])
        value = record.sudo()[fname]
        return value.id if hasattr(value, "_name") else value

    @contextmanager
    def _undone(self):
        """Run the block in a savepoint, then roll it back: every attempt
        starts from the same data."""
        try:
            with suppress(_Undo), self.env.cr.savepoint():
                yield
                self.env.flush_all()
                raise _Undo
        finally:
            self.env.invalidate_all()

    def _try_write(self, record, role, vals):
        """Write ``vals`` on ``record`` as ``role``; return ``None`` when
        refused with an AccessError, else the stored values after it."""
        user = self.role_users[role]
        stored = None
        with self._undone():
            try:
                with self.env.cr.savepoint():
                    record.with_user(user).with_company(user.company_id).write(vals)
                    self.env.flush_all()
            except AccessError:
                return None
            stored = {fname: self._stored(record, fname) for fname in vals}
        return stored

    # === THE CHECKS === #

    def test_derived_fields_are_server_fields(self):
        """A stored read-only or computed field the addon adds, on a model
        someone may write, is a server field or reviewed as deciding
        nothing; every declared server field exists."""
        unclassified = []
        for model, fname in self._addon_fields():
            field = self.env[model]._fields[fname]
            if not self._is_derived(field):
                continue
            if fname in self._server_fields(model):
                continue
            if (model, fname) in self.field_access_reviewed:
                continue
            unclassified.append(f"{model}.{fname}")
        self.assertEqual(
            unclassified,
            [],
            "derived fields a client could set: add them to the model's "
            "_retainer_server_fields",
        )
        for model in self.field_access_samples:
            for fname in self._server_fields(model):
                self.assertIn(fname, self.env[model]._fields, model)

    def test_server_fields_never_take_a_client_value(self):
        """No role, however privileged, sets a server field by write()."""
        checked = 0
        for model, record in self.field_access_samples.items():
            server_fields = self._server_fields(model) & set(record._fields)
            for fname in sorted(server_fields):
                before = self._stored(record, fname)
                value = self._client_value(record, fname)
                for role in self.role_users:
                    with self.subTest(model=model, field=fname, role=role):
                        stored = self._try_write(record, role, {fname: value})
                        if stored is not None:
                            self.assertEqual(stored[fname], before)
                            checked += 1
        # Writable by at least the admin: the loop really wrote something.
        self.assertGreaterEqual(checked, len(self.field_access_samples))

    def test_server_fields_never_taken_on_create(self):
        """Nor on create(): the record gets the server's values, as one
        created without them."""
        for model, (role, vals) in self.field_access_create_vals.items():
            Model = self.env[model].with_user(self.role_users[role])
            server_fields = sorted(self._server_fields(model))
            sample = self.field_access_samples[model]
            client_vals = {
                fname: self._client_value(sample, fname) for fname in server_fields
            }
            with self.subTest(model=model, role=role), self._undone():
                control = Model.create(dict(vals))
                forged = Model.create(dict(vals) | client_vals)
                for fname in server_fields:
                    self.assertEqual(
                        self._stored(forged, fname),
                        self._stored(control, fname),
                        f"{model}.{fname} took a client value on create",
                    )

    def test_editable_fields_by_role(self):
        """An editable field is written by the roles of its model and
        refused to the others with an AccessError."""
        for model, fname in self._addon_fields():
            field = self.env[model]._fields[fname]
            if self._is_derived(field) or fname in self._server_fields(model):
                continue
            record = self.field_access_samples[model]
            value = field.convert_to_write(record.sudo()[fname], record)
            writers = self.field_access_field_writers.get(
                (model, fname), self.field_access_writers[model]
            )
            for role in self.role_users:
                with self.subTest(model=model, field=fname, role=role):
                    stored = self._try_write(record, role, {fname: value})
                    self.assertEqual(
                        stored is not None,
                        role in writers,
                        f"{role} {'may' if stored is not None else 'may not'} "
                        f"write {model}.{fname}",
                    )
