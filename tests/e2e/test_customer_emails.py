"""Customer emails through a real SMTP server: the balance crosses the low
balance threshold and the statement job runs, Odoo's mail queue sends, and
the messages that really arrived are read: recipients, subject and language,
the PDF statement attached and readable, nothing twice after every job ran
again."""

import datetime
import io
import time

from odoo_e2e import run_cron_now
from PyPDF2 import PdfReader

SENDER = "support@e2e-retainers.example.com"
CLIENTS = {
    "fr_FR": ("E2E Client Français", "facturation@client-fr.example.com"),
    "en_US": ("E2E English Client", "billing@client-en.example.com"),
}
LOW_BALANCE = {"fr_FR": "le solde de votre contrat", "en_US": "is running low"}
STATEMENT = {"fr_FR": "relevé de votre contrat", "en_US": "statement of your retainer"}
# The PDF's closing balance row, in the customer's language.
CLOSING_BALANCE = {"fr_FR": "Solde de clôture", "en_US": "Closing balance"}
JOBS = (
    "defining_retainer.ir_cron_retainer_send_statements",
    "defining_retainer.ir_cron_retainer_expiry_warnings",
    "mail.ir_cron_mail_scheduler_action",
)


def _run_job(admin, xmlid):
    run_cron_now(admin, xmlid)


def _install_french(admin):
    [french] = admin(
        "res.lang", "search", [("code", "=", "fr_FR"), ("active", "in", [True, False])]
    )
    wizard = admin("base.language.install", "create", {"lang_ids": [[6, 0, [french]]]})
    admin("base.language.install", "lang_install", [wizard])


def _retainer(admin, lang, name, email, last_month):
    """An active retainer of a customer in ``lang``: a block of 12 units
    dated last month, a low balance alert at 8 units and monthly statements
    from last month; returns ``(contract id, project id)``."""
    partner = admin(
        "res.partner",
        "create",
        {"name": name, "is_company": True, "email": email, "lang": lang},
    )
    [level] = admin("retainer.level", "search", [("allow_remote", "=", True)], limit=1)
    contract = admin(
        "retainer.contract",
        "create",
        {
            "partner_id": partner,
            "level_id": level,
            "overdraft_policy": "allow",
            "low_balance_units": 8,
            "statement_frequency": "monthly",
        },
    )
    # Active at once (the level asks for no audit); statements from last
    # month, so that one period has closed.
    admin(
        "retainer.contract", "write", [contract], {"statement_start_date": last_month}
    )
    wizard = admin(
        "retainer.ledger.post",
        "create",
        {
            "contract_id": contract,
            "kind": "credit",
            "units": 12,
            "date": last_month,
            "reason": "E2E block",
        },
    )
    admin("retainer.ledger.post", "action_post", [wizard])
    project = admin(
        "project.project",
        "create",
        {
            "name": f"{name} support",
            "partner_id": partner,
            "allow_timesheets": True,
            "retainer_id": contract,
        },
    )
    return contract, project


def _log(admin, project, employee, day, hours=1.0):
    return admin(
        "account.analytic.line",
        "create",
        {
            "name": "E2E support",
            "project_id": project,
            "employee_id": employee,
            "unit_amount": hours,
            "retainer_contact_type": "remote",
            "date": day,
        },
    )


def _received(mailbox, addresses, expected, timeout=60):
    """The messages to ``addresses``, once ``expected`` of them arrived."""
    deadline = time.monotonic() + timeout
    while True:
        mine = [(to, msg) for to, msg in mailbox.messages if to in addresses]
        if len(mine) >= expected or time.monotonic() > deadline:
            return mine
        time.sleep(0.5)


def _pdf_text(message, keep_dir):
    """The text of the message's PDF attachment (kept in ``keep_dir``)."""
    [part] = [
        part
        for part in message.iter_attachments()
        if part.get_content_type() == "application/pdf"
    ]
    content = part.get_content()
    (keep_dir / part.get_filename().replace("/", "_")).write_bytes(content)
    assert content.startswith(b"%PDF-"), content[:40]
    reader = PdfReader(io.BytesIO(content))
    # wkhtmltopdf's words come out separated by tabs and newlines.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_alerts_and_statements_arrive_once(server, admin, smtp_server, work_dir):
    port, mailbox = smtp_server
    server_id = admin(
        "ir.mail_server",
        "create",
        {
            "name": "E2E SMTP",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_encryption": "none",
            "sequence": 1,
        },
    )
    [company] = admin("res.company", "search", [], limit=1)
    [old_email] = admin("res.company", "read", [company], fields=["email"])
    try:
        admin("res.company", "write", [company], {"email": SENDER})
        # wkhtmltopdf loads the report's styles and fonts from this server,
        # as on a real server (else it falls back to its own fonts).
        admin("ir.config_parameter", "set_param", "report.url", server.url)
        _install_french(admin)
        [employee] = admin("hr.employee", "search", [("user_id", "=", admin.uid)])
        first = datetime.date.today().replace(day=1)
        last_month = (first - datetime.timedelta(days=1)).replace(day=1)
        retainers = {
            lang: _retainer(admin, lang, name, email, str(last_month))
            for lang, (name, email) in CLIENTS.items()
        }
        for _contract, project in retainers.values():
            # 12 -> 8 units: at the threshold, one alert...
            _log(admin, project, employee, str(last_month + datetime.timedelta(9)))
            # ...and not a second one below it.
            _log(admin, project, employee, str(last_month + datetime.timedelta(10)))
        for xmlid in JOBS:
            _run_job(admin, xmlid)

        addresses = {email for _name, email in CLIENTS.values()}
        messages = _received(mailbox, addresses, expected=4)
        assert len(messages) == 4, [(to, msg["Subject"]) for to, msg in messages]
        for lang, (_name, email) in CLIENTS.items():
            contract, _project = retainers[lang]
            [retainer] = admin(
                "retainer.contract",
                "read",
                [contract],
                fields=["name", "balance_units"],
            )
            assert retainer["balance_units"] == 4
            subjects = sorted(msg["Subject"] for to, msg in messages if to == email)
            [low, statement] = sorted(
                (msg for to, msg in messages if to == email),
                key=lambda msg: STATEMENT[lang] in msg["Subject"],
            )
            assert LOW_BALANCE[lang] in low["Subject"], subjects
            assert STATEMENT[lang] in statement["Subject"], subjects
            for msg in (low, statement):
                assert retainer["name"] in msg["Subject"]
                assert SENDER in msg["From"]
                assert msg["To"] and email in msg["To"]
            assert not list(low.iter_attachments())
            # The statement of last month, in a PDF that really is one, in
            # the customer's language: its closing balance is the 4 units left.
            text = _pdf_text(statement, work_dir)
            assert retainer["name"] in text
            assert f"{CLOSING_BALANCE[lang]} 4" in text, text

        # Every job again, twice, and one more timesheet (still below the
        # threshold): nothing is sent twice.
        _log(admin, retainers["en_US"][1], employee, str(first))
        for _round in range(2):
            for xmlid in JOBS:
                _run_job(admin, xmlid)
        time.sleep(2)
        again = [(to, msg) for to, msg in mailbox.messages if to in addresses]
        assert len(again) == 4, [(to, msg["Subject"]) for to, msg in again]
    finally:
        admin("ir.mail_server", "unlink", [server_id])
        admin("ir.config_parameter", "set_param", "report.url", False)
        admin("res.company", "write", [company], {"email": old_email["email"]})
