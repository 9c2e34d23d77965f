from . import retainer_statement_print
