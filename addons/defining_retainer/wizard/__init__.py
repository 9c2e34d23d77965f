from . import retainer_ledger_post
from . import retainer_audit_waive
from . import retainer_topup
from . import retainer_revenue_recognize
from . import retainer_statement_print
