from . import retainer_deferred_revenue_report
from . import retainer_deferred_revenue_report_line
from . import retainer_statement_report
