import math

from markupsafe import Markup

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import groupby

from ..tools import topup as topup_tools

PORTAL_TOPUP_LIMIT = 10
PORTAL_STATEMENT_LIMIT = 24
TOPUP_NOTE_MAX_LENGTH = 1000


class RetainerContract(models.Model):
    _inherit = "retainer.contract"

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
        :param int page: usage page, clamped to the pages that exist.
        :param int step: usage entries per page.
        :returns: dict with ``usage_entries`` (this page), ``usage_total``
            (matching entries), ``usage_units``, ``usage_entered_hours``,
            ``usage_hours`` (totals of the matching entries), ``page`` (the
            clamped page), ``month_groups``, ``topups``, ``topup_total``,
            ``topup_documents``, ``expiring``, ``expiring_dates`` and
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
        customer = self.partner_id.commercial_partner_id
        if not requester or requester.commercial_partner_id != customer:
            requester = self.partner_id
        order = self._portal_create_topup_order(quantity, unit, requester)
        if order:
            # What the quotation will credit (its products' units, rounded
            # half up as the order line does), which is what the customer
            # buys whatever the retainer's day length.
            units = sum(
                line._retainer_qty_to_units(line.product_uom_qty)
                for line in order.order_line.filtered("retainer_product_units")
            )
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
        maximum = topup_tools.max_quantity(unit, day_hours=self.day_hours)
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
