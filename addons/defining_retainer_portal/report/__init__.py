from . import retainer_statement_report
