from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..tools import forecast as forecast_tools
from ..tools.alerts import crosses_low_balance, due_warning
from ..tools.rounding import units_to_hours
from ..tools.server_values import server_values

TEMPLATE_LOW_BALANCE = "defining_retainer.mail_template_retainer_low_balance"
TEMPLATE_EXPIRY = "defining_retainer.mail_template_retainer_expiry"


# One model, one file per concern (core, posting, blocks, sales, revenue,
# notifications, alerts) to keep each file short.
class RetainerContract(models.Model):
    """What a retainer's customer is warned about by email: a low balance
    (once per crossing of the threshold, checked by every posting) and
    blocks about to expire (a daily job). The overdraft email is sent by
    the overdraft policy (retainer_contract_ledger.py)."""

    _inherit = "retainer.contract"  # pylint: disable=consider-merging-classes-inherited

    # === FIELDS === #

    low_balance_units = fields.Integer(
        string="Low balance alert (units)",
        tracking=True,
        default=lambda self: self.env.company.retainer_low_balance_units,
        help="When a posting takes the balance from above this many units to "
        "this or fewer, the notified contacts get one email and the account "
        "manager an activity; again only after the balance went back above "
        "it. 0: no alert.",
    )
    # Set when the low balance alert was sent, cleared when the balance is
    # back above the threshold: one alert per crossing, whoever posts.
    low_balance_notified = fields.Boolean(
        string="Low balance alert sent",
        readonly=True,
        copy=False,
        groups="base.group_user",
    )
    expiry_warning_ids = fields.One2many(
        "retainer.expiry.warning",
        "contract_id",
        readonly=True,
        groups="base.group_user",
    )

    # === CONSTRAINT METHODS === #

    @api.constrains("low_balance_units")
    def _check_low_balance_units(self):
        for contract in self:
            if contract.low_balance_units < 0:
                raise ValidationError(
                    self.env._(
                        "Retainer %(name)s: the low balance alert cannot be "
                        "negative (0 switches it off).",
                        name=contract.name,
                    )
                )

    # === CRUD METHODS === #

    def write(self, vals):
        if "low_balance_units" in vals:
            # A new threshold: the next crossing of it is alerted.
            vals = self._retainer_client_vals(vals) | {"low_balance_notified": False}
            with server_values():
                return super().write(vals)
        return super().write(vals)

    # === FORECAST === #

    def _retainer_forecasts(self, today=None, balances=None):
        """Forecast, per contract of ``self``, when its balance runs out at
        the average net use of the last ``forecast.WINDOW_DAYS`` days
        (debits minus their reversals), in one grouped query.

        :param datetime.date today: last day of the window (default: today
            in the user's timezone).
        :param dict balances: contract id -> balance in units, when known
            (default: ``balance_units``).
        :returns: ``{contract id: forecast.Forecast}``
        """
        today = today or fields.Date.context_today(self)
        used = dict(
            self.env["retainer.ledger.entry"]._read_group(
                [
                    ("contract_id", "in", self.ids),
                    ("date", ">=", forecast_tools.window_start(today)),
                    ("date", "<=", today),
                    ("effective_kind", "=", "debit"),
                ],
                ["contract_id"],
                ["units:sum"],
            )
        )
        balances = balances or {}
        return {
            contract.id: forecast_tools.forecast_depletion(
                balances.get(contract.id, contract.balance_units),
                -(used.get(contract) or 0),
                today,
            )
            for contract in self
        }

    # === LOW BALANCE === #

    def _retainer_low_balance_watched(self, deltas):
        """The contracts of ``self`` whose low balance alert a posting of
        ``deltas`` (contract id -> units moved) may change: those it lowers
        that were not alerted yet, and those it raises that were."""
        return self.filtered(
            lambda c: (
                c.low_balance_units > 0
                and (
                    (deltas.get(c.id, 0) < 0 and not c.low_balance_notified)
                    or (deltas.get(c.id, 0) > 0 and c.low_balance_notified)
                )
            )
        )

    def _retainer_update_low_balance_notice(self, deltas, balances):
        """Alert the contracts of ``self`` that a posting of ``deltas``
        took from above their threshold to at or below it, and re-arm the
        alert of those back above it.

        :param dict deltas: contract id -> units the posting moved.
        :param dict balances: contract id -> balance now (under the lock).
        """
        alerted = rearmed = self.browse()
        for contract in self:
            after = balances.get(contract.id, 0)
            before = after - deltas.get(contract.id, 0)
            threshold = contract.low_balance_units
            if not contract.low_balance_notified and crosses_low_balance(
                before, after, threshold
            ):
                alerted |= contract
            elif contract.low_balance_notified and after > threshold:
                rearmed |= contract
        # sudo: the markers belong to the posting, not to the user, who may
        # only read the retainer.
        if rearmed:
            with server_values():
                rearmed.sudo().low_balance_notified = False
        if alerted:
            with server_values():
                alerted.sudo().low_balance_notified = True
            alerted._retainer_notify_low_balance(balances)

    def _retainer_notify_low_balance(self, balances):
        """Email the contacts of each contract of ``self`` and give its
        account manager an activity: the balance is low.

        A balance below zero of a ``warn`` retainer gets the overdraft email
        instead (sent by the overdraft policy), not both.
        """
        today = fields.Date.context_today(self)
        forecasts = self._retainer_forecasts(today=today, balances=balances)
        for contract in self:
            balance = balances.get(contract.id, 0)
            if balance < 0 and contract.overdraft_policy == "warn":
                continue
            forecast = forecasts[contract.id]
            working_days = (
                forecast_tools.working_days_until(today, forecast.depletion_date)
                if forecast.status == forecast_tools.STATUS_FORECAST
                else None
            )
            contract._retainer_post_customer_mail(
                TEMPLATE_LOW_BALANCE,
                "alert",
                render_values=contract._retainer_units_values(balance)
                | {
                    "threshold_units": contract.low_balance_units,
                    "working_days": working_days,
                    "depletion_date": forecast.depletion_date,
                },
            )
            if contract.user_id:
                # sudo: as for the marker above.
                contract.sudo().activity_schedule(
                    "mail.mail_activity_data_todo",
                    summary=self.env._("Low balance"),
                    note=contract._retainer_low_balance_text(balance, working_days),
                    user_id=contract.user_id.id,
                )

    def _retainer_low_balance_text(self, balance, working_days):
        """The account manager's line about a low balance, e.g. "Low
        balance: 6 units left, about 9 working days at the current pace"."""
        self.ensure_one()
        if working_days is None:
            return self.env._(
                "Low balance on %(retainer)s: %(units)s units left (no forecast: "
                "no recent usage, or none left).",
                retainer=self.name,
                units=balance,
            )
        return self.env._(
            "Low balance on %(retainer)s: %(units)s units left, about "
            "%(days)s working days at the current pace.",
            retainer=self.name,
            units=balance,
            days=working_days,
        )

    def _retainer_units_values(self, units):
        """Figures of ``units`` units the customer emails show: units, hours
        and days of this retainer."""
        self.ensure_one()
        hours = units_to_hours(units, self.rounding_unit_minutes)
        return {
            "units": units,
            "hours": hours,
            "days": hours / self.day_hours if self.day_hours else 0.0,
        }

    # === EXPIRY WARNINGS === #

    @api.model
    def _retainer_send_expiry_warnings(self, today=None):
        """Email, for every block with units left that expires soon, the
        warning due today (see ``tools.alerts.due_warning``): one email per
        block and warning, whatever the number of runs.

        :returns: the warnings sent (``retainer.expiry.warning``).
        """
        today = today or fields.Date.context_today(self)
        ExpiryWarning = self.env["retainer.expiry.warning"]
        companies = self.env["res.company"].search(
            [("retainer_expiry_warning_days", "not in", (False, ""))]
        )
        warning_days = {
            company.id: company._retainer_expiry_warning_days() for company in companies
        }
        horizon = max(
            (max(days, default=-1) for days in warning_days.values()), default=-1
        )
        if horizon < 0:
            return ExpiryWarning
        Ledger = self.env["retainer.ledger.entry"]
        blocks = Ledger.search(
            [
                ("kind", "=", "credit"),
                ("expiry_date", ">=", today),
                ("expiry_date", "<=", today + timedelta(days=horizon)),
                ("reversal_entry_ids", "=", False),
                ("contract_id.state", "in", ("active", "suspended")),
                ("company_id", "in", companies.ids),
            ],
            order="expiry_date, id",
        )
        if not blocks:
            return ExpiryWarning
        sent = {}
        for warning in ExpiryWarning.search([("block_entry_id", "in", blocks.ids)]):
            sent.setdefault(warning.block_entry_id.id, []).append(warning.warning_days)
        # One replay for the units left in every block.
        blocks.mapped("remaining_units")
        vals_list = []
        for block in blocks:
            if not block.remaining_units:
                continue
            days = due_warning(
                (block.expiry_date - today).days,
                warning_days.get(block.company_id.id, ()),
                sent.get(block.id, ()),
            )
            if days is not None:
                vals_list.append(
                    {
                        "contract_id": block.contract_id.id,
                        "block_entry_id": block.id,
                        "warning_days": days,
                        "expiry_date": block.expiry_date,
                        "units": block.remaining_units,
                    }
                )
        warnings = ExpiryWarning._insert_once(vals_list)
        for warning in warnings:
            contract = warning.contract_id
            contract._retainer_post_customer_mail(
                TEMPLATE_EXPIRY,
                "alert",
                render_values=contract._retainer_units_values(warning.units)
                | {
                    "expiry_date": warning.expiry_date,
                    "days_left": (warning.expiry_date - today).days,
                    "block_name": warning.block_entry_id.name,
                    "block_date": warning.block_entry_id.date,
                },
            )
        return warnings

    @api.model
    def _cron_send_expiry_warnings(self):
        """Scheduled job (daily): warn the customers of blocks about to
        expire."""
        return self._retainer_send_expiry_warnings()
