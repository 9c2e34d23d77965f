import inspect
import json
import re
from urllib.parse import urlencode

from odoo.tests import tagged

from .common import RetainerPortalCommon

# The controllers fuzzed: every route these addons declare or override.
ADDON_MODULES = (
    "odoo.addons.defining_retainer.",
    "odoo.addons.defining_retainer_portal.",
)
# Hostile values of a query or form parameter.
BAD_VALUES = {
    "nul": "1\x00x",
    "huge": "x" * 10000,
    "huge_number": "9" * 10000,
    "id_20_digits": "9" * 20,
    "id_11_digits": "9" * 11,
    "negative": "-1",
    "non_numeric": "abc",
    "unknown": "evil",
    "empty": "",
    "float": "1.5",
    "nan": "nan",
    "unicode_digit": "\u00b2",
}
# Hostile values of a path segment (the router's converters refuse some:
# 404). Not a NUL byte nor thousands of digits in a number: the router
# and what core serves when no route matches are core's.
BAD_PATH_VALUES = {
    "int": ("0", "-1", "abc", "9" * 11, "9" * 20, "9" * 4000),
    "string": ("evil", "x%00y", "x" * 2000, "9" * 20),
}
# What a route may answer: a page, a redirect, a refused request.
ACCEPTED_STATUSES = (200, 303, 400, 404)
# What a JSON route may raise: a refusal, never a server error.
ACCEPTED_JSON_ERRORS = (
    "werkzeug.exceptions.NotFound",
    "werkzeug.exceptions.BadRequest",
    "werkzeug.exceptions.Forbidden",
    "odoo.exceptions.AccessError",
    "odoo.exceptions.MissingError",
)
# JSON routes whose record parameters are fixed to the addons' records: the
# model is core's to check.
JSON_FIXED_PARAMS = {"portal_message_fetch": {"thread_model": "retainer.contract"}}
KW_PARAM_RE = re.compile(r"""kw\.get\(\s*["'](\w+)["']""")
CONVERTER_KIND = {
    "IntegerConverter": "int",
    "SignedIntConverter": "int",
    "UnicodeConverter": "string",
}


@tagged("post_install", "-at_install", "defining_retainer_portal")
class TestPortalParamFuzz(RetainerPortalCommon):
    """Every parameter of every route of both addons, given hostile values
    by the owner, an anonymous visitor and a visitor with a wrong share
    token: each answer is a page, a redirect, a 400 or a 404, never a server
    error, and nothing is written."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.entry = cls.retainer.ledger_entry_ids[:1]
        # A completed audit, for its report's route.
        cls.audit = cls.env["retainer.audit"].create(
            {
                "contract_id": cls.retainer.id,
                "asset_ids": [(0, 0, {"name": "Server", "override_reason": "Seen"})],
            }
        )
        cls.audit.action_complete()
        # Valid values of the path arguments: a new argument fails
        # test_every_route_is_fuzzed until it has one here.
        cls.valid_path_values = {
            "retainer_id": str(cls.retainer.id),
            "page": "1",
            "statement_id": "1",
            "entry_id": str(cls.entry.id),
            "kind": "order",
            "audit_id": str(cls.audit.id),
        }

    # === ROUTES OF THE ADDONS === #

    def _addon_rules(self):
        """The rules of the routing map whose endpoint one of the addons
        declares or overrides."""
        rules = []
        for rule in self.env["ir.http"].routing_map().iter_rules():
            method = rule.endpoint.func
            name = method.__name__
            if any(
                name in cls.__dict__ and cls.__module__.startswith(ADDON_MODULES)
                for cls in type(method.__self__).mro()
            ):
                rules.append(rule)
        return rules

    def _route_params(self, rule):
        """Names of the parameters the endpoint of ``rule`` reads: its named
        arguments and what it reads from ``**kw``, less the path's."""
        method = rule.endpoint.func
        names = [
            name
            for name, param in inspect.signature(method).parameters.items()
            if param.kind == param.POSITIONAL_OR_KEYWORD
        ]
        for cls in type(method.__self__).mro():
            func = cls.__dict__.get(method.__name__)
            if func and cls.__module__.startswith(ADDON_MODULES):
                names += KW_PARAM_RE.findall(inspect.getsource(func))
        fixed = JSON_FIXED_PARAMS.get(method.__name__, {})
        return [
            name
            for name in dict.fromkeys(names)
            if name not in rule.arguments and name not in fixed
        ]

    def _path(self, rule, **overrides):
        """The URL of ``rule`` with valid path arguments, except
        ``overrides`` (already URL-encoded)."""
        values = self.valid_path_values | overrides

        def replace(match):
            return values[match.group("name")]

        return re.sub(r"<(?:\w+:)?(?P<name>\w+)>", replace, rule.rule)

    def _kind(self, rule):
        if rule.endpoint.routing["type"] == "json":
            return "json"
        methods = rule.methods or {"GET"}
        return "post" if "GET" not in methods else "get"

    # === REQUESTS === #

    def _csrf(self):
        """A CSRF token of the current session (anonymous or not)."""
        return self._csrf_token(
            self._detail_url(
                self.retainer, access_token=self.retainer._portal_ensure_token()
            )
        )

    def _check_http(self, kind, url, params, csrf):
        if kind == "post":
            response = self.url_open(
                url, data=params + [("csrf_token", csrf)], allow_redirects=False
            )
        else:
            query = urlencode(params)
            response = self.url_open(
                f"{url}?{query}" if query else url, allow_redirects=False
            )
        self.assertIn(response.status_code, ACCEPTED_STATUSES)

    def _check_json(self, url, params):
        response = self.url_open(
            url,
            data=json.dumps(
                {"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}
            ),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        error = response.json().get("error")
        if error:
            self.assertIn(error["data"]["name"], ACCEPTED_JSON_ERRORS)

    def _written(self):
        """What a refused request must not change."""
        return (
            self.env["sale.order"].search_count([]),
            self.env["retainer.ledger.entry"].search_count([]),
            self.env["mail.message"].search_count(
                [("model", "=", "retainer.contract")]
            ),
            self.env["mail.activity"].search_count([]),
        )

    def _fuzz(self, extra_params=()):
        """Send every hostile value to every parameter and path argument of
        every route; ``extra_params`` are added to each request (a share
        token)."""
        extra_params = list(extra_params)
        csrf = self._csrf()
        before = self._written()
        for rule in self._addon_rules():
            kind = self._kind(rule)
            fixed = JSON_FIXED_PARAMS.get(rule.endpoint.func.__name__, {})
            valid_url = self._path(rule)
            cases = []
            for argument, converter in rule._converters.items():
                for value in BAD_PATH_VALUES[CONVERTER_KIND[type(converter).__name__]]:
                    cases.append((self._path(rule, **{argument: value}), []))
            for name in self._route_params(rule):
                for value in BAD_VALUES.values():
                    cases.append((valid_url, [(name, value)]))
                cases.append((valid_url, [(name, "1"), (name, "abc"), (name, "")]))
            for url, params in cases:
                with self.subTest(
                    rule=rule.rule, url=url[:200], params=str(params)[:200]
                ):
                    if kind == "json":
                        # The fuzzed value wins, as the first of repeated
                        # HTTP parameters does.
                        json_params = (
                            dict(fixed)
                            | {"thread_id": self.retainer.id}
                            | dict(extra_params)
                            | dict(params)
                        )
                        self._check_json(url, json_params)
                    else:
                        self._check_http(kind, url, params + extra_params, csrf)
        self.env.invalidate_all()
        self.assertEqual(self._written(), before)

    # === TESTS === #

    def test_every_route_is_fuzzed(self):
        """The fuzz reaches every route of both addons, each path argument
        and each parameter their endpoints read."""
        rules = self._addon_rules()
        routes = {rule.rule for rule in rules}
        self.assertGreaterEqual(
            routes,
            {
                "/my/retainers",
                "/my/retainers/page/<int:page>",
                "/my/retainers/<int:retainer_id>",
                "/my/retainers/<int:retainer_id>/page/<int:page>",
                "/my/retainers/<int:retainer_id>/statement",
                "/my/retainers/<int:retainer_id>/statements/<int:statement_id>",
                "/my/retainers/<int:retainer_id>/document/<int:entry_id>/<string:kind>",
                "/my/retainers/<int:retainer_id>/topup",
                "/my/retainers/<int:retainer_id>/buy",
                "/my/retainers/<int:retainer_id>/mail_preferences",
                "/mail/chatter_fetch",
            },
        )
        for rule in rules:
            with self.subTest(rule=rule.rule):
                for argument, converter in rule._converters.items():
                    self.assertIn(argument, self.valid_path_values)
                    self.assertIn(type(converter).__name__, CONVERTER_KIND)
        detail = next(r for r in rules if r.rule == "/my/retainers/<int:retainer_id>")
        self.assertGreaterEqual(
            set(self._route_params(detail)),
            {"access_token", "report_type", "date_from", "search", "purchase"},
        )

    def test_fuzz_as_owner(self):
        self.authenticate(self.portal_user.login, self.portal_user.login)
        self._fuzz()

    def test_fuzz_as_anonymous(self):
        self.authenticate(None, None)
        self._fuzz()

    def test_fuzz_with_wrong_share_token(self):
        self.authenticate(None, None)
        self._fuzz(extra_params=[("access_token", "wrong"), ("token", "wrong")])

    def test_fuzz_with_share_token(self):
        self.authenticate(None, None)
        token = self.retainer._portal_ensure_token()
        self._fuzz(extra_params=[("access_token", token)])
