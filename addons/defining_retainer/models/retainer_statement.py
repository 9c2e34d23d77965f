import logging
from collections import defaultdict
from datetime import timedelta

import psycopg2

from odoo import api, fields, models, modules, tools
from odoo.exceptions import UserError
from odoo.tools import SQL, format_date, split_every
from odoo.tools.pdf import PdfReadError

from ..report.retainer_statement_report import STATEMENT_REPORT
from ..tools.statement import closed_periods

# Retainers whose statements are rendered in one report call (one
# wkhtmltopdf run) and committed together by the scheduled job. Their rows
# stay locked meanwhile: postings on them wait for the batch.
STATEMENT_BATCH_SIZE = 50
STATEMENT_TEMPLATE = "defining_retainer.mail_template_retainer_statement"

_logger = logging.getLogger(__name__)


class RetainerStatement(models.Model):
    """A statement emailed to the customer: one per retainer and period,
    created by the scheduled job with its PDF, never changed afterwards."""

    _name = "retainer.statement"
    _description = "Retainer Statement"
    _order = "date_to desc, id desc"

    # === FIELDS === #

    contract_id = fields.Many2one(
        "retainer.contract",
        string="Retainer",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(
        related="contract_id.company_id", store=True, index=True
    )
    partner_id = fields.Many2one(
        related="contract_id.partner_id", string="Customer", store=True
    )
    date_from = fields.Date(required=True, readonly=True)
    date_to = fields.Date(required=True, readonly=True)
    opening_units = fields.Integer(readonly=True)
    topup_units = fields.Integer(string="Top-up units", readonly=True)
    usage_units = fields.Integer(
        readonly=True, help="Usage and corrections of the period (signed)."
    )
    closing_units = fields.Integer(readonly=True)
    attachment_id = fields.Many2one(
        "ir.attachment", string="PDF", readonly=True, ondelete="set null"
    )
    sent_date = fields.Datetime(
        readonly=True,
        help="When the email was queued; empty when no contact gets "
        "statement emails (switched off, no email address).",
    )

    _sql_constraints = [
        (
            "period_uniq",
            "unique(contract_id, date_from, date_to)",
            "A retainer has one statement per period.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("contract_id.name", "date_from", "date_to")
    def _compute_display_name(self):
        for statement in self:
            statement.display_name = self.env._(
                "%(retainer)s: %(date_from)s - %(date_to)s",
                retainer=statement.contract_id.name or "",
                date_from=format_date(self.env, statement.date_from),
                date_to=format_date(self.env, statement.date_to),
            )

    # === ACTION METHODS === #

    def action_download(self):
        """Download the PDF of the statement."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self.attachment_id.id}?download=true",
            "target": "download",
        }

    # === SCHEDULED JOB === #

    @api.model
    def _cron_send_statements(self):
        """Scheduled job (daily): email the statements of the periods that
        have closed. Commits after each batch (not in tests), so a crash or
        a timeout keeps what was sent and the next run goes on from there."""
        return self._retainer_send_statements(commit=self._retainer_can_commit())

    @api.model
    def _retainer_demo_send_statements(self):
        """Demo data only: send the statements due, as the scheduled job
        does, when PDFs can be made (wkhtmltopdf works, or tests render
        HTML); a database built without PDFs gets none (no error logged)."""
        testing = tools.config["test_enable"] or tools.config["test_file"]
        state = self.env["ir.actions.report"].get_wkhtmltopdf_state()
        if not testing and state != "ok":
            _logger.info("Demo statements not sent: wkhtmltopdf is %s.", state)
            return self.browse()
        return self._retainer_send_statements()

    @staticmethod
    def _retainer_can_commit():
        return not tools.config["test_enable"] and not modules.module.current_test

    @api.model
    def _retainer_send_statements(
        self, today=None, batch_size=STATEMENT_BATCH_SIZE, commit=False
    ):
        """Create and email the statement of every period that has closed by
        ``today`` (default: today) and was not sent yet, for the retainers
        with a ``statement_frequency``, oldest period first: a late or
        missed run catches up.

        Idempotent: a retainer's rows are locked while its batch is handled
        and one whose statement another transaction committed meanwhile (a
        second node, a retry) is skipped; the unique period constraint
        refuses what would still slip through.

        :param bool commit: commit after each batch (the scheduled job).
        :returns: the statements created.
        """
        today = today or fields.Date.context_today(self)
        due = self._retainer_due_statements(today)
        total = sum(len(contract_ids) for contract_ids in due.values())
        done = 0
        statements = self.browse()
        for (date_from, date_to, company_id), contract_ids in sorted(due.items()):
            company = self.env["res.company"].browse(company_id)
            for batch_ids in split_every(batch_size, contract_ids):
                statements |= self.with_company(company)._retainer_send_batch_safely(
                    batch_ids, date_from, date_to
                )
                done += len(batch_ids)
                self.env["ir.cron"]._notify_progress(done=done, remaining=total - done)
                if commit:
                    # Each batch is final once sent: its emails are queued in
                    # the same transaction (see the method's docstring).
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        return statements

    @api.model
    def _retainer_due_statements(self, today):
        """``{(date_from, date_to, company id): [contract ids]}`` of the
        statements due by ``today``, in two queries: each retainer with a
        frequency, active or suspended, from its statement start date or the
        day after its last statement, whichever is later."""
        contracts = self.env["retainer.contract"].search_fetch(
            [
                ("statement_frequency", "!=", "none"),
                ("state", "in", ("active", "suspended")),
                ("statement_start_date", "<", today),
            ],
            ["statement_frequency", "statement_start_date", "company_id"],
            order="id",
        )
        last_sent = contracts._statement_last_sent()
        due = defaultdict(list)
        for contract in contracts:
            start = contract.statement_start_date
            if contract.id in last_sent:
                start = max(start, last_sent[contract.id] + timedelta(days=1))
            for date_from, date_to in closed_periods(
                contract.statement_frequency, start, today
            ):
                due[date_from, date_to, contract.company_id.id].append(contract.id)
        return due

    @api.model
    def _retainer_send_batch_safely(self, contract_ids, date_from, date_to):
        """:meth:`_retainer_send_batch`, undone alone when it fails (a
        template or a report that does not render for one retainer), then
        retried retainer by retainer: a retainer whose statement still fails
        gets none (the next run tries again), is logged, and its account
        manager gets an activity; the others are sent."""
        try:
            with self.env.cr.savepoint():
                return self._retainer_send_batch(contract_ids, date_from, date_to)
        except psycopg2.Error:
            # A concurrency error (the whole transaction is retried) or a
            # broken constraint: never taken for a failed email.
            raise
        except Exception as error:
            if len(contract_ids) > 1:
                statements = self.browse()
                for contract_id in contract_ids:
                    statements |= self._retainer_send_batch_safely(
                        [contract_id], date_from, date_to
                    )
                return statements
            contract = self.env["retainer.contract"].browse(contract_ids)
            _logger.exception(
                "Retainer %s: the statement of %s - %s could not be sent",
                contract.name,
                date_from,
                date_to,
            )
            contract._retainer_schedule_statement_failure_activity(
                date_from, date_to, error
            )
            return self.browse()

    @api.model
    def _retainer_send_batch(self, contract_ids, date_from, date_to):
        """Statements of ``contract_ids`` for ``date_from``..``date_to``:
        lock the retainers (skipping those another transaction is handling),
        leave out those already sent, render the PDFs in one report call,
        create the statements and email them.

        :returns: the statements created.
        """
        contracts = self._retainer_lock_unsent(contract_ids, date_from, date_to)
        if not contracts:
            return self.browse()
        figures = contracts._statement_totals_by_contract(date_from, date_to)
        pdfs = self._retainer_render_pdfs(contracts, date_from, date_to)
        # sudo: the scheduled job writes statements and their PDFs; users
        # only read them (the PDF belongs to the retainer, see ir.attachment
        # access: whoever reads the retainer reads it).
        attachments = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                [
                    {
                        "name": self._retainer_pdf_name(contract, date_from, date_to),
                        "raw": pdfs[contract.id],
                        "mimetype": "application/pdf",
                        "res_model": "retainer.contract",
                        "res_id": contract.id,
                    }
                    for contract in contracts
                ]
            )
        )
        # sudo: see above.
        statements = self.sudo().create(
            [
                {
                    "contract_id": contract.id,
                    "date_from": date_from,
                    "date_to": date_to,
                    "attachment_id": attachment.id,
                    **figures[contract.id],
                }
                for contract, attachment in zip(contracts, attachments, strict=True)
            ]
        )
        sent = self.browse()
        for statement in statements:
            contract = statement.contract_id.with_context(retainer_statement=statement)
            if contract._retainer_post_customer_mail(
                STATEMENT_TEMPLATE,
                "statement",
                attachment_ids=statement.attachment_id.ids,
                # Failed: no statement, so that the next run sends it.
                raise_on_failure=True,
            ):
                sent |= statement
        sent.write({"sent_date": fields.Datetime.now()})
        return statements

    @api.model
    def _retainer_lock_unsent(self, contract_ids, date_from, date_to):
        """Lock the rows of ``contract_ids`` that no other transaction holds
        (``SKIP LOCKED``: another node is sending their statements) and
        return those retainers whose statement of the period does not exist,
        committed since this transaction started included."""
        self.env.cr.execute(
            SQL(
                "SELECT id FROM retainer_contract WHERE id IN %s ORDER BY id "
                "FOR NO KEY UPDATE SKIP LOCKED",
                tuple(contract_ids),
            )
        )
        locked = [row[0] for row in self.env.cr.fetchall()]
        if not locked:
            return self.env["retainer.contract"]
        self.flush_model()
        query = SQL(
            "SELECT contract_id FROM retainer_statement WHERE contract_id IN %s "
            "AND date_from = %s AND date_to = %s",
            tuple(locked),
            date_from,
            date_to,
        )
        # Another node may have committed them after this transaction's
        # snapshot was taken: read what is committed now, and this
        # transaction's own rows.
        sent = {
            row[0]
            for row in self.env["retainer.ledger.entry"]._retainer_read_committed(query)
        }
        self.env.cr.execute(query)
        sent.update(row[0] for row in self.env.cr.fetchall())
        return self.env["retainer.contract"].browse(
            [contract_id for contract_id in locked if contract_id not in sent]
        )

    @api.model
    def _retainer_render_pdfs(self, contracts, date_from, date_to):
        """``{contract id: PDF bytes}`` of the statements of ``contracts``,
        rendered in one report call: one wkhtmltopdf run, split per retainer
        (HTML in tests, as Odoo renders every report there).

        A wkhtmltopdf without Odoo's patched Qt cannot render several
        documents at once: the statements are then rendered one by one.
        """
        Report = self.env["ir.actions.report"]
        data = {
            "date_from": fields.Date.to_string(date_from),
            "date_to": fields.Date.to_string(date_to),
        }
        try:
            content, report_type = Report._pre_render_qweb_pdf(
                STATEMENT_REPORT, res_ids=contracts.ids, data=data
            )
            return Report._get_splitted_report(STATEMENT_REPORT, content, report_type)
        except (UserError, PdfReadError):
            if len(contracts) == 1:
                raise
            _logger.warning(
                "The statements of %s retainers could not be rendered in one "
                "wkhtmltopdf run (unpatched Qt?): rendering them one by one.",
                len(contracts),
            )
        pdfs = {}
        for contract in contracts:
            pdfs.update(self._retainer_render_pdfs(contract, date_from, date_to))
        return pdfs

    @api.model
    def _retainer_pdf_name(self, contract, date_from, date_to):
        return self.env._(
            "Statement %(retainer)s %(date_from)s - %(date_to)s.pdf",
            # A file name: no path separator.
            retainer=contract.name.replace("/", "_"),
            date_from=fields.Date.to_string(date_from),
            date_to=fields.Date.to_string(date_to),
        )
