from . import retainer_deferred_revenue_report
from . import retainer_deferred_revenue_report_line
from . import retainer_statement_report
from . import retainer_usage_report
from . import retainer_forecast_report
from . import retainer_utilisation_report
