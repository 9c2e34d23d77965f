from . import test_rounding
from . import test_units
from . import test_ledger
from . import test_timesheet_debit
from . import test_timesheet_form
from . import test_contract_lifecycle
from . import test_security
from . import test_concurrency
from . import test_project

from . import test_performance
from . import test_sale_topup
from . import test_invoicing
from . import test_sale_units
from . import test_recurring
from . import test_blocks
from . import test_expiry_queries
from . import test_revenue
