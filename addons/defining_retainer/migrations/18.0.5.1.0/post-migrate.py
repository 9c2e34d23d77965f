"""Durations for people, units of measure that say what they sell.

- The retainer products of the module, still sold in Units, are sold in
  retainer days, retainer hours and packs (units of measure of the same
  category, of the same size: nothing sold changes).
- The emails (templates staff may have edited, not updated by the module)
  write durations as ``1 h 30 min`` instead of ``01:30 hours``, in every
  installed language: an expression ``format_duration(...)`` followed by its
  word for hours becomes the ``retainer_duration`` widget. Anything else
  staff wrote is left as it is.
"""

import re

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

# (<t t-out="format_duration(EXPR)">1:30</t> hours) -> (<t t-out="EXPR"
# t-options="{'widget': 'retainer_duration'}">1:30</t>), "hours" in any
# language (one word).
CLOCK_DURATION = re.compile(
    r'\(<t t-out="format_duration\((?P<expr>[^"]*)\)">(?P<sample>[^<]*)</t> \w+\)'
)
WIDGET = "t-options=\"{'widget': 'retainer_duration'}\""


def _durations_for_people(body):
    return CLOCK_DURATION.sub(
        lambda match: f'(<t t-out="{match["expr"]}" {WIDGET}>{match["sample"]}</t>)',
        body,
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
            new_body = _durations_for_people(body)
            if new_body != body:
                localized.body_html = new_body
