import math
from datetime import timedelta

from markupsafe import Markup

from odoo import Command, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.osv import expression
from odoo.tools import SQL, format_date, groupby

from odoo.addons.defining_retainer.models.retainer_contract import (
    CUSTOMER_MAIL_KINDS,
)
from odoo.addons.defining_retainer.tools.units import (
    MAX_TOPUP_DAYS,
    max_topup_quantity,
    quantity_to_units,
)

from ..tools import topup as topup_tools

PORTAL_TOPUP_LIMIT = 10
# Products offered by the buy form: a short list to choose from.
PORTAL_BUY_PRODUCT_LIMIT = 12
PORTAL_STATEMENT_LIMIT = 24
TOPUP_NOTE_MAX_LENGTH = 1000
# Orders a customer makes on the portal: what the hourly limit counts.
PORTAL_ORIGINS = ("portal_request", "portal_buy")
# Transactions that may still pay an open quotation: a second "Buy" then
# leaves it as it is.
PAYMENT_UNDER_WAY_STATES = ("pending", "authorized", "done")
# Top-ups the customer pays online, whose payment brings them back to the
# retainer's page: bought on the portal, or automatic.
PAID_ONLINE_ORIGINS = ("portal_buy", "auto")


class RetainerContract(models.Model):
    """The portal side of a retainer: the pages and statements its customer
    sees, the top-ups they request or buy, its conversation and their email
    preferences."""

    _inherit = "retainer.contract"

    # Customers may read their retainers, never write them: reading is enough
    # to post in the conversation (as on invoices and tasks). Who can read is
    # the record rules' business (security/retainer_portal_security.xml).
    _mail_post_access = "read"

    # === PORTAL: HOME TILE === #

    def _portal_home_summaries(self):
        """What the /my tile says of each retainer of ``self``: ``name``,
        ``balance`` (``56 units``) and ``alert``, the one thing to act on
        (an overdraft, units about to expire) or ``False``."""
        summaries = []
        for retainer in self:
            alert = False
            if retainer.balance_units < 0:
                alert = self.env._(
                    "Overdrawn by %(units)s units", units=-retainer.balance_units
                )
            elif retainer.expiring_units > 0:
                alert = self.env._(
                    "%(units)s units expire on %(date)s",
                    units=retainer.expiring_units,
                    date=format_date(self.env, retainer.next_expiry_date),
                )
            summaries.append(
                {
                    "name": retainer.name,
                    "balance": self.env._(
                        "%(units)s units", units=retainer.balance_units
                    ),
                    "alert": alert,
                }
            )
        return summaries

    # === PORTAL: DOMAINS === #

    def _portal_usage_domain(self, date_from=None, date_to=None, search=None):
        """Domain of the entries of ``self`` listed as usage on the portal:
        every entry but the top-ups (credits and their reversals), dated
        within ``date_from``..``date_to`` (dates, both optional), whose
        customer-facing text contains ``search``.

        Reversal and debit reasons are internal: the search only looks at a
        reason where the portal shows it (adjustments and expiries).
        """
        self.ensure_one()
        domain = [
            ("contract_id", "=", self.id),
            ("effective_kind", "!=", "credit"),
        ]
        if date_from:
            domain.append(("date", ">=", date_from))
        if date_to:
            domain.append(("date", "<=", date_to))
        if search:
            domain += [
                "|",
                ("name", "ilike", search),
                "&",
                ("kind", "in", ("adjustment", "expiry")),
                ("reason", "ilike", search),
            ]
        return domain

    def _portal_topup_domain(self):
        """Domain of the top-ups of ``self``: credits and their reversals."""
        self.ensure_one()
        return [
            ("contract_id", "=", self.id),
            ("effective_kind", "=", "credit"),
        ]

    # === PORTAL: PAGE VALUES === #

    def _portal_detail_values(
        self,
        *,
        date_from=None,
        date_to=None,
        search=None,
        group_by_month=False,
        group_by_incident=False,
        page=1,
        step=40,
        today=None,
    ):
        """Return what the portal page of ``self`` shows, in a number of
        queries that does not depend on the size of the ledger.

        Called on the record returned by the portal's access check (sudo):
        it reads the ledger of ``self`` only.

        :param date_from, date_to: optional ``date`` bounds of the usage.
        :param str search: optional text searched in the descriptions.
        :param bool group_by_month: also return the page's entries grouped
            by month with the totals of each whole month.
        :param bool group_by_incident: also return the page's entries
            grouped by incident (see :meth:`_portal_incident_groups`).
        :param int page: usage page, clamped to the pages that exist.
        :param int step: usage entries per page.
        :returns: dict with ``usage_entries`` (this page), ``usage_total``
            (matching entries), ``usage_units``, ``usage_entered_hours``,
            ``usage_hours`` (totals of the matching entries), ``page`` (the
            clamped page), ``month_groups``, ``incident_groups``, ``topups``,
            ``topup_total``, ``topup_documents``, ``expiring``, ``expiring_dates`` and
            ``blocks_today`` (see :meth:`_portal_block_values`) and
            ``forecast``.
        """
        self.ensure_one()
        Ledger = self.env["retainer.ledger.entry"]
        domain = self._portal_usage_domain(date_from, date_to, search)
        [(count, units, entered)] = Ledger._read_group(
            domain, [], ["__count", "units:sum", "entered_hours:sum"]
        )
        page_count = math.ceil(count / step)
        page = max(1, min(page, page_count))
        entries = Ledger.search(domain, limit=step, offset=(page - 1) * step)
        blocks = self._portal_block_values(today=today)
        topups = blocks["topups"]
        return {
            "usage_entries": entries,
            "usage_total": count,
            "usage_units": units or 0,
            "usage_entered_hours": entered or 0.0,
            "usage_hours": self._units_to_hours(-(units or 0)),
            "page": page,
            "month_groups": (
                self._portal_month_groups(domain, entries) if group_by_month else []
            ),
            "incident_groups": (
                self._portal_incident_groups(domain, entries, date_from, date_to)
                if group_by_incident
                else []
            ),
            "topups": topups,
            "topup_total": Ledger.search_count(self._portal_topup_domain()),
            "topup_documents": topups._portal_documents(),
            "expiring": blocks["expiring"],
            "expiring_dates": {
                expiry_date for expiry_date, _units in blocks["expiring"]
            },
            "blocks_today": blocks["today"],
            "forecast": self._portal_forecast(today=today),
        }

    def _portal_block_values(self, today=None):
        """Return the top-ups the portal page lists, with their block
        figures, and what expires soon, in a number of queries that does not
        depend on the number of blocks.

        The page lists the ``PORTAL_TOPUP_LIMIT`` most recent top-ups and
        every block that still has units left, newest first. Their figures
        (``consumed_units``, ``expired_units``, ``remaining_units``) are
        computed for all of them at once: one replay of the ledger.

        :param datetime.date today: default: today in the user's timezone.
        :returns: dict with ``topups`` (``retainer.ledger.entry``),
            ``expiring``: list of ``(expiry date, units)`` of the blocks with
            units left that expire within ``EXPIRING_SOON_DAYS`` days, by
            date, and ``today``.
        """
        self.ensure_one()
        today = today or fields.Date.context_today(self)
        Ledger = self.env["retainer.ledger.entry"]
        recent = Ledger.search(self._portal_topup_domain(), limit=PORTAL_TOPUP_LIMIT)
        live_blocks = Ledger.search(self._live_block_domain())
        candidates = recent | live_blocks
        # One replay computes the figures of every candidate.
        candidates.fetch(["date", "expiry_date", "units", "kind"])
        candidates.mapped("remaining_units")
        open_blocks = live_blocks.filtered("remaining_units")
        return {
            "topups": (recent | open_blocks).sorted(
                lambda entry: (entry.date, entry.id), reverse=True
            ),
            "expiring": open_blocks._expiring_summary(today),
            "today": today,
        }

    def _portal_incident_groups(self, domain, entries, date_from=None, date_to=None):
        """Group ``entries`` (one page) by incident, each incident with all
        its entries matching ``domain`` (an incident whose entries span two
        pages shows whole on both) and its lines dated within
        ``date_from``..``date_to``, those that cost no unit included (see
        ``retainer.ledger.entry._retainer_incident_groups``). A constant
        number of queries, whatever the number of incidents."""
        if not entries:
            return []
        Ledger = self.env["retainer.ledger.entry"]
        refs = [ref for ref in set(entries.mapped("incident_ref")) if ref]
        others = (
            Ledger.search(
                expression.AND(
                    [
                        domain,
                        [("incident_ref", "in", refs), ("id", "not in", entries.ids)],
                    ]
                )
            )
            if refs
            else Ledger
        )
        return (entries | others)._retainer_incident_groups(date_from, date_to)

    def _portal_month_groups(self, domain, entries):
        """Group ``entries`` (one page, newest first) by month, each month
        with the totals of all its entries matching ``domain`` (one grouped
        query, whatever the number of rows)."""
        if not entries:
            return []
        Ledger = self.env["retainer.ledger.entry"]
        dates = entries.mapped("date")
        month_domain = expression.AND(
            [
                domain,
                [("date", ">=", min(dates).replace(day=1)), ("date", "<=", max(dates))],
            ]
        )
        totals = {
            month: (count, units or 0, entered or 0.0)
            for month, count, units, entered in Ledger._read_group(
                month_domain,
                ["date:month"],
                ["__count", "units:sum", "entered_hours:sum"],
            )
        }
        groups = []
        for month, month_entries in groupby(
            entries, key=lambda entry: entry.date.replace(day=1)
        ):
            count, units, entered = totals.get(month, (0, 0, 0.0))
            groups.append(
                {
                    "month": month,
                    # Keep the page's prefetch set: one query per field
                    # for the whole page, not one per month.
                    "entries": Ledger.concat(*month_entries).with_prefetch(
                        entries._prefetch_ids
                    ),
                    "count": count,
                    "units": units,
                    "entered_hours": entered,
                    "hours": self._units_to_hours(-units),
                }
            )
        return groups

    def _portal_forecast(self, today=None):
        """Forecast when the balance of ``self`` runs out (see
        ``retainer.contract._retainer_forecasts`` in the core addon).

        :param datetime.date today: last day of the window (default: today
            in the user's timezone).
        :returns: a ``forecast.Forecast``.
        """
        self.ensure_one()
        return self._retainer_forecasts(today=today)[self.id]

    # === PORTAL: PAST STATEMENTS === #

    def _portal_past_statements(self):
        """The ``PORTAL_STATEMENT_LIMIT`` latest statements of ``self``
        emailed to the customer, newest first.

        Called on the record returned by the portal's access check (sudo):
        they are the statements of this retainer only.
        """
        self.ensure_one()
        return self.env["retainer.statement"].search(
            [("contract_id", "=", self.id)], limit=PORTAL_STATEMENT_LIMIT
        )

    def _portal_statement_attachment(self, statement_id):
        """The PDF of the statement ``statement_id`` of ``self`` (empty when
        it is no statement of ``self`` or has no PDF). Called on the record
        returned by the portal's access check (sudo), like
        :meth:`_portal_past_statements`."""
        self.ensure_one()
        statement = self.env["retainer.statement"].search(
            [("id", "=", statement_id), ("contract_id", "=", self.id)], limit=1
        )
        return statement.attachment_id

    # === PORTAL: TOP-UPS === #

    def _portal_payer(self, partner=None):
        """The contact a portal top-up of ``self`` is ordered for and paid
        by: ``partner`` when it is one of the customer's contacts, else the
        retainer's customer (a visitor using a share link, ``partner``
        ``None``, or someone of another company).

        :param partner: ``res.partner`` ordering on the portal, or ``None``.
        """
        self.ensure_one()
        customer = self.partner_id.commercial_partner_id
        if not partner or partner.commercial_partner_id != customer:
            return self.partner_id
        return partner

    def _portal_order_units(self, order):
        """Units the retainer products of ``order`` credit (rounded half up
        as each order line does)."""
        return sum(
            line._retainer_qty_to_units(line.product_uom_qty)
            for line in order.order_line.filtered("retainer_product_units")
        )

    def _portal_topup_document(self, entry_id, kind):
        """The order (``kind`` ``"order"``) or invoice (``"invoice"``) of the
        top-up entry ``entry_id`` of ``self`` that its customer may open
        (see ``retainer.ledger.entry._portal_documents``), ``None`` when the
        entry is not one of ``self`` or has no such document.

        Called on the record returned by the portal's access check (sudo).
        """
        self.ensure_one()
        # sudo: the caller proved the right to see this retainer, and only a
        # top-up entry of this retainer linking a document of its customer is
        # returned.
        entry_sudo = self.env["retainer.ledger.entry"].sudo().browse(entry_id)
        if not entry_sudo.exists() or entry_sudo.contract_id != self:
            return None
        return entry_sudo._portal_documents().get(entry_sudo.id, {}).get(kind)

    # === PORTAL: TOP-UP REQUEST === #

    def _portal_request_topup(self, quantity, unit, note=None, requester=None):
        """Ask for a top-up of ``quantity`` ``unit`` on behalf of the customer.

        Checks the request, then schedules an activity for the account
        manager, posts in the retainer's conversation (a comment of the
        requester, which the customer sees on the portal) and, when the
        company has a retainer product for ``unit``, creates a draft
        quotation for the customer.

        Called on the record returned by the portal's access check (sudo):
        the caller proved the right to see this retainer; everything written
        concerns this retainer and its customer only.

        :param float quantity: how many days or hours (``None`` if the form
            value was not a number).
        :param str unit: ``day`` or ``hour``.
        :param str note: optional message from the customer.
        :param requester: ``res.partner`` asking (``None`` for a visitor
            using a share link: the customer then).
        :returns: the draft quotation (``sale.order``, empty when there is
            no retainer product for ``unit``).
        :raises UserError: on an invalid request; nothing is written then.
        """
        self.ensure_one()
        note = (note or "").strip()
        units = self._portal_check_topup_request(quantity, unit, note)
        self._portal_lock_topups()
        self._portal_check_topup_rate()
        requester = self._portal_payer(requester)
        order = self._portal_create_topup_order(quantity, unit, requester)
        if order:
            # What the quotation will credit (its products' units, rounded
            # half up as the order line does), which is what the customer
            # buys whatever the retainer's day length.
            units = self._portal_order_units(order)
        unit_label = dict(self._portal_topup_unit_selection())[unit]
        # Formatted outside the translated calls: the term extractor cannot
        # read f-strings among their arguments.
        quantity_label = f"{quantity:g}"
        summary = self.env._(
            "Top-up requested: %(quantity)s %(unit)s",
            quantity=quantity_label,
            unit=unit_label,
        )
        body = Markup("<p>%s</p>") % self.env._(
            "%(requester)s asked on the portal for %(quantity)s %(unit)s "
            "(%(units)s units).",
            requester=requester.display_name,
            quantity=quantity_label,
            unit=unit_label,
            units=units,
        )
        if order:
            body += Markup("<p>%s</p>") % self.env._(
                "Draft quotation %(order)s prepared.", order=order.name
            )
        if note:
            body += Markup("<p>%s</p>") % self.env._("Note: %(note)s", note=note)
        # In the retainer's conversation, in the requester's name: the
        # customer sees it on the portal, the account manager and the other
        # followers get it as any comment of the customer.
        self.message_post(
            body=body,
            author_id=requester.id,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        if order and note:
            order.message_post(
                body=body, author_id=requester.id, subtype_xmlid="mail.mt_note"
            )
        if self.user_id:
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=body,
                user_id=self.user_id.id,
            )
        return order

    def _portal_topup_unit_selection(self):
        return [
            (topup_tools.UNIT_DAY, self.env._("day(s)")),
            (topup_tools.UNIT_HOUR, self.env._("hour(s)")),
        ]

    def _portal_check_topup_request(self, quantity, unit, note):
        """Validate a top-up request and return the units it asks for.

        :raises UserError: with a message for the customer.
        """
        self.ensure_one()
        self._portal_check_topup_state()
        if unit not in topup_tools.UNITS:
            raise UserError(self.env._("Choose days or hours."))
        if quantity is None or quantity <= 0:
            raise UserError(self.env._("Enter a quantity greater than zero."))
        maximum = topup_tools.max_quantity(
            unit, day_hours=self.day_hours, max_days=MAX_TOPUP_DAYS
        )
        maximum_label = f"{maximum:g}"
        if quantity > maximum:
            raise UserError(
                self.env._(
                    "You can request at most %(maximum)s %(unit)s at a time.",
                    maximum=maximum_label,
                    unit=dict(self._portal_topup_unit_selection())[unit],
                )
            )
        units = topup_tools.requested_units(
            quantity,
            unit,
            unit_minutes=self.rounding_unit_minutes,
            day_hours=self.day_hours,
        )
        if not units:
            raise UserError(
                self.env._(
                    "The quantity must make whole %(minutes)s-minute units.",
                    minutes=self.rounding_unit_minutes,
                )
            )
        if len(note) > TOPUP_NOTE_MAX_LENGTH:
            raise UserError(
                self.env._(
                    "The note is too long (%(maximum)s characters at most).",
                    maximum=TOPUP_NOTE_MAX_LENGTH,
                )
            )
        return units

    def _portal_create_topup_order(self, quantity, unit, requester):
        """Create the draft quotation of a top-up request for ``requester``
        through the retainer's own top-up (``_create_topup_quotation``), or
        return an empty ``sale.order`` when the company has no retainer
        product for ``unit``: the account manager then prepares it from the
        activity."""
        self.ensure_one()
        try:
            self.company_id._retainer_product(unit)
        except UserError:
            return self.env["sale.order"]
        return self._create_topup_quotation(
            quantity,
            unit,
            partner_id=requester.id,
            retainer_topup_origin="portal_request",
        )

    # === PORTAL PURCHASES: WHAT IS OFFERED === #

    def _portal_buy_products(self):
        """The products a customer of this retainer may buy on the portal:
        none unless its company sells on the portal (portal top-ups "buy"),
        else its saleable retainer products sold on the portal. The portal
        offers purchases exactly when there are some."""
        self.ensure_one()
        if self.company_id.retainer_portal_topup_mode != "buy":
            return self.env["product.product"]
        return (
            self.env["product.product"]
            .with_company(self.company_id)
            .search(
                [
                    ("retainer_portal_published", "=", True),
                    ("retainer_units", ">", 0),
                    ("sale_ok", "=", True),
                    ("company_id", "in", (False, self.company_id.id)),
                ],
                order="retainer_units, id",
                limit=PORTAL_BUY_PRODUCT_LIMIT,
            )
        )

    def _portal_buy_units(self, product, quantity):
        """Whole units ``quantity`` of ``product`` (in its own unit of
        measure) credit: what the order line will credit."""
        return quantity_to_units(quantity, product.retainer_units)

    def _portal_buy_max_quantity(self, product):
        """Largest quantity of ``product`` one purchase may buy: the form's
        ``max`` and the server's check."""
        self.ensure_one()
        day_units = self.day_hours * 60 / self.rounding_unit_minutes
        return max_topup_quantity(product.retainer_units, day_units=day_units)

    def _portal_buy_offers(self, partner=None, products=None):
        """What the buy form offers: one dict per product with ``product``,
        ``units`` and ``hours`` credited per unit bought, ``uom`` (its unit
        of measure's name), ``price_subtotal`` and ``price_total`` of one
        unit (without and with taxes, from the customer's pricelist, fiscal
        position and currency, as an order line computes them),
        ``currency`` and ``max_quantity``.

        :param partner: the contact buying (default: the customer).
        :param products: the products offered, when the caller has them
            (default: ``_portal_buy_products``).
        """
        self.ensure_one()
        if products is None:
            products = self._portal_buy_products()
        if not products:
            return []
        # A draft order in memory prices the products exactly as the
        # quotation made by "Buy" will (pricelist, taxes, fiscal position).
        order = (
            self.env["sale.order"]
            .with_company(self.company_id)
            .new(
                {
                    "partner_id": (partner or self.partner_id).id,
                    "company_id": self.company_id.id,
                    "order_line": [
                        Command.create({"product_id": product.id, "product_uom_qty": 1})
                        for product in products
                    ],
                }
            )
        )
        offers = []
        for line in order.order_line:
            product = line.product_id
            units = self._portal_buy_units(product, 1)
            offers.append(
                {
                    "product": product,
                    "units": units,
                    "hours": self._units_to_hours(units),
                    # "per Day", but "each" for a product sold in Units or
                    # in its own count unit (a retainer day, a pack).
                    "uom": (
                        product.uom_id.name
                        if product.uom_id.category_id
                        != self.env.ref("uom.product_uom_categ_unit")
                        else False
                    ),
                    "price_subtotal": line.price_subtotal,
                    "price_total": line.price_total,
                    "currency": order.currency_id,
                    "max_quantity": self._portal_buy_max_quantity(product),
                }
            )
        return offers

    def _portal_can_pay_online(self, partner=None):
        """Whether the customer can pay this retainer's company online: a
        payment provider is available to them."""
        self.ensure_one()
        partner = partner or self.partner_id
        # sudo: the customer reads which providers they may pay with, as the
        # sale portal does; nothing is written.
        providers = (
            self.env["payment.provider"]
            .sudo()
            ._get_compatible_providers(
                self.company_id.id,
                partner.id,
                1.0,
                currency_id=(
                    partner.property_product_pricelist.currency_id
                    or self.company_id.currency_id
                ).id,
            )
        )
        return bool(providers)

    # === PORTAL PURCHASES: BUY === #

    def _portal_buy(self, product, quantity, requester=None):
        """Make (or reuse) the quotation of a portal purchase of
        ``quantity`` ``product`` for this retainer, to be paid online.

        The quotation is for the requesting contact (the customer's
        commercial entity is the customer), tops up this retainer, requires
        full payment online and no signature, and is marked sent: the caller
        sends the customer to its portal page to pay. Paid, Odoo confirms it
        and the retainer is credited following the company's credit trigger
        (see ``payment.transaction``). An open quotation of an earlier click
        is reused: updated to the new choice, or left as it is while a
        payment of it is under way.

        Called on the record returned by the portal's access check (sudo).

        :param product: ``product.product`` chosen (untrusted: checked).
        :param int quantity: whole quantity (``None`` if the form's value
            was not a whole number).
        :param requester: ``res.partner`` buying (``None``: the customer).
        :returns: the quotation (``sale.order``).
        :raises UserError: on a refused purchase; nothing is written then.
        """
        self.ensure_one()
        requester = self._portal_payer(requester)
        self._portal_check_buy(product, quantity, requester)
        self._portal_lock_topups()
        order = self._portal_open_purchase()
        if order:
            if not order.transaction_ids.filtered(
                lambda tx: tx.state in PAYMENT_UNDER_WAY_STATES
            ):
                order.order_line = [Command.clear()] + [
                    Command.create(
                        {"product_id": product.id, "product_uom_qty": quantity}
                    )
                ]
            return order
        self._portal_check_topup_rate()
        order = self._create_topup_quotation(
            quantity,
            product=product,
            partner_id=requester.id,
            retainer_topup_origin="portal_buy",
            require_signature=False,
            require_payment=True,
            prepayment_percent=1.0,
        )
        order.action_quotation_sent()
        units = self._portal_buy_units(product, quantity)
        self.message_post(
            body=Markup("<p>%s</p>")
            % self.env._(
                "%(requester)s started buying %(quantity)s × %(product)s "
                "(%(units)s units) on the portal: %(order)s, to be paid online.",
                requester=requester.display_name,
                quantity=quantity,
                product=product.display_name,
                units=units,
                order=order.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return order

    def _portal_open_purchase(self):
        """The newest portal purchase of this retainer still waiting for
        its payment: a quotation that has not expired."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        return self.env["sale.order"].search(
            [
                ("retainer_id", "=", self.id),
                ("retainer_topup_origin", "=", "portal_buy"),
                ("state", "in", ("draft", "sent")),
                "|",
                ("validity_date", "=", False),
                ("validity_date", ">=", today),
            ],
            order="id desc",
            limit=1,
        )

    def _portal_check_buy(self, product, quantity, requester):
        """Refuse a purchase that must not be made, with a message for the
        customer.

        :raises UserError:
        """
        self.ensure_one()
        self._portal_check_topup_state()
        products = self._portal_buy_products()
        if not products:
            raise UserError(
                self.env._(
                    "Top-ups cannot be bought online for this retainer: "
                    "request one instead."
                )
            )
        if not product or product not in products:
            raise UserError(self.env._("This product cannot be bought on the portal."))
        maximum = self._portal_buy_max_quantity(product)
        if quantity is None or not 1 <= quantity <= maximum:
            raise UserError(
                self.env._(
                    "Choose a whole quantity from 1 to %(maximum)s.",
                    maximum=maximum,
                )
            )
        if not self._portal_can_pay_online(requester):
            raise UserError(
                self.env._(
                    "Online payment is not available: request the top-up "
                    "instead, your account manager will send you a quotation."
                )
            )

    def _portal_check_topup_state(self):
        """Refuse top-ups of a closed or suspended retainer.

        :raises UserError:
        """
        self.ensure_one()
        if self.state == "closed":
            raise UserError(
                self.env._(
                    "This retainer is closed: please contact your account manager."
                )
            )
        if self.state == "suspended":
            raise UserError(
                self.env._(
                    "This retainer is suspended: please contact your account manager."
                )
            )

    def _portal_lock_topups(self):
        """Serialize this retainer's portal purchases and requests, before
        reading what they decide on (its open quotation, how many it made
        in the last hour).

        Two clicks at the same moment would each find no open quotation, or
        room under the hourly limit, and each make an order. A lock alone
        (``SELECT ... FOR NO KEY UPDATE``) is not enough under REPEATABLE
        READ: the click that waited would go on with its old snapshot,
        still without the other's order. Writing the retainer's row makes
        PostgreSQL abort the later of two concurrent clicks with a
        serialization failure, which Odoo retries with a fresh snapshot
        that sees the other's order (as ``sale.order._retainer_lock_customer``
        does for a customer's first retainer).
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "UPDATE retainer_contract SET write_date = write_date WHERE id = %s",
                self.id,
            )
        )

    def _portal_check_topup_rate(self):
        """Refuse a new portal purchase or request when this retainer made
        the company's hourly limit of them in the last hour.

        :raises UserError:
        """
        self.ensure_one()
        limit = self.company_id.retainer_portal_topup_hourly_limit
        since = fields.Datetime.now() - timedelta(hours=1)
        recent = self.env["sale.order"].search_count(
            [
                ("retainer_id", "=", self.id),
                ("retainer_topup_origin", "in", PORTAL_ORIGINS),
                ("create_date", ">=", since),
            ]
        )
        if recent >= limit:
            raise UserError(
                self.env._(
                    "This retainer already made %(count)s top-up requests or "
                    "purchases in the last hour: please try again later or "
                    "contact your account manager.",
                    count=recent,
                )
            )

    # === PORTAL PURCHASES: WHAT THE PAGE SHOWS === #

    def _portal_buy_values(self, partner=None):
        """What the retainer page offers ``partner`` (``None``: a visitor
        using a share link) to top up this retainer: ``topup_mode``
        (``"buy"`` when its company sells top-ups on the portal, else
        ``"request"``), ``buy_unavailable`` (buying is offered but cannot be
        paid online), ``buy_offers`` (see ``_portal_buy_offers``) and
        ``open_purchase`` (see ``_portal_open_purchase``), both empty unless
        the payer can pay online.
        """
        self.ensure_one()
        products = self._portal_buy_products()
        mode = "buy" if products else "request"
        payer = self._portal_payer(partner)
        can_pay = mode == "buy" and self._portal_can_pay_online(payer)
        return {
            "topup_mode": mode,
            "buy_unavailable": mode == "buy" and not can_pay,
            "buy_offers": self._portal_buy_offers(payer, products) if can_pay else [],
            "open_purchase": self._portal_open_purchase() if can_pay else False,
        }

    def _portal_purchase(self, purchase_id):
        """The top-up of ``self`` paid online whose id is ``purchase_id``
        (the purchase a customer comes back from after paying), an empty
        ``sale.order`` when ``purchase_id`` is not one of them.

        Called on the record returned by the portal's access check (sudo).
        """
        self.ensure_one()
        # sudo: the portal user reads their own retainer's order, found only
        # among the purchases of the retainer the caller proved access to.
        return (
            self.env["sale.order"]
            .sudo()
            .search(
                [
                    ("id", "=", purchase_id),
                    ("retainer_id", "=", self.id),
                    ("retainer_topup_origin", "in", PAID_ONLINE_ORIGINS),
                ]
            )
        )

    def _portal_purchase_values(self, purchase_id):
        """What the retainer page shows of the purchase ``purchase_id`` (see
        ``_portal_purchase``): ``purchase`` (the order), ``purchase_tx``
        (its latest transaction) and ``purchase_units`` (what it credits)."""
        order = self._portal_purchase(purchase_id)
        return {
            "purchase": order,
            "purchase_tx": order.transaction_ids.sorted("id")[-1:],
            "purchase_units": self._portal_order_units(order),
        }

    def _portal_is_paid_online(self, order):
        """Whether ``order`` is a top-up of ``self`` its customer pays online
        (bought on the portal, or automatic): paid, the customer goes back to
        the retainer's page."""
        return (
            bool(self)
            and order.retainer_id == self
            and order.retainer_topup_origin in PAID_ONLINE_ORIGINS
        )

    # === PORTAL: CONVERSATION === #

    def _portal_chatter_extra_message_domain(self):
        """Domain of the messages of ``self`` that the portal chatter shows
        besides the comments it shows for every document: the emails the
        customer got (alerts, statements, see ``CUSTOMER_MAIL_KINDS``).

        Their subtypes are not internal, so the access rules of
        ``mail.message`` let the customer read them; the domain repeats the
        conditions of the share domain for a visitor with the share link.
        """
        self.ensure_one()
        subtype_ids = [
            self.env.ref(subtype_xmlid).id
            for subtype_xmlid, _field in CUSTOMER_MAIL_KINDS.values()
        ]
        return [
            ("model", "=", self._name),
            ("res_id", "=", self.id),
            ("message_type", "in", ("comment", "email", "email_outgoing")),
            ("subtype_id", "in", subtype_ids),
            ("subtype_id.internal", "=", False),
            ("is_internal", "=", False),
        ]

    # === PORTAL: EMAIL PREFERENCES === #

    def _portal_mail_preferences(self, partner):
        """What the preferences form of ``self`` shows ``partner``.

        :returns: dict with ``notified`` (``partner`` is one of the contacts
            the retainer's emails go to) and, per kind of
            ``CUSTOMER_MAIL_KINDS``, whether ``partner`` gets those emails.
        """
        self.ensure_one()
        preferences = {"notified": partner in self.notify_partner_ids}
        for kind, (_subtype, optout_field) in CUSTOMER_MAIL_KINDS.items():
            preferences[kind] = (
                preferences["notified"] and partner not in (self[optout_field])
            )
        return preferences

    def _portal_set_mail_preferences(self, partner, preferences):
        """Switch the customer emails of ``self`` on or off for ``partner``.

        Called from the portal in sudo mode as the logged-in user, after the
        access check: a customer changes only their own choice, so
        ``partner`` must be the current user's contact (``self.env.user``:
        not the superuser the access check's record acts as), and only a
        notified contact has emails to switch off.

        :param partner: ``res.partner`` whose choice changes.
        :param dict preferences: ``{kind: bool}``, ``True`` to get the emails
            of ``kind`` (a key of ``CUSTOMER_MAIL_KINDS``); kinds left out
            keep their setting.
        :raises AccessError: ``partner`` is not the current user's contact.
        :raises UserError: ``partner`` gets no email of ``self``, or an
            unknown kind; nothing is written then.
        """
        self.ensure_one()
        if partner != self.env.user.partner_id:
            raise AccessError(
                self.env._(
                    "You can only change your own email preferences, not those "
                    "of %(contact)s.",
                    contact=partner.display_name,
                )
            )
        if set(preferences) - set(CUSTOMER_MAIL_KINDS) or not all(
            isinstance(value, bool) for value in preferences.values()
        ):
            raise UserError(self.env._("Unknown email preference."))
        if partner not in self.notify_partner_ids:
            raise UserError(
                self.env._(
                    "Retainer %(retainer)s sends you no email, so there is "
                    "nothing to switch off. Your account manager can add you "
                    "to its notified contacts.",
                    retainer=self.name,
                )
            )
        vals = {}
        for kind, wanted in preferences.items():
            optout_field = CUSTOMER_MAIL_KINDS[kind][1]
            if wanted == (partner in self[optout_field]):
                command = Command.unlink if wanted else Command.link
                vals[optout_field] = [command(partner.id)]
        if vals:
            self.write(vals)
        return self._portal_mail_preferences(partner)
