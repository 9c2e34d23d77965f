"""The PDF statement that the portal links to is a real PDF on a real server.

Odoo answers a PDF report with HTTP 400 "Unable to find Wkhtmltopdf" when
wkhtmltopdf is missing; its own tests render reports as HTML and never see
that. Here the portal user submits the statement form of the detail page as
a browser does.
"""

from odoo_e2e import forms, page_text

OWN = "Acme Dental Group"


def test_statement_pdf_from_the_detail_page(server, portal_session, demo_retainers):
    own = demo_retainers[OWN]
    page = portal_session.get(f"{server.url}/my/retainers/{own['id']}", timeout=30)
    assert page.status_code == 200
    [form] = [
        form
        for form in forms(page.text)
        if form["action"].endswith(f"/my/retainers/{own['id']}/statement")
    ]
    assert form["inputs"]["date_from"] and form["inputs"]["date_to"]
    response = portal_session.get(
        f"{server.url}{form['action']}",
        params={**form["inputs"], "report_type": "pdf"},
        timeout=120,
    )
    assert response.status_code == 200, page_text(response.text)[:500]
    assert response.headers["Content-Type"].startswith("application/pdf")
    assert response.content.startswith(b"%PDF-"), response.content[:200]
