from . import retainer_contract
from . import retainer_ledger_entry
