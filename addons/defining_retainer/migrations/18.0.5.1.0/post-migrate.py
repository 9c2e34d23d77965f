"""Durations for people, units of measure that say what they sell.

- The retainer products of the module, still sold in Units, are sold in
  retainer days, retainer hours and packs (units of measure of the same
  category, of the same size: nothing sold changes).
- The emails (templates staff may have edited, not updated by the module)
  write durations as ``1 h 30 min`` instead of ``01:30 hours``: the old
  expressions are replaced where they are still as the module wrote them.
"""

from odoo import SUPERUSER_ID, api

PRODUCT_UOMS = {
    "defining_retainer.product_retainer_day": "defining_retainer.uom_retainer_day",
    "defining_retainer.product_retainer_hour": "defining_retainer.uom_retainer_hour",
    "defining_retainer.product_retainer_pack": "defining_retainer.uom_retainer_pack",
}

TEMPLATES = (
    "defining_retainer.mail_template_retainer_low_balance",
    "defining_retainer.mail_template_retainer_overdraft",
    "defining_retainer.mail_template_retainer_expiry",
    "defining_retainer.mail_template_retainer_statement",
)

WIDGET = "t-options=\"{'widget': 'retainer_duration'}\""
REPLACEMENTS = (
    (
        "(<t t-out=\"format_duration(values.get('hours', 0))\">1:30</t> hours)",
        f"(<t t-out=\"values.get('hours', 0)\" {WIDGET}>1 h 30 min</t>)",
    ),
    (
        "(<t t-out=\"format_duration(values.get('hours', 0))\">1:00</t> hours)",
        f"(<t t-out=\"values.get('hours', 0)\" {WIDGET}>1 h</t>)",
    ),
    (
        "(<t t-out=\"format_duration(values.get('hours', 0))\">2:30</t> hours)",
        f"(<t t-out=\"values.get('hours', 0)\" {WIDGET}>2 h 30 min</t>)",
    ),
    (
        (
            '(<t t-out="format_duration('
            'object._units_to_hours(statement.closing_units))">14:00</t> hours)'
        ),
        (
            '(<t t-out="object._units_to_hours(statement.closing_units)" '
            f"{WIDGET}>14 h</t>)"
        ),
    ),
)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    units = env.ref("uom.product_uom_unit")
    for product_xmlid, uom_xmlid in PRODUCT_UOMS.items():
        product = env.ref(product_xmlid, raise_if_not_found=False)
        uom = env.ref(uom_xmlid, raise_if_not_found=False)
        if not product or not uom or product.uom_id != units:
            continue
        product.product_tmpl_id.write({"uom_id": uom.id, "uom_po_id": uom.id})
    languages = [code for code, _name in env["res.lang"].get_installed()]
    for template_xmlid in TEMPLATES:
        template = env.ref(template_xmlid, raise_if_not_found=False)
        if not template:
            continue
        for lang in languages:
            localized = template.with_context(lang=lang)
            body = localized.body_html or ""
            new_body = body
            for old, new in REPLACEMENTS:
                new_body = new_body.replace(old, new)
            if new_body != body:
                localized.body_html = new_body
