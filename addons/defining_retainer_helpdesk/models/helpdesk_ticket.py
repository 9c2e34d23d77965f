from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.safe_eval import safe_eval

from odoo.addons.defining_retainer.models.retainer_ledger_entry import (
    CONTACT_TYPE_SELECTION,
)

# Writing one of these may change a ticket's retainer, hence its project
# and its SLAs.
RETAINER_ROUTING_FIELDS = frozenset({"retainer_id", "partner_id", "company_id"})
# A closed ticket stays on its retainer's portal page this many days.
PORTAL_RECENT_TICKET_DAYS = 30
# Most tickets the retainer's portal page lists (open ones first).
PORTAL_TICKET_LIMIT = 20
# Retainers a customer cannot open a ticket on from the portal.
NO_NEW_TICKET_STATES = ("draft", "closed")


class HelpdeskTicket(models.Model):
    _inherit = "helpdesk.ticket"

    # === FIELDS === #

    retainer_id = fields.Many2one(
        "retainer.contract",
        compute="_compute_retainer_id",
        store=True,
        readonly=False,
        tracking=True,
        index="btree_not_null",
        domain="[('id', 'in', retainer_candidate_ids)]",
        help="The retainer this ticket's time is charged to: the active "
        "retainer of the customer (chosen by hand when the customer has "
        "several). The ticket is routed to its support project.",
    )
    retainer_candidate_ids = fields.Many2many(
        "retainer.contract",
        string="Retainers of the customer",
        compute="_compute_retainer_candidate_ids",
    )
    retainer_choice_needed = fields.Boolean(
        compute="_compute_retainer_candidate_ids",
        help="The customer has several active retainers and none is chosen.",
    )
    # The customer's audited asset the ticket is about (see the core's
    # retainer.audit.line): staff logging time on it are warned when the
    # firm does not (fully) support it.
    retainer_asset_id = fields.Many2one(
        "retainer.audit.line",
        string="Audited asset",
        domain="[('contract_id', '=', retainer_id)]",
        groups="base.group_user",
        help="The customer's asset this ticket is about: staff logging time "
        "on an asset the firm does not support are warned.",
    )
    retainer_contact_type = fields.Selection(
        CONTACT_TYPE_SELECTION,
        string="Contact type",
        compute="_compute_retainer_contact_type",
        store=True,
        readonly=False,
        help="How this ticket's work is delivered (from its channel): its new "
        "timesheets take this contact type.",
    )
    retainer_level_id = fields.Many2one(
        "retainer.level",
        string="Support level",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_balance_units = fields.Integer(
        string="Balance (units)",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_balance_hours = fields.Float(
        string="Balance (hours)",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_balance_days = fields.Float(
        string="Balance (days)",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_forecast_date = fields.Date(
        string="Runs out on",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_expiring_units = fields.Integer(
        string="Expiring units",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_next_expiry_date = fields.Date(
        string="Next expiry",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_alert = fields.Char(
        string="Retainer alert",
        compute="_compute_retainer_figures",
        groups="defining_retainer.group_retainer_user",
    )
    retainer_units = fields.Integer(
        string="Units used",
        compute="_compute_retainer_units",
        groups="defining_retainer.group_retainer_user",
        help="Units this ticket's time uses on its retainer.",
    )

    # === COMPUTE METHODS === #

    @api.depends("commercial_partner_id", "company_id")
    def _compute_retainer_candidate_ids(self):
        candidates = self._retainer_candidates()
        for ticket in self:
            found = candidates.get(ticket, self.env["retainer.contract"])
            ticket.retainer_candidate_ids = found
            ticket.retainer_choice_needed = len(found) > 1 and not ticket.retainer_id

    # The customer's only active retainer; with several, the chosen one is
    # kept if it is one of them, else none: the user chooses (no silent
    # pick). A retainer no longer active stays on the ticket (it is what
    # its time was charged to) until the customer changes.
    @api.depends("commercial_partner_id", "company_id")
    def _compute_retainer_id(self):
        candidates = self._retainer_candidates()
        for ticket in self:
            found = candidates.get(ticket, self.env["retainer.contract"])
            current = ticket.retainer_id
            if current and current in found:
                continue
            if (
                current
                and current.sudo().partner_id.commercial_partner_id
                == ticket.commercial_partner_id
                and current.sudo().company_id == ticket.company_id
            ):
                continue
            ticket.retainer_id = found if len(found) == 1 else False

    # The channel's contact type when the level includes it; a type the
    # level includes is kept; else the level's usual type.
    @api.depends("channel_id", "retainer_id")
    def _compute_retainer_contact_type(self):
        for ticket in self:
            # sudo: the level's contact types, for a helpdesk user who may
            # not read retainers.
            level = ticket.retainer_id.sudo().level_id
            channel_type = ticket.channel_id.retainer_contact_type
            if not level:
                ticket.retainer_contact_type = (
                    channel_type or ticket.retainer_contact_type
                )
                continue
            allowed = level._allowed_contact_types()
            if channel_type in allowed:
                ticket.retainer_contact_type = channel_type
            elif ticket.retainer_contact_type not in allowed:
                ticket.retainer_contact_type = level._default_contact_type()

    @api.depends("retainer_id")
    def _compute_retainer_figures(self):
        contracts = self.retainer_id
        # One batched read of every retainer's figures.
        contracts.mapped("balance_units")
        contracts.mapped("forecast_date")
        contracts.mapped("expiring_units")
        for ticket in self:
            contract = ticket.retainer_id
            ticket.retainer_level_id = contract.level_id
            ticket.retainer_balance_units = contract.balance_units
            ticket.retainer_balance_hours = contract.balance_hours
            ticket.retainer_balance_days = contract.balance_days
            ticket.retainer_forecast_date = contract.forecast_date
            ticket.retainer_expiring_units = contract.expiring_units
            ticket.retainer_next_expiry_date = contract.next_expiry_date
            ticket.retainer_alert = ticket._retainer_alert_message()

    # What the ledger charged for the ticket's work, as the portal sums it:
    # for an incident rounded once, the difference each line made, not the
    # line rounded alone.
    @api.depends("timesheet_ids.retainer_units", "timesheet_ids.unit_amount")
    def _compute_retainer_units(self):
        if not self.env["account.analytic.line"].has_access("read"):
            # A salesman sees retainers, not the timesheets behind them.
            self.retainer_units = 0
            return
        # sudo: the sums of the tickets' own debits, shown to the retainer
        # users this field is for (a consultant may not read the ledger).
        units = self.sudo()._retainer_units_by_ticket()
        for ticket in self:
            ticket.retainer_units = units.get(ticket._origin.id, 0)

    # === CONSTRAINT METHODS === #

    @api.constrains("retainer_id", "partner_id", "company_id")
    def _check_retainer_customer(self):
        for ticket in self.filtered("retainer_id"):
            # sudo: the retainer's owner and company, for a helpdesk user
            # who may not read retainers; only compared and named.
            contract = ticket.retainer_id.sudo()
            owner = contract.partner_id.commercial_partner_id
            if ticket.commercial_partner_id != owner:
                raise ValidationError(
                    self.env._(
                        "Ticket %(ticket)s is for %(customer)s but retainer "
                        "%(retainer)s belongs to %(owner)s.",
                        ticket=ticket.display_name,
                        customer=ticket.commercial_partner_id.display_name
                        or self.env._("no customer"),
                        retainer=contract.name,
                        owner=owner.display_name,
                    )
                )
            if ticket.company_id != contract.company_id:
                raise ValidationError(
                    self.env._(
                        "Ticket %(ticket)s is in %(company)s but retainer "
                        "%(retainer)s belongs to %(other)s.",
                        ticket=ticket.display_name,
                        company=ticket.company_id.name,
                        retainer=contract.name,
                        other=contract.company_id.name,
                    )
                )

    @api.constrains("retainer_contact_type", "retainer_id")
    def _check_retainer_contact_type(self):
        labels = dict(CONTACT_TYPE_SELECTION)
        for ticket in self.filtered("retainer_contact_type"):
            # sudo: the level's contact types, as in the compute.
            level = ticket.retainer_id.sudo().level_id
            if not level:
                continue
            allowed = level._allowed_contact_types()
            if ticket.retainer_contact_type not in allowed:
                raise ValidationError(
                    self.env._(
                        "Ticket %(ticket)s: level %(level)s of retainer "
                        "%(retainer)s does not include %(type)s support (it "
                        "includes: %(allowed)s).",
                        ticket=ticket.display_name,
                        level=level.name,
                        retainer=ticket.retainer_id.sudo().name,
                        type=labels[ticket.retainer_contact_type],
                        allowed=", ".join(labels[t] for t in allowed) or "-",
                    )
                )

    # === ONCHANGE METHODS === #

    @api.onchange("retainer_id", "partner_id")
    def _onchange_retainer_id_project(self):
        project = self._retainer_routed_project()
        if project:
            self.project_id = project

    @api.onchange("team_id")
    def _onchange_team_id(self):
        # helpdesk_mgmt_timesheet puts the team's default project: a ticket
        # of a retainer stays on the retainer's support project.
        result = super()._onchange_team_id()
        for ticket in self.filtered("retainer_id"):
            project = ticket._retainer_routed_project()
            if project:
                ticket.project_id = project
        return result

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        tickets = super().create(vals_list)
        # Routing: a ticket created without a project goes to its retainer's
        # support project, else to its team's default project.
        for ticket, vals in zip(tickets, vals_list, strict=True):
            if not vals.get("project_id"):
                project = ticket._retainer_routed_project()
                if project:
                    ticket.project_id = project
        return tickets

    def write(self, vals):
        if RETAINER_ROUTING_FIELDS.isdisjoint(vals):
            return super().write(vals)
        before = {ticket: ticket._retainer_sla_key() for ticket in self}
        routed = {}
        if "project_id" not in vals:
            routed = {ticket: ticket.project_id for ticket in self}
        result = super().write(vals)
        # A ticket whose retainer changed (chosen, or its customer changed)
        # follows it to its support project (or its team's project, or none:
        # never a project of another retainer), unless a project was given.
        for ticket, project in routed.items():
            target = ticket._retainer_routed_project()
            if target != project and (
                target or project.sudo().retainer_id != ticket.retainer_id
            ):
                ticket.project_id = target
        changed = self.filtered(
            lambda ticket: ticket._retainer_sla_key() != before[ticket]
        )
        changed._retainer_refresh_sla()
        return result

    # === BUSINESS METHODS === #

    def _retainer_unsupported_asset_warning(self):
        """What staff logging time on this ticket are told when its asset is
        not (fully) supported; False otherwise (as for a task)."""
        self.ensure_one()
        # sudo: the asset's status and the catalogue's note, for a
        # consultant who may not read the audit.
        return self.sudo().retainer_asset_id._retainer_unsupported_warning()

    def _retainer_candidates(self):
        """``{ticket: retainers}``: the active retainers of each ticket's
        customer (its commercial partner) in the ticket's company."""
        partners = self.commercial_partner_id
        if not partners:
            return {}
        # sudo: which retainers cover the customer decides where the ticket
        # goes, whoever files it (a helpdesk user may not read retainers);
        # only references are returned.
        contracts = (
            self.env["retainer.contract"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", partners.ids),
                    ("state", "=", "active"),
                    ("company_id", "in", self.company_id.ids),
                ]
            )
        )
        by_key = {}
        for contract in contracts:
            key = (contract.partner_id.id, contract.company_id.id)
            by_key.setdefault(key, []).append(contract.id)
        Contract = self.env["retainer.contract"]
        return {
            ticket: Contract.browse(
                by_key.get((ticket.commercial_partner_id.id, ticket.company_id.id), [])
            )
            for ticket in self
        }

    def _retainer_routed_project(self):
        """The project this ticket goes to: its retainer's support project
        (of the ticket's company), else its team's default project."""
        self.ensure_one()
        if self.retainer_id:
            # sudo: the retainer's projects, for a helpdesk user who may not
            # read retainers; the ticket only stores the project.
            projects = self.retainer_id.sudo().project_ids.filtered(
                lambda project: (
                    project.active
                    and project.allow_timesheets
                    and project.company_id == self.company_id
                )
            )
            if projects:
                return self.env["project.project"].browse(projects[:1].id)
        return self.team_id.default_project_id

    def _retainer_alert_message(self):
        """The banner of the ticket: its retainer is overdrawn, suspended or
        in audit (False when none of these)."""
        self.ensure_one()
        contract = self.retainer_id
        if not contract:
            return False
        if contract.state == "suspended":
            return self.env._(
                "Retainer %(retainer)s is suspended: time cannot be logged on it.",
                retainer=contract.name,
            )
        if contract.state == "audit":
            return self.env._(
                "Retainer %(retainer)s is in audit: time cannot be logged on it "
                "until the audit is completed or waived.",
                retainer=contract.name,
            )
        if contract.balance_units < 0:
            return self.env._(
                "Retainer %(retainer)s is overdrawn by %(units)s.",
                retainer=contract.name,
                units=contract._format_units(-contract.balance_units),
            )
        return False

    def _retainer_check_timesheet_retainer(self):
        """Refuse time on a ticket of a customer with several active
        retainers while none is chosen.

        :raises ValidationError: naming the ticket and the retainers.
        """
        for ticket in self.filtered(lambda ticket: not ticket.retainer_id):
            candidates = ticket.retainer_candidate_ids
            if len(candidates) > 1:
                raise ValidationError(
                    self.env._(
                        "Customer %(customer)s has several active retainers "
                        "(%(retainers)s): choose the retainer of ticket "
                        "%(ticket)s before logging time on it.",
                        customer=ticket.commercial_partner_id.display_name,
                        # sudo: only the references, for the message.
                        retainers=", ".join(candidates.sudo().mapped("name")),
                        ticket=ticket.display_name,
                    )
                )

    def _retainer_move_timesheets(self):
        """Put the timesheets of ``self`` on their ticket's project and task
        when the ticket moved (helpdesk_mgmt_timesheet moves them with the
        ticket): a move to another retainer needs a retainer manager, and
        the ledger keeps the move as the reason of the reversals.

        :raises AccessError: naming the ticket and the right needed.
        """
        Line = self.env["account.analytic.line"]
        # sudo: every timesheet of the tickets follows them, whoever logged
        # it; the user's right to move retainer time is checked below. One
        # read for all the tickets (new tickets have none).
        all_lines = self.sudo().timesheet_ids
        if not all_lines:
            return
        for ticket, ticket_lines in all_lines.grouped("ticket_id").items():
            lines = ticket_lines.filtered(
                lambda line, ticket=ticket: (
                    line.project_id != ticket.project_id
                    or line.task_id != ticket.task_id
                )
            )
            if not lines:
                continue
            target = ticket.project_id.sudo().retainer_id
            moved = lines.filtered(
                lambda line, target=target: line.retainer_id != target
            )
            if moved and not (
                self.env.su
                or self.env.user.has_group("defining_retainer.group_retainer_manager")
            ):
                raise AccessError(
                    self.env._(
                        "Ticket %(ticket)s has time charged to %(current)s: moving "
                        "it to project %(project)s moves that time to %(target)s, "
                        "which needs the Retainers: Manager right. Ask a retainer "
                        "manager to move the ticket, or open a new ticket.",
                        ticket=ticket.display_name,
                        current=Line._retainer_label(moved[:1].retainer_id),
                        project=ticket.project_id.display_name or self.env._("none"),
                        target=Line._retainer_label(target),
                    )
                )
            reason = self.env._(
                "Ticket %(ticket)s moved to project %(project)s by %(user)s",
                ticket=ticket.display_name,
                project=ticket.project_id.display_name or self.env._("none"),
                user=self.env.user.name,
            )
            lines.with_context(retainer_move_reason=reason).write(
                {
                    "project_id": ticket.project_id.id,
                    "task_id": ticket.task_id.id,
                }
            )

    @api.constrains("project_id")
    def _constrains_project_timesheets(self):
        # Replaces helpdesk_mgmt_timesheet's move of the ticket's timesheets
        # (as the user, the project only, so a consultant could not move a
        # colleague's time and the lines kept a task of the old project):
        # they follow the ticket's project and task, with the retainer's
        # move rule. Not calling super() is deliberate: it would write the
        # same lines again.
        self._retainer_move_timesheets()

    # === SLA === #

    def _retainer_sla_level(self):
        """The support level whose SLAs this ticket gets (empty: the team's)."""
        self.ensure_one()
        # sudo: the level of the ticket's retainer, for a helpdesk user who
        # may not read retainers.
        level = self.retainer_id.sudo().level_id
        return level if level.retainer_sla_ids else level.browse()

    def _retainer_sla_key(self):
        level = self._retainer_sla_level()
        return (level.id, level.sla_calendar_id.id)

    def _retainer_sla_calendar(self):
        """The calendar of this ticket's deadlines: its level's cover
        calendar, else its team's working hours."""
        self.ensure_one()
        level = self._retainer_sla_level()
        return level.sla_calendar_id or self.team_id.resource_calendar_id

    def _get_sla_ticket_domain(self):
        # The SLAs of support levels apply to their retainers' tickets only.
        return super()._get_sla_ticket_domain() + [("retainer_level_ids", "=", False)]

    def _get_sla(self):
        level = self._retainer_sla_level()
        if not level:
            return super()._get_sla()
        slas = self.env["helpdesk.sla"]
        # sudo: the level's SLAs, whoever reads the ticket.
        for sla in level.retainer_sla_ids:
            if (
                not sla.domain
                or sla.domain == "[]"
                or self.filtered_domain(safe_eval(sla.domain))
            ):
                slas |= self.env["helpdesk.sla"].browse(sla.id)
        return slas

    def set_sla(self):
        result = super().set_sla()
        # A level's SLAs are its retainers' promise, whether or not the team
        # uses SLAs.
        for ticket in self.filtered(
            lambda ticket: not ticket.team_id.use_sla and ticket._retainer_sla_level()
        ):
            for sla in ticket._get_sla():
                self.env["helpdesk.ticket.sla"].create(
                    {"ticket_id": ticket.id, "sla_id": sla.id}
                )
        return result

    def _retainer_refresh_sla(self):
        """The SLAs of tickets whose level (or its calendar) changed: the
        new level's SLAs replace the others."""
        # sudo: a ticket's SLAs are derived by the server from its level or
        # team; whoever may change the ticket's customer or retainer changes
        # them (helpdesk users may not delete SLA lines themselves).
        for ticket in self.sudo():
            if ticket.team_id.use_sla or ticket._retainer_sla_level():
                ticket.refresh_sla()
            else:
                ticket.ticket_sla_ids.unlink()

    # === PORTAL === #

    # The portal side of tickets on retainers: which tickets a retainer's
    # page lists, what their work cost the retainer, and whether a customer
    # may open a ticket on a retainer.

    @api.model
    def _portal_retainer_ticket_domain(self, retainer):
        """Domain of the tickets the portal page of ``retainer`` lists: its
        open tickets and those closed in the last
        ``PORTAL_RECENT_TICKET_DAYS`` days."""
        since = fields.Datetime.now() - timedelta(days=PORTAL_RECENT_TICKET_DAYS)
        return [
            ("retainer_id", "=", retainer.id),
            "|",
            ("stage_id.closed", "=", False),
            ("closed_date", ">=", since),
        ]

    @api.model
    def _portal_retainer_work(self, retainer, tickets):
        """The ledger debits of ``retainer`` for the work on ``tickets`` (see
        :meth:`_retainer_work_entries`). Called with the retainer the
        portal's access check returned (sudo): it reads that retainer's
        ledger only."""
        return tickets.with_env(self.env)._retainer_work_entries(retainer)

    @api.model
    def _portal_retainer_units(self, retainer, tickets):
        """``{ticket id: units}``: what the work on each of ``tickets`` cost
        ``retainer`` (a positive number; 0 for a ticket without work). See
        ``_portal_retainer_work`` for who calls it."""
        return tickets.with_env(self.env)._retainer_units_by_ticket(retainer)

    def _retainer_work_entries(self, retainer=None):
        """The debits, not reversed, for the work on the tickets of ``self``
        (on ``retainer`` only, when given), in one query: those of the
        tickets' incidents rounded once (each the difference a change of the
        incident's lines made, named by the incident) and those of their
        timesheet lines rounded entry by entry."""
        ids = self._origin.ids
        if not ids:
            return self.env["retainer.ledger.entry"]
        domain = [
            ("kind", "=", "debit"),
            ("reversal_entry_ids", "=", False),
            "|",
            "&",
            ("rounding_scope", "=", "incident"),
            ("incident_ref", "in", [f"{self._name},{ticket_id}" for ticket_id in ids]),
            "&",
            ("rounding_scope", "!=", "incident"),
            ("timesheet_id.ticket_id", "in", ids),
        ]
        if retainer is not None:
            domain.append(("contract_id", "=", retainer.id))
        return self.env["retainer.ledger.entry"].search(domain)

    def _retainer_units_by_ticket(self, retainer=None):
        """``{ticket id: units}`` the ledger charged for the work on each
        ticket of ``self`` (see :meth:`_retainer_work_entries`; a positive
        number, 0 for a ticket without work)."""
        units = dict.fromkeys(self._origin.ids, 0)
        prefix = f"{self._name},"
        for entry in self._retainer_work_entries(retainer):
            ref = entry.incident_ref or ""
            if entry.rounding_scope == "incident" and ref.startswith(prefix):
                ticket_id = int(ref.removeprefix(prefix))
            else:
                ticket_id = entry.timesheet_id.ticket_id.id
            if ticket_id in units:
                units[ticket_id] -= entry.units
        return units

    @api.model
    def _portal_new_ticket_refusal(self, retainer):
        """Why a customer may not open a ticket on ``retainer`` from the
        portal (it takes no more work: a draft or a closed retainer), or
        ``False`` when they may."""
        if retainer.state not in NO_NEW_TICKET_STATES:
            return False
        states = dict(retainer._fields["state"]._description_selection(self.env))
        return self.env._(
            "Retainer %(retainer)s is %(state)s: it takes no new ticket. "
            "Contact your account manager.",
            retainer=retainer.name,
            state=states[retainer.state].lower(),
        )

    @api.model
    def _portal_check_new_ticket_retainer(self, retainer):
        """Refuse a new portal ticket on ``retainer`` when it takes none
        (see ``_portal_new_ticket_refusal``).

        :raises UserError: with the reason.
        """
        refusal = self._portal_new_ticket_refusal(retainer)
        if refusal:
            raise UserError(refusal)
